#include "dlcost/carbon.h"

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/csv.h"
#include "common/json_util.h"
#include "dlcost/strings.h"

namespace dlcost {
namespace fs = std::filesystem;

namespace {
constexpr const char* kGreenAlgorithms =
    "Green Algorithms (Lannelongue et al. 2021), data/carbon/CI_aggregated.csv, CC BY 4.0";
}

Result<CarbonData> CarbonData::Load(const std::string& data_dir) {
  CarbonData c;
  fs::path dir = fs::path(data_dir) / "carbon";
  // The Green Algorithms CSVs carry a units row above the header.
  DLCOST_ASSIGN_OR_RETURN(CsvTable ci, CsvTable::ReadFile((dir / "CI_aggregated.csv").string(), 1));
  DLCOST_ASSIGN_OR_RETURN(size_t c_loc, ci.RequireColumn("location"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_country, ci.RequireColumn("countryName"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_region, ci.RequireColumn("regionName"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_ci, ci.RequireColumn("carbonIntensity"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_src, ci.RequireColumn("source"));
  for (const CsvRow& row : ci.rows()) {
    DLCOST_ASSIGN_OR_RETURN(std::optional<double> v, ci.Number(row, c_ci));
    if (!v) continue;
    Location l;
    l.code = ci.Field(row, c_loc);
    std::string region = ci.Field(row, c_region);
    l.name = ci.Field(row, c_country) + (region.empty() || region == "Any" ? "" : " / " + region);
    l.g_per_kwh = *v;
    l.source = ci.Field(row, c_src);
    c.locations_.push_back(std::move(l));
  }
  DLCOST_ASSIGN_OR_RETURN(CsvTable dc, CsvTable::ReadFile((dir / "cloudProviders_datacenters.csv").string(), 1));
  DLCOST_ASSIGN_OR_RETURN(size_t d_prov, dc.RequireColumn("provider"));
  DLCOST_ASSIGN_OR_RETURN(size_t d_name, dc.RequireColumn("Name"));
  DLCOST_ASSIGN_OR_RETURN(size_t d_loc, dc.RequireColumn("location"));
  DLCOST_ASSIGN_OR_RETURN(size_t d_pue, dc.RequireColumn("PUE"));
  std::optional<size_t> d_pue_src = dc.Column("source_PUE");
  for (const CsvRow& row : dc.rows()) {
    Datacenter d;
    d.provider = dc.Field(row, d_prov);
    d.name = dc.Field(row, d_name);
    d.location = dc.Field(row, d_loc);
    DLCOST_ASSIGN_OR_RETURN(d.pue, dc.Number(row, d_pue));
    if (d_pue_src) d.pue_source = dc.Field(row, *d_pue_src);
    c.datacenters_.push_back(std::move(d));
  }
  DLCOST_ASSIGN_OR_RETURN(CsvTable pue, CsvTable::ReadFile((dir / "defaults_PUE.csv").string(), 1));
  DLCOST_ASSIGN_OR_RETURN(size_t p_prov, pue.RequireColumn("provider"));
  DLCOST_ASSIGN_OR_RETURN(size_t p_pue, pue.RequireColumn("PUE"));
  DLCOST_ASSIGN_OR_RETURN(size_t p_src, pue.RequireColumn("source"));
  for (const CsvRow& row : pue.rows()) {
    DLCOST_ASSIGN_OR_RETURN(std::optional<double> v, pue.Number(row, p_pue));
    if (!v) continue;
    c.pues_.push_back({pue.Field(row, p_prov), pue.Field(row, p_src), *v});
  }
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json mix, ReadJsonFile((dir / "codecarbon_global_energy_mix.json").string()));
  if (mix.is_object()) {
    for (const auto& [code, entry] : mix.items()) {
      if (!entry.is_object() || !entry.contains("carbon_intensity") || !entry["carbon_intensity"].is_number()) continue;
      Location l;
      l.code = code;
      l.name = entry.value("country_name", code);
      l.g_per_kwh = entry["carbon_intensity"].get<double>();
      l.source = fmt::format("Our World in Data via CodeCarbon global_energy_mix.json ({})",
                             entry.contains("year") ? entry["year"].dump() : "year n/a");
      c.iso3_.push_back(std::move(l));
    }
  }
  return c;
}

std::vector<std::string> CarbonData::LocationCodes() const {
  std::vector<std::string> out;
  for (const Location& l : locations_) out.push_back(l.code);
  for (const Datacenter& d : datacenters_) out.push_back(d.provider + ":" + d.name);
  return out;
}

Result<GridInfo> CarbonData::Lookup(const std::string& region) const {
  std::string q = std::string(TrimView(region));
  std::string provider, name = q;
  if (auto colon = q.find(':'); colon != std::string::npos) {
    provider = ToLower(q.substr(0, colon));
    name = q.substr(colon + 1);
  }
  auto find_location = [&](const std::string& code) -> const Location* {
    for (const Location& l : locations_) {
      if (ToLower(l.code) == ToLower(code)) return &l;
    }
    return nullptr;
  };
  if (provider.empty()) {
    if (const Location* l = find_location(name)) {
      return GridInfo{region, l->code, l->name, l->g_per_kwh, std::nullopt, l->source + "; " + kGreenAlgorithms};
    }
  }
  for (const Datacenter& d : datacenters_) {
    if ((provider.empty() || ToLower(d.provider) == provider) && ToLower(d.name) == ToLower(name)) {
      const Location* l = find_location(d.location);
      if (!l) break;
      GridInfo g{region, l->code, l->name, l->g_per_kwh, d.pue,
                 fmt::format("{} ({} {} in {}); {}", l->source, d.provider, d.name, d.location, kGreenAlgorithms)};
      return g;
    }
  }
  if (provider.empty()) {
    for (const Location& l : iso3_) {
      if (ToLower(l.code) == ToLower(name)) {
        return GridInfo{region, l.code, l.name, l.g_per_kwh, std::nullopt, l.source};
      }
    }
  }
  return NotFound(UnknownNameMessage("region", region, LocationCodes()));
}

std::pair<double, std::string> CarbonData::DefaultPue(const std::string& provider) const {
  const Pue* unknown = nullptr;
  for (const Pue& p : pues_) {
    if (ToLower(p.provider) == ToLower(provider)) return {p.pue, p.source};
    if (p.provider == "Unknown") unknown = &p;
  }
  if (unknown) return {unknown->pue, unknown->source};
  return {1.56, "Uptime Institute 2024 Global Data Center Survey (industry average PUE)"};
}

}  // namespace dlcost
