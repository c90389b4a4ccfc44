// What the training estimator prices one layout with (perf-internal): the rates of the
// device, the cost of one layer group for one micro-batch, and the inputs both depend on.
// TrainingEvaluator (training.cc) fills the inputs once per layout and sums the groups' costs
// over pipeline stages; CostGroup (training_layer_cost.cc) prices one group. Equations:
// docs/training.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "dlcost/collectives.h"
#include "dlcost/efficiency.h"
#include "dlcost/model.h"
#include "dlcost/op_graph.h"
#include "dlcost/system.h"
#include "dlcost/training.h"

namespace dlcost::perf {

// Bytes per element of activations and communicated activations in bf16/fp16 training; fp32
// and tf32 training keep 4-byte activations (TrainingEvaluator::Create).
inline constexpr double kActBytes = 2.0;
// FlashAttention-2 backward performs 5 matmuls against 2 in the forward pass (Dao 2023, Sec. 3.1).
inline constexpr double kAttentionBackwardFactor = 2.5;

// What the device reaches at the training precision, under an efficiency profile.
struct Rates {
  double peak = 0;           // FLOP/s at the training precision
  double attention_peak = 0; // FLOP/s of the attention kernels (bf16/fp16 when training in fp8)
  double bw = 0;             // HBM bytes/s
  const EfficiencyProfile* eff = nullptr;
  const EfficiencyCurve* gemm_curve = nullptr;  // measured GEMM efficiency, when calibrated
  // FP8/FP4 training: the peak its BF16 GEMMs (the output layer and the router) are priced at,
  // scaled so that the profile's FP8 GEMM fraction gives BF16's achieved rate (BF16 peak x BF16
  // fraction / FP8 fraction); and whether low-precision GEMMs pay the FP8 casts. 0 / false in
  // BF16 training.
  double high_precision_gemm_peak = 0;
  bool low_precision_casts = false;
};

// `intensity`: the GEMM's FLOPs per element moved (GemmIntensity), read by a measured curve.
inline double GemmSeconds(double flops, double bytes, double intensity, const Rates& r) {
  double frac = r.gemm_curve != nullptr ? r.gemm_curve->At(intensity) : r.eff->gemm_max_fraction;
  return std::max(flops / (r.peak * frac), bytes / (r.bw * r.eff->memory_fraction)) + r.eff->kernel_overhead_s;
}
inline double MemSeconds(double bytes, const Rates& r) {
  return bytes / (r.bw * r.eff->memory_fraction) + r.eff->kernel_overhead_s;
}
// The cross-entropy's traffic: at the profile's measured loss fraction when it has one.
inline double LossSeconds(double bytes, const Rates& r) {
  double f = r.eff->loss_memory_fraction > 0 ? r.eff->loss_memory_fraction : r.eff->memory_fraction;
  return bytes / (r.bw * f) + r.eff->kernel_overhead_s;
}

// Time and FLOPs of one layer group for one micro-batch on one GPU.
struct LayerCost {
  double fwd_s = 0;
  double bwd_s = 0;
  double recompute_s = 0;     // extra forward work under the chosen recompute policy
  double attention_s = 0;     // attention's share of fwd_s + bwd_s + recompute_s
  double fwd_flops = 0;       // per GPU, model FLOPs of the forward pass
  double recompute_flops = 0;
  double tp_comm_s = 0;
  double cp_comm_s = 0;
  double ep_comm_s = 0;
  double act_bytes = 0;       // activations kept for backward (per micro-batch)
  double params = 0;          // parameters held by this GPU for one layer (before ZeRO)
  double expert_params = 0;   // the routed experts' share of `params`
  double trainable = 0;
};

// Everything the cost of one layout depends on: the evaluator's prepared model, graph, system
// and setup (pointers into the TrainingEvaluator, which outlives it), the layout itself, the
// device rates and where each parallel group's ranks sit.
struct LayoutCostInputs {
  const ModelSpec* model = nullptr;
  const OpGraph* graph = nullptr;
  const SystemSpec* system = nullptr;
  const TrainingSetup* setup = nullptr;
  const Layout* layout = nullptr;
  Rates rates;
  GroupPlacement tp_group, cp_group, ep_group, dp_group, pp_group;
  // A routed expert's replicas: dp x cp / ep ranks, strided past the expert-parallel group, so
  // with ep filling a node each node holds one (Megatron-Core's expert-data-parallel group).
  GroupPlacement edp_group;
  bool causal = true;
  bool dropout = false;
  bool frozen_base = false;  // LoRA/QLoRA: base weights get no gradient
  double weight_bytes = 2;   // bytes per stored base weight
  double act_elem_bytes = kActBytes;  // bytes per activation element
  double lora_params = 0;             // adapter parameters of the whole model (LoRA/QLoRA)
  double fwd_flops_per_unit = 0;      // model FLOPs of one forward pass per sample unit
};

// Transformer blocks (decoder, encoder, MoE and DiT layers): the groups the layers of a
// pipeline are split over, and the only ones recomputed.
inline bool IsTransformerLayer(const std::string& name) {
  return name.find("layer") != std::string::npos || name == "dit_block";
}

// Frameworks whose model code is plain PyTorch calling scaled_dot_product_attention
// (torchtitan's, torchtune's, PyTorch FSDP examples' and Hugging Face's model code).
bool EagerPytorchModelCode(const TrainingSetup& s);
// Such model code run eagerly, one kernel per operator: torch.compile (--compile) fuses them, and
// is off in their default configurations.
bool UnfusedElementwise(const TrainingSetup& s);

// torchtitan's selective activation checkpointing ("op" policy of its activation_checkpoint
// module): inside each block it saves the outputs of the attention kernel and of every plain
// matmul except every second one, and recomputes the rest (norms, rotary, activation and the
// skipped matmuls) in backward; the Megatron-LM selective policy recomputes only the attention core.
bool OpLevelSelectiveRecompute(const LayoutCostInputs& in);

// Prices one layer of `grp` for one micro-batch on one GPU under in.layout.
LayerCost CostGroup(const LayoutCostInputs& in, const LayerGroup& grp);

}  // namespace dlcost::perf
