// One forward pass of a serving engine, priced op by op on the op graph (perf-internal).
// EstimateServing (serving.cc) describes the deployed replica once (ServingReplica) and prices
// the passes its scheduling runs: prefill, decode iterations, mixed iterations, image batches.
// Equations and sources: docs/serving.md.
#pragma once

#include <cstdint>
#include <string>

#include "dlcost/collectives.h"
#include "dlcost/efficiency.h"
#include "dlcost/engines.h"
#include "dlcost/model.h"
#include "dlcost/op_graph.h"
#include "dlcost/system.h"

namespace dlcost::perf {

// Activations and communicated activations are kept in 16-bit floats except for GEMM inputs
// quantized to 8 bits.
inline constexpr double kAct16Bytes = 2.0;

// Repeated blocks (decoder, encoder and MoE layers, DiT and U-Net blocks): the groups tensor
// parallelism all-reduces after and a draft head keeps one of.
inline bool IsLayerGroup(const std::string& name) {
  return name.find("layer") != std::string::npos || name.find("block") != std::string::npos;
}

// One replica of a model as the engine runs it: its op graph, the device's rates at the chosen
// number formats, the parallel degrees and where their ranks sit, and the engine's overheads.
struct ServingReplica {
  const ModelSpec* model = nullptr;
  OpGraph graph;
  SystemSpec system;
  EfficiencyProfile eff;
  EngineProfile engine;
  double gemm_peak = 0;   // FLOP/s of the GEMM compute type
  double gemm_frac = 0;
  double attn_peak = 0;
  double bw = 0;          // achievable HBM bytes/s
  // Calibrated profiles: the index (a Dtype) of the compute type's curves in eff (-1: none;
  // gemm_frac then applies), and the bandwidth matrix-vector products stream the weights at
  // (0: bw).
  int curve_dtype = -1;
  double weight_stream_bw = 0;
  const EfficiencyCurve* GemmCurve() const {
    return curve_dtype >= 0 && !eff.gemm_curve[static_cast<size_t>(curve_dtype)].empty()
               ? &eff.gemm_curve[static_cast<size_t>(curve_dtype)]
               : nullptr;
  }
  double kernel_s = 0;
  double w_bits = 16;
  double act_bytes = 2;   // GEMM input bytes
  double kv_elem_bytes = 2;
  int64_t tp = 1, pp = 1, ep = 1;
  bool sparse24 = false;
  double sparse_unstructured = 0;
  bool sparse_kernel = false;
  double moe_imbalance = 1;
  bool dp_attention = false;  // data-parallel attention over the tensor-parallel group
  GroupPlacement tp_group, ep_group;
  Link pp_link;
  double kv_tok_layer_bytes = 0;  // KV bytes of one token in one layer on one GPU
};

// One forward pass of the engine: decode tokens for `decode_seqs` sequences (each with
// `decode_tokens_per_seq` new tokens over `decode_ctx` cached keys) plus `prefill_tokens`
// prompt tokens attending on average `prefill_ctx` keys each.
struct Pass {
  double decode_seqs = 0;
  double decode_tokens_per_seq = 1;
  double decode_ctx = 0;
  double prefill_tokens = 0;
  double prefill_ctx = 0;
  double logits_rows = 0;
  double images = 0;  // vision/diffusion: images in the pass
  double Tokens() const { return images > 0 ? images : decode_seqs * decode_tokens_per_seq + prefill_tokens; }
};

struct PassCost {
  double time_s = 0;     // whole forward, stages one after another
  double compute_s = 0;  // op time where compute bound
  double memory_s = 0;   // op time where memory bound
  double comm_s = 0;
  double flops = 0;      // per GPU
};

// Prices pass `p` on replica `r`: every op of every group, the tensor- and pipeline-parallel
// exchanges and the engine's per-iteration overhead.
PassCost RunPass(const ServingReplica& r, const Pass& p);

// Per-token latency of a decode iteration over p.decode_seqs sequences: with pipeline
// parallelism the engine runs pp micro-batches of seqs/pp, so each token crosses all stages once.
double IterTime(const ServingReplica& r, Pass p);

// Weight bytes one GPU of the replica holds (its tensor, expert and pipeline share).
double WeightBytesPerGpu(const ServingReplica& r);

// KV-cache bytes of one token in one layer on one GPU of a `tp`-way group, at `elem_bytes` per
// element (MLA caches its compressed latent instead of keys and values).
double KvBytesPerTokenLayer(const ModelSpec& m, int64_t tp, double elem_bytes);
// Keys a layer caches and attends to for a context of `ctx` tokens, averaged over the model's
// layers: `ctx` for a full-attention layer, min(ctx, w) for a sliding-window one (docs/serving.md).
double WindowedKeys(const ModelSpec& m, double ctx);

}  // namespace dlcost::perf
