// The serving planner (`infer --gpu any` or a list): the cheapest GPU, offer, tensor parallelism,
// replica count and number formats that carry --qps within the latency targets. Every candidate
// is priced with the analytic estimate; the cheapest are then simulated under the load and get
// replicas added until their p99 figures meet the targets. docs/serving.md, "Serving planner".
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <queue>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dlcost/api_serve.h"
#include "dlcost/hardware.h"
#include "dlcost/number_format.h"
#include "dlcost/prices.h"
#include "dlcost/strings.h"
#include "dlcost/units.h"

namespace dlcost::api {
namespace {

constexpr int64_t kPlannerSimRequests = 4000;  // per simulated finalist (first 10% warm-up)
constexpr int kMaxSimulations = 200;
constexpr int64_t kMaxReplicaFactor = 4;  // a setup is given up at 4x the replicas its steady state needs

// What the user asked the plan to meet.
struct Targets {
  double qps = 0;
  std::optional<double> ttft_p99_s, tpot_p50_s, e2e_p99_s;
};

// A candidate priced analytically: one GPU type, offer, tp, formats and the replicas the
// steady state needs.
struct Candidate {
  ServeContext ctx;
  Offer offer;
  int64_t replicas_per_instance = 1;
  int64_t replicas = 1;
  double usd_per_hour = 0;
};

// The GPU types to search: "any" is every catalog GPU with a shipped offer; else the list.
Result<std::vector<Accelerator>> PlannerGpus(const Session& session, const std::string& spec) {
  DLCOST_ASSIGN_OR_RETURN(const HardwareCatalog* hw, session.Hardware());
  DLCOST_ASSIGN_OR_RETURN(const PriceTable* prices, session.Prices());
  std::vector<Accelerator> out;
  if (ToLower(spec) == "any") {
    for (const Accelerator& a : hw->accelerators()) {
      if (a.kind == "gpu" && !prices->ForGpu(a.id).empty()) out.push_back(a);
    }
    return out;
  }
  for (const std::string& part : Split(spec, ',')) {
    std::string id(TrimView(part));
    if (id.empty()) continue;
    DLCOST_ASSIGN_OR_RETURN(Accelerator a, hw->Resolve(id));
    if (prices->ForGpu(a.id).empty()) return InvalidInput(fmt::format("--gpu: no shipped offer prices {}", a.id));
    if (std::none_of(out.begin(), out.end(), [&](const Accelerator& x) { return x.id == a.id; })) out.push_back(a);
  }
  if (out.empty()) return UsageError("--gpu: no GPU named");
  return out;
}

Result<Targets> ParseTargets(const ServeRequest& f) {
  Targets t;
  if (f.qps.empty()) return UsageError("--gpu any (or a list) plans for a load: give --qps");
  DLCOST_ASSIGN_OR_RETURN(t.qps, ParseCount(f.qps, "--qps"));
  if (t.qps <= 0 || t.qps > 1e9) return InvalidInput("--qps: must be between 0 and 1e9 requests per second");
  auto ms = [](const std::string& text, const char* flag) -> Result<std::optional<double>> {
    if (text.empty()) return std::optional<double>();
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(text, flag));
    if (v <= 0 || v > 1e7) return InvalidInput(fmt::format("{}: must be between 0 and 1e7 ms", flag));
    return std::optional<double>(v / 1000.0);
  };
  DLCOST_ASSIGN_OR_RETURN(t.ttft_p99_s, ms(f.ttft_p99_ms, "--ttft-p99-ms"));
  DLCOST_ASSIGN_OR_RETURN(t.tpot_p50_s, ms(f.tpot_ms, "--tpot-ms"));
  DLCOST_ASSIGN_OR_RETURN(t.e2e_p99_s, ms(f.e2e_p99_ms, "--e2e-p99-ms"));
  if (!f.ttft_ms.empty()) return UsageError("--ttft-ms: the planner's TTFT target is --ttft-p99-ms");
  if (!f.concurrency.empty() || !f.trace.empty() || !f.gpus.empty() || f.tp != "1" || !f.batch.empty()) {
    return UsageError("--gpu any (or a list): --gpus, --tp, --batch, --concurrency and --trace are chosen or not used by "
                      "the planner");
  }
  return t;
}

// Weight formats tried on a GPU: 16-bit, FP8 where it computes in FP8, and INT4 weight-only.
std::vector<std::string> WeightChoices(const Accelerator& gpu, const std::string& given) {
  if (!given.empty()) return {given};
  std::vector<std::string> w{"bf16"};
  if (gpu.PeakFlops(Dtype::kFp8)) w.push_back("fp8");
  w.push_back("int4");
  return w;
}

// The offer with the lowest price per replica-hour for replicas of `tp` GPUs, and how many whole
// replicas one of its instances holds (a replica never spans instances). Empty when no
// instance of the offers holds a replica.
std::optional<std::pair<Offer, int64_t>> CheapestOffer(const std::vector<Offer>& offers, int64_t tp) {
  std::optional<std::pair<Offer, int64_t>> best;
  double best_rate = std::numeric_limits<double>::infinity();
  for (const Offer& o : offers) {
    int64_t per = o.gpu_count / tp;
    if (per < 1) continue;
    double rate = o.on_demand_usd_per_hour / static_cast<double>(per);  // $ per replica-hour
    if (rate < best_rate) {
      best_rate = rate;
      best = std::make_pair(o, per);
    }
  }
  return best;
}

double PlanUsdPerHour(const Candidate& c, int64_t replicas) {
  int64_t instances = (replicas + c.replicas_per_instance - 1) / c.replicas_per_instance;
  return static_cast<double>(instances) * c.offer.on_demand_usd_per_hour;
}

// Why screened-out setups were dropped, for the message when nothing is left.
struct ScreenNotes {
  std::string memory;                 // the first "does not fit"
  std::optional<double> best_ttft_s;  // fastest unloaded TTFT among those over the p99 target
};

// Every GPU x tp x weight x KV format, priced from the analytic estimate at the load.
Status ScreenCandidates(const Session& session, const InferRequest& req, const Targets& t,
                        const std::vector<Accelerator>& gpus, std::vector<Candidate>* out, int64_t* evaluated,
                        ScreenNotes* notes) {
  DLCOST_ASSIGN_OR_RETURN(const PriceTable* prices, session.Prices());
  for (const Accelerator& gpu : gpus) {
    ServeRequest f = req.serve;
    f.gpu = gpu.id;
    f.qps.clear();
    f.ttft_p99_ms.clear();
    f.e2e_p99_ms.clear();
    f.tp = "1";
    Result<ServeContext> base = ResolveServe(session, f);
    if (!base.ok()) return base.status();
    std::vector<Offer> offers = prices->ForGpu(gpu.id);
    for (int64_t tp : {1, 2, 4, 8}) {
      if (tp > base->system.gpus_per_node || base->model.heads % tp != 0) continue;
      auto offer = CheapestOffer(offers, tp);
      if (!offer) continue;
      for (const std::string& w : WeightChoices(gpu, req.serve.weights == "fp16" ? "" : req.serve.weights)) {
        for (bool kv8 : {false, true}) {
          if (kv8 && !req.serve.kv_cache.empty()) continue;
          ServeContext c = *base;
          c.setup.tp = tp;
          c.setup.qps = t.qps;
          c.setup.simulate = false;
          c.setup.tpot_target_s = t.tpot_p50_s;
          Result<NumberFormat> wf = ParseNumberFormat(w, "--weights");
          if (!wf.ok()) continue;
          c.setup.weights = *wf;
          if (kv8) c.setup.kv_cache = *ParseNumberFormat("fp8", "--kv-cache");
          ++*evaluated;
          Result<ServingEstimate> e = RunServing(c, c.setup);
          if (!e.ok()) {
            if (notes->memory.empty() && e.status().code() == StatusCode::kInfeasible) notes->memory = e.status().message();
            continue;
          }
          if (!e->gpus_needed) continue;
          // Alone, without queueing, the prompt already takes longer than the p99 target allows.
          if (t.ttft_p99_s && e->ttft_s > *t.ttft_p99_s) {
            notes->best_ttft_s = std::min(notes->best_ttft_s.value_or(e->ttft_s), e->ttft_s);
            continue;
          }
          Candidate cand;
          cand.ctx = std::move(c);
          cand.offer = offer->first;
          cand.replicas_per_instance = offer->second;
          cand.replicas = std::max<int64_t>(1, *e->gpus_needed / tp);
          cand.usd_per_hour = PlanUsdPerHour(cand, cand.replicas);
          out->push_back(std::move(cand));
        }
      }
    }
  }
  return Status::Ok();
}

// The plan a simulated candidate gives, and whether it meets the targets (`miss`: which not).
ServePlanEntry EntryOf(const Candidate& c, int64_t replicas, const ServingEstimate& e) {
  ServePlanEntry p;
  p.gpu = c.ctx.gpu.id;
  p.offer = fmt::format("{}:{}", c.offer.provider, c.offer.instance);
  p.region = c.offer.region;
  p.tp = c.ctx.setup.tp;
  p.replicas = replicas;
  p.gpus = replicas * p.tp;
  p.weights = e.weight_format;
  p.kv_cache = e.kv_format;
  p.usd_per_hour = PlanUsdPerHour(c, replicas);
  const LoadSimulation& l = *e.load;
  double tokens_per_hour = l.output_tok_s * 3600;
  p.usd_per_1m_output_tokens = tokens_per_hour > 0 ? p.usd_per_hour / tokens_per_hour * 1e6 : 0;
  p.ttft_ms_p99 = l.ttft_s.p99 * 1e3;
  p.tpot_ms_p50 = l.tpot_s.p50 * 1e3;
  p.e2e_s_p99 = l.e2e_s.p99;
  p.overloaded = l.overloaded;
  return p;
}

std::string Miss(const ServePlanEntry& p, const Targets& t) {
  if (p.overloaded) return "load";
  if (t.ttft_p99_s && p.ttft_ms_p99 > *t.ttft_p99_s * 1e3) return "ttft_p99";
  if (t.tpot_p50_s && p.tpot_ms_p50 > *t.tpot_p50_s * 1e3) return "tpot_p50";
  if (t.e2e_p99_s && p.e2e_s_p99 > *t.e2e_p99_s) return "e2e_p99";
  return "";
}

}  // namespace

bool IsServePlanGpu(const std::string& gpu) { return ToLower(gpu) == "any" || gpu.find(',') != std::string::npos; }

Result<ServePlanResult> ServePlan(const Session& session, const InferRequest& req) {
  auto start = std::chrono::steady_clock::now();
  DLCOST_ASSIGN_OR_RETURN(Targets t, ParseTargets(req.serve));
  if (!req.cost.price.empty() || !req.cost.offer.empty()) {
    return UsageError("--gpu any (or a list): the planner searches the shipped offers; --offer and "
                      "--price-usd-per-gpu-hour are for one GPU");
  }
  if (req.serve.dp_attention) {
    return UsageError("--dp-attention: not a dimension the serving planner searches yet; give one --gpu and a --tp");
  }
  DLCOST_ASSIGN_OR_RETURN(std::vector<Accelerator> gpus, PlannerGpus(session, req.serve.gpu));
  ServePlanResult r;
  r.qps = t.qps;
  DLCOST_ASSIGN_OR_RETURN(r.model, session.ResolveModel(req.serve.model));
  if (r.model.kind != ModelKind::kDecoder) return UsageError("--gpu any (or a list): plans serve language models only");
  std::vector<Candidate> cands;
  ScreenNotes notes;
  DLCOST_RETURN_IF_ERROR(ScreenCandidates(session, req, t, gpus, &cands, &r.evaluated, &notes));
  std::stable_sort(cands.begin(), cands.end(),
                   [](const Candidate& a, const Candidate& b) { return a.usd_per_hour < b.usd_per_hour; });
  int64_t top = 5;
  if (!req.top.empty()) {
    DLCOST_ASSIGN_OR_RETURN(top, ParsePositiveInt(req.top, "--top"));
    if (top > 100) return InvalidInput("--top: at most 100");
  }
  // Best first: the cheapest setup not yet settled is simulated at its replica count; one that
  // misses a target goes back with a quarter more replicas (at least one), at its new price, so
  // cheaper setups keep their turn. Each candidate gives at most one plan.
  struct Probe {
    double usd;
    size_t cand;
    int64_t replicas;
  };
  auto later = [](const Probe& a, const Probe& b) { return a.usd > b.usd; };
  std::priority_queue<Probe, std::vector<Probe>, decltype(later)> queue(later);
  for (size_t i = 0; i < cands.size(); ++i) queue.push({cands[i].usd_per_hour, i, cands[i].replicas});
  std::optional<ServePlanEntry> best_miss;
  std::string best_miss_what;
  int sims = 0;
  while (!queue.empty() && static_cast<int64_t>(r.plans.size()) < top && sims < kMaxSimulations) {
    Probe probe = queue.top();
    queue.pop();
    const Candidate& c = cands[probe.cand];
    ServingSetup s = c.ctx.setup;
    s.simulate = true;
    s.num_gpus = probe.replicas * s.tp;
    s.sim_requests = kPlannerSimRequests;
    ++sims;
    Result<ServingEstimate> e = RunServing(c.ctx, s);
    if (!e.ok() || !e->load) continue;
    ServePlanEntry p = EntryOf(c, probe.replicas, *e);
    p.simulated = true;
    std::string miss = Miss(p, t);
    if (miss.empty()) {
      r.plans.push_back(p);
      continue;
    }
    if (!best_miss || p.ttft_ms_p99 < best_miss->ttft_ms_p99) {
      best_miss = p;
      best_miss_what = miss;
    }
    int64_t next = std::max(probe.replicas + 1, static_cast<int64_t>(std::ceil(1.25 * static_cast<double>(probe.replicas))));
    if (next <= kMaxReplicaFactor * c.replicas + kMaxReplicaFactor) queue.push({PlanUsdPerHour(c, next), probe.cand, next});
  }
  std::stable_sort(r.plans.begin(), r.plans.end(),
                   [](const ServePlanEntry& a, const ServePlanEntry& b) { return a.usd_per_hour < b.usd_per_hour; });
  // Cost-latency Pareto front over the plans found: no other is cheaper and faster at p99 TTFT.
  for (const ServePlanEntry& p : r.plans) {
    bool dominated = std::any_of(r.plans.begin(), r.plans.end(), [&](const ServePlanEntry& q) {
      return q.usd_per_hour <= p.usd_per_hour && q.ttft_ms_p99 <= p.ttft_ms_p99 &&
             (q.usd_per_hour < p.usd_per_hour || q.ttft_ms_p99 < p.ttft_ms_p99);
    });
    if (!dominated) r.pareto.push_back(p);
  }
  r.simulated = sims;
  if (r.plans.empty()) {
    if (cands.empty() && notes.best_ttft_s) {
      r.binding = fmt::format("ttft_p99: even alone, without queueing, the fastest setup takes {:.0f} ms to the first token",
                              *notes.best_ttft_s * 1e3);
    } else if (cands.empty()) {
      r.binding = notes.memory.empty() ? "memory: no candidate GPU holds the model"
                                       : fmt::format("memory: no candidate fits ({})", notes.memory);
    } else if (best_miss) {
      r.binding = fmt::format("{}: the best of {} simulated setups ({} x {} on {}) reached TTFT p99 {:.0f} ms, TPOT p50 "
                              "{:.1f} ms, request p99 {:.2f} s{}",
                              best_miss_what, sims, best_miss->replicas, best_miss->tp, best_miss->gpu,
                              best_miss->ttft_ms_p99, best_miss->tpot_ms_p50, best_miss->e2e_s_p99,
                              best_miss->overloaded ? " and fell behind the load" : "");
    } else {
      r.binding = "no candidate could be simulated";
    }
  }
  r.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

std::string ServePlanJson(const ServePlanResult& r) {
  auto one = [](const ServePlanEntry& p) {
    nlohmann::json o;
    o["gpu"] = p.gpu;
    o["offer"] = p.offer;
    o["region"] = p.region;
    o["gpus"] = p.gpus;
    o["tp"] = p.tp;
    o["replicas"] = p.replicas;
    o["weights"] = p.weights;
    o["kv_cache"] = p.kv_cache;
    o["usd_per_hour"] = p.usd_per_hour;
    o["usd_per_1m_output_tokens"] = p.usd_per_1m_output_tokens;
    o["ttft_ms_p99"] = p.ttft_ms_p99;
    o["tpot_ms_p50"] = p.tpot_ms_p50;
    o["e2e_s_p99"] = p.e2e_s_p99;
    return o;
  };
  nlohmann::json j;
  j["model"] = r.model.id;
  j["qps"] = r.qps;
  j["plans"] = nlohmann::json::array();
  for (const ServePlanEntry& p : r.plans) j["plans"].push_back(one(p));
  j["pareto"] = nlohmann::json::array();
  for (const ServePlanEntry& p : r.pareto) j["pareto"].push_back(one(p));
  j["stats"] = {{"evaluated", r.evaluated}, {"simulated", r.simulated}, {"elapsed_s", r.elapsed_s}};
  if (!r.binding.empty()) j["binding"] = r.binding;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

report::Report ServePlanReport(const ServePlanResult& r) {
  report::Report rep;
  rep.title = fmt::format("Cheapest ways to serve {} at {:g} requests/s", r.model.id, r.qps);
  report::Table& t = rep.AddTable("plans", "Plans (cheapest first; latency simulated under the load)",
                                  {{"gpu", "GPU"}, {"offer", "offer"}, {"gpus", "GPUs"}, {"tp", "tp"},
                                   {"replicas", "replicas"}, {"weights", "weights"}, {"kv_cache", "KV"},
                                   {"usd_per_hour", "$/h", 2}, {"usd_per_1m_output_tokens", "$/1M out", 3},
                                   {"ttft_ms_p99", "TTFT p99 ms", 0}, {"tpot_ms_p50", "TPOT p50 ms", 1},
                                   {"e2e_s_p99", "latency p99 s", 2}});
  for (const ServePlanEntry& p : r.plans) {
    t.rows.push_back({p.gpu, p.offer, p.gpus, p.tp, p.replicas, p.weights, p.kv_cache, p.usd_per_hour,
                      p.usd_per_1m_output_tokens, p.ttft_ms_p99, p.tpot_ms_p50, p.e2e_s_p99});
  }
  rep.AddField("evaluated", "setups priced", r.evaluated);
  rep.AddField("simulated", "setups simulated", r.simulated);
  rep.AddField("elapsed_s", "search time (s)", r.elapsed_s, 2);
  if (!r.binding.empty()) rep.AddField("binding", "infeasible", r.binding);
  rep.notes.push_back("every GPU type x tensor parallelism (1, 2, 4, 8) x weights (bf16, fp8 where computed, int4 "
                      "weight-only) x KV cache (16-bit, fp8) is priced from the steady state at the load; the cheapest are "
                      "simulated (4,000 Poisson requests, round-robin over the replicas) and get replicas added until the "
                      "p99 targets hold (best first, up to 200 simulations)");
  rep.notes.push_back("prices: the cheapest shipped on-demand offer whose instance holds whole replicas; a replica never "
                      "spans instances; $/1M output tokens at the offered load (GPUs paid whether busy or not)");
  return rep;
}

}  // namespace dlcost::api
