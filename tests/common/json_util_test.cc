// The JSON readers refuse what would crash a printer or a recursive walk: numbers outside
// double range and nesting deeper than kMaxJsonDepth, with one line naming the file.
#include <string>

#include <gtest/gtest.h>

#include "common/json_util.h"

namespace dlcost {
namespace {

TEST(JsonUtil, NestingDepthCountsBracketsOutsideStrings) {
  EXPECT_EQ(JsonNestingDepth("1"), 0);
  EXPECT_EQ(JsonNestingDepth("{\"a\": [1, {\"b\": []}]}"), 4);
  EXPECT_EQ(JsonNestingDepth("{\"a\": \"[[[[\\\"[[\"}"), 1);  // brackets and an escaped quote inside a string
  EXPECT_EQ(JsonNestingDepth(std::string(100000, '[')), 100000);
}

TEST(JsonUtil, ParseNoThrowDiscardsOverflowAndDeepNesting) {
  EXPECT_TRUE(ParseJsonNoThrow("{\"kind\": 1e309}").is_discarded());
  EXPECT_TRUE(ParseJsonNoThrow(std::string(1000, '[') + std::string(1000, ']')).is_discarded());
  EXPECT_TRUE(ParseJsonNoThrow("{\"a\": ").is_discarded());
  nlohmann::ordered_json j = ParseJsonNoThrow<nlohmann::ordered_json>("{\"z\": 1, \"a\": 2}");
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j.begin().key(), "z");  // file order kept
}

TEST(JsonUtil, ReadJsonFileNamesTheFileAndTheProblem) {
  std::string dir = std::string(DLCOST_TEST_FIXTURES) + "/json/";
  EXPECT_EQ(ReadJsonFile(dir + "number_overflow.json").status().message(),
            dir + "number_overflow.json: a number is outside the range of a double");
  EXPECT_EQ(ReadJsonFile(dir + "deep.json").status().message(), dir + "deep.json: JSON nested deeper than 64 levels");
}

}  // namespace
}  // namespace dlcost
