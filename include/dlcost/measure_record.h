// What a measurement produced, and its record on disk.
//
// `dlcost measure train|infer|sweep` and `dlcost calibrate` fill these structs (api_measure.h);
// the functions here turn them into the JSON written under `--record ROOT/<device>/<date>/`
// (raw samples, statistics, predictions and the environment) and into the exact JSON that
// `measure sweep --format json` prints. Formats: docs/measure.md, "Records" and "The sweep".
//
//   measure::TrainMeasurement m = ...;  // filled by api::MeasureTrain
//   DLCOST_ASSIGN_OR_RETURN(std::string folder,
//                           measure::WriteRecord(root, "train", measure::TrainRecordJson(m), where));
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dlcost/measure.h"
#include "dlcost/serving.h"
#include "dlcost/status.h"
#include "dlcost/training.h"

namespace dlcost::measure {

// Joules per step (or per repetition) and where the figure comes from.
struct EnergyFigure {
  double j = 0;
  std::string how;  // "measured: rapl (...)" or "estimated (...): W x time; ..."
};
// The energy per unit of `units` timed units: measured (`measured_j` over all of them, from
// counter `source`) when a counter was read, else the device model's power x `seconds`.
EnergyFigure EnergyPerUnit(const std::optional<double>& measured_j, const std::string& source, double units,
                           double seconds, const DeviceModel& dm);

// One `measure train` run beside its predictions.
struct TrainMeasurement {
  std::string model_id;
  int64_t layers = 0, batch = 0, seq = 0;
  Dtype dtype = Dtype::kFp32;
  int warmup = 0, steps = 0;
  StepSamples samples;
  TimingStats stats;
  TrainingEstimate predicted;                          // with --calibration when given
  std::optional<TrainingEstimate> predicted_uncalibrated;  // beside a calibrated prediction
  double rel_error = 0;
  std::string profile;  // the profile path, or "uncalibrated"
  EnergyFigure energy;  // per step
};

// One `measure infer` run beside the serving estimator's prediction.
struct InferMeasurement {
  std::string model_id;
  int64_t layers = 0, batch = 0, prompt = 0, generate = 0;
  Dtype dtype = Dtype::kFp32;
  int warmup = 0, reps = 0;
  InferSamples samples;
  TimingStats prefill, decode;
  std::optional<ServingEstimate> predicted;
  std::string prediction_note;  // why there is no prediction, when there is none
  EnergyFigure energy;          // per prefill + decode of the batch
};

// One case of a sweep: its fastest round, every round, and the predictions.
struct SweepRound {
  std::vector<double> samples_s;
  double median_s = 0;
  double other_cpu_pct = 0;
  double peak_memory_bytes = 0;
};
struct SweepCaseResult {
  SweepCase config;
  StepSamples best;  // the round with the lowest median
  TimingStats stats;  // of `best`
  std::vector<SweepRound> rounds;
  TrainingEstimate predicted;
  TrainingEstimate predicted_uncalibrated;
  double rel_error = 0;
  double rel_error_uncalibrated = 0;
};
struct SweepMeasurement {
  std::string grid;  // "standard" or "tiny"
  int warmup = 0, steps = 0, rounds = 0;
  std::string device_name;
  bool calibrated = false;
  std::string profile;  // the profile path, or "uncalibrated"
  std::vector<SweepCaseResult> cases;
  ErrorSummary summary;
  ErrorSummary summary_uncalibrated;
  int unsettled = 0;             // cases whose two fastest rounds never agreed within 5%
  double worst_other_cpu_pct = 0;
};

// One calibration: the microbenchmarks and the profile fitted from them.
struct CalibrationRun {
  bool quick = false;
  double wall_s = 0;
  MicrobenchData data;
  nlohmann::json profile;  // as written to --out
  std::string out_path;
};

// The summary statistics of a timing: n, median, quartiles, extremes, mean, spread.
nlohmann::ordered_json TimingStatsJson(const TimingStats& s);
// Every microbenchmark sample, as fitted.
nlohmann::json MicrobenchToJson(const MicrobenchData& d);
// The configuration of a sweep case: model shape, batch, sequence, precision.
nlohmann::json SweepCaseConfig(const SweepCase& c);

// Record bodies (the environment is added by WriteRecord).
nlohmann::ordered_json TrainRecordJson(const TrainMeasurement& m);
nlohmann::ordered_json InferRecordJson(const InferMeasurement& m);
nlohmann::ordered_json SweepRecordJson(const SweepMeasurement& m);
nlohmann::ordered_json CalibrationRecordJson(const CalibrationRun& c);
// What `measure sweep --format json` prints: per case measured and predicted step and error,
// the error summary, the device and the profile.
nlohmann::ordered_json SweepJson(const SweepMeasurement& m);

// Where a record is written and what describes its environment.
struct RecordPlace {
  Device device = Device::kCpu;
  RunnerInfo runner;
  LocalCpu cpu;
};
// The environment of a measurement: host, CPU, memory, threads, OS, libtorch, BLAS, driver.
nlohmann::json CollectEnvironment(Device device, const RunnerInfo& runner, const LocalCpu& cpu);
// `root`/<device label>/<date YYYY-MM-DD>/, created; the label is "cpu" or the GPU's name in
// lower case with non-alphanumerics as '-'.
Result<std::string> RecordFolder(const std::string& root, Device device, const std::string& device_name,
                                 const std::string& date);
// Writes `body` with the environment as `<kind>-<UTC time>.json`, and the environment as
// environment.json, into today's RecordFolder under `root`; returns the folder. Errors name
// --record.
Result<std::string> WriteRecord(const std::string& root, const std::string& kind, nlohmann::ordered_json body,
                                const RecordPlace& place);
std::string TodayUtc();   // YYYY-MM-DD
std::string NowUtcIso();  // YYYY-MM-DDTHH:MM:SSZ

}  // namespace dlcost::measure
