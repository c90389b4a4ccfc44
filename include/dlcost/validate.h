// The validator: predicts every row of a measured-cases CSV (schema:
// validation/published/README.md) and reports the error per case and per metric, with an 80%
// error band per case from the other sources' residuals (docs/training.md, "Error bands").
//
//   DLCOST_ASSIGN_OR_RETURN(ValidationReport v, ValidateTraining(path, data_dir, eff_path));
//   v.cases[0].predicted_low, v.cases[0].predicted_high   // its leave-one-source-out band
//   ErrorBandTable t = BandTableFromReport(v, path);       // the bands `train` prints
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlcost/engines.h"
#include "dlcost/error_bands.h"
#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/status.h"

namespace dlcost {

struct ValidationCase {
  int64_t line = 0;  // of the CSV file
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
  // Error bands: the row's source (NormalizeSource) and regime (set by the predictor; an empty
  // family: no band), and the 80% band from other sources' residuals with the key it used.
  std::string source;
  std::string method;  // training: pre-training, full, lora or qlora (the finetune column)
  BandRegime regime;
  std::optional<double> predicted_low;
  std::optional<double> predicted_high;
  std::string band_key;
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
  int banded = 0;       // predicted cases with a band
  std::optional<double> band_coverage_pct;          // share of measured values inside their band
  std::optional<double> band_median_halfwidth_pct;  // median of (high - low) / 2 / predicted
};

// The bands of one metric family, leave-one-source-out beside in-sample (a case's own source
// included), to show how much of the in-sample coverage is the model seeing its own data.
struct BandFamilySummary {
  std::string family;
  int predicted = 0;
  int banded_loso = 0;
  std::optional<double> loso_coverage_pct;
  std::optional<double> loso_median_halfwidth_pct;
  int banded_in_sample = 0;
  std::optional<double> in_sample_coverage_pct;
  std::optional<double> in_sample_median_halfwidth_pct;
};

// The error of a group of predicted cases: one source, or one regime key.
struct ErrorGroup {
  std::string key;          // the source (NormalizeSource) or the regime ("time/hopper/zero3_fsdp/bf16_fp16")
  std::string family;       // MetricFamily of its cases
  int n = 0;
  double mape_pct = 0;
  double median_ape_pct = 0;
  double bias_pct = 0;
  bool fit_source = false;  // a source whose measurements fitted the efficiency profile
};

// MAPE of one metric family over every predicted case, beside the leave-one-source-out MAPE:
// the cases of sources that fitted the efficiency profile (EfficiencyProfile::fit_sources) left
// out, so that no source predicts itself.
struct FamilyError {
  std::string family;
  int n = 0;
  double mape_pct = 0;
  double median_ape_pct = 0;
  int loso_n = 0;
  std::optional<double> loso_mape_pct;
  std::optional<double> loso_median_ape_pct;
};

// A serving engine's iteration-time factor (docs/serving.md, "Engine factors"): the median of
// ln(predicted speed / measured speed) over the engine's published cases predicted in closed form
// (no simulated request rate, no mixture of experts), exponentiated; fitted when at least
// kEngineFitMinCases such cases from at least kEngineFitMinSources sources name the engine on
// one GPU generation and version epoch, else 1.
struct EngineFactorFit {
  std::string engine;  // engine/GPU generation/epoch, e.g. "vllm/cdna3/0.6.0"
  double fitted = 1;   // on every source
  double shipped = 1;  // what the engine profile holds
  int cases = 0;
  int sources = 0;
};
inline constexpr int kEngineFitMinCases = 6;
inline constexpr int kEngineFitMinSources = 2;

struct ValidationReport {
  std::vector<ValidationCase> cases;
  std::vector<MetricSummary> summary;
  int skipped = 0;
  std::vector<BandFamilySummary> band_families;  // empty when no case has a regime
  std::vector<ErrorGroup> by_source;             // per family and source (training)
  std::vector<ErrorGroup> by_regime;             // per full regime key (training)
  // Per family and training method (pre-training, full, lora, qlora), leave-one-source-out: the
  // fit sources' cases are left out (training).
  std::vector<ErrorGroup> by_method;
  std::vector<FamilyError> families;             // per family, all vs leave-one-source-out
  std::vector<std::string> fit_sources;          // the profile's fit sources the report left out
  // Inference: the engines' iteration-time factors fitted on these cases. The cases and in-sample
  // figures use the shipped factors; the LOSO figures and band coverage refit every factor
  // without the case's own source.
  std::vector<EngineFactorFit> engine_factors;
};

// Residuals a regime key needs, from sources other than the case's own, before its quantiles
// are used; below it the next coarser key is tried (docs/training.md, "Error bands").
inline constexpr int kBandMinResiduals = 8;

// The catalogs a validation run reads from the data folder: the GPUs and systems, the model zoo
// and the serving engines. Load them once to validate many files.
struct ValidationCatalogs {
  HardwareCatalog hw;
  ModelCatalog zoo;
  std::vector<EngineProfile> engines;
  static Result<ValidationCatalogs> Load(const std::string& data_dir);
};

// Assumptions applied to every row for what the schema does not record, and what is loaded.
struct ValidationOptions {
  bool flash_attention = true;  // fused attention (the default of current frameworks)
  bool compare_planner = false; // also search the fastest layout for rows that give theirs
  const ValidationCatalogs* catalogs = nullptr;  // loaded already; null: read from data_dir
};

// Validates the training cases in `csv_path`. `data_dir` holds the catalogs; `eff_path` is the
// efficiency profile to use.
Result<ValidationReport> ValidateTraining(const std::string& csv_path, const std::string& data_dir,
                                          const std::string& eff_path, const ValidationOptions& opts = {});

// Validates the inference and serving cases in `csv_path` with the serving estimator (same
// report shape). Rows give what they know; dlcost chooses the rest and says so in `chosen`.
Result<ValidationReport> ValidateInference(const std::string& csv_path, const std::string& data_dir,
                                           const std::string& eff_path, const ValidationOptions& opts = {});

// Fills report->summary (per metric: n, MAPE, median, max, bias) from report->cases.
void SummarizeValidation(ValidationReport* report);

// The source a `source` column names, so that rows of one paper or repository count as one:
// the text before the first ';'; "owner/repo:path..." and "owner/repo@commit:path" -> "owner/repo"; "Name et al. ... YEAR"
// -> "name et al. year" (the first 4-digit year, or 20YY from a venue's 'YY); otherwise the
// trimmed text up to the first part naming a piece of the publication (", 'Name' table",
// ", table", ", section", ", figure", ", revision", " (linked"), so one publication's tables are
// one source. Lower case.
std::string NormalizeSource(std::string_view source);

// The p-th quantile (0 <= p <= 1) of `values` by linear interpolation between order statistics
// (Hyndman and Fan type 7, numpy's default); 0 for no values.
double Quantile(std::vector<double> values, double p);

// The time-oriented log residual of a predicted case: ln(predicted / measured), negated for rate
// metrics (IsRateMetric).
double BandResidual(const ValidationCase& c);

// Fills report->by_source, by_regime and families from the predicted cases with a regime;
// `fit_sources` (NormalizeSource names) are the sources the model was fitted on.
void AddErrorGroups(ValidationReport* report, const std::vector<std::string>& fit_sources);

// Sets predicted_low/high of every predicted case with a regime from the 10th and 90th
// percentiles of the residuals of other sources (leave one source out), at the finest regime
// key with at least `min_residuals` of them; fills the band figures of the summary and
// report->band_families. Call after SummarizeValidation.
void AddErrorBands(ValidationReport* report, int min_residuals = kBandMinResiduals);

// The band table of all predicted cases (every source): each regime key with at least
// `min_residuals` residuals; `source` names the cases file.
ErrorBandTable BandTableFromReport(const ValidationReport& report, const std::string& source,
                                   int min_residuals = kBandMinResiduals);

}  // namespace dlcost
