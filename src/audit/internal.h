// Helpers shared by the audit sources (not part of the public API).
#pragma once

#include <cstdint>
#include <functional>
#include <numeric>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dlcost/audit.h"

namespace dlcost::audit {

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF).
bool ValidUtf8(std::string_view s);

// True when NFKC with full case folding leaves the code point as it is whatever stands around
// it, so that NormalizeText can skip utf8proc for text made only of such code points and ASCII:
// no case folding, combining class 0, never second in a composition pair, not Hangul (whose
// syllables compose by rule), and either no decomposition or a canonical one that recomposes.
bool FoldInert(uint32_t cp);

// The format ReadRecords will use for `in` (kAuto resolved).
Result<InputFormat> ResolvedFormat(const InputSpec& in);

// Says whether to read the record with this 0-based record number; called once per record, in
// increasing order.
using RecordFilter = std::function<bool(int64_t record_number)>;

// ReadRecords restricted to the records `keep` accepts (null: all). The others are split off
// but neither parsed nor counted, so `stats` describe the kept records only; a broken gzip
// stream counts as the record number that would have come next. When `skipped_records` is not
// null it receives the record number of each stats->skipped_list entry (same order).
Status ReadSomeRecords(const InputSpec& in, const RecordFilter* keep, const std::function<Status(Record&)>& fn,
                       InputStats* stats, std::vector<int64_t>* skipped_records);

// MurmurHash3's 64-bit finaliser (Austin Appleby, MurmurHash3, public domain): a bijective
// mix whose output bits each depend on every input bit.
inline uint64_t Fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

// SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA
// 2014): the seed sequence for the MinHash permutations.
inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Union-find with path halving and union by index (the smaller index becomes the root, so a
// cluster's root is its first document).
class UnionFind {
 public:
  explicit UnionFind(size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), int64_t{0}); }
  int64_t Find(int64_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  void Union(int64_t a, int64_t b) {
    a = Find(a);
    b = Find(b);
    if (a == b) return;
    if (a < b) parent_[b] = a;
    else parent_[a] = b;
  }

 private:
  std::vector<int64_t> parent_;
};

// Everything the audit computes from one document's text, reusing its buffers.
struct DocumentFeatures {
  std::vector<uint64_t> words;
  std::vector<uint64_t> shingles;
  std::vector<uint32_t> signature;
  std::vector<uint64_t> band_keys;
  ContentKey key;
};

// Shingle hashes of a word sequence as in Shingles, but neither sorted nor made unique (MinHash
// does not need it).
void RawShingles(const std::vector<uint64_t>& words, int n, std::vector<uint64_t>* out);
// Sorts and removes repeats.
void SortUnique(std::vector<uint64_t>* v);

// Fills words, key, shingles (raw: unsorted), signature and band keys of `text`.
void ComputeFeatures(std::string_view text, int ngram, const MinHasher& mh, const LshParams& lsh,
                     DocumentFeatures* f);

struct ContentKeyHash {
  size_t operator()(const ContentKey& k) const { return static_cast<size_t>(k.h1 ^ (k.h2 * 31)); }
};

// What Dedup and MergeDedupShards both build before clustering. Documents are added in record
// order; the first document of each content key is its group's representative and is the only
// one that carries LSH band keys.
struct DedupWork {
  std::unordered_map<ContentKey, int64_t, ContentKeyHash> first_of_key;
  std::vector<int64_t> exact_of;    // per document: the first document with the same key, or -1
  std::vector<int64_t> rep_doc;     // representative index -> document index
  std::vector<uint64_t> band_keys;  // lsh.bands per representative
  std::vector<int64_t> words;       // per document: whitespace words of the raw text
  std::vector<int64_t> bytes;       // per document: bytes of the raw text
  std::vector<uint64_t> candidates; // LSH candidate pairs (i << 32 | j, representative indices)
};

// Appends one document to `r` (id, record number) and `w`. True when it is the first of its
// content key: the caller then appends its lsh.bands band keys to w->band_keys.
bool AddDedupDocument(const std::string& id, int64_t record_number, int64_t words, int64_t bytes,
                      const ContentKey& key, DedupWork* w, DedupResult* r);

// Puts the sorted unique shingle set of every document d with needed[d] != 0 into (*sets)[d].
using ShingleLoader =
    std::function<Status(const std::vector<char>& needed, std::unordered_map<int64_t, std::vector<uint64_t>>* sets)>;

// LSH candidates among representatives, exact Jaccard verification (shingle sets from `load`),
// union-find clusters and the counts of `r`. `what` names the input in errors. InvalidInput when
// `r` holds no document. The same as FindCandidates, then `load` (when there is a candidate),
// then ClusterDedup.
Status FinishDedup(DedupWork& w, const DedupOptions& opt, const std::string& what, const ShingleLoader& load,
                   DedupResult* r);
// First half of FinishDedup: sets r->documents, fills w.candidates (and frees the band keys) and
// marks in `needed` (one per document) the documents whose shingle sets verification needs.
Status FindCandidates(DedupWork& w, const std::string& what, DedupResult* r, std::vector<char>* needed);
// Second half: exact Jaccard of w.candidates from `sets` (keyed by document index), clusters and
// counts.
void ClusterDedup(DedupWork& w, const DedupOptions& opt, std::unordered_map<int64_t, std::vector<uint64_t>>& sets,
                  DedupResult* r);

}  // namespace dlcost::audit
