// dlcost drift --reference REF --current CUR: which columns drifted, with which test, and the
// dataset verdict. Exit 0 no drift, 5 drift (with --policy: 5 on rollback), 1 bad input, 2 usage.
#include <unistd.h>

#include <cstdio>

#include "cli_common.h"
#include "dlcost/api_drift.h"

namespace dlcost::cli {
namespace {

constexpr int kExitDrift = 5;  // issue 8: "exit status 0 (no drift) or 5 (drift)"

// "dlcost drift: reading ref.csv" on the terminal's stderr, overwritten by each step.
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

int RunDrift(const GlobalOptions& g, const api::DriftRequest& a) {
  Result<report::Format> format = report::ParseFormat(g.format);
  if (!format.ok()) return Fail(format.status());
  Progress progress;
  Result<api::DriftResult> r = api::Drift(a, [&progress](const std::string& what) { progress.Say(what); });
  progress.Done();
  if (!r.ok()) return Fail(r.status());
  std::string text = *format == report::Format::kJson ? api::DriftJson(*r) : report::Render(api::DriftReport(*r), *format);
  if (int rc = EmitText(text, g); rc != 0) return rc;
  if (!r->untested.ok()) return Fail(r->untested);
  return r->drifted ? kExitDrift : 0;
}

}  // namespace

void RegisterDrift(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "drift",
      "Compare a current table with a reference table: which columns drifted, with which test.\n"
      "Exit 0 no dataset drift, 5 drift (with --policy: 5 on rollback), 1 bad input, 2 usage.");
  auto a = std::make_shared<api::DriftRequest>();
  cmd->add_option("--reference", a->reference, "Reference table (CSV, or JSONL by .jsonl/.ndjson)")->required();
  cmd->add_option("--current", a->current, "Current table (same format rules)")->required();
  cmd->add_option("--columns", a->columns, "Comma-separated columns to test (default: all)");
  cmd->add_option("--method", a->method, "Test for every column: auto, ks, psi, wasserstein, chisquare, jensenshannon")
      ->capture_default_str();
  cmd->add_option("--test", a->test, "Per-column test, COLUMN=METHOD (repeatable)");
  cmd->add_option("--threshold", a->threshold, "Per-column threshold, COLUMN=VALUE (repeatable)");
  cmd->add_option("--numeric", a->numeric, "Comma-separated columns to read as numeric");
  cmd->add_option("--categorical", a->categorical, "Comma-separated columns to read as categorical");
  cmd->add_option("--text", a->text, "Comma-separated columns to compare by text length");
  TypedAs<double>(cmd->add_option("--p-value", a->p_value, "KS / chi-square: drift when p < this (default 0.05)")
                      ->check(CLI::Range(0.0, 1.0)));
  TypedAs<double>(cmd->add_option("--distance-threshold", a->distance_threshold,
                                  "Wasserstein / Jensen-Shannon: drift when >= this (default 0.1)")
                      ->check(CLI::NonNegativeNumber));
  TypedAs<double>(cmd->add_option("--psi-threshold", a->psi_threshold, "PSI: drift when >= this (default 0.1)")
                      ->check(CLI::NonNegativeNumber));
  TypedAs<double>(cmd->add_option("--drift-share", a->drift_share,
                                  "Dataset drift when this share of columns drift (default 0.5)")
                      ->check(CLI::Range(0.0, 1.0)));
  cmd->add_flag("--bonferroni", a->bonferroni, "Divide p-value thresholds by the number of p-value tests");
  cmd->add_option("--timestamp", a->timestamp, "Timestamp column (ISO 8601 or Unix seconds); not tested");
  cmd->add_option("--window", a->window, "Compare each window of this length (1d, 12h, 30m, seconds) with the reference");
  cmd->add_option("--window-thresholds", a->window_thresholds,
                  "fixed (the policy) or reference-chunks (mean + 3 sd of reference chunks)")
      ->capture_default_str();
  cmd->add_option("--policy", a->policy, "Decision policy JSON: ok / warn / rollback (docs/drift.md)");
  cmd->add_flag("--mmd", a->mmd, "Also run the multivariate MMD permutation test on numeric columns");
  TypedAs<int64_t>(cmd->add_option("--mmd-rows", a->mmd_rows, "Rows sampled from each side for MMD")
                       ->check(CLI::Range(int64_t{2}, int64_t{2000}))
                       ->capture_default_str());
  TypedAs<int>(
      cmd->add_option("--permutations", a->permutations, "MMD permutations")->check(CLI::Range(1, 100000))->capture_default_str());
  TypedAs<uint64_t>(
      cmd->add_option("--seed", a->seed, "Random seed of the MMD subsample and permutations")->capture_default_str());
  TypedAs<int>(cmd->add_option("--threads", a->threads, "Threads")->check(CLI::Range(1, 256))->capture_default_str());
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a] { *exit_code = RunDrift(g, *a); });
}

}  // namespace dlcost::cli
