// Error bands: how far dlcost's training estimates have been from measured values, by regime.
// The shipped table (data/bands/training.json) is written by `dlcost validate training FILE
// --write-bands PATH` from the validator's residuals; `train`, `plan` and `budget` read it to
// print an 80% band beside each estimate (method: docs/training.md, "Error bands").
//
//   DLCOST_ASSIGN_OR_RETURN(ErrorBandTable t, ErrorBandTable::Load(ShippedBandTablePath(data_dir)));
//   BandRegime reg{kTimeFamily, GpuGeneration(gpu), ParallelismFamily(2, 1, 1, 1, 0), PrecisionClass(Dtype::kBf16)};
//   if (std::optional<BandMatch> m = t.Find(reg)) {
//     Band b = ApplyBand(step_s, m->q, /*rate=*/false);   // b.low, b.high: seconds
//   }
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "dlcost/hardware.h"
#include "dlcost/status.h"

namespace dlcost {

// Metric families: residuals are pooled within one family only.
inline constexpr const char* kTimeFamily = "time";           // step time and the rates derived from it
inline constexpr const char* kMemoryFamily = "memory";       // memory per GPU
inline constexpr const char* kWholeRunFamily = "whole_run";  // GPU-hours, days, energy, dollars
inline constexpr const char* kServingRateFamily = "serving_rate";        // tokens/s and requests/s served
inline constexpr const char* kServingLatencyFamily = "serving_latency";  // TTFT and TPOT

// The family of a validator metric ("sec_per_iter" -> "time"), or "" for a metric without bands.
std::string MetricFamily(std::string_view metric);
// True for metrics that fall when the step time grows (TFLOP/s, MFU, HFU, tokens/s): their
// residuals are negated before pooling so that every residual in a family reads as a time error.
bool IsRateMetric(std::string_view metric);

// The GPU generation of a regime: the catalog's `architecture` ("ampere", "hopper" ...), or,
// for an accelerator file without one, its id up to the first '-'.
std::string GpuGeneration(const Accelerator& gpu);
// "expert_parallel" (ep > 1: mixture-of-experts runs), "tensor_pipeline" (any tensor, pipeline
// or context parallelism), else "zero3_fsdp" (ZeRO-3) or "data_parallel" (ZeRO 0-2).
const char* ParallelismFamily(int64_t tp, int64_t pp, int64_t cp, int64_t ep, int64_t zero);
// "bf16_fp16", "fp8", "fp32_tf32", or the dtype's name: precisions that run at the same peak
// on every catalogued GPU share a class.
std::string PrecisionClass(Dtype precision);

// What a residual or an estimate is grouped by, coarse to fine.
struct BandRegime {
  std::string family;       // MetricFamily
  std::string generation;   // GpuGeneration
  std::string parallelism;  // ParallelismFamily
  std::string precision;    // PrecisionClass
  // The regime's keys from the family alone to all four parts ("time", "time/ampere",
  // "time/ampere/tensor_pipeline", "time/ampere/tensor_pipeline/bf16_fp16"); a part left empty
  // ends the list there. Empty when `family` is empty.
  std::vector<std::string> Keys() const;
};

// Percentiles of time-oriented log residuals r = ln(predicted / measured) of one regime.
struct BandQuantiles {
  double q10 = 0;
  double q90 = 0;
  int64_t n = 0;        // residuals
  int64_t sources = 0;  // distinct sources among them
};

struct Band {
  double low = 0;
  double high = 0;
};

// The 80% band of `estimate`: [estimate / e^q90, estimate / e^q10] for times and amounts,
// [estimate * e^q10, estimate * e^q90] for rates (`rate`, see IsRateMetric).
Band ApplyBand(double estimate, const BandQuantiles& q, bool rate);

struct BandMatch {
  std::string key;           // the table key used
  BandQuantiles q;
  bool finest = false;       // the key is the regime's full key
};

// A band table: quantiles per regime key, with the cases file they come from.
struct ErrorBandTable {
  std::string source;         // the cases file the residuals come from
  std::string method;         // how the quantiles were computed (one sentence)
  int64_t min_residuals = 8;  // a key enters the table with at least this many residuals
  std::map<std::string, BandQuantiles> regimes;
  // Per metric family, the share of published cases inside their band when the band was built
  // without the case's own source (the validator's leave-one-source-out check), percent; a
  // family is absent when no case could be checked that way (a single source).
  std::map<std::string, double> loso_coverage_pct;

  // The finest key of `regime` present in the table, or nullopt when not even its family is.
  std::optional<BandMatch> Find(const BandRegime& regime) const;

  // Reads a table; InvalidInput naming the file and the field when it is malformed.
  static Result<ErrorBandTable> Load(const std::string& path);
  // The same check on a parsed document; `where` names it in errors.
  static Result<ErrorBandTable> Parse(const nlohmann::json& doc, const std::string& where);
  // The JSON text Load reads back (2-space indent, ending with a newline).
  std::string ToJsonText() const;
};

// Where the shipped training table lives: `data_dir`/bands/training.json.
std::string ShippedBandTablePath(const std::string& data_dir);
// Where the shipped serving table lives: `data_dir`/bands/serving.json (written by
// `dlcost validate inference FILE --write-bands PATH`; read by `infer`).
std::string ShippedServingBandTablePath(const std::string& data_dir);
// The parallelism part of a serving regime: "expert_parallel" (ep > 1), "tensor_pipeline"
// (tp or pp > 1) or "single_gpu".
const char* ServingParallelism(int64_t tp, int64_t pp, int64_t ep);
// The precision part of a serving regime: the weight format's bits class ("w16", "w8", "w4").
std::string ServingPrecision(double weight_bits);

}  // namespace dlcost
