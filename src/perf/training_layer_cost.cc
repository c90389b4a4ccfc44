// The cost of one layer group for one micro-batch on one GPU: op by op from the op graph, then
// for transformer blocks the traffic the op list leaves out, the host dispatch bound, the
// activations kept for backward and the tensor-, context- and expert-parallel exchanges.
// Equations: docs/training.md.
#include <algorithm>

#include "dlcost/collectives.h"
#include "perf/training_cost.h"

namespace dlcost::perf {
namespace {

// Sizes of one micro-batch on one GPU under the layout.
struct MicroBatchShape {
  double tokens = 0;         // tokens (or samples) per micro-batch
  double units = 0;          // sample units per micro-batch: tokens, or samples for image models
  double rows_local = 0;     // tokens this GPU holds (context parallelism splits them)
  double tp = 1;
  double split = 1;          // tp x cp: GPUs that share one op's work
  double repl_div = 1;       // replicated regions shrink only with sequence parallelism
  bool transformer = false;  // the group is a transformer block
};

MicroBatchShape ShapeOf(const LayoutCostInputs& in, const LayerGroup& grp) {
  const Layout& layout = *in.layout;
  MicroBatchShape sh;
  sh.tokens = static_cast<double>(layout.micro_batch) * in.graph->tokens_per_sample;
  sh.units = in.graph->unit == "token" ? sh.tokens : static_cast<double>(layout.micro_batch);
  sh.rows_local = sh.tokens / static_cast<double>(layout.cp);
  sh.tp = static_cast<double>(layout.tp);
  sh.split = sh.tp * layout.cp;
  sh.repl_div = layout.seq_parallel ? sh.tp : 1.0;
  sh.transformer = IsTransformerLayer(grp.name);
  return sh;
}

// A matmul that PyTorch dispatches as aten.mm (linear layers and the router; the experts' grouped
// GEMM is another operator).
bool IsPlainMatmul(const Op& op) { return op.kind == OpKind::kGemm || op.kind == OpKind::kRouter; }

// Elements per token that torchtitan's op-level selective checkpointing keeps for one block:
// the block input, the attention output and the output of every plain matmul except every
// second one (1st, 3rd, ...: q, v, gate and down projections of a Llama block); the experts'
// output for MoE layers. Column-parallel outputs and, with sequence parallelism, row-parallel
// ones are split over the tensor-parallel ranks.
double OpSacSavedElemsPerToken(const LayerGroup& grp, const MicroBatchShape& sh, double hidden) {
  double elems = hidden / sh.repl_div;
  int mm_count = 0;
  for (const Op& op : grp.ops) {
    if (IsPlainMatmul(op)) {
      if (++mm_count % 2 == 1) elems += static_cast<double>(op.gemm_n) / sh.tp;
    } else if (op.kind == OpKind::kAttention && op.gemm_rows > 0) {
      elems += op.act_out_elems / op.gemm_rows / sh.tp;  // heads x value width per query row
    } else if (op.kind == OpKind::kExperts) {
      elems += hidden / sh.tp;
    }
  }
  return elems;
}

// GEMMs, routers, convolutions and experts: compute- or bandwidth-bound matrix products.
// Returns the op's forward seconds.
double AddMatmulOp(const LayoutCostInputs& in, const MicroBatchShape& sh, const Op& op, double op_units_flops,
                   LayerCost& out) {
  const Layout& layout = *in.layout;
  double tp = sh.tp;
  double weight_elems = op.params / tp / (op.kind == OpKind::kExperts ? layout.ep : 1);
  double rows = op.gemm_rows * sh.units / layout.cp;
  // QLoRA's frozen block weights are stored in 4-bit NormalFloat and dequantized to bf16 for every
  // forward and backward product (Dettmers et al. 2023, "QLoRA", Sec. 3, eqs. 5-6): the product
  // reads the bf16 copy, and the dequantization reads the 4.127-bit store and writes that copy.
  bool nf4 = in.setup->finetune == Finetune::kQlora && sh.transformer && op.kind == OpKind::kGemm;
  double dequant = nf4 ? MemSeconds((in.weight_bytes + kActBytes) * weight_elems, in.rates) : 0.0;
  double weight_b = nf4 ? kActBytes : in.weight_bytes;
  double bytes = in.act_elem_bytes * (rows * op.gemm_k + rows * op.gemm_n / tp) + weight_b * weight_elems;
  // Experts with a capacity factor compute on padded token slots (Fedus et al. 2022,
  // Switch Transformer, Sec. 2.2); model FLOPs count only the routed tokens.
  double pad = op.kind == OpKind::kExperts ? in.setup->moe_capacity_factor : 1.0;
  double n_local = static_cast<double>(op.gemm_n) / tp;
  // FP8 recipes (Transformer Engine) run the transformer blocks' linear layers in FP8; the
  // output layer and the router stay in BF16.
  bool low = in.rates.low_precision_casts && sh.transformer && op.kind != OpKind::kRouter;
  Rates r = in.rates;
  if (in.rates.high_precision_gemm_peak > 0 && !low) {
    r.peak = in.rates.high_precision_gemm_peak;
    r.gemm_curve = nullptr;
  }
  double t = GemmSeconds(op_units_flops * pad, bytes * pad, GemmIntensity(rows * pad, op.gemm_k, n_local), r);
  double cast_fwd = 0, cast_bwd = 0;
  if (low) {
    // Each FP8 GEMM input is cast with its amax and written twice (row- and column-wise, the
    // second for the weight-gradient GEMM): read 2 + write 2 bytes per element; the output
    // gradient likewise in backward (Transformer Engine's fused cast-transpose kernels).
    cast_fwd = MemSeconds(4.0 * rows * pad * op.gemm_k, in.rates);
    cast_bwd = MemSeconds(4.0 * rows * pad * n_local, in.rates);
  }
  out.fwd_s += t + cast_fwd + dequant;
  out.fwd_flops += op_units_flops;
  // Backward: input gradient always; weight gradient only for trained weights.
  bool trained = !in.frozen_base && op.trainable;
  out.bwd_s += (trained ? 2 * t : t) + cast_bwd + dequant;
  if (layout.recompute == Recompute::kFull && sh.transformer) {
    out.recompute_s += t + cast_fwd + dequant;
    out.recompute_flops += op_units_flops;
  }
  return t + cast_fwd + dequant;
}

// A fused attention's backward: 2.5x the forward's FLOPs, at the kernel's own measured backward
// fraction where the profile has one.
double FusedAttentionBackwardSeconds(const LayoutCostInputs& in, double t_fwd) {
  const EfficiencyProfile& eff = *in.rates.eff;
  double bwd_speed = eff.attention_backward_fraction > 0 ? eff.attention_backward_fraction / eff.attention_max_fraction : 1.0;
  return kAttentionBackwardFactor * t_fwd / bwd_speed;
}

// Unfused attention (Megatron-LM before fused attention): QK^T and AV as batched GEMMs over the
// full score matrix, which is written and read by the scale/mask/softmax and dropout kernels.
// E = score elements on this GPU; bytes per pass at 2 bytes per element, the dropout mask at 1.
// Forward: QK^T writes 2E, softmax reads and writes 4E, dropout reads, writes and masks 5E, AV
// reads 2E. Backward: dP written 2E, dropout 5E, softmax reads output and gradient and writes
// 6E, dQ and dK read 4E.
void UnfusedAttentionSeconds(const LayoutCostInputs& in, const MicroBatchShape& sh, const Op& op,
                             double op_units_flops, double* t_fwd, double* t_bwd) {
  const Layout& layout = *in.layout;
  double tp = sh.tp;
  double rows = op.gemm_rows > 0 ? op.gemm_rows : 1.0;
  double q_local = sh.units / layout.cp * rows;
  // Score elements, weighted by the activation size relative to 2 bytes.
  double e_scores = q_local * static_cast<double>(op.attn_heads) / tp * op.attn_kv_len * in.act_elem_bytes / kActBytes;
  double drop = in.dropout ? 5.0 : 0.0;
  // Per sequence and head: [q x d] by [d x kv] scores, [q x kv] by [kv x d] values.
  double q_seq = (in.graph->unit == "token" ? static_cast<double>(in.graph->tokens_per_sample) : rows) / layout.cp;
  double kv = std::max(op.attn_kv_len, 1.0);
  double head_dim = op.fwd_flops / (4.0 * kv * std::max<int64_t>(op.attn_heads, 1) * rows);
  double intensity = GemmIntensity(q_seq, head_dim, kv);
  double gemm_fwd = GemmSeconds(op_units_flops, 2 * e_scores + 2 * e_scores, intensity, in.rates);
  *t_fwd = gemm_fwd + MemSeconds((4 + drop) * e_scores, in.rates) + in.rates.eff->kernel_overhead_s;
  *t_bwd = 2 * GemmSeconds(op_units_flops, 4 * e_scores, intensity, in.rates) +
           MemSeconds((8 + drop) * e_scores, in.rates);
}

// Attention scores and values; returns the forward time (context parallelism hides its ring
// exchange under it).
double AddAttentionOp(const LayoutCostInputs& in, const MicroBatchShape& sh, const Op& op, double op_units_flops,
                      LayerCost& out) {
  double t_fwd, t_bwd;
  if (in.setup->flash_attention) {
    // Fused kernel: causal blocks above the diagonal are skipped.
    t_fwd = (in.causal ? 0.5 : 1.0) * op_units_flops / (in.rates.attention_peak * in.rates.eff->attention_max_fraction) +
            in.rates.eff->kernel_overhead_s;
    t_bwd = FusedAttentionBackwardSeconds(in, t_fwd);
  } else {
    UnfusedAttentionSeconds(in, sh, op, op_units_flops, &t_fwd, &t_bwd);
  }
  t_fwd *= in.rates.eff->attention_time_factor;
  t_bwd *= in.rates.eff->attention_time_factor;
  out.fwd_s += t_fwd;
  out.fwd_flops += op_units_flops;
  out.bwd_s += t_bwd;
  out.attention_s += t_fwd + t_bwd;
  if (in.layout->recompute != Recompute::kNone && !OpLevelSelectiveRecompute(in)) {  // op-level SAC keeps its output
    out.recompute_s += t_fwd;
    out.recompute_flops += op_units_flops;
    out.attention_s += t_fwd;
  }
  return t_fwd;
}

// Every op of the group in turn; returns the attention forward time.
double AddOpCosts(const LayoutCostInputs& in, const LayerGroup& grp, const MicroBatchShape& sh, LayerCost& out) {
  const Layout& layout = *in.layout;
  bool op_sac = OpLevelSelectiveRecompute(in) && sh.transformer;
  bool recompute_norms = (layout.recompute == Recompute::kFull || op_sac) && sh.transformer;
  int mm_count = 0;
  double attn_fwd_s = 0;
  for (const Op& op : grp.ops) {
    double op_units_flops = op.fwd_flops * sh.units / sh.split;
    switch (op.kind) {
      case OpKind::kGemm:
      case OpKind::kRouter:
      case OpKind::kConv:
      case OpKind::kExperts: {
        double fwd = AddMatmulOp(in, sh, op, op_units_flops, out);
        // Every second plain matmul of the block is recomputed, its output not saved.
        if (op_sac && IsPlainMatmul(op) && ++mm_count % 2 == 0) {
          out.recompute_s += fwd;
          out.recompute_flops += op_units_flops;
        }
        break;
      }
      case OpKind::kAttention:
        attn_fwd_s += AddAttentionOp(in, sh, op, op_units_flops, out);
        break;
      case OpKind::kNorm: {
        double bytes = 2 * in.act_elem_bytes * op.act_out_elems * sh.units / layout.cp / sh.repl_div;
        double t = MemSeconds(bytes, in.rates);
        out.fwd_s += t;
        out.bwd_s += 2 * t;
        if (recompute_norms) out.recompute_s += t;
        break;
      }
      case OpKind::kEmbedding: {
        double bytes = in.act_elem_bytes * op.act_out_elems * sh.units / layout.cp;
        out.fwd_s += MemSeconds(bytes, in.rates);
        out.bwd_s += MemSeconds(2 * bytes, in.rates);
        break;
      }
      case OpKind::kOther:
        break;
    }
    if (op.trainable) {
      bool expert = op.kind == OpKind::kExperts;
      double p = op.params / sh.tp / (expert ? layout.ep : 1);
      out.params += p;
      if (expert) out.expert_params += p;
    }
  }
  return attn_fwd_s;
}

// Per-token widths of a transformer block.
struct BlockWidths {
  double h = 0;          // hidden size
  double hq = 0;         // query width, all heads
  double hkv = 0;        // key (or value) width, all key/value heads
  bool moe = false;      // a mixture-of-experts layer
  double ffn_elems = 0;  // FFN intermediate activations per token
  LayerElementwise elementwise;  // the layer's memory-bound work without an op of its own
};

BlockWidths WidthsOf(const LayoutCostInputs& in, const LayerGroup& grp) {
  const ModelSpec& m = *in.model;
  BlockWidths w;
  w.h = static_cast<double>(m.hidden);
  w.hq = static_cast<double>(m.heads * m.head_dim);
  w.hkv = static_cast<double>(m.kv_heads * m.head_dim);
  if (m.mla) {
    w.hq = static_cast<double>(m.heads) * (m.mla->qk_nope_head_dim + m.mla->qk_rope_head_dim);
    w.hkv = w.hq;
  }
  w.moe = grp.name == "moe_layer" && m.moe;
  w.elementwise = LayerElementwiseOf(m, grp, in.setup->moe_capacity_factor);
  w.ffn_elems = w.elementwise.ffn_elems;
  return w;
}

// Bytes per token and layer that eager operators move beyond the fused kernels, counted from the
// operator sequence of torchtitan's Llama block (2 bytes per bf16 element, 4 per fp32):
// RMSNorm upcasts to fp32, squares, averages, scales, casts back and multiplies by its weight
// (36 bytes per element against 4 fused), twice per layer; SwiGLU's silu and product as two
// kernels (10 bytes per FFN element against 6); rotary embedding through fp32 complex numbers
// (20 bytes per q and k element against 4).
double EagerExtraBytesPerToken(const ModelSpec& m, const BlockWidths& w, const MicroBatchShape& sh) {
  double bytes = 0;
  if (m.norm == NormKind::kRmsNorm) bytes += 2 * 32 * w.h / sh.repl_div;
  // ffn_elems counts 3 elements per FFN channel for SwiGLU (two read, one written).
  if (m.ffn_act == FfnAct::kSwiglu) bytes += 4 * (w.ffn_elems / 3) / sh.tp;
  if (m.position == PositionKind::kRope) bytes += 16 * (w.hq + w.hkv) / sh.tp;
  return bytes;
}

// Elementwise traffic not in the op list (activation function, rotary embedding, two residual
// adds: LayerElementwiseOf, which the calibration fit inverts) and dropout; backward moves about
// twice as much. MoE layers also permute tokens.
void AddElementwise(const LayoutCostInputs& in, const MicroBatchShape& sh, const BlockWidths& w, LayerCost& out) {
  const ModelSpec& m = *in.model;
  double h = w.h;
  double shard_bytes = in.act_elem_bytes * (w.elementwise.ffn_elems + w.elementwise.rope_elems);
  double repl_bytes = in.act_elem_bytes * (w.elementwise.residual_elems + (in.dropout ? 2 * 2.5 * h : 0));
  double elem_bytes = sh.rows_local * (shard_bytes / sh.tp + repl_bytes / sh.repl_div);
  double elem_t = MemSeconds(elem_bytes, in.rates) + 4 * in.rates.eff->kernel_overhead_s;
  out.fwd_s += elem_t;
  out.bwd_s += 2 * elem_t;
  bool recomputed = in.layout->recompute == Recompute::kFull || OpLevelSelectiveRecompute(in);
  if (recomputed) out.recompute_s += elem_t;
  if (UnfusedElementwise(*in.setup)) {
    double eager = sh.rows_local * EagerExtraBytesPerToken(m, w, sh);
    double eager_t = MemSeconds(eager, in.rates);
    out.fwd_s += eager_t;
    out.bwd_s += 2 * eager_t;
    if (recomputed) out.recompute_s += eager_t;
  }
  if (w.moe) {
    // Token permutation into and out of expert order (read + write, twice).
    double perm = 4 * in.act_elem_bytes * sh.rows_local / sh.tp * m.moe->top_k * h;
    out.fwd_s += MemSeconds(perm, in.rates);
    out.bwd_s += MemSeconds(perm, in.rates);
  }
}

// Host-dispatched operators of one transformer layer's forward pass, counted from Megatron-Core
// (docs/training.md, "Host dispatch"): the profile's layer_host_overhead_s is about 50 of them;
// 6 belong to the dense MLP (norm + fc1, silu, add, mul, fc2).
constexpr double kDenseLayerOps = 50;
constexpr double kDenseMlpOps = 6;
// A mixture-of-experts MLP with the all-to-all dispatcher: router (gating GEMM, top-k, scores,
// routing map, auxiliary loss; 25-28), token-count preprocessing with its all-gather (7), the
// device-to-host copies and permutation (8), two all-to-alls, chunk sorting (2), SwiGLU with the
// routing weights (5), the combine's copy, sort and all-to-all (4), unpermutation (1) and its own
// pre-MLP norm (1): about 52 operators besides the experts' GEMMs.
constexpr double kMoeMlpFixedOps = 52;

// Forward operators of one MoE MLP: Transformer Engine's GroupedLinear (Megatron-LM and NeMo, and
// dlcost's default framework) launches one GEMM per local expert for fc1 and again for fc2; other
// frameworks are taken to launch one grouped GEMM per projection. A shared expert adds a dense MLP.
double MoeMlpOps(const LayoutCostInputs& in) {
  const MoeSpec& moe = *in.model->moe;
  std::optional<Framework> fw = in.setup->framework;
  bool per_expert = !fw || *fw == Framework::kMegatron || *fw == Framework::kNemo;
  double local_experts = std::max(1.0, static_cast<double>(moe.experts) / static_cast<double>(in.layout->ep));
  double ops = kMoeMlpFixedOps + 2 * (per_expert ? local_experts : 1.0);
  if (moe.shared_experts > 0) ops += kDenseMlpOps;
  return ops;
}

// Host dispatch bound: the GPU cannot run ahead of the framework issuing its kernels. A MoE layer
// issues more operators than a dense one (MoeMlpOps), and its host time grows in proportion.
void ApplyHostDispatch(const LayoutCostInputs& in, bool moe, LayerCost& out) {
  bool full = in.layout->recompute == Recompute::kFull;
  double ops = moe ? kDenseLayerOps - kDenseMlpOps + MoeMlpOps(in) : kDenseLayerOps;
  double host = in.rates.eff->layer_host_overhead_s * ops / kDenseLayerOps;
  if (in.rates.eff->host_overhead_serial) {
    // A CPU dispatches and computes on the same cores: the costs add.
    out.fwd_s += host;
    out.bwd_s += 2 * host;
    if (full) out.recompute_s += host;
  } else {
    out.fwd_s = std::max(out.fwd_s, host);
    out.bwd_s = std::max(out.bwd_s, 2 * host);
    if (full) out.recompute_s = std::max(out.recompute_s, host);
  }
}

// Activation memory kept for backward, bytes per micro-batch (Korthikanti et al. 2022, Sec. 4,
// generalised to GQA, gated FFNs and MoE; docs/training.md).
double ActivationBytes(const LayoutCostInputs& in, const LayerGroup& grp, const MicroBatchShape& sh,
                       const BlockWidths& w) {
  const ModelSpec& m = *in.model;
  const Layout& layout = *in.layout;
  if (OpLevelSelectiveRecompute(in)) return sh.rows_local * OpSacSavedElemsPerToken(grp, sh, w.h) * in.act_elem_bytes;
  double h = w.h;
  double repl = 8 * h + (in.dropout ? 2 * h : 0) + (m.norms_per_layer > 2 ? 4 * h : 0);
  double shard = 2 * w.hq + 4 * w.hkv + 2 * w.hq + kActBytes * w.ffn_elems;
  if (w.moe) shard += 4.0 * m.moe->experts;  // router logits (fp32)
  double scores = 0;
  if (!in.setup->flash_attention && layout.recompute == Recompute::kNone) {
    scores = (in.dropout ? 5.0 : 2.0) * m.heads * static_cast<double>(in.graph->seq_len);
  }
  double per_token = (repl / sh.repl_div + shard / sh.tp + scores / sh.tp) * in.act_elem_bytes / kActBytes;
  if (layout.recompute == Recompute::kFull) per_token = 2 * h / sh.repl_div * in.act_elem_bytes / kActBytes;  // only the layer input
  return sh.rows_local * per_token;
}

// Exposed tensor-, context- and expert-parallel exchanges of one block; `attn_fwd_s` is the
// attention forward time the context-parallel ring hides under.
void AddParallelComm(const LayoutCostInputs& in, const MicroBatchShape& sh, const BlockWidths& w, double attn_fwd_s,
                     LayerCost& out) {
  const ModelSpec& m = *in.model;
  const Layout& layout = *in.layout;
  double h = w.h;
  // Tensor-parallel collectives: two all-reduces (or all-gather + reduce-scatter with sequence
  // parallelism: the same bytes) in forward, two in backward, two more when the forward is
  // recomputed in full (Narayanan et al. 2021, Sec. 3.2; Korthikanti et al. 2022, Sec. 4.2.2).
  if (layout.tp > 1) {
    double msg = in.act_elem_bytes * sh.rows_local * h;
    int count = 4 + (layout.recompute == Recompute::kFull ? 2 : 0);
    out.tp_comm_s = count * AllReduceTime(msg, in.tp_group);
  }
  // Context parallelism: each attention passes K and V around the ring (forward) and their
  // gradients back (backward), overlapped with the attention blocks it feeds; while the ring's
  // sends run, the attention loses the SM share their kernels hold (contention, as for every
  // overlapped collective).
  if (layout.cp > 1) {
    double kv = in.act_elem_bytes * sh.rows_local * 2 * w.hkv / sh.tp;
    const GroupPlacement& cp = in.cp_group;
    double ring = (layout.cp - 1) * SendTime(kv, cp.n <= cp.per_node ? cp.intra : cp.inter);
    double attn_bwd_s = FusedAttentionBackwardSeconds(in, attn_fwd_s);
    double kappa = in.rates.eff->comm_compute_slowdown;
    double exposed_fwd = std::max(0.0, ring - attn_fwd_s) + kappa * std::min(ring, attn_fwd_s);
    double exposed_bwd = std::max(0.0, 2 * ring - attn_bwd_s) + kappa * std::min(2 * ring, attn_bwd_s);
    out.cp_comm_s = exposed_fwd + exposed_bwd + (layout.recompute != Recompute::kNone ? exposed_fwd : 0);
  }
  // Expert parallelism: dispatch and combine all-to-all in forward and backward.
  if (w.moe && layout.ep > 1) {
    double msg = in.act_elem_bytes * sh.rows_local / (layout.seq_parallel ? sh.tp : 1.0) * m.moe->top_k * h *
                 in.setup->moe_capacity_factor;
    int count = 4 + (layout.recompute == Recompute::kFull ? 2 : 0);
    out.ep_comm_s = count * AllToAllTime(msg, in.ep_group);
  }
}

}  // namespace

bool OpLevelSelectiveRecompute(const LayoutCostInputs& in) {
  return in.layout->recompute == Recompute::kSelective && in.setup->framework == Framework::kTorchtitan;
}

bool UnfusedElementwise(const TrainingSetup& s) { return EagerPytorchModelCode(s) && !s.compiled.value_or(false); }

bool EagerPytorchModelCode(const TrainingSetup& s) {
  if (!s.framework) return false;
  switch (*s.framework) {
    case Framework::kTorchtitan:
    case Framework::kPytorchFsdp:
    case Framework::kTorchtune:
    case Framework::kTransformers:
      return true;
    default:
      return false;
  }
}

LayerCost CostGroup(const LayoutCostInputs& in, const LayerGroup& grp) {
  LayerCost out;
  MicroBatchShape sh = ShapeOf(in, grp);
  double attn_fwd_s = AddOpCosts(in, grp, sh, out);
  if (sh.transformer && in.model->IsTransformer()) {
    BlockWidths w = WidthsOf(in, grp);
    AddElementwise(in, sh, w, out);
    ApplyHostDispatch(in, w.moe, out);
    out.act_bytes = ActivationBytes(in, grp, sh, w);
    AddParallelComm(in, sh, w, attn_fwd_s, out);
  }
  return out;
}

}  // namespace dlcost::perf
