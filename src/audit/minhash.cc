// MinHash signatures, LSH band/row choice and band keys.
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "audit/internal.h"
#include "dlcost/audit.h"

namespace dlcost::audit {
namespace {

// sig[i] = min(sig[i], a[i] * x + b[i] mod 2^32) for every shingle x. The inner loop is over
// the permutations, contiguous and branch-free so the compiler vectorises it; on x86-64 GCC
// also builds an AVX2 clone picked at run time.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
__attribute__((target_clones("avx2", "default")))
#endif
void MinUpdate(const uint32_t* __restrict a, const uint32_t* __restrict b, const uint64_t* __restrict xs, size_t n,
               uint32_t* __restrict sig, int num_perm) {
  for (size_t s = 0; s < n; ++s) {
    const uint32_t x = static_cast<uint32_t>(xs[s] ^ (xs[s] >> 32));
    for (int i = 0; i < num_perm; ++i) {
      uint32_t v = a[i] * x + b[i];
      sig[i] = v < sig[i] ? v : sig[i];
    }
  }
}

// Simpson's rule for the integral of the candidate probability over [0, t].
double FalseCandidateArea(double t, int bands, int rows) {
  const int n = 200;  // even
  double h = t / n, sum = 0;
  for (int i = 0; i <= n; ++i) {
    double w = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
    sum += w * LshCandidateProbability(i * h, bands, rows);
  }
  return sum * h / 3;
}

}  // namespace

MinHasher::MinHasher(int num_perm, uint64_t seed) {
  a_.resize(num_perm);
  b_.resize(num_perm);
  uint64_t state = seed;
  for (int i = 0; i < num_perm; ++i) {
    a_[i] = static_cast<uint32_t>(SplitMix64(&state)) | 1u;  // odd: a bijection mod 2^32
    b_[i] = static_cast<uint32_t>(SplitMix64(&state));
  }
}

void MinHasher::Sign(const uint64_t* shingles, size_t n, uint32_t* sig) const {
  const int k = num_perm();
  for (int i = 0; i < k; ++i) sig[i] = std::numeric_limits<uint32_t>::max();
  MinUpdate(a_.data(), b_.data(), shingles, n, sig, k);
}

double LshCandidateProbability(double s, int bands, int rows) {
  return 1.0 - std::pow(1.0 - std::pow(s, rows), bands);
}

Result<LshParams> ChooseLsh(double threshold, int num_perm, double min_recall) {
  if (!(threshold > 0 && threshold <= 1)) return InvalidInput(fmt::format("--threshold: {} is outside (0, 1]", threshold));
  if (num_perm < 1 || num_perm > 4096) return InvalidInput(fmt::format("--num-perm: {} is outside 1..4096", num_perm));
  LshParams best;
  bool found = false;
  for (int r = 1; r <= num_perm; ++r) {
    double sr = std::pow(threshold, r);
    int b;
    if (sr >= 1.0) {
      b = 1;
    } else {
      double q = std::log1p(-sr);  // log(1 - t^r) < 0
      if (q == 0) break;           // t^r below double resolution: more rows cannot help
      // Bands needed, capped at num_perm + 1 (more can never fit, and a larger double does not
      // convert to int).
      double needed = std::ceil(std::log(1.0 - min_recall) / q - 1e-12);
      b = static_cast<int>(std::fmin(needed, num_perm + 1.0));
      b = std::max(b, 1);
      while (b > 1 && LshCandidateProbability(threshold, b - 1, r) >= min_recall) --b;
      while (LshCandidateProbability(threshold, b, r) < min_recall && static_cast<int64_t>(b) * r <= num_perm) ++b;
    }
    if (static_cast<int64_t>(b) * r > num_perm) continue;
    double area = FalseCandidateArea(threshold, b, r);
    if (!found || area < best.false_candidate_area - 1e-15 ||
        (std::abs(area - best.false_candidate_area) <= 1e-15 && b * r < best.bands * best.rows)) {
      best = {b, r, LshCandidateProbability(threshold, b, r), area};
      found = true;
    }
  }
  if (!found) {
    return InvalidInput(fmt::format("--threshold {}: {} permutations cannot reach recall {} at the threshold; "
                                    "raise --num-perm", threshold, num_perm, min_recall));
  }
  return best;
}

void BandKeys(const uint32_t* sig, const LshParams& p, uint64_t* out) {
  for (int k = 0; k < p.bands; ++k) {
    uint64_t h = Fmix64(static_cast<uint64_t>(k + 1) * 0x9e3779b97f4a7c15ULL);
    const uint32_t* v = sig + static_cast<size_t>(k) * p.rows;
    for (int j = 0; j < p.rows; ++j) h = Fmix64(h ^ v[j]) + static_cast<uint64_t>(j);
    out[k] = h;
  }
}

void ComputeFeatures(std::string_view text, int ngram, const MinHasher& mh, const LshParams& lsh,
                     DocumentFeatures* f) {
  WordHashes(text, &f->words);
  f->key = ContentKeyOf(f->words);
  RawShingles(f->words, ngram, &f->shingles);
  f->signature.resize(mh.num_perm());
  mh.Sign(f->shingles.data(), f->shingles.size(), f->signature.data());
  f->band_keys.resize(lsh.bands);
  BandKeys(f->signature.data(), lsh, f->band_keys.data());
}

}  // namespace dlcost::audit
