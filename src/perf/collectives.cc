#include "dlcost/collectives.h"

#include <algorithm>

namespace dlcost::perf {
namespace {

double Nodes(const GroupPlacement& g) { return static_cast<double>((g.n + g.per_node - 1) / g.per_node); }

// The least time of an all-reduce that crosses nodes: NCCL 2.21.5 all_reduce_perf on 2 nodes of
// 8 H20 with NDR InfiniBand (NVLSTree) took 46.3-47.8 us for every size from 4 B to 512 B
// (NVIDIA/nccl issue 1244). The alpha-beta terms below give a few microseconds there: the
// software latency of a multi-node collective, not the links', sets the floor.
constexpr double kInterNodeAllReduceFloor_s = 46e-6;

}  // namespace

double AllReduceTime(double bytes, const GroupPlacement& g) {
  if (g.n <= 1 || bytes <= 0) return 0;
  double k = static_cast<double>(std::min(g.per_node, g.n));
  double nodes = Nodes(g);
  double t = 0;
  if (k > 1) {
    // Ring inside the node: 2 (k-1)/k of the buffer crosses each link.
    t += 2.0 * (k - 1) / k * bytes / g.intra.bandwidth_bytes_s + 2.0 * (k - 1) * g.intra.latency_s;
  }
  if (nodes > 1) {
    // Ring across nodes on each rank's 1/k shard.
    t += 2.0 * (nodes - 1) / nodes * (bytes / k) / g.inter.bandwidth_bytes_s + 2.0 * (nodes - 1) * g.inter.latency_s;
    t = std::max(t, kInterNodeAllReduceFloor_s);
  }
  return t;
}

double ReduceScatterTime(double bytes, const GroupPlacement& g) {
  if (g.n <= 1 || bytes <= 0) return 0;
  double k = static_cast<double>(std::min(g.per_node, g.n));
  double nodes = Nodes(g);
  // Bandwidth: each rank receives (k-1)/k of the buffer over the in-node link and each node the
  // other nodes' share over its k NICs. Latency: NCCL runs all-gather and reduce-scatter as one
  // flat ring (no tree), n - 1 steps each paced by the slowest hop (NCCL tuning model).
  double t = 0;
  if (k > 1) t += (k - 1) / k * bytes / g.intra.bandwidth_bytes_s;
  if (nodes > 1) t += (nodes - 1) / nodes * (bytes / k) / g.inter.bandwidth_bytes_s;
  double hop = nodes > 1 ? g.inter.latency_s : g.intra.latency_s;
  return t + (static_cast<double>(g.n) - 1) * hop;
}

double AllToAllTime(double bytes, const GroupPlacement& g) {
  if (g.n <= 1 || bytes <= 0) return 0;
  double n = static_cast<double>(g.n);
  double k = static_cast<double>(std::min(g.per_node, g.n));
  double in_node = bytes * (k - 1) / n;
  double cross = bytes * (n - k) / n;
  double t_in = k > 1 ? in_node / g.intra.bandwidth_bytes_s + (k - 1) * g.intra.latency_s : 0;
  double t_x = cross > 0 ? cross / g.inter.bandwidth_bytes_s + (Nodes(g) - 1) * g.inter.latency_s : 0;
  return std::max(t_in, t_x);  // both directions run at once
}

double SendTime(double bytes, const Link& link) {
  if (bytes <= 0) return 0;
  return bytes / link.bandwidth_bytes_s + link.latency_s;
}

}  // namespace dlcost::perf
