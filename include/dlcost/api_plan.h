// `plan` and `budget` as library calls: search GPUs, offers, GPU counts and layouts for the
// cheapest (or fastest, lowest-energy, lowest-CO2) way to train, and find what a budget buys
// (docs/plan.md).
//
//   api::PlanSearchRequest req;
//   req.model = "llama-3-8b"; req.tokens = "1T"; req.gpu = "h100,a100"; req.deadline = "30d";
//   DLCOST_ASSIGN_OR_RETURN(api::PlanSearchResult r, api::PlanSearch(session, req));
//   r.result.plans.front().cost.usd ...      // empty plans: r.result.binding says why
//   std::string json = api::PlanJson(r);     // the exact JSON contract of `dlcost plan`
#pragma once

#include <optional>
#include <string>

#include "dlcost/api_bands.h"
#include "dlcost/api_session.h"
#include "dlcost/plan.h"
#include "dlcost/report.h"

namespace dlcost::api {

// Every field is the text of the CLI flag of the same name (`budget` is --budget-usd, `price`
// is --price-usd-per-gpu-hour); empty means "not given".
struct PlanSearchRequest {
  std::string model, tokens, steps, gpu = "any", gpus_max = "4096", deadline, budget, objective = "cost";
  std::string top = "5", threads = "0", seq, global_batch, vms, price, region, pue, goodput, gpu_power_w;
  std::string gpus, precision, optimizer = "adamw", finetune = "none", lora_rank = "16", calibration;
  std::string memory_headroom;  // --memory-headroom: GiB kept free on every GPU
  std::string offload, framework;  // --offload, --framework: as train's, for every plan
  std::string bands;  // --bands: a band table instead of the shipped data/bands/training.json
  bool no_flash = false;
  bool progress = false;  // progress on stderr (the CLI sets it when stderr is a terminal)
};

struct PlanSearchResult {
  ModelSpec model;
  PlanRequest request;  // as searched (candidates, constraints, run context)
  PlanResult result;    // no plans: nothing is feasible, result.binding says why
  GridInfo grid;
  bool prices_given = false;  // --vms or --price-usd-per-gpu-hour instead of the shipped table
  std::vector<EstimateBands> plan_bands;    // 80% error bands of result.plans, index by index
  std::vector<EstimateBands> pareto_bands;  // of result.pareto
};

Result<PlanSearchResult> PlanSearch(const Session& session, const PlanSearchRequest& req);

// The record `dlcost plan` prints in human formats; `pareto` adds the front, `stats` the search
// statistics.
report::Report PlanReport(const PlanSearchResult& r, bool pareto, bool stats);
// The JSON `dlcost plan --format json` prints: plans, Pareto front, statistics, binding.
std::string PlanJson(const PlanSearchResult& r);

struct BudgetRequest {
  std::string usd, deadline, gpu = "any", gpus_max = "4096", seq = "4096", finetune, tokens, method = "lora";
  std::string tokens_per_param, region, calibration, memory_headroom;
  std::string offload;  // --offload: as train's, for every plan
  std::string bands;  // --bands: a band table instead of the shipped data/bands/training.json
};

struct BudgetResult {
  bool finetune = false;       // --finetune: the cheapest fine-tune of a given model
  bool offload_searched = false;  // --offload auto: offloading was a searched dimension
  double usd = 0;
  std::optional<Plan> plan;    // empty: nothing fits the budget, `infeasible` says why
  std::string infeasible;
  // Compute-optimal mode: the model the budget buys.
  ModelSpec model;
  double params = 0;
  double tokens = 0;
  double compute_flops = 0;
  double tokens_per_param = 0;
  // Fine-tune mode.
  Finetune method = Finetune::kLora;
  int64_t layouts_evaluated = 0;
  double search_s = 0;
  EstimateBands bands;  // 80% error bands of the plan's GPU-hours, wall time and cost
};

// The largest compute-optimal model `req.usd` buys (Hoffmann et al. 2022) and the plan that
// trains it, or with --finetune the cheapest fine-tune of that model on --tokens.
Result<BudgetResult> Budget(const Session& session, const BudgetRequest& req);
report::Report BudgetReport(const BudgetResult& r);

// The GPU candidates plan and budget search: `gpu_list` is "any" (every GPU, TPU and NPU of the
// catalog) or comma-separated ids; offers come from `prices` unless `flat_price` gives one
// $/GPU-hour for all. GPUs without a power figure are left out when `gpu_power_w` is 0.
Result<std::vector<GpuCandidate>> BuildCandidates(const Session& session, const PriceTable& prices,
                                                  const std::string& gpu_list, std::optional<double> flat_price,
                                                  const std::string& calibration, double gpu_power_w);

}  // namespace dlcost::api
