// Serving engine profiles: version epochs and the iteration-time factors per GPU generation.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dlcost/engines.h"
#include "dlcost/hardware.h"
#include "temp_dir.h"

namespace dlcost {
namespace {

using testing_util::TempDir;

TEST(EngineVersions, CompareNumericallyPartByPart) {
  EXPECT_LT(CompareVersions("0.6.6", "0.10.0"), 0);
  EXPECT_GT(CompareVersions("0.10.2", "0.9.0.1"), 0);
  EXPECT_EQ(CompareVersions("0.6", "0.6.0"), 0);
  EXPECT_LT(CompareVersions("0.4.3", "0.4.3.post2"), 0);
  EXPECT_LT(CompareVersions("0.5.3", "0.6.0"), 0);
}

TEST(EngineVersions, EpochIsTheLastBoundaryNotAfterTheVersion) {
  EngineProfile e;
  e.version_epochs = {"0.6.0", "0.9.0"};
  EXPECT_EQ(EngineEpoch(e, "0.5.3"), "");
  EXPECT_EQ(EngineEpoch(e, "0.6.0"), "0.6.0");
  EXPECT_EQ(EngineEpoch(e, "0.8.5"), "0.6.0");
  EXPECT_EQ(EngineEpoch(e, "0.10.1"), "0.9.0");
  // No version, or one that is not a number: the newest epoch (docs/serving.md).
  EXPECT_EQ(EngineEpoch(e, ""), "0.9.0");
  EXPECT_EQ(EngineEpoch(e, "main"), "0.9.0");
  EngineProfile none;
  EXPECT_EQ(EngineEpoch(none, "1.2.3"), "");
}

TEST(EngineFactors, LookedUpByGenerationAndEpoch) {
  Result<HardwareCatalog> hw = HardwareCatalog::Load(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(hw.ok()) << hw.status().message();
  Result<std::vector<EngineProfile>> engines = LoadEngines(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(engines.ok()) << engines.status().message();
  EngineProfile e = *ResolveEngine(*engines, "generic");
  e.version_epochs = {"0.6.0"};
  e.factors = {{"cdna3", "0.6.0", 1.5, 10, 3}, {"cdna3", "", 2.0, 8, 2}};
  Accelerator mi300x = *hw->Resolve("mi300x");
  Accelerator h100 = *hw->Resolve("h100-sxm-80gb");
  e.version = "0.6.6";
  EXPECT_DOUBLE_EQ(IterationTimeFactor(e, mi300x), 1.5);
  e.version = "0.5.3";
  EXPECT_DOUBLE_EQ(IterationTimeFactor(e, mi300x), 2.0);
  // No entry for Hopper: the kernel model.
  EXPECT_DOUBLE_EQ(IterationTimeFactor(e, h100), 1.0);
  // A forced factor (the validator's refits) wins.
  e.iteration_time_factor = 1.25;
  EXPECT_DOUBLE_EQ(IterationTimeFactor(e, h100), 1.25);
}

TEST(EngineFactors, ResolveKeepsTheVersionAskedFor) {
  Result<std::vector<EngineProfile>> engines = LoadEngines(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(engines.ok());
  Result<EngineProfile> v = ResolveEngine(*engines, "vLLM@0.5.3+rocm");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->id, "vllm");
  EXPECT_EQ(v->version, "0.5.3");
  EXPECT_EQ(EngineEpoch(*v, v->version), "");
  EXPECT_EQ(ResolveEngine(*engines, "vllm")->version, "");
}

std::string EngineFile(const std::string& extra) {
  return R"({"id": "x", "max_batch": 8, )" + extra + "}";
}

TEST(EngineFactors, MalformedEntriesAreErrorsNamingTheField) {
  struct Bad {
    std::string extra;
    std::string expect;
  };
  for (const Bad& b : std::vector<Bad>{
           {R"("version_epochs": ["0.9.0", "0.6.0"])", "ascending"},
           {R"("iteration_time_factors": {"a": 1})", "must be a list"},
           {R"("iteration_time_factors": [{"architecture": "hopper", "factor": 0}])", "factor"},
           {R"("iteration_time_factors": [{"architecture": "hopper", "factor": 50}])", "between 0.1 and 10"},
           {R"("iteration_time_factors": [{"factor": 1.2}])", "architecture"},
           {R"("iteration_time_factors": [{"architecture": "hopper", "from_version": "0.6.0", "factor": 1.2}])",
            "version_epochs"},
           {R"("iteration_time_factors": [{"architecture": "hopper", "factor": "fast"}])", "factor"},
       }) {
    TempDir tmp;
    std::filesystem::create_directories(tmp.path() / "engines");
    tmp.Write("engines/x.json", EngineFile(b.extra));
    Result<std::vector<EngineProfile>> r = LoadEngines(tmp.path().string());
    ASSERT_FALSE(r.ok()) << b.extra;
    EXPECT_NE(r.status().message().find(b.expect), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace dlcost
