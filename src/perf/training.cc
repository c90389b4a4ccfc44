// Training estimator. Equations: docs/training.md.
#include "dlcost/training.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/json_util.h"
#include "dlcost/strings.h"
#include "dlcost/op_graph.h"
#include "dlcost/units.h"
#include "dlcost/collectives.h"

namespace dlcost {
namespace {

using perf::GroupPlacement;
using perf::Link;
using perf::Op;
using perf::OpKind;

// Bytes per element of activations and communicated activations in bf16/fp16 training; fp32
// and tf32 training keep 4-byte activations (TrainingEvaluator::Create).
constexpr double kActBytes = 2.0;
// Tokens per global batch used when no global batch is given: 4M tokens, the batch of the
// LLaMA papers (Touvron et al. 2023a, Table 2; 2023b, Sec. 2.2).
constexpr double kDefaultBatchTokens = 4194304.0;
// FlashAttention-2 backward performs 5 matmuls against 2 in the forward pass (Dao 2023, Sec. 3.1).
constexpr double kAttentionBackwardFactor = 2.5;
// Default framework overhead: CUDA context, NCCL buffers and allocator fragmentation. A stated
// dlcost assumption (override with --overhead-gib), not a measured constant.
constexpr double kDefaultOverheadBytes = 2.0 * kGiB;

struct Rates {
  double peak = 0;           // FLOP/s at the training precision
  double attention_peak = 0; // FLOP/s of the attention kernels (bf16/fp16 when training in fp8)
  double bw = 0;             // HBM bytes/s
  const EfficiencyProfile* eff = nullptr;
  const EfficiencyCurve* gemm_curve = nullptr;  // measured GEMM efficiency, when calibrated
};

// `intensity`: the GEMM's FLOPs per element moved (GemmIntensity), read by a measured curve.
double GemmSeconds(double flops, double bytes, double intensity, const Rates& r) {
  double frac = r.gemm_curve != nullptr ? r.gemm_curve->At(intensity) : r.eff->gemm_max_fraction;
  return std::max(flops / (r.peak * frac), bytes / (r.bw * r.eff->memory_fraction)) + r.eff->kernel_overhead_s;
}
double MemSeconds(double bytes, const Rates& r) {
  return bytes / (r.bw * r.eff->memory_fraction) + r.eff->kernel_overhead_s;
}
// The cross-entropy's traffic: at the profile's measured loss fraction when it has one.
double LossSeconds(double bytes, const Rates& r) {
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
  double trainable = 0;
};

struct Ctx {
  const ModelSpec* m;
  const perf::OpGraph* g;
  const SystemSpec* sys;
  const TrainingSetup* s;
  const Layout* L;
  Rates rates;
  GroupPlacement tp_group, cp_group, ep_group, dp_group, pp_group;
  bool causal = true;
  bool dropout = false;
  bool frozen_base = false;  // LoRA/QLoRA: base weights get no gradient
  double weight_bytes = 2;   // bytes per stored base weight
  double act_elem_bytes = kActBytes;  // bytes per activation element
};

bool IsTransformerLayer(const std::string& name) {
  return name.find("layer") != std::string::npos || name == "dit_block";
}

LayerCost CostGroup(const Ctx& c, const perf::LayerGroup& grp) {
  const ModelSpec& m = *c.m;
  const Layout& L = *c.L;
  LayerCost out;
  double tokens = static_cast<double>(L.micro_batch) * c.g->tokens_per_sample;  // units per micro-batch
  double units = c.g->unit == "token" ? tokens : static_cast<double>(L.micro_batch);
  double rows_local = tokens / static_cast<double>(L.cp);   // tokens this GPU holds
  double tp = static_cast<double>(L.tp);
  double split = tp * L.cp;
  double repl_div = L.seq_parallel ? tp : 1.0;               // replicated regions shrink only with SP
  bool transformer = IsTransformerLayer(grp.name);
  double attn_fwd_s = 0;
  for (const Op& op : grp.ops) {
    double op_units_flops = op.fwd_flops * units / split;
    switch (op.kind) {
      case OpKind::kGemm:
      case OpKind::kRouter:
      case OpKind::kConv:
      case OpKind::kExperts: {
        double weight_elems = op.params / tp / (op.kind == OpKind::kExperts ? L.ep : 1);
        double rows = op.gemm_rows * units / L.cp;
        double bytes = c.act_elem_bytes * (rows * op.gemm_k + rows * op.gemm_n / tp) + c.weight_bytes * weight_elems;
        // Experts with a capacity factor compute on padded token slots (Fedus et al. 2022,
        // Switch Transformer, Sec. 2.2); model FLOPs count only the routed tokens.
        double pad = op.kind == OpKind::kExperts ? c.s->moe_capacity_factor : 1.0;
        double n_local = static_cast<double>(op.gemm_n) / tp;
        double t = GemmSeconds(op_units_flops * pad, bytes * pad, GemmIntensity(rows * pad, op.gemm_k, n_local), c.rates);
        out.fwd_s += t;
        out.fwd_flops += op_units_flops;
        // Backward: input gradient always; weight gradient only for trained weights.
        bool trained = !c.frozen_base && op.trainable;
        out.bwd_s += trained ? 2 * t : t;
        if (L.recompute == Recompute::kFull && transformer) {
          out.recompute_s += t;
          out.recompute_flops += op_units_flops;
        }
        break;
      }
      case OpKind::kAttention: {
        double t_fwd, t_bwd;
        if (c.s->flash_attention) {
          // Fused kernel: causal blocks above the diagonal are skipped.
          t_fwd = (c.causal ? 0.5 : 1.0) * op_units_flops / (c.rates.attention_peak * c.rates.eff->attention_max_fraction) +
                  c.rates.eff->kernel_overhead_s;
          t_bwd = kAttentionBackwardFactor * t_fwd;
        } else {
          // Unfused (Megatron-LM before fused attention): QK^T and AV as batched GEMMs over the
          // full score matrix, which is written and read by the scale/mask/softmax and dropout
          // kernels. E = score elements on this GPU; bytes per pass at 2 bytes per element, the
          // dropout mask at 1. Forward: QK^T writes 2E, softmax reads and writes 4E, dropout
          // reads, writes and masks 5E, AV reads 2E. Backward: dP written 2E, dropout 5E,
          // softmax reads output and gradient and writes 6E, dQ and dK read 4E.
          double rows = op.gemm_rows > 0 ? op.gemm_rows : 1.0;
          double q_local = units / L.cp * rows;
          // Score elements, weighted by the activation size relative to 2 bytes.
          double e_scores = q_local * static_cast<double>(op.attn_heads) / tp * op.attn_kv_len * c.act_elem_bytes / kActBytes;
          double drop = c.dropout ? 5.0 : 0.0;
          // Per sequence and head: [q x d] by [d x kv] scores, [q x kv] by [kv x d] values.
          double q_seq = (c.g->unit == "token" ? static_cast<double>(c.g->tokens_per_sample) : rows) / L.cp;
          double kv = std::max(op.attn_kv_len, 1.0);
          double head_dim = op.fwd_flops / (4.0 * kv * std::max<int64_t>(op.attn_heads, 1) * rows);
          double intensity = GemmIntensity(q_seq, head_dim, kv);
          double gemm_fwd = GemmSeconds(op_units_flops, 2 * e_scores + 2 * e_scores, intensity, c.rates);
          t_fwd = gemm_fwd + MemSeconds((4 + drop) * e_scores, c.rates) + c.rates.eff->kernel_overhead_s;
          t_bwd = 2 * GemmSeconds(op_units_flops, 4 * e_scores, intensity, c.rates) +
                  MemSeconds((8 + drop) * e_scores, c.rates);
        }
        t_fwd *= c.rates.eff->attention_time_factor;
        t_bwd *= c.rates.eff->attention_time_factor;
        out.fwd_s += t_fwd;
        attn_fwd_s += t_fwd;
        out.fwd_flops += op_units_flops;
        out.bwd_s += t_bwd;
        out.attention_s += t_fwd + t_bwd;
        if (L.recompute != Recompute::kNone) {
          out.recompute_s += t_fwd;
          out.recompute_flops += op_units_flops;
          out.attention_s += t_fwd;
        }
        break;
      }
      case OpKind::kNorm: {
        double bytes = 2 * c.act_elem_bytes * op.act_out_elems * units / L.cp / repl_div;
        double t = MemSeconds(bytes, c.rates);
        out.fwd_s += t;
        out.bwd_s += 2 * t;
        if (L.recompute == Recompute::kFull && transformer) out.recompute_s += t;
        break;
      }
      case OpKind::kEmbedding: {
        double bytes = c.act_elem_bytes * op.act_out_elems * units / L.cp;
        out.fwd_s += MemSeconds(bytes, c.rates);
        out.bwd_s += MemSeconds(2 * bytes, c.rates);
        break;
      }
      case OpKind::kOther:
        break;
    }
    if (op.trainable) out.params += op.params / tp / (op.kind == OpKind::kExperts ? L.ep : 1);
  }
  if (transformer && m.IsTransformer()) {
    double h = static_cast<double>(m.hidden);
    double hq = static_cast<double>(m.heads * m.head_dim);
    double hkv = static_cast<double>(m.kv_heads * m.head_dim);
    if (m.mla) {
      hq = static_cast<double>(m.heads) * (m.mla->qk_nope_head_dim + m.mla->qk_rope_head_dim);
      hkv = hq;
    }
    bool moe = grp.name == "moe_layer" && m.moe;
    // Elementwise traffic not in the op list (activation function, rotary embedding, two
    // residual adds: perf::LayerElementwiseOf) and dropout; backward moves about twice as much.
    perf::LayerElementwise ew = perf::LayerElementwiseOf(m, grp, c.s->moe_capacity_factor);
    double ffn_elems = ew.ffn_elems;  // FFN intermediate activations per token
    double shard_bytes = c.act_elem_bytes * (ffn_elems + ew.rope_elems);
    double repl_bytes = c.act_elem_bytes * (ew.residual_elems + (c.dropout ? 2 * 2.5 * h : 0));
    double elem_bytes = rows_local * (shard_bytes / tp + repl_bytes / repl_div);
    double elem_t = MemSeconds(elem_bytes, c.rates) + 4 * c.rates.eff->kernel_overhead_s;
    out.fwd_s += elem_t;
    out.bwd_s += 2 * elem_t;
    if (L.recompute == Recompute::kFull) out.recompute_s += elem_t;
    if (moe) {
      // Token permutation into and out of expert order (read + write, twice).
      double perm = 4 * c.act_elem_bytes * rows_local / tp * m.moe->top_k * h;
      out.fwd_s += MemSeconds(perm, c.rates);
      out.bwd_s += MemSeconds(perm, c.rates);
    }

    // Host dispatch bound: the GPU cannot run ahead of the framework issuing its kernels.
    double host = c.rates.eff->layer_host_overhead_s;
    if (c.rates.eff->host_overhead_serial) {
      // A CPU dispatches and computes on the same cores: the costs add.
      out.fwd_s += host;
      out.bwd_s += 2 * host;
      if (L.recompute == Recompute::kFull) out.recompute_s += host;
    } else {
      out.fwd_s = std::max(out.fwd_s, host);
      out.bwd_s = std::max(out.bwd_s, 2 * host);
      if (L.recompute == Recompute::kFull) out.recompute_s = std::max(out.recompute_s, host);
    }

    // Activation memory kept for backward (Korthikanti et al. 2022, Sec. 4, generalised to
    // GQA, gated FFNs and MoE; docs/training.md).
    double repl = 8 * h + (c.dropout ? 2 * h : 0) + (m.norms_per_layer > 2 ? 4 * h : 0);
    double shard = 2 * hq + 4 * hkv + 2 * hq + kActBytes * ffn_elems;
    if (moe) shard += 4.0 * m.moe->experts;  // router logits (fp32)
    double scores = 0;
    if (!c.s->flash_attention && L.recompute == Recompute::kNone) {
      scores = (c.dropout ? 5.0 : 2.0) * m.heads * static_cast<double>(c.g->seq_len);
    }
    double per_token = (repl / repl_div + shard / tp + scores / tp) * c.act_elem_bytes / kActBytes;
    if (L.recompute == Recompute::kFull) per_token = 2 * h / repl_div * c.act_elem_bytes / kActBytes;  // only the layer input
    out.act_bytes = rows_local * per_token;

    // Tensor-parallel collectives: two all-reduces (or all-gather + reduce-scatter with sequence
    // parallelism: the same bytes) in forward, two in backward, two more when the forward is
    // recomputed in full (Narayanan et al. 2021, Sec. 3.2; Korthikanti et al. 2022, Sec. 4.2.2).
    if (L.tp > 1) {
      double msg = c.act_elem_bytes * rows_local * h;
      int count = 4 + (L.recompute == Recompute::kFull ? 2 : 0);
      out.tp_comm_s = count * perf::AllReduceTime(msg, c.tp_group);
    }
    // Context parallelism: each attention passes K and V around the ring (forward) and their
    // gradients back (backward), overlapped with the attention blocks it feeds.
    if (L.cp > 1) {
      double kv = c.act_elem_bytes * rows_local * 2 * hkv / tp;
      double ring = (L.cp - 1) * perf::SendTime(kv, c.cp_group.n <= c.cp_group.per_node ? c.cp_group.intra : c.cp_group.inter);
      double exposed_fwd = std::max(0.0, ring - attn_fwd_s);
      double exposed_bwd = std::max(0.0, 2 * ring - kAttentionBackwardFactor * attn_fwd_s);
      out.cp_comm_s = exposed_fwd + exposed_bwd + (L.recompute != Recompute::kNone ? exposed_fwd : 0);
    }
    // Expert parallelism: dispatch and combine all-to-all in forward and backward.
    if (moe && L.ep > 1) {
      double msg = c.act_elem_bytes * rows_local / (L.seq_parallel ? tp : 1.0) * m.moe->top_k * h * c.s->moe_capacity_factor;
      int count = 4 + (L.recompute == Recompute::kFull ? 2 : 0);
      out.ep_comm_s = count * perf::AllToAllTime(msg, c.ep_group);
    }
  }
  return out;
}

}  // namespace

Link IntraLink(const SystemSpec& sys, const EfficiencyProfile& eff) {
  bool pcie = sys.intra.id.rfind("pcie", 0) == 0;
  double bw = sys.gpu.intra_bandwidth_gb_s > 0 ? sys.gpu.intra_bandwidth_gb_s : sys.intra.bandwidth_gb_s;
  double frac = pcie ? eff.pcie_fraction : eff.intra_node_fraction;
  return Link{std::max(bw, 1.0) * kGB * frac, sys.intra.latency_us * 1e-6};
}

Link InterLink(const SystemSpec& sys, const EfficiencyProfile& eff) {
  // One GPU's share of the node's network.
  double node_bytes_s = sys.inter_node_gbps / 8.0 * kGB;
  double per_gpu = node_bytes_s / std::max(1, sys.gpus_per_node);
  return Link{std::max(per_gpu, 1e6) * eff.inter_node_fraction, sys.inter_node_latency_s};
}

namespace {

// A parallel dimension of size `n` whose ranks are `stride` apart (inner dimensions first:
// tp, cp, then dp/ep, then pp, as Megatron-LM orders them).
GroupPlacement Place(int64_t n, int64_t stride, const SystemSpec& sys, const Link& intra, const Link& inter) {
  GroupPlacement g;
  g.n = n;
  int64_t gpn = std::max(1, sys.gpus_per_node);
  g.per_node = stride >= gpn ? 1 : std::max<int64_t>(1, std::min<int64_t>(n, gpn / stride));
  g.intra = intra;
  g.inter = inter;
  return g;
}

double OptimizerStateBytes(Optimizer o, Dtype precision) {
  bool fp32 = precision == Dtype::kFp32 || precision == Dtype::kTf32;
  switch (o) {
    case Optimizer::kAdamW: return fp32 ? 8 : 12;     // (fp32 master +) m + v
    case Optimizer::kSgd: return fp32 ? 4 : 8;        // (fp32 master +) momentum
    // Adafactor keeps factored second moments (one value per row and column; Shazeer & Stern
    // 2018, Sec. 3): a small fraction of a byte per parameter, taken as 0.1.
    case Optimizer::kAdafactor: return fp32 ? 0.1 : 4.1;
    case Optimizer::kAdam8bit: return fp32 ? 2 : 6;   // 8-bit m and v (Dettmers et al. 2022)
  }
  return 12;
}

// Bytes read and written per parameter by one optimizer step (fused kernels).
double OptimizerTrafficBytes(Optimizer o) {
  switch (o) {
    // Counted from the tensors each fused update reads and writes, plus the 4-byte gradient-norm read:
    case Optimizer::kAdamW: return 34;     // read p32, g32, m, v (16); write p32, m, v (12), p16 (2)
    case Optimizer::kSgd: return 26;       // read p32, g32, momentum (12); write p32, momentum (8), p16 (2)
    case Optimizer::kAdafactor: return 18; // read p32, g32 (8); write p32 (4), p16 (2); factors ~0
    case Optimizer::kAdam8bit: return 22;  // read p32, g32, m8, v8 (10); write p32, m8, v8 (6), p16 (2)
  }
  return 34;
}

Status CheckDivides(int64_t a, int64_t b, const std::string& what) {
  if (a <= 0 || b % a != 0) return InvalidInput(what);
  return Status::Ok();
}

}  // namespace

const char* RecomputeName(Recompute r) {
  switch (r) {
    case Recompute::kNone: return "none";
    case Recompute::kSelective: return "selective";
    case Recompute::kFull: return "full";
  }
  return "none";
}
const char* OptimizerName(Optimizer o) {
  switch (o) {
    case Optimizer::kAdamW: return "adamw";
    case Optimizer::kSgd: return "sgd";
    case Optimizer::kAdafactor: return "adafactor";
    case Optimizer::kAdam8bit: return "adam8bit";
  }
  return "adamw";
}
const char* FinetuneName(Finetune f) {
  switch (f) {
    case Finetune::kNone: return "none";
    case Finetune::kFull: return "full";
    case Finetune::kLora: return "lora";
    case Finetune::kQlora: return "qlora";
  }
  return "none";
}
Result<Recompute> ParseRecompute(const std::string& s) {
  std::string t = ToLower(s);
  if (t == "none" || t == "off") return Recompute::kNone;
  if (t == "selective") return Recompute::kSelective;
  if (t == "full") return Recompute::kFull;
  return InvalidInput(fmt::format("--recompute: unknown value '{}' (none, selective, full)", s));
}
Result<Optimizer> ParseOptimizer(const std::string& s) {
  std::string t = ToLower(s);
  if (t == "adamw" || t == "adam") return Optimizer::kAdamW;
  if (t == "sgd") return Optimizer::kSgd;
  if (t == "adafactor") return Optimizer::kAdafactor;
  if (t == "adam8bit" || t == "adamw8bit" || t == "8bit-adam") return Optimizer::kAdam8bit;
  return InvalidInput(fmt::format("--optimizer: unknown optimizer '{}' (adamw, sgd, adafactor, adam8bit)", s));
}
Result<Finetune> ParseFinetune(const std::string& s) {
  std::string t = ToLower(s);
  if (t == "none" || t == "pretrain") return Finetune::kNone;
  if (t == "full") return Finetune::kFull;
  if (t == "lora") return Finetune::kLora;
  if (t == "qlora") return Finetune::kQlora;
  return InvalidInput(fmt::format("--finetune: unknown method '{}' (full, lora, qlora)", s));
}

double EfficiencyCurve::At(double v) const {
  if (x.empty()) return 0;
  if (v <= x.front()) return y.front();
  if (v >= x.back()) return y.back();
  size_t i = static_cast<size_t>(std::upper_bound(x.begin(), x.end(), v) - x.begin());
  double a = std::log(x[i - 1]), b = std::log(x[i]);
  double w = b > a ? (std::log(v) - a) / (b - a) : 0.0;
  return y[i - 1] + w * (y[i] - y[i - 1]);
}

double GemmIntensity(double m, double k, double n) {
  double moved = m * k + k * n + m * n;
  return moved > 0 ? 2.0 * m * k * n / moved : 0.0;
}

Result<EfficiencyCurve> ParseCurveJson(const nlohmann::json& c, const std::string& where, const char* x_key,
                                       const char* y_key, double y_max) {
  if (!c.is_object() || !c.contains(x_key) || !c.contains(y_key) || !c[x_key].is_array() || !c[y_key].is_array()) {
    return InvalidInput(fmt::format("{}: needs arrays '{}' and '{}'", where, x_key, y_key));
  }
  EfficiencyCurve curve;
  const nlohmann::json& xs = c[x_key];
  const nlohmann::json& ys = c[y_key];
  if (xs.empty() || xs.size() != ys.size() || xs.size() > 1000) {
    return InvalidInput(fmt::format("{}: '{}' and '{}' must have the same length, 1 to 1000", where, x_key, y_key));
  }
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].is_number() || !ys[i].is_number()) return InvalidInput(where + ": points must be numbers");
    double x = xs[i].get<double>(), y = ys[i].get<double>();
    if (!std::isfinite(x) || x <= 0 || (i > 0 && x <= curve.x.back())) {
      return InvalidInput(fmt::format("{}: '{}' must be positive and strictly ascending", where, x_key));
    }
    if (!std::isfinite(y) || y <= 0 || y > y_max) {
      return InvalidInput(fmt::format("{}: '{}' values must be in (0, {:g}]", where, y_key, y_max));
    }
    curve.x.push_back(x);
    curve.y.push_back(y);
  }
  return curve;
}

namespace {

// The fields `dlcost calibrate` adds to a profile (docs/measure.md, "Profile format").
Status LoadCalibratedFields(const nlohmann::json& j, const std::string& path, EfficiencyProfile& e) {
  JsonFields f(j, path);
  if (f.Has("gemm_efficiency_curve")) {
    const nlohmann::json& curves = j.at("gemm_efficiency_curve");
    if (!curves.is_object()) return InvalidInput(fmt::format("{}: gemm_efficiency_curve must be an object", path));
    for (const auto& [key, c] : curves.items()) {
      std::string where = fmt::format("{}: gemm_efficiency_curve.{}", path, key);
      DLCOST_ASSIGN_OR_RETURN(Dtype d, ParseDtype(key, where));
      DLCOST_ASSIGN_OR_RETURN(EfficiencyCurve curve, ParseCurveJson(c, where, "flops_per_element", "fraction", 1.0));
      e.gemm_curve[static_cast<int>(d)] = std::move(curve);
    }
  }
  DLCOST_ASSIGN_OR_RETURN(e.host_overhead_serial, f.OptBool("host_overhead_serial", e.host_overhead_serial));
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> step, f.OptNumber("step_overhead_s"));
  if (step) {
    if (*step < 0 || *step > 10) return InvalidInput(path + ": field 'step_overhead_s' must be between 0 and 10 s");
    e.step_overhead_s = *step;
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> adamw, f.OptNumber("adamw_bytes_per_param"));
  if (adamw) {
    if (*adamw <= 0 || *adamw > 10000) {
      return InvalidInput(path + ": field 'adamw_bytes_per_param' must be in (0, 10000]");
    }
    e.adamw_bytes_per_param = *adamw;
  }
  if (f.Has("adamw_bytes_per_param_curve")) {
    DLCOST_ASSIGN_OR_RETURN(e.adamw_bytes_curve,
                            ParseCurveJson(j.at("adamw_bytes_per_param_curve"), path + ": adamw_bytes_per_param_curve",
                                           "params", "bytes_per_param", 10000));
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> attn, f.OptNumber("attention_time_factor"));
  if (attn) {
    if (!(*attn >= 0.1) || *attn > 10) {
      return InvalidInput(path + ": field 'attention_time_factor' must be between 0.1 and 10");
    }
    e.attention_time_factor = *attn;
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> loss, f.OptNumber("loss_memory_fraction"));
  if (loss) {
    if (!(*loss > 0) || *loss > 1) return InvalidInput(path + ": field 'loss_memory_fraction' must be in (0, 1]");
    e.loss_memory_fraction = *loss;
  }
  return Status::Ok();
}

}  // namespace

Result<EfficiencyProfile> LoadEfficiency(const std::string& path, const std::string& gpu_id) {
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(path));
  if (!j.is_object()) return InvalidInput(fmt::format("{}: expected a JSON object", path));
  EfficiencyProfile e;
  JsonFields f(j, path);
  e.id = f.OptString("id").value_or(path);
  struct Key {
    const char* name;
    double* dst;
  };
  auto apply = [&](const JsonFields& src) -> Status {
    Key keys[] = {{"gemm_max_fraction", &e.gemm_max_fraction},
                  {"gemm_max_fraction_fp8", &e.gemm_max_fraction_fp8},
                  {"attention_max_fraction", &e.attention_max_fraction},
                  {"memory_fraction", &e.memory_fraction},
                  {"kernel_overhead_s", &e.kernel_overhead_s},
                  {"intra_node_fraction", &e.intra_node_fraction},
                  {"inter_node_fraction", &e.inter_node_fraction},
                  {"pcie_fraction", &e.pcie_fraction},
                  {"layer_host_overhead_s", &e.layer_host_overhead_s}};
    for (const Key& k : keys) {
      DLCOST_ASSIGN_OR_RETURN(std::optional<double> v, src.OptNumber(k.name));
      if (!v) continue;
      bool seconds = std::string(k.name) == "kernel_overhead_s" || std::string(k.name) == "layer_host_overhead_s";
      if (!seconds && (*v <= 0 || *v > 1)) {
        return InvalidInput(fmt::format("{}: field '{}' must be in (0, 1]", src.where(), k.name));
      }
      if (seconds && (*v < 0 || *v > 1e-1)) {
        return InvalidInput(fmt::format("{}: field '{}' must be between 0 and 0.1 s", src.where(), k.name));
      }
      *k.dst = *v;
    }
    return Status::Ok();
  };
  DLCOST_RETURN_IF_ERROR(apply(f));
  DLCOST_RETURN_IF_ERROR(LoadCalibratedFields(j, path, e));
  if (f.Has("per_gpu") && j["per_gpu"].is_object() && j["per_gpu"].contains(gpu_id)) {
    DLCOST_RETURN_IF_ERROR(apply(JsonFields(j["per_gpu"][gpu_id], path + ": per_gpu." + gpu_id)));
  }
  return e;
}

Result<SystemSpec> MakeSystem(const HardwareCatalog& hw, const Accelerator& gpu, int gpus_per_node,
                              double inter_node_gbps) {
  SystemSpec s;
  s.gpu = gpu;
  if (gpus_per_node < 0 || gpus_per_node > 4096) return InvalidInput("--gpus-per-node: must be between 1 and 4096");
  s.gpus_per_node = gpus_per_node > 0 ? gpus_per_node : std::max(1, gpu.node_size);
  if (!gpu.intra_network.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.intra, hw.ResolveNetwork(gpu.intra_network));
  } else {
    s.intra = Network{"none", "none", "intra_node", 0, 0, {}, "", ""};
  }
  if (inter_node_gbps < 0 || !std::isfinite(inter_node_gbps)) return InvalidInput("--internode-gbps: must be positive");
  if (inter_node_gbps > 0) {
    s.inter_node_gbps = inter_node_gbps;
  } else if (!gpu.inter_network.empty()) {
    DLCOST_ASSIGN_OR_RETURN(Network n, hw.ResolveNetwork(gpu.inter_network));
    s.inter_node_gbps = n.bandwidth_gb_s * 8.0 * std::max(1, gpu.nics_per_node);
    s.inter_node_latency_s = std::max(n.latency_us, 1.0) * 1e-6;
  } else {
    s.inter_node_gbps = 100;  // a single 100 Gb/s Ethernet port when the catalog names none
  }
  return s;
}

Result<TrainingEvaluator> TrainingEvaluator::Create(const ModelSpec& model, const SystemSpec& sys,
                                                    const TrainingSetup& s, const EfficiencyProfile& eff) {
  TrainingEvaluator t;
  t.model_ = model;
  t.sys_ = sys;
  t.setup_ = s;
  t.eff_ = eff;
  if ((s.precision == Dtype::kFp8 || s.precision == Dtype::kFp4) && eff.gemm_max_fraction_fp8 > 0) {
    t.eff_.gemm_max_fraction = eff.gemm_max_fraction_fp8;
  }
  t.gemm_curve_ = eff.gemm_curve[static_cast<int>(s.precision)];
  if (t.gemm_curve_.empty() && s.precision == Dtype::kTf32) t.gemm_curve_ = eff.gemm_curve[static_cast<int>(Dtype::kFp32)];
  DLCOST_ASSIGN_OR_RETURN(t.graph_, perf::BuildOpGraph(model, model.IsLanguageModel() ? s.seq_len : 0));
  Dtype prec = s.precision;
  std::optional<double> peak = sys.gpu.PeakFlops(prec);
  if (!peak && prec == Dtype::kBf16) peak = sys.gpu.PeakFlops(Dtype::kFp16);
  if (!peak && prec == Dtype::kFp32) peak = sys.gpu.PeakFlops(Dtype::kTf32);
  if (!peak && (prec == Dtype::kFp32 || prec == Dtype::kTf32)) peak = sys.gpu.PeakFlops(Dtype::kFp32);
  if (!peak) {
    return InvalidInput(fmt::format("--precision: {} has no {} mode in the catalog", sys.gpu.id, DtypeName(prec)));
  }
  t.peak_ = *peak;
  // FP8 training (Transformer Engine recipes) runs the GEMMs in FP8 but keeps attention in
  // BF16/FP16 (NVIDIA Transformer Engine documentation, FP8 primer).
  t.attention_peak_ = *peak;
  if (prec == Dtype::kFp8 || prec == Dtype::kFp4) {
    t.attention_peak_ = sys.gpu.PeakFlops(Dtype::kBf16).value_or(sys.gpu.PeakFlops(Dtype::kFp16).value_or(*peak));
  }
  t.bandwidth_ = sys.gpu.memory_bandwidth_gb_s * kGB;
  t.causal_ = model.kind == ModelKind::kDecoder;
  t.dropout_ = s.dropout.value_or(model.ffn_act == FfnAct::kGelu && model.kind == ModelKind::kDecoder);
  t.frozen_base_ = s.finetune == Finetune::kLora || s.finetune == Finetune::kQlora;
  // QLoRA: 4-bit NormalFloat weights plus double-quantised constants, 4.127 bits per parameter
  // (Dettmers et al. 2023, "QLoRA", Sec. 3) = 0.516 bytes.
  t.weight_bytes_ = s.finetune == Finetune::kQlora ? 0.516 : (prec == Dtype::kFp32 || prec == Dtype::kTf32 ? 4 : 2);
  t.act_bytes_ = prec == Dtype::kFp32 || prec == Dtype::kTf32 ? 4 : kActBytes;
  t.intra_ = IntraLink(sys, eff);
  t.inter_ = InterLink(sys, eff);
  // LoRA adapters of rank r on every attention and MLP projection: r (k + n) each.
  for (const perf::LayerGroup& grp : t.graph_.groups) {
    if (!IsTransformerLayer(grp.name)) continue;
    for (const Op& op : grp.ops) {
      if (op.kind == OpKind::kGemm) t.lora_params_ += grp.count * static_cast<double>(s.lora_rank) * (op.gemm_k + op.gemm_n);
    }
  }
  t.fwd_flops_per_unit_ = t.graph_.FwdFlopsPerUnit();
  return t;
}

Result<Layout> TrainingEvaluator::ResolveLayout(const TrainingSetup& s) const {
  const ModelSpec& model = model_;
  const perf::OpGraph& graph = graph_;
  if (s.num_gpus < 1) return InvalidInput("--gpus: must be at least 1");
  Layout L;
  L.tp = s.tp.value_or(1);
  L.pp = s.pp.value_or(1);
  L.cp = s.cp.value_or(1);
  L.ep = s.ep.value_or(1);
  L.vpp = s.vpp.value_or(1);
  L.zero = s.zero.value_or(0);
  L.recompute = s.recompute.value_or(Recompute::kNone);
  L.micro_batch = s.micro_batch.value_or(1);
  struct Degree {
    const char* flag;
    int64_t value;
  };
  for (Degree d : {Degree{"--tp", L.tp}, Degree{"--pp", L.pp}, Degree{"--cp", L.cp}, Degree{"--ep", L.ep},
                   Degree{"--vpp", L.vpp}, Degree{"--micro-batch", L.micro_batch}}) {
    if (d.value < 1) return InvalidInput(fmt::format("{}: must be at least 1", d.flag));
    if (d.flag != std::string("--vpp") && d.flag != std::string("--micro-batch") && d.value > s.num_gpus) {
      return InvalidInput(fmt::format("{}: {} is larger than --gpus {}", d.flag, d.value, s.num_gpus));
    }
  }
  if (L.vpp > 1 && L.pp == 1) return InvalidInput("--vpp: interleaving needs pipeline parallelism (pp > 1)");
  int64_t mp = L.tp * L.pp * L.cp;
  if (s.num_gpus % mp != 0) {
    return InvalidInput(fmt::format("--gpus: {} GPUs is not a multiple of tp x pp x cp = {}", s.num_gpus, mp));
  }
  L.dp = s.dp.value_or(s.num_gpus / mp);
  if (L.tp * L.pp * L.cp * L.dp != s.num_gpus) {
    return InvalidInput(fmt::format("--dp: tp x pp x cp x dp = {} x {} x {} x {} does not equal --gpus {}", L.tp, L.pp,
                                    L.cp, L.dp, s.num_gpus));
  }
  L.seq_parallel = s.seq_parallel.value_or(L.tp > 1);
  if (model.IsTransformer()) {
    DLCOST_RETURN_IF_ERROR(CheckDivides(L.tp, model.heads,
        fmt::format("--tp: {} does not divide the {} attention heads of {}", L.tp, model.heads, model.id)));
    if (model.kv_heads % L.tp != 0 && L.tp % model.kv_heads != 0) {
      return InvalidInput(fmt::format("--tp: {} and the {} key/value heads of {} do not divide one another", L.tp,
                                      model.kv_heads, model.id));
    }
    DLCOST_RETURN_IF_ERROR(CheckDivides(L.pp * L.vpp, model.layers,
        fmt::format("--pp: pp x vpp = {} does not divide the {} layers of {}", L.pp * L.vpp, model.layers, model.id)));
  } else if (L.tp > 1 || L.pp > 1 || L.cp > 1) {
    return InvalidInput(fmt::format("--tp/--pp/--cp: {} is a {} model; only data parallelism is modelled for it",
                                    model.id, ModelKindName(model.kind)));
  }
  if (L.cp > 1 && s.seq_len % L.cp != 0) {
    return InvalidInput(fmt::format("--cp: {} does not divide --seq {}", L.cp, s.seq_len));
  }
  if (L.ep > 1) {
    if (!model.moe) return InvalidInput(fmt::format("--ep: {} has no experts", model.id));
    DLCOST_RETURN_IF_ERROR(CheckDivides(L.ep, model.moe->experts,
        fmt::format("--ep: {} does not divide the {} experts", L.ep, model.moe->experts)));
    DLCOST_RETURN_IF_ERROR(CheckDivides(L.ep, L.dp, fmt::format("--ep: {} does not divide dp = {}", L.ep, L.dp)));
  }
  if (L.zero < 0 || L.zero > 3) return InvalidInput("--zero: must be 0, 1, 2 or 3");
  // DeepSpeed's pipeline engine supports ZeRO stage 0 or 1 only, and Megatron-LM's distributed
  // optimizer is stage 1 (DeepSpeed documentation, "Pipeline Parallelism").
  if (L.zero >= 2 && L.pp > 1) {
    return InvalidInput(fmt::format("--zero: stage {} cannot be combined with pipeline parallelism (pp = {}); use 0 or 1",
                                    L.zero, L.pp));
  }
  if (s.global_batch) {
    L.global_batch = *s.global_batch;
  } else {
    double per = static_cast<double>(graph.tokens_per_sample);
    L.global_batch = DefaultGlobalBatch(model.IsLanguageModel(), per, L.dp * L.micro_batch);
  }
  if (L.global_batch % (L.dp * L.micro_batch) != 0) {
    return InvalidInput(fmt::format("--global-batch: {} is not divisible by dp x micro-batch = {} x {}",
                                    L.global_batch, L.dp, L.micro_batch));
  }
  L.microbatches = L.global_batch / (L.dp * L.micro_batch);
  if (L.vpp > 1 && L.microbatches % L.pp != 0) {
    return InvalidInput(fmt::format("--vpp: interleaving needs the {} micro-batches per step to be a multiple of pp = {}",
                                    L.microbatches, L.pp));
  }

  return L;
}

void TrainingEvaluator::Evaluate(const Layout& L, TrainingEstimate* out) const {
  const ModelSpec& model = model_;
  const perf::OpGraph& graph = graph_;
  const TrainingSetup& s = setup_;
  TrainingEstimate& e = *out;
  e.layout = L;
  Ctx c;
  c.m = &model;
  c.g = &graph;
  c.sys = &sys_;
  c.s = &s;
  c.L = &L;
  c.rates = Rates{peak_, attention_peak_, bandwidth_, &eff_, gemm_curve_.empty() ? nullptr : &gemm_curve_};
  e.peak_flops = peak_;
  c.causal = causal_;
  c.dropout = dropout_;
  c.frozen_base = frozen_base_;
  c.weight_bytes = weight_bytes_;
  c.act_elem_bytes = act_bytes_;
  const Link& intra = intra_;
  const Link& inter = inter_;
  c.tp_group = Place(L.tp, 1, sys_, intra, inter);
  c.cp_group = Place(L.cp, L.tp, sys_, intra, inter);
  c.ep_group = Place(L.ep, L.tp * L.cp, sys_, intra, inter);
  c.dp_group = Place(L.dp, L.tp * L.cp, sys_, intra, inter);
  c.pp_group = Place(L.pp, L.tp * L.cp * L.dp, sys_, intra, inter);

  // Cost each group once. Transformer groups fill layers in order; other groups sit on the
  // first stage (before the layers) or the last (after them).
  constexpr size_t kMaxGroups = 16;
  std::array<LayerCost, kMaxGroups> cost{};
  std::array<int64_t, kMaxGroups> first_layer{};
  std::array<int, kMaxGroups> place{};  // 0 first stage, 1 layers, 2 last stage
  size_t ng = std::min(graph.groups.size(), kMaxGroups);
  int64_t layer_index = 0;
  double logits_bytes = 0, logits_t = 0;
  for (size_t gi = 0; gi < ng; ++gi) {
    const perf::LayerGroup& grp = graph.groups[gi];
    cost[gi] = CostGroup(c, grp);
    bool repeated = IsTransformerLayer(grp.name) && model.IsTransformer();
    place[gi] = repeated ? 1 : (layer_index == 0 ? 0 : 2);
    if (grp.name == "head" || grp.name == "final_layer" || grp.name == "output") place[gi] = 2;
    first_layer[gi] = layer_index;
    if (repeated) layer_index += grp.count;
    if (grp.name == "head" && model.IsLanguageModel()) {
      // Cross-entropy over the vocabulary: fp32 logits kept for backward (4 bytes) and read,
      // written and read again by the fused softmax/loss (Korthikanti et al. 2022: 4sbv/t).
      double rows = static_cast<double>(L.micro_batch) * graph.tokens_per_sample / L.cp;
      logits_bytes = 4.0 * rows * model.vocab / L.tp;
      logits_t = LossSeconds(3 * logits_bytes, c.rates);
    }
  }
  int64_t layers = layer_index;
  int64_t per_stage = model.IsTransformer() ? std::max<int64_t>(1, layers / L.pp) : std::max<int64_t>(1, layers);

  // Pipeline: 1F1B (interleaved when vpp > 1). Narayanan et al. 2021, Sec. 2.2: bubble fraction
  // (pp - 1) / (m x vpp) of the ideal time.
  double m = static_cast<double>(L.microbatches);
  double pp_p2p = 0;
  if (L.pp > 1) {
    double rows = static_cast<double>(L.micro_batch) * graph.tokens_per_sample / L.cp;
    double msg = c.act_elem_bytes * rows * model.hidden / (L.seq_parallel ? L.tp : 1);
    // The slowest hop sets the pace: a pipeline spanning nodes crosses the network.
    const Link& link = c.pp_group.n <= c.pp_group.per_node ? intra : inter;
    pp_p2p = 2 * perf::SendTime(msg, link) * L.vpp;  // activation forward + gradient backward per chunk
  }
  LayerCost worst{};
  double max_stage = -1, sum_stage = 0, max_params = 0, first_act = 0, last_act = 0;
  double recompute_flops = 0, stage_fwd_flops = 0;
  for (int64_t st = 0; st < L.pp; ++st) {
    LayerCost k{};
    double params = 0, act = 0;
    int64_t lo = st * per_stage, hi = st == L.pp - 1 ? layers : lo + per_stage;
    for (size_t gi = 0; gi < ng; ++gi) {
      double n;
      if (place[gi] == 1) {
        int64_t a = std::max(lo, first_layer[gi]);
        int64_t b = std::min(hi, first_layer[gi] + graph.groups[gi].count);
        n = static_cast<double>(std::max<int64_t>(0, b - a));
      } else {
        n = (place[gi] == 0 && st == 0) || (place[gi] == 2 && st == L.pp - 1) ? 1.0 : 0.0;
      }
      if (n == 0) continue;
      const LayerCost& g = cost[gi];
      k.fwd_s += n * g.fwd_s;
      k.bwd_s += n * g.bwd_s;
      k.recompute_s += n * g.recompute_s;
      k.attention_s += n * g.attention_s;
      k.fwd_flops += n * g.fwd_flops;
      k.recompute_flops += n * g.recompute_flops;
      k.tp_comm_s += n * g.tp_comm_s;
      k.cp_comm_s += n * g.cp_comm_s;
      k.ep_comm_s += n * g.ep_comm_s;
      params += n * g.params;
      act += n * g.act_bytes;
    }
    if (st == L.pp - 1) {
      k.fwd_s += logits_t;
      k.bwd_s += logits_t;
    }
    double t = k.fwd_s + k.bwd_s + k.recompute_s + k.tp_comm_s + k.cp_comm_s + k.ep_comm_s + pp_p2p;
    sum_stage += t;
    if (t > max_stage) {
      max_stage = t;
      worst = k;
    }
    max_params = std::max(max_params, params);
    if (st == 0) first_act = act;
    if (st == L.pp - 1) last_act = act;
    recompute_flops += k.recompute_flops;
    stage_fwd_flops += k.fwd_flops;
  }
  const LayerCost& W = worst;
  e.time_compute_s = m * (W.fwd_s + W.bwd_s + W.recompute_s);
  e.time_recompute_s = m * W.recompute_s;
  e.time_attention_s = m * W.attention_s;
  e.time_comm_tp_s = m * W.tp_comm_s;
  e.time_comm_cp_s = m * W.cp_comm_s;
  e.time_comm_ep_s = m * W.ep_comm_s;
  e.time_comm_pp_s = m * pp_p2p;
  e.time_bubble_s = L.pp > 1 ? (L.pp - 1) / static_cast<double>(L.vpp) * (sum_stage / L.pp) : 0;

  // Data-parallel traffic at the end of the step: gradient all-reduce (ZeRO 0), or
  // reduce-scatter of gradients plus all-gather of updated weights (ZeRO 1/2/3); ZeRO-3 also
  // gathers weights for every micro-batch's forward and backward, prefetched under compute.
  double local_params = max_params;
  double trained_params = frozen_base_ ? lora_params_ / static_cast<double>(L.tp * L.pp) : local_params;
  double dp_time = 0;
  if (L.dp > 1) {
    if (L.zero == 0) {
      dp_time = perf::AllReduceTime(trained_params * s.grad_bytes, c.dp_group);
    } else {
      dp_time = perf::ReduceScatterTime(trained_params * s.grad_bytes, c.dp_group) +
                perf::ReduceScatterTime(trained_params * c.weight_bytes, c.dp_group);
    }
  }
  double overlap_window = W.bwd_s;  // bucketed reduction overlaps the last micro-batch's backward
  e.time_comm_dp_s = std::max(0.0, dp_time - overlap_window);
  if (L.zero == 3 && L.dp > 1) {
    double gather = 2 * perf::ReduceScatterTime(local_params * c.weight_bytes, c.dp_group);
    e.time_comm_dp_s += m * std::max(0.0, gather - (W.fwd_s + W.bwd_s));
  }
  double opt_params = trained_params / (L.zero >= 1 ? L.dp : 1);
  double opt_traffic = OptimizerTrafficBytes(s.optimizer);
  if (s.optimizer == Optimizer::kAdamW && !eff_.adamw_bytes_curve.empty()) {
    opt_traffic = eff_.adamw_bytes_curve.At(std::max(opt_params, 1.0));
  } else if (s.optimizer == Optimizer::kAdamW && eff_.adamw_bytes_per_param > 0) {
    opt_traffic = eff_.adamw_bytes_per_param;
  }
  e.time_optimizer_s = MemSeconds(opt_params * opt_traffic, c.rates);
  e.time_step_overhead_s = eff_.step_overhead_s;
  e.time_step_s = e.time_compute_s + e.time_comm_tp_s + e.time_comm_cp_s + e.time_comm_ep_s + e.time_comm_pp_s +
                  e.time_bubble_s + e.time_comm_dp_s + e.time_optimizer_s + e.time_step_overhead_s;

  // FLOPs and rates.
  double units_per_step = static_cast<double>(L.global_batch) * (graph.unit == "token" ? graph.tokens_per_sample : 1);
  e.tokens_per_step = units_per_step;
  double fwd = fwd_flops_per_unit_ * units_per_step;
  // Frozen (LoRA/QLoRA) bases compute input gradients but no weight gradients: 2 x forward,
  // plus the adapters' own 6 FLOPs per trained parameter and token.
  e.model_flops_per_step = frozen_base_ ? 2 * fwd + 6 * lora_params_ * units_per_step : 3 * fwd;
  e.hardware_flops_per_step = e.model_flops_per_step + (stage_fwd_flops > 0 ? fwd * recompute_flops / stage_fwd_flops : 0);
  double n = static_cast<double>(L.tp * L.pp * L.cp * L.dp);
  e.tflops_per_gpu_model = e.model_flops_per_step / e.time_step_s / n / kTera;
  e.tflops_per_gpu_hardware = e.hardware_flops_per_step / e.time_step_s / n / kTera;
  e.mfu = e.model_flops_per_step / e.time_step_s / n / e.peak_flops;
  e.hfu = e.hardware_flops_per_step / e.time_step_s / n / e.peak_flops;
  e.tokens_per_s = units_per_step / e.time_step_s;
  // Memory on the most-loaded GPU.
  double weights = local_params * c.weight_bytes;
  double grads = trained_params * s.grad_bytes;
  double opt = trained_params * OptimizerStateBytes(s.optimizer, s.precision);
  if (c.frozen_base) weights += trained_params * 2;  // adapters in bf16
  if (L.zero >= 1) opt /= L.dp;
  if (L.zero >= 2) grads /= L.dp;
  if (L.zero >= 3) weights /= L.dp;
  double in_flight = std::min<double>(L.pp, m);
  if (L.vpp > 1) in_flight *= 1.0 + (L.pp - 1.0) / (L.pp * L.vpp);
  double act_first = first_act * in_flight;
  double act_last = last_act + logits_bytes;
  double act = std::max(act_first, act_last);
  if (L.recompute == Recompute::kFull) {
    // Re-running one layer's forward materialises its full activations once more.
    Layout full = L;
    full.recompute = Recompute::kNone;
    Ctx c2 = c;
    c2.L = &full;
    for (size_t gi = 0; gi < ng; ++gi) {
      if (place[gi] == 1) {
        act += CostGroup(c2, graph.groups[gi]).act_bytes;
        break;
      }
    }
  }
  e.memory_weights_bytes = weights;
  e.memory_grads_bytes = grads;
  e.memory_optimizer_bytes = opt;
  e.memory_activations_bytes = act;
  e.memory_overhead_bytes = s.overhead_bytes < 0 ? kDefaultOverheadBytes : s.overhead_bytes;
  e.memory_total_bytes = weights + grads + opt + act + e.memory_overhead_bytes;
  e.memory_capacity_bytes = sys_.gpu.MemoryBytes();
  e.fits = e.memory_total_bytes <= e.memory_capacity_bytes;
}

void AddTrainingAssumptions(const ModelSpec& model, const TrainingSetup& s, const EfficiencyProfile& eff,
                            TrainingEstimate& e) {
  Dtype prec = s.precision;
  bool dropout = s.dropout.value_or(model.ffn_act == FfnAct::kGelu && model.kind == ModelKind::kDecoder);
  e.assumptions.push_back(fmt::format("efficiency profile '{}': GEMM {:.0f}%, attention {:.0f}%, memory {:.0f}% of peak",
                                      eff.id, 100 * eff.gemm_max_fraction, 100 * eff.attention_max_fraction,
                                      100 * eff.memory_fraction));
  if (!eff.gemm_curve[static_cast<int>(prec)].empty()) {
    e.assumptions.push_back(fmt::format("GEMM efficiency from the calibrated {} curve of profile '{}' (by arithmetic "
                                        "intensity); memory-bound work at {:.0f}% of the device bandwidth",
                                        DtypeName(prec), eff.id, 100 * eff.memory_fraction));
  }
  e.assumptions.push_back(fmt::format("dropout {}; {} attention; {}", dropout ? "on" : "off",
                                      s.flash_attention ? "fused (flash)" : "unfused",
                                      model.kind == ModelKind::kDecoder && s.flash_attention
                                          ? "masked causal blocks skipped (half the attention work)"
                                          : "full score matrix computed"));
  e.assumptions.push_back(fmt::format("gradients {} bytes/param, optimizer {} ({} bytes/param of state)", s.grad_bytes,
                                      OptimizerName(s.optimizer), OptimizerStateBytes(s.optimizer, prec)));
  e.assumptions.push_back("tensor-parallel collectives are not overlapped with compute; data-parallel reduction "
                          "overlaps the last micro-batch's backward pass");
}


Result<TrainingEstimate> EstimateTraining(const ModelSpec& model, const SystemSpec& sys, const TrainingSetup& s,
                                          const EfficiencyProfile& eff) {
  DLCOST_ASSIGN_OR_RETURN(TrainingEvaluator ev, TrainingEvaluator::Create(model, sys, s, eff));
  DLCOST_ASSIGN_OR_RETURN(Layout L, ev.ResolveLayout(s));
  TrainingEstimate e;
  ev.Evaluate(L, &e);
  AddTrainingAssumptions(model, s, eff, e);
  return e;
}

int64_t DefaultGlobalBatch(bool language_model, double tokens_per_sample, int64_t unit) {
  unit = std::max<int64_t>(1, unit);
  double target = language_model ? kDefaultBatchTokens / std::max(1.0, tokens_per_sample) : 256.0;
  return std::max<int64_t>(unit, static_cast<int64_t>(std::llround(target / static_cast<double>(unit))) * unit);
}

Result<RunCost> ComputeRunCost(const TrainingEstimate& e, int64_t num_gpus, double tdp_w, const RunInputs& in) {
  RunCost r;
  if (in.goodput <= 0 || in.goodput > 1 || !std::isfinite(in.goodput)) {
    return InvalidInput("--goodput: must be in (0, 1]");
  }
  if (in.steps) {
    DLCOST_RETURN_IF_ERROR(CheckPositive(*in.steps, "--steps"));
    r.steps = std::ceil(*in.steps);
  } else if (in.tokens) {
    DLCOST_RETURN_IF_ERROR(CheckPositive(*in.tokens, "--tokens"));
    r.steps = std::ceil(*in.tokens / e.tokens_per_step);
  } else {
    return InvalidInput("--tokens or --steps: one of them is required for the whole-run cost");
  }
  r.tokens = r.steps * e.tokens_per_step;
  r.wall_s = r.steps * e.time_step_s / in.goodput;
  r.gpu_hours = r.wall_s * static_cast<double>(num_gpus) / kSecondsPerHour;
  if (in.usd_per_gpu_hour) r.usd = r.gpu_hours * *in.usd_per_gpu_hour;
  double power = in.gpu_power_w > 0 ? in.gpu_power_w : tdp_w;
  r.energy_kwh = r.gpu_hours * (power + in.host_power_w_per_gpu) * in.pue / 1000.0;
  r.co2_kg = r.energy_kwh * in.carbon_g_per_kwh / 1000.0;
  return r;
}

}  // namespace dlcost
