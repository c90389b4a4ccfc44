// The inference validator: every shipped case predicted or skipped with a reason, and how a row
// becomes a model.
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/csv.h"
#include "dlcost/model.h"
#include "dlcost/op_graph.h"
#include "dlcost/validate.h"
#include "validate/case_row.h"
#include "temp_dir.h"

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

TEST(CaseRowModel, ZooModelNamedByTheLabelSuppliesWhatTheColumnsCannotSay) {
  // Qwen3-30B-A3B: head_dim 128 (query width 4096, twice the hidden size). A row whose columns
  // agree with the zoo entry gets it; one that disagrees (40 layers) keeps hidden / heads; an
  // unknown label gets nothing.
  const char* csv =
      "case_id,model,arch,layers,hidden,heads,kv_heads,ffn,ffn_act,vocab,experts,top_k,gpu,metric,value\n"
      "T900,Qwen3-30B-A3B,moe,48,2048,32,4,768,swiglu,151936,128,8,b200,sec_per_iter,1\n"
      "T901,qwen3-30b-a3b,moe,40,2048,32,4,768,swiglu,151936,128,8,b200,sec_per_iter,1\n"
      "T902,my-moe,moe,48,2048,32,4,768,swiglu,151936,128,8,b200,sec_per_iter,1\n"
      "T903,deepseek-v3,moe,61,7168,128,,2048,swiglu,129280,256,8,b200,sec_per_iter,1\n";
  Result<CsvTable> t = CsvTable::Parse(csv, "inline");
  ASSERT_TRUE(t.ok());
  Result<ModelCatalog> zoo = ModelCatalog::Load(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(zoo.ok()) << zoo.status().message();
  Result<ModelSpec> agree = ModelFromRow(CaseRow{&*t, &t->rows()[0]}, &*zoo);
  ASSERT_TRUE(agree.ok()) << agree.status().message();
  EXPECT_EQ(agree->head_dim, 128);
  EXPECT_EQ(agree->id, "Qwen3-30B-A3B");
  Result<ModelSpec> differ = ModelFromRow(CaseRow{&*t, &t->rows()[1]}, &*zoo);
  ASSERT_TRUE(differ.ok());
  EXPECT_EQ(differ->head_dim, 64);
  Result<ModelSpec> unknown = ModelFromRow(CaseRow{&*t, &t->rows()[2]}, &*zoo);
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->head_dim, 64);
  // DeepSeek-V3: multi-head latent attention, one shared expert, 3 leading dense layers of the
  // dense MLP size, none of which the columns can express.
  Result<ModelSpec> ds = ModelFromRow(CaseRow{&*t, &t->rows()[3]}, &*zoo);
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  ASSERT_TRUE(ds->mla.has_value());
  ASSERT_TRUE(ds->moe.has_value());
  EXPECT_EQ(ds->moe->shared_experts, 1);
  EXPECT_EQ(ds->moe->first_dense_layers, 3);
  EXPECT_EQ(ds->ffn, 18432);
  EXPECT_EQ(ds->moe->expert_ffn, 2048);
  EXPECT_EQ(ds->vocab, 129280);
}

}  // namespace
}  // namespace dlcost

namespace dlcost {
namespace {

// Nine single-stream rows of one engine on one GPU generation, three per source, with the given
// TPOT per row.
std::string EngineRows(const std::vector<double>& tpot_ms) {
  std::string csv =
      "case_id,source,model,params_b,layers,hidden,heads,kv_heads,ffn,vocab,gpu,num_gpus,tp,weight_dtype,"
      "input_len,output_len,scenario,engine,metric,value\n";
  for (size_t i = 0; i < tpot_ms.size(); ++i) {
    csv += fmt::format("E{},Source {},llama-3.1-8b,8.03,32,4096,32,8,14336,128256,h100-sxm-80gb,1,1,fp16,{},128,"
                       "single_stream,vllm@0.6.3,tpot_ms,{}\n",
                       i, static_cast<char>('A' + i / 3), 256 * (i + 1), tpot_ms[i]);
  }
  return csv;
}

TEST(ServingValidation, EngineFactorIsFittedAndRefittedWithoutEachSource) {
  testing_util::TempDir tmp;
  std::string eff = std::string(DLCOST_TEST_DATA_DIR) + "/efficiency/default.json";
  Result<ValidationReport> first =
      ValidateInference(tmp.Write("a.csv", EngineRows(std::vector<double>(9, 1.0))), DLCOST_TEST_DATA_DIR, eff);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->engine_factors.size(), 1u);
  const EngineFactorFit& f0 = first->engine_factors[0];
  EXPECT_EQ(f0.engine, "vllm/hopper/0.6.0");
  // Every engine 1.5x slower than the kernel model (the shipped factor divided out).
  std::vector<double> measured;
  for (const ValidationCase& c : first->cases) {
    ASSERT_EQ(c.status, "ok") << c.case_id << ": " << c.reason;
    measured.push_back(*c.predicted / f0.shipped * 1.5);
  }
  Result<ValidationReport> v = ValidateInference(tmp.Write("b.csv", EngineRows(measured)), DLCOST_TEST_DATA_DIR, eff);
  ASSERT_TRUE(v.ok()) << v.status().message();
  ASSERT_EQ(v->engine_factors.size(), 1u);
  EXPECT_NEAR(v->engine_factors[0].fitted, 1.5, 1e-9);
  EXPECT_EQ(v->engine_factors[0].cases, 9);
  EXPECT_EQ(v->engine_factors[0].sources, 3);
  ASSERT_EQ(v->families.size(), 1u);
  // Leave one source out: the other two sources' six cases still say 1.5.
  EXPECT_NEAR(*v->families[0].loso_mape_pct, 0.0, 1e-6);
  // In sample the cases use the shipped factor, whatever it is.
  EXPECT_NEAR(v->families[0].mape_pct, 100 * std::abs(f0.shipped / 1.5 - 1), 1e-6);
  // Two sources only: leaving one out leaves three cases, too few, so LOSO is the kernel model.
  measured.resize(6);
  Result<ValidationReport> two = ValidateInference(tmp.Write("c.csv", EngineRows(measured)), DLCOST_TEST_DATA_DIR, eff);
  ASSERT_TRUE(two.ok());
  EXPECT_NEAR(two->engine_factors[0].fitted, 1.5, 1e-9);
  EXPECT_NEAR(*two->families[0].loso_mape_pct, 100 * (1 - 1 / 1.5), 1e-6);
}

}  // namespace
}  // namespace dlcost
