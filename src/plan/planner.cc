// The planner's search. Layout rules and the cost model are those of the training estimator
// (docs/training.md); the search and its pruning are described in docs/plan.md.
#include "dlcost/plan.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "dlcost/strings.h"
#include "dlcost/units.h"

namespace dlcost {
namespace {

std::vector<int64_t> DefaultGpuCounts(int64_t max) {
  std::vector<int64_t> out;
  for (int64_t p = 1; p <= max; p *= 2) {
    out.push_back(p);
    if (3 * p <= max && p >= 2) out.push_back(3 * p);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<int64_t> Divisors(int64_t n, int64_t cap) {
  std::vector<int64_t> out;
  for (int64_t d = 1; d <= std::min(n, cap); ++d) {
    if (n % d == 0) out.push_back(d);
  }
  return out;
}

struct Space {
  std::vector<int64_t> num_gpus, tp, pp, cp, ep, vpp, mb;
  std::vector<Recompute> recompute;
  std::vector<int> zero;
  std::optional<int64_t> global_batch;
  std::optional<bool> seq_parallel;
};

// Fills the defaults of a layout space for one model and system.
Space MakeSpace(const LayoutSpace& in, const ModelSpec& m, const SystemSpec& sys, int64_t seq, int64_t gpus_max) {
  Space s;
  s.num_gpus = in.num_gpus.empty() ? DefaultGpuCounts(gpus_max) : in.num_gpus;
  bool tr = m.IsTransformer();
  if (!in.tp.empty()) s.tp = in.tp;
  else if (!tr) s.tp = {1};
  else for (int64_t t = 1; t <= std::max(1, sys.gpus_per_node) && t <= m.heads; t *= 2) s.tp.push_back(t);
  if (!in.pp.empty()) s.pp = in.pp;
  else s.pp = tr ? Divisors(m.layers, 128) : std::vector<int64_t>{1};
  if (!in.cp.empty()) s.cp = in.cp;
  else if (tr && m.IsLanguageModel() && seq >= 16384) s.cp = {1, 2, 4, 8};
  else s.cp = {1};
  if (!in.ep.empty()) s.ep = in.ep;
  else if (m.moe) for (int64_t e = 1; e <= 64 && e <= m.moe->experts; e *= 2) s.ep.push_back(e);
  else s.ep = {1};
  s.vpp = !in.vpp.empty() ? in.vpp : (tr ? std::vector<int64_t>{1, 2, 4} : std::vector<int64_t>{1});
  s.mb = !in.micro_batch.empty() ? in.micro_batch : std::vector<int64_t>{1, 2, 4, 8};
  s.recompute = !in.recompute.empty() ? in.recompute
                                      : std::vector<Recompute>{Recompute::kNone, Recompute::kSelective, Recompute::kFull};
  s.zero = !in.zero.empty() ? in.zero : std::vector<int>{0, 1, 2, 3};
  s.global_batch = in.global_batch;
  s.seq_parallel = in.seq_parallel;
  return s;
}

// Calls `fn(layout)` for every layout of `space` with `n` GPUs that passes the layout rules;
// `pruned` counts the combinations that do not.
template <typename Fn>
void ForEachLayout(const ModelSpec& m, const Space& sp, int64_t n, int64_t seq, int64_t tokens_per_sample,
                   int64_t* pruned, Fn&& fn) {
  bool tr = m.IsTransformer();
  for (int64_t tp : sp.tp) {
    if (!tr && tp > 1) { ++*pruned; continue; }  // only data parallelism is modelled for these
    if (tr && (m.heads % tp != 0 || (m.kv_heads % tp != 0 && tp % m.kv_heads != 0))) { ++*pruned; continue; }
    if (n % tp != 0) { ++*pruned; continue; }
    for (int64_t cp : sp.cp) {
      if (n % (tp * cp) != 0 || (cp > 1 && seq % cp != 0)) { ++*pruned; continue; }
      if (!tr && cp > 1) { ++*pruned; continue; }
      for (int64_t pp : sp.pp) {
        if (!tr && pp > 1) { ++*pruned; continue; }
        if (n % (tp * cp * pp) != 0 || (tr && m.layers % pp != 0)) { ++*pruned; continue; }
        int64_t dp = n / (tp * cp * pp);
        for (int64_t ep : sp.ep) {
          if (ep > 1 && (!m.moe || m.moe->experts % ep != 0 || dp % ep != 0)) { ++*pruned; continue; }
          for (int64_t vpp : sp.vpp) {
            if (vpp > 1 && (pp == 1 || m.layers % (pp * vpp) != 0)) { ++*pruned; continue; }
            for (int64_t mb : sp.mb) {
              int64_t unit = dp * mb;
              int64_t gb;
              if (sp.global_batch) {
                gb = *sp.global_batch;
                if (gb % unit != 0) { ++*pruned; continue; }
              } else {
                gb = DefaultGlobalBatch(m.IsLanguageModel(), static_cast<double>(tokens_per_sample), unit);
              }
              int64_t micro = gb / unit;
              if (vpp > 1 && micro % pp != 0) { ++*pruned; continue; }
              for (Recompute rc : sp.recompute) {
                for (int z : sp.zero) {
                  // Nothing to shard over (unless the only stage asked for is this one).
                  if (dp == 1 && z != 0 && sp.zero.size() > 1) { ++*pruned; continue; }
                  if (z >= 2 && pp > 1) { ++*pruned; continue; }   // ZeRO-2/3 do not run with pipelines
                  Layout L;
                  L.tp = tp;
                  L.pp = pp;
                  L.dp = dp;
                  L.cp = cp;
                  L.ep = ep;
                  L.vpp = vpp;
                  L.micro_batch = mb;
                  L.global_batch = gb;
                  L.microbatches = micro;
                  L.zero = z;
                  L.seq_parallel = sp.seq_parallel.value_or(tp > 1);
                  L.recompute = rc;
                  fn(L);
                }
              }
            }
          }
        }
      }
    }
  }
}

double ObjectiveValue(Objective o, const RunCost& c) {
  switch (o) {
    case Objective::kCost: return c.usd ? *c.usd : std::numeric_limits<double>::infinity();
    case Objective::kTime: return c.wall_s;
    case Objective::kEnergy: return c.energy_kwh;
    case Objective::kCo2: return c.co2_kg;
  }
  return c.wall_s;
}

// A total order on plans so that results do not depend on how work was split across threads.
bool Better(const Plan& a, const Plan& b) {
  if (a.objective_value != b.objective_value) return a.objective_value < b.objective_value;
  if (a.cost.wall_s != b.cost.wall_s) return a.cost.wall_s < b.cost.wall_s;
  if (a.gpu != b.gpu) return a.gpu < b.gpu;
  if (a.num_gpus != b.num_gpus) return a.num_gpus < b.num_gpus;
  const Layout& x = a.estimate.layout;
  const Layout& y = b.estimate.layout;
  auto key = [](const Layout& l) {
    return std::make_tuple(l.tp, l.pp, l.cp, l.ep, l.vpp, l.micro_batch, l.zero, static_cast<int>(l.recompute));
  };
  if (key(x) != key(y)) return key(x) < key(y);
  if (a.precision != b.precision) return a.precision < b.precision;
  std::string oa = a.offer ? a.offer->provider + a.offer->instance + a.offer->region : "";
  std::string ob = b.offer ? b.offer->provider + b.offer->instance + b.offer->region : "";
  return oa < ob;
}

struct Local {
  std::vector<Plan> top;
  std::vector<Plan> front;
  PlanStats stats;
  double min_wall = std::numeric_limits<double>::infinity();          // over layouts that fit
  double min_usd = std::numeric_limits<double>::infinity();           // over layouts that fit, with a price
  double min_usd_in_deadline = std::numeric_limits<double>::infinity();
  double min_wall_in_budget = std::numeric_limits<double>::infinity();
};

void InsertTop(std::vector<Plan>& top, const Plan& p, int k) {
  if (static_cast<int>(top.size()) >= k && !Better(p, top.back())) return;
  auto it = std::lower_bound(top.begin(), top.end(), p, Better);
  top.insert(it, p);
  if (static_cast<int>(top.size()) > k) top.pop_back();
}

void InsertFront(std::vector<Plan>& front, const Plan& p) {
  double c = *p.cost.usd, t = p.cost.wall_s;
  for (const Plan& q : front) {
    if (*q.cost.usd <= c && q.cost.wall_s <= t) return;  // dominated (or equal)
  }
  front.erase(std::remove_if(front.begin(), front.end(),
                             [&](const Plan& q) { return c <= *q.cost.usd && t <= q.cost.wall_s; }),
              front.end());
  front.push_back(p);
}

RunCost QuickRunCost(const TrainingEstimate& e, int64_t n, double tdp_w, const PlanRequest& req) {
  RunCost r;
  r.steps = req.steps ? std::ceil(*req.steps) : std::ceil(*req.tokens / e.tokens_per_step);
  r.tokens = r.steps * e.tokens_per_step;
  r.wall_s = r.steps * e.time_step_s / req.run.goodput;
  r.gpu_hours = r.wall_s * static_cast<double>(n) / kSecondsPerHour;
  double power = req.run.gpu_power_w > 0 ? req.run.gpu_power_w : tdp_w;
  r.energy_kwh = r.gpu_hours * (power + req.run.host_power_w_per_gpu) * req.run.pue / 1000.0;
  r.co2_kg = r.energy_kwh * req.run.carbon_g_per_kwh / 1000.0;
  return r;
}

struct WorkItem {
  size_t candidate;
  Dtype precision;
  int64_t num_gpus;
};

}  // namespace

Result<Objective> ParseObjective(const std::string& s) {
  std::string t = ToLower(s);
  if (t == "cost" || t == "usd") return Objective::kCost;
  if (t == "time") return Objective::kTime;
  if (t == "energy") return Objective::kEnergy;
  if (t == "co2" || t == "carbon") return Objective::kCo2;
  return InvalidInput(fmt::format("--objective: unknown objective '{}' (cost, time, energy, co2)", s));
}

const char* ObjectiveName(Objective o) {
  switch (o) {
    case Objective::kCost: return "cost";
    case Objective::kTime: return "time";
    case Objective::kEnergy: return "energy";
    case Objective::kCo2: return "co2";
  }
  return "cost";
}

Result<PlanResult> RunPlan(const PlanRequest& req) {
  if (req.candidates.empty()) return InvalidInput("--gpu: no GPU type to plan over");
  if (req.gpus_max < 1) return InvalidInput("--gpus-max: must be at least 1");
  if (!req.tokens && !req.steps) return InvalidInput("--tokens or --steps: one is required");
  if (req.top_k < 1) return InvalidInput("--top: must be at least 1");
  if ((req.tokens && !(*req.tokens > 0)) || (req.steps && !(*req.steps > 0))) {
    return InvalidInput("--tokens/--steps: must be positive");
  }
  if (!(req.run.goodput > 0 && req.run.goodput <= 1)) return InvalidInput("--goodput: must be in (0, 1]");
  auto t0 = std::chrono::steady_clock::now();

  // Prepare one evaluator per GPU type and precision.
  struct Prepared {
    size_t candidate;
    Dtype precision;
    TrainingEvaluator ev;
    Space space;
  };
  std::vector<Prepared> prepared;
  for (size_t ci = 0; ci < req.candidates.size(); ++ci) {
    const GpuCandidate& cand = req.candidates[ci];
    std::vector<Dtype> precs = req.space.precision;
    if (precs.empty()) {
      // BF16 by default: the default efficiency profile is fitted to 16-bit runs only; FP8 joins
      // the search when asked for (--precision bf16,fp8) on hardware that has it.
      precs.push_back(Dtype::kBf16);
    }
    for (Dtype d : precs) {
      TrainingSetup s = req.setup;
      s.precision = d;
      Result<TrainingEvaluator> ev = TrainingEvaluator::Create(req.model, cand.system, s, cand.efficiency);
      if (!ev.ok()) continue;  // this GPU lacks the precision: not part of its space
      Space sp = MakeSpace(req.space, req.model, cand.system, s.seq_len, req.gpus_max);
      prepared.push_back({ci, d, std::move(ev).value(), std::move(sp)});
    }
  }
  if (prepared.empty()) return InvalidInput("--precision: none of the candidate GPUs supports the requested precision");
  std::vector<WorkItem> work;
  std::vector<size_t> work_prep;
  for (size_t pi = 0; pi < prepared.size(); ++pi) {
    int64_t inst = req.candidates[prepared[pi].candidate].instance_gpus;
    for (int64_t n : prepared[pi].space.num_gpus) {
      if (n < 1 || n > req.gpus_max) continue;
      if (inst > 1 && n % inst != 0) continue;  // not a whole number of instances
      work.push_back({prepared[pi].candidate, prepared[pi].precision, n});
      work_prep.push_back(pi);
    }
  }
  int threads = req.threads > 0 ? req.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::max(1, std::min<int>(threads, static_cast<int>(work.size())));
  std::vector<Local> locals(static_cast<size_t>(threads));
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::atomic<bool> finished{false};
  auto worker = [&](int tid) {
    Local& loc = locals[static_cast<size_t>(tid)];
    TrainingEstimate est;
    Plan plan;
    while (true) {
      size_t wi = next.fetch_add(1);
      if (wi >= work.size()) break;
      const Prepared& P = prepared[work_prep[wi]];
      const GpuCandidate& cand = req.candidates[P.candidate];
      int64_t n = work[wi].num_gpus;
      int64_t tokens_per_sample = P.ev.tokens_per_sample();
      ForEachLayout(req.model, P.space, n, req.setup.seq_len, tokens_per_sample, &loc.stats.pruned, [&](const Layout& L) {
        P.ev.Evaluate(L, &est);
        ++loc.stats.evaluated;
        if (!est.fits) {
          ++loc.stats.rejected["out_of_memory"];
          return;
        }
        RunCost base = QuickRunCost(est, n, cand.system.gpu.tdp_w, req);
        loc.min_wall = std::min(loc.min_wall, base.wall_s);
        bool in_deadline = !req.deadline_s || base.wall_s <= *req.deadline_s;
        // Offers of one candidate differ only in price: the cheapest (first) dominates the rest.
        {
          RunCost c = base;
          const Offer* offer = cand.offers.empty() ? nullptr : &cand.offers.front();
          if (offer) c.usd = c.gpu_hours * offer->OnDemandUsdPerGpuHour();
          if (c.usd) {
            loc.min_usd = std::min(loc.min_usd, *c.usd);
            if (in_deadline) loc.min_usd_in_deadline = std::min(loc.min_usd_in_deadline, *c.usd);
            if (!req.budget_usd || *c.usd <= *req.budget_usd) loc.min_wall_in_budget = std::min(loc.min_wall_in_budget, c.wall_s);
          }
          if (!in_deadline) {
            ++loc.stats.rejected["over_deadline"];
            return;
          }
          if (req.budget_usd && (!c.usd || *c.usd > *req.budget_usd)) {
            ++loc.stats.rejected[c.usd ? "over_budget" : "no_price"];
            return;
          }
          double obj = ObjectiveValue(req.objective, c);
          if (!std::isfinite(obj)) {
            ++loc.stats.rejected["no_price"];
            return;
          }
          ++loc.stats.feasible;
          bool top_worthy = static_cast<int>(loc.top.size()) < req.top_k || obj <= loc.top.back().objective_value;
          bool front_worthy = c.usd.has_value();
          if (!top_worthy && !front_worthy) return;
          plan.gpu = cand.system.gpu.id;
          plan.offer = offer ? std::optional<Offer>(*offer) : std::nullopt;
          plan.num_gpus = n;
          plan.precision = P.precision;
          plan.estimate = est;
          plan.cost = c;
          plan.objective_value = obj;
          if (top_worthy) InsertTop(loc.top, plan, req.top_k);
          if (front_worthy) InsertFront(loc.front, plan);
        }
      });
      done.fetch_add(1);
    }
  };
  std::thread progress;
  if (req.progress) {
    progress = std::thread([&] {
      while (!finished.load()) {
        std::fprintf(stderr, "\rplanning: %3.0f%% of %zu GPU-type x count slices",
                     100.0 * static_cast<double>(done.load()) / std::max<size_t>(1, work.size()), work.size());
        std::fflush(stderr);
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
      }
      std::fprintf(stderr, "\r%60s\r", "");
    });
  }
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (std::thread& t : pool) t.join();
  finished.store(true);
  if (progress.joinable()) progress.join();

  PlanResult out;
  out.stats.threads = threads;
  Local all;
  std::vector<Plan> front;
  for (Local& l : locals) {
    out.stats.evaluated += l.stats.evaluated;
    out.stats.feasible += l.stats.feasible;
    out.stats.pruned += l.stats.pruned;
    for (const auto& [k, v] : l.stats.rejected) out.stats.rejected[k] += v;
    for (const Plan& p : l.top) InsertTop(all.top, p, req.top_k);
    for (const Plan& p : l.front) InsertFront(front, p);
    all.min_wall = std::min(all.min_wall, l.min_wall);
    all.min_usd = std::min(all.min_usd, l.min_usd);
    all.min_usd_in_deadline = std::min(all.min_usd_in_deadline, l.min_usd_in_deadline);
    all.min_wall_in_budget = std::min(all.min_wall_in_budget, l.min_wall_in_budget);
  }
  std::sort(front.begin(), front.end(), [](const Plan& a, const Plan& b) {
    if (*a.cost.usd != *b.cost.usd) return *a.cost.usd < *b.cost.usd;
    return Better(a, b);
  });
  out.plans = std::move(all.top);
  out.pareto = std::move(front);
  out.stats.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (out.plans.empty()) {
    if (out.stats.evaluated == 0) {
      out.binding = fmt::format("layout rules: no GPU count up to {} and layout of {} passes the divisibility rules "
                                "(or instance sizes) for the candidate GPUs", req.gpus_max, req.model.id);
    } else if (!std::isfinite(all.min_wall)) {
      out.binding = fmt::format("memory: no layout of {} fits on the candidate GPUs with up to {} GPUs", req.model.id,
                                req.gpus_max);
    } else if (req.deadline_s && all.min_wall > *req.deadline_s) {
      out.binding = fmt::format("deadline: the fastest plan that fits needs {:.1f} days, {:.0f}% over the {:.1f}-day deadline",
                                all.min_wall / kSecondsPerDay, 100 * (all.min_wall / *req.deadline_s - 1),
                                *req.deadline_s / kSecondsPerDay);
    } else if (req.budget_usd && !std::isfinite(all.min_usd)) {
      out.binding = "budget: none of the candidate GPUs has a price; pass --price-usd-per-gpu-hour";
    } else if (req.budget_usd && all.min_usd > *req.budget_usd) {
      out.binding = fmt::format("budget: the cheapest plan that fits costs ${:.0f}, {:.0f}% over the ${:.0f} budget",
                                all.min_usd, 100 * (all.min_usd / *req.budget_usd - 1), *req.budget_usd);
    } else if (req.budget_usd && req.deadline_s && std::isfinite(all.min_usd_in_deadline)) {
      out.binding = fmt::format(
          "deadline and budget together: within the deadline the cheapest plan costs ${:.0f} (budget ${:.0f}); "
          "within the budget the fastest needs {:.1f} days (deadline {:.1f})",
          all.min_usd_in_deadline, *req.budget_usd, all.min_wall_in_budget / kSecondsPerDay, *req.deadline_s / kSecondsPerDay);
    } else {
      out.binding = "price: no candidate GPU has a price for the cost objective; pass --price-usd-per-gpu-hour";
    }
  }
  return out;
}

namespace {
template <typename T>
void Union(std::vector<T>& dst, const std::vector<T>& more) {
  for (const T& v : more) {
    if (std::find(dst.begin(), dst.end(), v) == dst.end()) dst.push_back(v);
  }
}
}  // namespace

Result<TrainingEstimate> FastestLayout(const TrainingEvaluator& ev, const TrainingSetup& s, const LayoutSpace* also) {
  const ModelSpec& m = ev.model();
  LayoutSpace in;
  if (s.tp) in.tp = {*s.tp};
  if (s.pp) in.pp = {*s.pp};
  if (s.cp) in.cp = {*s.cp};
  else in.cp = {1};
  if (s.ep) in.ep = {*s.ep};
  if (s.vpp) in.vpp = {*s.vpp};
  if (s.micro_batch) in.micro_batch = {*s.micro_batch};
  else in.micro_batch = {1, 2, 4, 8, 16};
  if (s.recompute) in.recompute = {*s.recompute};
  if (s.zero) in.zero = {*s.zero};
  in.global_batch = s.global_batch;
  in.seq_parallel = s.seq_parallel;
  in.num_gpus = {s.num_gpus};
  Space sp = MakeSpace(in, m, ev.system(), s.seq_len, s.num_gpus);
  if (also) {
    if (!s.tp) Union(sp.tp, also->tp);
    if (!s.pp) Union(sp.pp, also->pp);
    if (!s.cp) Union(sp.cp, also->cp);
    if (!s.ep) Union(sp.ep, also->ep);
    if (!s.vpp) Union(sp.vpp, also->vpp);
    if (!s.micro_batch) Union(sp.mb, also->micro_batch);
    if (!s.recompute) Union(sp.recompute, also->recompute);
    if (!s.zero) Union(sp.zero, also->zero);
  }
  int64_t pruned = 0;
  std::optional<TrainingEstimate> best, smallest;
  TrainingEstimate est;
  ForEachLayout(m, sp, s.num_gpus, s.seq_len, ev.tokens_per_sample(), &pruned, [&](const Layout& L) {
    if (s.dp && L.dp != *s.dp) return;
    ev.Evaluate(L, &est);
    if (!smallest || est.memory_total_bytes < smallest->memory_total_bytes) smallest = est;
    if (!est.fits) return;
    if (!best || est.time_step_s < best->time_step_s * (1 - 1e-12)) best = est;
  });
  if (!best && !smallest) {
    // Nothing passed the layout rules: report the rule the given fields break.
    TrainingSetup t = s;
    t.tp = sp.tp.empty() ? 1 : sp.tp.front();
    t.pp = sp.pp.empty() ? 1 : sp.pp.front();
    Result<Layout> r = ev.ResolveLayout(t);
    if (!r.ok()) return r.status();
    return InvalidInput("no layout satisfies the given degrees");
  }
  TrainingEstimate out = best ? *best : *smallest;
  const Layout& L = out.layout;
  if (!s.tp) out.chosen.push_back(fmt::format("tp={}", L.tp));
  if (!s.pp) out.chosen.push_back(fmt::format("pp={}", L.pp));
  if (!s.dp) out.chosen.push_back(fmt::format("dp={}", L.dp));
  if (!s.vpp) out.chosen.push_back(fmt::format("vpp={}", L.vpp));
  if (!s.cp && L.cp > 1) out.chosen.push_back(fmt::format("cp={}", L.cp));
  if (!s.ep && m.moe) out.chosen.push_back(fmt::format("ep={}", L.ep));
  if (!s.micro_batch) out.chosen.push_back(fmt::format("micro_batch={}", L.micro_batch));
  if (!s.global_batch) out.chosen.push_back(fmt::format("global_batch={}", L.global_batch));
  if (!s.recompute) out.chosen.push_back(fmt::format("recompute={}", RecomputeName(L.recompute)));
  if (!s.zero) out.chosen.push_back(fmt::format("zero={}", L.zero));
  if (!s.seq_parallel) out.chosen.push_back(fmt::format("seq_parallel={}", L.seq_parallel ? 1 : 0));
  return out;
}

Result<TrainingEstimate> EstimateWithChosenLayout(const ModelSpec& model, const SystemSpec& sys,
                                                  const TrainingSetup& s, const EfficiencyProfile& eff) {
  if (s.num_gpus < 1) return InvalidInput("--gpus: must be at least 1");
  DLCOST_ASSIGN_OR_RETURN(TrainingEvaluator ev, TrainingEvaluator::Create(model, sys, s, eff));
  DLCOST_ASSIGN_OR_RETURN(TrainingEstimate e, FastestLayout(ev, s));
  AddTrainingAssumptions(model, s, eff, e);
  return e;
}

}  // namespace dlcost
