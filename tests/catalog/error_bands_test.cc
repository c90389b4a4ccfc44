// Band tables: regime keys, the shipped table, lookups with fallback and malformed input.
#include <cmath>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dlcost/error_bands.h"

namespace dlcost {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(ErrorBandKeys, RegimePartsFromTheCatalogLayoutAndPrecision) {
  Accelerator a;
  a.id = "h100-sxm-80gb";
  a.architecture = "Hopper";
  EXPECT_EQ(GpuGeneration(a), "hopper");
  a.architecture.clear();
  EXPECT_EQ(GpuGeneration(a), "h100");  // a user file without architecture: the id family
  EXPECT_STREQ(ParallelismFamily(1, 1, 1, 1, 1), "data_parallel");
  EXPECT_STREQ(ParallelismFamily(1, 1, 1, 1, 3), "zero3_fsdp");
  EXPECT_STREQ(ParallelismFamily(2, 1, 1, 1, 0), "tensor_pipeline");
  EXPECT_STREQ(ParallelismFamily(1, 1, 2, 1, 3), "tensor_pipeline");
  EXPECT_STREQ(ParallelismFamily(2, 4, 1, 8, 1), "expert_parallel");
  EXPECT_EQ(PrecisionClass(Dtype::kFp16), "bf16_fp16");
  EXPECT_EQ(PrecisionClass(Dtype::kBf16), "bf16_fp16");
  EXPECT_EQ(PrecisionClass(Dtype::kFp8), "fp8");
  EXPECT_EQ(MetricFamily("mfu_pct"), "time");
  EXPECT_EQ(MetricFamily("days"), "whole_run");
  EXPECT_EQ(MetricFamily("ttft_ms"), "serving_latency");
  EXPECT_EQ(MetricFamily("output_tok_s"), "serving_rate");
  EXPECT_TRUE(IsRateMetric("gen_tok_s"));
  EXPECT_FALSE(IsRateMetric("tpot_ms"));
  EXPECT_EQ(MetricFamily("speedup"), "");
  EXPECT_STREQ(ServingParallelism(1, 1, 1), "single_gpu");
  EXPECT_STREQ(ServingParallelism(4, 1, 1), "tensor_pipeline");
  EXPECT_STREQ(ServingParallelism(4, 1, 8), "expert_parallel");
  EXPECT_EQ(ServingPrecision(16), "w16");
  EXPECT_EQ(ServingPrecision(8.25), "w8");
  EXPECT_EQ(ServingPrecision(4.125), "w4");
  EXPECT_TRUE(IsRateMetric("tokens_per_sec_per_gpu"));
  EXPECT_FALSE(IsRateMetric("gpu_hours"));
  BandRegime r{"time", "ampere", "zero3_fsdp", "bf16_fp16"};
  EXPECT_EQ(r.Keys(), (std::vector<std::string>{"time", "time/ampere", "time/ampere/zero3_fsdp",
                                                "time/ampere/zero3_fsdp/bf16_fp16"}));
}

TEST(ErrorBandKeys, BandOfATimeAndOfARate) {
  BandQuantiles q{-0.2, 0.1, 10, 2};
  Band t = ApplyBand(10, q, false);  // model 10% slow to 20% fast: the measured time lies in [10/e^0.1, 10/e^-0.2]
  EXPECT_NEAR(t.low, 10 / std::exp(0.1), 1e-12);
  EXPECT_NEAR(t.high, 10 * std::exp(0.2), 1e-12);
  Band r = ApplyBand(100, q, true);  // the same errors on a throughput
  EXPECT_NEAR(r.low, 100 * std::exp(-0.2), 1e-12);
  EXPECT_NEAR(r.high, 100 * std::exp(0.1), 1e-12);
}

TEST(ErrorBandTable, ShippedTableLoadsWithEveryFamilyTrainUses) {
  Result<ErrorBandTable> t = ErrorBandTable::Load(ShippedBandTablePath(DLCOST_TEST_DATA_DIR));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->source, "validation/published/training_cases.csv");
  EXPECT_EQ(t->min_residuals, 8);
  ASSERT_TRUE(t->regimes.count("time"));
  ASSERT_TRUE(t->regimes.count("whole_run"));
  for (const auto& [key, q] : t->regimes) {
    EXPECT_LE(q.q10, q.q90) << key;
    EXPECT_GE(q.n, t->min_residuals) << key;
  }
}

TEST(ErrorBandTable, FindTakesTheFinestKeyPresent) {
  ErrorBandTable t;
  t.regimes["time"] = {-0.3, 0.1, 80, 5};
  t.regimes["time/ampere"] = {-0.2, 0.1, 60, 4};
  std::optional<BandMatch> m = t.Find({"time", "ampere", "zero3_fsdp", "bf16_fp16"});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->key, "time/ampere");
  EXPECT_FALSE(m->finest);
  m = t.Find({"time", "hopper", "data_parallel", "bf16_fp16"});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->key, "time");
  m = t.Find({"time", "ampere", "", ""});
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->finest);
  EXPECT_FALSE(t.Find({"whole_run", "ampere", "data_parallel", "bf16_fp16"}));
}

nlohmann::json GoodTable() {
  return nlohmann::json::parse(R"({"source": "cases.csv", "method": "m", "min_residuals": 8,
    "regimes": {"time": {"q10": -0.3, "q90": 0.1, "n": 85, "sources": 5}}})");
}

std::string ParseError(const nlohmann::json& doc) {
  Result<ErrorBandTable> t = ErrorBandTable::Parse(doc, "bands.json");
  EXPECT_FALSE(t.ok());
  if (t.ok()) return "";
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidInput);
  return t.status().message();
}

TEST(ErrorBandTable, MalformedTablesNameTheField) {
  ASSERT_TRUE(ErrorBandTable::Parse(GoodTable(), "bands.json").ok());
  nlohmann::json j = GoodTable();
  j["regimes"]["time"].erase("q90");
  EXPECT_TRUE(Contains(ParseError(j), "bands.json: regimes: time: missing field 'q90'"));
  j = GoodTable();
  j["regimes"]["time"]["q10"] = 0.5;
  EXPECT_TRUE(Contains(ParseError(j), "'q10' is above 'q90'"));
  j = GoodTable();
  j["regimes"]["time"]["q10"] = "low";
  EXPECT_TRUE(Contains(ParseError(j), "'q10'"));
  j = GoodTable();
  j["regimes"]["time"]["n"] = 3;
  EXPECT_TRUE(Contains(ParseError(j), "'sources' exceeds 'n'"));
  j["regimes"]["time"]["sources"] = 2;
  EXPECT_TRUE(Contains(ParseError(j), "'n' is below min_residuals"));
  j = GoodTable();
  j["regimes"]["speed/ampere"] = j["regimes"]["time"];
  EXPECT_TRUE(Contains(ParseError(j), "key 'speed/ampere'"));
  j = GoodTable();
  j["regimes"]["time//x"] = j["regimes"]["time"];
  EXPECT_TRUE(Contains(ParseError(j), "key 'time//x'"));
  j = GoodTable();
  j.erase("source");
  EXPECT_TRUE(Contains(ParseError(j), "missing field 'source'"));
  j = GoodTable();
  j["regimes"] = nlohmann::json::array();
  EXPECT_TRUE(Contains(ParseError(j), "'regimes'"));
  EXPECT_TRUE(Contains(ParseError(nlohmann::json::array()), "expected a JSON object"));
  j = GoodTable();
  j["loso_coverage_pct"] = {{"time", 120}};
  EXPECT_TRUE(Contains(ParseError(j), "loso_coverage_pct: time: must be a number from 0 to 100"));
  j["loso_coverage_pct"] = {{"speed", 50}};
  EXPECT_TRUE(Contains(ParseError(j), "'speed' is not a metric family"));
  j["loso_coverage_pct"] = 5;
  EXPECT_TRUE(Contains(ParseError(j), "'loso_coverage_pct' must be an object"));
}

TEST(ErrorBandTable, MissingFileNamesIt) {
  Result<ErrorBandTable> t = ErrorBandTable::Load("/no/such/bands.json");
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(Contains(t.status().message(), "/no/such/bands.json"));
}

TEST(ErrorBandTable, WrittenTextReadsBack) {
  Result<ErrorBandTable> t = ErrorBandTable::Parse(GoodTable(), "bands.json");
  ASSERT_TRUE(t.ok());
  Result<ErrorBandTable> back = ErrorBandTable::Parse(nlohmann::json::parse(t->ToJsonText()), "again");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->regimes.at("time").n, 85);
  EXPECT_DOUBLE_EQ(back->regimes.at("time").q90, 0.1);
  EXPECT_TRUE(back->loso_coverage_pct.empty());
  t->loso_coverage_pct["time"] = 64.7;
  back = ErrorBandTable::Parse(nlohmann::json::parse(t->ToJsonText()), "again");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_DOUBLE_EQ(back->loso_coverage_pct.at("time"), 64.7);
}

TEST(ErrorBandTable, ShippedTableSaysHowItHeldOnUnseenSources) {
  Result<ErrorBandTable> t = ErrorBandTable::Load(ShippedBandTablePath(DLCOST_TEST_DATA_DIR));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_TRUE(t->loso_coverage_pct.count("time"));
  EXPECT_TRUE(t->loso_coverage_pct.count("whole_run"));
}

}  // namespace
}  // namespace dlcost
