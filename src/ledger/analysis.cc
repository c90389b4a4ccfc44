// Estimates against actuals, and budgets (docs/ledger.md, "Comparing" and "Budgets").
#include <chrono>
#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "dlcost/ledger.h"
#include "ledger/time.h"

namespace dlcost::ledger {
namespace {

// An actual's metric, with the two that follow from others when the import did not give them:
// GPU-hours = wall seconds x GPUs / 3600, and tokens/s = tokens / wall seconds.
std::optional<double> ActualMetric(const Entry& a, std::string_view name) {
  std::optional<double> v = MetricByName(a.metrics, name);
  if (v) return v;
  const Metrics& m = a.metrics;
  if (name == "gpu_hours" && m.wall_s && a.num_gpus) return *m.wall_s * static_cast<double>(*a.num_gpus) / 3600.0;
  if (name == "tokens_per_s" && m.tokens && m.wall_s && *m.wall_s > 0) return *m.tokens / *m.wall_s;
  return std::nullopt;
}

bool SameProject(const Entry& a, const Entry& b) {
  return a.project.empty() || b.project.empty() || a.project == b.project;
}

// For every actual id, the estimate it is matched with (nullptr: none).
std::unordered_map<std::string, const Entry*> MatchActuals(const std::vector<Entry>& entries, const std::vector<Link>& links) {
  std::unordered_map<std::string, const Entry*> by_id;
  std::unordered_map<std::string, std::vector<const Entry*>> estimates_by_run;  // oldest first
  for (const Entry& e : entries) {
    by_id.emplace(e.id, &e);
    if (e.kind == Kind::kEstimate && !e.run_name.empty()) estimates_by_run[e.run_name].push_back(&e);
  }
  std::unordered_map<std::string, const Entry*> linked;
  for (const Link& l : links) {
    auto it = by_id.find(l.estimate_id);
    if (it != by_id.end()) linked[l.actual_id] = it->second;
  }
  std::unordered_map<std::string, const Entry*> out;
  for (const Entry& a : entries) {
    if (a.kind != Kind::kActual) continue;
    const Entry* match = nullptr;
    if (auto it = linked.find(a.id); it != linked.end()) {
      match = it->second;
    } else if (auto r = estimates_by_run.find(a.run_name); r != estimates_by_run.end()) {
      for (auto e = r->second.rbegin(); e != r->second.rend(); ++e) {
        if (SameProject(**e, a)) {
          match = *e;
          break;
        }
      }
    }
    out[a.id] = match;
  }
  return out;
}

}  // namespace

std::optional<double> MetricByName(const Metrics& m, std::string_view name) {
  if (name == "wall_s") return m.wall_s;
  if (name == "gpu_hours") return m.gpu_hours;
  if (name == "energy_kwh") return m.energy_kwh;
  if (name == "usd") return m.usd;
  if (name == "co2_kg") return m.co2_kg;
  if (name == "tokens") return m.tokens;
  if (name == "tokens_per_s") return m.tokens_per_s;
  return std::nullopt;
}

const char* PeriodName(Period p) {
  switch (p) {
    case Period::kMonth:
      return "month";
    case Period::kQuarter:
      return "quarter";
    case Period::kTotal:
      return "total";
  }
  return "total";
}

Result<Period> ParsePeriod(const std::string& text) {
  if (text == "month") return Period::kMonth;
  if (text == "quarter") return Period::kQuarter;
  if (text == "total") return Period::kTotal;
  return UsageError(fmt::format("--period: '{}' is not month, quarter or total", text));
}

Comparison Compare(const std::vector<Entry>& entries, const std::vector<Link>& links, const std::string& project) {
  Comparison c;
  std::unordered_map<std::string, const Entry*> match = MatchActuals(entries, links);
  struct Acc {
    int64_t n = 0;
    double abs_sum = 0, sum = 0;
  };
  std::vector<Acc> acc(std::size(kComparedMetrics));
  for (const Entry& a : entries) {
    if (a.kind != Kind::kActual) continue;
    const Entry* e = match[a.id];
    std::string pair_project = !a.project.empty() ? a.project : e != nullptr ? e->project : "";
    if (!project.empty() && pair_project != project) continue;
    if (e == nullptr) {
      ++c.actuals_unmatched;
      continue;
    }
    for (size_t k = 0; k < std::size(kComparedMetrics); ++k) {
      const char* metric = kComparedMetrics[k];
      std::optional<double> est = MetricByName(e->metrics, metric);
      std::optional<double> act = ActualMetric(a, metric);
      if (!est || !act || !(*act > 0) || !std::isfinite(*est)) continue;
      Pair p;
      p.estimate_id = e->id;
      p.actual_id = a.id;
      p.run_name = a.run_name.empty() ? e->run_name : a.run_name;
      p.project = pair_project;
      p.metric = metric;
      p.estimated = *est;
      p.actual = *act;
      p.rel_error = (*est - *act) / *act;
      acc[k].n += 1;
      acc[k].abs_sum += std::fabs(p.rel_error);
      acc[k].sum += p.rel_error;
      c.pairs.push_back(std::move(p));
    }
  }
  for (size_t k = 0; k < acc.size(); ++k) {
    if (acc[k].n == 0) continue;
    double n = static_cast<double>(acc[k].n);
    c.summary.push_back({kComparedMetrics[k], acc[k].n, 100.0 * acc[k].abs_sum / n, 100.0 * acc[k].sum / n});
  }
  return c;
}

namespace {

// One run's ratio: wall time (else GPU-hours) estimated and actual, and its actual's id.
struct FitObs {
  double est, act;
  std::string actual_id;
};

// The group's factors from its runs; `step_r` holds ln(estimated / actual tokens/s) of the runs
// whose actual reports a throughput (docs/ledger.md, "Fit").
FitGroup FitOneGroup(const std::vector<FitObs>& obs, const std::unordered_map<std::string, double>& step_r) {
  FitGroup g;
  g.pairs = static_cast<int64_t>(obs.size());
  double sum = 0, sum2 = 0, before = 0, step_sum = 0, step_sum2 = 0, goodput_sum = 0, goodput_sum2 = 0;
  for (const FitObs& o : obs) {
    double r = std::log(o.act / o.est);
    sum += r;
    sum2 += r * r;
    before += std::fabs(o.est - o.act) / o.act;
    if (auto it = step_r.find(o.actual_id); it != step_r.end()) {
      ++g.step_pairs;
      double rg = r - it->second;
      step_sum += it->second;
      step_sum2 += it->second * it->second;
      goodput_sum += rg;
      goodput_sum2 += rg * rg;
    }
  }
  double n = static_cast<double>(obs.size());
  g.time_factor = std::exp(sum / n);
  g.sd_log = obs.size() > 1 ? std::sqrt(std::max(0.0, (sum2 - sum * sum / n) / (n - 1))) : 0;
  g.mape_before_pct = 100 * before / n;
  g.before_ape_sum = before;
  if (g.step_pairs > 0) {
    double k = static_cast<double>(g.step_pairs);
    g.step_time_factor = std::exp(step_sum / k);
    g.goodput_factor = std::exp(goodput_sum / k);
    if (g.step_pairs > 1) {
      g.step_sd_log = std::sqrt(std::max(0.0, (step_sum2 - step_sum * step_sum / k) / (k - 1)));
      g.goodput_sd_log = std::sqrt(std::max(0.0, (goodput_sum2 - goodput_sum * goodput_sum / k) / (k - 1)));
    }
  }
  if (obs.size() > 1) {
    double loo = 0;
    for (const FitObs& o : obs) {
      double f = std::exp((sum - std::log(o.act / o.est)) / (n - 1));
      loo += std::fabs(o.est * f - o.act) / o.act;
    }
    g.loo_mape_pct = 100 * loo / n;
    g.loo_ape_sum = loo;
  }
  return g;
}

}  // namespace

FitResult FitCorrections(const std::vector<Entry>& entries, const std::vector<Link>& links, const std::string& project,
                         const std::string& cluster, bool by_cluster) {
  FitResult out;
  std::unordered_map<std::string, const Entry*> by_id;
  for (const Entry& e : entries) by_id.emplace(e.id, &e);
  Comparison c = Compare(entries, links, project);
  // One ratio per pair: wall time, else GPU-hours (the same run-time error at a fixed GPU count).
  std::map<std::string, std::vector<FitObs>> groups;
  std::map<std::pair<std::string, std::string>, FitObs> gpu_hours_only;
  std::unordered_set<std::string> with_wall;
  std::unordered_map<std::string, double> step_r;  // actual id -> ln(estimated / actual tokens/s)
  // The group of an estimate: its GPU, or (by_cluster) its cluster tag and GPU joined by \x1f;
  // empty when it is left out.
  auto key_of = [&](const Entry& est) -> std::string {
    if (est.gpu.empty()) return "";
    if (cluster.empty() && !by_cluster) return est.gpu;
    for (const auto& [k, v] : est.tags) {
      if (k != "cluster") continue;
      if (by_cluster && !v.empty()) return v + "\x1f" + est.gpu;
      if (!by_cluster && v == cluster) return est.gpu;
    }
    return "";
  };
  std::unordered_set<std::string> untagged;
  for (const Pair& p : c.pairs) {
    const Entry* est = by_id[p.estimate_id];
    // A tco estimate's figures are months of serving plus training, not one run: not fitted.
    if (est->command == "tco") continue;
    if (p.metric == "tokens_per_s") {
      // Only a throughput the actual reports itself is its steady step: tokens / wall time (what
      // the comparison falls back to) already holds the time lost around the steps.
      const Entry* act = by_id[p.actual_id];
      if (act->metrics.tokens_per_s && p.estimated > 0 && p.actual > 0) {
        step_r[p.actual_id] = std::log(p.estimated / p.actual);  // a slower actual: a longer step
      }
      continue;
    }
    if (p.metric != "wall_s" && p.metric != "gpu_hours") continue;
    std::string key = key_of(*est);
    if (key.empty() && by_cluster && !est->gpu.empty()) untagged.insert(p.actual_id);
    if (key.empty() || !(p.estimated > 0)) continue;
    if (p.metric == "wall_s") {
      groups[key].push_back({p.estimated, p.actual, p.actual_id});
      with_wall.insert(p.actual_id);
    } else {
      gpu_hours_only[{key, p.actual_id}] = {p.estimated, p.actual, p.actual_id};
    }
  }
  for (const auto& [k, o] : gpu_hours_only) {
    if (!with_wall.count(k.second)) groups[k.first].push_back(o);
  }
  double before_sum = 0, loo_sum = 0;
  out.pairs_without_cluster = static_cast<int64_t>(untagged.size());
  for (const auto& [key, obs] : groups) {
    FitGroup g = FitOneGroup(obs, step_r);
    g.key = key;
    if (size_t sep = key.find('\x1f'); by_cluster && sep != std::string::npos) {
      g.cluster = key.substr(0, sep);
      g.key = key.substr(sep + 1);
    }
    if (g.loo_mape_pct) {
      out.loo_pairs += g.pairs;
      before_sum += g.before_ape_sum;
      loo_sum += g.loo_ape_sum;
    }
    out.pairs += g.pairs;
    out.groups.push_back(std::move(g));
  }
  if (out.loo_pairs > 0) {
    out.mape_before_pct = 100 * before_sum / static_cast<double>(out.loo_pairs);
    out.loo_mape_pct = 100 * loo_sum / static_cast<double>(out.loo_pairs);
  }
  return out;
}

BudgetStatus CheckBudget(const Budget& b, const std::vector<Entry>& entries, const std::vector<Link>& links,
                         const std::string& now, const std::string& replacing_run) {
  BudgetStatus s;
  s.budget = b;
  std::optional<double> lo, hi;
  if (b.period != Period::kTotal) {
    using namespace std::chrono;
    std::optional<double> t = ParseIsoTime(now);
    if (t) {
      sys_days day{days{static_cast<int64_t>(std::floor(*t / 86400.0))}};
      year_month_day ymd{day};
      unsigned first_month = static_cast<unsigned>(ymd.month());
      unsigned months = 1;
      if (b.period == Period::kQuarter) {
        first_month = (first_month - 1) / 3 * 3 + 1;
        months = 3;
      }
      year_month start{ymd.year(), month{first_month}};
      year_month end = start + std::chrono::months{months};
      lo = static_cast<double>(sys_days{start / 1}.time_since_epoch().count()) * 86400.0;
      hi = static_cast<double>(sys_days{end / 1}.time_since_epoch().count()) * 86400.0;
      s.window_start = FormatIsoTime(*lo);
      s.window_end = FormatIsoTime(*hi);
    }
  }
  auto in_window = [&](const std::string& when) {
    if (!lo) return true;
    std::optional<double> t = ParseIsoTime(when);
    return t && *t >= *lo && *t < *hi;
  };
  std::unordered_map<std::string, const Entry*> match = MatchActuals(entries, links);
  std::unordered_set<const Entry*> matched;
  for (const auto& [id, e] : match) {
    if (e != nullptr) matched.insert(e);
  }
  std::unordered_map<std::string, const Entry*> latest_estimate;  // by run name
  for (const Entry& e : entries) {
    if (e.project != b.project) continue;
    if (e.kind == Kind::kActual) {
      const std::string& when = !e.end.empty() ? e.end : !e.start.empty() ? e.start : e.created_at;
      if (!in_window(when)) continue;
      if (e.metrics.usd) {
        s.spent += *e.metrics.usd;
      } else {
        ++s.actuals_without_usd;
      }
    } else if (!e.run_name.empty() && in_window(e.created_at)) {
      latest_estimate[e.run_name] = &e;  // entries are oldest first
    }
  }
  for (const auto& [run, e] : latest_estimate) {
    if (!replacing_run.empty() && run == replacing_run) continue;
    if (!matched.count(e) && e->metrics.usd) s.committed += *e->metrics.usd;
  }
  s.left = b.usd - s.spent - s.committed;
  s.exceeded = s.spent > b.usd;
  s.over_committed = s.spent + s.committed > b.usd;
  return s;
}

}  // namespace dlcost::ledger
