// Drift monitor: is production data moving away from the data a model was trained on?
//
// A reference table (what the model was trained or validated on) and a current table (what it
// sees now) are read from CSV or JSONL into column-major Frames. Each column is compared with
// one two-sample test chosen by the policy (Kolmogorov-Smirnov, PSI, Wasserstein, chi-square,
// Jensen-Shannon), the dataset verdict follows from the share of drifted columns, and an
// optional decision policy turns the result into ok / warn / rollback. Formulas, defaults and
// their sources: docs/drift.md.
//
//   drift::ReadOptions ro;
//   Result<drift::Frame> ref = drift::ReadFrame("ref.csv", ro, nullptr);
//   Result<drift::Frame> cur = drift::ReadFrame("cur.csv", ro, &*ref);
//   drift::Reference prepared = drift::Reference::Prepare(*ref, 2);
//   drift::DriftResult r = drift::Compare(prepared, *cur, drift::Policy{}, nullptr, 2);
//   if (r.dataset_drift) ...
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dlcost/status.h"

namespace dlcost::drift {

enum class ColumnType { kNumeric, kCategorical, kText };  // text: compared by length in characters
enum class Method { kAuto, kKs, kPsi, kWasserstein, kChiSquare, kJensenShannon };

const char* ColumnTypeName(ColumnType t);  // "numeric", "categorical", "text"
const char* MethodName(Method m);          // "auto", "ks", "psi", "wasserstein", "chisquare", "jensenshannon"
Result<ColumnType> ParseColumnType(const std::string& text);
Result<Method> ParseMethod(const std::string& text);
// True when the method yields a p-value (drift when p < threshold); otherwise it is a distance
// (drift when statistic >= threshold).
bool IsPValueMethod(Method m);

inline constexpr uint32_t kMissingCode = std::numeric_limits<uint32_t>::max();

// One column, row-aligned with its Frame. Numeric and text columns keep `values` (NaN where a
// value is missing; text holds the length in characters); categorical columns keep `codes`
// into `categories` (kMissingCode where missing).
struct Column {
  std::string name;
  ColumnType type = ColumnType::kNumeric;
  std::vector<double> values;
  std::vector<uint32_t> codes;
  std::vector<std::string> categories;
  int64_t missing = 0;
  int64_t bad_cells = 0;   // cells that could not be read as the column's type (counted as missing)
  std::string problem;     // why the column cannot be tested ("" when it can)
};

struct Frame {
  std::string path;
  int64_t rows = 0;
  std::vector<Column> columns;
  std::vector<int64_t> row_lines;  // 1-based line (CSV) or line number (JSONL) of each row
  int64_t skipped_rows = 0;        // ragged rows (CSV) or unreadable lines (JSONL), left out
  std::string skipped_detail;      // the first skipped row, for the message
  std::vector<std::string> absent_columns;  // --columns asked for but not in this file

  const Column* Find(const std::string& name) const;
};

struct ReadOptions {
  std::vector<std::string> columns;                 // read only these (empty: all)
  std::map<std::string, ColumnType> types;          // overrides of the inferred types
  int threads = 2;
  int64_t inference_rows = 1000;                    // rows sampled to infer column types
};

// Reads a CSV (RFC 4180, header row) or JSONL (one object per line; chosen by a .jsonl/.ndjson
// extension) file. With `schema` (the reference), columns take the schema's types and columns
// the schema lacks are kept only by name (type from the file). A file that cannot be read at
// all, or a broken header, is an error; bad cells and ragged rows are reported per column.
Result<Frame> ReadFrame(const std::string& path, const ReadOptions& opts, const Frame* schema);

// Per-column policy overrides.
struct ColumnPolicy {
  std::optional<Method> method;
  std::optional<double> threshold;
};

// The drift policy. Defaults follow common practice (docs/drift.md, "Default policy").
struct Policy {
  Method method = Method::kAuto;
  int64_t small_reference_rows = 1000;   // <= this: KS / chi-square p-values; above: distances
  double p_value = 0.05;                 // KS and chi-square: drift when p < this
  double distance = 0.1;                 // Wasserstein (normed) and Jensen-Shannon: drift when >= this
  double psi = 0.1;                      // PSI: drift when >= this ("moderate" band)
  double psi_significant = 0.25;         // PSI "significant" band
  int psi_bins = 10;                     // PSI bins from reference deciles
  double dataset_drift_share = 0.5;      // dataset drift when drifted / tested >= this
  bool bonferroni = false;               // p-value thresholds divided by the number of p-value tests
  std::map<std::string, ColumnPolicy> columns;
  std::vector<std::string> exclude;      // columns not tested (timestamp, ids)
};

struct ColumnResult {
  std::string name;
  ColumnType type = ColumnType::kNumeric;
  Method method = Method::kAuto;         // kAuto when not tested
  std::optional<double> statistic;
  std::optional<double> p_value;
  std::optional<double> threshold;
  bool drift = false;
  bool tested = false;
  int64_t missing_reference = 0;
  int64_t missing_current = 0;
  std::string note;                      // PSI band, or why the column was not tested
};

struct DriftResult {
  std::vector<ColumnResult> columns;
  int tested = 0;
  int drifted = 0;
  double drift_share = 0;                // drifted / tested (0 when nothing was tested)
  bool dataset_drift = false;
  int64_t rows_reference = 0;
  int64_t rows_current = 0;
};

// The reference prepared once: sorted values, moments and category counts. It points into the
// Frame it was prepared from, which must outlive it.
class Reference {
 public:
  static Reference Prepare(const Frame& ref, int threads);

  struct Numeric {
    std::vector<double> sorted;          // non-missing values, ascending
    double mean = 0;
    double std = 0;                      // population standard deviation
  };
  struct Categorical {
    std::vector<int64_t> counts;         // per reference code
    std::unordered_map<std::string, uint32_t> index;  // category text -> reference code
  };

  const Frame& frame() const { return *frame_; }
  const Numeric* numeric(size_t col) const { return col < numeric_.size() ? &numeric_[col] : nullptr; }
  const Categorical* categorical(size_t col) const {
    return col < categorical_.size() ? &categorical_[col] : nullptr;
  }

 private:
  const Frame* frame_ = nullptr;
  std::vector<Numeric> numeric_;         // indexed like frame().columns
  std::vector<Categorical> categorical_;
};

// Per-column upper thresholds from reference chunks (mean + 3 sigma), by column name.
using ChunkThresholds = std::map<std::string, std::pair<Method, double>>;

// Compares the current frame (all rows, or only `rows` when given) with the reference under
// `policy`, `threads` columns at a time. Deterministic: same inputs, same numbers.
DriftResult Compare(const Reference& ref, const Frame& cur, const Policy& policy,
                    const std::vector<int64_t>* rows, int threads,
                    const ChunkThresholds* chunk_thresholds = nullptr);

// Thresholds derived from the reference's own chunks: the reference rows are cut into `chunks`
// consecutive chunks (or by `chunk_rows` lists when given), each is compared with the whole
// reference, and each column's threshold is the mean + 3 standard deviations of its chunk
// statistics. Distance methods only (KS uses its D statistic, chi-square is replaced by
// Jensen-Shannon). Columns with fewer than 2 usable chunks are left out.
ChunkThresholds ReferenceChunkThresholds(const Reference& ref, const Policy& policy,
                                         const std::vector<std::vector<int64_t>>& chunk_rows, int threads);

// Windows of the current frame by a timestamp column.
struct Window {
  int64_t start_s = 0;   // Unix seconds, inclusive
  int64_t end_s = 0;     // exclusive
  std::vector<int64_t> rows;
};
// Parses an ISO 8601 date or date-time ("2024-05-01", "2024-05-01T12:00:00Z", "+02:00" offsets)
// or Unix seconds into Unix seconds.
Result<int64_t> ParseTimestampSeconds(const std::string& text);
// "2024-05-01T00:00:00Z" for Unix seconds (UTC).
std::string FormatUtc(int64_t unix_s);
// Rows of `f` grouped into windows of `window_s` seconds aligned to the Unix epoch, from the
// first to the last occupied window (empty windows in between included). Rows without a
// timestamp are counted in `*rows_without_timestamp`.
Result<std::vector<Window>> SplitWindows(const Frame& f, const std::string& timestamp_column, int64_t window_s,
                                         int64_t* rows_without_timestamp);

// Multivariate drift: maximum mean discrepancy with an RBF kernel on a seeded subsample.
struct MmdOptions {
  int64_t sample_rows = 500;   // rows drawn from each side
  int permutations = 200;
  uint64_t seed = 42;
  double alpha = 0.05;
};
struct MmdResult {
  bool ok = false;
  std::string problem;
  std::vector<std::string> columns;
  double statistic = 0;        // unbiased MMD^2
  double p_value = 1;
  double bandwidth = 0;        // RBF sigma (median heuristic), in reference standard deviations
  int64_t rows_reference = 0;
  int64_t rows_current = 0;
  bool drift = false;
};
MmdResult MmdTest(const Reference& ref, const Frame& cur, const std::vector<std::string>& columns,
                  const std::vector<int64_t>* rows, const MmdOptions& opts);

// Decision policy (--policy policy.json).
struct DecisionLimits {
  std::optional<double> drift_share;        // drifted / tested columns
  std::optional<double> accuracy_drop;      // reference accuracy - current accuracy (fraction)
  std::optional<double> mae_increase_frac;  // (current MAE - reference MAE) / reference MAE
};
struct DecisionPolicy {
  std::string label;                        // label column (optional)
  std::string prediction;                   // prediction column (optional)
  DecisionLimits warn;
  DecisionLimits rollback;
};
// Reads a policy file. Besides the decision limits it may override the drift policy's
// defaults and per-column tests/thresholds (fields in docs/drift.md).
Result<DecisionPolicy> ReadPolicyFile(const std::string& path, Policy* policy);

struct Performance {
  std::string metric;                       // "accuracy" or "mae"
  std::optional<double> reference;
  std::optional<double> current;
  int64_t rows_reference = 0;
  int64_t rows_current = 0;
};
struct Decision {
  std::string verdict;                      // "ok", "warn", "rollback"
  std::vector<std::string> reasons;
  std::optional<Performance> performance;
};
Decision Decide(const DecisionPolicy& dp, const DriftResult& result, const Frame& ref, const Frame& cur);

}  // namespace dlcost::drift
