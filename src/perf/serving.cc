// The serving estimator: checks a serving setup, describes one replica of the model as the
// engine runs it, then prices it by model kind (images, encoder sequences, or generated tokens
// under single-stream, static-batch or continuous-batching scheduling). Equations and sources:
// docs/serving.md.
#include "dlcost/serving.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "dlcost/collectives.h"
#include "dlcost/op_graph.h"
#include "dlcost/strings.h"
#include "dlcost/units.h"
#include "perf/serving_pass.h"

namespace dlcost {
namespace {

using perf::kAct16Bytes;
using perf::Op;
using perf::Pass;
using perf::PassCost;
using perf::ServingReplica;

// Largest sequence count searched for a concurrency.
constexpr int64_t kMaxSearchConcurrency = 1 << 16;

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
    return InvalidInput(fmt::format("--sparsity: {} has no 2:4 sparse tensor cores", gpu.id));
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

double ExpectedAccepted(const SpecDecode& s) {
  // Leviathan et al. 2023, Eq. 1: E[tokens per verify step] = (1 - a^(k+1)) / (1 - a).
  double a = s.accept;
  return (1 - std::pow(a, static_cast<double>(s.k + 1))) / (1 - a);
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

// Decoders: the op graph at the request's length, KV cache per token and per sequence, weights
// and workspace on one GPU, and how many sequences the rest holds; Infeasible when not even one
// fits. `reserved_len` is the context a request reserves KV for.
Status SizeKvCache(const ModelSpec& model, const ServingSetup& s, double reserved_len, ServingReplica& r,
                   ServingEstimate& out) {
  const EngineProfile& engine = r.engine;
  int64_t I = s.input_len, O = s.output_len;
  DLCOST_ASSIGN_OR_RETURN(r.graph, perf::BuildOpGraph(model, std::max<int64_t>(1, std::min<int64_t>(I + O, 1 << 20))));
  r.kv_tok_layer_bytes = perf::KvBytesPerTokenLayer(model, s.tp, r.kv_elem_bytes);
  double layers_per_gpu = static_cast<double>(r.graph.TransformerLayers()) / static_cast<double>(s.pp);
  out.kv_bytes_per_token = r.kv_tok_layer_bytes * layers_per_gpu;
  out.kv_bytes_per_sequence = out.kv_bytes_per_token * std::max(1.0, reserved_len);
  out.weights_bytes = perf::WeightBytesPerGpu(r);
  double ffn_local = static_cast<double>(model.moe ? std::max(model.ffn, model.moe->expert_ffn) : model.ffn) / static_cast<double>(s.tp);
  out.workspace_bytes = engine.workspace_bytes +
                        static_cast<double>(engine.max_num_tokens) * (model.hidden + 2 * ffn_local) * kAct16Bytes;
  out.capacity_bytes = r.system.gpu.MemoryBytes();
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
  return Status::Ok();
}

bool IsLookupDraft(const std::string& lowered) { return lowered == "ngram" || lowered == "prompt-lookup"; }
bool IsHeadDraft(const std::string& lowered) { return lowered == "eagle" || lowered == "medusa"; }

// A separate draft model on the target's GPUs, without tensor parallelism: its weights and KV
// cache join the target's, which leaves room for fewer sequences; Infeasible when none fits.
Result<ServingReplica> AddDraftModel(const ModelSpec& model, const ModelSpec& draft, const ServingSetup& s,
                                     double reserved_len, const ServingReplica& target, ServingEstimate& out) {
  const EngineProfile& engine = target.engine;
  int64_t I = s.input_len, O = s.output_len;
  if (draft.vocab != model.vocab) out.assumptions.push_back("speculative decoding: draft and target vocabularies differ");
  ServingReplica d = target;
  d.model = &draft;
  DLCOST_ASSIGN_OR_RETURN(d.graph, perf::BuildOpGraph(draft, std::max<int64_t>(1, I + O)));
  d.kv_tok_layer_bytes = perf::KvBytesPerTokenLayer(draft, std::min<int64_t>(s.tp, draft.heads), target.kv_elem_bytes);
  d.tp = 1;
  d.pp = 1;
  d.ep = 1;
  double dbytes = perf::WeightBytesPerGpu(d);
  out.weights_bytes += dbytes;
  out.kv_bytes_per_token += d.kv_tok_layer_bytes * static_cast<double>(d.graph.TransformerLayers());
  out.kv_bytes_per_sequence = out.kv_bytes_per_token * std::max(1.0, reserved_len);
  double free_bytes = out.capacity_bytes - out.weights_bytes - out.workspace_bytes;
  out.kv_budget_bytes = std::max(0.0, free_bytes * engine.kv_memory_fraction);
  out.max_concurrency = static_cast<int64_t>(std::min(out.kv_budget_bytes / out.kv_bytes_per_sequence, 1e15));
  if (out.max_concurrency < 1) return Infeasible("target and draft models do not fit together with one sequence's KV cache");
  out.assumptions.push_back("speculative decoding: the draft model runs on the target's GPUs without tensor parallelism");
  return d;
}

// Speculative decoding: tokens gained per verify step and what drafts them. Returns the draft
// model's replica when a separate draft model runs; InvalidInput when s.spec names a draft
// model that `draft` does not give.
Result<std::optional<ServingReplica>> PrepareSpeculation(const ModelSpec& model, const ModelSpec* draft,
                                                         const ServingSetup& s, double reserved_len,
                                                         const ServingReplica& target, ServingEstimate& out) {
  std::optional<ServingReplica> draft_replica;
  double spec_e = ExpectedAccepted(*s.spec);
  out.spec_tokens_per_step = spec_e;
  std::string d = ToLower(s.spec->draft);
  if (IsLookupDraft(d)) {
    out.assumptions.push_back("speculative decoding: n-gram lookup drafts cost no GPU time");
  } else if (IsHeadDraft(d)) {
    out.assumptions.push_back(fmt::format(
        "speculative decoding ({}): the draft is one decoder layer plus the target's LM head per drafted token (EAGLE, Li et al. 2024)", d));
  } else if (!draft) {
    return InvalidInput(fmt::format("--spec-decode: draft model '{}' not given", s.spec->draft));
  } else {
    DLCOST_ASSIGN_OR_RETURN(draft_replica, AddDraftModel(model, *draft, s, reserved_len, target, out));
  }
  out.assumptions.push_back(fmt::format("speculative decoding: k={}, acceptance {} i.i.d. per token -> {:.2f} tokens per verify step (Leviathan et al. 2023)",
                                        s.spec->k, s.spec->accept, spec_e));
  return draft_replica;
}

// A draft head (EAGLE, Medusa): one decoder layer of the target plus its LM head, in one stage,
// with no engine overhead of its own.
ServingReplica OneLayerDraftHead(const ServingReplica& target) {
  ServingReplica one = target;
  for (perf::LayerGroup& g : one.graph.groups) {
    if (perf::IsLayerGroup(g.name)) g.count = 1;
  }
  bool first = true;
  for (auto it = one.graph.groups.begin(); it != one.graph.groups.end();) {
    if (perf::IsLayerGroup(it->name)) {
      if (!first) {
        it = one.graph.groups.erase(it);
        continue;
      }
      first = false;
    }
    ++it;
  }
  one.pp = 1;
  one.engine.step_overhead_s = 0;
  return one;
}

// The passes a decoder's scheduling runs on one replica: prompts prefilled whole, and decode
// iterations (drafted and verified with speculative decoding) that may carry prompt tokens.
class GenerationPasses {
 public:
  GenerationPasses(const ServingReplica& target, const ServingSetup& s, std::optional<ServingReplica> draft)
      : target_(target), setup_(s), draft_(std::move(draft)) {
    mean_ctx_ = static_cast<double>(s.input_len) + s.output_len / 2.0;
    spec_e_ = s.spec ? ExpectedAccepted(*s.spec) : 1;
    lookup_draft_ = s.spec && IsLookupDraft(ToLower(s.spec->draft));
    if (s.spec && !lookup_draft_ && !draft_) draft_ = OneLayerDraftHead(target);
  }

  const ServingSetup& setup() const { return setup_; }
  const EngineProfile& engine() const { return target_.engine; }
  // Tokens one verify step yields per sequence (1 without speculative decoding).
  double spec_tokens() const { return spec_e_; }
  // Tokens a decode iteration yields over `concurrency` sequences.
  double TokensPerIteration(double concurrency) const { return concurrency * (setup_.spec ? spec_e_ : 1.0); }

  // One drafted token for `seqs` sequences over `ctx` cached keys, seconds (0 for lookup drafts).
  double DraftSeconds(double seqs, double ctx) const {
    if (!setup_.spec || lookup_draft_) return 0;
    Pass p;
    p.decode_seqs = seqs;
    p.decode_ctx = ctx;
    p.logits_rows = seqs;
    return perf::RunPass(*draft_, p).time_s;
  }

  // A decode iteration at concurrency `c` (mean context I + O/2), carrying `prompt_tokens`
  // prompt tokens of mean context `prompt_ctx`, seconds.
  double DecodeIteration(double c, double prompt_tokens, double prompt_ctx) const {
    Pass p;
    p.decode_seqs = c;
    p.decode_ctx = mean_ctx_;
    p.prefill_tokens = prompt_tokens;
    p.prefill_ctx = prompt_ctx;
    p.logits_rows = c;
    if (!setup_.spec) return perf::IterTime(target_, p);
    // k draft steps, then one verify pass over k+1 tokens per sequence.
    p.decode_tokens_per_seq = static_cast<double>(setup_.spec->k + 1);
    p.logits_rows = c * p.decode_tokens_per_seq;
    double verify = perf::IterTime(target_, p);
    return static_cast<double>(setup_.spec->k) * DraftSeconds(c, mean_ctx_) + verify;
  }

  // Prefill of `seqs` prompts of `tokens_each` tokens in one pass, seconds.
  double Prefill(double seqs, double tokens_each) const {
    Pass p;
    p.prefill_tokens = seqs * tokens_each;
    p.prefill_ctx = (tokens_each + 1) / 2.0;
    p.logits_rows = seqs;
    return perf::RunPass(target_, p).time_s;
  }

 private:
  const ServingReplica& target_;
  const ServingSetup& setup_;
  std::optional<ServingReplica> draft_;  // the draft model, or the target's one-layer draft head
  double mean_ctx_ = 0;
  double spec_e_ = 1;
  bool lookup_draft_ = false;
};

// One request's prefill, and the prefill-only rate at a full token budget (or the given batch).
void FillPrefillRates(const GenerationPasses& g, ServingEstimate& out) {
  const ServingSetup& s = g.setup();
  int64_t I = s.input_len;
  out.prefill_s = I > 0 ? g.Prefill(1, static_cast<double>(I)) : 0;
  double budget = static_cast<double>(std::max<int64_t>(g.engine().max_num_tokens, I));
  double seqs = I > 0 ? std::max(1.0, std::floor(budget / static_cast<double>(I))) : 0;
  if (s.mode == ServingMode::kSingleStream) seqs = I > 0 ? 1 : 0;
  if (s.mode == ServingMode::kStaticBatch && s.batch) seqs = I > 0 ? static_cast<double>(*s.batch) : 0;
  if (seqs > 0) out.prompt_tok_s = seqs * static_cast<double>(I) / g.Prefill(seqs, static_cast<double>(I)) *
                                   static_cast<double>(out.replicas);
}


// One request at a time: TTFT is its prefill, then one token per decode step.
void EstimateSingleStream(const GenerationPasses& g, ServingEstimate& out) {
  const ServingSetup& s = g.setup();
  int64_t I = s.input_len, O = s.output_len;
  out.concurrency = 1;
  out.binding = "single stream";
  double step = g.DecodeIteration(1, 0, 0);
  out.decode_step_s = step;
  out.tpot_s = step / g.spec_tokens();
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
}

// One fixed batch: prefill all prompts together, then decode all sequences together;
// Infeasible when the batch's KV cache does not fit.
Status EstimateStaticBatch(const GenerationPasses& g, ServingEstimate& out) {
  const ServingSetup& s = g.setup();
  int64_t I = s.input_len, O = s.output_len;
  int64_t B = s.batch.value_or(s.concurrency.value_or(1));
  if (B > out.max_concurrency) {
    return Infeasible(fmt::format("--batch: {} sequences need {:.1f} GiB of KV cache per GPU, {:.1f} GiB available (at most {} fit)",
                                  B, B * out.kv_bytes_per_sequence / kGiB, out.kv_budget_bytes / kGiB, out.max_concurrency));
  }
  out.concurrency = B;
  out.binding = "given";
  double pre = I > 0 ? g.Prefill(static_cast<double>(B), static_cast<double>(I)) : 0;
  double step = g.DecodeIteration(static_cast<double>(B), 0, 0);
  out.decode_step_s = step;
  out.tpot_s = step / g.spec_tokens();
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
  return Status::Ok();
}

// Continuous batching in steady state at concurrency C over `replicas` replicas: each
// iteration decodes one token (E with speculation) for C sequences and carries C x I / O prompt
// tokens, so prompts keep pace with outputs.
void EvaluateConcurrency(const GenerationPasses& g, int64_t C, int64_t replicas, ServingEstimate* e) {
  const ServingSetup& s = g.setup();
  int64_t I = s.input_len, O = s.output_len;
  double Cd = static_cast<double>(C);
  double prompt = g.TokensPerIteration(Cd) * static_cast<double>(I) / static_cast<double>(O);
  double it = g.DecodeIteration(Cd, prompt, (static_cast<double>(I) + 1) / 2.0);
  double dec = g.DecodeIteration(Cd, 0, 0);
  double tok = g.TokensPerIteration(Cd);
  e->concurrency = C;
  e->decode_step_s = dec;
  e->tpot_s = it * (s.spec ? 1.0 / g.spec_tokens() : 1.0);
  // TTFT: the iteration that carries this request's prompt (chunked at the token budget).
  double chunk = std::max(1.0, static_cast<double>(g.engine().max_num_tokens) - Cd);
  double chunks = std::ceil(static_cast<double>(I) / chunk);
  double ttft_iter = I > 0 ? g.DecodeIteration(Cd, std::min(chunk, static_cast<double>(I)), (static_cast<double>(I) + 1) / 2.0) : it;
  e->ttft_s = chunks * ttft_iter;
  e->request_latency_s = e->ttft_s + std::max<int64_t>(0, O - 1) * e->tpot_s;
  double R = static_cast<double>(replicas);
  e->output_tok_s = tok / it * R;
  e->total_tok_s = tok * (1 + static_cast<double>(I) / static_cast<double>(O)) / it * R;
  e->req_s = tok / static_cast<double>(O) / it * R;
  e->gen_tok_s = tok / dec * R;
  e->prefill_share = it > 0 ? std::max(0.0, (it - dec) / it) : 0;
}

// The concurrency to run at: the given one (Infeasible when its KV cache does not fit), or the
// engine's cap or what memory holds, whichever is lower.
Result<int64_t> ChooseConcurrency(const GenerationPasses& g, double reserved_len, ServingEstimate& out) {
  const ServingSetup& s = g.setup();
  int64_t cap = s.batch.value_or(g.engine().max_batch);
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
  return C;
}

// Latency targets: the highest concurrency that meets both (iteration time grows with C), at
// most `C`; Infeasible when not even one request at a time meets them.
Status ApplyLatencyTargets(const GenerationPasses& g, int64_t C, ServingEstimate& out) {
  const ServingSetup& s = g.setup();
  if (!s.ttft_target_s && !s.tpot_target_s) return Status::Ok();
  auto ok = [&](const ServingEstimate& e) {
    return (!s.ttft_target_s || e.ttft_s <= *s.ttft_target_s) && (!s.tpot_target_s || e.tpot_s <= *s.tpot_target_s);
  };
  if (ok(out)) return Status::Ok();
  ServingEstimate lo = out;
  EvaluateConcurrency(g, 1, out.replicas, &lo);
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
    EvaluateConcurrency(g, mid, out.replicas, &t);
    if (ok(t)) good = mid;
    else bad = mid;
  }
  EvaluateConcurrency(g, good, out.replicas, &out);
  bool ttft_binds = s.ttft_target_s && [&] {
    ServingEstimate t = out;
    EvaluateConcurrency(g, bad, out.replicas, &t);
    return t.ttft_s > *s.ttft_target_s;
  }();
  out.binding = ttft_binds ? "ttft target" : "tpot target";
  out.chosen.push_back(fmt::format("concurrency={} (highest meeting the latency targets)", good));
  return Status::Ok();
}

// Offered load: replicas needed, and the operating point at that load; InvalidInput when the
// QPS is out of range.
Status ApplyOfferedLoad(const GenerationPasses& g, ServingEstimate& out) {
  const ServingSetup& s = g.setup();
  if (!s.qps) return Status::Ok();
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
      EvaluateConcurrency(g, mid, out.replicas, &t);
      if (t.req_s / static_cast<double>(out.replicas) >= lambda) hi = mid;
      else lo = mid;
      if (hi - lo == 1) {
        EvaluateConcurrency(g, lo, out.replicas, &t);
        if (t.req_s / static_cast<double>(out.replicas) >= lambda) hi = lo;
        break;
      }
    }
    EvaluateConcurrency(g, hi, out.replicas, &out);
    double scale = lambda / (out.req_s / static_cast<double>(out.replicas));
    out.output_tok_s *= scale;
    out.total_tok_s *= scale;
    out.req_s *= scale;
    out.binding = "offered load";
  } else {
    out.meets_targets = false;
  }
  return Status::Ok();
}

// Continuous batching: the concurrency the engine runs at, lowered to meet latency targets,
// and the operating point under an offered load.
Status EstimateContinuous(const GenerationPasses& g, double reserved_len, ServingEstimate& out) {
  DLCOST_ASSIGN_OR_RETURN(int64_t C, ChooseConcurrency(g, reserved_len, out));
  EvaluateConcurrency(g, C, out.replicas, &out);
  DLCOST_RETURN_IF_ERROR(ApplyLatencyTargets(g, C, out));
  return ApplyOfferedLoad(g, out);
}

// Decoders: KV cache, speculative decoding, then latency and throughput under the setup's
// scheduling mode.
Status EstimateGeneration(const ModelSpec& model, const ServingSetup& s, const ModelSpec* draft, ServingReplica& r,
                          ServingEstimate& out) {
  int64_t I = s.input_len, O = s.output_len;
  double reserved_len = r.engine.reserve_full_sequence ? static_cast<double>(I + O) : static_cast<double>(I) + O / 2.0;
  DLCOST_RETURN_IF_ERROR(SizeKvCache(model, s, reserved_len, r, out));
  std::optional<ServingReplica> draft_replica;
  if (s.spec) {
    DLCOST_ASSIGN_OR_RETURN(draft_replica, PrepareSpeculation(model, draft, s, reserved_len, r, out));
  }
  GenerationPasses g(r, s, std::move(draft_replica));
  FillPrefillRates(g, out);
  if (s.mode == ServingMode::kSingleStream) {
    EstimateSingleStream(g, out);
    return Status::Ok();
  }
  if (s.mode == ServingMode::kStaticBatch) return EstimateStaticBatch(g, out);
  return EstimateContinuous(g, reserved_len, out);
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
  DLCOST_RETURN_IF_ERROR(EstimateGeneration(model, s, draft, r, out));
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
