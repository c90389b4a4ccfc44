// Whole-run cost of training: steps, wall time, GPU-hours, dollars, energy and CO2 from one
// step estimate and the price and energy context.
//
//   RunInputs in;
//   in.tokens = 15e12; in.usd_per_gpu_hour = 2.5; in.carbon_g_per_kwh = 380;
//   DLCOST_ASSIGN_OR_RETURN(RunCost c, ComputeRunCost(estimate, 1024, gpu.tdp_w, in));
//   c.gpu_hours, c.usd, c.co2_kg ...
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>

#include "dlcost/status.h"

namespace dlcost {

struct TrainingEstimate;  // training.h

// What a run loses beside its steady-state steps (docs/training.md, "Whole run"): interruptions
// and restarts, checkpoints, evaluation.
struct RunOverheads {
  // Llama 3 pre-training: 419 unexpected interruptions in a 54-day snapshot on 16,384 H100 GPUs
  // (Dubey et al. 2024, "The Llama 3 Herd of Models", Sec. 3.3.4, Table 5): 419 / (54 x 24 x
  // 16,384) per GPU-hour.
  double interruptions_per_gpu_hour = 419.0 / (54.0 * 24.0 * 16384.0);
  // Time to detect an interruption, restart the job and load the checkpoint: a stated dlcost
  // assumption (no published figure in dlcost's sources), --restart-min.
  double restart_s = 600;
  // Storage write bandwidth per GPU: Llama 3's Tectonic storage sustained 2 TB/s for 16,384
  // GPUs (same paper, Sec. 3.3.1).
  double storage_bytes_per_s_per_gpu = 2e12 / 16384.0;
  double eval_fraction = 0;  // share of the steady-state time spent evaluating (--eval-fraction)
};

// Whole-run inputs: how much to train, and the price and energy context.
struct RunInputs {
  std::optional<double> tokens;   // training units (tokens, or images for vision models)
  std::optional<double> steps;    // optimizer steps (alternative to tokens)
  // Share of wall time that trains; empty: modelled from `overheads` (GoodputOf).
  std::optional<double> goodput;
  RunOverheads overheads;
  std::optional<double> usd_per_gpu_hour;
  double gpu_power_w = 0;         // average board power per GPU; 0 = the catalog TDP
  double host_power_w_per_gpu = 0;
  double pue = 1.0;
  double carbon_g_per_kwh = 0;
};

// The goodput of a run and its parts, each a share of the steady-state time.
struct GoodputParts {
  double goodput = 1;             // steady-state time / wall time
  bool modelled = false;          // false: the user's --goodput
  double mtbf_s = 0;              // mean time between interruptions of the whole job
  double checkpoint_s = 0;        // one checkpoint write
  double checkpoint_interval_s = 0;
  double checkpoint_share = 0;    // checkpoint_s / interval
  double failure_share = 0;       // (interval / 2 + restart) / MTBF: lost work and restarts
  double eval_share = 0;
  double interruptions = 0;       // expected over the run
};

// The goodput of a run of `steady_s` seconds of steps on `num_gpus` GPUs whose checkpoint is
// `checkpoint_bytes`: the interval between checkpoints is Young's optimum sqrt(2 C MTBF)
// (Young 1974, "A first order approximation to the optimum checkpoint interval", CACM 17(9)),
// at most the run itself; goodput = 1 / (1 + C / interval + (interval / 2 + restart) / MTBF +
// eval share). The user's `in.goodput`, when given, is used as is.
GoodputParts GoodputOf(double steady_s, int64_t num_gpus, double checkpoint_bytes, const RunInputs& in);

struct RunCost {
  double steps = 0;
  double tokens = 0;
  double steady_wall_s = 0;       // steps x step time: what a benchmark of the steady state measures
  double steady_gpu_hours = 0;
  GoodputParts goodput;
  double wall_s = 0;              // steady state / goodput: what a whole run takes
  double gpu_hours = 0;
  std::optional<double> usd;
  double energy_kwh = 0;
  double co2_kg = 0;
};

// Whole-run cost from a step estimate on `num_gpus` GPUs of `tdp_w` watts. Steps = tokens /
// tokens per step (rounded up); wall = steps x step / goodput (GoodputOf, with the estimate's
// checkpoint_bytes). InvalidInput naming the flag when goodput, tokens or steps are out of range
// or neither tokens nor steps is given.
Result<RunCost> ComputeRunCost(const TrainingEstimate& e, int64_t num_gpus, double tdp_w, const RunInputs& in);

}  // namespace dlcost
