// System assembly from the hardware catalog, and the links a profile achieves on it.
#include "dlcost/system.h"

#include <algorithm>
#include <cmath>

#include "dlcost/units.h"

namespace dlcost {

using perf::Link;

Result<SystemSpec> MakeSystem(const HardwareCatalog& hw, const Accelerator& gpu, int gpus_per_node,
                              double inter_node_gbps) {
  SystemSpec s;
  s.gpu = gpu;
  if (gpus_per_node < 0 || gpus_per_node > 4096) return InvalidInput("--gpus-per-node: must be between 1 and 4096");
  s.gpus_per_node = gpus_per_node > 0 ? gpus_per_node : std::max(1, gpu.node_size);
  if (!gpu.intra_network.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.intra, hw.ResolveNetwork(gpu.intra_network));
  } else {
    s.intra = Network{"none", "none", "intra_node", 0, 0, {}, "", ""};
  }
  if (inter_node_gbps < 0 || !std::isfinite(inter_node_gbps)) return InvalidInput("--internode-gbps: must be positive");
  if (inter_node_gbps > 0) {
    s.inter_node_gbps = inter_node_gbps;
  } else if (!gpu.inter_network.empty()) {
    DLCOST_ASSIGN_OR_RETURN(Network n, hw.ResolveNetwork(gpu.inter_network));
    s.inter_node_gbps = n.bandwidth_gb_s * 8.0 * std::max(1, gpu.nics_per_node);
    s.inter_node_latency_s = std::max(n.latency_us, 1.0) * 1e-6;
  } else {
    s.inter_node_gbps = 100;  // a single 100 Gb/s Ethernet port when the catalog names none
  }
  return s;
}

Link IntraLink(const SystemSpec& sys, const EfficiencyProfile& eff) {
  bool pcie = sys.intra.id.rfind("pcie", 0) == 0;
  double bw = sys.gpu.intra_bandwidth_gb_s > 0 ? sys.gpu.intra_bandwidth_gb_s : sys.intra.bandwidth_gb_s;
  double frac = pcie ? eff.pcie_fraction : eff.intra_node_fraction;
  return Link{std::max(bw, 1.0) * kGB * frac, sys.intra.latency_us * 1e-6};
}

Link InterLink(const SystemSpec& sys, const EfficiencyProfile& eff) {
  // One GPU's share of the node's network.
  double node_bytes_s = sys.inter_node_gbps / 8.0 * kGB;
  double per_gpu = node_bytes_s / std::max(1, sys.gpus_per_node);
  return Link{std::max(per_gpu, 1e6) * eff.inter_node_fraction, sys.inter_node_latency_s};
}

}  // namespace dlcost
