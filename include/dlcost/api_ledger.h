// The cost ledger as library calls (docs/ledger.md): record an estimate, import actual runs,
// compare them, keep budgets.
//
//   api::RecordRequest rec;
//   rec.db = "ledger.db"; rec.run_name = "r1"; rec.command = "train";
//   rec.result_json = api::... JSON the command prints ...;
//   DLCOST_ASSIGN_OR_RETURN(std::string id, api::RecordEstimate(rec));
//   DLCOST_ASSIGN_OR_RETURN(api::LedgerImportResult imp, api::LedgerImport({.db = "ledger.db", .importer = "csv", .file = "runs.csv"}));
//   DLCOST_ASSIGN_OR_RETURN(ledger::Comparison c, api::LedgerCompare({.db = "ledger.db"}));
//   std::string json = api::LedgerCompareJson(c);  // the exact JSON of `dlcost ledger compare --format json`
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dlcost/ledger.h"
#include "dlcost/report.h"
#include "dlcost/status.h"

namespace dlcost::api {

// The ledger file `db` names: itself, or DefaultLedgerPath() when empty.
Result<std::string> LedgerPath(const std::string& db);

// An estimate to keep: the command, its words, and the JSON it printed (`--format json`).
struct RecordRequest {
  std::string db;  // empty: the default ledger
  std::string project, run_name;
  std::vector<std::string> tags;  // "key=value"
  std::string command;            // train, infer, plan, budget, tco
  std::vector<std::string> args;  // the command line after `dlcost`
  std::string data_dir;           // the catalogs it read
  std::string result_json;
};
// Records the estimate and returns its id. The metrics come from the result: wall_days (as
// seconds), gpu_hours, energy_kwh, usd, co2_kg, tokens, tokens_per_s (infer: output_tok_s), gpu,
// num_gpus; a plan's are those of its first (best) plan.
Result<std::string> RecordEstimate(const RecordRequest& r);
// `json` with "ledger_id": id added at the end (same layout as the command's own JSON).
std::string WithLedgerId(const std::string& json, const std::string& id);

struct LedgerListRequest {
  std::string db, project, run_name;
  std::string kind;  // empty, estimate or actual
};
struct LedgerListResult {
  std::string db;
  std::vector<ledger::Entry> entries;
};
Result<LedgerListResult> LedgerList(const LedgerListRequest& r);
// {"entries":[{"id":...,"kind":"estimate","run_name":...,"project":...,...}]}
std::string LedgerListJson(const LedgerListResult& r);
report::Report LedgerListReport(const LedgerListResult& r);

Result<ledger::Entry> LedgerShow(const std::string& db, const std::string& id);
std::string LedgerEntryJson(const ledger::Entry& e);
report::Report LedgerEntryReport(const ledger::Entry& e);

struct LedgerImportRequest {
  std::string db;
  std::string importer;  // csv, codecarbon, slurm, mlflow, wandb
  std::string file;      // mlflow: the mlruns folder (or one experiment's)
  std::string project;     // sets (or overrides) the project of every row
  std::string name_field;  // codecarbon, slurm, wandb: the column naming the run
  bool skip_bad_rows = false;
};
struct LedgerImportResult {
  std::string db, importer, file;
  ledger::ImportCounts counts;
  std::vector<ledger::SkippedRow> skipped;
};
// Reads the file with the importer and adds its rows in one transaction (all or nothing).
Result<LedgerImportResult> LedgerImport(const LedgerImportRequest& r);
report::Report LedgerImportReport(const LedgerImportResult& r);

Status LedgerLink(const std::string& db, const std::string& estimate_id, const std::string& actual_id);

struct LedgerCompareRequest {
  std::string db, project;
};
Result<ledger::Comparison> LedgerCompare(const LedgerCompareRequest& r);
// {"pairs":[{"estimate_id",...,"rel_error"}],"summary":{"gpu_hours":{"n":..,"mape_pct":..,"bias_pct":..}}}
std::string LedgerCompareJson(const ledger::Comparison& c);
report::Report LedgerCompareReport(const ledger::Comparison& c);

struct LedgerBudgetSetRequest {
  std::string db, project;
  std::string usd;  // text of --usd
  std::string period = "total";
};
Status LedgerBudgetSet(const LedgerBudgetSetRequest& r);

struct LedgerBudgetCheckRequest {
  std::string db, project;  // empty project: every budget
  std::string now;          // UTC ISO 8601; empty: the current time
};
struct LedgerBudgetCheckResult {
  std::string db, now;
  std::vector<ledger::BudgetStatus> budgets;
  bool exceeded = false;  // any budget's spending is over it
};
// NotFound when the project has no budget (or, with no project, when there is none).
Result<LedgerBudgetCheckResult> LedgerBudgetCheck(const LedgerBudgetCheckRequest& r);
report::Report LedgerBudgetReport(const LedgerBudgetCheckResult& r);

struct LedgerFitRequest {
  std::string db, project, cluster;
  std::string by = "gpu";    // gpu, or cluster: every cluster tag side by side, a profile each
  std::string base_profile;  // the efficiency profile the corrections are added to
  std::string min_pairs = "2";  // GPUs with fewer pairs get no correction
};
struct LedgerFitProfile {
  std::string cluster;  // by cluster: the cluster it is for; else the --cluster given (or empty)
  std::string json;     // the base profile with "ledger_corrections" added
};
struct LedgerFitResult {
  std::string db, base_profile, by = "gpu";
  ledger::FitResult fit;
  int64_t min_pairs = 2;
  std::vector<LedgerFitProfile> profiles;  // one; by cluster, one per cluster with a correction
};
// Fits a run-time correction per GPU (per cluster and GPU with by = "cluster") from the ledger's
// estimate-actual pairs and writes it into copies of the base profile (docs/ledger.md, "Fit").
// InvalidInput when no GPU has enough pairs; by cluster, also when a cluster tag cannot name a file.
Result<LedgerFitResult> LedgerFit(const LedgerFitRequest& r);
report::Report LedgerFitReport(const LedgerFitResult& r);

// What a project's budget leaves for a new plan (`plan` and `budget` with --project): nullopt
// when the project has no budget. `run_name` (may be empty) is the run being planned: its own
// earlier estimate does not count as committed.
Result<std::optional<ledger::BudgetStatus>> LedgerProjectBudget(const std::string& db, const std::string& project,
                                                                const std::string& run_name);
// "project 'lm' budget: $20000.00 per month, $12000.00 spent, $3000.00 committed, $5000.00 left".
std::string BudgetLine(const ledger::BudgetStatus& s);

}  // namespace dlcost::api
