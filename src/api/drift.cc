#include "dlcost/api_drift.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

#include <fmt/format.h>

#include "dlcost/strings.h"
#include "dlcost/units.h"

namespace dlcost::api {
namespace {

// NannyML splits the reference into chunks to set thresholds and calls 6 chunks "a reasonable
// minimum" (NannyML documentation, "Chunking data: not enough chunks"); we use 10.
constexpr int kReferenceChunks = 10;

// Number flags are read as the CLI has always read them (C strtold / strtoll / strtoull with
// base 0 over the whole text), so that every value it accepted keeps its meaning.
Result<std::optional<double>> OptionalNumber(const std::string& text, const char* flag, double lo, double hi) {
  if (text.empty()) return std::optional<double>();
  char* end = nullptr;
  double v = static_cast<double>(std::strtold(text.c_str(), &end));
  if (end != text.c_str() + text.size()) return UsageError(fmt::format("{}: '{}' is not a number", flag, text));
  if (std::isnan(v)) return UsageError(fmt::format("{}: '{}' is not a number", flag, text));
  if (v < lo || v > hi) {
    return UsageError(std::isinf(hi) ? fmt::format("{}: '{}' must be zero or positive", flag, text)
                                     : fmt::format("{}: '{}' must be between {} and {}", flag, text, lo, hi));
  }
  return std::optional<double>(v);
}

Result<int64_t> WholeNumber(const std::string& text, const char* flag, int64_t lo, int64_t hi) {
  char* end = nullptr;
  errno = 0;
  long long v = text.empty() ? 0 : std::strtoll(text.c_str(), &end, 0);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE) {
    return UsageError(fmt::format("{}: '{}' is not a whole number", flag, text));
  }
  if (v < lo || v > hi) return UsageError(fmt::format("{}: '{}' must be between {} and {}", flag, text, lo, hi));
  return static_cast<int64_t>(v);
}

// An empty seed is 0, as the CLI has always read `--seed ""`.
Result<uint64_t> Seed(const std::string& text) {
  if (text.empty()) return uint64_t{0};
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 0);  // saturates, as it always did
  if (end != text.c_str() + text.size()) {
    return UsageError(fmt::format("--seed: '{}' is not a whole number", text));
  }
  return static_cast<uint64_t>(v);
}

std::vector<std::string> NameList(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& s : Split(text, ',')) {
    std::string t(TrimView(s));
    if (!t.empty()) out.push_back(t);
  }
  return out;
}

// "name=value" pairs of --test and --threshold.
Result<std::pair<std::string, std::string>> KeyValue(const std::string& text, const char* flag) {
  size_t eq = text.rfind('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    return UsageError(fmt::format("{}: '{}' must be COLUMN=VALUE", flag, text));
  }
  return std::make_pair(std::string(TrimView(text.substr(0, eq))), std::string(TrimView(text.substr(eq + 1))));
}

// Everything the request says, parsed and checked before any file is read.
struct Plan {
  drift::Policy policy;
  std::optional<double> p_value, distance, psi, drift_share;  // given on the command line
  int64_t window_s = 0;
  drift::DecisionPolicy decision_policy;
  drift::ReadOptions read;
  drift::MmdOptions mmd;
  int threads = 2;
};

Status ParseNumbers(const DriftRequest& a, Plan* p) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  DLCOST_ASSIGN_OR_RETURN(p->p_value, OptionalNumber(a.p_value, "--p-value", 0, 1));
  DLCOST_ASSIGN_OR_RETURN(p->distance, OptionalNumber(a.distance_threshold, "--distance-threshold", 0, kInf));
  DLCOST_ASSIGN_OR_RETURN(p->psi, OptionalNumber(a.psi_threshold, "--psi-threshold", 0, kInf));
  DLCOST_ASSIGN_OR_RETURN(p->drift_share, OptionalNumber(a.drift_share, "--drift-share", 0, 1));
  DLCOST_ASSIGN_OR_RETURN(p->mmd.sample_rows, WholeNumber(a.mmd_rows, "--mmd-rows", 2, 2000));
  DLCOST_ASSIGN_OR_RETURN(int64_t permutations, WholeNumber(a.permutations, "--permutations", 1, 100000));
  DLCOST_ASSIGN_OR_RETURN(p->mmd.seed, Seed(a.seed));
  DLCOST_ASSIGN_OR_RETURN(int64_t threads, WholeNumber(a.threads, "--threads", 1, 256));
  p->mmd.permutations = static_cast<int>(permutations);
  p->threads = static_cast<int>(threads);
  return Status::Ok();
}

// The drift policy of the flags alone (BuildPolicy of the command line).
Status PolicyFromFlags(const DriftRequest& a, Plan* p) {
  drift::Policy& pol = p->policy;
  Result<drift::Method> m = drift::ParseMethod(a.method);
  if (!m.ok()) return UsageError("--method: " + m.status().message());
  pol.method = *m;
  if (p->p_value) pol.p_value = *p->p_value;
  if (p->distance) pol.distance = *p->distance;
  if (p->psi) pol.psi = *p->psi;
  if (p->drift_share) pol.dataset_drift_share = *p->drift_share;
  if (a.bonferroni) pol.bonferroni = true;
  for (const std::string& t : a.test) {
    DLCOST_ASSIGN_OR_RETURN(auto kv, KeyValue(t, "--test"));
    Result<drift::Method> tm = drift::ParseMethod(kv.second);
    if (!tm.ok()) return UsageError("--test: " + tm.status().message());
    pol.columns[kv.first].method = *tm;
  }
  for (const std::string& t : a.threshold) {
    DLCOST_ASSIGN_OR_RETURN(auto kv, KeyValue(t, "--threshold"));
    double v = 0;
    const char* b = kv.second.data();
    auto r = std::from_chars(b, b + kv.second.size(), v);
    if (r.ec != std::errc() || r.ptr != b + kv.second.size() || !std::isfinite(v) || v < 0) {
      return UsageError(fmt::format("--threshold: '{}' is not a non-negative number", kv.second));
    }
    pol.columns[kv.first].threshold = v;
  }
  return Status::Ok();
}

// The policy file sets the defaults; flags given on the command line still win.
Status MergePolicyFile(const DriftRequest& a, Plan* p) {
  drift::Policy merged;
  DLCOST_ASSIGN_OR_RETURN(p->decision_policy, drift::ReadPolicyFile(a.policy, &merged));
  const drift::Policy& flags = p->policy;
  if (a.method != "auto") merged.method = flags.method;
  if (p->p_value) merged.p_value = flags.p_value;
  if (p->distance) merged.distance = flags.distance;
  if (p->psi) merged.psi = flags.psi;
  if (p->drift_share) merged.dataset_drift_share = flags.dataset_drift_share;
  merged.bonferroni = merged.bonferroni || flags.bonferroni;
  for (const auto& [name, cp] : flags.columns) {
    if (cp.method) merged.columns[name].method = cp.method;
    if (cp.threshold) merged.columns[name].threshold = cp.threshold;
  }
  p->policy = merged;
  return Status::Ok();
}

void SetReadOptions(const DriftRequest& a, Plan* p) {
  drift::ReadOptions& ro = p->read;
  ro.threads = p->threads;
  ro.columns = NameList(a.columns);
  if (!ro.columns.empty()) {
    // Columns the command needs besides the tested ones: read, but not tested for drift.
    for (const std::string* extra :
         std::vector<const std::string*>{&a.timestamp, &p->decision_policy.label, &p->decision_policy.prediction}) {
      if (!extra->empty() && std::find(ro.columns.begin(), ro.columns.end(), *extra) == ro.columns.end()) {
        ro.columns.push_back(*extra);
        p->policy.exclude.push_back(*extra);
      }
    }
  }
  // Timestamps are read as their text (a dictionary of the values) whatever they look like, so
  // that ISO 8601 dates with many distinct values are not taken for free text; SplitWindows
  // parses each value (dates or Unix seconds).
  if (!a.timestamp.empty() && !ro.types.count(a.timestamp)) ro.types[a.timestamp] = drift::ColumnType::kCategorical;
  for (auto [list, type] : {std::pair{&a.numeric, drift::ColumnType::kNumeric},
                            std::pair{&a.categorical, drift::ColumnType::kCategorical},
                            std::pair{&a.text, drift::ColumnType::kText}}) {
    for (const std::string& name : NameList(*list)) ro.types[name] = type;
  }
  if (!a.timestamp.empty()) p->policy.exclude.push_back(a.timestamp);
}

Result<Plan> MakePlan(const DriftRequest& a) {
  Plan p;
  DLCOST_RETURN_IF_ERROR(ParseNumbers(a, &p));
  if (!a.window.empty() && a.timestamp.empty()) return UsageError("--window needs --timestamp COLUMN");
  if (a.window_thresholds != "fixed" && a.window_thresholds != "reference-chunks") {
    return UsageError(fmt::format("--window-thresholds: '{}' (fixed, reference-chunks)", a.window_thresholds));
  }
  if (a.window_thresholds != "fixed" && a.window.empty()) {
    return UsageError("--window-thresholds needs --timestamp and --window");
  }
  DLCOST_RETURN_IF_ERROR(PolicyFromFlags(a, &p));
  if (!a.window.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double s, ParseDurationSeconds(a.window, "--window", DurationSyntax::kWindow));
    p.window_s = static_cast<int64_t>(std::llround(s));
  }
  if (!a.policy.empty()) DLCOST_RETURN_IF_ERROR(MergePolicyFile(a, &p));
  SetReadOptions(a, &p);
  return p;
}

// The reference rows cut into chunks: its own windows when it has at least two, else
// kReferenceChunks equal consecutive chunks. Says which in a note.
Result<std::vector<std::vector<int64_t>>> ReferenceChunks(const DriftRequest& a, const drift::Frame& ref,
                                                          int64_t window_s, std::vector<std::string>* notes) {
  std::vector<std::vector<int64_t>> chunks;
  int64_t ignored = 0;
  if (ref.Find(a.timestamp) != nullptr) {
    DLCOST_ASSIGN_OR_RETURN(std::vector<drift::Window> rw, drift::SplitWindows(ref, a.timestamp, window_s, &ignored));
    for (drift::Window& w : rw) {
      if (!w.rows.empty()) chunks.push_back(std::move(w.rows));
    }
  }
  if (chunks.size() < 2) {
    chunks.clear();
    for (int k = 0; k < kReferenceChunks; ++k) {
      std::vector<int64_t> rows;
      for (int64_t i = ref.rows * k / kReferenceChunks; i < ref.rows * (k + 1) / kReferenceChunks; ++i) rows.push_back(i);
      chunks.push_back(std::move(rows));
    }
    notes->push_back(fmt::format("Reference chunks: {} equal consecutive chunks of {} ({} has no usable '{}' windows).",
                                 kReferenceChunks, a.reference, a.reference, a.timestamp));
  } else {
    notes->push_back(fmt::format("Reference chunks: the {} windows of {} in {}.", chunks.size(), a.window, a.reference));
  }
  return chunks;
}

Status CompareWindows(const DriftRequest& a, const Plan& p, const drift::Reference& prepared, const drift::Frame& cur,
                      const DriftProgress& progress, DriftResult* r) {
  DLCOST_ASSIGN_OR_RETURN(std::vector<drift::Window> ws,
                          drift::SplitWindows(cur, a.timestamp, p.window_s, &r->rows_without_timestamp));
  drift::ChunkThresholds thresholds;
  if (a.window_thresholds == "reference-chunks") {
    DLCOST_ASSIGN_OR_RETURN(auto chunks, ReferenceChunks(a, prepared.frame(), p.window_s, &r->notes));
    progress("reference chunk thresholds");
    thresholds = drift::ReferenceChunkThresholds(prepared, p.policy, chunks, p.threads);
    r->chunk_thresholds = true;
  }
  for (drift::Window& w : ws) {
    progress(fmt::format("window {}", drift::FormatUtc(w.start_s)));
    DriftWindowResult wr;
    wr.result = drift::Compare(prepared, cur, p.policy, &w.rows, p.threads, r->chunk_thresholds ? &thresholds : nullptr);
    wr.window = std::move(w);
    r->windows.push_back(std::move(wr));
  }
  if (r->rows_without_timestamp > 0) {
    r->notes.push_back(fmt::format("{} rows of {} have no timestamp and are in no window.", r->rows_without_timestamp,
                                   a.current));
  }
  return Status::Ok();
}

void AddClosingNotes(const drift::Policy& policy, const drift::Frame& ref, const drift::Frame& cur, DriftResult* r) {
  for (const drift::Frame* f : {&ref, &cur}) {
    if (f->skipped_rows > 0) {
      r->notes.push_back(fmt::format("{}: {} {} left out ({}).", f->path, f->skipped_rows,
                                     f->skipped_rows == 1 ? "row" : "rows", f->skipped_detail));
    }
  }
  if (policy.method != drift::Method::kAuto) {
    r->notes.push_back(fmt::format("--method {}: used for every column it applies to; the others use the defaults below.",
                                   drift::MethodName(policy.method)));
  }
  r->notes.push_back(fmt::format(
      "Policy: {} reference rows {} {}: {}; PSI >= {} drifts ({} significant); dataset drift when >= {} of tested "
      "columns drift{}. Formulas and sources: docs/drift.md.",
      ref.rows, ref.rows <= policy.small_reference_rows ? "<=" : ">", policy.small_reference_rows,
      ref.rows <= policy.small_reference_rows
          ? fmt::format("KS / chi-square drift when p < {}", policy.p_value)
          : fmt::format("Wasserstein (normed by the reference sd) / Jensen-Shannon drift when >= {}", policy.distance),
      policy.psi, policy.psi_significant, policy.dataset_drift_share,
      policy.bonferroni ? "; Bonferroni-corrected p-value thresholds" : ""));
}

void SetVerdict(DriftResult* r) {
  if (r->overall.tested == 0) {
    std::string why = "no column to compare";
    for (const drift::ColumnResult& c : r->overall.columns) {
      if (!c.note.empty()) {
        why = c.note;
        break;
      }
    }
    r->untested = InvalidInput(fmt::format("no column could be tested (first reason: {})", why));
  }
  if (r->decision) {
    r->drifted = r->decision->verdict == "rollback";
    return;
  }
  r->drifted = r->overall.dataset_drift;
  for (const DriftWindowResult& w : r->windows) r->drifted = r->drifted || w.result.dataset_drift;
}

}  // namespace

Result<DriftResult> Drift(const DriftRequest& a, const DriftProgress& progress_fn) {
  const DriftProgress progress = progress_fn ? progress_fn : DriftProgress([](const std::string&) {});
  DLCOST_ASSIGN_OR_RETURN(Plan p, MakePlan(a));
  progress(fmt::format("reading {}", a.reference));
  DLCOST_ASSIGN_OR_RETURN(drift::Frame ref, drift::ReadFrame(a.reference, p.read, nullptr));
  progress(fmt::format("reading {}", a.current));
  DLCOST_ASSIGN_OR_RETURN(drift::Frame cur, drift::ReadFrame(a.current, p.read, &ref));
  progress("testing columns");
  drift::Reference prepared = drift::Reference::Prepare(ref, p.threads);

  DriftResult r;
  r.reference_path = ref.path;
  r.current_path = cur.path;
  r.mmd_permutations = p.mmd.permutations;
  r.mmd_seed = p.mmd.seed;
  r.overall = drift::Compare(prepared, cur, p.policy, nullptr, p.threads);
  if (p.window_s > 0) DLCOST_RETURN_IF_ERROR(CompareWindows(a, p, prepared, cur, progress, &r));
  if (a.mmd) {
    progress("multivariate MMD test");
    std::vector<std::string> names;
    for (const drift::ColumnResult& c : r.overall.columns) {
      if (c.tested && c.type != drift::ColumnType::kCategorical) names.push_back(c.name);
    }
    r.mmd = drift::MmdTest(prepared, cur, names, nullptr, p.mmd);
  }
  if (!a.policy.empty()) r.decision = drift::Decide(p.decision_policy, r.overall, ref, cur);
  AddClosingNotes(p.policy, ref, cur, &r);
  SetVerdict(&r);
  return r;
}

}  // namespace dlcost::api
