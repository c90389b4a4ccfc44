// Price, power and carbon flags shared by the estimating commands (train, infer, tco).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "dlcost/hardware.h"
#include "dlcost/status.h"

namespace dlcost::cli {

struct CostFlags {
  std::string price;        // --price-usd-per-gpu-hour
  std::string offer;        // --offer PROVIDER:INSTANCE[:REGION]
  std::string region;       // --region (carbon intensity; PUE where the source has one)
  std::string pue;          // --pue
  std::string gpu_power_w;  // --gpu-power-w
};

struct CostContext {
  std::optional<double> usd_per_gpu_hour;
  std::string provider;          // of the offer used, "" when the price was given
  double pue = 1;
  std::string pue_note;  // where the PUE comes from
  double carbon_g_per_kwh = 0;
  std::optional<double> gpu_power_w;  // as given; empty = the catalog TDP
  std::vector<std::string> notes;     // where the price and the carbon intensity come from
};

void AddCostOptions(CLI::App* cmd, CostFlags* f);

// Resolves the price (given, the named offer, or the cheapest shipped offer for `gpu`), the
// region's carbon intensity and PUE, and the GPU power. Errors name the flag.
Result<CostContext> ResolveCost(const std::string& data_dir, const Accelerator& gpu, const CostFlags& f);

}  // namespace dlcost::cli
