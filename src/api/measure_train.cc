// `measure train` as a library call (api_measure.h).
#include <fmt/format.h>

#include "api/measure_context.h"
#include "dlcost/units.h"

namespace dlcost::api {
namespace {

using measure_detail::MeasureContext;

struct TrainShape {
  int64_t layers = 0, batch = 0, seq = 0, steps = 0, warmup = 0;
};

// The model flags: the model cut to --layers and the run's shape; errors name the flag.
Result<TrainShape> ParseTrainShape(const MeasureTrainRequest& req, const ModelSpec& model, ModelSpec* cut) {
  using measure_detail::IntFlag;
  Result<int64_t> layers = IntFlag(req.layers, "--layers", 1, 100000, model.layers);
  Result<int64_t> batch = IntFlag(req.batch, "--batch", 1, 65536, 1);
  Result<int64_t> seq = IntFlag(req.seq, "--seq", 1, 1 << 20, 128);
  Result<int64_t> steps = IntFlag(req.steps, "--steps", 1, 100000, 5);
  Result<int64_t> warmup = IntFlag(req.warmup, "--warmup", 0, 100000, 2);
  for (const Status& st : {layers.status(), batch.status(), seq.status(), steps.status(), warmup.status()}) {
    DLCOST_RETURN_IF_ERROR(st);
  }
  DLCOST_ASSIGN_OR_RETURN(*cut, measure::CutModel(model, *layers));
  if (model.position == PositionKind::kLearned && model.max_seq > 0 && *seq > model.max_seq) {
    return InvalidInput(fmt::format("--seq: {} has learned positions for {} tokens", model.id, model.max_seq));
  }
  return TrainShape{*layers, *batch, *seq, *steps, *warmup};
}

// The calibrated (or only) prediction and, beside a calibrated one, the uncalibrated one.
Status Predict(const MeasureContext& c, const ModelSpec& cut, const measure::TrainConfig& tc, const std::string& what,
               measure::TrainMeasurement& m) {
  DLCOST_ASSIGN_OR_RETURN(m.predicted, measure::PredictTrain(cut, tc, c.model()));
  DLCOST_RETURN_IF_ERROR(measure::CheckFits(m.predicted, c.AvailableBytes(), what));
  if (c.calibrated) {
    Result<TrainingEstimate> p = measure::PredictTrain(cut, tc, *c.plain);
    if (p.ok()) m.predicted_uncalibrated = *p;
  }
  return Status::Ok();
}

}  // namespace

Result<MeasureTrainResult> MeasureTrain(const Session& session, const MeasureTrainRequest& req, const MeasureEnv& env) {
  DLCOST_ASSIGN_OR_RETURN(MeasureContext c, measure_detail::PrepareMeasure(session, req.device, env));
  DLCOST_ASSIGN_OR_RETURN(ModelSpec model, session.ResolveModel(req.model));
  ModelSpec cut;
  DLCOST_ASSIGN_OR_RETURN(TrainShape shape, ParseTrainShape(req, model, &cut));
  measure::TrainConfig tc{shape.batch, shape.seq, c.dtype, false};
  std::string what = fmt::format("measure train {} ({} layers, batch {}, seq {})", model.id, shape.layers, shape.batch,
                                 shape.seq);
  if (c.plain) {  // CPU, or CUDA with --gpu: check the memory before starting anything
    DLCOST_ASSIGN_OR_RETURN(TrainingEstimate pre, measure::PredictTrain(cut, tc, c.model()));
    Status fits = measure::CheckFits(pre, c.AvailableBytes(), what);
    if (!fits.ok() && c.device == Device::kCpu) return fits;
  }
  DLCOST_RETURN_IF_ERROR(measure_detail::StartRunner(c));
  tc.fused_attention = c.runner.fused_attention;
  MeasureTrainResult r;
  measure::TrainMeasurement& m = r.m;
  m.model_id = model.id;
  m.layers = shape.layers;
  m.batch = shape.batch;
  m.seq = shape.seq;
  m.dtype = c.dtype;
  m.warmup = static_cast<int>(shape.warmup);
  m.steps = static_cast<int>(shape.steps);
  DLCOST_RETURN_IF_ERROR(Predict(c, cut, tc, what, m));

  std::unique_ptr<measure::EnergyMeter> meter = measure_detail::OpenMeter(c);
  measure::TrainRun run{cut, shape.batch, shape.seq, c.dtype, m.warmup, m.steps};
  c.Progress(fmt::format("{}: {} warm-up and {} timed steps", what, shape.warmup, shape.steps));
  DLCOST_ASSIGN_OR_RETURN(m.samples, c.env.runner->TrainSteps(run, meter.get()));
  m.stats = measure::Summarize(m.samples.step_s);
  m.rel_error = measure::RelativeError(m.predicted.time_step_s, m.stats.median_s);
  m.profile = c.model().calibrated ? c.model().profile_path : "uncalibrated";
  m.energy = measure::EnergyPerUnit(m.samples.energy_j, m.samples.energy_source, static_cast<double>(m.stats.n),
                                    m.stats.median_s, c.model());
  r.run = measure_detail::RunInfo(c);
  DLCOST_ASSIGN_OR_RETURN(r.run.record_folder, measure_detail::Record(c, "train", measure::TrainRecordJson(m)));
  return r;
}

report::Report MeasureTrainReport(const MeasureTrainResult& res) {
  using measure_detail::kDisturbedPct;
  const measure::TrainMeasurement& m = res.m;
  const measure::TimingStats& st = m.stats;
  const measure::StepSamples& samples = m.samples;
  bool calibrated = res.run.calibrated;
  double flops = m.predicted.model_flops_per_step;
  report::Report r;
  r.title = fmt::format("Measured training step: {} on {}", m.model_id, res.run.runner.device_name);
  r.AddField("model", "model", m.model_id);
  r.AddField("layers", "layers", m.layers);
  r.AddField("batch", "batch (sequences)", m.batch);
  r.AddField("seq", "sequence length", m.seq);
  r.AddField("dtype", "precision", DtypeName(m.dtype));
  r.AddField("device", "device", res.run.runner.device_name);
  r.AddField("threads", "threads", measure_detail::ThreadsText(res.run.runner));
  r.AddField("steps", "timed steps", static_cast<int64_t>(st.n));
  r.AddField("measured_median_s", "measured step, median (s)", st.median_s, 4);
  r.AddField("measured_p25_s", "measured step, 25th percentile (s)", st.p25_s, 4);
  r.AddField("measured_p75_s", "measured step, 75th percentile (s)", st.p75_s, 4);
  r.AddField("measured_min_s", "measured step, min (s)", st.min_s, 4);
  r.AddField("measured_max_s", "measured step, max (s)", st.max_s, 4);
  r.AddField("spread_pct", "spread (IQR / median, %)", st.spread_pct, 1);
  r.AddField("other_cpu_pct", "CPU used by other processes meanwhile (%)", samples.other_cpu_pct, 1);
  r.AddField("predicted_s", calibrated ? "predicted step, calibrated (s)" : "predicted step (s)", m.predicted.time_step_s,
             4);
  r.AddField("rel_error", "relative error (predicted - measured) / measured", m.rel_error, 4);
  if (m.predicted_uncalibrated) {
    r.AddField("predicted_uncalibrated_s", "predicted step, uncalibrated (s)", m.predicted_uncalibrated->time_step_s, 4);
    r.AddField("rel_error_uncalibrated", "relative error, uncalibrated",
               measure::RelativeError(m.predicted_uncalibrated->time_step_s, st.median_s), 4);
  }
  r.AddField("achieved_tflops", "achieved TFLOP/s (model FLOPs / median step)", flops / st.median_s / kTera, 4);
  r.AddField("model_flops_per_step", "model FLOPs per step", flops);
  r.AddField("tokens_per_s", "tokens/s", static_cast<double>(m.batch * m.seq) / st.median_s, 1);
  r.AddField("peak_memory_gib", "peak memory, measured (GiB)", samples.peak_memory_bytes / kGiB, 3);
  r.AddField("predicted_memory_gib", "memory, predicted (GiB)", m.predicted.memory_total_bytes / kGiB, 3);
  r.AddField("energy_j_per_step", "energy per step (J)", m.energy.j, 2);
  r.AddField("energy_source", "energy", m.energy.how);
  report::Table& t = r.AddTable("samples", "Timed steps", {{"step", "step"}, {"seconds", "seconds", 4}});
  for (size_t i = 0; i < samples.step_s.size(); ++i) t.rows.push_back({static_cast<int64_t>(i + 1), samples.step_s[i]});
  for (const std::string& n : res.run.device_notes) r.notes.push_back(n);
  if (samples.other_cpu_pct > kDisturbedPct) r.notes.push_back(measure_detail::DisturbedNote(samples.other_cpu_pct));
  r.notes.push_back("memory: " + samples.memory_method);
  for (const std::string& n : measure_detail::RunNotes(res.run.runner)) r.notes.push_back(n);
  r.notes.push_back(fmt::format("method: {} untimed warm-up steps, then {} timed steps (forward, cross-entropy, backward, "
                                "AdamW), each ended by a device synchronisation; median and quartiles reported",
                                m.warmup, m.steps));
  return r;
}

}  // namespace dlcost::api
