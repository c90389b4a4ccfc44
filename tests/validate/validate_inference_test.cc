// The inference validator: every shipped case predicted or skipped with a reason, and how a row
// becomes a model.
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "common/csv.h"
#include "dlcost/op_graph.h"
#include "dlcost/validate.h"
#include "validate/case_row.h"

namespace dlcost {
namespace {

TEST(ServingValidation, EveryShippedCaseIsPredictedOrSkippedWithAReason) {
  Result<ValidationReport> v =
      ValidateInference(std::string(DLCOST_TEST_FIXTURES) + "/../../validation/published/inference_cases.csv",
                        DLCOST_TEST_DATA_DIR, std::string(DLCOST_TEST_DATA_DIR) + "/efficiency/default.json");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_GE(v->cases.size(), 40u);
  int ok = 0;
  for (const ValidationCase& c : v->cases) {
    if (c.status == "ok") {
      ++ok;
      EXPECT_TRUE(std::isfinite(*c.predicted) && *c.predicted > 0) << c.case_id;
    } else {
      EXPECT_FALSE(c.reason.empty()) << c.case_id;
    }
  }
  EXPECT_GE(ok, 30);
}

TEST(ServingValidation, RowWithoutFfnActTakesTheStyleMatchingParamsB) {
  // GPT-13B-like shape (ffn = 4 x hidden): a gelu MLP gives ~12.9B parameters, a gated one ~19.2B.
  const char* csv =
      "case_id,model,params_b,layers,hidden,heads,kv_heads,ffn,vocab,gpu,metric,value\n"
      "I900,gpt,13,40,5120,40,40,20480,50272,a100-sxm-40gb,tpot_ms,22\n"
      "I901,llama,6.74,32,4096,32,32,11008,32000,a100-sxm-40gb,tpot_ms,22\n";
  Result<CsvTable> t = CsvTable::Parse(csv, "inline");
  ASSERT_TRUE(t.ok());
  CaseRow gpt{&*t, &t->rows()[0]};
  Result<ModelSpec> g = ModelFromRow(gpt);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->ffn_act, FfnAct::kGelu);
  EXPECT_NEAR(perf::BuildOpGraph(*g, 0)->TotalParams() / 1e9, 13.0, 0.3);
  CaseRow llama{&*t, &t->rows()[1]};
  EXPECT_EQ(ModelFromRow(llama)->ffn_act, FfnAct::kSwiglu);
}

}  // namespace
}  // namespace dlcost
