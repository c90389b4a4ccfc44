// One row of a measured-cases CSV (validation/published/README.md) and the model its
// architecture columns describe. Shared by the training and inference validators.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/csv.h"
#include "dlcost/efficiency.h"
#include "dlcost/model.h"
#include "dlcost/status.h"
#include "dlcost/validate.h"

namespace dlcost {

struct CaseRow {
  const CsvTable* t;
  const CsvRow* r;
  // The trimmed field, or "" when the column is absent.
  std::string Get(const char* col) const;
  // Empty -> nullopt; otherwise a positive integer or an error naming the line and column.
  Result<std::optional<int64_t>> Int(const char* col) const;
  Result<std::optional<double>> Num(const char* col) const;
};


// The decoder model of a row: layers, hidden, heads, kv_heads, ffn, vocab (required ones
// missing are an error), ffn_act (gelu: GPT-style; swiglu: Llama-style; empty: the style whose
// parameter count is closer to params_b, else swiglu), and a mixture of experts when arch is
// "moe" or experts is given. Details the columns cannot express (head width, MLA, shared
// experts, leading dense layers, biases) come from the zoo model the `model` label names (its
// id or an alias), only when that model agrees with every architecture column the row gives:
// the columns stay authoritative. `zoo` may be null.
Result<ModelSpec> ModelFromRow(const CaseRow& row, const ModelCatalog* zoo = nullptr);

// The catalogs of a validation run: opts.catalogs when given, else read from `data_dir` into
// `*loaded`, which must outlive the pointer.
Result<const ValidationCatalogs*> CatalogsOf(const ValidationOptions& opts, const std::string& data_dir,
                                             std::optional<ValidationCatalogs>* loaded);

// The efficiency profile of each GPU of a validation run, read from the profile file once per
// GPU rather than once per row.
class EfficiencyCache {
 public:
  explicit EfficiencyCache(std::string path) : path_(std::move(path)) {}
  Result<EfficiencyProfile> Get(const std::string& gpu_id);

 private:
  std::string path_;
  std::map<std::string, EfficiencyProfile> by_gpu_;
};

// Marks `vc` skipped for `why`; returns Ok so a predictor can `return Skip(vc, "...")`.
Status Skip(ValidationCase& vc, std::string why);

// Reads the cases in `csv_path` (case_id, metric, value and gpu columns required; a column
// outside `columns`, the schema's, is an error naming it). Rows without a
// positive value or with a metric outside `metrics` are skipped with the reason; the others go to
// `predict`, which sets vc.predicted (and vc.chosen) or skips the row. A non-ok Status from
// `predict` stops the run. Fills rel_error, status and the per-metric summary.
Result<ValidationReport> RunCases(const std::string& csv_path, const std::vector<std::string>& columns,
                                  const std::vector<std::string>& metrics,
                                  const std::function<Status(const CaseRow& row, ValidationCase& vc)>& predict);

}  // namespace dlcost
