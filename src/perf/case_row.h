// One row of a measured-cases CSV (validation/published/README.md) and the model its
// architecture columns describe. Shared by the training and inference validators.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/csv.h"
#include "dlcost/model.h"
#include "dlcost/status.h"

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
// missing are an error), ffn_act (gelu: GPT-style; swiglu or empty: Llama-style), and a
// mixture of experts when arch is "moe" or experts is given.
Result<ModelSpec> ModelFromRow(const CaseRow& row);

}  // namespace dlcost
