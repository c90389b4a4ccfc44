// The 80% error band of a training estimate, as `train`, `plan` and `budget` print it: the band
// table's quantiles (data/bands/training.json, written by `dlcost validate training --write-bands`)
// for the estimate's regime (GPU generation, parallelism family of the layout, precision).
//
//   DLCOST_ASSIGN_OR_RETURN(auto table, session.ErrorBands(""));   // the shipped table
//   api::EstimateBands b = api::BandsFor(table.get(), gpu, est.layout, Dtype::kBf16, est, cost);
//   if (b.wall_days) fmt::print("{:.1f}-{:.1f} days", b.wall_days->low, b.wall_days->high);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dlcost/error_bands.h"
#include "dlcost/hardware.h"
#include "dlcost/run_cost.h"
#include "dlcost/training.h"

namespace dlcost::api {

// Bands of one estimate: the time family's for step time and throughput, the whole-run family's
// for GPU-hours, wall time and dollars. An empty optional: the table has no band for it.
struct EstimateBands {
  std::optional<Band> step_s;
  std::optional<Band> tokens_per_s;
  std::optional<Band> gpu_hours;
  std::optional<Band> wall_days;
  std::optional<Band> usd;
  std::string time_key;  // the table keys used ("" when none)
  std::string run_key;
  std::string time_note;  // where the step-time band comes from, any fallback, or why there is none
  std::string run_note;   // the same for the whole-run band
};

// The bands of `e` (on `gpu`, with `cost` from it) in `table`; with no table (nullptr), no bands
// and notes saying so.
EstimateBands BandsFor(const ErrorBandTable* table, const Accelerator& gpu, const Layout& layout, Dtype precision,
                       const TrainingEstimate& e, const RunCost& cost);

}  // namespace dlcost::api
