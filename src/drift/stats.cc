#include "drift/stats.h"

#include <boost/math/special_functions/gamma.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numbers>

namespace dlcost::drift {
namespace {

// Order-preserving map of a double onto an unsigned key: flip the sign bit of non-negative
// numbers, all bits of negative ones (IEEE 754 layout).
inline uint64_t KeyOf(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return (u >> 63) ? ~u : (u | 0x8000000000000000ULL);
}
inline double ValueOf(uint64_t k) {
  uint64_t u = (k >> 63) ? (k & 0x7FFFFFFFFFFFFFFFULL) : ~k;
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

}  // namespace

void SortValues(std::vector<double>& v) {
  const size_t n = v.size();
  if (n < 512) {
    std::sort(v.begin(), v.end());
    return;
  }
  // LSD radix sort with 11-bit digits: 6 passes over 64-bit keys, histograms in L2.
  constexpr int kBits = 11, kPasses = 6;
  constexpr uint64_t kMask = (1u << kBits) - 1;
  std::vector<uint64_t> a(n), b(n);
  std::vector<std::array<size_t, 1u << kBits>> hist(kPasses);
  for (auto& h : hist) h.fill(0);
  for (size_t i = 0; i < n; ++i) {
    uint64_t k = KeyOf(v[i]);
    a[i] = k;
    for (int p = 0; p < kPasses; ++p) ++hist[p][(k >> (kBits * p)) & kMask];
  }
  uint64_t* src = a.data();
  uint64_t* dst = b.data();
  for (int p = 0; p < kPasses; ++p) {
    auto& h = hist[p];
    const int shift = kBits * p;
    // A pass where every key has the same digit changes nothing.
    if (h[(src[0] >> shift) & kMask] == n) continue;
    size_t offset = 0;
    for (size_t& c : h) {
      size_t t = c;
      c = offset;
      offset += t;
    }
    for (size_t i = 0; i < n; ++i) {
      uint64_t k = src[i];
      dst[h[(k >> shift) & kMask]++] = k;
    }
    std::swap(src, dst);
  }
  for (size_t i = 0; i < n; ++i) v[i] = ValueOf(src[i]);
}

double KsStatistic(std::span<const double> a, std::span<const double> b) {
  const int64_t n = static_cast<int64_t>(a.size());
  const int64_t m = static_cast<int64_t>(b.size());
  if (n == 0 || m == 0) return 0;
  int64_t i = 0, j = 0;
  // Compare i/n with j/m exactly as integers: |i m - j n|, at most n m (fits in 64 bits for
  // samples below about 3e9 values each).
  int64_t best = 0;
  while (i < n && j < m) {
    double x = std::min(a[i], b[j]);
    while (i < n && a[i] <= x) ++i;
    while (j < m && b[j] <= x) ++j;
    int64_t diff = i * m - j * n;
    if (diff < 0) diff = -diff;
    best = std::max(best, diff);
  }
  return static_cast<double>(best) / (static_cast<double>(n) * static_cast<double>(m));
}

// Kept by hand: Boost.Math's Kolmogorov-Smirnov distribution arrived in Boost 1.75, and Debian 12
// ships 1.74.
double KolmogorovQ(double lambda) {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    // Small lambda: the equivalent theta-function form converges fast (Press et al., Numerical
    // Recipes, 3rd ed., section 6.14, Kolmogorov-Smirnov distribution):
    // P = sqrt(2 pi) / lambda sum exp(-(2j-1)^2 pi^2 / (8 lambda^2)), Q = 1 - P.
    const double y = std::exp(-std::numbers::pi * std::numbers::pi / (8 * lambda * lambda));
    double sum = 0;
    for (int j = 1; j <= 50; ++j) {
      double term = std::pow(y, static_cast<double>((2 * j - 1) * (2 * j - 1)));
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    double p = std::sqrt(2 * std::numbers::pi) / lambda * sum;
    return std::clamp(1 - p, 0.0, 1.0);
  }
  double sum = 0;
  for (int j = 1; j <= 100; ++j) {
    double term = 2 * std::exp(-2.0 * j * j * lambda * lambda);
    sum += (j % 2 == 1) ? term : -term;
    if (term < 1e-17 * sum) break;
  }
  return std::clamp(sum, 0.0, 1.0);
}

double KsPValue(double d, int64_t n, int64_t m) {
  if (n <= 0 || m <= 0) return 1;
  const double ne = static_cast<double>(n) * static_cast<double>(m) / static_cast<double>(n + m);
  const double s = std::sqrt(ne);
  // Small-sample correction of Stephens (1970), J. R. Stat. Soc. B 32:115-122, as given in
  // Numerical Recipes 3rd ed., section 14.3.3.
  return KolmogorovQ((s + 0.12 + 0.11 / s) * d);
}

double Wasserstein1(std::span<const double> a, std::span<const double> b) {
  const size_t n = a.size(), m = b.size();
  if (n == 0 || m == 0) return 0;
  const double inv_n = 1.0 / static_cast<double>(n);
  const double inv_m = 1.0 / static_cast<double>(m);
  size_t i = 0, j = 0;
  double x_prev = std::min(a[0], b[0]);
  double sum = 0;
  while (i < n || j < m) {
    double x;
    if (i == n) x = b[j];
    else if (j == m) x = a[i];
    else x = std::min(a[i], b[j]);
    // |F_a - F_b| is constant on [x_prev, x).
    double fa = static_cast<double>(i) * inv_n;
    double fb = static_cast<double>(j) * inv_m;
    sum += std::fabs(fa - fb) * (x - x_prev);
    while (i < n && a[i] <= x) ++i;
    while (j < m && b[j] <= x) ++j;
    x_prev = x;
  }
  return sum;
}

std::vector<double> QuantileEdges(std::span<const double> s, int bins) {
  std::vector<double> edges;
  if (s.empty() || bins < 2) return edges;
  const double last = static_cast<double>(s.size() - 1);
  for (int k = 1; k < bins; ++k) {
    // Linear interpolation between order statistics (Hyndman and Fan 1996, definition 7).
    double h = last * k / bins;
    size_t lo = static_cast<size_t>(std::floor(h));
    size_t hi = std::min(lo + 1, s.size() - 1);
    double e = s[lo] + (h - static_cast<double>(lo)) * (s[hi] - s[lo]);
    if (edges.empty() || e > edges.back()) edges.push_back(e);
  }
  // An edge at the maximum would leave the last bin empty on the reference side.
  while (!edges.empty() && edges.back() >= s.back()) edges.pop_back();
  return edges;
}

std::vector<int64_t> BinCounts(std::span<const double> sorted, const std::vector<double>& edges) {
  std::vector<int64_t> counts(edges.size() + 1, 0);
  size_t prev = 0;
  for (size_t k = 0; k < edges.size(); ++k) {
    size_t ub = static_cast<size_t>(std::upper_bound(sorted.begin(), sorted.end(), edges[k]) - sorted.begin());
    counts[k] = static_cast<int64_t>(ub - prev);
    prev = ub;
  }
  counts.back() = static_cast<int64_t>(sorted.size() - prev);
  return counts;
}

namespace {
double Total(std::span<const int64_t> c) {
  int64_t t = 0;
  for (int64_t x : c) t += x;
  return static_cast<double>(t);
}
}  // namespace

double Psi(std::span<const int64_t> ref_counts, std::span<const int64_t> cur_counts) {
  const double nr = Total(ref_counts), nc = Total(cur_counts);
  if (nr <= 0 || nc <= 0) return 0;
  double psi = 0;
  const size_t k = std::max(ref_counts.size(), cur_counts.size());
  for (size_t i = 0; i < k; ++i) {
    double r = (i < ref_counts.size() ? ref_counts[i] : 0) / nr;
    double c = (i < cur_counts.size() ? cur_counts[i] : 0) / nc;
    r = std::max(r, kPsiFloor);
    c = std::max(c, kPsiFloor);
    psi += (c - r) * std::log(c / r);
  }
  return psi;
}

double RegularizedGammaQ(double a, double x) {
  if (!(a > 0) || !(x >= 0) || x == 0) return 1;  // also NaN
  if (std::isinf(x)) return 0;
  // Boost.Math's gamma_q (its own series, continued fraction and asymptotic expansions, with
  // documented error bounds), with errors returned as values, not thrown: the result is a
  // probability, so it is clamped, and a NaN from a failed evaluation reads as "no evidence".
  using namespace boost::math::policies;
  using NoThrow = policy<domain_error<errno_on_error>, pole_error<errno_on_error>, overflow_error<errno_on_error>,
                         underflow_error<ignore_error>, evaluation_error<errno_on_error>>;
  double q = boost::math::gamma_q(a, x, NoThrow());
  if (std::isnan(q)) return 1;
  return std::clamp(q, 0.0, 1.0);
}

ChiSquare ChiSquareHomogeneity(std::span<const int64_t> ref_counts, std::span<const int64_t> cur_counts) {
  ChiSquare out;
  const double nr = Total(ref_counts), nc = Total(cur_counts);
  if (nr <= 0 || nc <= 0) return out;
  const double n = nr + nc;
  const size_t k = std::max(ref_counts.size(), cur_counts.size());
  int nonempty = 0;
  for (size_t i = 0; i < k; ++i) {
    double r = i < ref_counts.size() ? ref_counts[i] : 0;
    double c = i < cur_counts.size() ? cur_counts[i] : 0;
    if (r + c <= 0) continue;
    ++nonempty;
    double er = nr * (r + c) / n, ec = nc * (r + c) / n;
    out.statistic += (r - er) * (r - er) / er + (c - ec) * (c - ec) / ec;
  }
  out.df = std::max(0, nonempty - 1);
  out.p_value = out.df == 0 ? 1.0 : RegularizedGammaQ(out.df / 2.0, out.statistic / 2.0);
  return out;
}

double JensenShannonDistance(std::span<const int64_t> ref_counts, std::span<const int64_t> cur_counts) {
  const double nr = Total(ref_counts), nc = Total(cur_counts);
  if (nr <= 0 || nc <= 0) return 0;
  const size_t k = std::max(ref_counts.size(), cur_counts.size());
  double js = 0;
  for (size_t i = 0; i < k; ++i) {
    double p = (i < ref_counts.size() ? ref_counts[i] : 0) / nr;
    double q = (i < cur_counts.size() ? cur_counts[i] : 0) / nc;
    double m = 0.5 * (p + q);
    if (p > 0) js += 0.5 * p * std::log(p / m);
    if (q > 0) js += 0.5 * q * std::log(q / m);
  }
  return std::sqrt(std::max(0.0, js));
}

}  // namespace dlcost::drift
