// The measure calls of the api (api_measure.h) with a runner that returns known timings: the
// input checks, the missing-libtorch answer, the results, records and reports, without libtorch.
#include <filesystem>

#include <gtest/gtest.h>

#include "dlcost/api_measure.h"
#include "dlcost/units.h"
#include "temp_dir.h"

namespace dlcost::api {
namespace {

using testing_util::TempDir;

const std::string kData = DLCOST_TEST_DATA_DIR;

// Every step takes `step_s`; every microbenchmark is an invented device's (see FitProfile).
class FakeRunner : public measure::Runner {
 public:
  double step_s = 0.01;
  int train_calls = 0;

  Result<measure::RunnerInfo> Init(Device device, int threads, int intra_op_threads) override {
    measure::RunnerInfo info;
    info.device_name = "cpu";
    info.threads = threads;
    info.intra_op_threads = intra_op_threads > 0 ? intra_op_threads : 1;
    info.torch_version = "fake";
    info.attention_impl = "fake attention";
    info.blas = "fake BLAS";
    return info;
  }
  Result<measure::StepSamples> TrainSteps(const measure::TrainRun& run, measure::EnergyMeter*) override {
    ++train_calls;
    measure::StepSamples s;
    s.step_s.assign(run.steps, step_s);
    s.memory_method = "fake";
    return s;
  }
  Result<measure::InferSamples> InferSteps(const measure::InferRun& run, measure::EnergyMeter*) override {
    measure::InferSamples s;
    s.prefill_s.assign(run.reps, 4 * step_s);
    s.decode_step_s.assign(run.reps * run.generate, step_s);
    s.timed_s = run.reps * (4 + run.generate) * step_s;
    s.memory_method = "fake";
    return s;
  }
  Result<measure::MicrobenchData> Microbenchmarks(const measure::MicrobenchPlan& plan,
                                                  const measure::ProgressFn& progress) override {
    if (progress) progress("fake microbenchmarks");
    measure::MicrobenchData d;
    d.device = plan.device;
    d.device_name = "cpu";
    d.threads = 2;
    d.quick = plan.quick;
    d.memory_total_bytes = 16 * kGiB;
    for (const measure::GemmShape& g : measure::GemmGrid(plan.device, plan.quick)) {
      double t = 2.0 * g.m * g.k * g.n / 50e9 + 1e-6;
      d.gemm.push_back({Dtype::kFp32, g.m, g.k, g.n, t, t, t});
    }
    d.memory.push_back({"copy", Dtype::kFp32, 1e9, 0.1});
    return d;
  }
};

Session Open() {
  Result<Session> s = Session::Open(kData);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return *s;
}

TEST(ApiMeasure, WithoutARunnerInputIsCheckedThenUnavailable) {
  Session s = Open();
  MeasureTrainRequest req;
  req.model = "gpt2";
  req.layers = "1";
  Result<MeasureTrainResult> r = MeasureTrain(s, req, MeasureEnv{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("built without libtorch"), std::string::npos);
  req.layers = "0";
  r = MeasureTrain(s, req, MeasureEnv{});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(r.status().message().find("--layers"), std::string::npos);
  req.layers = "1";
  req.device.calibration = kData + "/efficiency/default.json";
  r = MeasureTrain(s, req, MeasureEnv{});
  EXPECT_NE(r.status().message().find("no 'device' section"), std::string::npos);
  MeasureSweepRequest sweep;
  sweep.grid = "huge";
  EXPECT_NE(MeasureSweep(s, sweep, MeasureEnv{}).status().message().find("--grid"), std::string::npos);
}

TEST(ApiMeasure, TrainResultRecordAndReport) {
  Session s = Open();
  FakeRunner runner;
  TempDir tmp;
  MeasureTrainRequest req;
  req.model = "gpt2";
  req.layers = "1";
  req.seq = "16";
  req.steps = "3";
  req.device.record = tmp.path().string();
  std::vector<std::string> progress;
  MeasureEnv env{&runner, [&](const std::string& p) { progress.push_back(p); }};
  Result<MeasureTrainResult> r = MeasureTrain(s, req, env);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->m.stats.n, 3);
  EXPECT_DOUBLE_EQ(r->m.stats.median_s, 0.01);
  EXPECT_GT(r->m.predicted.time_step_s, 0);
  EXPECT_DOUBLE_EQ(r->m.rel_error, measure::RelativeError(r->m.predicted.time_step_s, 0.01));
  EXPECT_EQ(r->m.profile, "uncalibrated");
  EXPECT_FALSE(r->run.record_folder.empty());
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(r->run.record_folder) / "environment.json"));
  ASSERT_EQ(progress.size(), 2u);
  EXPECT_NE(progress.back().find("recorded in"), std::string::npos);
  report::Report rep = MeasureTrainReport(*r);
  std::string json = report::Render(rep, report::Format::kJson);
  EXPECT_NE(json.find("\"measured_median_s\""), std::string::npos);
  EXPECT_NE(json.find("fake attention"), std::string::npos);
}

TEST(ApiMeasure, SweepSettlesAndSummarises) {
  Session s = Open();
  FakeRunner runner;
  MeasureSweepRequest req;
  req.grid = "tiny";
  req.steps = "2";
  req.rounds = "4";
  bool ready_called = false;
  Result<MeasureSweepResult> r = MeasureSweep(s, req, MeasureEnv{&runner, {}}, [&] {
    ready_called = true;
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(ready_called);
  ASSERT_EQ(r->m.cases.size(), 3u);
  // Identical rounds agree at once: two rounds per case, then settled.
  EXPECT_EQ(runner.train_calls, 6);
  EXPECT_EQ(r->m.unsettled, 0);
  EXPECT_EQ(r->m.summary.n, 3);
  std::string json = MeasureSweepJson(*r);
  EXPECT_EQ(json.back(), '\n');
  EXPECT_NE(json.find("\"summary\""), std::string::npos);
  EXPECT_EQ(json.find("summary_uncalibrated"), std::string::npos);
  // A failing `ready` stops the call before anything runs.
  FakeRunner idle;
  Result<MeasureSweepResult> stopped =
      MeasureSweep(s, req, MeasureEnv{&idle, {}}, [] { return InvalidInput("--format: unknown format"); });
  EXPECT_FALSE(stopped.ok());
  EXPECT_EQ(idle.train_calls, 0);
}

TEST(ApiMeasure, InferPredictsWithTheServingEstimator) {
  Session s = Open();
  FakeRunner runner;
  MeasureInferRequest req;
  req.model = "gpt2";
  req.layers = "1";
  req.prompt = "16";
  req.generate = "4";
  req.reps = "2";
  Result<MeasureInferResult> r = MeasureInfer(s, req, MeasureEnv{&runner, {}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->m.decode.n, 8);
  ASSERT_TRUE(r->m.predicted.has_value()) << r->m.prediction_note;
  EXPECT_GT(r->m.predicted->ttft_s, 0);
  req.model = "bert-large";
  Result<MeasureInferResult> encoder = MeasureInfer(s, req, MeasureEnv{&runner, {}});
  ASSERT_FALSE(encoder.ok());
  EXPECT_NE(encoder.status().message().find("is not a decoder"), std::string::npos);
}

TEST(ApiMeasure, CalibrateWritesAProfileTheMeasureCallsRead) {
  Session s = Open();
  FakeRunner runner;
  TempDir tmp;
  CalibrateRequest req;
  req.quick = true;
  req.out = (tmp.path() / "profile.json").string();
  Result<CalibrateResult> r = Calibrate(s, req, MeasureEnv{&runner, {}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(std::filesystem::exists(req.out));
  std::string table = report::Render(CalibrateReport(*r), report::Format::kTable);
  EXPECT_NE(table.find("use it with: dlcost measure sweep --device cpu --calibration"), std::string::npos);
  MeasureTrainRequest train;
  train.model = "gpt2";
  train.layers = "1";
  train.seq = "16";
  train.device.calibration = req.out;
  Result<MeasureTrainResult> t = MeasureTrain(s, train, MeasureEnv{&runner, {}});
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_TRUE(t->run.calibrated);
  EXPECT_TRUE(t->m.predicted_uncalibrated.has_value());
  EXPECT_EQ(t->m.profile, req.out);
  CalibrateRequest unwritable = req;
  unwritable.out = (tmp.path() / "no/such/folder/p.json").string();
  EXPECT_NE(Calibrate(s, unwritable, MeasureEnv{&runner, {}}).status().message().find("--out: cannot write"),
            std::string::npos);
}

TEST(ApiMeasure, TrainCalibrationNoteFailsLoudlyOnABadDeviceSection) {
  TempDir tmp;
  std::string good = kData + "/../tests/measure_data/calibrated_cpu_profile.json";
  Result<std::string> note = CalibrationNote(good, "h100-sxm-80gb");
  ASSERT_TRUE(note.ok()) << note.status().message();
  EXPECT_NE(note->find("was measured on cpu"), std::string::npos);
  Result<std::string> plain = CalibrationNote(kData + "/efficiency/default.json", "h100-sxm-80gb");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, "");
  std::string bad = tmp.Write("bad.json", R"({"device": {"kind": "cpu", "peak_tflops": {"fp32": "fast"},
                                              "memory_bandwidth_gb_s": 10, "memory_gib": 8}})");
  Result<std::string> loud = CalibrationNote(bad, "h100-sxm-80gb");
  ASSERT_FALSE(loud.ok());
  EXPECT_NE(loud.status().message().find("device.peak_tflops.fp32"), std::string::npos);
}

}  // namespace
}  // namespace dlcost::api
