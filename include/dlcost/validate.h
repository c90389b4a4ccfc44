// The validator: predicts every row of a measured-cases CSV (schema:
// validation/published/README.md) and reports the error per case and per metric.
//
//   DLCOST_ASSIGN_OR_RETURN(ValidationReport v, ValidateTraining(path, hw, eff_path));
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dlcost/hardware.h"
#include "dlcost/status.h"

namespace dlcost {

struct ValidationCase {
  std::string case_id;
  std::string metric;
  double measured = 0;
  std::optional<double> predicted;
  std::optional<double> rel_error;  // (predicted - measured) / measured
  std::string status;               // "ok" or "skipped"
  std::string reason;               // why skipped
  std::string chosen;               // fields the tool chose, "tp=2 pp=1 ..."
  // With ValidationOptions::compare_planner, for rows that give their layout: the authors'
  // layout as dlcost predicts it, and the planner's fastest layout for the same GPUs and batch.
  std::optional<double> authors_step_s;
  std::optional<double> planner_step_s;
  std::string planner_layout;
};

struct MetricSummary {
  std::string metric;
  int n = 0;          // cases of this metric
  int predicted = 0;  // cases predicted
  int skipped = 0;
  double mape_pct = 0;
  double median_ape_pct = 0;
  double max_ape_pct = 0;
  std::string max_case;
  double bias_pct = 0;  // mean signed rel_error, %
};

struct ValidationReport {
  std::vector<ValidationCase> cases;
  std::vector<MetricSummary> summary;
  int skipped = 0;
};

// Assumptions applied to every row for what the schema does not record.
struct ValidationOptions {
  bool flash_attention = true;  // fused attention (the default of current frameworks)
  bool compare_planner = false; // also search the fastest layout for rows that give theirs
};

// Validates the training cases in `csv_path`. `data_dir` holds the catalogs; `eff_path` is the
// efficiency profile to use.
Result<ValidationReport> ValidateTraining(const std::string& csv_path, const std::string& data_dir,
                                          const std::string& eff_path, const ValidationOptions& opts = {});

// Validates the inference and serving cases in `csv_path` with the serving estimator (same
// report shape). Rows give what they know; dlcost chooses the rest and says so in `chosen`.
Result<ValidationReport> ValidateInference(const std::string& csv_path, const std::string& data_dir,
                                           const std::string& eff_path);

// Fills report->summary (per metric: n, MAPE, median, max, bias) from report->cases.
void SummarizeValidation(ValidationReport* report);

}  // namespace dlcost
