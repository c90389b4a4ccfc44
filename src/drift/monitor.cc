// Compare: one test per column under the policy, then the dataset verdict. Also the reference
// chunk thresholds (mean + 3 sigma) used by the window policy.
#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "dlcost/drift.h"
#include "dlcost/strings.h"
#include "drift/parallel.h"
#include "drift/stats.h"

namespace dlcost::drift {
namespace {

// Normalising a Wasserstein distance by a zero standard deviation (a constant reference) would
// divide by zero; below this floor the distance is divided by the floor instead. Our choice.
constexpr double kMinReferenceStd = 1e-3;

bool IsNumericType(ColumnType t) { return t != ColumnType::kCategorical; }

bool Applies(Method m, ColumnType t) {
  switch (m) {
    case Method::kKs:
    case Method::kWasserstein: return IsNumericType(t);
    case Method::kChiSquare:
    case Method::kJensenShannon: return !IsNumericType(t);
    default: return true;
  }
}

Method AutoMethod(const Policy& p, ColumnType t, int64_t ref_rows) {
  const bool small = ref_rows <= p.small_reference_rows;
  if (IsNumericType(t)) return small ? Method::kKs : Method::kWasserstein;
  return small ? Method::kChiSquare : Method::kJensenShannon;
}

// The method for a column, or kAuto with `*note` set when the requested test does not apply.
Method ResolveMethod(const Policy& p, const std::string& name, ColumnType t, int64_t ref_rows, bool chunk_mode,
                     std::string* note) {
  Method m = p.method;
  auto it = p.columns.find(name);
  if (it != p.columns.end() && it->second.method && *it->second.method != Method::kAuto) {
    if (!Applies(*it->second.method, t)) {
      *note = fmt::format("test {} does not apply to a {} column", MethodName(*it->second.method), ColumnTypeName(t));
      return Method::kAuto;
    }
    m = *it->second.method;
  } else if (m == Method::kAuto || !Applies(m, t)) {
    m = AutoMethod(p, t, ref_rows);
  }
  if (chunk_mode && m == Method::kChiSquare) m = Method::kJensenShannon;
  return m;
}

double DefaultThreshold(const Policy& p, Method m) {
  switch (m) {
    case Method::kKs:
    case Method::kChiSquare: return p.p_value;
    case Method::kPsi: return p.psi;
    default: return p.distance;
  }
}

struct Job {
  const Column* rc = nullptr;
  size_t ri = 0;
  const Column* cc = nullptr;
  ColumnResult res;
  bool chunk = false;  // threshold from reference chunks: drift when statistic > threshold
};

std::string EmptyReason(const Frame& cur, const std::vector<int64_t>* rows) {
  if (rows != nullptr) return rows->empty() ? "empty window" : "all values missing in this window";
  return cur.rows == 0 ? fmt::format("{} has no rows", cur.path)
                       : fmt::format("all values missing in {}", cur.path);
}

void RunNumeric(const Reference& ref, const Frame& cur, const Policy& policy, const std::vector<int64_t>* rows,
                Job* job) {
  ColumnResult& r = job->res;
  const Reference::Numeric* rn = ref.numeric(job->ri);
  if (rn == nullptr || rn->sorted.empty()) {
    r.note = fmt::format("all values missing in {}", ref.frame().path);
    return;
  }
  std::vector<double> v;
  const std::vector<double>& src = job->cc->values;
  if (rows != nullptr) {
    v.reserve(rows->size());
    for (int64_t i : *rows) {
      double x = src[static_cast<size_t>(i)];
      if (!std::isnan(x)) v.push_back(x);
    }
  } else {
    v.reserve(src.size());
    for (double x : src) {
      if (!std::isnan(x)) v.push_back(x);
    }
  }
  if (v.empty()) {
    r.note = EmptyReason(cur, rows);
    return;
  }
  SortValues(v);
  const std::span<const double> a(rn->sorted), b(v);
  switch (r.method) {
    case Method::kKs: {
      double d = KsStatistic(a, b);
      r.statistic = d;
      r.p_value = KsPValue(d, static_cast<int64_t>(a.size()), static_cast<int64_t>(b.size()));
      break;
    }
    case Method::kWasserstein:
      r.statistic = Wasserstein1(a, b) / std::max(rn->std, kMinReferenceStd);
      break;
    case Method::kPsi: {
      std::vector<double> edges = QuantileEdges(a, policy.psi_bins);
      std::vector<int64_t> rc = BinCounts(a, edges), cc = BinCounts(b, edges);
      r.statistic = Psi(rc, cc);
      break;
    }
    default: return;
  }
  r.tested = true;
}

void RunCategorical(const Reference& ref, const Frame& cur, const std::vector<int64_t>* rows, Job* job) {
  ColumnResult& r = job->res;
  const Reference::Categorical* rcat = ref.categorical(job->ri);
  int64_t ref_total = 0;
  if (rcat != nullptr) ref_total = std::accumulate(rcat->counts.begin(), rcat->counts.end(), int64_t{0});
  if (ref_total == 0) {
    r.note = fmt::format("all values missing in {}", ref.frame().path);
    return;
  }
  const Column& cc = *job->cc;
  std::vector<int64_t> cur_counts(cc.categories.size(), 0);
  int64_t cur_total = 0;
  auto add = [&](uint32_t code) {
    if (code != kMissingCode) {
      ++cur_counts[code];
      ++cur_total;
    }
  };
  if (rows != nullptr) {
    for (int64_t i : *rows) add(cc.codes[static_cast<size_t>(i)]);
  } else {
    for (uint32_t code : cc.codes) add(code);
  }
  if (cur_total == 0) {
    r.note = EmptyReason(cur, rows);
    return;
  }
  // Union of categories, ordered by name so that sums run in a fixed order.
  const std::vector<std::string>& ref_names = job->rc->categories;
  std::vector<std::pair<std::string_view, std::pair<int64_t, int64_t>>> cats;
  cats.reserve(ref_names.size() + cc.categories.size());
  for (size_t k = 0; k < ref_names.size(); ++k) cats.push_back({ref_names[k], {rcat->counts[k], 0}});
  for (size_t k = 0; k < cc.categories.size(); ++k) {
    if (cur_counts[k] == 0) continue;
    auto it = rcat->index.find(cc.categories[k]);
    if (it != rcat->index.end()) cats[it->second].second.second = cur_counts[k];
    else cats.push_back({cc.categories[k], {0, cur_counts[k]}});
  }
  std::sort(cats.begin(), cats.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<int64_t> rv, cv;
  rv.reserve(cats.size());
  cv.reserve(cats.size());
  for (const auto& c : cats) {
    if (c.second.first == 0 && c.second.second == 0) continue;
    rv.push_back(c.second.first);
    cv.push_back(c.second.second);
  }
  switch (r.method) {
    case Method::kChiSquare: {
      ChiSquare x = ChiSquareHomogeneity(rv, cv);
      r.statistic = x.statistic;
      r.p_value = x.p_value;
      break;
    }
    case Method::kJensenShannon: r.statistic = JensenShannonDistance(rv, cv); break;
    case Method::kPsi: r.statistic = Psi(rv, cv); break;
    default: return;
  }
  r.tested = true;
}

}  // namespace

Reference Reference::Prepare(const Frame& ref, int threads) {
  Reference out;
  out.frame_ = &ref;
  out.numeric_.resize(ref.columns.size());
  out.categorical_.resize(ref.columns.size());
  ParallelFor(ref.columns.size(), threads, [&](size_t i) {
    const Column& c = ref.columns[i];
    if (!c.problem.empty()) return;
    if (c.type == ColumnType::kCategorical) {
      Categorical& cat = out.categorical_[i];
      cat.counts.assign(c.categories.size(), 0);
      for (uint32_t code : c.codes) {
        if (code != kMissingCode) ++cat.counts[code];
      }
      for (size_t k = 0; k < c.categories.size(); ++k) cat.index.emplace(c.categories[k], static_cast<uint32_t>(k));
      return;
    }
    Numeric& n = out.numeric_[i];
    n.sorted.reserve(c.values.size() - static_cast<size_t>(c.missing));
    double sum = 0;
    for (double v : c.values) {
      if (std::isnan(v)) continue;
      n.sorted.push_back(v);
      sum += v;
    }
    if (n.sorted.empty()) return;
    n.mean = sum / static_cast<double>(n.sorted.size());
    double ss = 0;
    for (double v : n.sorted) ss += (v - n.mean) * (v - n.mean);
    n.std = std::sqrt(ss / static_cast<double>(n.sorted.size()));
    SortValues(n.sorted);
  });
  return out;
}

DriftResult Compare(const Reference& ref, const Frame& cur, const Policy& policy, const std::vector<int64_t>* rows,
                    int threads, const ChunkThresholds* chunk_thresholds) {
  const Frame& rf = ref.frame();
  DriftResult out;
  out.rows_reference = rf.rows;
  out.rows_current = rows != nullptr ? static_cast<int64_t>(rows->size()) : cur.rows;
  std::vector<Job> jobs;
  auto excluded = [&](const std::string& name) {
    return std::find(policy.exclude.begin(), policy.exclude.end(), name) != policy.exclude.end();
  };
  for (size_t i = 0; i < rf.columns.size(); ++i) {
    const Column& rc = rf.columns[i];
    if (excluded(rc.name)) continue;
    Job job;
    job.rc = &rc;
    job.ri = i;
    job.res.name = rc.name;
    job.res.type = rc.type;
    job.res.missing_reference = rc.missing;
    job.cc = cur.Find(rc.name);
    if (job.cc != nullptr) job.res.missing_current = job.cc->missing;
    if (!rc.problem.empty()) {
      job.res.note = rc.problem;
    } else if (job.cc == nullptr) {
      job.res.note = fmt::format("column '{}' is missing from {}", ForMessage(rc.name), cur.path);
    } else if (!job.cc->problem.empty()) {
      job.res.note = job.cc->problem;
    } else if (job.cc->type != rc.type) {
      job.res.note = fmt::format("column '{}' is {} in {} but {} in {}", ForMessage(rc.name), ColumnTypeName(rc.type), rf.path,
                                 ColumnTypeName(job.cc->type), cur.path);
    } else {
      std::string note;
      auto ct = chunk_thresholds ? chunk_thresholds->find(rc.name) : ChunkThresholds::const_iterator();
      if (chunk_thresholds && ct != chunk_thresholds->end()) {
        job.res.method = ct->second.first;
        job.res.threshold = ct->second.second;
        job.chunk = true;
      } else {
        job.res.method = ResolveMethod(policy, rc.name, rc.type, rf.rows, false, &note);
        if (job.res.method == Method::kAuto) job.res.note = note;
      }
    }
    jobs.push_back(std::move(job));
  }

  // Thresholds; Bonferroni divides the p-value threshold by the number of p-value tests.
  int p_tests = 0;
  for (const Job& j : jobs) p_tests += !j.chunk && j.res.method != Method::kAuto && IsPValueMethod(j.res.method);
  for (Job& j : jobs) {
    if (j.chunk || j.res.method == Method::kAuto) continue;
    auto it = policy.columns.find(j.res.name);
    double t = it != policy.columns.end() && it->second.threshold ? *it->second.threshold
                                                                  : DefaultThreshold(policy, j.res.method);
    if (policy.bonferroni && IsPValueMethod(j.res.method) && p_tests > 1) t /= p_tests;
    j.res.threshold = t;
  }

  ParallelFor(jobs.size(), threads, [&](size_t k) {
    Job& j = jobs[k];
    if (j.res.method == Method::kAuto) return;
    if (IsNumericType(j.rc->type)) RunNumeric(ref, cur, policy, rows, &j);
    else RunCategorical(ref, cur, rows, &j);
    ColumnResult& r = j.res;
    if (!r.tested) return;
    if (j.chunk) r.drift = *r.statistic > *r.threshold;
    else if (IsPValueMethod(r.method)) r.drift = *r.p_value < *r.threshold;
    else r.drift = *r.statistic >= *r.threshold;
    if (r.method == Method::kPsi) {
      r.note = *r.statistic >= policy.psi_significant ? "PSI band: significant change"
               : *r.statistic >= 0.1                  ? "PSI band: moderate change"
                                                      : "PSI band: no significant change";
    }
    if (j.chunk) r.note = "threshold from reference chunks (mean + 3 sd)";
  });

  for (Job& j : jobs) {
    if (!j.res.tested) {  // no test ran: no test, threshold or verdict to show
      j.res.method = Method::kAuto;
      j.res.threshold.reset();
    }
    out.tested += j.res.tested;
    out.drifted += j.res.drift;
    out.columns.push_back(std::move(j.res));
  }
  // Columns that cannot be compared because one side lacks them.
  for (const Column& c : cur.columns) {
    if (rf.Find(c.name) != nullptr || excluded(c.name)) continue;
    ColumnResult r;
    r.name = c.name;
    r.type = c.type;
    r.note = c.problem.empty() ? fmt::format("column '{}' is not in {}", ForMessage(c.name), rf.path) : c.problem;
    out.columns.push_back(std::move(r));
  }
  for (const std::string& name : rf.absent_columns) {
    ColumnResult r;
    r.name = name;
    r.note = fmt::format("column '{}' is not in {}", ForMessage(name), rf.path);
    out.columns.push_back(std::move(r));
  }
  out.drift_share = out.tested > 0 ? static_cast<double>(out.drifted) / out.tested : 0.0;
  out.dataset_drift = out.tested > 0 && out.drift_share >= policy.dataset_drift_share;
  return out;
}

ChunkThresholds ReferenceChunkThresholds(const Reference& ref, const Policy& policy,
                                         const std::vector<std::vector<int64_t>>& chunk_rows, int threads) {
  const Frame& rf = ref.frame();
  // Every column gets a distance method (chi-square becomes Jensen-Shannon).
  Policy p = policy;
  for (const Column& c : rf.columns) {
    std::string note;
    Method m = ResolveMethod(policy, c.name, c.type, rf.rows, true, &note);
    if (m != Method::kAuto) p.columns[c.name].method = m;
  }
  std::map<std::string, std::vector<double>> stats;
  std::map<std::string, Method> methods;
  for (const std::vector<int64_t>& rows : chunk_rows) {
    if (rows.empty()) continue;
    DriftResult r = Compare(ref, rf, p, &rows, threads);
    for (const ColumnResult& c : r.columns) {
      if (!c.tested) continue;
      stats[c.name].push_back(*c.statistic);
      methods[c.name] = c.method;
    }
  }
  ChunkThresholds out;
  for (const auto& [name, v] : stats) {
    if (v.size() < 2) continue;
    double mean = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    double ss = 0;
    for (double x : v) ss += (x - mean) * (x - mean);
    double sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
    // NannyML's standard-deviation thresholds: mean +/- 3 sd of the reference chunks' values
    // (NannyML documentation, "Thresholds"); a distance has no meaningful lower alert.
    out[name] = {methods[name], mean + 3 * sd};
  }
  return out;
}

}  // namespace dlcost::drift
