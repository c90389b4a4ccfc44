// The training estimator: per-GPU memory, step time and whole-run cost of training a model on
// a system under a layout.
//
//   TrainingSetup s;                       // layout fields left empty take their defaults
//   s.num_gpus = 64; s.seq_len = 8192; s.global_batch = 512;
//   DLCOST_ASSIGN_OR_RETURN(TrainingEstimate e, EstimateTraining(model, system, s, eff));
//   e.time_step_s, e.memory_total_bytes, e.mfu ...
//
// Equations and their sources: docs/training.md.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/op_graph.h"
#include "dlcost/collectives.h"
#include "dlcost/status.h"

namespace dlcost {

enum class Recompute { kNone, kSelective, kFull };
enum class Optimizer { kAdamW, kSgd, kAdafactor, kAdam8bit };
enum class Finetune { kNone, kFull, kLora, kQlora };

const char* RecomputeName(Recompute r);
const char* OptimizerName(Optimizer o);
const char* FinetuneName(Finetune f);
Result<Recompute> ParseRecompute(const std::string& s);
Result<Optimizer> ParseOptimizer(const std::string& s);
Result<Finetune> ParseFinetune(const std::string& s);

// An efficiency measured as a function of a size: y (a fraction of peak) at x, piecewise linear
// in log x between the points and constant beyond the ends. Empty: not measured.
struct EfficiencyCurve {
  std::vector<double> x;  // ascending, > 0
  std::vector<double> y;  // efficiency curves: in (0, 1]
  bool empty() const { return x.empty(); }
  double At(double v) const;
};

// A curve from the JSON object `c` with ascending positive `x_key` values and `y_key` values in
// (0, y_max]; InvalidInput naming `where` and the field otherwise.
Result<EfficiencyCurve> ParseCurveJson(const nlohmann::json& c, const std::string& where, const char* x_key,
                                       const char* y_key, double y_max);

// Efficiency figures (fractions of datasheet peaks) from data/efficiency/*.json or a
// calibration profile.
struct EfficiencyProfile {
  std::string id = "default";
  double gemm_max_fraction = 0.8;
  double gemm_max_fraction_fp8 = 0;  // 0: same as gemm_max_fraction
  double attention_max_fraction = 0.6;
  double memory_fraction = 0.8;
  double kernel_overhead_s = 4e-6;
  double intra_node_fraction = 0.69;
  double inter_node_fraction = 0.85;
  double pcie_fraction = 0.75;
  // Host time to dispatch one transformer layer's forward pass (framework, autograd, kernel
  // launches). A layer's time is max(GPU work, host dispatch): small layers become host-bound.
  double layer_host_overhead_s = 0;

  // Written by `dlcost calibrate` (docs/measure.md); inactive unless a profile sets them.
  // GEMM efficiency by arithmetic intensity (FLOPs per element moved, 2mkn / (mk + kn + mn)),
  // per precision; a precision with a curve uses it instead of gemm_max_fraction.
  std::array<EfficiencyCurve, kNumDtypes> gemm_curve;
  // The host is the device (a CPU): framework dispatch time adds to the compute time instead of
  // hiding under it (layer time = work + host, not max(work, host)).
  bool host_overhead_serial = false;
  double step_overhead_s = 0;        // per optimizer step: loss, gradient reset, optimizer dispatch
  double adamw_bytes_per_param = 0;  // AdamW traffic per parameter; 0: the fused-kernel figure
  // Fraction of bandwidth the cross-entropy over fp32 logits reaches; 0: memory_fraction.
  double loss_memory_fraction = 0;
  // AdamW traffic per parameter by the optimizer parameters one device holds (x: parameters,
  // y: bytes per parameter, interpolated in log x): the cost per parameter grows as the
  // optimizer state outgrows the caches. When set it replaces adamw_bytes_per_param.
  EfficiencyCurve adamw_bytes_curve;
  // Measured attention time (forward + backward) over the modelled one: the estimator's
  // attention term is multiplied by it (fused and unfused alike).
  double attention_time_factor = 1.0;
};
Result<EfficiencyProfile> LoadEfficiency(const std::string& path, const std::string& gpu_id);

// Arithmetic intensity of an [m x k] by [k x n] GEMM in FLOPs per element moved:
// 2mkn / (mk + kn + mn); the abscissa of EfficiencyProfile::gemm_curve.
double GemmIntensity(double m, double k, double n);

// Where the job runs: the accelerator and how nodes are wired.
struct SystemSpec {
  Accelerator gpu;
  Network intra;               // link inside a node
  int gpus_per_node = 8;
  double inter_node_gbps = 0;  // network bandwidth per node, Gbit/s (all NICs together)
  double inter_node_latency_s = 5e-6;
};

// The training job. Optional layout fields left empty take defaults (ResolveLayout) or are
// searched (EstimateWithChosenLayout in plan.h).
struct TrainingSetup {
  int64_t num_gpus = 0;
  int64_t seq_len = 0;
  std::optional<int64_t> global_batch;  // sequences per optimizer step
  std::optional<int64_t> micro_batch;
  std::optional<int64_t> tp, pp, dp, cp, ep, vpp;
  std::optional<int> zero;                 // 0..3
  std::optional<bool> seq_parallel;
  std::optional<Recompute> recompute;
  Dtype precision = Dtype::kBf16;
  Optimizer optimizer = Optimizer::kAdamW;
  Finetune finetune = Finetune::kNone;
  int64_t lora_rank = 16;
  bool flash_attention = true;
  std::optional<bool> dropout;             // default: on for GELU (GPT-style) models
  double grad_bytes = 4;                   // gradient buffer bytes per param (fp32 main grads)
  double overhead_bytes = 0;               // framework overhead; <0 means the default term
  double moe_capacity_factor = 1.0;        // expert slots per routed token (1: dropless, balanced)
};

struct Layout {
  int64_t tp = 1, pp = 1, dp = 1, cp = 1, ep = 1, vpp = 1;
  int64_t micro_batch = 1, global_batch = 1, microbatches = 1;
  int zero = 0;
  bool seq_parallel = false;
  Recompute recompute = Recompute::kNone;
};

struct TrainingEstimate {
  Layout layout;
  std::vector<std::string> chosen;  // fields the tool chose ("tp=2", "micro_batch=1", ...)
  std::vector<std::string> assumptions;

  // Memory on the most-loaded GPU, bytes.
  double memory_weights_bytes = 0;
  double memory_grads_bytes = 0;
  double memory_optimizer_bytes = 0;
  double memory_activations_bytes = 0;
  double memory_overhead_bytes = 0;
  double memory_total_bytes = 0;
  double memory_capacity_bytes = 0;
  bool fits = true;

  // Step time, seconds.
  double time_compute_s = 0;        // GEMM + attention + memory-bound kernels, all micro-batches
  double time_attention_s = 0;      // part of time_compute_s spent in attention (forward, backward, recompute)
  double time_recompute_s = 0;      // part of time_compute_s spent re-running the forward pass
  double time_comm_tp_s = 0;        // exposed tensor/sequence-parallel collectives
  double time_comm_cp_s = 0;        // exposed context-parallel exchange
  double time_comm_ep_s = 0;        // exposed expert-parallel all-to-all
  double time_comm_pp_s = 0;        // pipeline point-to-point
  double time_comm_dp_s = 0;        // exposed data-parallel gradient/parameter traffic
  double time_bubble_s = 0;         // pipeline fill and drain
  double time_optimizer_s = 0;
  double time_step_overhead_s = 0;  // the profile's per-step overhead (calibrated profiles)
  double time_step_s = 0;

  // Rates.
  double model_flops_per_step = 0;     // 3 x forward, no recompute (MFU convention)
  double hardware_flops_per_step = 0;  // + recomputed forward
  double tokens_per_step = 0;
  double tflops_per_gpu_model = 0;
  double tflops_per_gpu_hardware = 0;
  double mfu = 0;
  double hfu = 0;
  double tokens_per_s = 0;
  double peak_flops = 0;
};

// Whole-run inputs: how much to train, and the price and energy context.
struct RunInputs {
  std::optional<double> tokens;   // training units (tokens, or images for vision models)
  std::optional<double> steps;    // optimizer steps (alternative to tokens)
  double goodput = 0.9;           // share of wall time that trains (restarts, failures excluded)
  std::optional<double> usd_per_gpu_hour;
  double gpu_power_w = 0;         // average board power per GPU; 0 = the catalog TDP
  double host_power_w_per_gpu = 0;
  double pue = 1.0;
  double carbon_g_per_kwh = 0;
};

struct RunCost {
  double steps = 0;
  double tokens = 0;
  double wall_s = 0;
  double gpu_hours = 0;
  std::optional<double> usd;
  double energy_kwh = 0;
  double co2_kg = 0;
};

// Default goodput: Llama 3 training reached more than 90% effective training time over 54 days
// on 16k H100s (Dubey et al. 2024, "The Llama 3 Herd of Models", Sec. 3.3.4).
inline constexpr double kDefaultGoodput = 0.9;

// The global batch used when none is given: the multiple of `unit` (dp x micro-batch) nearest
// to 4M tokens for language models (the LLaMA papers' batch), 256 samples otherwise.
int64_t DefaultGlobalBatch(bool language_model, double tokens_per_sample, int64_t unit);

// Whole-run cost from a step estimate. Steps = tokens / tokens per step (rounded up).
Result<RunCost> ComputeRunCost(const TrainingEstimate& e, int64_t num_gpus, double tdp_w, const RunInputs& in);

// A model, a system and the layout-independent part of a setup, prepared once so that many
// layouts can be evaluated cheaply (the planner's inner loop: no allocation per layout).
class TrainingEvaluator {
 public:
  static Result<TrainingEvaluator> Create(const ModelSpec& model, const SystemSpec& sys, const TrainingSetup& s,
                                          const EfficiencyProfile& eff);
  // The layout of `s` (defaults filled in), or InvalidInput naming the flag whose degree breaks
  // a rule (docs/training.md, "Layout rules").
  Result<Layout> ResolveLayout(const TrainingSetup& s) const;
  // Estimates one valid layout (one that ResolveLayout accepts).
  void Evaluate(const Layout& L, TrainingEstimate* out) const;

  const ModelSpec& model() const { return model_; }
  const SystemSpec& system() const { return sys_; }
  const TrainingSetup& setup() const { return setup_; }
  int64_t tokens_per_sample() const { return graph_.tokens_per_sample; }

 private:
  ModelSpec model_;
  perf::OpGraph graph_;
  SystemSpec sys_;
  TrainingSetup setup_;
  EfficiencyProfile eff_;
  EfficiencyCurve gemm_curve_;  // the profile's curve for the setup's precision (may be empty)
  double peak_ = 0;
  double attention_peak_ = 0;
  double bandwidth_ = 0;
  bool causal_ = true;
  bool dropout_ = false;
  bool frozen_base_ = false;
  double weight_bytes_ = 2;
  double act_bytes_ = 2;  // bytes per activation element (4 in fp32/tf32 training)
  perf::Link intra_;
  perf::Link inter_;
  double lora_params_ = 0;
  double fwd_flops_per_unit_ = 0;
};

// Achievable per-GPU links of `sys` under `eff`: the in-node link (NVLink or PCIe fraction) and
// one GPU's share of the node's network (docs/training.md, "Communication").
perf::Link IntraLink(const SystemSpec& sys, const EfficiencyProfile& eff);
perf::Link InterLink(const SystemSpec& sys, const EfficiencyProfile& eff);

// Builds the system for `gpu`: its intra-node link, gpus_per_node (0: the catalog's node size)
// and inter-node bandwidth (0: the catalog's NICs).
Result<SystemSpec> MakeSystem(const HardwareCatalog& hw, const Accelerator& gpu, int gpus_per_node,
                              double inter_node_gbps);

// Estimates one layout. Inconsistent degrees are InvalidInput naming the flag; a layout that
// does not fit in memory is an ordinary estimate with fits == false.
Result<TrainingEstimate> EstimateTraining(const ModelSpec& model, const SystemSpec& sys, const TrainingSetup& s,
                                          const EfficiencyProfile& eff);

// Adds to e.assumptions what the estimate assumed (precision, efficiencies, attention kernel,
// optimizer state): the notes every estimate of `model` under `s` and `eff` carries.
void AddTrainingAssumptions(const ModelSpec& model, const TrainingSetup& s, const EfficiencyProfile& eff,
                            TrainingEstimate& e);

}  // namespace dlcost
