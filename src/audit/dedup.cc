// Exact and near-duplicate detection: content keys, MinHash + LSH candidates, exact Jaccard
// verification, union-find clusters.
#include <algorithm>
#include <fstream>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit/internal.h"
#include "dlcost/audit.h"

namespace dlcost::audit {
namespace {

constexpr int64_t kProgressEvery = 10000;

// All pairs of representatives that share a band bucket, as (i << 32 | j) with i < j,
// sorted and unique. `keys` holds `bands` keys per representative.
std::vector<uint64_t> CandidatePairs(const std::vector<uint64_t>& keys, int bands, size_t reps) {
  std::vector<uint64_t> pairs;
  std::vector<std::pair<uint64_t, uint32_t>> bucket(reps);
  for (int k = 0; k < bands; ++k) {
    for (size_t i = 0; i < reps; ++i) bucket[i] = {keys[i * bands + k], static_cast<uint32_t>(i)};
    std::sort(bucket.begin(), bucket.end());
    for (size_t s = 0; s < reps;) {
      size_t e = s + 1;
      while (e < reps && bucket[e].first == bucket[s].first) ++e;
      for (size_t x = s; x < e; ++x) {
        for (size_t y = x + 1; y < e; ++y) {
          pairs.push_back((static_cast<uint64_t>(bucket[x].second) << 32) | bucket[y].second);
        }
      }
      s = e;
    }
    if (pairs.size() > (size_t{1} << 24)) {  // keep the list compact while it grows
      std::sort(pairs.begin(), pairs.end());
      pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    }
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  return pairs;
}

}  // namespace

Status CheckDedupOptions(const DedupOptions& o) {
  if (!(o.threshold > 0 && o.threshold <= 1)) {
    return InvalidInput(fmt::format("--threshold: {} is outside (0, 1]", o.threshold));
  }
  if (o.ngram < 1 || o.ngram > 1000) return InvalidInput(fmt::format("--ngram: {} is outside 1..1000", o.ngram));
  if (o.num_perm < 1 || o.num_perm > 4096) {
    return InvalidInput(fmt::format("--num-perm: {} is outside 1..4096", o.num_perm));
  }
  if (!(o.tokens_per_word > 0 && o.tokens_per_word < 100)) return InvalidInput("--tokens-per-word: must be in (0, 100)");
  return Status::Ok();
}

Result<DedupResult> Dedup(const InputSpec& in, const DedupOptions& opt) {
  DLCOST_RETURN_IF_ERROR(CheckDedupOptions(opt));
  DedupResult r;
  DLCOST_ASSIGN_OR_RETURN(r.lsh, ChooseLsh(opt.threshold, opt.num_perm));
  MinHasher mh(opt.num_perm, opt.seed);
  const bool with_labels = !in.label_field.empty();

  // Pass 1: content keys, word counts and, for the first document of each exact group, band keys.
  std::unordered_map<ContentKey, int64_t, ContentKeyHash> first_of_key;
  std::vector<int64_t> exact_of;      // per document: the first document with the same key, or -1
  std::vector<int64_t> rep_doc;       // representative index -> document index
  std::vector<uint64_t> band_keys;    // bands per representative
  std::vector<int64_t> words;
  std::vector<int64_t> bytes;
  DocumentFeatures f;
  Status st = ReadRecords(
      in,
      [&](Record& rec) -> Status {
        int64_t doc = static_cast<int64_t>(r.ids.size());
        r.ids.push_back(rec.id);
        r.record_numbers.push_back(rec.number);
        if (with_labels) r.labels.push_back(rec.label.value_or(""));
        words.push_back(CountWords(rec.text));
        bytes.push_back(static_cast<int64_t>(rec.text.size()));
        WordHashes(rec.text, &f.words);
        ContentKey key = ContentKeyOf(f.words);
        auto [it, inserted] = first_of_key.emplace(key, doc);
        if (!inserted) {
          exact_of.push_back(it->second);
        } else {
          exact_of.push_back(-1);
          RawShingles(f.words, opt.ngram, &f.shingles);
          f.signature.resize(opt.num_perm);
          mh.Sign(f.shingles.data(), f.shingles.size(), f.signature.data());
          size_t at = band_keys.size();
          band_keys.resize(at + r.lsh.bands);
          BandKeys(f.signature.data(), r.lsh, band_keys.data() + at);
          rep_doc.push_back(doc);
        }
        if (opt.progress && (doc + 1) % kProgressEvery == 0) opt.progress("signatures", doc + 1);
        return Status::Ok();
      },
      &r.input);
  DLCOST_RETURN_IF_ERROR(st);
  r.documents = static_cast<int64_t>(r.ids.size());
  if (r.documents == 0) {
    return InvalidInput(fmt::format("{}: no usable record ({} skipped)", in.path, r.input.skipped));
  }
  if (r.documents >= (int64_t{1} << 32)) return InvalidInput(fmt::format("{}: more than 2^32 documents", in.path));
  first_of_key = {};

  // LSH candidates among representatives.
  std::vector<uint64_t> cand = CandidatePairs(band_keys, r.lsh.bands, rep_doc.size());
  band_keys = {};
  r.candidate_pairs = static_cast<int64_t>(cand.size());

  // Pass 2: sorted shingle sets of the documents in a candidate pair, then exact Jaccard.
  std::vector<std::pair<int64_t, double>> near;  // (index into cand, jaccard)
  if (!cand.empty()) {
    std::vector<char> needed(r.documents, 0);
    for (uint64_t p : cand) {
      needed[rep_doc[p >> 32]] = 1;
      needed[rep_doc[p & 0xffffffffu]] = 1;
    }
    std::unordered_map<int64_t, std::vector<uint64_t>> sets;
    int64_t doc = 0;
    InputStats again;
    DLCOST_RETURN_IF_ERROR(ReadRecords(
        in,
        [&](Record& rec) -> Status {
          if (doc < r.documents && needed[doc]) {
            WordHashes(rec.text, &f.words);
            Shingles(f.words, opt.ngram, &sets[doc]);
          }
          ++doc;
          if (opt.progress && doc % kProgressEvery == 0) opt.progress("verification", doc);
          return Status::Ok();
        },
        &again));
    if (doc != r.documents) return InvalidInput(fmt::format("{}: the input changed while it was read", in.path));
    for (size_t i = 0; i < cand.size(); ++i) {
      int64_t a = rep_doc[cand[i] >> 32], b = rep_doc[cand[i] & 0xffffffffu];
      double j = Jaccard(sets[a], sets[b]);
      if (j >= opt.threshold) near.emplace_back(static_cast<int64_t>(i), j);
    }
  }

  // Clusters.
  UnionFind uf(r.documents);
  for (int64_t d = 0; d < r.documents; ++d) {
    if (exact_of[d] >= 0) {
      uf.Union(d, exact_of[d]);
      r.pairs.push_back({exact_of[d], d, 1.0, true});
      ++r.exact_duplicates;
    }
  }
  for (const auto& [i, j] : near) {
    int64_t a = rep_doc[cand[i] >> 32], b = rep_doc[cand[i] & 0xffffffffu];
    uf.Union(a, b);
    r.pairs.push_back({std::min(a, b), std::max(a, b), j, false});
  }
  std::sort(r.pairs.begin(), r.pairs.end(), [](const DuplicatePair& x, const DuplicatePair& y) {
    return x.a != y.a ? x.a < y.a : x.b < y.b;
  });
  std::unordered_map<int64_t, size_t> cluster_of_root;
  r.removed.assign(r.documents, false);
  std::vector<int64_t> root(r.documents);
  std::vector<int64_t> size(r.documents, 0);
  for (int64_t d = 0; d < r.documents; ++d) {
    root[d] = uf.Find(d);
    ++size[root[d]];
  }
  int64_t removed = 0;
  for (int64_t d = 0; d < r.documents; ++d) {
    r.words_total += words[d];
    r.bytes_total += bytes[d];
    if (size[root[d]] < 2) continue;
    auto [it, inserted] = cluster_of_root.emplace(root[d], r.clusters.size());
    if (inserted) r.clusters.emplace_back();
    r.clusters[it->second].push_back(d);
    if (root[d] != d) {
      r.removed[d] = true;
      ++removed;
      r.words_wasted += words[d];
      r.bytes_wasted += bytes[d];
    }
  }
  r.near_duplicates = removed - r.exact_duplicates;
  r.tokens_wasted = static_cast<double>(r.words_wasted) * opt.tokens_per_word;
  return r;
}

Status WriteDeduplicated(const InputSpec& in, const DedupResult& r, const std::string& out_path) {
  DLCOST_ASSIGN_OR_RETURN(InputFormat fmt_in, ResolvedFormat(in));
  std::ofstream out(out_path, std::ios::binary);
  if (!out) return InvalidInput(fmt::format("--write-deduplicated: cannot write '{}'", out_path));
  if (fmt_in == InputFormat::kCsv) out << r.input.csv_header << '\n';
  int64_t doc = 0;
  InputStats again;
  DLCOST_RETURN_IF_ERROR(ReadRecords(
      in,
      [&](Record& rec) -> Status {
        int64_t d = doc++;
        if (d >= r.documents) return InvalidInput(fmt::format("{}: the input changed while it was read", in.path));
        if (r.removed[d]) return Status::Ok();
        if (fmt_in == InputFormat::kDir) {
          nlohmann::ordered_json j;
          j["id"] = rec.id;
          j["text"] = rec.text;
          out << j.dump() << '\n';
        } else {
          out << rec.raw << '\n';
        }
        return Status::Ok();
      },
      &again));
  if (!out) return InvalidInput(fmt::format("--write-deduplicated: error writing '{}'", out_path));
  return Status::Ok();
}

}  // namespace dlcost::audit
