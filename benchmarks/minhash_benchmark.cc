// Speed of the audit's per-document work: normalisation + word hashes + 5-word shingles +
// 256-permutation MinHash signature + LSH band keys, on ~1 KB documents (the target:
// >= 80,000 documents/s per core). items_per_second is documents per second on one thread.
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "audit/internal.h"
#include "dlcost/audit.h"

namespace {

using namespace dlcost::audit;

// 1,000 documents of about 1 KB: random words of 2-9 letters.
std::vector<std::string> Corpus() {
  std::mt19937_64 rng(1);
  std::vector<std::string> docs;
  for (int d = 0; d < 1000; ++d) {
    std::string s;
    while (s.size() < 1024) {
      int len = 2 + static_cast<int>(rng() % 8);
      for (int i = 0; i < len; ++i) s.push_back(static_cast<char>('a' + rng() % 26));
      s.push_back(rng() % 12 == 0 ? '.' : ' ');
      if (rng() % 30 == 0) s += "The ";
    }
    docs.push_back(std::move(s));
  }
  return docs;
}

void BM_SignatureEndToEnd(benchmark::State& state) {
  const int num_perm = static_cast<int>(state.range(0));
  std::vector<std::string> docs = Corpus();
  MinHasher mh(num_perm, 1);
  LshParams lsh = ChooseLsh(0.8, num_perm).value();
  DocumentFeatures f;
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const std::string& d = docs[i++ % docs.size()];
    ComputeFeatures(d, 5, mh, lsh, &f);
    benchmark::DoNotOptimize(f.band_keys.data());
    bytes += static_cast<int64_t>(d.size());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_SignatureEndToEnd)->Arg(256)->Arg(128);

void BM_MinHashOnly(benchmark::State& state) {
  std::vector<std::string> docs = Corpus();
  MinHasher mh(256, 1);
  std::vector<std::vector<uint64_t>> shingles(docs.size());
  std::vector<uint64_t> words;
  for (size_t d = 0; d < docs.size(); ++d) {
    WordHashes(docs[d], &words);
    RawShingles(words, 5, &shingles[d]);
  }
  std::vector<uint32_t> sig(256);
  size_t i = 0;
  for (auto _ : state) {
    const std::vector<uint64_t>& s = shingles[i++ % shingles.size()];
    mh.Sign(s.data(), s.size(), sig.data());
    benchmark::DoNotOptimize(sig.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MinHashOnly);

void BM_NormalizeAndShingle(benchmark::State& state) {
  std::vector<std::string> docs = Corpus();
  std::vector<uint64_t> words, shingles;
  size_t i = 0;
  for (auto _ : state) {
    WordHashes(docs[i++ % docs.size()], &words);
    RawShingles(words, 5, &shingles);
    benchmark::DoNotOptimize(shingles.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NormalizeAndShingle);

}  // namespace

BENCHMARK_MAIN();
