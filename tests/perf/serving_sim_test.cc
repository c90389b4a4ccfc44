// Latency under load: the scheduler simulation on hand-checkable iteration times, and the
// simulated figures `infer --qps` reports (docs/serving.md, "Latency under load").
#include <cmath>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "dlcost/efficiency.h"
#include "dlcost/engines.h"
#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/serving.h"
#include "dlcost/system.h"
#include "perf/serving_sim.h"

namespace dlcost::perf {
namespace {

// Every iteration takes one second, whatever it carries.
IterationTable OneSecond(int64_t max_b = 64) {
  return IterationTable([](double, double) { return 1.0; }, max_b, 8192, 100, 0);
}

LoadRequest Req(double at, int64_t in, int64_t out) { return LoadRequest{at, in, out}; }

TEST(IterationTable, ExactOnTheGridLinearBetweenAndKvBeyondTheReference) {
  // t(b, p) = 1 ms + 0.1 ms x b + 0.01 ms x p is bilinear: the table reproduces it anywhere.
  IterationTable t([](double b, double p) { return 1e-3 + 1e-4 * b + 1e-5 * p; }, 256, 4096, 1000, 2e-9);
  EXPECT_NEAR(t.Seconds(0, 0, 0), 1e-3, 1e-12);
  EXPECT_NEAR(t.Seconds(16, 16 * 1000.0, 512), 1e-3 + 16e-4 + 512e-5, 1e-12);
  EXPECT_NEAR(t.Seconds(37, 37 * 1000.0, 700), 1e-3 + 37e-4 + 700e-5, 1e-12);
  // 37 sequences reading 500 more cached tokens each than the reference: 37 x 500 x 2 ns more.
  EXPECT_NEAR(t.Seconds(37, 37 * 1500.0, 700), 1e-3 + 37e-4 + 700e-5 + 37 * 500 * 2e-9, 1e-12);
}

TEST(SimulateReplica, OneRequestPrefillThenOneTokenPerIteration) {
  // Prompt in the first iteration (it also samples token 1), tokens 2 and 3 in the next two.
  SchedulerLimits lim;
  lim.kv_tokens = 1e6;
  ReplicaRun run = SimulateReplica({Req(0, 10, 3)}, OneSecond(), lim);
  const RequestOutcome& o = run.outcomes[0];
  ASSERT_TRUE(o.done);
  EXPECT_DOUBLE_EQ(o.ttft_s, 1);
  EXPECT_DOUBLE_EQ(o.e2e_s, 3);
  EXPECT_DOUBLE_EQ(o.tpot_s, 1);
  EXPECT_DOUBLE_EQ(o.queue_s, 0);
}

TEST(SimulateReplica, BatchCapMakesTheSecondRequestQueue) {
  SchedulerLimits lim;
  lim.kv_tokens = 1e6;
  lim.max_batch = 1;
  ReplicaRun run = SimulateReplica({Req(0, 10, 2), Req(0, 10, 2)}, OneSecond(), lim);
  EXPECT_DOUBLE_EQ(run.outcomes[0].e2e_s, 2);
  EXPECT_DOUBLE_EQ(run.outcomes[1].queue_s, 2);  // admitted when the first one leaves
  EXPECT_DOUBLE_EQ(run.outcomes[1].ttft_s, 3);
  EXPECT_DOUBLE_EQ(run.outcomes[1].e2e_s, 4);
  EXPECT_EQ(run.waiting_at_last_arrival, 2);
}

TEST(SimulateReplica, ClosedLoopSendsTheNextRequestWhenOneEnds) {
  // Two clients, one running at a time (batch cap 1), requests of 2 iterations each: the
  // arrival times given are ignored; request k arrives when request k - 2 ends.
  SchedulerLimits lim;
  lim.kv_tokens = 1e6;
  lim.max_batch = 1;
  std::vector<LoadRequest> reqs(6, Req(123, 10, 2));
  ReplicaRun run = SimulateReplica(reqs, OneSecond(), lim, 2);
  std::vector<double> want_arrival = {0, 0, 2, 4, 6, 8};
  for (size_t i = 0; i < reqs.size(); ++i) {
    ASSERT_TRUE(run.outcomes[i].done) << i;
    EXPECT_DOUBLE_EQ(run.arrival_s[i], want_arrival[i]) << i;
  }
  // Each later request waits for the other client's request (2 iterations), then runs 2.
  EXPECT_DOUBLE_EQ(run.outcomes[3].queue_s, 2);
  EXPECT_DOUBLE_EQ(run.outcomes[3].e2e_s, 4);
  // Open loop (clients 0) keeps the given arrival times.
  ReplicaRun open = SimulateReplica(reqs, OneSecond(), lim, 0);
  EXPECT_DOUBLE_EQ(open.arrival_s[5], 123);
}

TEST(SimulateReplica, LongPromptIsChunkedAtTheTokenBudget) {
  SchedulerLimits lim;
  lim.kv_tokens = 1e6;
  lim.token_budget = 100;
  ReplicaRun run = SimulateReplica({Req(0, 250, 1)}, OneSecond(), lim);
  EXPECT_DOUBLE_EQ(run.outcomes[0].ttft_s, 3);  // 100 + 100 + 50 prompt tokens
  EXPECT_DOUBLE_EQ(run.outcomes[0].e2e_s, 3);
}

TEST(SimulateReplica, FullKvCacheEvictsTheLatestAndEveryoneFinishes) {
  // KV grows per token and holds 60 tokens: two 20-token prompts fit, their outputs do not.
  SchedulerLimits lim;
  lim.kv_tokens = 60;
  lim.reserve_full = false;
  ReplicaRun run = SimulateReplica({Req(0, 20, 30), Req(0, 20, 30)}, OneSecond(), lim);
  EXPECT_GT(run.preemptions, 0);
  for (const RequestOutcome& o : run.outcomes) EXPECT_TRUE(o.done);
  // The evicted one recomputes its prompt and outputs, so it finishes after the other.
  EXPECT_GT(run.outcomes[1].e2e_s, run.outcomes[0].e2e_s);
}

TEST(SimulateReplica, RequestLongerThanTheCacheIsRejected) {
  SchedulerLimits lim;
  lim.kv_tokens = 100;
  ReplicaRun run = SimulateReplica({Req(0, 90, 20), Req(1, 10, 5)}, OneSecond(), lim);
  EXPECT_TRUE(run.outcomes[0].rejected);
  EXPECT_FALSE(run.outcomes[0].done);
  EXPECT_TRUE(run.outcomes[1].done);
}

TEST(SimulateReplica, SpeculationYieldsSeveralTokensPerIteration) {
  SchedulerLimits lim;
  lim.kv_tokens = 1e6;
  lim.tokens_per_step = 2.5;
  ReplicaRun run = SimulateReplica({Req(0, 10, 11)}, OneSecond(), lim);
  EXPECT_DOUBLE_EQ(run.outcomes[0].e2e_s, 5);  // 1 from the prompt pass, then 2.5 per iteration
}

TEST(PoissonReplicaStream, RoundRobinGapsAndSeed) {
  std::vector<LoadRequest> a = PoissonReplicaStream(100, 4, 20000, 512, 128, 7);
  std::vector<LoadRequest> b = PoissonReplicaStream(100, 4, 20000, 512, 128, 7);
  std::vector<LoadRequest> c = PoissonReplicaStream(100, 4, 20000, 512, 128, 8);
  ASSERT_EQ(a.size(), 20000u);
  EXPECT_DOUBLE_EQ(a.back().arrival_s, b.back().arrival_s);
  EXPECT_NE(a.back().arrival_s, c.back().arrival_s);
  // Every 4th of 100 req/s: one replica sees 25 req/s, with Erlang-4 gaps (variance 4 / 100^2).
  double mean = a.back().arrival_s / 20000.0;
  EXPECT_NEAR(mean, 0.04, 0.04 * 0.02);
  double var = 0, prev = 0;
  for (const LoadRequest& r : a) {
    double g = r.arrival_s - prev;
    prev = r.arrival_s;
    var += (g - mean) * (g - mean);
  }
  var /= 20000.0;
  EXPECT_NEAR(var, 4.0 / 1e4, 0.1 * 4.0 / 1e4);
}

TEST(Percentiles, NearestRank) {
  std::vector<double> v(100);
  std::iota(v.begin(), v.end(), 1.0);  // 1..100, shuffled order does not matter
  std::swap(v[0], v[99]);
  LatencyStats s = Percentiles(v);
  EXPECT_DOUBLE_EQ(s.p50, 50);
  EXPECT_DOUBLE_EQ(s.p90, 90);
  EXPECT_DOUBLE_EQ(s.p99, 99);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
}

struct Served {
  ModelSpec model;
  SystemSpec sys;
  EfficiencyProfile eff;
  EngineProfile engine;
};

Served Llama8bOnH100() {
  Served s;
  Result<ModelCatalog> zoo = ModelCatalog::Load(DLCOST_TEST_DATA_DIR);
  Result<HardwareCatalog> hw = HardwareCatalog::Load(DLCOST_TEST_DATA_DIR);
  EXPECT_TRUE(zoo.ok() && hw.ok());
  s.model = *zoo->Resolve("llama-3-8b");
  Result<Accelerator> gpu = hw->Resolve("h100-sxm-80gb");
  s.sys = *MakeSystem(*hw, *gpu, 0, 0);
  s.eff = *LoadEfficiency(std::string(DLCOST_TEST_DATA_DIR) + "/efficiency/default.json", gpu->id);
  Result<std::vector<EngineProfile>> engines = LoadEngines(DLCOST_TEST_DATA_DIR);
  EXPECT_TRUE(engines.ok());
  s.engine = engines->front();
  return s;
}

ServingEstimate AtLoad(const Served& m, double qps) {
  ServingSetup s;
  s.num_gpus = 1;
  s.input_len = 1024;
  s.output_len = 256;
  s.weights = *ParseNumberFormat("bf16", "--weights");
  s.qps = qps;
  s.sim_requests = 5000;
  Result<ServingEstimate> e = EstimateServing(m.model, m.sys, s, m.eff, m.engine);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return e.ok() ? *e : ServingEstimate{};
}

TEST(LatencyUnderLoad, LightLoadMatchesTheAnalyticFiguresAndLatencyGrowsWithLoad) {
  Served m = Llama8bOnH100();
  ServingEstimate light = AtLoad(m, 0.5);
  ASSERT_TRUE(light.load.has_value());
  // Nearly alone: TTFT is about one prompt pass, TPOT about one small decode step.
  EXPECT_NEAR(light.load->ttft_s.p50, light.prefill_s, 0.5 * light.prefill_s);
  EXPECT_FALSE(light.load->overloaded);
  EXPECT_NEAR(light.load->completed_req_s, 0.5, 0.05);
  ServingEstimate capacity = AtLoad(m, 1000);  // far beyond one GPU: queue grows without bound
  ASSERT_TRUE(capacity.load.has_value());
  EXPECT_TRUE(capacity.load->overloaded);
  EXPECT_FALSE(capacity.meets_targets);
  // 90% of what one GPU carries in steady state (the analytic rate at the engine cap).
  ServingEstimate busy = AtLoad(m, 0.9 * capacity.req_s);
  ASSERT_TRUE(busy.load.has_value());
  EXPECT_FALSE(busy.load->overloaded);
  EXPECT_GT(busy.load->ttft_s.p99, busy.load->ttft_s.p50);
  EXPECT_GT(busy.load->ttft_s.p99, light.load->ttft_s.p99);
  EXPECT_GT(busy.load->tpot_s.p50, light.load->tpot_s.p50);
}

TEST(LatencyUnderLoad, ConcurrencyAloneIsAClosedLoopWhoseFirstTokenWaitsForTheWave) {
  Served m = Llama8bOnH100();
  ServingSetup s;
  s.num_gpus = 1;
  s.input_len = 1024;
  s.output_len = 256;
  s.weights = *ParseNumberFormat("bf16", "--weights");
  s.sim_requests = 2000;
  s.concurrency = 1;
  Result<ServingEstimate> one = EstimateServing(m.model, m.sys, s, m.eff, m.engine);
  ASSERT_TRUE(one.ok()) << one.status().message();
  ASSERT_TRUE(one->load.has_value());
  EXPECT_EQ(one->load->arrivals, "closed loop");
  EXPECT_EQ(one->load->clients, 1);
  // One client: its TTFT is its own prompt pass, and it completes one request per latency.
  EXPECT_NEAR(one->load->ttft_s.p50, one->prefill_s, 0.05 * one->prefill_s);
  EXPECT_NEAR(one->load->completed_req_s, 1 / one->load->e2e_s.p50, 0.02 / one->load->e2e_s.p50);
  s.concurrency = 64;
  Result<ServingEstimate> many = EstimateServing(m.model, m.sys, s, m.eff, m.engine);
  ASSERT_TRUE(many.ok());
  ASSERT_TRUE(many->load.has_value());
  EXPECT_FALSE(many->load->overloaded);
  // 64 prompts of 1,024 tokens arrive together: the wave needs 8 passes of the 8,192-token
  // budget, so the median first token waits several prompt passes.
  EXPECT_GT(many->load->ttft_s.p50, 3 * one->prefill_s);
  EXPECT_GT(many->load->output_tok_s, 20 * one->load->output_tok_s);
}

}  // namespace
}  // namespace dlcost::perf
