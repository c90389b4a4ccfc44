// dlcost plan: the cheapest (or fastest, lowest-energy, lowest-CO2) way to train a model.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "cli_common.h"
#include "dlcost/api_plan.h"
#include "record_flags.h"

namespace dlcost::cli {
namespace {

struct PlanArgs {
  api::PlanSearchRequest req;
  bool pareto = false, stats = false;
  RecordOptions rec;
};

int RunPlanCommand(const GlobalOptions& g, PlanArgs a) {
  if (Status st = CheckRecordOptions(a.rec); !st.ok()) return Fail(st);
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  a.req.progress = isatty(fileno(stderr)) != 0;
  // --project with a ledger budget: what it leaves is a hard dollar limit, like --budget-usd.
  Result<std::optional<ledger::BudgetStatus>> project_budget = ProjectBudget(a.rec);
  if (!project_budget.ok()) return Fail(project_budget.status());
  if (*project_budget) {
    double left = (*project_budget)->left;
    double given = a.req.budget.empty() ? left : std::strtod(a.req.budget.c_str(), nullptr);
    if (a.req.budget.empty() || (given > 0 && left < given)) a.req.budget = fmt::format("{:.6f}", left);
  }
  Result<api::PlanSearchResult> r = api::PlanSearch(*session, a.req);
  if (!r.ok()) return Fail(r.status());
  if (*project_budget && r->result.plans.empty()) {
    std::fprintf(stderr, "dlcost: %s\n", api::BudgetLine(**project_budget).c_str());
  }
  report::Report rep = api::PlanReport(*r, a.pareto, a.stats || g.format == "table");
  // Only a plan that was found is recorded (its best plan's figures).
  int code = !r->result.plans.empty() ? EmitRecorded(g, a.rec, "plan", api::PlanJson(*r), &rep)
             : g.format == "json"     ? EmitText(api::PlanJson(*r), g)
                                      : Emit(rep, g);
  if (code != 0) return code;
  if (r->result.plans.empty()) {
    std::fprintf(stderr, "dlcost: infeasible: %s\n", r->result.binding.c_str());
    return 3;
  }
  return 0;
}

}  // namespace

void RegisterPlan(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("plan", "Search GPUs, offers, GPU counts and layouts for the best way to train");
  auto a = std::make_shared<PlanArgs>();
  cmd->add_option("--model", a->req.model, "Zoo id, model JSON or Hugging Face config.json")->required();
  cmd->add_option("--tokens", a->req.tokens, "Tokens to train on, e.g. 15T");
  cmd->add_option("--steps", a->req.steps, "Optimizer steps (instead of --tokens)");
  cmd->add_option("--gpu", a->req.gpu, "GPU ids, comma-separated, or 'any' (default)")->capture_default_str();
  cmd->add_option("--gpus-max", a->req.gpus_max, "Largest GPU count to consider")->capture_default_str();
  cmd->add_option("--gpus", a->req.gpus, "Only these GPU counts, comma-separated (default: powers of two and 3 x powers of two)");
  cmd->add_option("--deadline", a->req.deadline, "Wall-clock limit, e.g. 30d, 12h (hard constraint)");
  cmd->add_option("--budget-usd", a->req.budget, "Dollar limit (hard constraint)");
  cmd->add_option("--objective", a->req.objective, "cost, time, energy or co2")->capture_default_str();
  cmd->add_option("--top", a->req.top, "How many plans to print")->capture_default_str();
  cmd->add_flag("--pareto", a->pareto, "Also print the cost vs time Pareto front");
  cmd->add_flag("--stats", a->stats, "Print search statistics");
  cmd->add_option("--threads", a->req.threads, "Worker threads (0: all cores)")->capture_default_str();
  cmd->add_option("--seq", a->req.seq, "Sequence length");
  cmd->add_option("--global-batch", a->req.global_batch, "Fix the sequences per step (default: ~4M tokens)");
  cmd->add_option("--precision", a->req.precision, "Allowed precisions, e.g. bf16,fp8 (default: bf16; fp8 on GPUs that have it when listed)");
  cmd->add_option("--optimizer", a->req.optimizer, "adamw, sgd, adafactor, adam8bit")->capture_default_str();
  cmd->add_option("--finetune", a->req.finetune, "none, full, lora, qlora")->capture_default_str();
  cmd->add_option("--lora-rank", a->req.lora_rank, "LoRA rank")->capture_default_str();
  cmd->add_option("--vms", a->req.vms, "SkyPilot-style vms.csv with the offers to consider");
  cmd->add_option("--price-usd-per-gpu-hour", a->req.price, "One price for every GPU type");
  cmd->add_option("--region", a->req.region, "Grid region for CO2 (default WORLD)");
  cmd->add_option("--pue", a->req.pue, "Data-centre PUE");
  cmd->add_option("--goodput", a->req.goodput, "Share of wall time spent training (default: modelled per plan)");
  cmd->add_option("--gpu-power-w", a->req.gpu_power_w, "Average board power per GPU (default: TDP)");
  cmd->add_option("--calibration", a->req.calibration, "Efficiency profile JSON");
  cmd->add_option("--memory-headroom", a->req.memory_headroom, "GiB kept free on every GPU (default 0)");
  cmd->add_option("--offload", a->req.offload,
                  "Training state in host memory: auto (searched), none, or optimizer, params, activations joined with '+' for every plan");
  cmd->add_option("--framework", a->req.framework, "Training framework (as train's --framework)");
  cmd->add_option("--bands", a->req.bands, "Error-band table JSON (default: data/bands/training.json)");
  cmd->add_flag("--no-flash", a->req.no_flash, "Model unfused attention");
  AddRecordOptions(cmd, &a->rec, /*budget_guard=*/true);
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a] { *exit_code = RunPlanCommand(g, *a); });
}

}  // namespace dlcost::cli
