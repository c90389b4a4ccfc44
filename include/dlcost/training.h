// The training estimator: per-GPU memory and step time of training a model on a system under a
// layout. The inputs have their own headers: the job and layout (training_setup.h), the system
// (system.h), the efficiency profile (efficiency.h); the whole-run cost is run_cost.h.
//
//   TrainingSetup s;                       // layout fields left empty take their defaults
//   s.num_gpus = 64; s.seq_len = 8192; s.global_batch = 512;
//   DLCOST_ASSIGN_OR_RETURN(TrainingEstimate e, EstimateTraining(model, system, s, eff));
//   e.time_step_s, e.memory_total_bytes, e.mfu ...
//
// Equations and their sources: docs/training.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dlcost/collectives.h"
#include "dlcost/efficiency.h"
#include "dlcost/model.h"
#include "dlcost/op_graph.h"
#include "dlcost/run_cost.h"
#include "dlcost/status.h"
#include "dlcost/system.h"
#include "dlcost/training_setup.h"

namespace dlcost {

// One layout's estimate: memory on the most-loaded GPU, the step time by part, and the rates.
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
  // Gradients and activations never held at once (gradients freed every step, no accumulation):
  // min(activations, gradients), subtracted from the sum of the parts.
  double memory_not_concurrent_bytes = 0;
  double memory_total_bytes = 0;
  double memory_capacity_bytes = 0;
  double memory_headroom_bytes = 0;  // kept free by --memory-headroom
  bool fits = true;                  // total + headroom <= capacity

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
  double time_optimizer_s = 0;       // on the CPU, with the updated weights' copy back, under --offload optimizer
  double time_offload_s = 0;         // exposed host copies of --offload (what outlasts the compute)
  double time_step_overhead_s = 0;  // the profile's per-step overhead (calibrated profiles)
  double time_ledger_correction_s = 0;  // (run_time_factor - 1) x the modelled step (ledger fit profiles)
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
  // What one checkpoint writes: every trained parameter's weights (2 bytes) and optimizer state,
  // all ranks together (run_cost.h, GoodputOf).
  double checkpoint_bytes = 0;
};

// A model, a system and the layout-independent part of a setup, prepared once so that many
// layouts can be evaluated cheaply (the planner's inner loop: no allocation per layout).
class TrainingEvaluator {
 public:
  // Prepares `model` on `sys` under the layout-independent part of `s`; InvalidInput when the
  // GPU has no peak for s.precision or the model's op graph cannot be built.
  static Result<TrainingEvaluator> Create(const ModelSpec& model, const SystemSpec& sys, const TrainingSetup& s,
                                          const EfficiencyProfile& eff);
  // The layout of `s` (defaults filled in), or InvalidInput naming the flag whose degree breaks
  // a rule (docs/training.md, "Layout rules").
  Result<Layout> ResolveLayout(const TrainingSetup& s) const;
  // Estimates one valid layout (one that ResolveLayout accepts) into `out`; allocates nothing.
  void Evaluate(const Layout& layout, TrainingEstimate* out) const;

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
  double sustained_compute_ = 1;  // Accelerator::SustainedComputeFraction of the GPU
  double high_precision_gemm_peak_ = 0;  // perf::Rates::high_precision_gemm_peak
  bool low_precision_casts_ = false;
  bool causal_ = true;
  bool dropout_ = false;
  bool frozen_base_ = false;
  double weight_bytes_ = 2;
  double act_bytes_ = 2;  // bytes per activation element (4 in fp32/tf32 training)
  perf::Link intra_;
  perf::Link inter_;
  double lora_params_ = 0;
  double fwd_flops_per_unit_ = 0;
  double checkpoint_bytes_ = 0;
};

// An explicit pipeline split (s.pp_layers, --pp-layers) against `layout`: one positive count per
// pipeline rank or per virtual stage, summing to the model's layers; Ok when none is given.
Status CheckPipelineSplit(const ModelSpec& model, const TrainingSetup& s, const Layout& layout);

// The attention kernel `s` runs on a GPU of `architecture` ("hopper", ...): the given one, eager
// when flash attention is off, else the framework's (PyTorch-native frameworks call
// scaled_dot_product_attention; Megatron-LM and NeMo go through Transformer Engine: cuDNN on
// Hopper and later, FlashAttention-2 on Ampere), else nullopt (the profile's fused default).
std::optional<AttentionKernel> EffectiveAttentionKernel(const TrainingSetup& s, std::string_view architecture);
// Fused attention's fraction of peak for kernel `k` under `eff` (attention_max_fraction when
// the profile has no figure for it); `which`, when given, says where the figure came from.
double AttentionKernelFraction(const EfficiencyProfile& eff, std::optional<AttentionKernel> k, std::string* which);

// Estimates one layout. Inconsistent degrees are InvalidInput naming the flag; a layout that
// does not fit in memory is an ordinary estimate with fits == false.
Result<TrainingEstimate> EstimateTraining(const ModelSpec& model, const SystemSpec& sys, const TrainingSetup& s,
                                          const EfficiencyProfile& eff);

// Adds to e.assumptions what the estimate assumed (precision, efficiencies, attention kernel,
// optimizer state): the notes every estimate of `model` under `s` and `eff` carries.
void AddTrainingAssumptions(const ModelSpec& model, const SystemSpec& sys, const TrainingSetup& s,
                            const EfficiencyProfile& eff, TrainingEstimate& e);

}  // namespace dlcost
