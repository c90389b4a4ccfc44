// Data audit: exact and near-duplicate documents, train/test leakage and benchmark
// contamination, label conflicts and floods.
//
// Input is streamed record by record from JSONL, CSV or a folder of text files, each optionally
// gzip-compressed; bad records (invalid UTF-8, missing or empty text, oversized) are skipped and
// listed, never fatal. Near duplicates are found with MinHash + LSH and every candidate pair is
// verified by exact Jaccard similarity, so reported pairs are exact.
//
//   audit::InputSpec in;
//   in.path = "corpus.jsonl.gz"; in.text_field = "text"; in.id_field = "id";
//   audit::DedupOptions opt;  // threshold 0.8, 5-word shingles, 256 permutations
//   DLCOST_ASSIGN_OR_RETURN(audit::DedupResult r, audit::Dedup(in, opt));
//   r.clusters, r.pairs, r.exact_duplicates, r.near_duplicates ...
//
// The method, its parameters and their sources: docs/audit.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlcost/status.h"

namespace dlcost::audit {

// ---------------------------------------------------------------------------------------------
// Input

enum class InputFormat { kAuto, kJsonl, kCsv, kDir };
// "auto", "jsonl", "csv", "dir".
Result<InputFormat> ParseInputFormat(const std::string& text);

struct InputSpec {
  std::string path;
  InputFormat format = InputFormat::kAuto;  // auto: a folder, or by extension (.jsonl/.csv[.gz])
  std::string text_field = "text";
  std::string id_field;     // empty: the id is the 0-based record number (a folder: the relative path)
  std::string label_field;  // empty: no labels; set: a record without a label is skipped
  int64_t max_record_bytes = int64_t{16} << 20;  // larger records are skipped
};

struct Record {
  int64_t number = 0;  // 0-based record number in the input, skipped records included
  int64_t line = 0;    // 1-based line where the record starts (0 for a file of a folder)
  std::string file;
  std::string id;
  std::string text;
  std::optional<std::string> label;
  std::string raw;  // the record as read: a JSONL line, a CSV row (for --write-deduplicated)
};

struct SkippedRecord {
  std::string file;
  int64_t line = 0;
  std::string reason;
};

struct InputStats {
  int64_t records = 0;  // valid + skipped
  int64_t valid = 0;
  int64_t skipped = 0;
  std::vector<SkippedRecord> skipped_list;  // the first kMaxSkippedListed
  std::map<std::string, int64_t> skipped_by_reason;
  std::string csv_header;  // raw header line of a CSV input
};
inline constexpr size_t kMaxSkippedListed = 1000;

// Streams every valid record of `in` to `fn`, in input order. Bad records are counted in
// `stats` and skipped. Errors: the path cannot be read, the format is unknown, a CSV without
// the text column, or an error returned by `fn`. A broken gzip stream ends that file and is
// listed as a skipped record.
Status ReadRecords(const InputSpec& in, const std::function<Status(Record&)>& fn, InputStats* stats);

// "file:line: reason" for messages.
std::string DescribeSkipped(const SkippedRecord& s);

// ---------------------------------------------------------------------------------------------
// Text: normalisation, hashing, shingles

// Normalised text: lowercase (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic), punctuation
// and symbols removed, runs of whitespace collapsed to one space, no leading/trailing space.
// Invalid UTF-8 bytes are kept as they are. Rules: docs/audit.md.
std::string NormalizeText(std::string_view text);

// 64-bit hashes of the normalised words of `text`, in order (appended to `out` after clearing).
void WordHashes(std::string_view text, std::vector<uint64_t>* out);

// 128-bit content key of the normalised text (two different 64-bit hashes).
struct ContentKey {
  uint64_t h1 = 0, h2 = 0;
  bool operator==(const ContentKey& o) const { return h1 == o.h1 && h2 == o.h2; }
};
ContentKey ContentKeyOf(const std::vector<uint64_t>& word_hashes);

// Hashes of the word n-grams (shingles) of a word-hash sequence, sorted and unique. A text with
// fewer than `n` (>0) words has one shingle made of all its words; no words: no shingles.
void Shingles(const std::vector<uint64_t>& words, int n, std::vector<uint64_t>* out);

// Exact Jaccard similarity |A n B| / |A u B| of two sorted unique sets (1 when both are empty).
double Jaccard(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b);

// Assumed tokens per whitespace word for wasted-token figures: OpenAI's rule of thumb that one
// token is about 3/4 of an English word ("What are tokens and how to count them?", OpenAI Help
// Center), i.e. 4/3 tokens per word.
inline constexpr double kTokensPerWord = 4.0 / 3.0;

// Whitespace-separated words of the raw text (for token estimates).
int64_t CountWords(std::string_view text);

// ---------------------------------------------------------------------------------------------
// MinHash and LSH

// MinHash signatures with `num_perm` hash functions h_i(x) = (a_i x + b_i) mod 2^32 over 32-bit
// folds of the shingle hashes, a_i odd; a_i and b_i drawn from `seed`.
class MinHasher {
 public:
  MinHasher(int num_perm, uint64_t seed);
  int num_perm() const { return static_cast<int>(a_.size()); }
  // Writes num_perm() values to `sig`; an empty set gives all 0xffffffff.
  void Sign(const uint64_t* shingles, size_t n, uint32_t* sig) const;

 private:
  std::vector<uint32_t> a_, b_;
};

// Probability that a pair with Jaccard `s` shares at least one of `bands` bands of `rows` rows:
// 1 - (1 - s^rows)^bands (Leskovec, Rajaraman, Ullman, Mining of Massive Datasets, ch. 3.4).
double LshCandidateProbability(double s, int bands, int rows);

struct LshParams {
  int bands = 0;
  int rows = 0;
  double recall_at_threshold = 0;  // candidate probability at the threshold
  double false_candidate_area = 0; // integral of the candidate probability over [0, threshold)
};

// Chooses bands x rows <= num_perm so that the candidate probability at `threshold` is at least
// `min_recall`, minimising the false-candidate area. InvalidInput when no choice reaches it.
Result<LshParams> ChooseLsh(double threshold, int num_perm, double min_recall = 0.99);

// One 64-bit key per band of a signature (band index mixed in), appended to `out`.
void BandKeys(const uint32_t* sig, const LshParams& p, uint64_t* out);

// ---------------------------------------------------------------------------------------------
// Dedup

struct DedupOptions {
  double threshold = 0.8;  // Jaccard of word n-gram sets
  int ngram = 5;
  int num_perm = 256;
  uint64_t seed = 1;
  double tokens_per_word = kTokensPerWord;
  std::function<void(const char* stage, int64_t done)> progress;  // optional
};
Status CheckDedupOptions(const DedupOptions& o);

struct DuplicatePair {
  int64_t a = 0, b = 0;  // document indices, a < b
  double jaccard = 1;
  bool exact = false;
};

struct DedupResult {
  LshParams lsh;
  InputStats input;
  std::vector<std::string> ids;      // per document (valid record), in input order
  std::vector<int64_t> record_numbers;
  std::vector<std::string> labels;   // per document when a label field was given
  std::vector<std::vector<int64_t>> clusters;  // size >= 2, members ascending, by first member
  std::vector<DuplicatePair> pairs;  // every verified pair: exact (member, group's first), near
  std::vector<bool> removed;         // per document: not the kept representative of its cluster
  int64_t documents = 0;
  int64_t exact_duplicates = 0;  // documents equal (normalised) to an earlier one
  int64_t near_duplicates = 0;   // further documents removed as near duplicates
  int64_t candidate_pairs = 0;   // LSH candidates verified by exact Jaccard
  int64_t words_total = 0, words_wasted = 0;
  int64_t bytes_total = 0, bytes_wasted = 0;
  double tokens_wasted = 0;
};

// Finds exact and near duplicates in `in`. Reads the input twice (signatures, then the shingle
// sets of candidate documents). InvalidInput when no valid record remains.
Result<DedupResult> Dedup(const InputSpec& in, const DedupOptions& opt);

// Writes the records that Dedup kept: the original lines for JSONL, header + rows for CSV, and
// {"id","text"} JSONL lines for a folder.
Status WriteDeduplicated(const InputSpec& in, const DedupResult& r, const std::string& out_path);

// ---------------------------------------------------------------------------------------------
// Sharded dedup: one process per slice of the records, then a merge

// Slice `index` of `count`: the records whose 0-based record number r (skipped records
// included) satisfies r % count == index.
struct ShardSpec {
  int64_t index = 0;
  int64_t count = 1;
};
// Parses "I/N" with 0 <= I < N. UsageError otherwise.
Result<ShardSpec> ParseShard(const std::string& text);

// Normalisation rules a shard was made with (NormalizeText, WordHashes); a merge refuses shards
// whose rules differ. Changes whenever the rules or hashes change.
inline constexpr const char* kNormalisationVersion = "dlcost-normalise-2";

// Reads all of `in`, keeps the records of slice `shard`, and writes their ids, record numbers,
// content keys, MinHash signatures and shingle sets with the dedup parameters to `out_path`
// (JSON lines; docs/audit.md). Returns the number of documents written.
Result<int64_t> WriteDedupShard(const InputSpec& in, const DedupOptions& opt, const ShardSpec& shard,
                                const std::string& out_path);

struct MergedDedup {
  DedupResult result;   // as Dedup on the whole input (labels are not carried)
  DedupOptions options; // the parameters the shards were made with
  std::string input;    // the input path the shards name
};

// Joins the shard files of one input (every slice 0..N-1 exactly once, identical parameters)
// and clusters them as Dedup does. InvalidInput naming the file on a mismatch, a missing or
// repeated slice, or a malformed or truncated file.
Result<MergedDedup> MergeDedupShards(const std::vector<std::string>& paths);

// ---------------------------------------------------------------------------------------------
// Leakage and contamination

struct LeakageOptions {
  double threshold = 0.8;
  int ngram = 5;
  int num_perm = 256;
  uint64_t seed = 1;
  // Contamination n-gram length: 13 words, as in Brown et al. 2020, "Language Models are
  // Few-Shot Learners" (GPT-3), appendix C.
  int contamination_ngram = 13;
  std::function<void(const char* stage, int64_t done)> progress;
};

struct LeakageItem {
  std::string id;
  bool leaked = false;
  std::string kind;      // "exact", "near", "ngram" or empty
  std::string train_id;  // the training document matched; empty when not leaked
  double overlap = 0;    // exact: 1, near: Jaccard, otherwise share of n-grams found in train
  int64_t ngrams = 0;    // distinct contamination n-grams of the item
  int64_t ngrams_in_train = 0;
};

struct LeakageResult {
  LshParams lsh;
  InputStats train_input, test_input;
  std::vector<LeakageItem> items;
  int64_t train_documents = 0;
  int64_t leaked = 0, exact = 0, near = 0, ngram = 0;
  double contaminated_share = 0;
};

// Reads the test set into memory, then streams the training set once.
Result<LeakageResult> FindLeakage(const InputSpec& train, const InputSpec& test, const LeakageOptions& opt);

// ---------------------------------------------------------------------------------------------
// Labels

struct LabelOptions {
  // A flood is a duplicate cluster of at least max(flood_min_size, flood_factor x the median
  // size of the duplicate clusters). A rule of this tool, not a published constant.
  int64_t flood_min_size = 10;
  double flood_factor = 10;
};

struct LabelConflict {
  int64_t cluster = 0;  // index into dedup.clusters
  std::map<std::string, int64_t> label_counts;
  std::string majority;  // most frequent label (first in order on ties)
};

struct ClassCount {
  std::string label;
  int64_t count = 0;
  double share = 0;
};

struct Flood {
  int64_t cluster = 0;
  int64_t size = 0;
  std::string top_label;
};

struct LabelAudit {
  DedupResult dedup;
  std::vector<LabelConflict> conflicts;
  std::vector<ClassCount> classes;  // most frequent first
  std::vector<Flood> floods;
  double median_cluster_size = 0;
  int64_t flood_size = 0;  // clusters at least this large are floods
  double imbalance_ratio = 0;  // largest class / smallest class
};

// Runs Dedup (labels required) and checks label agreement, class balance and floods.
Result<LabelAudit> AuditLabels(const InputSpec& in, const DedupOptions& dopt, const LabelOptions& lopt);

// ---------------------------------------------------------------------------------------------
// Manifests: SHA-256, size and license of every file of a folder

// SHA-256 (FIPS 180-4) through OpenSSL's EVP interface. Update any number of times, then
// HexDigest once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t n);
  std::string HexDigest();  // 64 lowercase hex digits

 private:
  void* ctx_;  // EVP_MD_CTX*
};
std::string Sha256Hex(std::string_view data);

// SPDX license id of a file: the expression after "SPDX-License-Identifier:" in `head` (the
// start of the file), or, for a license file (LICENSE*, LICENCE*, COPYING*, UNLICENSE), the
// license whose key phrases its text holds. Empty when unknown. Rules: docs/audit.md.
std::string DetectLicense(const std::string& file_name, std::string_view head);

struct ManifestEntry {
  std::string path;  // relative, '/'-separated
  int64_t size_bytes = 0;
  std::string sha256;
  std::string license;  // SPDX id, or empty
};

struct Manifest {
  std::vector<ManifestEntry> files;  // sorted by path
};

// Hashes every regular file under `dir` (skipping `exclude_path` when it lies there).
// Unreadable files are errors naming the file.
Result<Manifest> BuildManifest(const std::string& dir, const std::string& exclude_path = "");
std::string ManifestToJson(const Manifest& m);
Result<Manifest> ReadManifest(const std::string& path);

struct ManifestChange {
  std::string path;
  std::string what;  // "added", "removed", "changed"
  std::string sha256_before, sha256_after;
  int64_t size_before = -1, size_after = -1;
};
// Every file added, removed or changed (content hash or size) from `before` to `after`, by path.
std::vector<ManifestChange> CompareManifests(const Manifest& before, const Manifest& after);

}  // namespace dlcost::audit
