// `drift` as a library call: which columns of a current table moved away from a reference table,
// with which test, per time window when asked, with the multivariate MMD test and the ok / warn /
// rollback verdict of a decision policy (docs/drift.md).
//
//   api::DriftRequest req;
//   req.reference = "ref.csv"; req.current = "cur.csv"; req.timestamp = "ts"; req.window = "1d";
//   DLCOST_ASSIGN_OR_RETURN(api::DriftResult r, api::Drift(req));
//   r.overall.dataset_drift, r.windows[0].result.drift_share, r.drifted ...
//   std::string json = api::DriftJson(r);  // the exact JSON contract of `dlcost drift --format json`
//   std::string md = report::Render(api::DriftReport(r), report::Format::kMarkdown);
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dlcost/drift.h"
#include "dlcost/report.h"
#include "dlcost/status.h"

namespace dlcost::api {

// Every field is the text of the CLI flag of the same name (`p_value` is --p-value, `test` the
// repeatable --test); empty means "not given".
struct DriftRequest {
  std::string reference, current, columns;
  std::string method = "auto";
  std::vector<std::string> test, threshold;
  std::string numeric, categorical, text;
  std::string p_value, distance_threshold, psi_threshold, drift_share;
  bool bonferroni = false;
  std::string timestamp, window;
  std::string window_thresholds = "fixed";
  std::string policy;
  bool mmd = false;
  std::string mmd_rows = "500", permutations = "200", seed = "42", threads = "2";
};

struct DriftWindowResult {
  drift::Window window;
  drift::DriftResult result;
};

struct DriftResult {
  std::string reference_path, current_path;
  drift::DriftResult overall;
  std::vector<DriftWindowResult> windows;     // empty without --window
  bool chunk_thresholds = false;              // windows judged by reference-chunk thresholds
  int64_t rows_without_timestamp = 0;
  std::optional<drift::MmdResult> mmd;        // with --mmd
  int mmd_permutations = 0;
  uint64_t mmd_seed = 0;
  std::optional<drift::Decision> decision;    // with --policy
  std::vector<std::string> notes;             // policy, skipped rows, reference chunks
  // The watched threshold: with a decision policy a "rollback" verdict, else dataset drift
  // overall or in any window.
  bool drifted = false;
  // InvalidInput naming the first reason when no column could be tested (the result is still
  // complete and printable), else ok.
  Status untested;
};

// Called with a short phrase ("reading ref.csv", "window 2024-05-01T00:00:00Z") as work starts.
using DriftProgress = std::function<void(const std::string& what)>;

// Compares the current table of `req` with its reference. Bad flags are UsageError naming the
// flag; unreadable files and policies are InvalidInput naming the file.
Result<DriftResult> Drift(const DriftRequest& req, const DriftProgress& progress = nullptr);

// The JSON `dlcost drift --format json` prints (an exact contract, docs/drift.md), ending in "\n".
std::string DriftJson(const DriftResult& r);

// The record the other formats print: fields, column, window and decision tables, notes.
report::Report DriftReport(const DriftResult& r);

}  // namespace dlcost::api
