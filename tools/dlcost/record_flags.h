// --record and its flags on the estimating commands (train, infer, plan, budget): the estimate
// is kept in the ledger (docs/ledger.md, "Recording estimates").
#pragma once

#include <string>
#include <vector>

#include "cli_common.h"
#include "dlcost/api_ledger.h"

namespace dlcost::cli {

struct RecordOptions {
  bool record = false;
  std::string db, project, run_name;
  std::vector<std::string> tags;
  bool budget_guard = false;  // plan, budget: --project (and --db) also hold the plan to the project's budget
};

// `budget_guard`: the command (plan, budget) refuses a plan that would break the project's budget.
void AddRecordOptions(CLI::App* cmd, RecordOptions* o, bool budget_guard = false);

// plan and budget with --project: what the project's budget leaves, or nullopt without a budget
// (or without --project). A budget already used up is Infeasible naming it.
Result<std::optional<ledger::BudgetStatus>> ProjectBudget(const RecordOptions& o);

// UsageError when --db, --project, --run-name or --tag come without --record (plan and budget:
// --project and --db alone hold the plan to the project's budget). Commands call it first.
Status CheckRecordOptions(const RecordOptions& o);

// Prints the command's output: `json` (what --format json prints) in JSON, else `other` rendered
// in the chosen format. With --record the estimate is recorded first: the JSON gains "ledger_id"
// and the other formats are followed by a line on stderr naming the entry. The exit code.
int EmitRecorded(const GlobalOptions& g, const RecordOptions& o, const char* command, const std::string& json,
                 const report::Report* other);

}  // namespace dlcost::cli
