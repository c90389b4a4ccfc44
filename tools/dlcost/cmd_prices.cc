// dlcost prices [GPU] [--vms FILE]: offers for a GPU, cheapest first.
#include <fmt/format.h>

#include "cli_common.h"
#include "dlcost/hardware.h"
#include "dlcost/prices.h"

namespace dlcost::cli {
namespace {

struct PricesArgs {
  std::string gpu;
  std::string vms;
  std::string provider;
  int top = 0;
};

int RunPrices(const GlobalOptions& g, const PricesArgs& a) {
  if (!a.provider.empty() && a.vms.empty()) {
    return Fail(UsageError("--provider: only applies to offers read with --vms"));
  }
  Result<std::string> dir = DataDir(g);
  if (!dir.ok()) return Fail(dir.status());
  Result<HardwareCatalog> hw = HardwareCatalog::Load(*dir);
  if (!hw.ok()) return Fail(hw.status());
  std::string gpu_id;
  if (!a.gpu.empty()) {
    Result<Accelerator> acc = hw->Resolve(a.gpu);
    if (!acc.ok()) return Fail(acc.status());
    gpu_id = acc->id;
  }
  VmsImportReport imported;
  Result<PriceTable> table = a.vms.empty() ? PriceTable::LoadShipped(*dir)
                                           : PriceTable::ImportVmsCsv(a.vms, a.provider, &imported);
  if (!table.ok()) return Fail(table.status());
  std::vector<Offer> offers;
  if (gpu_id.empty()) {
    for (const Accelerator& acc : hw->accelerators()) {
      std::vector<Offer> o = table->ForGpu(acc.id);
      offers.insert(offers.end(), o.begin(), o.end());
    }
  } else {
    offers = table->ForGpu(gpu_id);
  }
  if (a.top > 0 && static_cast<int>(offers.size()) > a.top) offers.resize(a.top);
  report::Report r;
  r.title = gpu_id.empty() ? "GPU offers, cheapest first per GPU" : fmt::format("Offers for {}, cheapest first", gpu_id);
  report::Table& t = r.AddTable("offers", "",
                                {{"provider", "provider"},
                                 {"instance", "instance"},
                                 {"gpu", "gpu"},
                                 {"gpu_count", "GPUs"},
                                 {"region", "region"},
                                 {"on_demand_usd_per_gpu_hour", "$/GPU-h", 3},
                                 {"spot_usd_per_gpu_hour", "spot $/GPU-h", 3},
                                 {"on_demand_usd_per_hour", "$/h instance", 2},
                                 {"as_of", "as of"},
                                 {"source", "source"}});
  for (const Offer& o : offers) {
    auto spot = o.SpotUsdPerGpuHour();
    t.rows.push_back({o.provider, o.instance, o.gpu, static_cast<int64_t>(o.gpu_count), o.region,
                      o.OnDemandUsdPerGpuHour(), spot ? report::Value(*spot) : report::Value(),
                      o.on_demand_usd_per_hour, o.as_of, o.source});
  }
  if (a.vms.empty()) {
    r.notes.push_back("Dated snapshot of public on-demand list prices (data/prices/cloud_prices.csv); "
                      "prices change: check the provider before you buy, or pass --vms with a current catalog.");
  } else {
    r.notes.push_back(fmt::format("Imported from {}: {} rows, {} GPU offers, {} rows skipped (accelerators "
                                  "without a catalog id: {}).",
                                  a.vms, imported.rows, imported.offers, imported.skipped_unknown_gpu,
                                  imported.unknown_accelerators.empty() ? "none" : fmt::format("{}", fmt::join(imported.unknown_accelerators, ", "))));
  }
  if (offers.empty()) {
    r.notes.push_back(gpu_id.empty() ? "No offers." : fmt::format("No offer for {} in this price table.", gpu_id));
  }
  return Emit(r, g);
}

}  // namespace

void RegisterPrices(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("prices", "List cloud offers for a GPU, cheapest $/GPU-hour first");
  auto a = std::make_shared<PricesArgs>();
  cmd->add_option("gpu", a->gpu, "GPU id or alias (all GPUs when omitted)");
  cmd->add_option("--vms", a->vms, "A SkyPilot-style vms.csv to read instead of the shipped snapshot");
  cmd->add_option("--provider", a->provider, "Provider label for --vms offers (default: from the path)");
  cmd->add_option("--top", a->top, "Show only the N cheapest offers")->check(CLI::Range(1, 1000000));
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a] { *exit_code = RunPrices(g, *a); });
}

}  // namespace dlcost::cli
