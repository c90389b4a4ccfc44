// What the measure calls (api_measure.h) share: the checked device flags, the device models
// with and without the calibration profile, the runner once started, and the notes every
// measurement prints. Private to the api module.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dlcost/api_measure.h"

namespace dlcost::api::measure_detail {

// Other processes using more than this share of the CPUs during a timing disturb it.
inline constexpr double kDisturbedPct = 10;

struct MeasureContext {
  const Session* session = nullptr;
  MeasureEnv env;
  std::string record_root;
  Device device = Device::kCpu;
  int threads = 0;
  int intra_op_threads = 0;  // 0: the runner's default
  Dtype dtype = Dtype::kFp32;
  measure::LocalCpu cpu;
  std::optional<measure::CalibrationProfile> profile;  // --calibration, read once
  std::optional<measure::DeviceModel> calibrated;      // with the profile, when given
  std::optional<measure::DeviceModel> plain;           // uncalibrated, for the side-by-side figure
  measure::RunnerInfo runner;
  bool runner_started = false;

  // The device model predictions use: the calibrated one when there is a profile.
  const measure::DeviceModel& model() const { return calibrated ? *calibrated : *plain; }
  // Memory a run may use: the CPU's available memory, or the GPU's once the runner named it.
  double AvailableBytes() const;
  void Progress(const std::string& s) const {
    if (env.progress) env.progress(s);
  }
};

// An integer flag in [lo, hi] (`fallback` when empty; 0 allowed when lo is 0).
Result<int64_t> IntFlag(const std::string& text, const char* flag, int64_t lo, int64_t hi, int64_t fallback);
// The runner's precision for --dtype on `device` (`flag` names it in errors).
Result<Dtype> RunnerDtype(const std::string& text, Device device, const char* flag = "--dtype");

// Checks the flags shared by every command, reads --calibration once (a missing or corrupt
// profile is bad input, reported before any run) and builds the device models (CUDA without
// --gpu or --calibration: after the runner names the device).
Result<MeasureContext> PrepareMeasure(const Session& session, const MeasureDeviceRequest& req, const MeasureEnv& env);
// Starts the runner (Unavailable without one) and completes the device models.
Status StartRunner(MeasureContext& c);

// Where the run took place, for the result.
MeasureRunInfo RunInfo(const MeasureContext& c);
// Writes the record of `kind` under --record (nothing without it); returns the folder or "".
Result<std::string> Record(const MeasureContext& c, const std::string& kind, nlohmann::ordered_json body);
// The energy meter of the device (RAPL or NVML), or null.
std::unique_ptr<measure::EnergyMeter> OpenMeter(const MeasureContext& c);

// Report helpers shared by the measure reports.
std::string ThreadsText(const measure::RunnerInfo& r);
std::string DisturbedNote(double other_pct);
// Notes on how trustworthy the timings are, printed with every measurement.
std::vector<std::string> RunNotes(const measure::RunnerInfo& r);

}  // namespace dlcost::api::measure_detail
