// The planner's search: one evaluator per GPU type and precision, the layouts of each GPU count
// spread over threads, every layout priced and checked against the deadline and budget, and the
// best plans and the cost-time front merged at the end. Layout rules and the cost model are those
// of the training estimator (docs/training.md); the search and its pruning: docs/plan.md.
#include "dlcost/plan.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>

#include <fmt/format.h>

#include "dlcost/strings.h"
#include "dlcost/units.h"
#include "plan/layout_space.h"

namespace dlcost {
namespace {

using plan::ForEachLayout;
using plan::MakeSpace;
using plan::Space;

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
  if (OffloadName(a.offload) != OffloadName(b.offload)) return OffloadName(a.offload) < OffloadName(b.offload);
  std::string oa = a.offer ? a.offer->provider + a.offer->instance + a.offer->region : "";
  std::string ob = b.offer ? b.offer->provider + b.offer->instance + b.offer->region : "";
  return oa < ob;
}

// What one search thread found: its best plans, its cost-time front, its counts, and the bests
// over layouts that fit, which explain a binding constraint when nothing is feasible.
struct ThreadResults {
  std::vector<Plan> top;
  std::vector<Plan> front;
  PlanStats stats;
  double min_wall = std::numeric_limits<double>::infinity();          // over layouts that fit
  double min_usd = std::numeric_limits<double>::infinity();           // over layouts that fit, with a price
  double min_usd_in_deadline = std::numeric_limits<double>::infinity();
  double min_wall_in_budget = std::numeric_limits<double>::infinity();
};

// Keeps `top` the best `k` plans, best first.
void InsertTop(std::vector<Plan>& top, const Plan& p, int k) {
  if (static_cast<int>(top.size()) >= k && !Better(p, top.back())) return;
  auto it = std::lower_bound(top.begin(), top.end(), p, Better);
  top.insert(it, p);
  if (static_cast<int>(top.size()) > k) top.pop_back();
}

// Adds `p` to the cost-time Pareto front unless a plan there is as cheap and as fast, dropping
// the plans it beats.
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

// ComputeRunCost without the checks (RunPlan makes them once) and without a price.
RunCost QuickRunCost(const TrainingEstimate& e, int64_t n, double tdp_w, const PlanRequest& req) {
  RunCost r;
  r.steps = req.steps ? std::ceil(*req.steps) : std::ceil(*req.tokens / e.tokens_per_step);
  r.tokens = r.steps * e.tokens_per_step;
  r.steady_wall_s = r.steps * e.time_step_s;
  r.steady_gpu_hours = r.steady_wall_s * static_cast<double>(n) / kSecondsPerHour;
  r.goodput = GoodputOf(r.steady_wall_s, n, e.checkpoint_bytes, req.run);
  r.wall_s = r.steady_wall_s / r.goodput.goodput;
  r.gpu_hours = r.wall_s * static_cast<double>(n) / kSecondsPerHour;
  double power = req.run.gpu_power_w > 0 ? req.run.gpu_power_w : tdp_w;
  r.energy_kwh = r.gpu_hours * (power + req.run.host_power_w_per_gpu) * req.run.pue / 1000.0;
  r.co2_kg = r.energy_kwh * req.run.carbon_g_per_kwh / 1000.0;
  return r;
}

Status CheckPlanRequest(const PlanRequest& req) {
  if (req.candidates.empty()) return InvalidInput("--gpu: no GPU type to plan over");
  if (req.gpus_max < 1) return InvalidInput("--gpus-max: must be at least 1");
  if (!req.tokens && !req.steps) return InvalidInput("--tokens or --steps: one is required");
  if (req.top_k < 1) return InvalidInput("--top: must be at least 1");
  if ((req.tokens && !(*req.tokens > 0)) || (req.steps && !(*req.steps > 0))) {
    return InvalidInput("--tokens/--steps: must be positive");
  }
  if (req.run.goodput && !(*req.run.goodput > 0 && *req.run.goodput <= 1)) {
    return InvalidInput("--goodput: must be in (0, 1]");
  }
  return Status::Ok();
}

}  // namespace

Status ApplyOffloadFlag(const std::string& text, PlanRequest& req) {
  if (text.empty()) return Status::Ok();
  if (ToLower(std::string(TrimView(text))) != "auto") {
    DLCOST_ASSIGN_OR_RETURN(req.setup.offload, ParseOffload(text, "--offload"));
    return Status::Ok();
  }
  req.space.offload.clear();
  for (const char* o : {"none", "optimizer", "activations", "optimizer+activations", "params+activations"}) {
    req.space.offload.push_back(*ParseOffload(o, "--offload"));
  }
  return Status::Ok();
}

namespace {

// One GPU type at one precision and one offload choice, prepared for the search.
struct PreparedCandidate {
  size_t candidate;  // index into PlanRequest::candidates
  Dtype precision;
  Offload offload;
  TrainingEvaluator ev;
  Space space;
};

// One evaluator per GPU type, precision and offload choice; InvalidInput when no GPU has a
// requested precision.
Result<std::vector<PreparedCandidate>> PrepareCandidates(const PlanRequest& req) {
  std::vector<PreparedCandidate> prepared;
  for (size_t ci = 0; ci < req.candidates.size(); ++ci) {
    const GpuCandidate& cand = req.candidates[ci];
    std::vector<Dtype> precs = req.space.precision;
    if (precs.empty()) {
      // BF16 by default: the default efficiency profile is fitted to 16-bit runs only; FP8 joins
      // the search when asked for (--precision bf16,fp8) on hardware that has it.
      precs.push_back(Dtype::kBf16);
    }
    std::vector<Offload> offloads = req.space.offload;
    if (offloads.empty()) offloads.push_back(req.setup.offload);
    for (Dtype d : precs) {
      for (const Offload& o : offloads) {
        TrainingSetup s = req.setup;
        s.precision = d;
        s.offload = o;
        Result<TrainingEvaluator> ev = TrainingEvaluator::Create(req.model, cand.system, s, cand.efficiency);
        if (!ev.ok()) continue;  // this GPU lacks the precision: not part of its space
        Space sp = MakeSpace(req.space, req.model, cand.system, s.seq_len, req.gpus_max);
        prepared.push_back({ci, d, o, std::move(ev).value(), std::move(sp)});
      }
    }
  }
  if (prepared.empty()) return InvalidInput("--precision: none of the candidate GPUs supports the requested precision");
  return prepared;
}

// One slice of the search: a prepared candidate at one GPU count.
struct WorkItem {
  size_t prepared;  // index into the prepared candidates
  int64_t num_gpus;
};

// Every GPU count of every prepared candidate, within gpus_max and in whole instances.
std::vector<WorkItem> SliceWork(const PlanRequest& req, const std::vector<PreparedCandidate>& prepared) {
  std::vector<WorkItem> work;
  for (size_t pi = 0; pi < prepared.size(); ++pi) {
    int64_t inst = req.candidates[prepared[pi].candidate].instance_gpus;
    for (int64_t n : prepared[pi].space.num_gpus) {
      if (n < 1 || n > req.gpus_max) continue;
      if (inst > 1 && n % inst != 0) continue;  // not a whole number of instances
      work.push_back({pi, n});
    }
  }
  return work;
}

// Prices one evaluated layout `est` of `prep` on `n` GPUs and keeps it in `out` when it is
// feasible and among the best; `plan` is scratch space reused across layouts. Offers of one
// candidate differ only in price: the cheapest (first) dominates the rest.
void ConsiderLayout(const PlanRequest& req, const PreparedCandidate& prep, int64_t n, const TrainingEstimate& est,
                    Plan& plan, ThreadResults& out) {
  const GpuCandidate& cand = req.candidates[prep.candidate];
  if (!est.fits) {
    ++out.stats.rejected["out_of_memory"];
    return;
  }
  RunCost c = QuickRunCost(est, n, cand.system.gpu.tdp_w, req);
  out.min_wall = std::min(out.min_wall, c.wall_s);
  bool in_deadline = !req.deadline_s || c.wall_s <= *req.deadline_s;
  const Offer* offer = cand.offers.empty() ? nullptr : &cand.offers.front();
  if (offer) c.usd = c.gpu_hours * offer->OnDemandUsdPerGpuHour();
  if (c.usd) {
    out.min_usd = std::min(out.min_usd, *c.usd);
    if (in_deadline) out.min_usd_in_deadline = std::min(out.min_usd_in_deadline, *c.usd);
    if (!req.budget_usd || *c.usd <= *req.budget_usd) out.min_wall_in_budget = std::min(out.min_wall_in_budget, c.wall_s);
  }
  if (!in_deadline) {
    ++out.stats.rejected["over_deadline"];
    return;
  }
  if (req.budget_usd && (!c.usd || *c.usd > *req.budget_usd)) {
    ++out.stats.rejected[c.usd ? "over_budget" : "no_price"];
    return;
  }
  double obj = ObjectiveValue(req.objective, c);
  if (!std::isfinite(obj)) {
    ++out.stats.rejected["no_price"];
    return;
  }
  ++out.stats.feasible;
  bool top_worthy = static_cast<int>(out.top.size()) < req.top_k || obj <= out.top.back().objective_value;
  bool front_worthy = c.usd.has_value();
  if (!top_worthy && !front_worthy) return;
  plan.gpu = cand.system.gpu.id;
  plan.offer = offer ? std::optional<Offer>(*offer) : std::nullopt;
  plan.num_gpus = n;
  plan.precision = prep.precision;
  plan.offload = prep.offload;
  plan.estimate = est;
  plan.cost = c;
  plan.objective_value = obj;
  if (top_worthy) InsertTop(out.top, plan, req.top_k);
  if (front_worthy) InsertFront(out.front, plan);
}

// The search itself: `threads` workers take slices in turn; a progress line on stderr when the
// request asks for one.
std::vector<ThreadResults> SearchSlices(const PlanRequest& req, const std::vector<PreparedCandidate>& prepared,
                                        const std::vector<WorkItem>& work, int threads) {
  std::vector<ThreadResults> results(static_cast<size_t>(threads));
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::atomic<bool> finished{false};
  auto worker = [&](int tid) {
    ThreadResults& out = results[static_cast<size_t>(tid)];
    TrainingEstimate est;
    Plan plan;
    while (true) {
      size_t wi = next.fetch_add(1);
      if (wi >= work.size()) break;
      const PreparedCandidate& prep = prepared[work[wi].prepared];
      int64_t n = work[wi].num_gpus;
      ForEachLayout(req.model, prep.space, n, req.setup.seq_len, prep.ev.tokens_per_sample(), &out.stats.pruned,
                    [&](const Layout& layout) {
                      prep.ev.Evaluate(layout, &est);
                      ++out.stats.evaluated;
                      ConsiderLayout(req, prep, n, est, plan, out);
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
  return results;
}

// When nothing is feasible: which constraint binds and by how much, from the bests over
// layouts that fit.
std::string ExplainBinding(const PlanRequest& req, const PlanStats& stats, const ThreadResults& all) {
  if (stats.evaluated == 0) {
    return fmt::format("layout rules: no GPU count up to {} and layout of {} passes the divisibility rules "
                       "(or instance sizes) for the candidate GPUs", req.gpus_max, req.model.id);
  }
  if (!std::isfinite(all.min_wall)) {
    return fmt::format("memory: no layout of {} fits on the candidate GPUs with up to {} GPUs{}", req.model.id,
                       req.gpus_max,
                       req.setup.offload.params ? "" : " (more GPUs, or --offload optimizer, params or activations, may fit)");
  }
  if (req.deadline_s && all.min_wall > *req.deadline_s) {
    return fmt::format("deadline: the fastest plan that fits needs {:.1f} days, {:.0f}% over the {:.1f}-day deadline",
                       all.min_wall / kSecondsPerDay, 100 * (all.min_wall / *req.deadline_s - 1),
                       *req.deadline_s / kSecondsPerDay);
  }
  if (req.budget_usd && !std::isfinite(all.min_usd)) {
    return "budget: none of the candidate GPUs has a price; pass --price-usd-per-gpu-hour";
  }
  if (req.budget_usd && all.min_usd > *req.budget_usd) {
    return fmt::format("budget: the cheapest plan that fits costs ${:.0f}, {:.0f}% over the ${:.0f} budget",
                       all.min_usd, 100 * (all.min_usd / *req.budget_usd - 1), *req.budget_usd);
  }
  if (req.budget_usd && req.deadline_s && std::isfinite(all.min_usd_in_deadline)) {
    return fmt::format(
        "deadline and budget together: within the deadline the cheapest plan costs ${:.0f} (budget ${:.0f}); "
        "within the budget the fastest needs {:.1f} days (deadline {:.1f})",
        all.min_usd_in_deadline, *req.budget_usd, all.min_wall_in_budget / kSecondsPerDay, *req.deadline_s / kSecondsPerDay);
  }
  return "price: no candidate GPU has a price for the cost objective; pass --price-usd-per-gpu-hour";
}

// The threads' results merged: counts summed, the best plans and the front over all of them
// (the front cheapest first), and the binding constraint when there is no plan.
PlanResult MergeResults(const PlanRequest& req, const std::vector<ThreadResults>& results) {
  PlanResult out;
  ThreadResults all;
  std::vector<Plan> front;
  for (const ThreadResults& l : results) {
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
  if (out.plans.empty()) out.binding = ExplainBinding(req, out.stats, all);
  return out;
}

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
  DLCOST_RETURN_IF_ERROR(CheckPlanRequest(req));
  auto t0 = std::chrono::steady_clock::now();
  DLCOST_ASSIGN_OR_RETURN(std::vector<PreparedCandidate> prepared, PrepareCandidates(req));
  std::vector<WorkItem> work = SliceWork(req, prepared);
  int threads = req.threads > 0 ? req.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::max(1, std::min<int>(threads, static_cast<int>(work.size())));
  std::vector<ThreadResults> results = SearchSlices(req, prepared, work, threads);
  PlanResult out = MergeResults(req, results);
  out.stats.threads = threads;
  out.stats.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace dlcost
