// dlcost drift --reference REF --current CUR: which columns drifted, with which test, and the
// dataset verdict. Exit 0 no drift, 5 drift (with --policy: 5 on rollback), 1 bad input, 2 usage.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "dlcost/strings.h"
#include "dlcost/drift.h"

namespace dlcost::cli {
namespace {

constexpr int kExitDrift = 5;  // issue 8: "exit status 0 (no drift) or 5 (drift)"

// NannyML splits the reference into chunks to set thresholds and calls 6 chunks "a reasonable
// minimum" (NannyML documentation, "Chunking data: not enough chunks"); we use 10.
constexpr int kReferenceChunks = 10;

struct DriftArgs {
  std::string reference;
  std::string current;
  std::string columns;
  std::string method = "auto";
  std::vector<std::string> tests;
  std::vector<std::string> thresholds;
  std::string numeric, categorical, text;
  double p_value = NAN, distance = NAN, psi = NAN, drift_share = NAN;
  bool bonferroni = false;
  std::string timestamp;
  std::string window;
  std::string window_thresholds = "fixed";
  std::string policy;
  bool mmd = false;
  int64_t mmd_rows = 500;
  int permutations = 200;
  uint64_t seed = 42;
  int threads = 2;
};

class Progress {
 public:
  Progress() : on_(isatty(STDERR_FILENO) == 1) {}
  ~Progress() { Done(); }
  void Say(const std::string& what) {
    if (!on_) return;
    std::fprintf(stderr, "\r\033[Kdlcost drift: %s", what.c_str());
    std::fflush(stderr);
    shown_ = true;
  }
  void Done() {
    if (on_ && shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool on_;
  bool shown_ = false;
};

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

Status BuildPolicy(const DriftArgs& a, drift::Policy* p) {
  Result<drift::Method> m = drift::ParseMethod(a.method);
  if (!m.ok()) return UsageError("--method: " + m.status().message());
  p->method = *m;
  if (!std::isnan(a.p_value)) p->p_value = a.p_value;
  if (!std::isnan(a.distance)) p->distance = a.distance;
  if (!std::isnan(a.psi)) p->psi = a.psi;
  if (!std::isnan(a.drift_share)) p->dataset_drift_share = a.drift_share;
  if (a.bonferroni) p->bonferroni = true;
  for (const std::string& t : a.tests) {
    DLCOST_ASSIGN_OR_RETURN(auto kv, KeyValue(t, "--test"));
    Result<drift::Method> tm = drift::ParseMethod(kv.second);
    if (!tm.ok()) return UsageError("--test: " + tm.status().message());
    p->columns[kv.first].method = *tm;
  }
  for (const std::string& t : a.thresholds) {
    DLCOST_ASSIGN_OR_RETURN(auto kv, KeyValue(t, "--threshold"));
    double v = 0;
    const char* b = kv.second.data();
    auto r = std::from_chars(b, b + kv.second.size(), v);
    if (r.ec != std::errc() || r.ptr != b + kv.second.size() || !std::isfinite(v) || v < 0) {
      return UsageError(fmt::format("--threshold: '{}' is not a non-negative number", kv.second));
    }
    p->columns[kv.first].threshold = v;
  }
  return Status::Ok();
}

std::optional<double> Finite(const std::optional<double>& v) {
  if (v && std::isfinite(*v)) return v;
  return std::nullopt;
}

nlohmann::ordered_json Num(const std::optional<double>& v) {
  auto f = Finite(v);
  return f ? nlohmann::ordered_json(*f) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json ColumnsJson(const drift::DriftResult& r) {
  nlohmann::ordered_json cols = nlohmann::ordered_json::array();
  for (const drift::ColumnResult& c : r.columns) {
    nlohmann::ordered_json o;
    o["name"] = c.name;
    o["type"] = drift::ColumnTypeName(c.type);
    o["test"] = c.method == drift::Method::kAuto ? nlohmann::ordered_json(nullptr)
                                                 : nlohmann::ordered_json(drift::MethodName(c.method));
    o["statistic"] = Num(c.statistic);
    o["p_value"] = Num(c.p_value);
    o["threshold"] = Num(c.threshold);
    o["drift"] = c.drift;
    cols.push_back(std::move(o));
  }
  return cols;
}

nlohmann::ordered_json NotesJson(const drift::DriftResult& r) {
  nlohmann::ordered_json notes = nlohmann::ordered_json::array();
  for (const drift::ColumnResult& c : r.columns) {
    if (c.note.empty() && c.missing_reference == 0 && c.missing_current == 0) continue;
    nlohmann::ordered_json o;
    o["name"] = c.name;
    o["tested"] = c.tested;
    o["missing_reference"] = c.missing_reference;
    o["missing_current"] = c.missing_current;
    o["note"] = c.note;
    notes.push_back(std::move(o));
  }
  return notes;
}

struct Outcome {
  const DriftArgs* args;
  const drift::Frame* ref;
  const drift::Frame* cur;
  drift::DriftResult overall;
  struct WindowResult {
    drift::Window window;
    drift::DriftResult result;
  };
  std::vector<WindowResult> windows;
  int64_t rows_without_timestamp = 0;
  bool chunk_thresholds = false;
  std::optional<drift::MmdResult> mmd;
  std::optional<drift::Decision> decision;
  std::vector<std::string> notes;
};

std::string ToJson(const Outcome& o) {
  nlohmann::ordered_json j;
  j["columns"] = ColumnsJson(o.overall);
  j["dataset_drift"] = o.overall.dataset_drift;
  j["drift_share"] = o.overall.drift_share;
  j["rows"] = {{"reference", o.overall.rows_reference}, {"current", o.overall.rows_current}};
  j["column_notes"] = NotesJson(o.overall);
  if (!o.windows.empty()) {
    nlohmann::ordered_json ws = nlohmann::ordered_json::array();
    for (const Outcome::WindowResult& w : o.windows) {
      nlohmann::ordered_json x;
      x["start"] = drift::FormatUtc(w.window.start_s);
      x["end"] = drift::FormatUtc(w.window.end_s);
      x["rows"] = static_cast<int64_t>(w.window.rows.size());
      x["columns"] = ColumnsJson(w.result);
      x["dataset_drift"] = w.result.dataset_drift;
      x["drift_share"] = w.result.drift_share;
      ws.push_back(std::move(x));
    }
    j["windows"] = std::move(ws);
    j["window_thresholds"] = o.chunk_thresholds ? "reference-chunks" : "fixed";
  }
  if (o.mmd) {
    const drift::MmdResult& m = *o.mmd;
    nlohmann::ordered_json x;
    x["test"] = "mmd";
    x["columns"] = m.columns;
    x["statistic"] = m.ok ? nlohmann::ordered_json(m.statistic) : nlohmann::ordered_json(nullptr);
    x["p_value"] = m.ok ? nlohmann::ordered_json(m.p_value) : nlohmann::ordered_json(nullptr);
    x["threshold"] = 0.05;
    x["drift"] = m.drift;
    x["bandwidth"] = m.ok ? nlohmann::ordered_json(m.bandwidth) : nlohmann::ordered_json(nullptr);
    x["sample_rows"] = {{"reference", m.rows_reference}, {"current", m.rows_current}};
    x["permutations"] = o.args->permutations;
    x["seed"] = o.args->seed;
    if (!m.ok) x["note"] = m.problem;
    j["multivariate"] = std::move(x);
  }
  if (o.decision) {
    nlohmann::ordered_json x;
    x["verdict"] = o.decision->verdict;
    x["reasons"] = o.decision->reasons;
    if (o.decision->performance) {
      const drift::Performance& p = *o.decision->performance;
      x["performance"] = {{"metric", p.metric},
                          {"reference", Num(p.reference)},
                          {"current", Num(p.current)},
                          {"rows_reference", p.rows_reference},
                          {"rows_current", p.rows_current}};
    }
    j["decision"] = std::move(x);
  }
  if (!o.notes.empty()) j["notes"] = o.notes;
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

report::Value Opt(const std::optional<double>& v) {
  auto f = Finite(v);
  return f ? report::Value(*f) : report::Value();
}

report::Report ToReport(const Outcome& o) {
  report::Report r;
  const drift::DriftResult& d = o.overall;
  r.title = fmt::format("Drift of {} against {}", o.cur->path, o.ref->path);
  r.AddField("rows_reference", "reference rows", d.rows_reference);
  r.AddField("rows_current", "current rows", d.rows_current);
  r.AddField("columns_tested", "columns tested", static_cast<int64_t>(d.tested));
  r.AddField("columns_drifted", "columns drifted", static_cast<int64_t>(d.drifted));
  r.AddField("drift_share", "drift share", d.drift_share, 3);
  r.AddField("dataset_drift", "dataset drift", d.dataset_drift);
  if (o.mmd && o.mmd->ok) {
    r.AddField("mmd_p_value", "multivariate (MMD) p-value", o.mmd->p_value, 4);
    r.AddField("mmd_drift", "multivariate drift", o.mmd->drift);
  }
  if (o.decision) r.AddField("decision", "decision", o.decision->verdict);
  report::Table& t = r.AddTable("columns", "Columns",
                                {{"name", "column"},
                                 {"type", "type"},
                                 {"test", "test"},
                                 {"statistic", "statistic", 4},
                                 {"p_value", "p-value"},
                                 {"threshold", "threshold", 4},
                                 {"drift", "drift"},
                                 {"missing_reference", "missing ref"},
                                 {"missing_current", "missing cur"},
                                 {"note", "note"}});
  for (const drift::ColumnResult& c : d.columns) {
    t.rows.push_back({c.name, std::string(drift::ColumnTypeName(c.type)),
                      c.method == drift::Method::kAuto ? report::Value() : report::Value(std::string(drift::MethodName(c.method))),
                      Opt(c.statistic), Opt(c.p_value), Opt(c.threshold), c.drift, c.missing_reference,
                      c.missing_current, c.note});
  }
  if (!o.windows.empty()) {
    report::Table& w = r.AddTable("windows", fmt::format("Windows ({} thresholds)", o.chunk_thresholds ? "reference-chunk" : "fixed"),
                                  {{"start", "start"}, {"end", "end"}, {"rows", "rows"}, {"columns_tested", "tested"},
                                   {"columns_drifted", "drifted"}, {"drift_share", "drift share", 3},
                                   {"dataset_drift", "dataset drift"}, {"drifted_columns", "drifted columns"}});
    for (const Outcome::WindowResult& x : o.windows) {
      std::string names;
      for (const drift::ColumnResult& c : x.result.columns) {
        if (c.drift) names += (names.empty() ? "" : " ") + c.name;
      }
      w.rows.push_back({drift::FormatUtc(x.window.start_s), drift::FormatUtc(x.window.end_s),
                        static_cast<int64_t>(x.window.rows.size()), static_cast<int64_t>(x.result.tested),
                        static_cast<int64_t>(x.result.drifted), x.result.drift_share, x.result.dataset_drift,
                        x.window.rows.empty() ? std::string("(empty window)") : names});
    }
  }
  if (o.decision) {
    report::Table& dt = r.AddTable("decision", fmt::format("Decision: {}", o.decision->verdict), {{"reason", "reason"}});
    for (const std::string& reason : o.decision->reasons) dt.rows.push_back({reason});
  }
  if (o.mmd && !o.mmd->ok) r.notes.push_back("Multivariate (MMD) test not run: " + o.mmd->problem);
  if (o.mmd && o.mmd->ok) {
    r.notes.push_back(fmt::format("MMD^2 {:.6g} on {} + {} sampled rows of {} numeric columns, RBF bandwidth {:.4g} "
                                  "(reference sd units), {} permutations, seed {}.",
                                  o.mmd->statistic, o.mmd->rows_reference, o.mmd->rows_current, o.mmd->columns.size(),
                                  o.mmd->bandwidth, o.args->permutations, o.args->seed));
  }
  for (const std::string& n : o.notes) r.notes.push_back(n);
  return r;
}

int RunDrift(const GlobalOptions& g, const DriftArgs& a) {
  Result<report::Format> format = report::ParseFormat(g.format);
  if (!format.ok()) return Fail(format.status());
  if (!a.window.empty() && a.timestamp.empty()) return Fail(UsageError("--window needs --timestamp COLUMN"));
  if (a.window_thresholds != "fixed" && a.window_thresholds != "reference-chunks") {
    return Fail(UsageError(fmt::format("--window-thresholds: '{}' (fixed, reference-chunks)", a.window_thresholds)));
  }
  if (a.window_thresholds != "fixed" && a.window.empty()) {
    return Fail(UsageError("--window-thresholds needs --timestamp and --window"));
  }
  drift::Policy policy;
  if (Status s = BuildPolicy(a, &policy); !s.ok()) return Fail(s);
  int64_t window_s = 0;
  if (!a.window.empty()) {
    Result<int64_t> w = drift::ParseDurationSeconds(a.window);
    if (!w.ok()) return Fail(w.status());
    window_s = *w;
  }
  drift::DecisionPolicy decision_policy;
  if (!a.policy.empty()) {
    drift::Policy from_file;
    Result<drift::DecisionPolicy> dp = drift::ReadPolicyFile(a.policy, &from_file);
    if (!dp.ok()) return Fail(dp.status());
    decision_policy = *dp;
    // The file sets the defaults; flags given on the command line still win.
    drift::Policy merged = from_file;
    if (a.method != "auto") merged.method = policy.method;
    if (!std::isnan(a.p_value)) merged.p_value = policy.p_value;
    if (!std::isnan(a.distance)) merged.distance = policy.distance;
    if (!std::isnan(a.psi)) merged.psi = policy.psi;
    if (!std::isnan(a.drift_share)) merged.dataset_drift_share = policy.dataset_drift_share;
    merged.bonferroni = merged.bonferroni || policy.bonferroni;
    for (const auto& [name, cp] : policy.columns) {
      if (cp.method) merged.columns[name].method = cp.method;
      if (cp.threshold) merged.columns[name].threshold = cp.threshold;
    }
    policy = merged;
  }

  drift::ReadOptions ro;
  ro.threads = a.threads;
  ro.columns = NameList(a.columns);
  if (!ro.columns.empty()) {
    // Columns the command needs besides the tested ones.
    for (const std::string* extra : std::vector<const std::string*>{&a.timestamp, &decision_policy.label, &decision_policy.prediction}) {
      if (!extra->empty() && std::find(ro.columns.begin(), ro.columns.end(), *extra) == ro.columns.end()) {
        ro.columns.push_back(*extra);
      }
    }
  }
  for (auto [list, type] : {std::pair{&a.numeric, drift::ColumnType::kNumeric},
                            std::pair{&a.categorical, drift::ColumnType::kCategorical},
                            std::pair{&a.text, drift::ColumnType::kText}}) {
    for (const std::string& name : NameList(*list)) ro.types[name] = type;
  }
  if (!a.timestamp.empty()) policy.exclude.push_back(a.timestamp);

  Progress progress;
  progress.Say(fmt::format("reading {}", a.reference));
  Result<drift::Frame> ref = drift::ReadFrame(a.reference, ro, nullptr);
  if (!ref.ok()) return Fail(ref.status());
  progress.Say(fmt::format("reading {}", a.current));
  Result<drift::Frame> cur = drift::ReadFrame(a.current, ro, &*ref);
  if (!cur.ok()) return Fail(cur.status());
  progress.Say("testing columns");
  drift::Reference prepared = drift::Reference::Prepare(*ref, a.threads);

  Outcome o;
  o.args = &a;
  o.ref = &*ref;
  o.cur = &*cur;
  o.overall = drift::Compare(prepared, *cur, policy, nullptr, a.threads);

  if (window_s > 0) {
    Result<std::vector<drift::Window>> ws = drift::SplitWindows(*cur, a.timestamp, window_s, &o.rows_without_timestamp);
    if (!ws.ok()) return Fail(ws.status());
    drift::ChunkThresholds thresholds;
    if (a.window_thresholds == "reference-chunks") {
      std::vector<std::vector<int64_t>> chunks;
      int64_t ignored = 0;
      if (ref->Find(a.timestamp) != nullptr) {
        Result<std::vector<drift::Window>> rw = drift::SplitWindows(*ref, a.timestamp, window_s, &ignored);
        if (!rw.ok()) return Fail(rw.status());
        for (drift::Window& w : *rw) {
          if (!w.rows.empty()) chunks.push_back(std::move(w.rows));
        }
      }
      if (chunks.size() < 2) {
        chunks.clear();
        for (int k = 0; k < kReferenceChunks; ++k) {
          std::vector<int64_t> rows;
          for (int64_t i = ref->rows * k / kReferenceChunks; i < ref->rows * (k + 1) / kReferenceChunks; ++i) rows.push_back(i);
          chunks.push_back(std::move(rows));
        }
        o.notes.push_back(fmt::format("Reference chunks: {} equal consecutive chunks of {} ({} has no usable '{}' windows).",
                                      kReferenceChunks, a.reference, a.reference, a.timestamp));
      } else {
        o.notes.push_back(fmt::format("Reference chunks: the {} windows of {} in {}.", chunks.size(), a.window, a.reference));
      }
      progress.Say("reference chunk thresholds");
      thresholds = drift::ReferenceChunkThresholds(prepared, policy, chunks, a.threads);
      o.chunk_thresholds = true;
    }
    for (drift::Window& w : *ws) {
      progress.Say(fmt::format("window {}", drift::FormatUtc(w.start_s)));
      Outcome::WindowResult wr;
      wr.result = drift::Compare(prepared, *cur, policy, &w.rows, a.threads, o.chunk_thresholds ? &thresholds : nullptr);
      wr.window = std::move(w);
      o.windows.push_back(std::move(wr));
    }
    if (o.rows_without_timestamp > 0) {
      o.notes.push_back(fmt::format("{} rows of {} have no timestamp and are in no window.", o.rows_without_timestamp,
                                    a.current));
    }
  }
  if (a.mmd) {
    progress.Say("multivariate MMD test");
    std::vector<std::string> names;
    for (const drift::ColumnResult& c : o.overall.columns) {
      if (c.tested && c.type != drift::ColumnType::kCategorical) names.push_back(c.name);
    }
    drift::MmdOptions mo;
    mo.sample_rows = a.mmd_rows;
    mo.permutations = a.permutations;
    mo.seed = a.seed;
    o.mmd = drift::MmdTest(prepared, *cur, names, nullptr, mo);
  }
  if (!a.policy.empty()) o.decision = drift::Decide(decision_policy, o.overall, *ref, *cur);
  progress.Done();

  for (const drift::Frame* f : {&*ref, &*cur}) {
    if (f->skipped_rows > 0) {
      o.notes.push_back(fmt::format("{}: {} {} left out ({}).", f->path, f->skipped_rows,
                                    f->skipped_rows == 1 ? "row" : "rows", f->skipped_detail));
    }
  }
  if (policy.method != drift::Method::kAuto) {
    o.notes.push_back(fmt::format("--method {}: used for every column it applies to; the others use the defaults below.",
                                  drift::MethodName(policy.method)));
  }
  o.notes.push_back(fmt::format(
      "Policy: {} reference rows {} {}: {}; PSI >= {} drifts ({} significant); dataset drift when >= {} of tested "
      "columns drift{}. Formulas and sources: docs/drift.md.",
      ref->rows, ref->rows <= policy.small_reference_rows ? "<=" : ">", policy.small_reference_rows,
      ref->rows <= policy.small_reference_rows
          ? fmt::format("KS / chi-square drift when p < {}", policy.p_value)
          : fmt::format("Wasserstein (normed by the reference sd) / Jensen-Shannon drift when >= {}", policy.distance),
      policy.psi, policy.psi_significant, policy.dataset_drift_share,
      policy.bonferroni ? "; Bonferroni-corrected p-value thresholds" : ""));

  std::string text = *format == report::Format::kJson ? ToJson(o) : report::Render(ToReport(o), *format);
  if (int rc = EmitText(text, g); rc != 0) return rc;
  if (o.overall.tested == 0) {
    std::string why = "no column to compare";
    for (const drift::ColumnResult& c : o.overall.columns) {
      if (!c.note.empty()) {
        why = c.note;
        break;
      }
    }
    return Fail(InvalidInput(fmt::format("no column could be tested (first reason: {})", why)));
  }
  if (o.decision) return o.decision->verdict == "rollback" ? kExitDrift : 0;
  bool drift = o.overall.dataset_drift;
  for (const Outcome::WindowResult& w : o.windows) drift = drift || w.result.dataset_drift;
  return drift ? kExitDrift : 0;
}

}  // namespace

void RegisterDrift(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "drift",
      "Compare a current table with a reference table: which columns drifted, with which test.\n"
      "Exit 0 no dataset drift, 5 drift (with --policy: 5 on rollback), 1 bad input, 2 usage.");
  auto a = std::make_shared<DriftArgs>();
  cmd->add_option("--reference", a->reference, "Reference table (CSV, or JSONL by .jsonl/.ndjson)")->required();
  cmd->add_option("--current", a->current, "Current table (same format rules)")->required();
  cmd->add_option("--columns", a->columns, "Comma-separated columns to test (default: all)");
  cmd->add_option("--method", a->method, "Test for every column: auto, ks, psi, wasserstein, chisquare, jensenshannon")
      ->capture_default_str();
  cmd->add_option("--test", a->tests, "Per-column test, COLUMN=METHOD (repeatable)");
  cmd->add_option("--threshold", a->thresholds, "Per-column threshold, COLUMN=VALUE (repeatable)");
  cmd->add_option("--numeric", a->numeric, "Comma-separated columns to read as numeric");
  cmd->add_option("--categorical", a->categorical, "Comma-separated columns to read as categorical");
  cmd->add_option("--text", a->text, "Comma-separated columns to compare by text length");
  cmd->add_option("--p-value", a->p_value, "KS / chi-square: drift when p < this (default 0.05)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--distance-threshold", a->distance, "Wasserstein / Jensen-Shannon: drift when >= this (default 0.1)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--psi-threshold", a->psi, "PSI: drift when >= this (default 0.1)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--drift-share", a->drift_share, "Dataset drift when this share of columns drift (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--bonferroni", a->bonferroni, "Divide p-value thresholds by the number of p-value tests");
  cmd->add_option("--timestamp", a->timestamp, "Timestamp column (ISO 8601 or Unix seconds); not tested");
  cmd->add_option("--window", a->window, "Compare each window of this length (1d, 12h, 30m, seconds) with the reference");
  cmd->add_option("--window-thresholds", a->window_thresholds,
                  "fixed (the policy) or reference-chunks (mean + 3 sd of reference chunks)")
      ->capture_default_str();
  cmd->add_option("--policy", a->policy, "Decision policy JSON: ok / warn / rollback (docs/drift.md)");
  cmd->add_flag("--mmd", a->mmd, "Also run the multivariate MMD permutation test on numeric columns");
  cmd->add_option("--mmd-rows", a->mmd_rows, "Rows sampled from each side for MMD")
      ->check(CLI::Range(int64_t{2}, int64_t{2000}))
      ->capture_default_str();
  cmd->add_option("--permutations", a->permutations, "MMD permutations")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--seed", a->seed, "Random seed of the MMD subsample and permutations")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Threads")->check(CLI::Range(1, 256))->capture_default_str();
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a] { *exit_code = RunDrift(g, *a); });
}

}  // namespace dlcost::cli
