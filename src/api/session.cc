#include "dlcost/api_session.h"

#include <algorithm>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>

#include "dlcost/data_dir.h"
#include "dlcost/measure.h"
#include "dlcost/units.h"

namespace dlcost::api {

// Each catalog is read at most once per Session, on first use, under the mutex.
struct Session::State {
  std::string data_dir;
  std::mutex mu;
  std::optional<Result<HardwareCatalog>> hardware;
  std::optional<Result<ModelCatalog>> models;
  std::optional<Result<PriceTable>> prices;
  std::optional<Result<CarbonData>> carbon;
  std::optional<Result<std::shared_ptr<const ErrorBandTable>>> bands;
};

namespace {

template <typename T, typename LoadFn>
Result<const T*> Cached(std::mutex& mu, std::optional<Result<T>>& slot, LoadFn load) {
  std::lock_guard<std::mutex> lock(mu);
  if (!slot) slot.emplace(load());
  if (!slot->ok()) return slot->status();
  return &slot->value();
}

}  // namespace

Result<Session> Session::Open(const std::string& data_dir) {
  DLCOST_ASSIGN_OR_RETURN(std::string dir, FindDataDir(data_dir));
  auto state = std::make_shared<State>();
  state->data_dir = std::move(dir);
  return Session(std::move(state));
}

const std::string& Session::data_dir() const { return state_->data_dir; }

Result<const HardwareCatalog*> Session::Hardware() const {
  return Cached(state_->mu, state_->hardware, [&] { return HardwareCatalog::Load(state_->data_dir); });
}

Result<const ModelCatalog*> Session::Models() const {
  return Cached(state_->mu, state_->models, [&] { return ModelCatalog::Load(state_->data_dir); });
}

Result<const PriceTable*> Session::Prices() const {
  return Cached(state_->mu, state_->prices, [&] { return PriceTable::LoadShipped(state_->data_dir); });
}

Result<const CarbonData*> Session::Carbon() const {
  return Cached(state_->mu, state_->carbon, [&] { return CarbonData::Load(state_->data_dir); });
}

Result<std::shared_ptr<const ErrorBandTable>> Session::ErrorBands(const std::string& path) const {
  if (!path.empty()) {
    DLCOST_ASSIGN_OR_RETURN(ErrorBandTable t, ErrorBandTable::Load(path));
    return std::make_shared<const ErrorBandTable>(std::move(t));
  }
  Result<const std::shared_ptr<const ErrorBandTable>*> shipped =
      Cached(state_->mu, state_->bands, [&]() -> Result<std::shared_ptr<const ErrorBandTable>> {
        std::string file = ShippedBandTablePath(state_->data_dir);
        std::error_code ec;
        // A data folder from before the bands existed still estimates; the output says it has none.
        if (!std::filesystem::exists(file, ec)) return std::shared_ptr<const ErrorBandTable>();
        DLCOST_ASSIGN_OR_RETURN(ErrorBandTable t, ErrorBandTable::Load(file));
        return std::make_shared<const ErrorBandTable>(std::move(t));
      });
  if (!shipped.ok()) return shipped.status();
  return **shipped;
}

Result<ModelSpec> Session::ResolveModel(const std::string& ref) const {
  DLCOST_ASSIGN_OR_RETURN(const ModelCatalog* zoo, Models());
  return zoo->Resolve(ref);
}

Result<Accelerator> Session::ResolveGpu(const std::string& ref) const {
  DLCOST_ASSIGN_OR_RETURN(const HardwareCatalog* hw, Hardware());
  return hw->Resolve(ref);
}

Result<SystemSpec> Session::ResolveSystem(const Accelerator& gpu, const SystemRequest& r) const {
  DLCOST_ASSIGN_OR_RETURN(const HardwareCatalog* hw, Hardware());
  double gpus_per_node = 0, internode_gbps = 0;
  if (!r.gpus_per_node.empty()) {
    DLCOST_ASSIGN_OR_RETURN(int64_t v, ParsePositiveInt(r.gpus_per_node, "--gpus-per-node"));
    gpus_per_node = static_cast<double>(v);
  }
  if (!r.internode_gbps.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(r.internode_gbps, "--internode-gbps"));
    if (v <= 0) return InvalidInput("--internode-gbps: must be positive");
    internode_gbps = v;
  }
  return MakeSystem(*hw, gpu, static_cast<int>(std::min(gpus_per_node, 4096.0)), internode_gbps);
}

std::string Session::EfficiencyPath(const std::string& calibration) const {
  return calibration.empty() ? state_->data_dir + "/efficiency/default.json" : calibration;
}

Result<EfficiencyProfile> Session::Efficiency(const std::string& calibration, const std::string& gpu_id) const {
  return LoadEfficiency(EfficiencyPath(calibration), gpu_id);
}

Result<CostContext> Session::ResolveCost(const Accelerator& gpu, const CostRequest& f, int node_gpus) const {
  CostContext c;
  if (!f.price.empty() && !f.offer.empty()) return UsageError("--price-usd-per-gpu-hour and --offer: give one");
  if (!f.price.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(f.price, "--price-usd-per-gpu-hour"));
    if (v > 1e6) return InvalidInput("--price-usd-per-gpu-hour: value too large");
    c.usd_per_gpu_hour = v;
    c.notes.push_back(fmt::format("price: ${:.3f}/GPU-hour as given", v));
  } else {
    DLCOST_ASSIGN_OR_RETURN(const PriceTable* prices, Prices());
    if (!f.offer.empty()) {
      DLCOST_ASSIGN_OR_RETURN(Offer o, prices->FindOffer(f.offer));
      if (o.gpu != gpu.id) {
        return InvalidInput(fmt::format("--offer: {}:{} rents {}, not {}", o.provider, o.instance, o.gpu, gpu.id));
      }
      c.usd_per_gpu_hour = o.OnDemandUsdPerGpuHour();
      c.provider = o.provider;
      c.notes.push_back(fmt::format("price: {}:{} ({}) on-demand ${:.3f}/GPU-hour, list price as of {}{}", o.provider, o.instance,
                                    o.region, *c.usd_per_gpu_hour, o.as_of,
                                    o.gpu_count < node_gpus
                                        ? fmt::format("; its {} GPUs are fewer than the {} the estimate puts in one node, "
                                                      "priced per GPU as asked", o.gpu_count, node_gpus)
                                        : ""));
    } else {
      std::vector<Offer> offers = prices->ForGpu(gpu.id);
      // Cheapest first: the first whose instance holds the node the estimate assumes (GPUs on one
      // NVLink domain are not priced at a smaller instance's rate); none: the cheapest, said so.
      auto holds = std::find_if(offers.begin(), offers.end(), [&](const Offer& o) { return o.gpu_count >= node_gpus; });
      if (!offers.empty()) {
        const Offer& o = holds != offers.end() ? *holds : offers.front();
        c.usd_per_gpu_hour = o.OnDemandUsdPerGpuHour();
        c.provider = o.provider;
        c.notes.push_back(fmt::format("price: cheapest shipped offer {}:{} ({}) ${:.3f}/GPU-hour on demand{}, list price as of "
                                      "{}; choose another with --offer or --price-usd-per-gpu-hour",
                                      o.provider, o.instance, o.region, *c.usd_per_gpu_hour,
                                      holds != offers.end()
                                          ? (node_gpus > 1 ? fmt::format(" with at least {} GPUs per instance", node_gpus) : "")
                                          : fmt::format(" (no shipped instance holds {} GPUs: priced per GPU)", node_gpus),
                                      o.as_of));
      } else {
        c.notes.push_back("price: no shipped offer for this GPU; pass --price-usd-per-gpu-hour for dollars");
      }
    }
  }
  DLCOST_ASSIGN_OR_RETURN(const CarbonData* carbon, Carbon());
  std::string region = f.region.empty() ? "WORLD" : f.region;
  DLCOST_ASSIGN_OR_RETURN(GridInfo grid, carbon->Lookup(region));
  c.carbon_g_per_kwh = grid.carbon_g_per_kwh;
  auto [pue_default, pue_source] = carbon->DefaultPue(c.provider.empty() ? "Unknown" : c.provider);
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

Result<std::string> CalibrationNote(const std::string& path, const std::string& target) {
  if (path.empty()) return std::string();
  DLCOST_ASSIGN_OR_RETURN(measure::CalibrationProfile profile, measure::LoadCalibrationProfile(path));
  if (!profile.device) return std::string();
  const measure::MeasuredDevice& md = *profile.device;
  std::string peaks;
  for (int i = 0; i < kNumDtypes; ++i) {
    if (!md.peak_flops[i]) continue;
    peaks += fmt::format("{}{} {:.3g} TFLOP/s", peaks.empty() ? "" : ", ", DtypeName(static_cast<Dtype>(i)),
                         *md.peak_flops[i] / 1e12);
  }
  return fmt::format("calibration profile {} was measured on {} ({} threads; best GEMM {}; copy bandwidth {:.1f} GB/s): "
                     "its efficiency curves, memory fractions, AdamW and attention figures and overheads are applied to the "
                     "catalog peaks of {}; "
                     "dlcost measure --calibration predicts with the measured peaks themselves",
                     path, md.name.empty() ? "an unnamed device" : md.name, md.threads, peaks.empty() ? "-" : peaks,
                     md.memory_bandwidth_bytes_s / 1e9, target);
}

Result<std::optional<int64_t>> OptionalPositiveInt(const std::string& text, const char* flag) {
  if (text.empty()) return std::optional<int64_t>();
  DLCOST_ASSIGN_OR_RETURN(int64_t v, ParsePositiveInt(text, flag));
  return std::optional<int64_t>(v);
}

Result<std::optional<double>> OptionalCount(const std::string& text, const char* flag) {
  if (text.empty()) return std::optional<double>();
  DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(text, flag));
  return std::optional<double>(v);
}

}  // namespace dlcost::api
