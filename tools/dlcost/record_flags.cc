#include "record_flags.h"

#include <cstdio>

#include <fmt/format.h>

namespace dlcost::cli {

void AddRecordOptions(CLI::App* cmd, RecordOptions* o, bool budget_guard) {
  o->budget_guard = budget_guard;
  cmd->add_flag("--record", o->record, "Keep this estimate in the cost ledger (dlcost ledger list)");
  cmd->add_option("--db", o->db, "Ledger file (default $DLCOST_LEDGER, else $XDG_DATA_HOME/dlcost/ledger.db)");
  cmd->add_option("--project", o->project,
                  budget_guard ? "Project of the plan: plans that would break its ledger budget are refused (and the "
                                 "recorded estimate belongs to it)"
                               : "Project the recorded estimate belongs to");
  cmd->add_option("--run-name", o->run_name, "Run name: actual runs imported under this name are compared with it");
  cmd->add_option("--tag", o->tags, "KEY=VALUE kept with the recorded estimate (repeatable)");
}

Status CheckRecordOptions(const RecordOptions& o) {
  if (!o.record && o.budget_guard && (!o.tags.empty() || (!o.db.empty() && o.project.empty()))) {
    return UsageError("--tag needs --record, and --db needs --record or --project");
  }
  if (!o.record && !o.budget_guard && (!o.db.empty() || !o.project.empty() || !o.run_name.empty() || !o.tags.empty())) {
    return UsageError("--db, --project, --run-name and --tag need --record");
  }
  return Status::Ok();
}

int EmitRecorded(const GlobalOptions& g, const RecordOptions& o, const char* command, const std::string& json,
                 const report::Report* other) {
  Result<report::Format> f = report::ParseFormat(g.format);
  if (!f.ok()) return Fail(f.status());
  std::string id;
  if (o.record) {
    api::RecordRequest rec;
    rec.db = o.db;
    rec.project = o.project;
    rec.run_name = o.run_name;
    rec.tags = o.tags;
    rec.command = command;
    rec.args = g.argv;
    rec.data_dir = g.data_dir;
    rec.result_json = json;
    Result<std::string> r = api::RecordEstimate(rec);
    if (!r.ok()) return Fail(r.status());
    id = *r;
  }
  std::string text;
  if (*f == report::Format::kJson || other == nullptr) {
    text = id.empty() ? json : api::WithLedgerId(json, id);
  } else {
    text = report::Render(*other, *f);
  }
  int rc = EmitText(text, g);
  if (rc == 0 && !id.empty() && *f != report::Format::kJson) {
    std::fprintf(stderr, "dlcost: recorded as ledger entry %s\n", id.c_str());
  }
  return rc;
}

Result<std::optional<ledger::BudgetStatus>> ProjectBudget(const RecordOptions& o) {
  if (o.project.empty()) return std::optional<ledger::BudgetStatus>();
  DLCOST_ASSIGN_OR_RETURN(std::optional<ledger::BudgetStatus> s, api::LedgerProjectBudget(o.db, o.project, o.run_name));
  if (s && s->left <= 0) {
    return Infeasible(fmt::format("no plan fits {} (docs/ledger.md, 'Budgets')", api::BudgetLine(*s)));
  }
  return s;
}

}  // namespace dlcost::cli
