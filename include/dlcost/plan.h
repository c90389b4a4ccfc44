// The planner: searches GPU types and offers, GPU counts and every layout dimension for the
// cheapest (or fastest, or lowest-energy, or lowest-CO2) way to train, through the same
// training model as `dlcost train`.
//
//   PlanRequest req;  req.model = m; req.tokens = 15e12; req.candidates = {...}; req.gpus_max = 4096;
//   DLCOST_ASSIGN_OR_RETURN(PlanResult r, RunPlan(req));
//   r.plans.front()  // the best plan; r.stats.evaluated layouts were evaluated
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dlcost/prices.h"
#include "dlcost/training.h"

namespace dlcost {

enum class Objective { kCost, kTime, kEnergy, kCo2 };
Result<Objective> ParseObjective(const std::string& s);
const char* ObjectiveName(Objective o);

// One GPU type rented in instances of one size, with the offers at that size (cheapest first;
// empty: no price known). Instances smaller than a node form their own nodes: the system's
// gpus_per_node is the instance size, and GPU counts must be multiples of it.
struct GpuCandidate {
  SystemSpec system;
  EfficiencyProfile efficiency;
  std::vector<Offer> offers;
  int64_t instance_gpus = 0;  // GPUs per rentable instance; 0 = any count
};

// Which values each layout dimension may take; an empty list means "search the default set".
struct LayoutSpace {
  std::vector<int64_t> num_gpus;      // default: powers of two and 3 x powers of two up to gpus_max
  std::vector<int64_t> tp, pp, cp, ep, vpp, micro_batch;
  std::vector<Recompute> recompute;
  std::vector<int> zero;
  std::vector<Dtype> precision;       // default: bf16 (fp8 only when listed, on GPUs that have it)
  std::optional<int64_t> global_batch;  // default: ~4M tokens, rounded to a multiple of dp x micro-batch
  std::optional<bool> seq_parallel;   // default: on when tp > 1
  std::vector<Offload> offload;       // default: the setup's offload only
};

// --offload of plan and budget into `req`: "auto" searches keeping nothing, the optimizer, the
// activations, both, or the weights and activations in host memory (space.offload); any other
// value is train's --offload, applied to every plan (setup.offload). InvalidInput naming the flag.
struct PlanRequest;
Status ApplyOffloadFlag(const std::string& text, PlanRequest& req);

struct PlanRequest {
  ModelSpec model;
  TrainingSetup setup;  // seq_len, optimizer, finetune, ... (layout fields ignored: see space)
  LayoutSpace space;
  std::vector<GpuCandidate> candidates;
  int64_t gpus_max = 4096;
  std::optional<double> tokens;
  std::optional<double> steps;
  std::optional<double> deadline_s;
  std::optional<double> budget_usd;
  Objective objective = Objective::kCost;
  int top_k = 5;
  int threads = 0;  // 0: hardware concurrency
  bool progress = false;
  RunInputs run;    // goodput, PUE, carbon, power (price comes from the offer)
};

struct Plan {
  std::string gpu;
  std::optional<Offer> offer;
  int64_t num_gpus = 0;
  Dtype precision = Dtype::kBf16;
  Offload offload;  // what the plan keeps in host memory
  TrainingEstimate estimate;
  RunCost cost;
  double objective_value = 0;
};

struct PlanStats {
  int64_t evaluated = 0;  // full layout evaluations performed
  int64_t feasible = 0;   // evaluated layouts that fit and meet every constraint (per offer)
  int64_t pruned = 0;     // combinations rejected by divisibility before evaluation
  double elapsed_s = 0;
  int threads = 1;
  std::map<std::string, int64_t> rejected;  // reason -> count
};

struct PlanResult {
  std::vector<Plan> plans;   // best first, at most top_k
  std::vector<Plan> pareto;  // cost vs wall time front, cheapest first
  PlanStats stats;
  std::string binding;       // when nothing is feasible: which constraint binds and by how much
};

// Runs the search. Invalid requests are InvalidInput; when nothing satisfies the constraints,
// the result has no plans and `binding` says why (the CLI exits 3).
Result<PlanResult> RunPlan(const PlanRequest& req);

// Searches the layouts of one evaluator for the fastest that fits (used by `train` and the
// validator for the layout fields left empty). Fixed fields of `s` stay fixed; values listed in
// `also` are searched in addition to the default set of each free dimension.
Result<TrainingEstimate> FastestLayout(const TrainingEvaluator& ev, const TrainingSetup& s,
                                       const LayoutSpace* also = nullptr);

// Fills the empty layout fields by searching tp, pp, micro-batch (and recompute when unset)
// for the fastest layout that fits; returns its estimate with `chosen` listing the choices.
Result<TrainingEstimate> EstimateWithChosenLayout(const ModelSpec& model, const SystemSpec& sys,
                                                  const TrainingSetup& s, const EfficiencyProfile& eff);

}  // namespace dlcost
