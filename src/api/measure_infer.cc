// `measure infer` as a library call (api_measure.h).
#include <fmt/format.h>

#include "api/measure_context.h"
#include "dlcost/units.h"

namespace dlcost::api {
namespace {

using measure_detail::MeasureContext;

struct InferShape {
  int64_t layers = 0, batch = 0, prompt = 0, generate = 0, reps = 0, warmup = 0;
};

// The model flags: the model cut to --layers and the run's shape; errors name the flag.
Result<InferShape> ParseInferShape(const MeasureInferRequest& req, const ModelSpec& model, ModelSpec* cut) {
  using measure_detail::IntFlag;
  Result<int64_t> layers = IntFlag(req.layers, "--layers", 1, 100000, model.layers);
  Result<int64_t> batch = IntFlag(req.batch, "--batch", 1, 65536, 1);
  Result<int64_t> prompt = IntFlag(req.prompt, "--prompt", 1, 1 << 20, 128);
  Result<int64_t> generate = IntFlag(req.generate, "--generate", 1, 1 << 16, 16);
  Result<int64_t> reps = IntFlag(req.reps, "--reps", 1, 10000, 3);
  Result<int64_t> warmup = IntFlag(req.warmup, "--warmup", 0, 10000, 1);
  for (const Status& st : {layers.status(), batch.status(), prompt.status(), generate.status(), reps.status(),
                           warmup.status()}) {
    DLCOST_RETURN_IF_ERROR(st);
  }
  DLCOST_ASSIGN_OR_RETURN(*cut, measure::CutModel(model, *layers));
  if (model.kind != ModelKind::kDecoder) {
    return InvalidInput(fmt::format("--model: {} is not a decoder; measure infer decodes tokens", model.id));
  }
  if (model.position == PositionKind::kLearned && model.max_seq > 0 && *prompt + *generate > model.max_seq) {
    return InvalidInput(
        fmt::format("--prompt/--generate: {} has learned positions for {} tokens", model.id, model.max_seq));
  }
  return InferShape{*layers, *batch, *prompt, *generate, *reps, *warmup};
}

// Weights and KV cache only: more than that is not tried. On a CPU the check runs before the
// runner starts; a GPU's memory is known once the runner named it.
Status CheckInferFits(const MeasureContext& c, const measure::InferMemory& mem, const std::string& what) {
  if (!(mem.need_bytes > c.AvailableBytes())) return Status::Ok();
  if (!c.runner_started) {
    return Infeasible(fmt::format("{}: needs about {:.1f} GiB (weights {:.1f}, KV cache {:.1f} GiB, plus 20% "
                                  "margin) but the device has {:.1f} GiB available; not attempted",
                                  what, mem.need_bytes / kGiB, mem.weights_bytes / kGiB, mem.kv_cache_bytes / kGiB,
                                  c.AvailableBytes() / kGiB));
  }
  return Infeasible(fmt::format("{}: needs about {:.1f} GiB but the device has {:.1f} GiB; not attempted", what,
                                mem.need_bytes / kGiB, c.AvailableBytes() / kGiB));
}

}  // namespace

Result<MeasureInferResult> MeasureInfer(const Session& session, const MeasureInferRequest& req, const MeasureEnv& env) {
  DLCOST_ASSIGN_OR_RETURN(MeasureContext c, measure_detail::PrepareMeasure(session, req.device, env));
  DLCOST_ASSIGN_OR_RETURN(ModelSpec model, session.ResolveModel(req.model));
  ModelSpec cut;
  DLCOST_ASSIGN_OR_RETURN(InferShape shape, ParseInferShape(req, model, &cut));
  std::string what = fmt::format("measure infer {} ({} layers, batch {}, {} + {} tokens)", model.id, shape.layers,
                                 shape.batch, shape.prompt, shape.generate);
  measure::InferConfig ic{shape.batch, shape.prompt, shape.generate, c.dtype};
  DLCOST_ASSIGN_OR_RETURN(measure::InferMemory mem, measure::InferMemoryNeed(cut, ic));
  if (c.device == Device::kCpu) DLCOST_RETURN_IF_ERROR(CheckInferFits(c, mem, what));
  DLCOST_RETURN_IF_ERROR(measure_detail::StartRunner(c));
  DLCOST_RETURN_IF_ERROR(CheckInferFits(c, mem, what));

  MeasureInferResult r;
  measure::InferMeasurement& m = r.m;
  m.model_id = model.id;
  m.layers = shape.layers;
  m.batch = shape.batch;
  m.prompt = shape.prompt;
  m.generate = shape.generate;
  m.dtype = c.dtype;
  m.warmup = static_cast<int>(shape.warmup);
  m.reps = static_cast<int>(shape.reps);
  std::unique_ptr<measure::EnergyMeter> meter = measure_detail::OpenMeter(c);
  measure::InferRun run{cut, shape.batch, shape.prompt, shape.generate, c.dtype, m.warmup, m.reps};
  c.Progress(fmt::format("{}: {} warm-up and {} timed repetitions", what, shape.warmup, shape.reps));
  DLCOST_ASSIGN_OR_RETURN(m.samples, c.env.runner->InferSteps(run, meter.get()));
  m.prefill = measure::Summarize(m.samples.prefill_s);
  m.decode = measure::Summarize(m.samples.decode_step_s);
  Result<ServingEstimate> est = measure::PredictInfer(cut, ic, c.model());
  if (est.ok()) {
    m.predicted = *est;
  } else {
    m.prediction_note = "serving estimator: " + est.status().message();
  }
  m.energy = measure::EnergyPerUnit(m.samples.energy_j, m.samples.energy_source, static_cast<double>(shape.reps),
                                    m.samples.timed_s / shape.reps, c.model());
  r.run = measure_detail::RunInfo(c);
  DLCOST_ASSIGN_OR_RETURN(r.run.record_folder, measure_detail::Record(c, "infer", measure::InferRecordJson(m)));
  return r;
}

report::Report MeasureInferReport(const MeasureInferResult& res) {
  const measure::InferMeasurement& m = res.m;
  const measure::InferSamples& s = m.samples;
  report::Report r;
  r.title = fmt::format("Measured inference: {} on {}", m.model_id, res.run.runner.device_name);
  r.AddField("model", "model", m.model_id);
  r.AddField("layers", "layers", m.layers);
  r.AddField("batch", "batch (sequences)", m.batch);
  r.AddField("prompt", "prompt tokens", m.prompt);
  r.AddField("generate", "generated tokens", m.generate);
  r.AddField("dtype", "precision", DtypeName(m.dtype));
  r.AddField("device", "device", res.run.runner.device_name);
  r.AddField("threads", "threads", measure_detail::ThreadsText(res.run.runner));
  r.AddField("prefill_median_s", "prefill, median (s)", m.prefill.median_s, 4);
  r.AddField("prefill_spread_pct", "prefill spread (IQR / median, %)", m.prefill.spread_pct, 1);
  r.AddField("decode_median_s", "decode step, median (s)", m.decode.median_s, 5);
  r.AddField("decode_spread_pct", "decode spread (IQR / median, %)", m.decode.spread_pct, 1);
  r.AddField("decode_tokens_per_s", "decode tokens/s (batch / median step)",
             static_cast<double>(m.batch) / m.decode.median_s, 1);
  if (m.predicted) {
    r.AddField("predicted_prefill_s", "predicted prefill (s)", m.predicted->ttft_s, 4);
    r.AddField("prefill_rel_error", "prefill relative error",
               measure::RelativeError(m.predicted->ttft_s, m.prefill.median_s), 4);
    r.AddField("predicted_decode_s", "predicted decode step (s)", m.predicted->decode_step_s, 5);
    r.AddField("decode_rel_error", "decode relative error",
               measure::RelativeError(m.predicted->decode_step_s, m.decode.median_s), 4);
  }
  r.AddField("peak_memory_gib", "peak memory, measured (GiB)", s.peak_memory_bytes / kGiB, 3);
  r.AddField("energy_j_per_request_batch", "energy per prefill + decode of the batch (J)", m.energy.j, 2);
  r.AddField("energy_source", "energy", m.energy.how);
  for (const std::string& n : res.run.device_notes) r.notes.push_back(n);
  if (s.other_cpu_pct > measure_detail::kDisturbedPct) r.notes.push_back(measure_detail::DisturbedNote(s.other_cpu_pct));
  if (!m.prediction_note.empty()) r.notes.push_back(m.prediction_note);
  if (m.predicted) {
    r.notes.push_back("prediction: the serving estimator (dlcost infer) for one static batch on this device; "
                      "prefill = its time to first token, decode = its decode step");
  }
  r.notes.push_back("memory: " + s.memory_method);
  for (const std::string& n : measure_detail::RunNotes(res.run.runner)) r.notes.push_back(n);
  return r;
}

}  // namespace dlcost::api
