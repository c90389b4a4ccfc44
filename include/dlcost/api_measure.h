// `measure train|infer|sweep` and `calibrate` as library calls: real steps and microbenchmarks on
// this machine's CPU or CUDA GPU, side by side with the estimators (docs/measure.md).
//
// The api module does not link libtorch: the caller passes the runner in (measure::Runner,
// measure::TorchRunner() in a program that links dlcost_measure_torch). Without one, each call
// checks all of its input first (bad input is InvalidInput naming the flag, a model too large
// for the device is Infeasible) and then returns Unavailable saying how to build with libtorch.
//
//   api::MeasureTrainRequest req;
//   req.model = "gpt2"; req.layers = "1"; req.device.device = "cpu";
//   api::MeasureEnv env{&measure::TorchRunner(), [](const std::string& s) { std::fputs(s.c_str(), stderr); }};
//   DLCOST_ASSIGN_OR_RETURN(api::MeasureTrainResult r, api::MeasureTrain(session, req, env));
//   std::string text = report::Render(api::MeasureTrainReport(r), report::Format::kTable);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dlcost/api_session.h"
#include "dlcost/measure.h"
#include "dlcost/measure_record.h"
#include "dlcost/report.h"

namespace dlcost::api {

// The flags every measure command shares; text as given, empty = not given.
struct MeasureDeviceRequest {
  std::string device = "cpu";  // --device: cpu or cuda
  std::string threads;           // --threads: BLAS threads (default: every usable CPU)
  std::string intra_op_threads;  // --intra-op-threads
  std::string calibration;       // --calibration: a profile written by calibrate
  std::string gpu;               // --gpu: catalog id of the CUDA device (default: from its name)
  std::string record;            // --record ROOT
  std::string dtype;             // --dtype (default fp32 on the cpu, bf16 on cuda)
};

// How a call reaches the hardware and reports progress.
struct MeasureEnv {
  measure::Runner* runner = nullptr;  // null: no libtorch in this program
  measure::ProgressFn progress;       // may be empty
};

// What every measurement reports about where it ran.
struct MeasureRunInfo {
  measure::RunnerInfo runner;
  bool calibrated = false;                // predictions use --calibration
  std::vector<std::string> device_notes;  // where the device model's figures come from
  std::string record_folder;              // where --record wrote, or empty
};

struct MeasureTrainRequest {
  MeasureDeviceRequest device;
  std::string model, layers, batch, seq, steps, warmup;
};
struct MeasureTrainResult {
  measure::TrainMeasurement m;
  MeasureRunInfo run;
};
// Times training steps of a model's transformer blocks and predicts them.
Result<MeasureTrainResult> MeasureTrain(const Session& session, const MeasureTrainRequest& req, const MeasureEnv& env);
// The record `measure train` prints: the timings, predictions and errors, samples and notes.
report::Report MeasureTrainReport(const MeasureTrainResult& r);

struct MeasureInferRequest {
  MeasureDeviceRequest device;
  std::string model, layers, batch, prompt, generate, reps, warmup;
};
struct MeasureInferResult {
  measure::InferMeasurement m;
  MeasureRunInfo run;
};
// Times prefill and KV-cache decode steps and puts the serving estimator's static batch beside them.
Result<MeasureInferResult> MeasureInfer(const Session& session, const MeasureInferRequest& req, const MeasureEnv& env);
// The record `measure infer` prints: prefill and decode timings, the predictions and errors, notes.
report::Report MeasureInferReport(const MeasureInferResult& r);

struct MeasureSweepRequest {
  MeasureDeviceRequest device;
  std::string grid = "standard";  // standard or tiny
  std::string steps, warmup, rounds;
};
struct MeasureSweepResult {
  measure::SweepMeasurement m;
  MeasureRunInfo run;
};
// Measures the sweep grid (rounds until each case's two fastest rounds agree within 5%) and
// reports the estimator's error. `ready` (may be empty) is called once the input is checked,
// before the runner starts: a non-OK status from it stops the call (the CLI checks --format there).
Result<MeasureSweepResult> MeasureSweep(const Session& session, const MeasureSweepRequest& req, const MeasureEnv& env,
                                        const std::function<Status()>& ready = {});
// The record `measure sweep` prints in the human formats: one row per case, the error summary.
report::Report MeasureSweepReport(const MeasureSweepResult& r);
// The exact JSON `measure sweep --format json` prints (measure::SweepJson), with a final newline.
std::string MeasureSweepJson(const MeasureSweepResult& r);

struct CalibrateRequest {
  MeasureDeviceRequest device;  // its calibration and dtype fields are not used
  bool quick = false;
  std::string out;     // --out: the profile to write
  std::string dtypes;  // --dtypes: comma-separated (default fp32,bf16 on the cpu; bf16,fp16,tf32 on cuda)
  std::string id;      // --id (default calibrated-<device>)
};
struct CalibrateResult {
  measure::CalibrationRun c;
  MeasureRunInfo run;
};
// Runs the microbenchmarks, fits them and writes the profile to `req.out` (complete or untouched).
Result<CalibrateResult> Calibrate(const Session& session, const CalibrateRequest& req, const MeasureEnv& env);
// The record `calibrate` prints: the measured peaks and bandwidth, the fitted figures and curves.
report::Report CalibrateReport(const CalibrateResult& r);

}  // namespace dlcost::api
