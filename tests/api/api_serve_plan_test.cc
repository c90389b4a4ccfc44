// The serving planner (`infer --gpu any` or a list): plans that meet the targets under the
// simulated load, cheapest first, and a binding constraint when none does (docs/serving.md,
// "Serving planner").
#include <string>

#include <gtest/gtest.h>

#include "dlcost/api_serve.h"

namespace dlcost {
namespace {

api::InferRequest Ask(const std::string& gpu, const std::string& qps, const std::string& ttft_p99_ms) {
  api::InferRequest req;
  req.serve.model = "llama-3-8b";
  req.serve.gpu = gpu;
  req.serve.qps = qps;
  req.serve.ttft_p99_ms = ttft_p99_ms;
  req.serve.input = "1024";
  req.serve.output = "256";
  req.top = "3";
  return req;
}

TEST(ServePlan, PlansMeetTheTargetsCheapestFirst) {
  Result<api::Session> session = api::Session::Open(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(session.ok());
  Result<api::ServePlanResult> r = api::ServePlan(*session, Ask("h100,a100-80gb,l40s", "20", "400"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_FALSE(r->plans.empty()) << r->binding;
  EXPECT_LE(r->plans.size(), 3u);
  EXPECT_GT(r->evaluated, 0);
  EXPECT_TRUE(r->binding.empty());
  for (size_t i = 0; i < r->plans.size(); ++i) {
    const api::ServePlanEntry& p = r->plans[i];
    EXPECT_LE(p.ttft_ms_p99, 400.0) << p.gpu;
    EXPECT_FALSE(p.overloaded);
    EXPECT_EQ(p.gpus, p.replicas * p.tp);
    EXPECT_GT(p.usd_per_hour, 0);
    if (i > 0) EXPECT_GE(p.usd_per_hour, r->plans[i - 1].usd_per_hour);
  }
  // The front holds the cheapest plan, and no plan on it is both dearer and slower than another.
  ASSERT_FALSE(r->pareto.empty());
  EXPECT_DOUBLE_EQ(r->pareto.front().usd_per_hour, r->plans.front().usd_per_hour);
  std::string json = api::ServePlanJson(*r);
  for (const char* key : {"\"plans\"", "\"offer\"", "\"replicas\"", "\"kv_cache\"", "\"usd_per_1m_output_tokens\"",
                          "\"ttft_ms_p99\"", "\"tpot_ms_p50\"", "\"evaluated\"", "\"elapsed_s\""}) {
    EXPECT_NE(json.find(key), std::string::npos) << key;
  }
}

TEST(ServePlan, TargetNoSetupMeetsIsTheBindingConstraint) {
  Result<api::Session> session = api::Session::Open(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(session.ok());
  Result<api::ServePlanResult> r = api::ServePlan(*session, Ask("h100,a100-80gb", "20", "1"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->plans.empty());
  EXPECT_EQ(r->binding.rfind("ttft_p99: ", 0), 0u) << r->binding;
}

TEST(ServePlan, RequestTextIsChecked) {
  Result<api::Session> session = api::Session::Open(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(session.ok());
  api::InferRequest no_load = Ask("any", "", "");
  EXPECT_EQ(api::ServePlan(*session, no_load).status().code(), StatusCode::kUsage);
  api::InferRequest fixed_tp = Ask("any", "5", "");
  fixed_tp.serve.tp = "2";
  EXPECT_EQ(api::ServePlan(*session, fixed_tp).status().code(), StatusCode::kUsage);
  api::InferRequest bad_gpu = Ask("h100,nope", "5", "");
  EXPECT_EQ(api::ServePlan(*session, bad_gpu).status().message(), "unknown GPU 'nope'");
  EXPECT_TRUE(api::IsServePlanGpu("any"));
  EXPECT_TRUE(api::IsServePlanGpu("h100,a100"));
  EXPECT_FALSE(api::IsServePlanGpu("h100"));
}

}  // namespace
}  // namespace dlcost
