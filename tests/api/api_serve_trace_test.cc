// Request traces for `infer --trace`: what a good trace gives, and one line naming the row and
// the field for every kind of bad row (docs/serving.md, "Latency under load").
#include <string>

#include <gtest/gtest.h>

#include "dlcost/api_serve.h"

namespace dlcost {
namespace {

Result<api::LoadTrace> Parse(const std::string& text, bool skip = false) {
  return api::ParseLoadTrace(text, "t.csv", skip);
}

TEST(LoadTrace, CsvWithExtraColumnsAndAnyColumnOrder) {
  Result<api::LoadTrace> t = Parse("user,output_len,arrival_s,input_len\nx,128,0.5,512\ny,64,1.25,1024\n");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->requests.size(), 2u);
  EXPECT_DOUBLE_EQ(t->requests[1].arrival_s, 1.25);
  EXPECT_EQ(t->requests[1].input_len, 1024);
  EXPECT_EQ(t->requests[1].output_len, 64);
}

TEST(LoadTrace, JsonLines) {
  Result<api::LoadTrace> t = api::ParseLoadTrace(
      "{\"arrival_s\": 0, \"input_len\": 10, \"output_len\": 5}\n\n{\"arrival_s\": 2.5, \"input_len\": 7, \"output_len\": 1}\n",
      "t.jsonl", false);
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->requests.size(), 2u);
  EXPECT_EQ(t->requests[1].input_len, 7);
}

TEST(LoadTrace, BadRowsNameTheLineAndTheField) {
  const std::string h = "arrival_s,input_len,output_len\n";
  EXPECT_EQ(Parse(h + "0,512,128\n0.1,-5,128\n").status().message(), "t.csv:3: input_len: '-5' is negative");
  EXPECT_EQ(Parse(h + "0,512.5,128\n").status().message(),
            "t.csv:2: input_len: '512.5' must be a whole number of tokens from 1 to 16,777,216");
  EXPECT_EQ(Parse(h + "nan,512,128\n").status().message(), "t.csv:2: arrival_s: 'nan' is not a number");
  EXPECT_EQ(Parse(h + "0,512\n").status().message(), "t.csv:2: output_len: missing");
  EXPECT_EQ(Parse(h + "1,512,128\n0.5,512,128\n").status().message(),
            "t.csv:3: arrival_s: 0.5 is before the previous row's 1 (rows must be sorted by arrival)");
  EXPECT_EQ(Parse("arrival_s,input_len\n0,5\n").status().message(),
            "t.csv:1: header lacks column 'output_len' (columns: arrival_s, input_len, output_len)");
  EXPECT_EQ(Parse(" \n\n").status().message(), "t.csv: empty trace");
  EXPECT_EQ(Parse(h + "0,\xff\xfe,1\n").status().message(), "t.csv:2: input_len: '??' is not a number");
  EXPECT_EQ(api::ParseLoadTrace("{\"arrival_s\": [[[[[[1]]]]]]}\n", "t.jsonl", false).status().message(),
            "t.jsonl:1: JSON nested too deep");
  EXPECT_EQ(api::ParseLoadTrace("{\"arrival_s\": 1e999, \"input_len\": 1, \"output_len\": 1}\n", "t.jsonl", false)
                .status()
                .code(),
            StatusCode::kInvalidInput);
}

TEST(LoadTrace, SkipBadRowsCountsThem) {
  Result<api::LoadTrace> t = Parse("arrival_s,input_len,output_len\n0,512,128\nx,1,1\n0.5,0,1\n1,64,64\n", true);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->requests.size(), 2u);
  EXPECT_EQ(t->skipped, 2);
  EXPECT_EQ(t->first_skipped, "t.csv:3: arrival_s: 'x' is not a number");
  Result<api::LoadTrace> none = Parse("arrival_s,input_len,output_len\nx,1,1\n", true);
  EXPECT_EQ(none.status().message(), "t.csv: no usable request (1 bad rows skipped; first: t.csv:2: arrival_s: 'x' is not a number)");
}

}  // namespace
}  // namespace dlcost
