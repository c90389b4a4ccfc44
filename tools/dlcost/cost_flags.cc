#include "cost_flags.h"

#include <fmt/format.h>

#include "dlcost/carbon.h"
#include "dlcost/prices.h"
#include "dlcost/units.h"

namespace dlcost::cli {

void AddCostOptions(CLI::App* cmd, CostFlags* f) {
  cmd->add_option("--price-usd-per-gpu-hour", f->price, "Price per GPU-hour (default: the cheapest shipped offer)");
  cmd->add_option("--offer", f->offer, "Shipped offer PROVIDER:INSTANCE[:REGION] (see 'dlcost prices')");
  cmd->add_option("--region", f->region, "Grid region or data centre for carbon intensity (default WORLD)");
  cmd->add_option("--pue", f->pue, "Data-centre power usage effectiveness (default: the provider's or region's)");
  cmd->add_option("--gpu-power-w", f->gpu_power_w, "Average power per GPU in watts (default: the catalog TDP)");
}

Result<CostContext> ResolveCost(const std::string& data_dir, const Accelerator& gpu, const CostFlags& f) {
  CostContext c;
  if (!f.price.empty() && !f.offer.empty()) return UsageError("--price-usd-per-gpu-hour and --offer: give one");
  if (!f.price.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(f.price, "--price-usd-per-gpu-hour"));
    if (v > 1e6) return InvalidInput("--price-usd-per-gpu-hour: value too large");
    c.usd_per_gpu_hour = v;
    c.notes.push_back(fmt::format("price: ${:.3f}/GPU-hour as given", v));
  } else {
    DLCOST_ASSIGN_OR_RETURN(PriceTable prices, PriceTable::LoadShipped(data_dir));
    if (!f.offer.empty()) {
      DLCOST_ASSIGN_OR_RETURN(Offer o, prices.FindOffer(f.offer));
      if (o.gpu != gpu.id) {
        return InvalidInput(fmt::format("--offer: {}:{} rents {}, not {}", o.provider, o.instance, o.gpu, gpu.id));
      }
      c.usd_per_gpu_hour = o.OnDemandUsdPerGpuHour();
      c.provider = o.provider;
      c.notes.push_back(fmt::format("price: {}:{} ({}) on-demand ${:.3f}/GPU-hour, list price as of {}", o.provider, o.instance,
                                    o.region, *c.usd_per_gpu_hour, o.as_of));
    } else {
      std::vector<Offer> offers = prices.ForGpu(gpu.id);
      if (!offers.empty()) {
        const Offer& o = offers.front();
        c.usd_per_gpu_hour = o.OnDemandUsdPerGpuHour();
        c.provider = o.provider;
        c.notes.push_back(fmt::format("price: cheapest shipped offer {}:{} ({}) ${:.3f}/GPU-hour on demand, list price as of "
                                      "{}; choose another with --offer or --price-usd-per-gpu-hour",
                                      o.provider, o.instance, o.region, *c.usd_per_gpu_hour, o.as_of));
      } else {
        c.notes.push_back("price: no shipped offer for this GPU; pass --price-usd-per-gpu-hour for dollars");
      }
    }
  }
  DLCOST_ASSIGN_OR_RETURN(CarbonData carbon, CarbonData::Load(data_dir));
  std::string region = f.region.empty() ? "WORLD" : f.region;
  DLCOST_ASSIGN_OR_RETURN(GridInfo grid, carbon.Lookup(region));
  c.carbon_g_per_kwh = grid.carbon_g_per_kwh;
  auto [pue_default, pue_source] = carbon.DefaultPue(c.provider.empty() ? "Unknown" : c.provider);
  c.pue = grid.pue.value_or(pue_default);
  std::string pue_note = grid.pue ? "PUE of the named data centre (Green Algorithms)" : "default PUE: " + pue_source;
  if (!f.pue.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(f.pue, "--pue"));
    if (v < 1 || v > 5) return InvalidInput("--pue: must be between 1 and 5");
    c.pue = v;
    pue_note = "PUE as given";
  }
  c.pue_note = pue_note;
  c.notes.push_back(fmt::format("carbon: {} ({}) {:.0f} gCO2e/kWh; source: {}", grid.location, grid.location_name,
                                grid.carbon_g_per_kwh, grid.source));
  if (!f.gpu_power_w.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(f.gpu_power_w, "--gpu-power-w"));
    if (v <= 0 || v > 100000) return InvalidInput("--gpu-power-w: must be between 0 and 100000 W");
    c.gpu_power_w = v;
  } else if (gpu.tdp_w <= 0) {
    return InvalidInput(fmt::format("--gpu-power-w: the catalog has no TDP for {}; give the average power", gpu.id));
  }
  return c;
}

}  // namespace dlcost::cli
