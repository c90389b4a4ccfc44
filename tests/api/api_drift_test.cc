// api::Drift: the flags' text in, one result and its two renderings out.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dlcost/api.h"  // the umbrella header compiles on its own

namespace dlcost {
namespace {

TEST(DriftApi, OneCallOneRecord) {
  api::DriftRequest req;
  req.reference = std::string(DLCOST_TEST_FIXTURES) + "/drift/ref.csv";
  req.current = std::string(DLCOST_TEST_FIXTURES) + "/drift/cur_drift.csv";
  req.timestamp = "ts";
  req.window = "2m";
  std::vector<std::string> steps;
  Result<api::DriftResult> r = api::Drift(req, [&steps](const std::string& what) { steps.push_back(what); });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->drifted);
  EXPECT_TRUE(r->untested.ok());
  EXPECT_EQ(r->windows.size(), 5u);
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.front(), "reading " + req.reference);
  std::string json = api::DriftJson(*r);
  EXPECT_NE(json.find("\"window_thresholds\": \"fixed\""), std::string::npos);
  EXPECT_EQ(api::DriftReport(*r).tables.size(), 2u);  // columns and windows
}

TEST(DriftApi, RequestTextIsChecked) {
  api::DriftRequest req;
  req.reference = std::string(DLCOST_TEST_FIXTURES) + "/drift/ref.csv";
  req.current = req.reference;
  req.threads = "0";
  EXPECT_EQ(api::Drift(req).status().message(), "--threads: '0' must be between 1 and 256");
  req.threads = "2";
  req.p_value = "1.5";
  EXPECT_EQ(api::Drift(req).status().code(), StatusCode::kUsage);
  req.p_value = "";
  req.window = "1d";
  EXPECT_EQ(api::Drift(req).status().message(), "--window needs --timestamp COLUMN");
  req.timestamp = "ts";
  req.window = "1k";
  EXPECT_EQ(api::Drift(req).status().message(), "--window: unknown unit 'k' in '1k' (s, m, h, d, w)");
}

}  // namespace
}  // namespace dlcost
