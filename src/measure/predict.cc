// Predictions of the runner's work with the estimators: a training step (the training
// estimator on one device, as the runner trains) and one static inference batch (the serving
// estimator), with the figures a calibration profile measured per precision and block style.
#include <fmt/format.h>

#include "dlcost/measure.h"
#include "dlcost/op_graph.h"
#include "dlcost/units.h"

namespace dlcost::measure {
namespace {

// 20% margin for eager-mode temporaries and allocator slack beyond the estimator's memory
// model (a dlcost assumption, compared with measured peaks in the recorded sweeps).
constexpr double kMemoryMargin = 1.2;

// Per-block values for `style`, falling back to "gated" (MoE blocks are gated blocks with
// experts) and then to `fallback`.
double ForStyle(const std::map<std::string, double>& m, const std::string& style, double fallback) {
  auto it = m.find(style);
  if (it != m.end()) return it->second;
  it = m.find("gated");
  return it != m.end() ? it->second : fallback;
}

// The profile's precision key for the runner's `d` (tf32 runs fp32 tensors).
std::string FigureKey(Dtype d) { return DtypeName(d == Dtype::kTf32 ? Dtype::kFp32 : d); }

// The device alone: one GPU per node, no network.
SystemSpec OneDevice(const DeviceModel& dm) {
  SystemSpec sys;
  sys.gpu = dm.acc;
  sys.intra = Network{"none", "none", "intra_node", 0, 0, {}, "", ""};
  sys.gpus_per_node = 1;
  return sys;
}

}  // namespace

Result<TrainingEstimate> PredictTrain(const ModelSpec& model, const TrainConfig& c, const DeviceModel& dm) {
  SystemSpec sys = OneDevice(dm);
  sys.inter_node_gbps = 100;
  TrainingSetup s;
  s.num_gpus = 1;
  s.seq_len = c.seq;
  s.global_batch = c.batch;
  s.micro_batch = c.batch;
  s.tp = s.pp = s.dp = s.cp = s.ep = s.vpp = 1;
  s.zero = 0;
  s.seq_parallel = false;
  s.recompute = Recompute::kNone;
  s.precision = c.dtype;
  s.optimizer = Optimizer::kAdamW;
  s.flash_attention = c.fused_attention;
  s.dropout = false;
  // The runner's gradients are in the parameters' precision and cast to fp32 one at a time
  // (Trainer); the memory model's 4-byte main gradients stay as the conservative default.
  s.overhead_bytes = dm.acc.kind == "cpu" ? 0 : -1;  // CPU: no device context to reserve
  EfficiencyProfile eff = dm.eff;
  if (dm.calibrated) {
    const CalibratedFigures& f = dm.figures;
    std::string style = BlockStyle(model);
    std::string dt = FigureKey(c.dtype);
    if (auto it = f.memory_fraction.find(dt); it != f.memory_fraction.end()) {
      eff.memory_fraction = ForStyle(it->second, style, eff.memory_fraction);
    }
    if (auto it = f.adamw_bytes_per_param.find(dt); it != f.adamw_bytes_per_param.end()) {
      eff.adamw_bytes_per_param = it->second;
    }
    if (auto it = f.loss_memory_fraction.find(dt); it != f.loss_memory_fraction.end()) {
      eff.loss_memory_fraction = it->second;
    }
    if (auto it = f.adamw_bytes_curve.find(dt); it != f.adamw_bytes_curve.end()) eff.adamw_bytes_curve = it->second;
    if (auto it = f.attention_time_factor.find(dt); it != f.attention_time_factor.end()) {
      eff.attention_time_factor = it->second;
    }
    eff.layer_host_overhead_s = ForStyle(f.layer_host_overhead_s, style, eff.layer_host_overhead_s);
    eff.step_overhead_s = ForStyle(f.step_overhead_s, style, eff.step_overhead_s);
    if (model.moe) eff.layer_host_overhead_s += f.expert_overhead_s * static_cast<double>(model.moe->experts);
  }
  return EstimateTraining(model, sys, s, eff);
}

Status CheckFits(const TrainingEstimate& e, double available_bytes, const std::string& what) {
  double need = e.memory_total_bytes * kMemoryMargin;
  if (available_bytes > 0 && need > available_bytes) {
    return Infeasible(fmt::format(
        "{}: needs about {:.1f} GiB (weights {:.1f}, gradients {:.1f}, optimizer {:.1f}, activations {:.1f} GiB, plus "
        "20% margin) but the device has {:.1f} GiB available; not attempted (use fewer --layers, a smaller --batch or "
        "--seq)",
        what, need / kGiB, e.memory_weights_bytes / kGiB, e.memory_grads_bytes / kGiB, e.memory_optimizer_bytes / kGiB,
        e.memory_activations_bytes / kGiB, available_bytes / kGiB));
  }
  return Status::Ok();
}

Result<InferMemory> InferMemoryNeed(const ModelSpec& model, const InferConfig& c) {
  InferMemory m;
  DLCOST_ASSIGN_OR_RETURN(perf::OpGraph graph, perf::BuildOpGraph(model, c.prompt));
  m.weights_bytes = graph.TotalParams() * DtypeBytes(c.dtype);
  m.kv_cache_bytes = 2.0 * static_cast<double>(model.layers) * model.kv_heads * model.head_dim * c.batch *
                     (c.prompt + c.generate) * DtypeBytes(c.dtype);
  m.need_bytes = kMemoryMargin * (m.weights_bytes + m.kv_cache_bytes);
  return m;
}

Result<ServingEstimate> PredictInfer(const ModelSpec& model, const InferConfig& c, const DeviceModel& dm) {
  SystemSpec sys = OneDevice(dm);
  ServingSetup ss;
  ss.num_gpus = 1;
  ss.input_len = c.prompt;
  ss.output_len = c.generate;
  ss.mode = ServingMode::kStaticBatch;
  ss.batch = c.batch;
  DLCOST_ASSIGN_OR_RETURN(NumberFormat nf, ParseNumberFormat(FigureKey(c.dtype), "--dtype"));
  // The runner decodes one static batch with plain libtorch calls: no continuous batching, and
  // the efficiency profile's per-kernel overhead (-1) rather than a serving engine's.
  EngineProfile engine;
  engine.id = "dlcost-runner";
  engine.continuous_batching = false;
  engine.kernel_overhead_s = -1;
  ss.weights = nf;
  ss.activations = nf;
  ss.kv_cache = nf;
  EfficiencyProfile eff = dm.eff;
  if (dm.calibrated) {
    // Only the block's own memory fraction: the serving estimator has no per-block overheads.
    auto it = dm.figures.memory_fraction.find(FigureKey(c.dtype));
    if (it != dm.figures.memory_fraction.end() && it->second.count(BlockStyle(model))) {
      eff.memory_fraction = it->second.at(BlockStyle(model));
    }
  }
  return EstimateServing(model, sys, ss, eff, engine);
}

}  // namespace dlcost::measure
