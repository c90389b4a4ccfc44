// Where a job runs: one accelerator type, how many of them share a node and how nodes are
// wired, assembled from the hardware catalog; and the per-GPU links a profile achieves on it.
//
//   DLCOST_ASSIGN_OR_RETURN(SystemSpec sys, MakeSystem(hw, gpu, /*gpus_per_node=*/0,
//                                                      /*inter_node_gbps=*/0));  // catalog node
//   perf::Link nvlink = IntraLink(sys, eff);   // bytes/s and latency one GPU reaches in its node
//
// Equations: docs/training.md, "Communication".
#pragma once

#include "dlcost/collectives.h"
#include "dlcost/efficiency.h"
#include "dlcost/hardware.h"
#include "dlcost/status.h"

namespace dlcost {

// Where the job runs: the accelerator and how nodes are wired.
struct SystemSpec {
  Accelerator gpu;
  Network intra;               // link inside a node
  int gpus_per_node = 8;
  double inter_node_gbps = 0;  // network bandwidth per node, Gbit/s (all NICs together)
  double inter_node_latency_s = 5e-6;
};

// Builds the system for `gpu`: its intra-node link, gpus_per_node (0: the catalog's node size)
// and inter-node bandwidth in Gbit/s (0: the catalog's NICs). InvalidInput naming the flag when
// either is out of range; the catalog's error when it lacks a network the GPU names.
Result<SystemSpec> MakeSystem(const HardwareCatalog& hw, const Accelerator& gpu, int gpus_per_node,
                              double inter_node_gbps);

// Achievable per-GPU links of `sys` under `eff`: the in-node link (NVLink or PCIe fraction) and
// one GPU's share of the node's network (docs/training.md, "Communication").
perf::Link IntraLink(const SystemSpec& sys, const EfficiencyProfile& eff);
perf::Link InterLink(const SystemSpec& sys, const EfficiencyProfile& eff);

}  // namespace dlcost
