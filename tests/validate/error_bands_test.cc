// The validator's error bands: quantiles, source names, leave-one-source-out pools and the
// band table, on a synthetic cases file whose residuals are known.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dlcost/validate.h"
#include "temp_dir.h"
#include "validate/case_row.h"

namespace dlcost {
namespace {

TEST(Quantile, InterpolatesBetweenOrderStatistics) {
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 0.1), 1.3);  // h = 0.3: 1 + 0.3 x (2 - 1)
  EXPECT_DOUBLE_EQ(Quantile({4, 1, 3, 2}, 0.9), 3.7);
  EXPECT_DOUBLE_EQ(Quantile({5}, 0.1), 5);
  EXPECT_DOUBLE_EQ(Quantile({}, 0.5), 0);
}

TEST(NormalizeSource, RowsOfOnePaperOrRepositoryAreOneSource) {
  EXPECT_EQ(NormalizeSource("Korthikanti et al. 2022 'Reducing Activation Recomputation' Table 5; NVIDIA/x:y"),
            "korthikanti et al. 2022");
  EXPECT_EQ(NormalizeSource("Korthikanti et al. 2022 Figure 1 (memory per GPU)"), "korthikanti et al. 2022");
  EXPECT_EQ(NormalizeSource("Bang et al. MICRO'24 (vTrain) released measurements"), "bang et al. 2024");
  EXPECT_EQ(NormalizeSource("karpathy/llm.c:scripts/run_gpt2_124M.sh (author's header comments)"), "karpathy/llm.c");
  EXPECT_EQ(NormalizeSource("karpathy/llm.c:scripts/run_gpt2_350M.sh"), "karpathy/llm.c");
  EXPECT_EQ(NormalizeSource("  An internal benchmark ; note"), "an internal benchmark");
  // One publication's tables are one source.
  EXPECT_EQ(NormalizeSource("ROCm blog 'Best practices' (29 Jan 2025), 'vLLM Latency Benchmark Results' tables; u"),
            "rocm blog 'best practices' (29 jan 2025)");
  EXPECT_EQ(NormalizeSource("ROCm blog 'Best practices' (29 Jan 2025), 'vLLM Throughput Benchmark Results' table"),
            "rocm blog 'best practices' (29 jan 2025)");
  EXPECT_EQ(NormalizeSource("SGLang docs 'Ablations' (DeepSeek V3/R1), section 'Optimization' > 'Offline' table"),
            "sglang docs 'ablations' (deepseek v3/r1)");
  EXPECT_EQ(NormalizeSource("AMD 'Results' page (linked as the measurements of ROCm docs), revision for x"),
            "amd 'results' page");
  EXPECT_EQ(NormalizeSource("AMD 'Results' page, revision for y, 'Latency results' table"), "amd 'results' page");
}

// Ten cases of source A with residuals 0.0 .. 0.9 and ten of source B with -1.0 .. -0.1 (measured
// 100, predicted 100 e^r), all in one regime; the predictor reads the prediction from the row.
std::string SyntheticCsv() {
  std::string csv = "case_id,source,gpu,metric,value,pred,parallel\n";
  for (int k = 0; k < 10; ++k) {
    csv += "A" + std::to_string(k) + ",Alpha et al. 2020 Table " + std::to_string(k) + ",a100,sec_per_iter,100," +
           std::to_string(100 * std::exp(0.1 * k)) + ",data_parallel\n";
    csv += "B" + std::to_string(k) + ",beta/bench:run" + std::to_string(k) + ".sh,a100,sec_per_iter,100," +
           std::to_string(100 * std::exp(-1.0 + 0.1 * k)) + ",data_parallel\n";
  }
  csv += "C0,Gamma et al. 2021,a100,sec_per_iter,100,100,zero3_fsdp\n";
  return csv;
}

ValidationReport RunSynthetic(const testing_util::TempDir& tmp) {
  std::string path = tmp.Write("cases.csv", SyntheticCsv());
  Result<ValidationReport> rep = RunCases(path, {"case_id", "source", "gpu", "metric", "value", "pred", "parallel"}, {"sec_per_iter"},
                                           [](const CaseRow& row, ValidationCase& vc) {
    vc.predicted = std::stod(row.Get("pred"));
    vc.regime = {MetricFamily(vc.metric), "ampere", row.Get("parallel"), "bf16_fp16"};
    return Status::Ok();
  });
  EXPECT_TRUE(rep.ok()) << rep.status().message();
  AddErrorBands(&*rep);
  return *rep;
}

const ValidationCase& Case(const ValidationReport& rep, const std::string& id) {
  for (const ValidationCase& c : rep.cases) {
    if (c.case_id == id) return c;
  }
  static ValidationCase none;
  ADD_FAILURE() << "no case " << id;
  return none;
}

TEST(ErrorBands, EachSourceIsBandedByTheOtherSourcesOnly) {
  testing_util::TempDir tmp;
  ValidationReport rep = RunSynthetic(tmp);
  // A is banded by B's residuals {-1.0 .. -0.1} (C0 is in another parallelism family).
  std::vector<double> b_res, a_res;
  for (int k = 0; k < 10; ++k) {
    a_res.push_back(0.1 * k);
    b_res.push_back(-1.0 + 0.1 * k);
  }
  EXPECT_NEAR(Quantile(b_res, 0.1), -0.91, 1e-12);
  EXPECT_NEAR(Quantile(b_res, 0.9), -0.19, 1e-12);
  const ValidationCase& a3 = Case(rep, "A3");
  ASSERT_TRUE(a3.predicted_low && a3.predicted_high);
  EXPECT_NEAR(*a3.predicted_low, *a3.predicted / std::exp(-0.19), 1e-4);
  EXPECT_NEAR(*a3.predicted_high, *a3.predicted / std::exp(-0.91), 1e-4);
  EXPECT_EQ(a3.source, "alpha et al. 2020");
  EXPECT_EQ(a3.band_key, "time/ampere/data_parallel/bf16_fp16");
  // B by A's {0.0 .. 0.9}: q10 = 0.09, q90 = 0.81.
  const ValidationCase& b5 = Case(rep, "B5");
  ASSERT_TRUE(b5.predicted_low && b5.predicted_high);
  EXPECT_EQ(b5.source, "beta/bench");
  EXPECT_NEAR(*b5.predicted_low, *b5.predicted / std::exp(Quantile(a_res, 0.9)), 1e-4);
  EXPECT_NEAR(*b5.predicted_high, *b5.predicted / std::exp(Quantile(a_res, 0.1)), 1e-4);
  EXPECT_NEAR(*b5.predicted_high, *b5.predicted / std::exp(0.09), 1e-4);
}

TEST(ErrorBands, FinerKeyWithTooFewOtherResidualsFallsBackToACoarserOne) {
  testing_util::TempDir tmp;
  ValidationReport rep = RunSynthetic(tmp);
  // C0 is alone in its parallelism family: it takes the generation's pool (all of A and B).
  const ValidationCase& c0 = Case(rep, "C0");
  EXPECT_EQ(c0.band_key, "time/ampere");
  std::vector<double> ab;
  for (int k = 0; k < 10; ++k) {
    ab.push_back(0.1 * k);
    ab.push_back(-1.0 + 0.1 * k);
  }
  EXPECT_NEAR(*c0.predicted_low, 100 / std::exp(Quantile(ab, 0.9)), 1e-4);
  EXPECT_NEAR(*c0.predicted_high, 100 / std::exp(Quantile(ab, 0.1)), 1e-4);
}

TEST(ErrorBands, CoverageLeaveOneSourceOutAgainstInSample) {
  testing_util::TempDir tmp;
  ValidationReport rep = RunSynthetic(tmp);
  ASSERT_EQ(rep.band_families.size(), 1u);
  const BandFamilySummary& f = rep.band_families[0];
  EXPECT_EQ(f.family, "time");
  EXPECT_EQ(f.predicted, 21);
  EXPECT_EQ(f.banded_loso, 21);
  // The two sources disagree: no A or B value lies in a band made from the other; C0 (r = 0)
  // lies in the pooled band.
  EXPECT_NEAR(*f.loso_coverage_pct, 100.0 / 21, 1e-9);
  // In sample, each case's own source joins the pool and most values fall inside.
  EXPECT_GT(*f.in_sample_coverage_pct, 70);
  ASSERT_EQ(rep.summary.size(), 1u);
  EXPECT_EQ(rep.summary[0].banded, 21);
  EXPECT_NEAR(*rep.summary[0].band_coverage_pct, 100.0 / 21, 1e-9);
}

TEST(ErrorBands, RateResidualsAreNegatedSoTheyReadAsTimeErrors) {
  ValidationCase c;
  c.metric = "mfu_pct";
  c.measured = 50;
  c.predicted = 50 * std::exp(0.2);  // MFU too high = time too low
  EXPECT_NEAR(BandResidual(c), -0.2, 1e-12);
  c.metric = "sec_per_iter";
  EXPECT_NEAR(BandResidual(c), 0.2, 1e-12);
}

TEST(ErrorBands, TableFromAllCasesKeepsKeysWithEnoughResiduals) {
  testing_util::TempDir tmp;
  ValidationReport rep = RunSynthetic(tmp);
  ErrorBandTable t = BandTableFromReport(rep, "cases.csv");
  EXPECT_EQ(t.source, "cases.csv");
  ASSERT_TRUE(t.regimes.count("time/ampere/data_parallel/bf16_fp16"));
  EXPECT_FALSE(t.regimes.count("time/ampere/zero3_fsdp"));  // one residual
  const BandQuantiles& q = t.regimes.at("time/ampere");
  EXPECT_EQ(q.n, 21);
  EXPECT_EQ(q.sources, 3);
  std::vector<double> all = {0.0};
  for (int k = 0; k < 10; ++k) {
    all.push_back(0.1 * k);
    all.push_back(-1.0 + 0.1 * k);
  }
  EXPECT_NEAR(q.q10, Quantile(all, 0.1), 1e-6);
  EXPECT_NEAR(q.q90, Quantile(all, 0.9), 1e-6);
  Result<ErrorBandTable> back = ErrorBandTable::Parse(nlohmann::json::parse(t.ToJsonText()), "written");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->regimes.size(), t.regimes.size());
}

}  // namespace
}  // namespace dlcost
