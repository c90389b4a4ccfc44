// dlcost measure train|infer|sweep and dlcost calibrate: real steps and microbenchmarks on this
// machine's CPU or CUDA GPU with libtorch, side by side with the estimator (docs/measure.md).
// Input is checked before anything runs, so bad input gets its own error even where dlcost
// was built without libtorch (then the commands exit 4).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "dlcost/measure.h"
#include "dlcost/serving.h"
#include "dlcost/units.h"
#include "dlcost/measure_runner.h"

namespace dlcost::cli {
namespace {

using measure::DeviceModel;

constexpr const char* kNoTorch =
    "dlcost was built without libtorch: install libtorch-dev libopenblas0-pthread and rebuild (on a CUDA machine: "
    "scripts/measure-gpu.sh)";

struct CommonArgs {
  std::string device = "cpu";
  std::string threads;
  std::string intra_op_threads;
  std::string calibration;
  std::string gpu;
  std::string record;
  std::string dtype;
};

struct Context {
  Device device = Device::kCpu;
  int threads = 0;
  int intra_op_threads = 0;  // 0: the runner's default
  std::string data_dir;
  measure::LocalCpu cpu;
  std::optional<DeviceModel> dm;        // with --calibration when given
  std::optional<DeviceModel> dm_plain;  // uncalibrated, for the side-by-side figure
  measure::RunnerInfo runner;
  bool runner_started = false;
  Dtype dtype = Dtype::kFp32;
};

bool Interactive() { return isatty(STDERR_FILENO) == 1; }

void Progress(const std::string& s) {
  if (Interactive()) std::fprintf(stderr, "dlcost: %s\n", s.c_str());
}

Result<int64_t> IntFlag(const std::string& text, const char* flag, int64_t lo, int64_t hi, int64_t fallback) {
  if (text.empty()) return fallback;
  Result<int64_t> v = ParsePositiveInt(text, flag);
  if (!v.ok() && text == "0" && lo == 0) return int64_t{0};
  if (!v.ok()) return v.status();
  if (*v < lo || *v > hi) return InvalidInput(fmt::format("{}: must be between {} and {}", flag, lo, hi));
  return *v;
}

Result<Dtype> RunnerDtype(const std::string& text, Device device) {
  if (text.empty()) return device == Device::kCuda ? Dtype::kBf16 : Dtype::kFp32;
  DLCOST_ASSIGN_OR_RETURN(Dtype d, ParseDtype(text, "--dtype"));
  if (d != Dtype::kFp32 && d != Dtype::kTf32 && d != Dtype::kBf16 && d != Dtype::kFp16) {
    return InvalidInput(fmt::format("--dtype: the runner trains in fp32, tf32, bf16 or fp16, not {}", DtypeName(d)));
  }
  if (device == Device::kCpu && (d == Dtype::kFp16 || d == Dtype::kTf32)) {
    return InvalidInput(fmt::format("--dtype: {} is for CUDA devices; on the cpu use fp32 or bf16", DtypeName(d)));
  }
  return d;
}

// Checks the input shared by every command and builds the device models (CUDA without --gpu or
// --calibration: after the runner names the device).
Result<Context> Prepare(const GlobalOptions& g, const CommonArgs& a) {
  Context c;
  DLCOST_ASSIGN_OR_RETURN(c.device, measure::ParseDevice(a.device));
  DLCOST_ASSIGN_OR_RETURN(int64_t threads, IntFlag(a.threads, "--threads", 1, 4096, 0));
  c.threads = static_cast<int>(threads);
  DLCOST_ASSIGN_OR_RETURN(int64_t intra, IntFlag(a.intra_op_threads, "--intra-op-threads", 1, 4096, 0));
  c.intra_op_threads = static_cast<int>(intra);
  DLCOST_ASSIGN_OR_RETURN(c.data_dir, DataDir(g));
  DLCOST_ASSIGN_OR_RETURN(c.dtype, RunnerDtype(a.dtype, c.device));
  c.cpu = measure::ReadLocalCpu();
  if (c.threads == 0) c.threads = c.cpu.usable_cpus;
  if (!a.calibration.empty()) {
    // Read it fully first: a missing or corrupt profile is bad input, reported before any run.
    DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile eff, LoadEfficiency(a.calibration, ""));
    (void)eff;
    Result<measure::MeasuredDevice> md = measure::LoadMeasuredDevice(a.calibration);
    if (!md.ok() && md.status().code() == StatusCode::kNotFound) {
      return InvalidInput(fmt::format("--calibration: {}", md.status().message()));
    }
    if (!md.ok()) return md.status().WithContext("--calibration");
    DLCOST_ASSIGN_OR_RETURN(measure::CalibratedFigures f, measure::LoadCalibratedFigures(a.calibration));
    (void)f;
  }
  if (c.device == Device::kCpu) {
    DLCOST_ASSIGN_OR_RETURN(c.dm_plain, measure::CpuDeviceModel(c.data_dir, "", c.threads, c.cpu));
    if (!a.calibration.empty()) {
      DLCOST_ASSIGN_OR_RETURN(c.dm, measure::CpuDeviceModel(c.data_dir, a.calibration, c.threads, c.cpu));
    }
  } else {
    if (!a.gpu.empty()) {
      DLCOST_ASSIGN_OR_RETURN(c.dm_plain, measure::GpuDeviceModel(c.data_dir, "", a.gpu));
    }
    if (!a.calibration.empty()) {
      DLCOST_ASSIGN_OR_RETURN(c.dm, measure::GpuDeviceModel(c.data_dir, a.calibration, a.gpu));
    }
  }
  return c;
}

// Starts the libtorch runner (Unavailable without libtorch) and completes the device models.
Status StartRunner(Context& c, const CommonArgs& a) {
#ifndef DLCOST_HAVE_TORCH
  (void)c;
  (void)a;
  return Unavailable(kNoTorch);
#else
  DLCOST_ASSIGN_OR_RETURN(c.runner, measure::InitRunner(c.device, c.threads, c.intra_op_threads));
  c.runner_started = true;
  if (c.device == Device::kCuda && !c.dm_plain) {
    DLCOST_ASSIGN_OR_RETURN(HardwareCatalog hw, HardwareCatalog::Load(c.data_dir));
    std::string id = measure::MatchCatalogGpu(hw, c.runner.device_name);
    if (id.empty()) {
      return InvalidInput(fmt::format("--gpu: the CUDA device '{}' is not in the catalog; name the closest entry with "
                                      "--gpu ID (dlcost gpus lists them)",
                                      c.runner.device_name));
    }
    DLCOST_ASSIGN_OR_RETURN(c.dm_plain, measure::GpuDeviceModel(c.data_dir, "", id));
    if (!a.calibration.empty()) {
      DLCOST_ASSIGN_OR_RETURN(c.dm, measure::GpuDeviceModel(c.data_dir, a.calibration, id));
    }
  }
  return Status::Ok();
#endif
}

const DeviceModel& Model(const Context& c) { return c.dm ? *c.dm : *c.dm_plain; }

std::string ThreadsText(const measure::RunnerInfo& r) {
  return fmt::format("{} (BLAS), libtorch intra-op {}", r.threads, r.intra_op_threads);
}

// Other processes using more than this share of the CPUs during a timing disturb it.
constexpr double kDisturbedPct = 10;

std::string DisturbedNote(double other_pct) {
  return fmt::format("warning: other processes used {:.0f}% of the CPUs during the timed work: the timings are "
                     "probably slower and noisier than on a quiet machine",
                     other_pct);
}

// Notes on how trustworthy the timings are, printed with every measurement.
std::vector<std::string> RunNotes(const Context& c) {
  std::vector<std::string> out;
  for (const std::string& w : c.runner.warnings) out.push_back("warning: " + w);
  out.push_back("attention: " + c.runner.attention_impl + "; BLAS: " + c.runner.blas);
  return out;
}

double AvailableBytes(const Context& c) {
  if (c.device == Device::kCpu) return c.cpu.memory_available_bytes;
  return c.runner_started ? c.runner.device_memory_bytes : 0;
}

std::unique_ptr<measure::EnergyMeter> OpenMeter(const Context& c) {
  return c.device == Device::kCuda ? measure::OpenNvml(0) : measure::OpenRapl();
}

// Joules per step (or per repetition): measured, else the device model's power x time.
struct Energy {
  double j = 0;
  std::string how;
};
Energy EnergyPer(const std::optional<double>& measured_j, const std::string& source, double units, double seconds,
                 const DeviceModel& dm) {
  if (measured_j && units > 0) return {*measured_j / units, "measured: " + source};
  std::string why = "RAPL is not readable here (/sys/class/powercap)";
  if (dm.acc.kind != "cpu") why = "NVML has no energy counter for this GPU";
  return {dm.power_w * seconds, fmt::format("estimated ({}): {:.0f} W x time; {}", why, dm.power_w, dm.power_source)};
}

Status Record(const Context& c, const std::string& root, const std::string& kind, nlohmann::ordered_json body) {
  if (root.empty()) return Status::Ok();
  std::string date = measure::TodayUtc();
  DLCOST_ASSIGN_OR_RETURN(std::string dir, measure::RecordFolder(root, c.device, c.runner.device_name, date));
  nlohmann::json env = measure::CollectEnvironment(c.device, c.runner, c.cpu);
  std::string stamp = measure::NowUtcIso();
  std::string clean;
  for (char ch : stamp) clean += (ch == ':' ? '-' : ch);
  body["environment"] = env;
  DLCOST_RETURN_IF_ERROR(
      measure::WriteFileAtomically(dir + "/" + kind + "-" + clean + ".json", body.dump(2) + "\n", "--record"));
  DLCOST_RETURN_IF_ERROR(measure::WriteFileAtomically(dir + "/environment.json", env.dump(2) + "\n", "--record"));
  Progress("recorded in " + dir);
  return Status::Ok();
}

void AddCommon(CLI::App* cmd, CommonArgs& a, bool with_calibration) {
  cmd->add_option("--device", a.device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--threads", a.threads, "CPU cores to use: BLAS threads (default: every CPU this process may use)");
  cmd->add_option("--intra-op-threads", a.intra_op_threads,
                  "libtorch intra-op threads (default: 1 beside OpenBLAS's own thread pool, else --threads)");
  cmd->add_option("--dtype", a.dtype, "fp32 or bf16 on the cpu (default fp32); bf16, fp16, tf32 or fp32 on cuda (default bf16)");
  if (with_calibration) {
    cmd->add_option("--calibration", a.calibration, "Profile from dlcost calibrate: predictions use its measured figures");
  }
  cmd->add_option("--gpu", a.gpu, "Catalog id of the CUDA device (default: matched from its name)");
  cmd->add_option("--record", a.record,
                  "Record raw samples and the environment under ROOT/<device>/<date>/ (e.g. validation/measured)");
}

nlohmann::ordered_json StatsJson(const measure::TimingStats& s) {
  nlohmann::ordered_json j;
  j["n"] = s.n;
  j["median_s"] = s.median_s;
  j["p25_s"] = s.p25_s;
  j["p75_s"] = s.p75_s;
  j["min_s"] = s.min_s;
  j["max_s"] = s.max_s;
  j["mean_s"] = s.mean_s;
  j["spread_pct"] = s.spread_pct;
  return j;
}

// ---------------------------------------------------------------------------------------------
// measure train

struct TrainArgs {
  CommonArgs c;
  std::string model, layers, batch, seq, steps, warmup;
};

int RunMeasureTrain(const GlobalOptions& g, const TrainArgs& a) {
  Result<Context> ctx = Prepare(g, a.c);
  if (!ctx.ok()) return Fail(ctx.status());
  Context& c = *ctx;
  Result<ModelCatalog> zoo = ModelCatalog::Load(c.data_dir);
  if (!zoo.ok()) return Fail(zoo.status());
  Result<ModelSpec> model = zoo->Resolve(a.model);
  if (!model.ok()) return Fail(model.status());
  Result<int64_t> layers = IntFlag(a.layers, "--layers", 1, 100000, model->layers);
  Result<int64_t> batch = IntFlag(a.batch, "--batch", 1, 65536, 1);
  Result<int64_t> seq = IntFlag(a.seq, "--seq", 1, 1 << 20, 128);
  Result<int64_t> steps = IntFlag(a.steps, "--steps", 1, 100000, 5);
  Result<int64_t> warmup = IntFlag(a.warmup, "--warmup", 0, 100000, 2);
  for (const Status& st : {layers.status(), batch.status(), seq.status(), steps.status(), warmup.status()}) {
    if (!st.ok()) return Fail(st);
  }
  Result<ModelSpec> cut = measure::CutModel(*model, *layers);
  if (!cut.ok()) return Fail(cut.status());
  if (model->position == PositionKind::kLearned && model->max_seq > 0 && *seq > model->max_seq) {
    return Fail(InvalidInput(fmt::format("--seq: {} has learned positions for {} tokens", model->id, model->max_seq)));
  }
  measure::TrainConfig tc{*batch, *seq, c.dtype, false};
  std::string what = fmt::format("measure train {} ({} layers, batch {}, seq {})", model->id, *layers, *batch, *seq);
  if (c.dm_plain) {  // CPU, or CUDA with --gpu: check the memory before starting anything
    Result<TrainingEstimate> pre = measure::PredictTrain(*cut, tc, Model(c));
    if (!pre.ok()) return Fail(pre.status());
    Status fits = measure::CheckFits(*pre, AvailableBytes(c), what);
    if (!fits.ok() && c.device == Device::kCpu) return Fail(fits);
  }
  if (Status st = StartRunner(c, a.c); !st.ok()) return Fail(st);
  tc.fused_attention = c.runner.fused_attention;
  Result<TrainingEstimate> pred = measure::PredictTrain(*cut, tc, Model(c));
  if (!pred.ok()) return Fail(pred.status());
  if (Status st = measure::CheckFits(*pred, AvailableBytes(c), what); !st.ok()) return Fail(st);
  std::optional<TrainingEstimate> plain;
  if (c.dm) {
    Result<TrainingEstimate> p = measure::PredictTrain(*cut, tc, *c.dm_plain);
    if (p.ok()) plain = *p;
  }

#ifdef DLCOST_HAVE_TORCH
  std::unique_ptr<measure::EnergyMeter> meter = OpenMeter(c);
  measure::TrainRun run{*cut, *batch, *seq, c.dtype, static_cast<int>(*warmup), static_cast<int>(*steps)};
  Progress(fmt::format("{}: {} warm-up and {} timed steps", what, *warmup, *steps));
  Result<measure::StepSamples> samples = measure::RunTrainSteps(run, meter.get());
  if (!samples.ok()) return Fail(samples.status());
  measure::TimingStats st = measure::Summarize(samples->step_s);
  const DeviceModel& dm = Model(c);
  double rel = measure::RelativeError(pred->time_step_s, st.median_s);
  double flops = pred->model_flops_per_step;
  Energy en = EnergyPer(samples->energy_j, samples->energy_source, static_cast<double>(st.n), st.median_s, dm);

  report::Report r;
  r.title = fmt::format("Measured training step: {} on {}", model->id, c.runner.device_name);
  r.AddField("model", "model", model->id);
  r.AddField("layers", "layers", *layers);
  r.AddField("batch", "batch (sequences)", *batch);
  r.AddField("seq", "sequence length", *seq);
  r.AddField("dtype", "precision", DtypeName(c.dtype));
  r.AddField("device", "device", c.runner.device_name);
  r.AddField("threads", "threads", ThreadsText(c.runner));
  r.AddField("steps", "timed steps", static_cast<int64_t>(st.n));
  r.AddField("measured_median_s", "measured step, median (s)", st.median_s, 4);
  r.AddField("measured_p25_s", "measured step, 25th percentile (s)", st.p25_s, 4);
  r.AddField("measured_p75_s", "measured step, 75th percentile (s)", st.p75_s, 4);
  r.AddField("measured_min_s", "measured step, min (s)", st.min_s, 4);
  r.AddField("measured_max_s", "measured step, max (s)", st.max_s, 4);
  r.AddField("spread_pct", "spread (IQR / median, %)", st.spread_pct, 1);
  r.AddField("other_cpu_pct", "CPU used by other processes meanwhile (%)", samples->other_cpu_pct, 1);
  r.AddField("predicted_s", c.dm ? "predicted step, calibrated (s)" : "predicted step (s)", pred->time_step_s, 4);
  r.AddField("rel_error", "relative error (predicted - measured) / measured", rel, 4);
  if (plain) {
    r.AddField("predicted_uncalibrated_s", "predicted step, uncalibrated (s)", plain->time_step_s, 4);
    r.AddField("rel_error_uncalibrated", "relative error, uncalibrated", measure::RelativeError(plain->time_step_s, st.median_s), 4);
  }
  r.AddField("achieved_tflops", "achieved TFLOP/s (model FLOPs / median step)", flops / st.median_s / kTera, 4);
  r.AddField("model_flops_per_step", "model FLOPs per step", flops);
  r.AddField("tokens_per_s", "tokens/s", static_cast<double>(*batch * *seq) / st.median_s, 1);
  r.AddField("peak_memory_gib", "peak memory, measured (GiB)", samples->peak_memory_bytes / kGiB, 3);
  r.AddField("predicted_memory_gib", "memory, predicted (GiB)", pred->memory_total_bytes / kGiB, 3);
  r.AddField("energy_j_per_step", "energy per step (J)", en.j, 2);
  r.AddField("energy_source", "energy", en.how);
  report::Table& t = r.AddTable("samples", "Timed steps", {{"step", "step"}, {"seconds", "seconds", 4}});
  for (size_t i = 0; i < samples->step_s.size(); ++i) t.rows.push_back({static_cast<int64_t>(i + 1), samples->step_s[i]});
  for (const std::string& n : dm.notes) r.notes.push_back(n);
  if (samples->other_cpu_pct > kDisturbedPct) r.notes.push_back(DisturbedNote(samples->other_cpu_pct));
  r.notes.push_back("memory: " + samples->memory_method);
  for (const std::string& n : RunNotes(c)) r.notes.push_back(n);
  r.notes.push_back(fmt::format("method: {} untimed warm-up steps, then {} timed steps (forward, cross-entropy, backward, "
                                "AdamW), each ended by a device synchronisation; median and quartiles reported",
                                *warmup, *steps));

  nlohmann::ordered_json rec;
  rec["command"] = "measure train";
  rec["config"] = {{"model", model->id}, {"layers", *layers}, {"batch", *batch}, {"seq", *seq},
                   {"dtype", DtypeName(c.dtype)}, {"warmup", *warmup}, {"steps", *steps}};
  rec["samples_s"] = samples->step_s;
  rec["stats"] = StatsJson(st);
  rec["predicted_s"] = pred->time_step_s;
  rec["rel_error"] = rel;
  rec["profile"] = dm.calibrated ? dm.profile_path : "uncalibrated";
  rec["peak_memory_bytes"] = samples->peak_memory_bytes;
  rec["other_cpu_pct"] = samples->other_cpu_pct;
  rec["energy_j_per_step"] = en.j;
  rec["energy_source"] = en.how;
  if (Status s = Record(c, a.c.record, "train", rec); !s.ok()) return Fail(s);
  return Emit(r, g);
#else
  return Fail(Unavailable(kNoTorch));
#endif
}

// ---------------------------------------------------------------------------------------------
// measure infer

struct InferArgs {
  CommonArgs c;
  std::string model, layers, batch, prompt, generate, reps, warmup;
};

int RunMeasureInfer(const GlobalOptions& g, const InferArgs& a) {
  Result<Context> ctx = Prepare(g, a.c);
  if (!ctx.ok()) return Fail(ctx.status());
  Context& c = *ctx;
  Result<ModelCatalog> zoo = ModelCatalog::Load(c.data_dir);
  if (!zoo.ok()) return Fail(zoo.status());
  Result<ModelSpec> model = zoo->Resolve(a.model);
  if (!model.ok()) return Fail(model.status());
  Result<int64_t> layers = IntFlag(a.layers, "--layers", 1, 100000, model->layers);
  Result<int64_t> batch = IntFlag(a.batch, "--batch", 1, 65536, 1);
  Result<int64_t> prompt = IntFlag(a.prompt, "--prompt", 1, 1 << 20, 128);
  Result<int64_t> generate = IntFlag(a.generate, "--generate", 1, 1 << 16, 16);
  Result<int64_t> reps = IntFlag(a.reps, "--reps", 1, 10000, 3);
  Result<int64_t> warmup = IntFlag(a.warmup, "--warmup", 0, 10000, 1);
  for (const Status& st : {layers.status(), batch.status(), prompt.status(), generate.status(), reps.status(),
                           warmup.status()}) {
    if (!st.ok()) return Fail(st);
  }
  Result<ModelSpec> cut = measure::CutModel(*model, *layers);
  if (!cut.ok()) return Fail(cut.status());
  if (model->kind != ModelKind::kDecoder) {
    return Fail(InvalidInput(fmt::format("--model: {} is not a decoder; measure infer decodes tokens", model->id)));
  }
  if (model->position == PositionKind::kLearned && model->max_seq > 0 && *prompt + *generate > model->max_seq) {
    return Fail(InvalidInput(fmt::format("--prompt/--generate: {} has learned positions for {} tokens", model->id,
                                         model->max_seq)));
  }
  std::string what = fmt::format("measure infer {} ({} layers, batch {}, {} + {} tokens)", model->id, *layers, *batch,
                                 *prompt, *generate);
  // Memory: weights (in the runner's precision) and the KV cache; more than that is not tried.
  double weights = 0;
  {
    Result<perf::OpGraph> graph = perf::BuildOpGraph(*cut, *prompt);
    if (!graph.ok()) return Fail(graph.status());
    weights = graph->TotalParams() * DtypeBytes(c.dtype);
  }
  double kv = 2.0 * static_cast<double>(*layers) * cut->kv_heads * cut->head_dim * (*batch) * (*prompt + *generate) *
              DtypeBytes(c.dtype);
  double need = 1.2 * (weights + kv);  // 20% margin, as CheckFits
  if (c.device == Device::kCpu && need > AvailableBytes(c)) {
    return Fail(Infeasible(fmt::format("{}: needs about {:.1f} GiB (weights {:.1f}, KV cache {:.1f} GiB, plus 20% "
                                       "margin) but the device has {:.1f} GiB available; not attempted",
                                       what, need / kGiB, weights / kGiB, kv / kGiB, AvailableBytes(c) / kGiB)));
  }
  if (Status st = StartRunner(c, a.c); !st.ok()) return Fail(st);
#ifdef DLCOST_HAVE_TORCH
  if (need > AvailableBytes(c)) {
    return Fail(Infeasible(fmt::format("{}: needs about {:.1f} GiB but the device has {:.1f} GiB; not attempted", what,
                                       need / kGiB, AvailableBytes(c) / kGiB)));
  }
  std::unique_ptr<measure::EnergyMeter> meter = OpenMeter(c);
  measure::InferRun run{*cut, *batch, *prompt, *generate, c.dtype, static_cast<int>(*warmup), static_cast<int>(*reps)};
  Progress(fmt::format("{}: {} warm-up and {} timed repetitions", what, *warmup, *reps));
  Result<measure::InferSamples> s = measure::RunInferSteps(run, meter.get());
  if (!s.ok()) return Fail(s.status());
  measure::TimingStats pre = measure::Summarize(s->prefill_s);
  measure::TimingStats dec = measure::Summarize(s->decode_step_s);
  const DeviceModel& dm = Model(c);

  // The serving estimator's prediction for one static batch on this device.
  std::optional<ServingEstimate> est;
  std::string est_note;
  {
    SystemSpec sys;
    sys.gpu = dm.acc;
    sys.intra = Network{"none", "none", "intra_node", 0, 0, {}, "", ""};
    sys.gpus_per_node = 1;
    ServingSetup ss;
    ss.num_gpus = 1;
    ss.input_len = *prompt;
    ss.output_len = *generate;
    ss.mode = ServingMode::kStaticBatch;
    ss.batch = *batch;
    Result<NumberFormat> nf = ParseNumberFormat(DtypeName(c.dtype == Dtype::kTf32 ? Dtype::kFp32 : c.dtype), "--dtype");
    EngineProfile engine;
    engine.id = "dlcost-runner";
    engine.continuous_batching = false;
    engine.kernel_overhead_s = -1;
    if (nf.ok()) {
      ss.weights = *nf;
      ss.activations = *nf;
      ss.kv_cache = *nf;
      EfficiencyProfile eff = dm.eff;
      if (dm.calibrated) {
        std::string dt = DtypeName(c.dtype == Dtype::kTf32 ? Dtype::kFp32 : c.dtype);
        auto it = dm.figures.memory_fraction.find(dt);
        if (it != dm.figures.memory_fraction.end() && it->second.count(measure::BlockStyle(*cut))) {
          eff.memory_fraction = it->second.at(measure::BlockStyle(*cut));
        }
      }
      Result<ServingEstimate> e = EstimateServing(*cut, sys, ss, eff, engine);
      if (e.ok()) {
        est = *e;
      } else {
        est_note = "serving estimator: " + e.status().message();
      }
    } else {
      est_note = "serving estimator: " + nf.status().message();
    }
  }
  Energy en = EnergyPer(s->energy_j, s->energy_source, static_cast<double>(*reps), s->timed_s / *reps, dm);

  report::Report r;
  r.title = fmt::format("Measured inference: {} on {}", model->id, c.runner.device_name);
  r.AddField("model", "model", model->id);
  r.AddField("layers", "layers", *layers);
  r.AddField("batch", "batch (sequences)", *batch);
  r.AddField("prompt", "prompt tokens", *prompt);
  r.AddField("generate", "generated tokens", *generate);
  r.AddField("dtype", "precision", DtypeName(c.dtype));
  r.AddField("device", "device", c.runner.device_name);
  r.AddField("threads", "threads", ThreadsText(c.runner));
  r.AddField("prefill_median_s", "prefill, median (s)", pre.median_s, 4);
  r.AddField("prefill_spread_pct", "prefill spread (IQR / median, %)", pre.spread_pct, 1);
  r.AddField("decode_median_s", "decode step, median (s)", dec.median_s, 5);
  r.AddField("decode_spread_pct", "decode spread (IQR / median, %)", dec.spread_pct, 1);
  r.AddField("decode_tokens_per_s", "decode tokens/s (batch / median step)", static_cast<double>(*batch) / dec.median_s, 1);
  if (est) {
    r.AddField("predicted_prefill_s", "predicted prefill (s)", est->ttft_s, 4);
    r.AddField("prefill_rel_error", "prefill relative error", measure::RelativeError(est->ttft_s, pre.median_s), 4);
    r.AddField("predicted_decode_s", "predicted decode step (s)", est->decode_step_s, 5);
    r.AddField("decode_rel_error", "decode relative error", measure::RelativeError(est->decode_step_s, dec.median_s), 4);
  }
  r.AddField("peak_memory_gib", "peak memory, measured (GiB)", s->peak_memory_bytes / kGiB, 3);
  r.AddField("energy_j_per_request_batch", "energy per prefill + decode of the batch (J)", en.j, 2);
  r.AddField("energy_source", "energy", en.how);
  for (const std::string& n : dm.notes) r.notes.push_back(n);
  if (s->other_cpu_pct > kDisturbedPct) r.notes.push_back(DisturbedNote(s->other_cpu_pct));
  if (!est_note.empty()) r.notes.push_back(est_note);
  if (est) {
    r.notes.push_back("prediction: the serving estimator (dlcost infer) for one static batch on this device; "
                      "prefill = its time to first token, decode = its decode step");
  }
  r.notes.push_back("memory: " + s->memory_method);
  for (const std::string& n : RunNotes(c)) r.notes.push_back(n);

  nlohmann::ordered_json rec;
  rec["command"] = "measure infer";
  rec["config"] = {{"model", model->id}, {"layers", *layers}, {"batch", *batch}, {"prompt", *prompt},
                   {"generate", *generate}, {"dtype", DtypeName(c.dtype)}, {"warmup", *warmup}, {"reps", *reps}};
  rec["prefill_s"] = s->prefill_s;
  rec["decode_step_s"] = s->decode_step_s;
  rec["prefill"] = StatsJson(pre);
  rec["decode"] = StatsJson(dec);
  if (est) {
    rec["predicted_prefill_s"] = est->ttft_s;
    rec["predicted_decode_s"] = est->decode_step_s;
  }
  rec["peak_memory_bytes"] = s->peak_memory_bytes;
  rec["energy_source"] = en.how;
  if (Status st = Record(c, a.c.record, "infer", rec); !st.ok()) return Fail(st);
  return Emit(r, g);
#else
  return Fail(Unavailable(kNoTorch));
#endif
}

// ---------------------------------------------------------------------------------------------
// measure sweep

struct SweepArgs {
  CommonArgs c;
  std::string grid = "standard";
  std::string steps, warmup, rounds;
};

int RunMeasureSweep(const GlobalOptions& g, const SweepArgs& a) {
  Result<Context> ctx = Prepare(g, a.c);
  if (!ctx.ok()) return Fail(ctx.status());
  Context& c = *ctx;
  if (a.grid != "standard" && a.grid != "tiny") {
    return Fail(InvalidInput(fmt::format("--grid: unknown grid '{}' (standard, tiny)", a.grid)));
  }
  Result<int64_t> steps = IntFlag(a.steps, "--steps", 1, 100000, 5);
  Result<int64_t> warmup = IntFlag(a.warmup, "--warmup", 0, 100000, 2);
  Result<int64_t> nrounds = IntFlag(a.rounds, "--rounds", 1, 100, 5);
  for (const Status& st : {steps.status(), warmup.status(), nrounds.status()}) {
    if (!st.ok()) return Fail(st);
  }
  Result<report::Format> fmt_ok = report::ParseFormat(g.format);
  if (!fmt_ok.ok()) return Fail(fmt_ok.status());
  if (Status st = StartRunner(c, a.c); !st.ok()) return Fail(st);
#ifdef DLCOST_HAVE_TORCH
  std::vector<measure::SweepCase> grid = measure::SweepGrid(c.device, c.dtype, a.grid == "tiny");
  std::unique_ptr<measure::EnergyMeter> meter = OpenMeter(c);
  nlohmann::ordered_json cases = nlohmann::ordered_json::array();
  nlohmann::ordered_json raw = nlohmann::ordered_json::array();
  std::vector<double> errs, errs_plain;
  double worst_other = 0;
  report::Report r;
  r.title = fmt::format("Sweep on {}: measured vs predicted training steps", c.runner.device_name);
  report::Table& t = r.AddTable("cases", "Cases",
                                {{"name", "case"}, {"regime", "regime"}, {"measured_s", "measured s", 4},
                                 {"spread_pct", "spread %", 1}, {"other_cpu_pct", "others' CPU %", 0},
                                 {"predicted_s", "predicted s", 4},
                                 {"rel_error_pct", "error %", 1}, {"predicted_uncalibrated_s", "uncalibrated s", 4},
                                 {"rel_error_uncalibrated_pct", "uncal. error %", 1}});
  // Predictions first: a case that does not fit stops the sweep before anything runs.
  std::vector<TrainingEstimate> preds, plains;
  for (const measure::SweepCase& k : grid) {
    measure::TrainConfig tc{k.batch, k.seq, k.dtype, c.runner.fused_attention};
    Result<TrainingEstimate> pred = measure::PredictTrain(k.model, tc, Model(c));
    if (!pred.ok()) return Fail(pred.status());
    if (Status st = measure::CheckFits(*pred, AvailableBytes(c), "measure sweep " + k.name); !st.ok()) return Fail(st);
    Result<TrainingEstimate> plain = measure::PredictTrain(k.model, tc, *c.dm_plain);
    if (!plain.ok()) return Fail(plain.status());
    preds.push_back(*pred);
    plains.push_back(*plain);
  }
  // Rounds over the grid, so that a case's rounds are a minute or more apart; per case the round
  // with the lowest median counts (other processes, and other tenants of a virtual machine's
  // cores, can only slow a step down). A case is settled once its two fastest rounds agree within
  // kSettledPct; later rounds run the unsettled cases only.
  constexpr double kSettledPct = 5;
  std::vector<std::optional<measure::StepSamples>> best(grid.size());
  std::vector<std::vector<double>> medians(grid.size());
  std::vector<nlohmann::ordered_json> rounds(grid.size(), nlohmann::ordered_json::array());
  auto settled = [&](size_t i) {
    if (medians[i].size() < 2) return false;
    std::vector<double> m = medians[i];
    std::sort(m.begin(), m.end());
    return (m[1] - m[0]) / m[0] * 100 <= kSettledPct;
  };
  for (int64_t round = 0; round < *nrounds; ++round) {
    for (size_t i = 0; i < grid.size(); ++i) {
      if (settled(i)) continue;
      const measure::SweepCase& k = grid[i];
      Progress(fmt::format("sweep round {}/{}, case {}/{}: {}", round + 1, *nrounds, i + 1, grid.size(), k.name));
      measure::TrainRun run{k.model, k.batch, k.seq, k.dtype, static_cast<int>(*warmup), static_cast<int>(*steps)};
      Result<measure::StepSamples> s = measure::RunTrainSteps(run, meter.get());
      if (!s.ok()) return Fail(s.status());
      rounds[i].push_back({{"samples_s", s->step_s},
                           {"median_s", measure::Summarize(s->step_s).median_s},
                           {"other_cpu_pct", s->other_cpu_pct},
                           {"peak_memory_bytes", s->peak_memory_bytes}});
      medians[i].push_back(measure::Median(s->step_s));
      if (!best[i] || measure::Median(s->step_s) < measure::Median(best[i]->step_s)) best[i] = *s;
    }
  }
  int unsettled = 0;
  for (size_t i = 0; i < grid.size(); ++i) unsettled += settled(i) || *nrounds < 2 ? 0 : 1;
  for (size_t i = 0; i < grid.size(); ++i) {
    const measure::SweepCase& k = grid[i];
    const TrainingEstimate& pred = preds[i];
    const TrainingEstimate& plain = plains[i];
    const measure::StepSamples& s = *best[i];
    measure::TimingStats st = measure::Summarize(s.step_s);
    double rel = measure::RelativeError(pred.time_step_s, st.median_s);
    double rel_plain = measure::RelativeError(plain.time_step_s, st.median_s);
    errs.push_back(rel);
    errs_plain.push_back(rel_plain);
    nlohmann::ordered_json o;
    o["config"] = measure::SweepCaseConfig(k);
    o["measured_s"] = st.median_s;
    o["predicted_s"] = pred.time_step_s;
    o["rel_error"] = rel;
    o["spread_pct"] = st.spread_pct;
    o["other_cpu_pct"] = s.other_cpu_pct;
    worst_other = std::max(worst_other, s.other_cpu_pct);
    if (c.dm) {
      o["predicted_uncalibrated_s"] = plain.time_step_s;
      o["rel_error_uncalibrated"] = rel_plain;
    }
    cases.push_back(o);
    nlohmann::ordered_json w = o;
    w["rounds"] = rounds[i];
    w["predicted_memory_bytes"] = pred.memory_total_bytes;
    w["predicted_breakdown_s"] = {{"compute", pred.time_compute_s},
                                  {"optimizer", pred.time_optimizer_s},
                                  {"step_overhead", pred.time_step_overhead_s}};
    raw.push_back(w);
    t.rows.push_back({k.name, k.regime, st.median_s, st.spread_pct, s.other_cpu_pct, pred.time_step_s, 100 * rel,
                      plain.time_step_s, 100 * rel_plain});
  }
  measure::ErrorSummary sum = measure::SummarizeErrors(errs);
  measure::ErrorSummary sum_plain = measure::SummarizeErrors(errs_plain);
  auto summary_json = [](const measure::ErrorSummary& s) {
    nlohmann::ordered_json j;
    j["n"] = s.n;
    j["mape_pct"] = s.mape_pct;
    j["max_ape_pct"] = s.max_ape_pct;
    return j;
  };
  nlohmann::ordered_json out;
  out["cases"] = cases;
  out["summary"] = summary_json(sum);
  if (c.dm) out["summary_uncalibrated"] = summary_json(sum_plain);
  out["device"] = c.runner.device_name;
  out["profile"] = c.dm ? c.dm->profile_path : "uncalibrated";

  nlohmann::ordered_json rec;
  rec["command"] = "measure sweep";
  rec["grid"] = a.grid;
  rec["warmup"] = *warmup;
  rec["steps"] = *steps;
  rec["rounds"] = *nrounds;
  rec["cases"] = raw;
  rec["summary"] = out["summary"];
  if (c.dm) rec["summary_uncalibrated"] = out["summary_uncalibrated"];
  rec["profile"] = out["profile"];
  if (Status st = Record(c, a.c.record, "sweep", rec); !st.ok()) return Fail(st);
  if (g.format == "json") return EmitText(out.dump(2) + "\n", g);
  r.AddField("n", "cases", static_cast<int64_t>(sum.n));
  r.AddField("mape_pct", c.dm ? "MAPE, calibrated (%)" : "MAPE (%)", sum.mape_pct, 1);
  r.AddField("max_ape_pct", "max APE (%)", sum.max_ape_pct, 1);
  if (c.dm) {
    r.AddField("mape_uncalibrated_pct", "MAPE, uncalibrated (%)", sum_plain.mape_pct, 1);
    r.AddField("max_ape_uncalibrated_pct", "max APE, uncalibrated (%)", sum_plain.max_ape_pct, 1);
  }
  for (const std::string& n : Model(c).notes) r.notes.push_back(n);
  for (const std::string& n : RunNotes(c)) r.notes.push_back(n);
  if (worst_other > kDisturbedPct) r.notes.push_back(DisturbedNote(worst_other) + " (worst case)");
  r.notes.push_back("rel_error = (predicted - measured) / measured; measured = the median of a case's timed steps in "
                    "its fastest round over the grid (rounds until the two fastest agree within 5%)");
  if (unsettled > 0) {
    r.notes.push_back(fmt::format("warning: {} case(s) did not settle in {} rounds: the machine's speed varied during "
                                  "the sweep",
                                  unsettled, *nrounds));
  }
  return Emit(r, g);
#else
  return Fail(Unavailable(kNoTorch));
#endif
}

// ---------------------------------------------------------------------------------------------
// calibrate

struct CalibrateArgs {
  CommonArgs c;
  bool quick = false;
  std::string out;
  std::string dtypes;
  std::string id;
};

int RunCalibrate(const GlobalOptions& g, const CalibrateArgs& a) {
  auto wall0 = std::chrono::steady_clock::now();
  Result<Context> ctx = Prepare(g, a.c);
  if (!ctx.ok()) return Fail(ctx.status());
  Context& c = *ctx;
  std::vector<Dtype> dtypes;
  std::string list = a.dtypes.empty() ? (c.device == Device::kCuda ? "bf16,fp16,tf32" : "fp32,bf16") : a.dtypes;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    Result<Dtype> d = RunnerDtype(item, c.device);
    if (!d.ok()) return Fail(d.status().WithContext("--dtypes"));
    if (std::find(dtypes.begin(), dtypes.end(), *d) == dtypes.end()) dtypes.push_back(*d);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  // Fail on an unwritable --out now, not after minutes of measuring.
  if (Status st = measure::WriteFileAtomically(a.out + ".probe", "", "--out"); !st.ok()) return Fail(st);
  std::remove((a.out + ".probe").c_str());
  if (Status st = StartRunner(c, a.c); !st.ok()) return Fail(st);
#ifdef DLCOST_HAVE_TORCH
  measure::MicrobenchPlan plan;
  plan.device = c.device;
  plan.dtypes = dtypes;
  plan.quick = a.quick;
  Result<measure::MicrobenchData> data = measure::RunMicrobenchmarks(plan, [](const std::string& s) { Progress("calibrate: " + s); });
  if (!data.ok()) return Fail(data.status());
  measure::ProfileMeta meta;
  meta.id = a.id;
  meta.device_name = c.runner.device_name;
  meta.created_utc = measure::NowUtcIso();
  meta.torch_version = c.runner.torch_version;
  meta.threads = c.runner.threads;
  meta.intra_op_threads = c.runner.intra_op_threads;
  meta.memory_total_bytes = c.device == Device::kCpu ? c.cpu.memory_total_bytes : c.runner.device_memory_bytes;
  if (c.dm_plain) {
    meta.power_w = c.dm_plain->power_w;
    meta.power_source = c.dm_plain->power_source;
  }
  Result<nlohmann::json> profile = measure::FitProfile(*data, meta);
  if (!profile.ok()) return Fail(profile.status());
  if (Status st = measure::WriteProfile(*profile, a.out); !st.ok()) return Fail(st);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();

  const nlohmann::json& p = *profile;
  report::Report r;
  r.title = fmt::format("Calibration of {} (threads {}){}", c.runner.device_name, ThreadsText(c.runner),
                        a.quick ? ", quick" : "");
  r.AddField("profile", "profile written", a.out);
  r.AddField("wall_s", "wall time (s)", wall, 1);
  r.AddField("memory_bandwidth_gb_s", "copy bandwidth (GB/s)", p["device"]["memory_bandwidth_gb_s"].get<double>(), 2);
  for (const auto& [dt, v] : p["device"]["peak_tflops"].items()) {
    r.AddField("peak_" + dt + "_tflops", "best GEMM " + dt + " (TFLOP/s)", v.get<double>(), 4);
  }
  r.AddField("memory_fraction", "memory-bound efficiency (gated block, first precision)", p["memory_fraction"].get<double>(), 3);
  r.AddField("layer_host_overhead_s", "per-layer overhead, forward (s)", p["layer_host_overhead_s"].get<double>(), 6);
  r.AddField("step_overhead_s", "per-step overhead (s)", p["step_overhead_s"].get<double>(), 6);
  report::Table& t = r.AddTable("gemm_curve", "GEMM efficiency by arithmetic intensity",
                                {{"dtype", "dtype"}, {"flops_per_element", "FLOPs/element", 1}, {"fraction", "fraction of peak", 3}});
  for (const auto& [dt, curve] : p["gemm_efficiency_curve"].items()) {
    for (size_t i = 0; i < curve["fraction"].size(); ++i) {
      t.rows.push_back({dt, curve["flops_per_element"][i].get<double>(), curve["fraction"][i].get<double>()});
    }
  }
  for (const std::string& n : RunNotes(c)) r.notes.push_back(n);
  if (data->other_cpu_pct > kDisturbedPct) r.notes.push_back(DisturbedNote(data->other_cpu_pct));
  r.notes.push_back("use it with: dlcost measure sweep --device " + std::string(measure::DeviceName(c.device)) +
                    " --calibration " + a.out + " (or dlcost train --calibration)");
  nlohmann::ordered_json rec;
  rec["command"] = a.quick ? "calibrate --quick" : "calibrate";
  rec["wall_s"] = wall;
  rec["microbenchmarks"] = measure::MicrobenchToJson(*data);
  rec["profile"] = p;
  if (Status st = Record(c, a.c.record, "calibrate", rec); !st.ok()) return Fail(st);
  return Emit(r, g);
#else
  return Fail(Unavailable(kNoTorch));
#endif
}

}  // namespace

void RegisterMeasure(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* measure = app.add_subcommand("measure", "Measure real training and inference steps here (libtorch) against the estimator");
  measure->require_subcommand(1);

  auto* train = measure->add_subcommand("train", "Time training steps of a model's transformer blocks; compare with the estimator");
  auto ta = std::make_shared<TrainArgs>();
  train->add_option("--model", ta->model, "Zoo id or model JSON / config.json")->required();
  train->add_option("--layers", ta->layers, "Transformer layers to build (default: all)");
  train->add_option("--batch", ta->batch, "Sequences per step (default 1)");
  train->add_option("--seq", ta->seq, "Tokens per sequence (default 128)");
  train->add_option("--steps", ta->steps, "Timed steps (default 5)");
  train->add_option("--warmup", ta->warmup, "Untimed warm-up steps (default 2)");
  AddCommon(train, ta->c, true);
  AddOutputOptions(train, g);
  train->callback([&g, exit_code, ta] { *exit_code = RunMeasureTrain(g, *ta); });

  auto* infer = measure->add_subcommand("infer", "Time prefill and KV-cache decode steps; compare with the serving estimator");
  auto ia = std::make_shared<InferArgs>();
  infer->add_option("--model", ia->model, "Zoo id or model JSON / config.json")->required();
  infer->add_option("--layers", ia->layers, "Transformer layers to build (default: all)");
  infer->add_option("--batch", ia->batch, "Sequences decoded together (default 1)");
  infer->add_option("--prompt", ia->prompt, "Prompt tokens (default 128)");
  infer->add_option("--generate", ia->generate, "Tokens decoded per repetition (default 16)");
  infer->add_option("--reps", ia->reps, "Timed repetitions (default 3)");
  infer->add_option("--warmup", ia->warmup, "Untimed repetitions (default 1)");
  AddCommon(infer, ia->c, true);
  AddOutputOptions(infer, g);
  infer->callback([&g, exit_code, ia] { *exit_code = RunMeasureInfer(g, *ia); });

  auto* sweep = measure->add_subcommand("sweep", "Measure a grid of configurations and report the estimator's error");
  auto sa = std::make_shared<SweepArgs>();
  sweep->add_option("--grid", sa->grid, "standard (>= 10 cases) or tiny (3 small cases, for tests)")->capture_default_str();
  sweep->add_option("--steps", sa->steps, "Timed steps per case (default 5)");
  sweep->add_option("--warmup", sa->warmup, "Untimed warm-up steps per case (default 2)");
  sweep->add_option("--rounds", sa->rounds,
                    "At most this many passes over the grid (default 5): a case keeps its fastest round's median "
                    "and stops once its two fastest rounds agree within 5%");
  AddCommon(sweep, sa->c, true);
  AddOutputOptions(sweep, g);
  sweep->callback([&g, exit_code, sa] { *exit_code = RunMeasureSweep(g, *sa); });

  auto* cal = app.add_subcommand("calibrate", "Microbenchmark this device and fit an efficiency profile for the estimator");
  auto ca = std::make_shared<CalibrateArgs>();
  cal->add_option("--out", ca->out, "Profile JSON to write (complete or untouched)")->required();
  cal->add_flag("--quick", ca->quick, "Fewer shapes and shorter timings (under 2 minutes on 2 CPU cores)");
  cal->add_option("--dtypes", ca->dtypes, "Precisions to measure (default: fp32,bf16 on the cpu; bf16,fp16,tf32 on cuda)");
  cal->add_option("--id", ca->id, "Profile id (default calibrated-<device>)");
  cal->add_option("--device", ca->c.device, "cpu or cuda")->capture_default_str();
  cal->add_option("--threads", ca->c.threads, "CPU cores to use: BLAS threads (default: every CPU this process may use)");
  cal->add_option("--intra-op-threads", ca->c.intra_op_threads,
                  "libtorch intra-op threads (default: 1 beside OpenBLAS's own thread pool, else --threads)");
  cal->add_option("--gpu", ca->c.gpu, "Catalog id of the CUDA device (default: matched from its name)");
  cal->add_option("--record", ca->c.record, "Record raw samples and the environment under ROOT/<device>/<date>/");
  cal->add_option("--format", g.format, "Output format: table, json, csv, markdown, html")->capture_default_str();
  cal->callback([&g, exit_code, ca] { *exit_code = RunCalibrate(g, *ca); });
}

}  // namespace dlcost::cli
