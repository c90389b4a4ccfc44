#include <map>

#include "dlcost/api_plan.h"
#include "dlcost/strings.h"

namespace dlcost::api {

Result<std::vector<GpuCandidate>> BuildCandidates(const Session& session, const PriceTable& prices,
                                                  const std::string& gpu_list, std::optional<double> flat_price,
                                                  const std::string& calibration, double gpu_power_w) {
  DLCOST_ASSIGN_OR_RETURN(const HardwareCatalog* catalog, session.Hardware());
  const HardwareCatalog& hw = *catalog;
  std::vector<Accelerator> gpus;
  if (ToLower(gpu_list) == "any") {
    for (const Accelerator& acc : hw.accelerators()) {
      if (acc.kind == "gpu" || acc.kind == "tpu" || acc.kind == "npu") gpus.push_back(acc);
    }
  } else {
    for (const std::string& name : Split(gpu_list, ',')) {
      DLCOST_ASSIGN_OR_RETURN(Accelerator acc, hw.Resolve(name));
      gpus.push_back(acc);
    }
  }
  std::vector<GpuCandidate> out;
  for (const Accelerator& acc : gpus) {
    if (acc.tdp_w <= 0 && gpu_power_w <= 0) continue;  // no power figure: energy undefined
    DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile eff, session.Efficiency(calibration, acc.id));
    // One candidate per instance size: an instance smaller than the catalog node is its own node
    // whose network share is its GPUs' share of the catalog node's NICs.
    std::map<int64_t, std::vector<Offer>> by_size;
    if (flat_price) {
      Offer o;
      o.provider = "given";
      o.instance = "--price-usd-per-gpu-hour";
      o.gpu = acc.id;
      o.gpu_count = 1;
      o.on_demand_usd_per_hour = *flat_price;
      o.as_of = "given";
      o.source = "command line";
      by_size[0].push_back(o);
    } else {
      for (const Offer& o : prices.ForGpu(acc.id)) by_size[o.gpu_count].push_back(o);
      if (by_size.empty()) by_size[0] = {};
    }
    DLCOST_ASSIGN_OR_RETURN(SystemSpec full, MakeSystem(hw, acc, 0, 0));
    for (auto& [size, offers] : by_size) {
      GpuCandidate c;
      int gpn = size > 0 && size < acc.node_size ? static_cast<int>(size) : 0;
      DLCOST_ASSIGN_OR_RETURN(c.system, MakeSystem(hw, acc, gpn, 0));
      if (gpn > 0) c.system.inter_node_gbps = full.inter_node_gbps * gpn / std::max(1, full.gpus_per_node);
      c.efficiency = eff;
      c.offers = std::move(offers);
      c.instance_gpus = size;
      out.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace dlcost::api
