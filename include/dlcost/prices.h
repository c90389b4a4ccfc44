// GPU offers and their prices.
//
// dlcost ships a dated snapshot of public list prices (data/prices/cloud_prices.csv, every row
// with as_of and source). Users can instead point dlcost at a SkyPilot-style vms.csv catalog,
// whose columns are matched by header name; on GCP, host rows and accelerator rows are summed.
//
//   DLCOST_ASSIGN_OR_RETURN(PriceTable t, PriceTable::LoadShipped(data_dir));
//   std::vector<Offer> offers = t.ForGpu("h100-sxm-80gb");   // cheapest on-demand first
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dlcost/status.h"

namespace dlcost {

struct Offer {
  std::string provider;
  std::string instance;
  std::string gpu;        // catalog id
  int gpu_count = 1;
  std::string region;
  double on_demand_usd_per_hour = 0;           // whole instance
  std::optional<double> spot_usd_per_hour;     // whole instance
  std::string as_of;
  std::string source;

  double OnDemandUsdPerGpuHour() const { return on_demand_usd_per_hour / gpu_count; }
  std::optional<double> SpotUsdPerGpuHour() const {
    if (!spot_usd_per_hour) return std::nullopt;
    return *spot_usd_per_hour / gpu_count;
  }
};

struct VmsImportReport {
  int rows = 0;                 // data rows read
  int offers = 0;               // GPU offers produced
  int skipped_unknown_gpu = 0;  // rows whose accelerator has no catalog id
  std::vector<std::string> unknown_accelerators;  // distinct names skipped
};

class PriceTable {
 public:
  // Reads data/prices/cloud_prices.csv.
  static Result<PriceTable> LoadShipped(const std::string& data_dir);
  // Imports a SkyPilot-style vms.csv. `provider` labels the offers (default: the file's parent
  // folder name, e.g. "gcp" for catalogs/v7/gcp/vms.csv, else the file stem).
  static Result<PriceTable> ImportVmsCsv(const std::string& path, const std::string& provider,
                                         VmsImportReport* report);

  const std::vector<Offer>& offers() const { return offers_; }
  // Offers for one catalog GPU id, cheapest on-demand $/GPU-hour first (ties: provider,
  // instance, region).
  std::vector<Offer> ForGpu(const std::string& gpu_id) const;
  // Finds "PROVIDER:INSTANCE" (optionally "PROVIDER:INSTANCE:REGION"); cheapest region wins.
  Result<Offer> FindOffer(const std::string& spec) const;

 private:
  std::vector<Offer> offers_;
};

// Maps a SkyPilot AcceleratorName (A100, A100-80GB, H100, ...) and instance type to a catalog
// id; nullopt for accelerators dlcost does not model.
std::optional<std::string> MapSkypilotAccelerator(const std::string& name, const std::string& instance);

}  // namespace dlcost
