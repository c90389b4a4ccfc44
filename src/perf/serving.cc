// The serving estimator: checks a serving setup, describes one replica of the model as the
// engine runs it, then prices it by model kind: images and encoder sequences here, generated
// tokens in serving_decoder.cc. Equations and sources: docs/serving.md.
#include "dlcost/serving.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "dlcost/collectives.h"
#include "dlcost/op_graph.h"
#include "dlcost/units.h"
#include "perf/serving_decoder.h"
#include "perf/serving_pass.h"

namespace dlcost {
namespace {

using perf::kAct16Bytes;
using perf::Op;
using perf::Pass;
using perf::PassCost;
using perf::ServingReplica;

bool IsLanguageModel(const ModelSpec& model) {
  return model.kind == ModelKind::kDecoder || model.kind == ModelKind::kEncoder;
}

// The setup's ranges and the combinations the model and GPU cannot serve; InvalidInput naming
// the flag.
Status CheckServingSetup(const ModelSpec& model, const Accelerator& gpu, const ServingSetup& s) {
  struct Degree {
    const char* flag;
    int64_t v;
  };
  for (Degree d : {Degree{"--tp", s.tp}, Degree{"--pp", s.pp}, Degree{"--ep", s.ep}}) {
    if (d.v < 1 || d.v > 4096) return InvalidInput(fmt::format("{}: must be between 1 and 4096", d.flag));
  }
  if (s.input_len < 0 || s.input_len > 10'000'000) return InvalidInput("--input: must be between 0 and 10M tokens");
  if (s.output_len < 0 || s.output_len > 10'000'000) return InvalidInput("--output: must be between 0 and 10M tokens");
  bool lm = IsLanguageModel(model);
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
    return InvalidInput(fmt::format("--sparsity: {} has no 2:4 sparse tensor cores", gpu.id)).WithField("--sparsity");
  }
  if (s.spec) {
    if (!(s.spec->accept > 0 && s.spec->accept < 1)) {
      return InvalidInput(fmt::format("--spec-decode: accept={} must be in (0, 1)", s.spec->accept));
    }
    if (s.spec->k < 1 || s.spec->k > 64) return InvalidInput("--spec-decode: k must be between 1 and 64");
    if (!lm || model.kind != ModelKind::kDecoder) return InvalidInput("--spec-decode: needs a decoder language model");
  }
  return Status::Ok();
}

// The degrees against the model, and how many replicas of tp x pp (x ep) GPUs the GPU count
// makes; InvalidInput naming the flag.
Status SplitIntoReplicas(const ModelSpec& model, const ServingSetup& s, ServingEstimate& out) {
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
  return Status::Ok();
}

// The tensor-core type GEMMs run in: the activation format when given, else the weights' own
// type for float formats (fp8 weights run W8A8 where the GPU has fp8), else 16-bit.
Result<Dtype> PickComputeType(const Accelerator& gpu, const NumberFormat& w, const std::optional<NumberFormat>& act,
                              std::vector<std::string>* chosen) {
  if (act) {
    Dtype d = act->compute;
    if (!gpu.PeakFlops(d) && d == Dtype::kBf16 && gpu.PeakFlops(Dtype::kFp16)) return Dtype::kFp16;
    if (!gpu.PeakFlops(d)) {
      return InvalidInput(fmt::format("--activations: {} has no {} compute mode in the catalog", gpu.id, act->name))
          .WithField("--activations");
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

// The replica as the engine runs it: the compute type and its rates, the number formats, the
// sparsity and where the parallel groups' ranks sit (the op graph follows, per model kind).
// Records the formats, the choices made and the weight format's sources in `out`.
Result<ServingReplica> DescribeReplica(const ModelSpec& model, const SystemSpec& sys, const ServingSetup& s,
                                       const EfficiencyProfile& eff, const EngineProfile& engine, ServingEstimate& out) {
  const Accelerator& gpu = sys.gpu;
  ServingReplica r;
  r.model = &model;
  r.system = sys;
  r.eff = eff;
  r.engine = engine;
  r.engine.iteration_time_factor = IterationTimeFactor(engine, gpu);
  out.engine_factor = r.engine.iteration_time_factor;
  r.tp = s.tp;
  r.pp = s.pp;
  r.ep = s.ep;
  DLCOST_ASSIGN_OR_RETURN(Dtype compute, PickComputeType(gpu, s.weights, s.activations, &out.chosen));
  r.gemm_peak = *gpu.PeakFlops(compute);
  r.gemm_frac = eff.gemm_max_fraction;
  if ((compute == Dtype::kFp8 || compute == Dtype::kFp4 || compute == Dtype::kInt8) && eff.gemm_max_fraction_fp8 > 0) {
    r.gemm_frac = eff.gemm_max_fraction_fp8;
  }
  // Attention runs in 16-bit (fp8 attention kernels are not assumed).
  r.attn_peak = gpu.PeakFlops(Dtype::kFp16).value_or(gpu.PeakFlops(Dtype::kBf16).value_or(gpu.PeakFlops(Dtype::kFp32).value_or(r.gemm_peak)));
  r.bw = gpu.memory_bandwidth_gb_s * kGB * eff.memory_fraction;
  r.curve_dtype = static_cast<int>(compute);
  r.kernel_s = engine.kernel_overhead_s >= 0 ? engine.kernel_overhead_s : eff.kernel_overhead_s;
  r.w_bits = s.weights.bits;
  r.act_bytes = DtypeBytes(compute) < 2 ? 1.0 : (compute == Dtype::kFp32 ? 4.0 : 2.0);
  NumberFormat kv = s.kv_cache ? *s.kv_cache : NumberFormatOf(Dtype::kFp16);
  if (!s.kv_cache) out.chosen.push_back("kv_cache=fp16");
  r.kv_elem_bytes = kv.bits / 8;
  r.sparse24 = s.sparsity_2_4;
  r.sparse_unstructured = s.unstructured_sparsity;
  r.sparse_kernel = !s.sparse_kernel.empty();
  r.moe_imbalance = s.moe_imbalance;
  r.dp_attention = s.dp_attention && s.tp > 1;
  if (r.dp_attention) {
    out.assumptions.push_back(fmt::format(
        "data-parallel attention: each of the {} GPUs runs the attention block for its own sequences with the whole "
        "attention weights and keeps only their KV cache; the MLP runs over all GPUs' tokens, gathered before it and "
        "scattered after it; sequences are taken as spread evenly over the GPUs",
        s.tp));
  }
  perf::Link intra = IntraLink(sys, eff);
  perf::Link inter = InterLink(sys, eff);
  int64_t gpn = std::max(1, sys.gpus_per_node);
  r.tp_group = perf::GroupPlacement{s.tp, std::min(s.tp, gpn), intra, inter};
  r.ep_group = perf::GroupPlacement{s.ep, std::max<int64_t>(1, std::min(s.ep, gpn / std::min(s.tp, gpn))), intra, inter};
  r.pp_link = s.tp * s.pp <= gpn ? intra : inter;
  out.weight_format = s.weights.name;
  out.act_format = DtypeName(compute);
  out.kv_format = kv.name;
  if (!s.weights.source.empty()) out.assumptions.push_back(fmt::format("weights {}: {}", s.weights.name, s.weights.source));
  if (s.weights.block_quantized) {
    out.assumptions.push_back(fmt::format("weight-only {}: weights are read at {} bits and dequantized inside the GEMM, which computes in {}",
                                          s.weights.name, s.weights.bits, DtypeName(compute)));
  }
  return r;
}

// Vision and diffusion models: images per second at a batch; Infeasible when the batch does
// not fit.
Status EstimateImages(const ModelSpec& model, const ServingSetup& s, ServingReplica& r, ServingEstimate& out) {
  const EngineProfile& engine = r.engine;
  DLCOST_ASSIGN_OR_RETURN(r.graph, perf::BuildOpGraph(model, 0));
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
  PassCost pc = RunPass(r, p);
  out.weights_bytes = WeightBytesPerGpu(r);
  // Activations of the widest layer for the batch, twice (input and output buffers).
  double widest = 0;
  for (const perf::LayerGroup& grp : r.graph.groups) {
    for (const Op& op : grp.ops) widest = std::max(widest, op.act_out_elems);
  }
  out.workspace_bytes = engine.workspace_bytes + 2 * p.images * widest * kAct16Bytes;
  out.capacity_bytes = r.system.gpu.MemoryBytes();
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
  return Status::Ok();
}

// Encoders (BERT): sequences per second at a batch, one bidirectional pass each; Infeasible
// when the batch does not fit.
Status EstimateEncoder(const ModelSpec& model, const ServingSetup& s, ServingReplica& r, ServingEstimate& out) {
  const EngineProfile& engine = r.engine;
  if (s.input_len < 1) return InvalidInput("--input: an encoder needs at least 1 token per sequence");
  if (s.input_len > model.max_seq) {
    return InvalidInput(fmt::format("--input: {} tokens exceed {}'s {} positions", s.input_len, model.id, model.max_seq));
  }
  DLCOST_ASSIGN_OR_RETURN(r.graph, perf::BuildOpGraph(model, s.input_len));
  out.unit = "sequence";
  int64_t batch = s.batch.value_or(s.concurrency.value_or(32));
  if (!s.batch && !s.concurrency) out.chosen.push_back(fmt::format("batch={}", batch));
  if (batch < 1 || batch > 1'000'000) return InvalidInput("--batch: must be between 1 and 1000000");
  Pass p;
  p.prefill_tokens = static_cast<double>(batch * s.input_len);
  p.prefill_ctx = static_cast<double>(s.input_len);
  p.logits_rows = static_cast<double>(batch);
  PassCost pc = RunPass(r, p);
  out.weights_bytes = WeightBytesPerGpu(r);
  out.workspace_bytes = engine.workspace_bytes + p.prefill_tokens * (model.hidden + 2.0 * model.ffn / s.tp) * kAct16Bytes;
  out.capacity_bytes = r.system.gpu.MemoryBytes();
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
  return Status::Ok();
}

}  // namespace

Result<ServingEstimate> EstimateServing(const ModelSpec& model, const SystemSpec& sys, const ServingSetup& s,
                                        const EfficiencyProfile& eff, const EngineProfile& engine,
                                        const ModelSpec* draft) {
  ServingEstimate out;
  DLCOST_RETURN_IF_ERROR(CheckServingSetup(model, sys.gpu, s));
  DLCOST_RETURN_IF_ERROR(SplitIntoReplicas(model, s, out));
  DLCOST_ASSIGN_OR_RETURN(ServingReplica r, DescribeReplica(model, sys, s, eff, engine, out));
  if (!IsLanguageModel(model)) {
    DLCOST_RETURN_IF_ERROR(EstimateImages(model, s, r, out));
    return out;
  }
  if (model.kind == ModelKind::kEncoder) {
    DLCOST_RETURN_IF_ERROR(EstimateEncoder(model, s, r, out));
    return out;
  }
  DLCOST_RETURN_IF_ERROR(perf::EstimateDecoder(model, s, draft, r, out));
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
