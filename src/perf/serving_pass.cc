// The cost of one forward pass of a serving engine, op by op. Equations and sources:
// docs/serving.md.
#include "perf/serving_pass.h"

#include <algorithm>
#include <cmath>

namespace dlcost::perf {
namespace {

// GEMM kernels compute whole tiles: from one tile up, the row count is padded to a multiple of
// this many rows (a 64-row M tile for tensor-core GEMMs; a stated dlcost assumption for the
// shape term of the GEMM efficiency curve). Below it, matrix-vector kernels do exact work.
constexpr double kGemmRowTile = 64;
// Logits are produced in fp32 by the serving engines for sampling.
constexpr double kLogitBytes = 4.0;

double WeightBitsEffective(const ServingReplica& r, bool linear, bool for_capacity) {
  double bits = r.w_bits;
  if (!linear) return bits;
  if (r.sparse24) return bits / 2 + 1;  // half the values + 2-bit index per kept value
  if (r.sparse_unstructured > 0 && (r.sparse_kernel || for_capacity)) {
    // Bitmap format: one bit per element plus the kept values (Flash-LLM's load-as-sparse).
    return std::min(bits, 1 + (1 - r.sparse_unstructured) * bits);
  }
  return bits;
}

// `weight_bytes` of `bytes` are weights read by a matrix-vector product: at the calibrated
// weight-streaming bandwidth when the profile has one.
double OpSeconds(const ServingReplica& r, double flops_exec, double peak, double frac, double bytes, PassCost* pc,
                 double weight_bytes = 0) {
  double tc = peak > 0 ? flops_exec / (peak * frac) : 0;
  double tm = r.weight_stream_bw > 0 && weight_bytes > 0
                  ? weight_bytes / r.weight_stream_bw + (bytes - weight_bytes) / r.bw
                  : bytes / r.bw;
  if (tc >= tm) pc->compute_s += tc;
  else pc->memory_s += tm;
  return std::max(tc, tm) + r.kernel_s;
}

// Time and model FLOPs of one layer of a group, summed op by op.
struct LayerSums {
  double seconds = 0;
  double flops = 0;
};

// GEMMs, routers and convolutions: whole tiles from one tile up, weights at their stored bits.
void AddMatmulOp(const ServingReplica& r, const Pass& p, const LayerGroup& grp, const Op& op, PassCost* pc,
                 LayerSums& layer) {
  bool image = r.graph.unit == "image";
  double tokens = p.Tokens();
  bool head = grp.name == "head";
  double rows = head && !image ? p.logits_rows * op.gemm_rows : tokens * op.gemm_rows;
  // Data-parallel attention: each GPU projects its own sequences' tokens with whole weights.
  bool dp = r.dp_attention && op.attention_block;
  if (dp) rows /= static_cast<double>(r.tp);
  if (rows <= 0) return;
  double shard = op.kind == OpKind::kRouter || dp ? 1 : static_cast<double>(r.tp);
  double k = static_cast<double>(op.gemm_k), n = static_cast<double>(op.gemm_n);
  double flops = 2 * rows * k * n / shard;
  // Below one tile the engines switch to matrix-vector kernels, which are memory bound.
  double padded = rows < kGemmRowTile ? rows : std::ceil(rows / kGemmRowTile) * kGemmRowTile;
  double exec = 2 * padded * k * n / shard;
  bool linear = op.kind != OpKind::kRouter;
  if (r.sparse24 && linear) exec /= 2;  // 2:4 sparse tensor cores: twice the math rate
  double wbytes = k * n / shard * WeightBitsEffective(r, linear, false) / 8;
  double bytes = wbytes + rows * (k + n / shard) * r.act_bytes;
  if (head) bytes += rows * n / shard * kLogitBytes;
  const EfficiencyCurve* curve = r.GemmCurve();
  double frac = curve ? curve->At(GemmIntensity(rows, k, n / shard)) : r.gemm_frac;
  layer.seconds += OpSeconds(r, exec, r.gemm_peak, frac, bytes, pc, rows < kGemmRowTile ? wbytes : 0);
  layer.flops += flops;
}

// Routed experts: the weights of every expert the pass's tokens touch, the busiest expert's
// tiles, and the expert-parallel all-to-all.
void AddExpertsOp(const ServingReplica& r, const Pass& p, const Op& op, PassCost* pc, LayerSums& layer) {
  const ModelSpec& m = *r.model;
  const MoeSpec& e = *m.moe;
  double tokens = p.Tokens();
  double E = static_cast<double>(e.experts), K = static_cast<double>(e.top_k);
  double one = op.params / E;
  // Experts touched by `tokens` tokens each picking K of E at random (uniform routing).
  double touched = E * (1 - std::pow(1 - K / E, tokens));
  double shard = static_cast<double>(r.tp) * static_cast<double>(r.ep);
  double bytes = touched * one * WeightBitsEffective(r, true, false) / 8 / shard +
                 tokens * K * (m.hidden + e.expert_ffn) * r.act_bytes / static_cast<double>(r.ep);
  double flops = 2 * tokens * K * one / shard;
  // The busiest expert sets the pace; each touched expert computes whole tiles.
  double rows_per_expert = tokens * K / std::max(1.0, touched) * r.moe_imbalance;
  double padded =
      rows_per_expert < kGemmRowTile ? rows_per_expert : std::ceil(rows_per_expert / kGemmRowTile) * kGemmRowTile;
  double exec = 2 * padded * one * touched / shard;
  if (r.sparse24) exec /= 2;
  double wbytes = touched * one * WeightBitsEffective(r, true, false) / 8 / shard;
  double frac = r.gemm_frac;
  if (const EfficiencyCurve* curve = r.GemmCurve(); curve && m.hidden > 0) {
    double k = static_cast<double>(m.hidden), n = one / shard / k;
    frac = curve->At(GemmIntensity(std::max(1.0, rows_per_expert), k, n));
  }
  layer.seconds += OpSeconds(r, exec, r.gemm_peak, frac, bytes, pc, rows_per_expert < kGemmRowTile ? wbytes : 0);
  layer.flops += flops;
  if (r.ep > 1) {
    double msg = tokens * K * m.hidden * kAct16Bytes / static_cast<double>(r.ep);
    double t = 2 * AllToAllTime(msg, r.ep_group);
    layer.seconds += t;
    pc->comm_s += t;
  }
}

// Attention over the cached keys (decode) and the prompt's own keys (prefill), or over an
// image's patches.
void AddAttentionOp(const ServingReplica& r, const Pass& p, const Op& op, PassCost* pc, LayerSums& layer) {
  bool image = r.graph.unit == "image";
  double tokens = p.Tokens();
  double tp = static_cast<double>(r.tp);
  double per_key = op.attn_kv_len > 0 ? op.fwd_flops / op.gemm_rows / op.attn_kv_len : 0;
  double key_flops, kv_read;
  if (image) {
    key_flops = tokens * op.gemm_rows * op.attn_kv_len * per_key;
    kv_read = tokens * op.gemm_rows * 2 * op.act_out_elems / op.gemm_rows * kAct16Bytes;
  } else {
    double dq = p.decode_seqs * p.decode_tokens_per_seq;
    // Sliding-window layers keep and read only their last w keys.
    double decode_keys = WindowedKeys(*r.model, p.decode_ctx);
    // MLA decodes in absorbed form: each head's query is taken into the latent space and
    // attends the cached latent directly, (kv_lora + rope) for the scores and kv_lora for the
    // values per key (DeepSeek-V2, Sec. 2.1.2 and Appendix C); prefill decompresses the keys
    // and values and attends as multi-head attention.
    double per_key_decode = per_key;
    if (const auto& mla = r.model->mla) {
      per_key_decode = 2.0 * static_cast<double>(op.attn_heads) *
                       static_cast<double>(2 * mla->kv_lora_rank + mla->qk_rope_head_dim);
    }
    key_flops = dq * decode_keys * per_key_decode + p.prefill_tokens * WindowedKeys(*r.model, p.prefill_ctx) * per_key;
    // Decode reads every cached key and value once per sequence; prefill writes its own.
    kv_read = (p.decode_seqs * decode_keys + p.Tokens()) * r.kv_tok_layer_bytes;
  }
  double flops = key_flops / tp;
  double bytes = kv_read + tokens * op.act_out_elems / (image ? 1 : op.gemm_rows) * 2 * kAct16Bytes / tp;
  layer.seconds += OpSeconds(r, flops, r.attn_peak, r.eff.attention_max_fraction, bytes, pc);
  layer.flops += flops;
}

// One layer of group `grp`: its ops, then the tensor-parallel all-reduces of a repeated block.
LayerSums CostLayer(const ServingReplica& r, const Pass& p, const LayerGroup& grp, PassCost* pc) {
  const ModelSpec& m = *r.model;
  double tokens = p.Tokens();
  bool image = r.graph.unit == "image";
  LayerSums layer;
  for (const Op& op : grp.ops) {
    switch (op.kind) {
      case OpKind::kGemm:
      case OpKind::kRouter:
      case OpKind::kConv:
        AddMatmulOp(r, p, grp, op, pc, layer);
        break;
      case OpKind::kExperts:
        AddExpertsOp(r, p, op, pc, layer);
        break;
      case OpKind::kAttention:
        AddAttentionOp(r, p, op, pc, layer);
        break;
      case OpKind::kEmbedding:
        // Gather one row of the table per token and write it out.
        layer.seconds += OpSeconds(r, 0, 0, 1, tokens * op.act_out_elems * (r.w_bits / 8 + kAct16Bytes), pc);
        break;
      case OpKind::kNorm:
      case OpKind::kOther: {
        double rows = grp.name == "head" && !image ? p.logits_rows : tokens;
        if (r.dp_attention && op.attention_block) rows /= static_cast<double>(r.tp);
        layer.seconds += OpSeconds(r, 0, 0, 1, rows * op.act_out_elems * 2 * kAct16Bytes, pc);
        break;
      }
    }
  }
  if (IsLayerGroup(grp.name) && r.tp > 1) {
    // Two all-reduces of the layer's output per transformer layer (Megatron-LM tensor
    // parallelism). Data-parallel attention instead gathers every GPU's tokens before the MLP and
    // scatters the reduced outputs back after it: an all-gather and a reduce-scatter, the two
    // halves of one ring all-reduce.
    double rows = image ? tokens * r.graph.seq_len : tokens;
    double t = (r.dp_attention ? 1 : 2) * AllReduceTime(rows * m.hidden * kAct16Bytes, r.tp_group);
    layer.seconds += t;
    pc->comm_s += t;
  }
  return layer;
}

}  // namespace

PassCost RunPass(const ServingReplica& r, const Pass& p) {
  PassCost pc;
  double tokens = p.Tokens();
  bool image = r.graph.unit == "image";
  for (const LayerGroup& grp : r.graph.groups) {
    LayerSums layer = CostLayer(r, p, grp, &pc);
    pc.time_s += layer.seconds * static_cast<double>(grp.count);
    pc.flops += layer.flops * static_cast<double>(grp.count);
  }
  if (r.pp > 1) {
    double rows = image ? tokens * r.graph.seq_len : tokens;
    double t = static_cast<double>(r.pp - 1) * SendTime(rows * r.model->hidden * kAct16Bytes, r.pp_link);
    pc.time_s += t;
    pc.comm_s += t;
  }
  // The engine's measured distance from the kernel model (docs/serving.md, "Engine factors").
  // DescribeReplica resolves it; a replica built otherwise runs the kernel model.
  pc.time_s *= r.engine.iteration_time_factor > 0 ? r.engine.iteration_time_factor : 1;
  pc.time_s += r.engine.step_overhead_s;
  return pc;
}

double IterTime(const ServingReplica& r, Pass p) {
  double div = static_cast<double>(std::min<int64_t>(r.pp, std::max<int64_t>(1, static_cast<int64_t>(p.decode_seqs))));
  p.decode_seqs /= div;
  p.prefill_tokens /= div;
  p.logits_rows /= div;
  return RunPass(r, p).time_s;
}

double WeightBytesPerGpu(const ServingReplica& r) {
  double total = 0;
  double tp = static_cast<double>(r.tp);
  for (const LayerGroup& grp : r.graph.groups) {
    double per = 0;
    for (const Op& op : grp.ops) {
      switch (op.kind) {
        case OpKind::kGemm:
        case OpKind::kConv:
          // Data-parallel attention keeps the whole attention block on every GPU.
          per += op.params / (r.dp_attention && op.attention_block ? 1 : tp) * WeightBitsEffective(r, true, true) / 8;
          break;
        case OpKind::kExperts:
          per += op.params / (tp * static_cast<double>(r.ep)) * WeightBitsEffective(r, true, true) / 8;
          break;
        case OpKind::kEmbedding:
          per += op.params / tp * r.w_bits / 8;
          break;
        default:
          per += op.params * kAct16Bytes;  // router, norms: kept in 16 bits
      }
    }
    total += per * static_cast<double>(grp.count);
  }
  return total / static_cast<double>(r.pp);
}

double WindowedKeys(const ModelSpec& m, double ctx) {
  double w = static_cast<double>(m.sliding_window);
  if (m.sliding_window_layers <= 0 || w <= 0 || ctx <= w || m.layers <= 0) return ctx;
  double windowed = static_cast<double>(m.sliding_window_layers), layers = static_cast<double>(m.layers);
  return ((layers - windowed) * ctx + windowed * w) / layers;
}

double KvBytesPerTokenLayer(const ModelSpec& m, int64_t tp, double elem_bytes) {
  if (m.mla) {
    // MLA caches the compressed latent and the decoupled RoPE key, replicated on every TP rank
    // (DeepSeek-V2, Sec. 2.1).
    return static_cast<double>(m.mla->kv_lora_rank + m.mla->qk_rope_head_dim) * elem_bytes;
  }
  double heads = std::max(1.0, std::ceil(static_cast<double>(m.kv_heads) / static_cast<double>(tp)));
  return 2 * heads * static_cast<double>(m.head_dim) * elem_bytes;
}

}  // namespace dlcost::perf
