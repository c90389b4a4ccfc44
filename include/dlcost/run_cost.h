// Whole-run cost of training: steps, wall time, GPU-hours, dollars, energy and CO2 from one
// step estimate and the price and energy context.
//
//   RunInputs in;
//   in.tokens = 15e12; in.usd_per_gpu_hour = 2.5; in.carbon_g_per_kwh = 380;
//   DLCOST_ASSIGN_OR_RETURN(RunCost c, ComputeRunCost(estimate, 1024, gpu.tdp_w, in));
//   c.gpu_hours, c.usd, c.co2_kg ...
#pragma once

#include <cstdint>
#include <optional>

#include "dlcost/status.h"

namespace dlcost {

struct TrainingEstimate;  // training.h

// Whole-run inputs: how much to train, and the price and energy context.
struct RunInputs {
  std::optional<double> tokens;   // training units (tokens, or images for vision models)
  std::optional<double> steps;    // optimizer steps (alternative to tokens)
  double goodput = 0.9;           // share of wall time that trains (restarts, failures excluded)
  std::optional<double> usd_per_gpu_hour;
  double gpu_power_w = 0;         // average board power per GPU; 0 = the catalog TDP
  double host_power_w_per_gpu = 0;
  double pue = 1.0;
  double carbon_g_per_kwh = 0;
};

struct RunCost {
  double steps = 0;
  double tokens = 0;
  double wall_s = 0;
  double gpu_hours = 0;
  std::optional<double> usd;
  double energy_kwh = 0;
  double co2_kg = 0;
};

// Default goodput: Llama 3 training reached more than 90% effective training time over 54 days
// on 16k H100s (Dubey et al. 2024, "The Llama 3 Herd of Models", Sec. 3.3.4).
inline constexpr double kDefaultGoodput = 0.9;

// Whole-run cost from a step estimate on `num_gpus` GPUs of `tdp_w` watts. Steps = tokens /
// tokens per step (rounded up); InvalidInput naming the flag when goodput, tokens or steps are
// out of range or neither tokens nor steps is given.
Result<RunCost> ComputeRunCost(const TrainingEstimate& e, int64_t num_gpus, double tdp_w, const RunInputs& in);

}  // namespace dlcost
