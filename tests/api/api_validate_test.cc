// api::Validate --write-bands: the table is written to a new file, never over an input of the run.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "dlcost/api_validate.h"
#include "temp_dir.h"

namespace dlcost {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The first rows of the published cases (the vTrain step times), copied into `dir`.
std::string SmallCases(const testing_util::TempDir& dir) {
  std::ifstream in(std::string(DLCOST_TEST_DATA_DIR) + "/../validation/published/training_cases.csv");
  std::string line, text;
  for (int i = 0; std::getline(in, line) && i < 40; ++i) text += line + "\n";
  return dir.Write("cases.csv", text);
}

TEST(ValidateApi, WriteBandsWritesATableThatLoads) {
  testing_util::TempDir tmp;
  Result<api::Session> s = api::Session::Open(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(s.ok()) << s.status().message();
  api::ValidateRequest req;
  req.kind = "training";
  req.file = SmallCases(tmp);
  req.write_bands = (tmp.path() / "bands.json").string();
  Result<ValidationReport> v = api::Validate(*s, req);
  ASSERT_TRUE(v.ok()) << v.status().message();
  Result<ErrorBandTable> t = ErrorBandTable::Load(req.write_bands);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->source, req.file);
  EXPECT_TRUE(t->regimes.count("time"));
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) {
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "temporary file left: " << e.path();
  }
}

TEST(ValidateApi, WriteBandsNeverReplacesTheCasesFile) {
  testing_util::TempDir tmp;
  Result<api::Session> s = api::Session::Open(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(s.ok()) << s.status().message();
  api::ValidateRequest req;
  req.kind = "training";
  req.file = SmallCases(tmp);
  std::string before = ReadAll(req.file);
  req.write_bands = (tmp.path() / "." / "cases.csv").string();  // the same file by another spelling
  Result<ValidationReport> v = api::Validate(*s, req);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(v.status().message().find("--write-bands"), std::string::npos);
  EXPECT_EQ(ReadAll(req.file), before);
}

TEST(ValidateApi, WriteBandsNeverReplacesTheEfficiencyProfile) {
  testing_util::TempDir tmp;
  Result<api::Session> s = api::Session::Open(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(s.ok()) << s.status().message();
  api::ValidateRequest req;
  req.kind = "training";
  req.file = SmallCases(tmp);
  req.calibration = tmp.Write("profile.json", ReadAll(std::string(DLCOST_TEST_DATA_DIR) + "/efficiency/default.json"));
  std::string before = ReadAll(req.calibration);
  req.write_bands = req.calibration;
  Result<ValidationReport> v = api::Validate(*s, req);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("the efficiency profile"), std::string::npos) << v.status().message();
  EXPECT_EQ(ReadAll(req.calibration), before);
}

TEST(ValidateApi, InferenceCasesGetServingBands) {
  Result<api::Session> s = api::Session::Open(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(s.ok());
  api::ValidateRequest req;
  req.kind = "inference";
  req.file = std::string(DLCOST_TEST_DATA_DIR) + "/../validation/published/inference_cases.csv";
  Result<ValidationReport> v = api::Validate(*s, req);
  ASSERT_TRUE(v.ok()) << v.status().message();
  int banded = 0;
  for (const ValidationCase& c : v->cases) {
    if (!c.predicted_low) continue;
    ++banded;
    EXPECT_LT(*c.predicted_low, *c.predicted_high) << c.case_id;
    EXPECT_EQ(c.band_key.rfind("serving_", 0), 0u) << c.case_id;
  }
  EXPECT_GE(banded, 20);
  req.no_flash = true;
  EXPECT_EQ(api::Validate(*s, req).status().code(), StatusCode::kUsage);  // a training-only flag
}

}  // namespace
}  // namespace dlcost
