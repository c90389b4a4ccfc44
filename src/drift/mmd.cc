// Multivariate drift: maximum mean discrepancy (Gretton et al. 2012, JMLR 13:723-773) with a
// Gaussian RBF kernel whose bandwidth is the median pairwise distance (the "median heuristic",
// same paper, section 8), and a seeded permutation test on a subsample of each side.
#include <algorithm>
#include <cmath>
#include <random>

#include <fmt/format.h>

#include "dlcost/drift.h"
#include "drift/stats.h"

namespace dlcost::drift {
namespace {

// k of n indices in increasing order, each subset equally likely (Knuth, TAOCP vol. 2,
// 3.4.2, Algorithm S: selection sampling).
std::vector<int64_t> SelectionSample(int64_t n, int64_t k, std::mt19937_64& rng) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(k));
  for (int64_t i = 0; i < n && static_cast<int64_t>(out.size()) < k; ++i) {
    double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    if (static_cast<double>(n - i) * u < static_cast<double>(k - static_cast<int64_t>(out.size()))) out.push_back(i);
  }
  return out;
}

// Unbiased MMD^2 from the kernel matrix (row-major, N x N) and group labels (true: reference).
double Mmd2(const std::vector<double>& k, size_t n_total, const std::vector<uint8_t>& is_ref, double m, double n) {
  double sxx = 0, syy = 0, sxy = 0;
  for (size_t i = 0; i < n_total; ++i) {
    const double* row = &k[i * n_total];
    const bool xi = is_ref[i];
    double rx = 0, ry = 0;
    for (size_t j = i + 1; j < n_total; ++j) {
      if (is_ref[j]) rx += row[j];
      else ry += row[j];
    }
    if (xi) {
      sxx += rx;
      sxy += ry;
    } else {
      syy += ry;
      sxy += rx;
    }
  }
  return 2 * sxx / (m * (m - 1)) + 2 * syy / (n * (n - 1)) - 2 * sxy / (m * n);
}

}  // namespace

MmdResult MmdTest(const Reference& ref, const Frame& cur, const std::vector<std::string>& columns,
                  const std::vector<int64_t>* rows, const MmdOptions& opts) {
  MmdResult out;
  const Frame& rf = ref.frame();
  struct Use {
    const Column* rc;
    const Column* cc;
    double mean, sd;
  };
  std::vector<Use> use;
  for (const std::string& name : columns) {
    const Column* rc = rf.Find(name);
    const Column* cc = cur.Find(name);
    if (rc == nullptr || cc == nullptr || rc->type == ColumnType::kCategorical || !rc->problem.empty() ||
        !cc->problem.empty() || cc->type != rc->type) {
      continue;
    }
    const Reference::Numeric* n = ref.numeric(static_cast<size_t>(rc - rf.columns.data()));
    if (n == nullptr || n->sorted.empty()) continue;
    use.push_back({rc, cc, n->mean, n->std > 0 ? n->std : 1.0});
    out.columns.push_back(name);
  }
  if (use.empty()) {
    out.problem = "no numeric column can be compared";
    return out;
  }
  const int64_t cur_rows = rows != nullptr ? static_cast<int64_t>(rows->size()) : cur.rows;
  if (rf.rows < 2 || cur_rows < 2) {
    out.problem = "MMD needs at least 2 rows on each side";
    return out;
  }
  std::mt19937_64 rng(opts.seed);
  std::vector<int64_t> ri = SelectionSample(rf.rows, std::min(opts.sample_rows, rf.rows), rng);
  std::vector<int64_t> ci = SelectionSample(cur_rows, std::min(opts.sample_rows, cur_rows), rng);
  if (rows != nullptr) {
    for (int64_t& i : ci) i = (*rows)[static_cast<size_t>(i)];
  }
  const size_t m = ri.size(), n = ci.size(), total = m + n, d = use.size();
  // Standardised points (reference mean and sd); a missing value sits at the reference mean.
  std::vector<double> z(total * d);
  for (size_t p = 0; p < total; ++p) {
    const bool is_ref = p < m;
    const size_t row = static_cast<size_t>(is_ref ? ri[p] : ci[p - m]);
    for (size_t c = 0; c < d; ++c) {
      double v = (is_ref ? use[c].rc : use[c].cc)->values[row];
      z[p * d + c] = std::isnan(v) ? 0.0 : (v - use[c].mean) / use[c].sd;
    }
  }
  std::vector<double> k(total * total, 0.0);
  std::vector<double> pair_d2;
  pair_d2.reserve(total * (total - 1) / 2);
  for (size_t i = 0; i < total; ++i) {
    for (size_t j = i + 1; j < total; ++j) {
      double s = 0;
      for (size_t c = 0; c < d; ++c) {
        double t = z[i * d + c] - z[j * d + c];
        s += t * t;
      }
      k[i * total + j] = s;
      pair_d2.push_back(s);
    }
  }
  auto mid = pair_d2.begin() + static_cast<std::ptrdiff_t>(pair_d2.size() / 2);
  std::nth_element(pair_d2.begin(), mid, pair_d2.end());
  double sigma2 = *mid;  // squared median distance (the upper median for an even count)
  if (!(sigma2 > 0)) sigma2 = 1;
  out.bandwidth = std::sqrt(sigma2);
  for (size_t i = 0; i < total; ++i) {
    for (size_t j = i + 1; j < total; ++j) k[i * total + j] = std::exp(-k[i * total + j] / (2 * sigma2));
  }
  std::vector<uint8_t> label(total, 0);
  for (size_t i = 0; i < m; ++i) label[i] = 1;
  const double dm = static_cast<double>(m), dn = static_cast<double>(n);
  out.statistic = Mmd2(k, total, label, dm, dn);
  int at_least = 0;
  for (int p = 0; p < opts.permutations; ++p) {
    for (size_t i = total - 1; i > 0; --i) std::swap(label[i], label[UniformBelow(rng, i + 1)]);
    at_least += Mmd2(k, total, label, dm, dn) >= out.statistic;
  }
  // Permutation p-value counting the observed labelling (Phipson and Smyth 2010, Stat. Appl.
  // Genet. Mol. Biol. 9(1):39).
  out.p_value = (1.0 + at_least) / (1.0 + opts.permutations);
  out.rows_reference = static_cast<int64_t>(m);
  out.rows_current = static_cast<int64_t>(n);
  out.drift = out.p_value < opts.alpha;
  out.ok = true;
  return out;
}

}  // namespace dlcost::drift
