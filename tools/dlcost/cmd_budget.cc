// dlcost budget: the largest compute-optimal model a budget buys, and the plan that trains it;
// or, with --finetune, the cheapest way to fine-tune a given model.
#include <cstdio>

#include "cli_common.h"
#include "dlcost/api_plan.h"
#include "record_flags.h"

namespace dlcost::cli {
namespace {

int RunBudget(const GlobalOptions& g, const api::BudgetRequest& a, const RecordOptions& rec) {
  if (Status st = CheckRecordOptions(rec); !st.ok()) return Fail(st);
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  Result<std::optional<ledger::BudgetStatus>> project_budget = ProjectBudget(rec);
  if (!project_budget.ok()) return Fail(project_budget.status());
  Result<api::BudgetResult> r = api::Budget(*session, a);
  if (!r.ok()) return Fail(r.status());
  if (!r->plan) {
    std::fprintf(stderr, "dlcost: infeasible: %s\n", r->infeasible.c_str());
    return 3;
  }
  // --project: the plan must fit what the project's ledger budget leaves.
  if (*project_budget && r->plan->cost.usd && *r->plan->cost.usd > (*project_budget)->left) {
    std::fprintf(stderr, "dlcost: infeasible: the plan costs $%.2f, more than %s\n", *r->plan->cost.usd,
                 api::BudgetLine(**project_budget).c_str());
    return 3;
  }
  report::Report rep = api::BudgetReport(*r);
  return EmitRecorded(g, rec, "budget", report::Render(rep, report::Format::kJson), &rep);
}

}  // namespace

void RegisterBudget(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("budget", "What a budget buys: the largest compute-optimal model, or the cheapest fine-tune");
  auto a = std::make_shared<api::BudgetRequest>();
  auto rec = std::make_shared<RecordOptions>();
  cmd->add_option("--usd", a->usd, "Budget in US dollars")->required();
  cmd->add_option("--deadline", a->deadline, "Wall-clock limit, e.g. 14d");
  cmd->add_option("--gpu", a->gpu, "GPU ids, comma-separated, or 'any'")->capture_default_str();
  cmd->add_option("--gpus-max", a->gpus_max, "Largest GPU count")->capture_default_str();
  cmd->add_option("--seq", a->seq, "Sequence length")->capture_default_str();
  cmd->add_option("--tokens-per-param", a->tokens_per_param, "Compute-optimal tokens per parameter (default 20)");
  cmd->add_option("--finetune", a->finetune, "Fine-tune this model instead (zoo id or file)");
  cmd->add_option("--tokens", a->tokens, "Fine-tuning tokens (with --finetune)");
  cmd->add_option("--method", a->method, "lora, qlora or full (with --finetune)")->capture_default_str();
  cmd->add_option("--region", a->region, "Grid region for CO2");
  cmd->add_option("--memory-headroom", a->memory_headroom, "GiB kept free on every GPU (default 0)");
  cmd->add_option("--offload", a->offload,
                  "Training state in host memory: auto (searched), none, or optimizer, params, activations joined with '+' for every plan");
  cmd->add_option("--calibration", a->calibration, "Efficiency profile JSON (default: data/efficiency/default.json)");
  cmd->add_option("--bands", a->bands, "Error-band table JSON (default: data/bands/training.json)");
  AddRecordOptions(cmd, rec.get(), /*budget_guard=*/true);
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a, rec] { *exit_code = RunBudget(g, *a, *rec); });
}

}  // namespace dlcost::cli
