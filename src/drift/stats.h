// The two-sample statistics behind the drift monitor, on sorted samples and count vectors.
// Every function is deterministic: reductions run in a fixed order. Formulas and sources:
// docs/drift.md.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace dlcost::drift {

// Sorts finite values ascending (LSD radix sort on order-preserving 64-bit keys). NaNs must
// have been removed.
void SortValues(std::vector<double>& v);

// Two-sample Kolmogorov-Smirnov statistic D = sup |F_a - F_b|, exact, on ascending samples.
double KsStatistic(std::span<const double> a, std::span<const double> b);
// Kolmogorov's limiting tail Q_KS(lambda) = 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 lambda^2).
double KolmogorovQ(double lambda);
// Two-sided p-value of D for samples of n and m values, with Stephens' small-sample correction
// lambda = (sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) D, ne = n m / (n + m).
double KsPValue(double d, int64_t n, int64_t m);

// First Wasserstein distance between the empirical distributions of two ascending samples,
// in the samples' unit.
double Wasserstein1(std::span<const double> a, std::span<const double> b);

// Edges of up to `bins` bins at the reference's quantiles (k / bins); duplicates removed.
// Bin i holds values in (edge[i-1], edge[i]]; the first bin is open below, the last above.
std::vector<double> QuantileEdges(std::span<const double> sorted_ref, int bins);
// Counts of an ascending sample in the bins defined by `edges` (edges.size() + 1 bins).
std::vector<int64_t> BinCounts(std::span<const double> sorted, const std::vector<double>& edges);

// Population stability index sum (c_i - r_i) ln(c_i / r_i) over bin shares, with empty bins
// floored at kPsiFloor.
inline constexpr double kPsiFloor = 1e-4;  // our choice, see docs/drift.md
double Psi(std::span<const int64_t> ref_counts, std::span<const int64_t> cur_counts);

// Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a), a > 0, x >= 0.
double RegularizedGammaQ(double a, double x);

struct ChiSquare {
  double statistic = 0;
  int df = 0;
  double p_value = 1;
};
// Pearson chi-square test of homogeneity on the 2 x k table (reference counts, current counts);
// categories empty on both sides are dropped.
ChiSquare ChiSquareHomogeneity(std::span<const int64_t> ref_counts, std::span<const int64_t> cur_counts);

// Jensen-Shannon distance (square root of the divergence, natural log; in [0, sqrt(ln 2)]).
double JensenShannonDistance(std::span<const int64_t> ref_counts, std::span<const int64_t> cur_counts);

// Unbiased uniform integer in [0, n) from a 64-bit generator (rejection), platform independent.
template <typename Rng>
uint64_t UniformBelow(Rng& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

}  // namespace dlcost::drift
