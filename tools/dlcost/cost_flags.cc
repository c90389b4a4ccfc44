#include "cost_flags.h"


namespace dlcost::cli {

void AddCostOptions(CLI::App* cmd, api::CostRequest* f) {
  cmd->add_option("--price-usd-per-gpu-hour", f->price, "Price per GPU-hour (default: the cheapest shipped offer)");
  cmd->add_option("--offer", f->offer, "Shipped offer PROVIDER:INSTANCE[:REGION] (see 'dlcost prices')");
  cmd->add_option("--region", f->region, "Grid region or data centre for carbon intensity (default WORLD)");
  cmd->add_option("--pue", f->pue, "Data-centre power usage effectiveness (default: the provider's or region's)");
  cmd->add_option("--gpu-power-w", f->gpu_power_w, "Average power per GPU in watts (default: the catalog TDP)");
}

}  // namespace dlcost::cli
