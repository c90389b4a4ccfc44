// The op graph: a model broken into the operations that cost time and memory.
//
// Every estimate (parameters, FLOPs, memory, step time) is derived from this one structure, so
// the parameter count that `dlcost model` prints and the FLOPs the training estimator charges
// come from the same list. Layers that repeat are one LayerGroup with a count.
//
// Conventions (docs/model.md):
// - fwd_flops is per *sample unit*: one token for language models (at the graph's sequence
//   length, which sets the attention term), one image for vision and diffusion models.
// - Only matrix multiplies and attention score/value products count as model FLOPs (2 per
//   multiply-accumulate); attention counts the full s x s score matrix, as Megatron-LM does.
// - Training FLOPs = 3 x forward (backward computes input and weight gradients).
//
//   DLCOST_ASSIGN_OR_RETURN(perf::OpGraph g, perf::BuildOpGraph(spec, 8192));
//   double n = g.TotalParams();
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dlcost/model.h"
#include "dlcost/status.h"

namespace dlcost::perf {

enum class OpKind { kGemm, kAttention, kNorm, kEmbedding, kConv, kRouter, kExperts, kOther };
const char* OpKindName(OpKind k);

struct Op {
  std::string name;
  OpKind kind = OpKind::kOther;
  double params = 0;         // parameters held by this op
  double active_params = 0;  // parameters used for one sample unit (MoE: routed share)
  double fwd_flops = 0;      // forward FLOPs per sample unit
  // GEMM shape per sample unit: [rows x k] times [k x n]; rows = tokens (or pixels) per unit.
  double gemm_rows = 0;
  int64_t gemm_k = 0;
  int64_t gemm_n = 0;
  double act_out_elems = 0;  // output activation elements per sample unit
  // Attention only: heads and keys attended per query (score elements per query = heads x kv_len).
  int64_t attn_heads = 0;
  double attn_kv_len = 0;
  bool trainable = true;     // false for fixed tables (DiT's sin-cos positions)
  // Part of a transformer layer's attention block (its norm, projections, attention and output
  // projection): what data-parallel attention runs per sequence instead of per head.
  bool attention_block = false;
};

struct LayerGroup {
  std::string name;   // "embedding", "decoder_layer", "moe_layer", "head", "down_block_1"...
  int64_t count = 1;  // how many identical layers
  std::vector<Op> ops;

  double Params() const;        // one layer
  double ActiveParams() const;  // one layer
  double FwdFlops() const;      // one layer, per sample unit
};

struct OpGraph {
  std::string unit = "token";  // "token" or "image"
  int64_t seq_len = 0;         // tokens per sample (attention length); pixels for CNNs
  int64_t tokens_per_sample = 1;
  std::vector<LayerGroup> groups;

  double TotalParams() const;
  double TrainableParams() const;
  double ActiveParams() const;
  double EmbeddingParams() const;  // input embedding tables (token/position/type)
  double FwdFlopsPerUnit() const;
  double TrainFlopsPerUnit() const { return 3.0 * FwdFlopsPerUnit(); }
  int64_t TransformerLayers() const;  // repeated blocks (decoder/encoder/moe layers)
};

// Builds the graph of `spec` at sequence length `seq_len` (tokens; 0 = the model's default:
// max_seq capped at 4096 for language models, the patch count for ViT/DiT).
Result<OpGraph> BuildOpGraph(const ModelSpec& spec, int64_t seq_len);

// The memory-bound work of one transformer layer that has no op of its own, in activation
// elements moved per sample unit in the forward pass. The training estimator charges it and the
// calibration fit (src/measure) inverts it, so both read it from here.
struct LayerElementwise {
  // The FFN activation: reads the gate/up outputs and writes the down projection's input (MoE:
  // every routed expert slot, and the shared experts). Split by tensor parallelism.
  double ffn_elems = 0;
  // RoPE on q and k (read and write); 0 without rotary positions. Split by tensor parallelism.
  double rope_elems = 0;
  // The two residual adds over the hidden width (two reads and one write each); replicated
  // across tensor-parallel ranks unless sequence parallelism splits them.
  double residual_elems = 0;
};
// The elementwise work of the transformer layer group `layer` of `m` with
// `moe_capacity_factor` expert slots per routed token (1: dropless).
LayerElementwise LayerElementwiseOf(const ModelSpec& m, const LayerGroup& layer, double moe_capacity_factor);

}  // namespace dlcost::perf
