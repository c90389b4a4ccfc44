// Whole-run cost of training from one step estimate.
#include "dlcost/run_cost.h"

#include <cmath>

#include "dlcost/training.h"
#include "dlcost/units.h"

namespace dlcost {

Result<RunCost> ComputeRunCost(const TrainingEstimate& e, int64_t num_gpus, double tdp_w, const RunInputs& in) {
  RunCost r;
  if (in.goodput <= 0 || in.goodput > 1 || !std::isfinite(in.goodput)) {
    return InvalidInput("--goodput: must be in (0, 1]");
  }
  if (in.steps) {
    DLCOST_RETURN_IF_ERROR(CheckPositive(*in.steps, "--steps"));
    r.steps = std::ceil(*in.steps);
  } else if (in.tokens) {
    DLCOST_RETURN_IF_ERROR(CheckPositive(*in.tokens, "--tokens"));
    r.steps = std::ceil(*in.tokens / e.tokens_per_step);
  } else {
    return InvalidInput("--tokens or --steps: one of them is required for the whole-run cost");
  }
  r.tokens = r.steps * e.tokens_per_step;
  r.wall_s = r.steps * e.time_step_s / in.goodput;
  r.gpu_hours = r.wall_s * static_cast<double>(num_gpus) / kSecondsPerHour;
  if (in.usd_per_gpu_hour) r.usd = r.gpu_hours * *in.usd_per_gpu_hour;
  double power = in.gpu_power_w > 0 ? in.gpu_power_w : tdp_w;
  r.energy_kwh = r.gpu_hours * (power + in.host_power_w_per_gpu) * in.pue / 1000.0;
  r.co2_kg = r.energy_kwh * in.carbon_g_per_kwh / 1000.0;
  return r;
}

}  // namespace dlcost
