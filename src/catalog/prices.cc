#include "dlcost/prices.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "common/csv.h"
#include "dlcost/strings.h"

namespace dlcost {
namespace fs = std::filesystem;

namespace {

bool CheaperThan(const Offer& a, const Offer& b) {
  double pa = a.OnDemandUsdPerGpuHour(), pb = b.OnDemandUsdPerGpuHour();
  if (pa != pb) return pa < pb;
  if (a.provider != b.provider) return a.provider < b.provider;
  if (a.instance != b.instance) return a.instance < b.instance;
  return a.region < b.region;
}

Result<double> RequirePrice(const CsvTable& t, const CsvRow& row, size_t col) {
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> v, t.Number(row, col));
  if (!v) return InvalidInput(fmt::format("{}: line {}: column '{}' is empty", t.name(), row.line, t.header()[col]));
  if (*v < 0) return InvalidInput(fmt::format("{}: line {}: column '{}' is negative", t.name(), row.line, t.header()[col]));
  return *v;
}

Result<std::optional<double>> OptionalPrice(const CsvTable& t, const CsvRow& row, std::optional<size_t> col) {
  if (!col) return std::optional<double>();
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> v, t.Number(row, *col));
  if (v && *v < 0) {
    return InvalidInput(fmt::format("{}: line {}: column '{}' is negative", t.name(), row.line, t.header()[*col]));
  }
  return v;
}

Result<int> RequireCount(const CsvTable& t, const CsvRow& row, size_t col) {
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> v, t.Number(row, col));
  if (!v || *v < 1 || *v != std::floor(*v) || *v > 1e6) {
    return InvalidInput(fmt::format("{}: line {}: column '{}' must be a positive whole number", t.name(),
                                    row.line, t.header()[col]));
  }
  return static_cast<int>(*v);
}

// GCP machine families that come with accelerators attached: the accelerator name and count
// implied by the machine type (cloud.google.com/compute/docs/gpus).
std::optional<std::pair<std::string, int>> GcpAttached(const std::string& instance) {
  auto count_from_suffix = [&](const std::string& prefix) -> int {
    // "a2-highgpu-8g" -> 8
    std::string rest = instance.substr(prefix.size());
    if (!rest.empty() && rest.back() == 'g') rest.pop_back();
    try {
      return std::stoi(rest);
    } catch (...) {
      return 0;
    }
  };
  struct Family {
    const char* prefix;
    const char* accel;
  };
  constexpr Family kFamilies[] = {{"a2-highgpu-", "A100"}, {"a2-megagpu-", "A100"},
                                  {"a2-ultragpu-", "A100-80GB"}, {"a3-highgpu-", "H100"},
                                  {"a3-megagpu-", "H100-MEGA"}, {"a3-edgegpu-", "H100"},
                                  {"a3-ultragpu-", "H200"}, {"a4-highgpu-", "B200"}};
  for (const Family& f : kFamilies) {
    if (instance.rfind(f.prefix, 0) == 0) {
      int n = count_from_suffix(f.prefix);
      if (n > 0) return std::make_pair(std::string(f.accel), n);
    }
  }
  if (instance.rfind("g2-standard-", 0) == 0) {
    // g2 vCPU count -> attached L4s.
    static const std::map<std::string, int> kG2 = {{"g2-standard-4", 1},  {"g2-standard-8", 1},
                                                   {"g2-standard-12", 1}, {"g2-standard-16", 1},
                                                   {"g2-standard-32", 1}, {"g2-standard-24", 2},
                                                   {"g2-standard-48", 4}, {"g2-standard-96", 8}};
    auto it = kG2.find(instance);
    if (it != kG2.end()) return std::make_pair(std::string("L4"), it->second);
  }
  return std::nullopt;
}

bool IsN1(const std::string& instance) { return instance.rfind("n1-", 0) == 0; }

// SkyPilot repeats a row once per availability zone and an Offer has no zone: keep one offer
// per (instance, gpu, count, region) with the cheapest on-demand and the cheapest spot price
// among its zones, in first-seen order.
void KeepOnePerRegion(std::vector<Offer>* offers) {
  std::vector<Offer> kept;
  std::map<std::tuple<std::string, std::string, int, std::string>, size_t> index;
  for (Offer& o : *offers) {
    auto [it, inserted] = index.emplace(std::make_tuple(o.instance, o.gpu, o.gpu_count, o.region), kept.size());
    if (inserted) {
      kept.push_back(std::move(o));
      continue;
    }
    Offer& k = kept[it->second];
    k.on_demand_usd_per_hour = std::min(k.on_demand_usd_per_hour, o.on_demand_usd_per_hour);
    if (o.spot_usd_per_hour && (!k.spot_usd_per_hour || *o.spot_usd_per_hour < *k.spot_usd_per_hour)) {
      k.spot_usd_per_hour = o.spot_usd_per_hour;
    }
  }
  *offers = std::move(kept);
}

}  // namespace

std::optional<std::string> MapSkypilotAccelerator(const std::string& name, const std::string& instance) {
  std::string n = ToLower(TrimView(name));
  // Azure NC A100 v4 machines carry the PCIe card, which SkyPilot also calls A100-80GB.
  if (n == "a100-80gb" && instance.find("NC") != std::string::npos && instance.find("A100_v4") != std::string::npos) {
    return "a100-pcie-80gb";
  }
  static const std::map<std::string, std::string> kMap = {
      {"a100", "a100-sxm-40gb"},   {"a100-80gb", "a100-sxm-80gb"}, {"h100", "h100-sxm-80gb"},
      {"h100-mega", "h100-sxm-80gb"}, {"h200", "h200-sxm-141gb"}, {"b200", "b200"},
      {"gh200", "gh200"},          {"l4", "l4"},                   {"l40s", "l40s"},
      {"a10g", "a10g"},            {"t4", "t4"},                   {"v100", "v100-sxm-16gb"},
      {"v100-32gb", "v100-sxm-32gb"}, {"mi300x", "mi300x"},        {"rtx4090", "rtx-4090"},
      {"rtx-4090", "rtx-4090"},    {"tpu-v5p", "tpu-v5p"},          {"tpu-v4", "tpu-v4"},
      {"tpu-v5litepod", "tpu-v5e"}, {"tpu-v5e", "tpu-v5e"},
  };
  auto it = kMap.find(n);
  if (it != kMap.end()) return it->second;
  return std::nullopt;
}

Result<PriceTable> PriceTable::LoadShipped(const std::string& data_dir) {
  std::string path = (fs::path(data_dir) / "prices" / "cloud_prices.csv").string();
  DLCOST_ASSIGN_OR_RETURN(CsvTable t, CsvTable::ReadFile(path));
  DLCOST_ASSIGN_OR_RETURN(size_t c_provider, t.RequireColumn("provider"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_instance, t.RequireColumn("instance"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_gpu, t.RequireColumn("gpu"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_count, t.RequireColumn("gpu_count"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_region, t.RequireColumn("region"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_od, t.RequireColumn("on_demand_usd_per_hour"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_spot, t.RequireColumn("spot_usd_per_hour"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_asof, t.RequireColumn("as_of"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_source, t.RequireColumn("source"));
  PriceTable out;
  for (const CsvRow& row : t.rows()) {
    Offer o;
    o.provider = t.Field(row, c_provider);
    o.instance = t.Field(row, c_instance);
    o.gpu = t.Field(row, c_gpu);
    DLCOST_ASSIGN_OR_RETURN(o.gpu_count, RequireCount(t, row, c_count));
    o.region = t.Field(row, c_region);
    DLCOST_ASSIGN_OR_RETURN(o.on_demand_usd_per_hour, RequirePrice(t, row, c_od));
    DLCOST_ASSIGN_OR_RETURN(o.spot_usd_per_hour, OptionalPrice(t, row, c_spot));
    o.as_of = t.Field(row, c_asof);
    o.source = t.Field(row, c_source);
    if (o.as_of.empty() || o.source.empty()) {
      return InvalidInput(fmt::format("{}: line {}: every price row needs as_of and source", path, row.line));
    }
    out.offers_.push_back(std::move(o));
  }
  return out;
}

Result<PriceTable> PriceTable::ImportVmsCsv(const std::string& path, const std::string& provider,
                                            VmsImportReport* report) {
  DLCOST_ASSIGN_OR_RETURN(CsvTable t, CsvTable::ReadFile(path));
  DLCOST_ASSIGN_OR_RETURN(size_t c_inst, t.RequireColumn("InstanceType"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_acc, t.RequireColumn("AcceleratorName"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_cnt, t.RequireColumn("AcceleratorCount"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_price, t.RequireColumn("Price"));
  DLCOST_ASSIGN_OR_RETURN(size_t c_region, t.RequireColumn("Region"));
  std::optional<size_t> c_spot = t.Column("SpotPrice");
  std::optional<size_t> c_zone = t.Column("AvailabilityZone");
  std::string label = provider;
  if (label.empty()) {
    fs::path p(path);
    std::string parent = p.parent_path().filename().string();
    label = (parent == "aws" || parent == "gcp" || parent == "azure" || parent == "lambda" ||
             parent == "oci" || parent == "runpod" || parent == "fluidstack")
                ? parent
                : p.stem().string();
  }
  VmsImportReport rep;
  struct Priced {
    std::string instance, accel, region, zone;
    int count = 0;
    double price = 0;
    std::optional<double> spot;
  };
  std::vector<Priced> hosts, accels, whole;
  std::set<std::string> unknown;
  for (const CsvRow& row : t.rows()) {
    ++rep.rows;
    Priced p;
    p.instance = std::string(TrimView(t.Field(row, c_inst)));
    p.accel = std::string(TrimView(t.Field(row, c_acc)));
    p.region = std::string(TrimView(t.Field(row, c_region)));
    p.zone = c_zone ? std::string(TrimView(t.Field(row, *c_zone))) : "";
    DLCOST_ASSIGN_OR_RETURN(p.price, RequirePrice(t, row, c_price));
    DLCOST_ASSIGN_OR_RETURN(p.spot, OptionalPrice(t, row, c_spot));
    if (!p.accel.empty()) {
      DLCOST_ASSIGN_OR_RETURN(p.count, RequireCount(t, row, c_cnt));
    }
    if (p.instance.empty() && p.accel.empty()) {
      return InvalidInput(fmt::format("{}: line {}: both InstanceType and AcceleratorName are empty", path, row.line));
    }
    if (p.instance.empty()) {
      accels.push_back(std::move(p));       // GCP accelerator row: GPUs alone
    } else if (p.accel.empty()) {
      hosts.push_back(std::move(p));        // host VM (GCP) or CPU-only VM
    } else {
      whole.push_back(std::move(p));        // VM with its GPUs (AWS, Azure, ...)
    }
  }
  PriceTable out;
  auto emit = [&](const std::string& instance, const std::string& accel, int count,
                  const std::string& region, double price, std::optional<double> spot) {
    std::optional<std::string> id = MapSkypilotAccelerator(accel, instance);
    if (!id) {
      ++rep.skipped_unknown_gpu;
      unknown.insert(accel);
      return;
    }
    Offer o;
    o.provider = label;
    o.instance = instance;
    o.gpu = *id;
    o.gpu_count = count;
    o.region = region;
    o.on_demand_usd_per_hour = price;
    o.spot_usd_per_hour = spot;
    o.as_of = "user catalog";
    o.source = path;
    out.offers_.push_back(std::move(o));
  };
  for (const Priced& w : whole) emit(w.instance, w.accel, w.count, w.region, w.price, w.spot);
  auto sum_spot = [](std::optional<double> a, std::optional<double> b) -> std::optional<double> {
    if (!a || !b) return std::nullopt;  // no spot offer unless both parts have one
    return *a + *b;
  };
  std::set<size_t> used_accels;
  for (const Priced& h : hosts) {
    auto attached = GcpAttached(h.instance);
    for (size_t i = 0; i < accels.size(); ++i) {
      const Priced& a = accels[i];
      if (a.region != h.region || a.zone != h.zone) continue;
      bool match = attached ? (a.accel == attached->first && a.count == attached->second)
                            : (IsN1(h.instance) && (a.accel == "T4" || a.accel == "V100" ||
                                                    a.accel == "P100" || a.accel == "P4"));
      if (!match) continue;
      used_accels.insert(i);
      std::string name = attached ? h.instance : fmt::format("{}+{}x{}", h.instance, a.count, a.accel);
      emit(name, a.accel, a.count, h.region, h.price + a.price, sum_spot(h.spot, a.spot));
    }
  }
  for (size_t i = 0; i < accels.size(); ++i) {
    if (!used_accels.count(i) && !MapSkypilotAccelerator(accels[i].accel, "")) {
      ++rep.skipped_unknown_gpu;
      unknown.insert(accels[i].accel);
    }
  }
  KeepOnePerRegion(&out.offers_);
  rep.offers = static_cast<int>(out.offers_.size());
  rep.unknown_accelerators.assign(unknown.begin(), unknown.end());
  if (report) *report = rep;
  return out;
}

std::vector<Offer> PriceTable::ForGpu(const std::string& gpu_id) const {
  std::vector<Offer> out;
  for (const Offer& o : offers_) {
    if (o.gpu == gpu_id) out.push_back(o);
  }
  std::stable_sort(out.begin(), out.end(), CheaperThan);
  return out;
}

Result<Offer> PriceTable::FindOffer(const std::string& spec) const {
  std::vector<std::string> parts = Split(spec, ':');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].empty() || parts[1].empty()) {
    return InvalidInput(fmt::format("--offer: '{}' must be PROVIDER:INSTANCE[:REGION]", spec));
  }
  std::vector<Offer> matches;
  std::vector<std::string> known;
  for (const Offer& o : offers_) {
    known.push_back(o.provider + ":" + o.instance);
    if (ToLower(o.provider) != ToLower(parts[0]) || ToLower(o.instance) != ToLower(parts[1])) continue;
    if (parts.size() == 3 && ToLower(o.region) != ToLower(parts[2])) continue;
    matches.push_back(o);
  }
  if (matches.empty()) return NotFound(UnknownNameMessage("offer", spec, known));
  std::stable_sort(matches.begin(), matches.end(), CheaperThan);
  return matches.front();
}

}  // namespace dlcost
