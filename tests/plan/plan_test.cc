// The planner against a brute-force search through the single-layout estimator, its
// constraints and its determinism.
#include <gtest/gtest.h>

#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/plan.h"
#include "dlcost/training.h"

namespace dlcost {
namespace {

struct Env {
  HardwareCatalog hw;
  ModelCatalog zoo;
};

const Env& E() {
  static const Env* env = [] {
    auto* e = new Env();
    auto hw = HardwareCatalog::Load(DLCOST_TEST_DATA_DIR);
    auto zoo = ModelCatalog::Load(DLCOST_TEST_DATA_DIR);
    EXPECT_TRUE(hw.ok() && zoo.ok());
    e->hw = *hw;
    e->zoo = *zoo;
    return e;
  }();
  return *env;
}

PlanRequest Request(const std::string& model, const std::string& gpu, std::vector<int64_t> counts) {
  PlanRequest req;
  req.model = *E().zoo.Resolve(model);
  req.setup.seq_len = 4096;
  req.setup.overhead_bytes = -1;
  req.tokens = 1e11;
  req.objective = Objective::kTime;
  req.threads = 1;
  req.space.num_gpus = std::move(counts);
  req.space.precision = {Dtype::kBf16};
  req.space.global_batch = 256;
  GpuCandidate c;
  Accelerator acc = *E().hw.Resolve(gpu);
  c.system = *MakeSystem(E().hw, acc, 0, 0);
  req.candidates.push_back(c);
  return req;
}

TEST(Planner, BestPlanMatchesBruteForceOverTheSameSpace) {
  PlanRequest req = Request("llama-2-7b", "h100-sxm-80gb", {16});
  req.space.tp = {1, 2, 4, 8};
  req.space.pp = {1, 2, 4};
  req.space.vpp = {1};
  req.space.micro_batch = {1, 2};
  req.space.zero = {0, 1};
  Result<PlanResult> r = RunPlan(req);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_FALSE(r->plans.empty());
  double best = 1e300;
  int evaluated = 0;
  for (int64_t tp : {1, 2, 4, 8}) {
    for (int64_t pp : {1, 2, 4}) {
      for (int64_t mb : {1, 2}) {
        for (Recompute rc : {Recompute::kNone, Recompute::kSelective, Recompute::kFull}) {
          for (int z : {0, 1}) {
            TrainingSetup s = req.setup;
            s.num_gpus = 16;
            s.tp = tp;
            s.pp = pp;
            s.micro_batch = mb;
            s.global_batch = 256;
            s.recompute = rc;
            s.zero = z;
            Result<TrainingEstimate> e = EstimateTraining(req.model, req.candidates[0].system, s, req.candidates[0].efficiency);
            if (!e.ok()) continue;
            if (e->layout.dp == 1 && z != 0) continue;  // the planner skips ZeRO without data parallelism
            ++evaluated;
            if (e->fits) best = std::min(best, e->time_step_s);
          }
        }
      }
    }
  }
  EXPECT_EQ(r->stats.evaluated, evaluated);
  EXPECT_NEAR(r->plans.front().estimate.time_step_s, best, 1e-12 * best);
}

TEST(Planner, SameResultWithOneOrTwoThreads) {
  PlanRequest one = Request("llama-2-13b", "a100-sxm-80gb", {8, 16, 32, 64});
  one.objective = Objective::kEnergy;
  PlanRequest two = one;
  two.threads = 2;
  Result<PlanResult> a = RunPlan(one);
  Result<PlanResult> b = RunPlan(two);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->plans.size(), b->plans.size());
  EXPECT_EQ(a->stats.evaluated, b->stats.evaluated);
  EXPECT_EQ(a->stats.feasible, b->stats.feasible);
  for (size_t i = 0; i < a->plans.size(); ++i) {
    EXPECT_EQ(a->plans[i].objective_value, b->plans[i].objective_value);
    EXPECT_EQ(a->plans[i].num_gpus, b->plans[i].num_gpus);
    EXPECT_EQ(a->plans[i].estimate.layout.tp, b->plans[i].estimate.layout.tp);
    EXPECT_EQ(a->plans[i].estimate.layout.pp, b->plans[i].estimate.layout.pp);
  }
}

TEST(Planner, DeadlineThatCannotBeMetNamesTheDeadline) {
  PlanRequest req = Request("llama-2-70b", "a100-sxm-80gb", {64});
  req.tokens = 2e12;
  req.deadline_s = 86400;  // one day on 64 A100s is far too short for 2T tokens
  Result<PlanResult> r = RunPlan(req);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->plans.empty());
  EXPECT_NE(r->binding.find("deadline"), std::string::npos) << r->binding;
  EXPECT_GT(r->stats.rejected["over_deadline"], 0);
}

TEST(Planner, UnevenPipelineStagesAreCandidates) {
  // Llama 3.1 405B has 126 layers: 16 stages do not divide them, yet the planner searches them
  // (uneven stages, the production layout) beside the divisors.
  PlanRequest req = Request("llama-3.1-405b", "h100-sxm-80gb", {1024});
  req.space.tp = {8};
  req.space.vpp = {1};
  req.space.micro_batch = {1};
  req.space.recompute = {Recompute::kFull};
  req.space.zero = {1};
  req.space.global_batch = 1024;
  req.top_k = 100;
  Result<PlanResult> r = RunPlan(req);
  ASSERT_TRUE(r.ok()) << r.status().message();
  bool pp16 = false;
  for (const Plan& p : r->plans) pp16 = pp16 || p.estimate.layout.pp == 16;
  EXPECT_TRUE(pp16);
}

TEST(Planner, NothingFitsNamesMemory) {
  PlanRequest req = Request("llama-3.1-405b", "l4", {1, 2});
  Result<PlanResult> r = RunPlan(req);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->plans.empty());
  EXPECT_NE(r->binding.find("memory"), std::string::npos) << r->binding;
}

TEST(Planner, BudgetKeepsPlansUnderIt) {
  PlanRequest req = Request("llama-2-7b", "a100-sxm-80gb", {8, 16, 32});
  req.objective = Objective::kTime;
  Offer o;
  o.provider = "test";
  o.instance = "8x";
  o.gpu = "a100-sxm-80gb";
  o.gpu_count = 8;
  o.on_demand_usd_per_hour = 16;
  req.candidates[0].offers = {o};
  req.candidates[0].instance_gpus = 8;
  Result<PlanResult> free_run = RunPlan(req);
  ASSERT_TRUE(free_run.ok() && !free_run->plans.empty());
  double cheapest = 1e300;
  for (const Plan& p : free_run->pareto) cheapest = std::min(cheapest, *p.cost.usd);
  req.budget_usd = cheapest * 1.01;
  Result<PlanResult> r = RunPlan(req);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->plans.empty());
  for (const Plan& p : r->plans) EXPECT_LE(*p.cost.usd, *req.budget_usd);
  for (const Plan& p : r->plans) EXPECT_EQ(p.num_gpus % 8, 0);
}

TEST(Planner, BadRequests) {
  PlanRequest req = Request("llama-2-7b", "a100-sxm-80gb", {8});
  req.gpus_max = 0;
  EXPECT_FALSE(RunPlan(req).ok());
  req = Request("llama-2-7b", "a100-sxm-80gb", {8});
  req.tokens.reset();
  EXPECT_FALSE(RunPlan(req).ok());
  req = Request("llama-2-7b", "a100-sxm-80gb", {8});
  req.candidates.clear();
  EXPECT_FALSE(RunPlan(req).ok());
}

}  // namespace
}  // namespace dlcost
