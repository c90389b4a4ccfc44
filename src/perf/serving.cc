// Serving estimator. Equations and sources: docs/serving.md.
#include "dlcost/serving.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
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

namespace fs = std::filesystem;
using perf::Op;
using perf::OpKind;

// GEMM kernels compute whole tiles: from one tile up, the row count is padded to a multiple of
// this many rows (a 64-row M tile for tensor-core GEMMs; a stated dlcost assumption for the
// shape term of the GEMM efficiency curve). Below it, matrix-vector kernels do exact work.
constexpr double kGemmRowTile = 64;
// Activations and communicated activations are kept in 16-bit floats except for GEMM inputs
// quantized to 8 bits.
constexpr double kAct16Bytes = 2.0;
// Logits are produced in fp32 by the serving engines for sampling.
constexpr double kLogitBytes = 4.0;
// Largest sequence count searched for a concurrency.
constexpr int64_t kMaxSearchConcurrency = 1 << 16;

bool IsLayerGroup(const std::string& name) {
  return name.find("layer") != std::string::npos || name.find("block") != std::string::npos;
}

struct Ctx {
  const ModelSpec* m = nullptr;
  perf::OpGraph g;
  SystemSpec sys;
  EfficiencyProfile eff;
  EngineProfile eng;
  double gemm_peak = 0;   // FLOP/s of the GEMM compute type
  double gemm_frac = 0;
  double attn_peak = 0;
  double bw = 0;          // achievable HBM bytes/s
  double kernel_s = 0;
  double w_bits = 16;
  double act_bytes = 2;   // GEMM input bytes
  double kv_elem_bytes = 2;
  int64_t tp = 1, pp = 1, ep = 1;
  bool sparse24 = false;
  double sparse_unstructured = 0;
  bool sparse_kernel = false;
  double moe_imbalance = 1;
  perf::GroupPlacement tp_group, ep_group;
  perf::Link pp_link;
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

double WeightBitsEffective(const Ctx& c, bool linear, bool for_capacity) {
  double bits = c.w_bits;
  if (!linear) return bits;
  if (c.sparse24) return bits / 2 + 1;  // half the values + 2-bit index per kept value
  if (c.sparse_unstructured > 0 && (c.sparse_kernel || for_capacity)) {
    // Bitmap format: one bit per element plus the kept values (Flash-LLM's load-as-sparse).
    return std::min(bits, 1 + (1 - c.sparse_unstructured) * bits);
  }
  return bits;
}

double OpSeconds(const Ctx& c, double flops_exec, double peak, double frac, double bytes, PassCost* pc) {
  double tc = peak > 0 ? flops_exec / (peak * frac) : 0;
  double tm = bytes / c.bw;
  if (tc >= tm) pc->compute_s += tc;
  else pc->memory_s += tm;
  return std::max(tc, tm) + c.kernel_s;
}

PassCost RunPass(const Ctx& c, const Pass& p) {
  PassCost pc;
  const ModelSpec& m = *c.m;
  double tokens = p.Tokens();
  double tp = static_cast<double>(c.tp);
  bool image = c.g.unit == "image";
  for (const perf::LayerGroup& grp : c.g.groups) {
    double layer_s = 0;
    double layer_flops = 0;
    bool layer = IsLayerGroup(grp.name);
    for (const Op& op : grp.ops) {
      switch (op.kind) {
        case OpKind::kGemm:
        case OpKind::kRouter:
        case OpKind::kConv: {
          bool head = grp.name == "head";
          double rows = head && !image ? p.logits_rows * op.gemm_rows : tokens * op.gemm_rows;
          if (rows <= 0) break;
          double shard = op.kind == OpKind::kRouter ? 1 : tp;
          double k = static_cast<double>(op.gemm_k), n = static_cast<double>(op.gemm_n);
          double flops = 2 * rows * k * n / shard;
          // Below one tile the engines switch to matrix-vector kernels, which are memory bound.
          double padded = rows < kGemmRowTile ? rows : std::ceil(rows / kGemmRowTile) * kGemmRowTile;
          double exec = 2 * padded * k * n / shard;
          bool linear = op.kind != OpKind::kRouter;
          if (c.sparse24 && linear) exec /= 2;  // 2:4 sparse tensor cores: twice the math rate
          double bytes = k * n / shard * WeightBitsEffective(c, linear, false) / 8 + rows * (k + n / shard) * c.act_bytes;
          if (head) bytes += rows * n / shard * kLogitBytes;
          layer_s += OpSeconds(c, exec, c.gemm_peak, c.gemm_frac, bytes, &pc);
          layer_flops += flops;
          break;
        }
        case OpKind::kExperts: {
          const MoeSpec& e = *m.moe;
          double E = static_cast<double>(e.experts), K = static_cast<double>(e.top_k);
          double one = op.params / E;
          // Experts touched by `tokens` tokens each picking K of E at random (uniform routing).
          double touched = E * (1 - std::pow(1 - K / E, tokens));
          double shard = tp * static_cast<double>(c.ep);
          double bytes = touched * one * WeightBitsEffective(c, true, false) / 8 / shard +
                         tokens * K * (m.hidden + e.expert_ffn) * c.act_bytes / static_cast<double>(c.ep);
          double flops = 2 * tokens * K * one / shard;
          // The busiest expert sets the pace; each touched expert computes whole tiles.
          double rows_per_expert = tokens * K / std::max(1.0, touched) * c.moe_imbalance;
          double padded = rows_per_expert < kGemmRowTile ? rows_per_expert : std::ceil(rows_per_expert / kGemmRowTile) * kGemmRowTile;
          double exec = 2 * padded * one * touched / shard;
          if (c.sparse24) exec /= 2;
          layer_s += OpSeconds(c, exec, c.gemm_peak, c.gemm_frac, bytes, &pc);
          layer_flops += flops;
          if (c.ep > 1) {
            double msg = tokens * K * m.hidden * kAct16Bytes / static_cast<double>(c.ep);
            double t = 2 * perf::AllToAllTime(msg, c.ep_group);
            layer_s += t;
            pc.comm_s += t;
          }
          break;
        }
        case OpKind::kAttention: {
          double per_key = op.attn_kv_len > 0 ? op.fwd_flops / op.gemm_rows / op.attn_kv_len : 0;
          double keys, kv_read;
          if (image) {
            keys = tokens * op.gemm_rows * op.attn_kv_len;
            kv_read = tokens * op.gemm_rows * 2 * op.act_out_elems / op.gemm_rows * kAct16Bytes;
          } else {
            double dq = p.decode_seqs * p.decode_tokens_per_seq;
            keys = dq * p.decode_ctx + p.prefill_tokens * p.prefill_ctx;
            // Decode reads every cached key and value once per sequence; prefill writes its own.
            kv_read = (p.decode_seqs * p.decode_ctx + p.Tokens()) * c.kv_tok_layer_bytes;
          }
          double flops = keys * per_key / tp;
          double bytes = kv_read + tokens * op.act_out_elems / (image ? 1 : op.gemm_rows) * 2 * kAct16Bytes / tp;
          layer_s += OpSeconds(c, flops, c.attn_peak, c.eff.attention_max_fraction, bytes, &pc);
          layer_flops += flops;
          break;
        }
        case OpKind::kEmbedding: {
          // Gather one row of the table per token and write it out.
          layer_s += OpSeconds(c, 0, 0, 1, tokens * op.act_out_elems * (c.w_bits / 8 + kAct16Bytes), &pc);
          break;
        }
        case OpKind::kNorm:
        case OpKind::kOther: {
          double rows = grp.name == "head" && !image ? p.logits_rows : tokens;
          layer_s += OpSeconds(c, 0, 0, 1, rows * op.act_out_elems * 2 * kAct16Bytes, &pc);
          break;
        }
      }
    }
    if (layer && c.tp > 1) {
      // Two all-reduces of the layer's output per transformer layer (Megatron-LM tensor parallelism).
      double rows = image ? tokens * c.g.seq_len : tokens;
      double t = 2 * perf::AllReduceTime(rows * m.hidden * kAct16Bytes, c.tp_group);
      layer_s += t;
      pc.comm_s += t;
    }
    pc.time_s += layer_s * static_cast<double>(grp.count);
    pc.flops += layer_flops * static_cast<double>(grp.count);
  }
  if (c.pp > 1) {
    double rows = image ? tokens * c.g.seq_len : tokens;
    double t = static_cast<double>(c.pp - 1) * perf::SendTime(rows * m.hidden * kAct16Bytes, c.pp_link);
    pc.time_s += t;
    pc.comm_s += t;
  }
  pc.time_s += c.eng.step_overhead_s;
  return pc;
}

// Per-token latency of a decode iteration over `seqs` sequences: with pipeline parallelism the
// engine runs pp micro-batches of seqs/pp, so each token crosses all stages once.
double IterTime(const Ctx& c, Pass p) {
  double div = static_cast<double>(std::min<int64_t>(c.pp, std::max<int64_t>(1, static_cast<int64_t>(p.decode_seqs))));
  p.decode_seqs /= div;
  p.prefill_tokens /= div;
  p.logits_rows /= div;
  return RunPass(c, p).time_s;
}

// The tensor-core type GEMMs run in: the activation format when given, else the weights' own
// type for float formats (fp8 weights run W8A8 where the GPU has fp8), else 16-bit.
Result<Dtype> PickComputeType(const Accelerator& gpu, const NumberFormat& w, const std::optional<NumberFormat>& act,
                              std::vector<std::string>* chosen) {
  if (act) {
    Dtype d = act->compute;
    if (!gpu.PeakFlops(d) && d == Dtype::kBf16 && gpu.PeakFlops(Dtype::kFp16)) return Dtype::kFp16;
    if (!gpu.PeakFlops(d)) {
      return InvalidInput(fmt::format("--activations: {} has no {} compute mode in the catalog", gpu.id, act->name));
    }
    return d;
  }
  std::vector<Dtype> order;
  if (!w.block_quantized) order.push_back(w.compute);
  for (Dtype d : {Dtype::kFp16, Dtype::kBf16, Dtype::kFp32}) order.push_back(d);
  for (Dtype d : order) {
    if (gpu.PeakFlops(d)) {
      chosen->push_back(fmt::format("activations={}", DtypeName(d)));
      return d;
    }
  }
  return InvalidInput(fmt::format("--gpu: {} has no fp16, bf16 or fp32 peak in the catalog", gpu.id));
}

NumberFormat FormatOf(Dtype d) {
  NumberFormat f;
  f.name = DtypeName(d);
  f.bits = DtypeBytes(d) * 8;
  f.compute = d;
  return f;
}

double WeightBytesPerGpu(const Ctx& c) {
  double total = 0;
  double tp = static_cast<double>(c.tp);
  for (const perf::LayerGroup& grp : c.g.groups) {
    double per = 0;
    for (const Op& op : grp.ops) {
      switch (op.kind) {
        case OpKind::kGemm:
        case OpKind::kConv:
          per += op.params / tp * WeightBitsEffective(c, true, true) / 8;
          break;
        case OpKind::kExperts:
          per += op.params / (tp * static_cast<double>(c.ep)) * WeightBitsEffective(c, true, true) / 8;
          break;
        case OpKind::kEmbedding:
          per += op.params / tp * c.w_bits / 8;
          break;
        default:
          per += op.params * kAct16Bytes;  // router, norms: kept in 16 bits
      }
    }
    total += per * static_cast<double>(grp.count);
  }
  return total / static_cast<double>(c.pp);
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

double ExpectedAccepted(const SpecDecode& s) {
  // Leviathan et al. 2023, Eq. 1: E[tokens per verify step] = (1 - a^(k+1)) / (1 - a).
  double a = s.accept;
  return (1 - std::pow(a, static_cast<double>(s.k + 1))) / (1 - a);
}

}  // namespace

Result<NumberFormat> ParseNumberFormat(std::string_view text, std::string_view field) {
  std::string t = ToLower(std::string(TrimView(text)));
  NumberFormat f;
  f.name = t;
  if (t == "fp32" || t == "float32") {
    f = FormatOf(Dtype::kFp32);
  } else if (t == "fp16" || t == "float16" || t == "f16") {
    f = FormatOf(Dtype::kFp16);
  } else if (t == "bf16" || t == "bfloat16") {
    f = FormatOf(Dtype::kBf16);
  } else if (t == "fp8" || t == "e4m3" || t == "float8") {
    f = FormatOf(Dtype::kFp8);
  } else if (t == "int8") {
    f = FormatOf(Dtype::kInt8);
  } else if (t == "fp4" || t == "nvfp4") {
    f = FormatOf(Dtype::kFp4);
    f.name = "fp4";
    // NVFP4: 4-bit values with one fp8 scale per 16 elements = 4.5 bits (NVIDIA Blackwell
    // NVFP4 format description).
    f.bits = 4.5;
    f.source = "NVFP4: 4-bit E2M1 values + one FP8 E4M3 scale per 16-value block (NVIDIA, 'Introducing NVFP4')";
  } else if (t == "int4") {
    f.name = "int4";
    f.compute = Dtype::kInt4;
    f.block_quantized = true;
    // Group-wise int4 with one fp16 scale per 128 weights (GPTQ/AWQ default group size):
    // 4 + 16/128 bits.
    f.bits = 4.125;
    f.source = "int4 weights + one fp16 scale per group of 128 (AWQ, Lin et al. 2024; GPTQ, Frantar et al. 2023)";
  } else if (t == "q4_0") {
    f.compute = Dtype::kInt4;
    f.block_quantized = true;
    // ggml block_q4_0: 32 weights in 16 bytes + one fp16 scale = 18 bytes per 32 weights.
    f.bits = 4.5;
    f.source = "llama.cpp ggml block_q4_0: 18 bytes per 32 weights";
  } else if (t == "q8_0") {
    f.compute = Dtype::kInt8;
    f.block_quantized = true;
    // ggml block_q8_0: 32 int8 weights + one fp16 scale = 34 bytes per 32 weights.
    f.bits = 8.5;
    f.source = "llama.cpp ggml block_q8_0: 34 bytes per 32 weights";
  } else if (t == "q4_k_m") {
    f.compute = Dtype::kInt4;
    f.block_quantized = true;
    f.bits = 4.84;
    f.source = "llama.cpp tools/quantize/README.md, Llama 2 7B table: Q4_K_M = 4.84 bits per weight";
  } else {
    return InvalidInput(fmt::format("{}: unknown number format '{}' (fp32, fp16, bf16, fp8, fp4, int8, int4, q4_0, q8_0, q4_k_m)",
                                    field, std::string(text)));
  }
  if (t == "int8") {
    // int8 weights with per-channel scales: the scales are negligible (one per output row).
    f.source = "int8 with per-channel scales";
  }
  return f;
}

ServingCost PriceServing(const ServingEstimate& e, std::optional<double> usd_per_gpu_hour, double gpu_power_w,
                         double pue, double carbon_g_per_kwh) {
  ServingCost c;
  double gpus = static_cast<double>(e.num_gpus);
  double kw = gpus * gpu_power_w * pue / 1000.0;
  if (usd_per_gpu_hour) c.usd_per_hour = *usd_per_gpu_hour * gpus;
  if (e.unit != "token") {
    if (e.images_per_s > 0) {
      double hours_per_k = 1000.0 / e.images_per_s / kSecondsPerHour;
      if (c.usd_per_hour) c.usd_per_k_images = *c.usd_per_hour * hours_per_k;
      c.kwh_per_k_images = kw * hours_per_k;
      c.co2_kg_per_k_images = c.kwh_per_k_images * carbon_g_per_kwh / 1000.0;
    }
    return c;
  }
  if (e.total_tok_s > 0) {
    double hours_per_m = 1e6 / e.total_tok_s / kSecondsPerHour;
    c.kwh_per_m_tokens = kw * hours_per_m;
    c.co2_kg_per_m_tokens = c.kwh_per_m_tokens * carbon_g_per_kwh / 1000.0;
  }
  if (c.usd_per_hour) {
    // GPU time is split between prompt and generated tokens by the share of iteration time each causes.
    double input_tok_s = e.total_tok_s - e.output_tok_s;
    if (input_tok_s > 0) c.usd_per_m_input = *c.usd_per_hour / kSecondsPerHour * e.prefill_share / input_tok_s * 1e6;
    if (e.output_tok_s > 0) {
      c.usd_per_m_output = *c.usd_per_hour / kSecondsPerHour * (1 - e.prefill_share) / e.output_tok_s * 1e6;
    }
  }
  return c;
}

Result<ServingEstimate> EstimateServing(const ModelSpec& model, const SystemSpec& sys, const ServingSetup& s,
                                        const EfficiencyProfile& eff, const EngineProfile& engine,
                                        const ModelSpec* draft) {
  ServingEstimate out;
  const Accelerator& gpu = sys.gpu;
  struct Degree {
    const char* flag;
    int64_t v;
  };
  for (Degree d : {Degree{"--tp", s.tp}, Degree{"--pp", s.pp}, Degree{"--ep", s.ep}}) {
    if (d.v < 1 || d.v > 4096) return InvalidInput(fmt::format("{}: must be between 1 and 4096", d.flag));
  }
  if (s.input_len < 0 || s.input_len > 10'000'000) return InvalidInput("--input: must be between 0 and 10M tokens");
  if (s.output_len < 0 || s.output_len > 10'000'000) return InvalidInput("--output: must be between 0 and 10M tokens");
  bool lm = model.kind == ModelKind::kDecoder || model.kind == ModelKind::kEncoder;
  if (lm && model.kind == ModelKind::kDecoder && s.output_len == 0 && s.mode != ServingMode::kSingleStream &&
      s.input_len == 0) {
    return InvalidInput("--input/--output: both are 0; nothing to serve");
  }
  if (lm && model.kind == ModelKind::kDecoder && s.output_len == 0 && s.mode == ServingMode::kContinuous) {
    return InvalidInput("--output: must be at least 1 token for continuous-batching serving (0 is a prefill-only benchmark: use --mode single)");
  }
  if (s.moe_imbalance < 1 || !std::isfinite(s.moe_imbalance) || s.moe_imbalance > 64) {
    return InvalidInput("--moe-imbalance: must be between 1 and 64");
  }
  if (s.unstructured_sparsity < 0 || s.unstructured_sparsity >= 1 || !std::isfinite(s.unstructured_sparsity)) {
    return InvalidInput("--unstructured-sparsity: must be in [0, 1)");
  }
  if (s.sparsity_2_4 && !gpu.sparse_2_4) {
    return InvalidInput(fmt::format("--sparsity: {} has no 2:4 sparse tensor cores", gpu.id));
  }
  if (s.spec) {
    if (!(s.spec->accept > 0 && s.spec->accept < 1)) {
      return InvalidInput(fmt::format("--spec-decode: accept={} must be in (0, 1)", s.spec->accept));
    }
    if (s.spec->k < 1 || s.spec->k > 64) return InvalidInput("--spec-decode: k must be between 1 and 64");
    if (!lm || model.kind != ModelKind::kDecoder) return InvalidInput("--spec-decode: needs a decoder language model");
  }

  Ctx c;
  c.m = &model;
  c.sys = sys;
  c.eff = eff;
  c.eng = engine;
  c.tp = s.tp;
  c.pp = s.pp;
  c.ep = s.ep;
  if (model.moe) {
    if (model.moe->experts % s.ep != 0) {
      return InvalidInput(fmt::format("--ep: {} does not divide the {} experts", s.ep, model.moe->experts));
    }
  } else if (s.ep > 1) {
    return InvalidInput("--ep: expert parallelism needs a mixture-of-experts model");
  }
  if (model.IsTransformer() && model.heads % s.tp != 0) {
    return InvalidInput(fmt::format("--tp: {} does not divide the {} attention heads", s.tp, model.heads));
  }
  if (s.pp > std::max<int64_t>(1, model.layers)) return InvalidInput("--pp: more stages than layers");
  int64_t per_replica = s.tp * s.pp * (model.moe ? s.ep : 1);
  int64_t n = s.num_gpus > 0 ? s.num_gpus : per_replica;
  if (n % per_replica != 0) {
    return InvalidInput(fmt::format("--gpus: {} is not a multiple of tp x pp{} = {}", n, model.moe ? " x ep" : "", per_replica));
  }
  out.gpus_per_replica = per_replica;
  out.replicas = n / per_replica;
  out.num_gpus = n;

  DLCOST_ASSIGN_OR_RETURN(Dtype compute, PickComputeType(gpu, s.weights, s.activations, &out.chosen));
  c.gemm_peak = *gpu.PeakFlops(compute);
  c.gemm_frac = eff.gemm_max_fraction;
  if ((compute == Dtype::kFp8 || compute == Dtype::kFp4 || compute == Dtype::kInt8) && eff.gemm_max_fraction_fp8 > 0) {
    c.gemm_frac = eff.gemm_max_fraction_fp8;
  }
  // Attention runs in 16-bit (fp8 attention kernels are not assumed).
  c.attn_peak = gpu.PeakFlops(Dtype::kFp16).value_or(gpu.PeakFlops(Dtype::kBf16).value_or(gpu.PeakFlops(Dtype::kFp32).value_or(c.gemm_peak)));
  c.bw = gpu.memory_bandwidth_gb_s * kGB * eff.memory_fraction;
  c.kernel_s = engine.kernel_overhead_s >= 0 ? engine.kernel_overhead_s : eff.kernel_overhead_s;
  c.w_bits = s.weights.bits;
  c.act_bytes = DtypeBytes(compute) < 2 ? 1.0 : (compute == Dtype::kFp32 ? 4.0 : 2.0);
  NumberFormat kv = s.kv_cache ? *s.kv_cache : FormatOf(Dtype::kFp16);
  if (!s.kv_cache) out.chosen.push_back("kv_cache=fp16");
  c.kv_elem_bytes = kv.bits / 8;
  c.sparse24 = s.sparsity_2_4;
  c.sparse_unstructured = s.unstructured_sparsity;
  c.sparse_kernel = !s.sparse_kernel.empty();
  c.moe_imbalance = s.moe_imbalance;
  perf::Link intra = IntraLink(sys, eff);
  perf::Link inter = InterLink(sys, eff);
  int64_t gpn = std::max(1, sys.gpus_per_node);
  c.tp_group = perf::GroupPlacement{s.tp, std::min(s.tp, gpn), intra, inter};
  c.ep_group = perf::GroupPlacement{s.ep, std::max<int64_t>(1, std::min(s.ep, gpn / std::min(s.tp, gpn))), intra, inter};
  c.pp_link = s.tp * s.pp <= gpn ? intra : inter;
  out.weight_format = s.weights.name;
  out.act_format = DtypeName(compute);
  out.kv_format = kv.name;
  if (!s.weights.source.empty()) out.assumptions.push_back(fmt::format("weights {}: {}", s.weights.name, s.weights.source));
  if (s.weights.block_quantized) {
    out.assumptions.push_back(fmt::format("weight-only {}: weights are read at {} bits and dequantized inside the GEMM, which computes in {}",
                                          s.weights.name, s.weights.bits, DtypeName(compute)));
  }

  if (!lm) {
    // Vision and diffusion models: images per second at a batch.
    DLCOST_ASSIGN_OR_RETURN(c.g, perf::BuildOpGraph(model, 0));
    out.unit = "image";
    bool diffusion = model.kind == ModelKind::kDit || model.kind == ModelKind::kUnet;
    int64_t batch = s.batch.value_or(s.concurrency.value_or(diffusion ? 1 : 32));
    if (!s.batch && !s.concurrency) out.chosen.push_back(fmt::format("batch={}", batch));
    if (batch < 1 || batch > 1'000'000) return InvalidInput("--batch: must be between 1 and 1000000");
    double cfg = diffusion && s.cfg ? 2.0 : 1.0;
    double steps = diffusion ? static_cast<double>(s.denoise_steps) : 1.0;
    if (diffusion && (s.denoise_steps < 1 || s.denoise_steps > 10000)) return InvalidInput("--steps: must be between 1 and 10000");
    Pass p;
    p.images = static_cast<double>(batch) * cfg;
    PassCost pc = RunPass(c, p);
    out.weights_bytes = WeightBytesPerGpu(c);
    // Activations of the widest layer for the batch, twice (input and output buffers).
    double widest = 0;
    for (const perf::LayerGroup& grp : c.g.groups) {
      for (const Op& op : grp.ops) widest = std::max(widest, op.act_out_elems);
    }
    out.workspace_bytes = engine.workspace_bytes + 2 * p.images * widest * kAct16Bytes;
    out.capacity_bytes = gpu.MemoryBytes();
    out.fits = out.weights_bytes + out.workspace_bytes <= out.capacity_bytes;
    out.image_latency_s = pc.time_s * steps;
    out.images_per_s = static_cast<double>(batch) / out.image_latency_s * static_cast<double>(out.replicas);
    out.concurrency = batch;
    if (diffusion) {
      out.assumptions.push_back(fmt::format("diffusion: {} denoising steps{}; text encoder and VAE decoder not counted",
                                            s.denoise_steps, s.cfg ? ", classifier-free guidance doubles the denoiser batch (Ho & Salimans 2022)" : ""));
    }
    if (!out.fits) {
      return Infeasible(fmt::format("batch {} does not fit: {:.1f} GiB needed per GPU, {:.1f} GiB available",
                                    batch, (out.weights_bytes + out.workspace_bytes) / kGiB, out.capacity_bytes / kGiB));
    }
    return out;
  }

  if (model.kind == ModelKind::kEncoder) {
    // Encoders (BERT): one bidirectional pass over each sequence, no KV cache, no decoding.
    if (s.input_len < 1) return InvalidInput("--input: an encoder needs at least 1 token per sequence");
    if (s.input_len > model.max_seq) {
      return InvalidInput(fmt::format("--input: {} tokens exceed {}'s {} positions", s.input_len, model.id, model.max_seq));
    }
    DLCOST_ASSIGN_OR_RETURN(c.g, perf::BuildOpGraph(model, s.input_len));
    out.unit = "sequence";
    int64_t batch = s.batch.value_or(s.concurrency.value_or(32));
    if (!s.batch && !s.concurrency) out.chosen.push_back(fmt::format("batch={}", batch));
    if (batch < 1 || batch > 1'000'000) return InvalidInput("--batch: must be between 1 and 1000000");
    Pass p;
    p.prefill_tokens = static_cast<double>(batch * s.input_len);
    p.prefill_ctx = static_cast<double>(s.input_len);
    p.logits_rows = static_cast<double>(batch);
    PassCost pc = RunPass(c, p);
    out.weights_bytes = WeightBytesPerGpu(c);
    out.workspace_bytes = engine.workspace_bytes + p.prefill_tokens * (model.hidden + 2.0 * model.ffn / s.tp) * kAct16Bytes;
    out.capacity_bytes = gpu.MemoryBytes();
    out.fits = out.weights_bytes + out.workspace_bytes <= out.capacity_bytes;
    if (!out.fits) {
      return Infeasible(fmt::format("batch {} does not fit: {:.1f} GiB needed per GPU, {:.1f} GiB available", batch,
                                    (out.weights_bytes + out.workspace_bytes) / kGiB, out.capacity_bytes / kGiB));
    }
    out.concurrency = batch;
    out.image_latency_s = pc.time_s;
    out.images_per_s = static_cast<double>(batch) / pc.time_s * static_cast<double>(out.replicas);
    out.prompt_tok_s = out.images_per_s * static_cast<double>(s.input_len);
    out.total_tok_s = out.prompt_tok_s;
    out.assumptions.push_back("encoder: one bidirectional pass per sequence; no KV cache and no generated tokens");
    return out;
  }

  int64_t I = s.input_len, O = s.output_len;
  DLCOST_ASSIGN_OR_RETURN(c.g, perf::BuildOpGraph(model, std::max<int64_t>(1, std::min<int64_t>(I + O, 1 << 20))));
  c.kv_tok_layer_bytes = KvBytesPerTokenLayer(model, s.tp, c.kv_elem_bytes);
  double layers_per_gpu = static_cast<double>(c.g.TransformerLayers()) / static_cast<double>(s.pp);
  out.kv_bytes_per_token = c.kv_tok_layer_bytes * layers_per_gpu;
  double reserved_len = engine.reserve_full_sequence ? static_cast<double>(I + O) : static_cast<double>(I) + O / 2.0;
  out.kv_bytes_per_sequence = out.kv_bytes_per_token * std::max(1.0, reserved_len);
  out.weights_bytes = WeightBytesPerGpu(c);
  double ffn_local = static_cast<double>(model.moe ? std::max(model.ffn, model.moe->expert_ffn) : model.ffn) / static_cast<double>(s.tp);
  out.workspace_bytes = engine.workspace_bytes +
                        static_cast<double>(engine.max_num_tokens) * (model.hidden + 2 * ffn_local) * kAct16Bytes;
  out.capacity_bytes = gpu.MemoryBytes();
  double free_bytes = out.capacity_bytes - out.weights_bytes - out.workspace_bytes;
  out.kv_budget_bytes = std::max(0.0, free_bytes * engine.kv_memory_fraction);
  out.assumptions.push_back(fmt::format("engine {}: KV cache gets {:.0f}% of the memory left after weights and workspace{}",
                                        engine.id, 100 * engine.kv_memory_fraction,
                                        engine.reserve_full_sequence ? "; a request reserves KV for prompt + all outputs" : ""));
  double max_c = out.kv_budget_bytes / out.kv_bytes_per_sequence;
  out.max_concurrency = static_cast<int64_t>(std::min(max_c, 1e15));
  if (free_bytes <= 0 || out.max_concurrency < 1) {
    out.fits = false;
    return Infeasible(fmt::format(
        "does not fit: weights {:.1f} GiB + workspace {:.1f} GiB + KV of one {}-token sequence {:.2f} GiB exceed {:.1f} GiB per GPU "
        "(short by {:.1f} GiB); use more GPUs (--tp/--pp) or smaller --weights",
        out.weights_bytes / kGiB, out.workspace_bytes / kGiB, static_cast<int64_t>(reserved_len),
        out.kv_bytes_per_sequence / kGiB / engine.kv_memory_fraction, out.capacity_bytes / kGiB,
        (out.weights_bytes + out.workspace_bytes + out.kv_bytes_per_sequence / engine.kv_memory_fraction - out.capacity_bytes) / kGiB));
  }

  // Speculative decoding: draft cost per drafted token and tokens gained per verify step.
  std::optional<Ctx> draft_ctx;
  double spec_e = 1;
  if (s.spec) {
    spec_e = ExpectedAccepted(*s.spec);
    out.spec_tokens_per_step = spec_e;
    std::string d = ToLower(s.spec->draft);
    if (d == "ngram" || d == "prompt-lookup") {
      out.assumptions.push_back("speculative decoding: n-gram lookup drafts cost no GPU time");
    } else if (d == "eagle" || d == "medusa") {
      out.assumptions.push_back(fmt::format(
          "speculative decoding ({}): the draft is one decoder layer plus the target's LM head per drafted token (EAGLE, Li et al. 2024)", d));
    } else if (!draft) {
      return InvalidInput(fmt::format("--spec-decode: draft model '{}' not given", s.spec->draft));
    } else {
      if (draft->vocab != model.vocab) out.assumptions.push_back("speculative decoding: draft and target vocabularies differ");
      draft_ctx = c;
      draft_ctx->m = draft;
      DLCOST_ASSIGN_OR_RETURN(draft_ctx->g, perf::BuildOpGraph(*draft, std::max<int64_t>(1, I + O)));
      draft_ctx->kv_tok_layer_bytes = KvBytesPerTokenLayer(*draft, std::min<int64_t>(s.tp, draft->heads), c.kv_elem_bytes);
      draft_ctx->tp = 1;
      draft_ctx->pp = 1;
      draft_ctx->ep = 1;
      double dbytes = WeightBytesPerGpu(*draft_ctx);
      out.weights_bytes += dbytes;
      out.kv_bytes_per_token += draft_ctx->kv_tok_layer_bytes * static_cast<double>(draft_ctx->g.TransformerLayers());
      out.kv_bytes_per_sequence = out.kv_bytes_per_token * std::max(1.0, reserved_len);
      free_bytes = out.capacity_bytes - out.weights_bytes - out.workspace_bytes;
      out.kv_budget_bytes = std::max(0.0, free_bytes * engine.kv_memory_fraction);
      out.max_concurrency = static_cast<int64_t>(std::min(out.kv_budget_bytes / out.kv_bytes_per_sequence, 1e15));
      if (out.max_concurrency < 1) return Infeasible("target and draft models do not fit together with one sequence's KV cache");
      out.assumptions.push_back("speculative decoding: the draft model runs on the target's GPUs without tensor parallelism");
    }
    out.assumptions.push_back(fmt::format("speculative decoding: k={}, acceptance {} i.i.d. per token -> {:.2f} tokens per verify step (Leviathan et al. 2023)",
                                          s.spec->k, s.spec->accept, spec_e));
  }
  auto draft_time = [&](double seqs, double ctx) -> double {
    if (!s.spec) return 0;
    std::string d = ToLower(s.spec->draft);
    if (d == "ngram" || d == "prompt-lookup") return 0;
    if (draft_ctx) {
      Pass p;
      p.decode_seqs = seqs;
      p.decode_ctx = ctx;
      p.logits_rows = seqs;
      return RunPass(*draft_ctx, p).time_s;
    }
    // One decoder layer + LM head of the target: run a pass and scale the layer part.
    Ctx one = c;
    for (perf::LayerGroup& g : one.g.groups) {
      if (IsLayerGroup(g.name)) g.count = 1;
    }
    bool first = true;
    for (auto it = one.g.groups.begin(); it != one.g.groups.end();) {
      if (IsLayerGroup(it->name)) {
        if (!first) {
          it = one.g.groups.erase(it);
          continue;
        }
        first = false;
      }
      ++it;
    }
    one.pp = 1;
    one.eng.step_overhead_s = 0;
    Pass p;
    p.decode_seqs = seqs;
    p.decode_ctx = ctx;
    p.logits_rows = seqs;
    return RunPass(one, p).time_s;
  };

  // A decode iteration at concurrency C (mean context L), optionally carrying prompt tokens.
  double mean_ctx = static_cast<double>(I) + O / 2.0;
  auto decode_iter = [&](double C, double prompt_tokens, double prompt_ctx) -> double {
    Pass p;
    p.decode_seqs = C;
    p.decode_ctx = mean_ctx;
    p.prefill_tokens = prompt_tokens;
    p.prefill_ctx = prompt_ctx;
    p.logits_rows = C;
    if (!s.spec) return IterTime(c, p);
    // k draft steps, then one verify pass over k+1 tokens per sequence.
    p.decode_tokens_per_seq = static_cast<double>(s.spec->k + 1);
    p.logits_rows = C * p.decode_tokens_per_seq;
    double verify = IterTime(c, p);
    return static_cast<double>(s.spec->k) * draft_time(C, mean_ctx) + verify;
  };
  auto prefill_time = [&](double seqs, double tokens_each) -> double {
    Pass p;
    p.prefill_tokens = seqs * tokens_each;
    p.prefill_ctx = (tokens_each + 1) / 2.0;
    p.logits_rows = seqs;
    return RunPass(c, p).time_s;
  };

  out.prefill_s = I > 0 ? prefill_time(1, static_cast<double>(I)) : 0;
  // Prefill-only and decode-only rates at a full token budget / the operating batch.
  {
    double budget = static_cast<double>(std::max<int64_t>(engine.max_num_tokens, I));
    double seqs = I > 0 ? std::max(1.0, std::floor(budget / static_cast<double>(I))) : 0;
    if (s.mode == ServingMode::kSingleStream) seqs = I > 0 ? 1 : 0;
    if (s.mode == ServingMode::kStaticBatch && s.batch) seqs = I > 0 ? static_cast<double>(*s.batch) : 0;
    if (seqs > 0) out.prompt_tok_s = seqs * static_cast<double>(I) / prefill_time(seqs, static_cast<double>(I)) *
                                     static_cast<double>(out.replicas);
  }

  auto tokens_per_iter = [&](double C) { return C * (s.spec ? spec_e : 1.0); };
  int64_t cap = s.batch.value_or(engine.max_batch);
  if (s.mode == ServingMode::kSingleStream) {
    out.concurrency = 1;
    out.binding = "single stream";
    double step = decode_iter(1, 0, 0);
    out.decode_step_s = step;
    out.tpot_s = step / spec_e;
    out.ttft_s = out.prefill_s;
    double req = out.ttft_s + std::max<int64_t>(0, O - 1) * out.tpot_s;
    out.request_latency_s = req;
    out.gen_tok_s = out.tpot_s > 0 ? 1 / out.tpot_s * static_cast<double>(out.replicas) : 0;
    if (req > 0) {
      out.output_tok_s = static_cast<double>(O) / req * static_cast<double>(out.replicas);
      out.total_tok_s = static_cast<double>(I + O) / req * static_cast<double>(out.replicas);
      out.req_s = 1 / req * static_cast<double>(out.replicas);
      out.prefill_share = out.ttft_s / req;
    }
  } else if (s.mode == ServingMode::kStaticBatch) {
    int64_t B = s.batch.value_or(s.concurrency.value_or(1));
    if (B > out.max_concurrency) {
      return Infeasible(fmt::format("--batch: {} sequences need {:.1f} GiB of KV cache per GPU, {:.1f} GiB available (at most {} fit)",
                                    B, B * out.kv_bytes_per_sequence / kGiB, out.kv_budget_bytes / kGiB, out.max_concurrency));
    }
    out.concurrency = B;
    out.binding = "given";
    double pre = I > 0 ? prefill_time(static_cast<double>(B), static_cast<double>(I)) : 0;
    double step = decode_iter(static_cast<double>(B), 0, 0);
    out.decode_step_s = step;
    out.tpot_s = step / spec_e;
    out.ttft_s = pre;
    double total = pre + std::max<int64_t>(0, O - 1) * out.tpot_s;
    out.request_latency_s = total;
    double R = static_cast<double>(out.replicas);
    if (total > 0) {
      out.output_tok_s = static_cast<double>(B * O) / total * R;
      out.total_tok_s = static_cast<double>(B * (I + O)) / total * R;
      out.req_s = static_cast<double>(B) / total * R;
      out.prefill_share = pre / total;
    }
    out.gen_tok_s = static_cast<double>(B) / out.tpot_s * R;
  } else {
    // Continuous batching in steady state: each iteration decodes one token (E with speculation)
    // for C sequences and carries C x I / O prompt tokens, so prompts keep pace with outputs.
    auto eval = [&](int64_t C, ServingEstimate* e) {
      double Cd = static_cast<double>(C);
      double prompt = tokens_per_iter(Cd) * static_cast<double>(I) / static_cast<double>(O);
      double it = decode_iter(Cd, prompt, (static_cast<double>(I) + 1) / 2.0);
      double dec = decode_iter(Cd, 0, 0);
      double tok = tokens_per_iter(Cd);
      e->concurrency = C;
      e->decode_step_s = dec;
      e->tpot_s = it * (s.spec ? 1.0 / spec_e : 1.0);
      // TTFT: the iteration that carries this request's prompt (chunked at the token budget).
      double chunk = std::max(1.0, static_cast<double>(engine.max_num_tokens) - Cd);
      double chunks = std::ceil(static_cast<double>(I) / chunk);
      double ttft_iter = I > 0 ? decode_iter(Cd, std::min(chunk, static_cast<double>(I)), (static_cast<double>(I) + 1) / 2.0) : it;
      e->ttft_s = chunks * ttft_iter;
      e->request_latency_s = e->ttft_s + std::max<int64_t>(0, O - 1) * e->tpot_s;
      double R = static_cast<double>(out.replicas);
      e->output_tok_s = tok / it * R;
      e->total_tok_s = tok * (1 + static_cast<double>(I) / static_cast<double>(O)) / it * R;
      e->req_s = tok / static_cast<double>(O) / it * R;
      e->gen_tok_s = tok / dec * R;
      e->prefill_share = it > 0 ? std::max(0.0, (it - dec) / it) : 0;
    };
    int64_t C;
    if (s.concurrency) {
      C = *s.concurrency;
      if (C > out.max_concurrency) {
        return Infeasible(fmt::format(
            "--concurrency: {} sequences of {} tokens need {:.1f} GiB of KV cache per GPU, {:.1f} GiB available (at most {} fit; short by {:.1f} GiB)",
            C, static_cast<int64_t>(reserved_len), C * out.kv_bytes_per_sequence / kGiB, out.kv_budget_bytes / kGiB,
            out.max_concurrency, (C * out.kv_bytes_per_sequence - out.kv_budget_bytes) / kGiB));
      }
      out.binding = "given";
    } else {
      C = std::min<int64_t>({cap, out.max_concurrency, kMaxSearchConcurrency});
      out.binding = cap <= out.max_concurrency ? "engine cap" : "memory";
      if (!s.batch) out.chosen.push_back(fmt::format("concurrency={} ({})", C, out.binding));
    }
    eval(C, &out);
    // Latency targets: the highest concurrency that meets both (iteration time grows with C).
    if (s.ttft_target_s || s.tpot_target_s) {
      auto ok = [&](const ServingEstimate& e) {
        return (!s.ttft_target_s || e.ttft_s <= *s.ttft_target_s) && (!s.tpot_target_s || e.tpot_s <= *s.tpot_target_s);
      };
      if (!ok(out)) {
        ServingEstimate lo = out;
        eval(1, &lo);
        if (!ok(lo)) {
          out.meets_targets = false;
          return Infeasible(fmt::format("latency targets cannot be met even one request at a time: TTFT {:.1f} ms, TPOT {:.2f} ms "
                                        "(targets{}{}); use faster GPUs, more tensor parallelism or smaller formats",
                                        lo.ttft_s * 1e3, lo.tpot_s * 1e3,
                                        s.ttft_target_s ? fmt::format(" TTFT {:.1f} ms", *s.ttft_target_s * 1e3) : "",
                                        s.tpot_target_s ? fmt::format(" TPOT {:.2f} ms", *s.tpot_target_s * 1e3) : ""));
        }
        int64_t good = 1, bad = C;
        while (bad - good > 1) {
          int64_t mid = good + (bad - good) / 2;
          ServingEstimate t = out;
          eval(mid, &t);
          if (ok(t)) good = mid;
          else bad = mid;
        }
        eval(good, &out);
        bool ttft_binds = s.ttft_target_s && [&] {
          ServingEstimate t = out;
          eval(bad, &t);
          return t.ttft_s > *s.ttft_target_s;
        }();
        out.binding = ttft_binds ? "ttft target" : "tpot target";
        out.chosen.push_back(fmt::format("concurrency={} (highest meeting the latency targets)", good));
      }
    }
    // Offered load: replicas needed, and the operating point at that load.
    if (s.qps) {
      if (!(*s.qps > 0) || !std::isfinite(*s.qps) || *s.qps > 1e9) return InvalidInput("--qps: must be a positive number");
      double per_replica = out.req_s / static_cast<double>(out.replicas);
      int64_t replicas = static_cast<int64_t>(std::ceil(*s.qps / per_replica - 1e-9));
      out.qps = *s.qps;
      out.gpus_needed = replicas * out.gpus_per_replica;
      if (s.num_gpus == 0) {
        out.replicas = replicas;
        out.num_gpus = replicas * out.gpus_per_replica;
      }
      // Lowest concurrency that carries the per-replica load: latency at that load.
      double lambda = *s.qps / static_cast<double>(out.replicas);
      if (lambda <= per_replica) {
        int64_t lo = 1, hi = out.concurrency;
        ServingEstimate t = out;
        while (lo < hi) {
          int64_t mid = lo + (hi - lo) / 2;
          eval(mid, &t);
          if (t.req_s / static_cast<double>(out.replicas) >= lambda) hi = mid;
          else lo = mid;
          if (hi - lo == 1) {
            eval(lo, &t);
            if (t.req_s / static_cast<double>(out.replicas) >= lambda) hi = lo;
            break;
          }
        }
        eval(hi, &out);
        double scale = lambda / (out.req_s / static_cast<double>(out.replicas));
        out.output_tok_s *= scale;
        out.total_tok_s *= scale;
        out.req_s *= scale;
        out.binding = "offered load";
      } else {
        out.meets_targets = false;
      }
    }
  }
  if (s.spec) {
    // Speed-up over the same setup without speculation, at the same concurrency.
    ServingSetup base = s;
    base.spec.reset();
    base.concurrency = out.concurrency;
    base.qps.reset();
    base.ttft_target_s.reset();
    base.tpot_target_s.reset();
    if (s.mode != ServingMode::kContinuous) base.batch = out.concurrency;
    Result<ServingEstimate> b = EstimateServing(model, sys, base, eff, engine, nullptr);
    if (b.ok() && b->tpot_s > 0 && out.tpot_s > 0) out.spec_speedup = b->tpot_s / out.tpot_s;
  }
  return out;
}

}  // namespace dlcost
