// Whole-run cost of training from one step estimate.
#include "dlcost/run_cost.h"

#include <algorithm>
#include <cmath>

#include "dlcost/training.h"
#include "dlcost/units.h"

namespace dlcost {

GoodputParts GoodputOf(double steady_s, int64_t num_gpus, double checkpoint_bytes, const RunInputs& in) {
  GoodputParts g;
  if (in.goodput) {
    g.goodput = *in.goodput;
    return g;
  }
  const RunOverheads& o = in.overheads;
  double n = static_cast<double>(std::max<int64_t>(1, num_gpus));
  g.modelled = true;
  double rate_per_s = n * o.interruptions_per_gpu_hour / kSecondsPerHour;
  g.mtbf_s = rate_per_s > 0 ? 1.0 / rate_per_s : 0;
  g.checkpoint_s = o.storage_bytes_per_s_per_gpu > 0 ? checkpoint_bytes / (n * o.storage_bytes_per_s_per_gpu) : 0;
  if (g.mtbf_s > 0 && steady_s > 0) {
    g.checkpoint_interval_s = std::min(std::sqrt(2 * g.checkpoint_s * g.mtbf_s), steady_s);
    if (g.checkpoint_interval_s > 0) g.checkpoint_share = g.checkpoint_s / g.checkpoint_interval_s;
    g.failure_share = (g.checkpoint_interval_s / 2 + o.restart_s) / g.mtbf_s;
  }
  g.eval_share = o.eval_fraction;
  g.goodput = 1.0 / (1.0 + g.checkpoint_share + g.failure_share + g.eval_share);
  if (g.mtbf_s > 0) g.interruptions = steady_s / g.goodput / g.mtbf_s;
  return g;
}

Result<RunCost> ComputeRunCost(const TrainingEstimate& e, int64_t num_gpus, double tdp_w, const RunInputs& in) {
  RunCost r;
  if (in.goodput && (*in.goodput <= 0 || *in.goodput > 1 || !std::isfinite(*in.goodput))) {
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
  r.steady_wall_s = r.steps * e.time_step_s;
  r.steady_gpu_hours = r.steady_wall_s * static_cast<double>(num_gpus) / kSecondsPerHour;
  r.goodput = GoodputOf(r.steady_wall_s, num_gpus, e.checkpoint_bytes, in);
  r.wall_s = r.steady_wall_s / r.goodput.goodput;
  r.gpu_hours = r.wall_s * static_cast<double>(num_gpus) / kSecondsPerHour;
  if (in.usd_per_gpu_hour) r.usd = r.gpu_hours * *in.usd_per_gpu_hour;
  double power = in.gpu_power_w > 0 ? in.gpu_power_w : tdp_w;
  r.energy_kwh = r.gpu_hours * (power + in.host_power_w_per_gpu) * in.pue / 1000.0;
  r.co2_kg = r.energy_kwh * in.carbon_g_per_kwh / 1000.0;
  return r;
}

}  // namespace dlcost
