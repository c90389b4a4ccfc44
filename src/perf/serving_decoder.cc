// Decoder language models: the KV cache, speculative decoding, and latency and throughput
// under single-stream, static-batch or continuous-batching scheduling. Equations and sources:
// docs/serving.md.
#include "perf/serving_decoder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "dlcost/op_graph.h"
#include "dlcost/strings.h"
#include "dlcost/error_bands.h"
#include "dlcost/units.h"
#include "perf/serving_sim.h"

namespace dlcost::perf {
namespace {

// Largest sequence count searched for a concurrency.
constexpr int64_t kMaxSearchConcurrency = 1 << 16;

double ExpectedAccepted(const SpecDecode& s) {
  // Leviathan et al. 2023, Eq. 1: E[tokens per verify step] = (1 - a^(k+1)) / (1 - a).
  double a = s.accept;
  return (1 - std::pow(a, static_cast<double>(s.k + 1))) / (1 - a);
}

// Decoders: the op graph at the request's length, KV cache per token and per sequence, weights
// and workspace on one GPU, and how many sequences the rest holds; Infeasible when not even one
// fits. `reserved_len` is the context a request reserves KV for.
Status SizeKvCache(const ModelSpec& model, const ServingSetup& s, double reserved_len, ServingReplica& r,
                   ServingEstimate& out) {
  const EngineProfile& engine = r.engine;
  int64_t I = s.input_len, O = s.output_len;
  DLCOST_ASSIGN_OR_RETURN(r.graph, BuildOpGraph(model, std::max<int64_t>(1, std::min<int64_t>(I + O, 1 << 20))));
  // Data-parallel attention: a sequence's whole KV on one GPU of the group, none replicated; per
  // GPU that is 1/tp of the replica's KV on average.
  r.kv_tok_layer_bytes = r.dp_attention ? KvBytesPerTokenLayer(model, 1, r.kv_elem_bytes) / static_cast<double>(s.tp)
                                        : KvBytesPerTokenLayer(model, s.tp, r.kv_elem_bytes);
  double layers_per_gpu = static_cast<double>(r.graph.TransformerLayers()) / static_cast<double>(s.pp);
  // With sliding-window layers a sequence caches fewer keys than its length: the per-token
  // figure is the average over the reserved length (WindowedKeys).
  double reserved = std::max(1.0, reserved_len);
  out.kv_bytes_per_token = r.kv_tok_layer_bytes * layers_per_gpu * WindowedKeys(model, reserved) / reserved;
  out.kv_bytes_per_sequence = out.kv_bytes_per_token * reserved;
  if (model.sliding_window_layers > 0 && reserved > static_cast<double>(model.sliding_window)) {
    out.assumptions.push_back(fmt::format(
        "{} of {} layers keep only their last {} keys (sliding window): KV per token is the average over the "
        "{}-token reserved length",
        model.sliding_window_layers, model.layers, model.sliding_window, static_cast<int64_t>(reserved)));
  }
  out.weights_bytes = WeightBytesPerGpu(r);
  double ffn_local = static_cast<double>(model.moe ? std::max(model.ffn, model.moe->expert_ffn) : model.ffn) / static_cast<double>(s.tp);
  out.workspace_bytes = engine.workspace_bytes +
                        static_cast<double>(engine.max_num_tokens) * (model.hidden + 2 * ffn_local) * kAct16Bytes;
  out.capacity_bytes = r.system.gpu.MemoryBytes();
  double free_bytes = out.capacity_bytes - out.weights_bytes - out.workspace_bytes;
  out.kv_budget_bytes = std::max(0.0, free_bytes * engine.kv_memory_fraction);
  out.assumptions.push_back(fmt::format("engine {}: KV cache gets {:.0f}% of the memory left after weights and workspace{}",
                                        engine.id, 100 * engine.kv_memory_fraction,
                                        engine.reserve_full_sequence ? "; a request reserves KV for prompt + all outputs" : ""));
  std::string arch = GpuGeneration(r.system.gpu), epoch = EngineEpoch(engine, engine.version);
  std::string where = fmt::format("engine {} on {}{}", engine.id, arch,
                                  epoch.empty() ? std::string() : fmt::format(", versions from {}", epoch));
  if (engine.iteration_time_factor != 1) {
    std::string fit;
    const EngineFactor* f = FindEngineFactor(engine, r.system.gpu);
    if (f && f->factor == engine.iteration_time_factor) {
      fit = fmt::format(", fitted on {} published cases from {} sources", f->cases, f->sources);
    }
    out.assumptions.push_back(fmt::format("{}: every pass takes {:.2f}x the kernel model's time{} (docs/serving.md, "
                                          "'Engine factors')",
                                          where, engine.iteration_time_factor, fit));
  } else if (engine.id != "generic") {
    out.assumptions.push_back(fmt::format("{}: no engine factor fitted (too few published cases), so the kernel model's "
                                          "time, which engines seldom beat (docs/serving.md, 'Engine factors')",
                                          where));
  }
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
  DLCOST_ASSIGN_OR_RETURN(d.graph, BuildOpGraph(draft, std::max<int64_t>(1, I + O)));
  d.kv_tok_layer_bytes = KvBytesPerTokenLayer(draft, std::min<int64_t>(s.tp, draft.heads), target.kv_elem_bytes);
  d.tp = 1;
  d.pp = 1;
  d.ep = 1;
  double dbytes = WeightBytesPerGpu(d);
  out.weights_bytes += dbytes;
  double reserved = std::max(1.0, reserved_len);
  out.kv_bytes_per_token +=
      d.kv_tok_layer_bytes * static_cast<double>(d.graph.TransformerLayers()) * WindowedKeys(draft, reserved) / reserved;
  out.kv_bytes_per_sequence = out.kv_bytes_per_token * reserved;
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
  for (LayerGroup& g : one.graph.groups) {
    if (IsLayerGroup(g.name)) g.count = 1;
  }
  bool first = true;
  for (auto it = one.graph.groups.begin(); it != one.graph.groups.end();) {
    if (IsLayerGroup(it->name)) {
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
  double mean_ctx() const { return mean_ctx_; }
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
    return RunPass(*draft_, p).time_s;
  }

  // A decode iteration at concurrency `c` (mean context I + O/2), carrying `prompt_tokens`
  // prompt tokens of mean context `prompt_ctx`, seconds.
  double DecodeIteration(double c, double prompt_tokens, double prompt_ctx) const {
    return DecodeIterationAt(c, mean_ctx_, prompt_tokens, prompt_ctx);
  }

  // The same with every decoded sequence reading `decode_ctx` cached tokens.
  double DecodeIterationAt(double c, double decode_ctx, double prompt_tokens, double prompt_ctx) const {
    Pass p;
    p.decode_seqs = c;
    p.decode_ctx = decode_ctx;
    p.prefill_tokens = prompt_tokens;
    p.prefill_ctx = prompt_ctx;
    p.logits_rows = c;
    if (!setup_.spec) return IterTime(target_, p);
    // k draft steps, then one verify pass over k+1 tokens per sequence.
    p.decode_tokens_per_seq = static_cast<double>(setup_.spec->k + 1);
    p.logits_rows = c * p.decode_tokens_per_seq;
    double verify = IterTime(target_, p);
    return static_cast<double>(setup_.spec->k) * DraftSeconds(c, decode_ctx) + verify;
  }

  // Prefill of `seqs` prompts of `tokens_each` tokens in one pass, seconds.
  double Prefill(double seqs, double tokens_each) const {
    Pass p;
    p.prefill_tokens = seqs * tokens_each;
    p.prefill_ctx = (tokens_each + 1) / 2.0;
    p.logits_rows = seqs;
    return RunPass(target_, p).time_s;
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

// The concurrency to run at: the engine's cap or what memory holds, whichever is lower, and
// at most the requests the clients keep in flight when a concurrency is given. Clients beyond
// what runs wait in the engine's queue (`queued`).
int64_t ChooseConcurrency(const GenerationPasses& g, double reserved_len, ServingEstimate& out, int64_t* queued) {
  const ServingSetup& s = g.setup();
  int64_t cap = s.batch.value_or(g.engine().max_batch);
  int64_t limit = std::min<int64_t>({cap, out.max_concurrency, kMaxSearchConcurrency});
  std::string bound = cap <= out.max_concurrency ? "engine cap" : "memory";
  *queued = 0;
  if (s.concurrency) {
    int64_t C = *s.concurrency;
    if (C <= limit) {
      out.binding = "given";
      return C;
    }
    *queued = C - limit;
    out.binding = bound;
    out.chosen.push_back(fmt::format("concurrency={} running ({}), {} queued", limit, bound, *queued));
    out.assumptions.push_back(fmt::format(
        "{} requests in flight: the {} holds {} at once ({} sequences of {} tokens fit the KV cache), the other {} wait in "
        "the queue; with the clients sending a new request when one ends, each waits (in flight - running) / running x one "
        "request's latency before its prefill (Little's law)",
        C, bound == "memory" ? "KV cache" : "engine's batch cap", limit, out.max_concurrency, static_cast<int64_t>(reserved_len),
        *queued));
    return limit;
  }
  out.binding = bound;
  if (!s.batch) out.chosen.push_back(fmt::format("concurrency={} ({})", limit, bound));
  return limit;
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
  int64_t queued = 0;
  int64_t C = ChooseConcurrency(g, reserved_len, out, &queued);
  EvaluateConcurrency(g, C, out.replicas, &out);
  if (queued > 0) {
    // Closed loop of C + queued clients over C running slots: throughput is that of the C
    // running; each request first waits (clients - C) / C x its latency (Little's law).
    double wait = static_cast<double>(queued) / static_cast<double>(C) * out.request_latency_s;
    out.queued = queued;
    out.queue_wait_s = wait;
    out.ttft_s += wait;
    out.request_latency_s += wait;
    return Status::Ok();
  }
  DLCOST_RETURN_IF_ERROR(ApplyLatencyTargets(g, C, out));
  return ApplyOfferedLoad(g, out);
}

// The replica's iteration times as a table over decoded sequences and prompt tokens, at the
// mean context of the requests, with the KV read per further cached token.
IterationTable BuildIterationTable(const GenerationPasses& g, int64_t max_batch, double mean_input) {
  const EngineProfile& engine = g.engine();
  double ctx_ref = std::max(1.0, g.mean_ctx());
  double prompt_ctx = (mean_input + 1) / 2.0;
  double big = static_cast<double>(std::max<int64_t>(1, max_batch));
  double t1 = g.DecodeIterationAt(big, ctx_ref, 0, 0);
  double t2 = g.DecodeIterationAt(big, 2 * ctx_ref, 0, 0);
  double slope = (t2 - t1) / (big * ctx_ref);
  auto iter = [&](double b, double p) { return g.DecodeIterationAt(b, ctx_ref, p, prompt_ctx); };
  return IterationTable(iter, max_batch, std::max<int64_t>(1, engine.max_num_tokens), ctx_ref, slope);
}

// What the simulated runs of the replicas (`streams`, each run on `runs`) say about latency,
// throughput and the targets; `copies`: replicas each stream stands for (Poisson: all of them,
// one stream simulated), `warmup`: first requests of each stream left out.
LoadSimulation Summarize(const std::vector<std::vector<LoadRequest>>& streams, const std::vector<ReplicaRun>& runs,
                         double copies, int64_t warmup, const ServingSetup& s) {
  LoadSimulation sim;
  std::vector<double> ttft, tpot, e2e, queue;
  double first = 1e300, last_arrival = 0, out_tokens = 0, area = 0, busy = 0;
  int64_t measured = 0, met = 0, waiting = 0, in_window = 0;
  for (size_t k = 0; k < streams.size(); ++k) {
    const std::vector<LoadRequest>& reqs = streams[k];
    const ReplicaRun& run = runs[k];
    sim.preemptions += run.preemptions;
    area += run.running_time_area;
    busy += run.busy_s;
    waiting += run.waiting_at_last_arrival;
    for (size_t i = static_cast<size_t>(std::min<int64_t>(warmup, static_cast<int64_t>(reqs.size()))); i < reqs.size(); ++i) {
      if (!std::isfinite(run.arrival_s[i])) continue;  // closed loop: never sent
      ++measured;
      first = std::min(first, run.arrival_s[i]);
      last_arrival = std::max(last_arrival, run.arrival_s[i]);
    }
  }
  // Throughput over the measured arrival window: requests (warm-up ones too) that finish inside
  // it, so that neither the warm-up nor draining the queue after the last arrival counts. An
  // overloaded engine is busy from the first completion to the last, so there its throughput is
  // the completions over that span (the window may hold none when a request outlasts it).
  double first_end = std::numeric_limits<double>::infinity(), last_end = 0, done_all = 0, done_tokens = 0;
  for (size_t k = 0; k < streams.size(); ++k) {
    const std::vector<LoadRequest>& reqs = streams[k];
    const ReplicaRun& run = runs[k];
    for (size_t i = 0; i < reqs.size(); ++i) {
      const RequestOutcome& o = run.outcomes[i];
      double end = run.arrival_s[i] + o.e2e_s;
      if (o.done) {
        first_end = std::min(first_end, end);
        last_end = std::max(last_end, end);
        ++done_all;
        done_tokens += static_cast<double>(reqs[i].output_len);
      }
      if (o.done && end >= first && end <= last_arrival) {
        ++in_window;
        out_tokens += static_cast<double>(reqs[i].output_len);
      }
      if (static_cast<int64_t>(i) < warmup || !o.done) continue;  // refused: longer than the KV cache holds
      ttft.push_back(o.ttft_s);
      if (reqs[i].output_len > 1) tpot.push_back(o.tpot_s);
      e2e.push_back(o.e2e_s);
      queue.push_back(o.queue_s);
      bool ok = (!s.ttft_target_s || o.ttft_s <= *s.ttft_target_s) && (!s.tpot_target_s || o.tpot_s <= *s.tpot_target_s);
      if (ok) ++met;
    }
  }
  sim.requests = measured;
  sim.warmup = warmup;
  int64_t n = 0;
  for (const auto& r : streams) n += static_cast<int64_t>(r.size());
  sim.overloaded = waiting > std::max<int64_t>(50, n / 50);
  double window = last_arrival > first ? last_arrival - first : 0;
  if (sim.overloaded && done_all >= 2 && last_end > first_end) {
    sim.completed_req_s = (done_all - 1) / (last_end - first_end) * copies;
    sim.output_tok_s = done_tokens * (done_all - 1) / done_all / (last_end - first_end) * copies;
  } else if (window > 0) {
    sim.completed_req_s = static_cast<double>(in_window) / window * copies;
    sim.output_tok_s = out_tokens / window * copies;
  }
  sim.mean_running = busy > 0 ? area / busy : 0;
  sim.ttft_s = Percentiles(ttft);
  sim.tpot_s = Percentiles(tpot);
  sim.e2e_s = Percentiles(e2e);
  sim.queue_s = Percentiles(queue);
  if (s.ttft_target_s || s.tpot_target_s) {
    sim.slo_attainment = measured > 0 ? static_cast<double>(met) / static_cast<double>(measured) : 0;
    sim.slo_goodput_req_s = *sim.slo_attainment * sim.completed_req_s;
  }
  return sim;
}

// Latency under load: the engine's scheduler simulated on this replica's iteration table. With
// --qps, a Poisson stream routed round-robin over the replicas (one replica simulated, the
// others alike); with a trace, its requests round-robin over the replicas, each simulated; with
// a concurrency alone, a closed loop of that many clients per replica (one simulated).
void SimulateOfferedLoad(const GenerationPasses& g, const ServingEstimate& est, LoadSimulation* sim_out) {
  const ServingSetup& s = g.setup();
  const EngineProfile& engine = g.engine();
  int64_t max_batch = s.batch.value_or(engine.max_batch);
  if (s.ttft_target_s || s.tpot_target_s) max_batch = std::min(max_batch, est.concurrency);
  max_batch = std::max<int64_t>(1, std::min<int64_t>(max_batch, kMaxSearchConcurrency));
  SchedulerLimits lim;
  lim.max_batch = max_batch;
  lim.token_budget = std::max<int64_t>(1, engine.max_num_tokens);
  lim.kv_tokens = est.kv_bytes_per_token > 0 ? est.kv_budget_bytes / est.kv_bytes_per_token : 0;
  lim.reserve_full = engine.reserve_full_sequence;
  lim.tokens_per_step = s.spec ? g.spec_tokens() : 1.0;
  int64_t R = std::max<int64_t>(1, est.replicas);
  std::vector<std::vector<LoadRequest>> streams;
  double copies = 1;
  int64_t warmup = 0;
  int64_t clients = 0;
  double mean_input = static_cast<double>(s.input_len);
  if (!s.trace.empty()) {
    streams.resize(static_cast<size_t>(std::min<int64_t>(R, static_cast<int64_t>(s.trace.size()))));
    double sum_in = 0;
    for (size_t i = 0; i < s.trace.size(); ++i) {
      streams[i % streams.size()].push_back(s.trace[i]);
      sum_in += static_cast<double>(s.trace[i].input_len);
    }
    mean_input = sum_in / static_cast<double>(s.trace.size());
  } else if (s.qps) {
    streams.push_back(PoissonReplicaStream(*s.qps, R, s.sim_requests, s.input_len, s.output_len, s.sim_seed));
    copies = static_cast<double>(R);
    warmup = s.sim_requests / 10;
  } else {
    clients = *s.concurrency;
    // At least 20 rounds of the clients, so that the first wave's start-up is a small part.
    int64_t n = std::max<int64_t>(s.sim_requests, std::min<int64_t>(20 * clients, 2'000'000));
    streams.push_back(std::vector<LoadRequest>(static_cast<size_t>(n), LoadRequest{0, s.input_len, s.output_len}));
    copies = static_cast<double>(R);
    warmup = n / 10;
  }
  IterationTable table = BuildIterationTable(g, max_batch, mean_input);
  std::vector<ReplicaRun> runs;
  runs.reserve(streams.size());
  for (const std::vector<LoadRequest>& st : streams) runs.push_back(SimulateReplica(st, table, lim, clients));
  LoadSimulation sim = Summarize(streams, runs, copies, warmup, s);
  sim.arrivals = !s.trace.empty() ? "trace" : s.qps ? "poisson" : "closed loop";
  sim.clients = clients;
  // A closed loop's queue is bounded by its clients: it cannot fall behind.
  if (clients > 0) sim.overloaded = false;
  sim.offered_req_s = s.qps.value_or(0);
  // Falling behind the arrivals by more than 5% over a long run is overload (a short trace's
  // window is too short to tell it from the requests still in flight at its end).
  if (sim.requests >= 1000 && sim.offered_req_s > 0 && sim.completed_req_s < 0.95 * sim.offered_req_s) {
    sim.overloaded = true;
  }
  *sim_out = sim;
}

}  // namespace

Status EstimateDecoder(const ModelSpec& model, const ServingSetup& s, const ModelSpec* draft, ServingReplica& r,
                       ServingEstimate& out) {
  int64_t I = s.input_len, O = s.output_len;
  double reserved_len = r.engine.reserve_full_sequence ? static_cast<double>(I + O) : static_cast<double>(I) + O / 2.0;
  DLCOST_RETURN_IF_ERROR(SizeKvCache(model, s, reserved_len, r, out));
  // A calibrated weight-streaming curve: decode's matrix-vector products read this GPU's weights
  // at the rate measured for a working set of that size.
  if (r.curve_dtype >= 0) {
    const EfficiencyCurve& ws = r.eff.weight_stream_curve[static_cast<size_t>(r.curve_dtype)];
    if (!ws.empty()) {
      r.weight_stream_bw = r.system.gpu.memory_bandwidth_gb_s * kGB * ws.At(out.weights_bytes);
      out.assumptions.push_back(fmt::format(
          "calibrated weight streaming: matrix-vector products read the {:.2f} GB of weights per GPU at {:.1f} GB/s "
          "(the profile's rate for that working set)", out.weights_bytes / kGB, r.weight_stream_bw / kGB));
    }
  }
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
  DLCOST_RETURN_IF_ERROR(EstimateContinuous(g, reserved_len, out));
  bool closed_loop = s.concurrency && !s.qps && s.trace.empty();
  if (s.simulate && (s.qps || !s.trace.empty() || closed_loop)) {
    LoadSimulation sim;
    SimulateOfferedLoad(g, out, &sim);
    if (sim.overloaded) out.meets_targets = false;
    out.assumptions.push_back(fmt::format(
        "latency under load: {} {} requests simulated ({}); routed round-robin over {} replica(s); each iteration "
        "decodes first, then prompt chunks up to {} tokens; {}; iteration times from the same passes as above",
        sim.requests, sim.arrivals,
        !s.trace.empty() ? std::string("arrival times and lengths from the trace")
        : s.qps ? fmt::format("Poisson arrivals at {:.3g} req/s, first 10% left out as warm-up", *s.qps)
                : fmt::format("{} clients per replica, each sending its next request as soon as one ends, no think time; "
                              "first 10% left out as warm-up", sim.clients),
        out.replicas, r.engine.max_num_tokens,
        r.engine.reserve_full_sequence ? "KV reserved for prompt + outputs at admission"
                                       : "KV grows per token; a full cache evicts the latest admitted sequence (recomputed)"));
    out.load = sim;
  }
  return Status::Ok();
}

}  // namespace dlcost::perf
