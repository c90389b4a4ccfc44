// The GPU candidates `plan` and `budget` search: GPU types with their offers grouped by
// instance size (docs/plan.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dlcost/hardware.h"
#include "dlcost/plan.h"
#include "dlcost/prices.h"

namespace dlcost::cli {

// `gpu_list` is "any" (every GPU, TPU and NPU of the catalog) or comma-separated ids. Offers
// come from `prices` unless `flat_price` gives one $/GPU-hour for all. GPUs without a power
// figure are left out when `gpu_power_w` is 0. `efficiency_path` is the profile file.
Result<std::vector<GpuCandidate>> BuildCandidates(const HardwareCatalog& hw, const PriceTable& prices,
                                                  const std::string& gpu_list, std::optional<double> flat_price,
                                                  const std::string& efficiency_path, double gpu_power_w);

}  // namespace dlcost::cli
