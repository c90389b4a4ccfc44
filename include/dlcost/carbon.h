// Grid carbon intensity and data-centre PUE.
//
// From the Green Algorithms data (CC BY 4.0; data/carbon/, attribution in data/NOTICE.md):
// carbon intensity per country/region (gCO2e/kWh), cloud regions mapped to locations, and
// default PUE per provider; per-country intensity for ISO-3 codes from the CodeCarbon/Our World
// in Data energy mix.
//
//   DLCOST_ASSIGN_OR_RETURN(CarbonData c, CarbonData::Load(data_dir));
//   DLCOST_ASSIGN_OR_RETURN(GridInfo g, c.Lookup("gcp:us-central1"));   // or "US-CA", "FR", "FRA"
//   (the Green Algorithms data centre list covers GCP and Azure regions; for AWS give the
//   location code of the region, e.g. "US-VA" for us-east-1)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dlcost/status.h"

namespace dlcost {

struct GridInfo {
  std::string region;           // what was asked
  std::string location;         // resolved location code ("US-IA")
  std::string location_name;    // "United States of America / Iowa"
  double carbon_g_per_kwh = 0;  // gCO2e per kWh
  std::optional<double> pue;    // data-centre PUE where the source gives one
  std::string source;
};

class CarbonData {
 public:
  static Result<CarbonData> Load(const std::string& data_dir);

  // Resolves a location code (CI_aggregated "location": "WORLD", "US-CA", "FR"), a cloud region
  // ("gcp:us-central1", "azure:westeurope" or a bare region name), or an ISO-3 country code
  // ("FRA") to carbon intensity and, for cloud regions, PUE. Unknown names suggest near ones.
  Result<GridInfo> Lookup(const std::string& region) const;

  // Default PUE for a provider ("aws", "gcp", ...; "Unknown" for anything else), with source.
  std::pair<double, std::string> DefaultPue(const std::string& provider) const;

  std::vector<std::string> LocationCodes() const;

 private:
  struct Location {
    std::string code, name, source;
    double g_per_kwh = 0;
  };
  struct Datacenter {
    std::string provider, name, location, pue_source;
    std::optional<double> pue;
  };
  struct Pue {
    std::string provider, source;
    double pue = 0;
  };
  std::vector<Location> locations_;
  std::vector<Datacenter> datacenters_;
  std::vector<Pue> pues_;
  std::vector<Location> iso3_;  // CodeCarbon country table
};

}  // namespace dlcost
