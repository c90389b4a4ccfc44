// Alpha-beta cost of NCCL-style collectives over a group laid out on nodes.
//
// A group of `n` ranks with `per_node` of them in each node uses the intra-node link for the
// in-node part and the node's network for the cross-node part (hierarchical algorithm:
// reduce-scatter inside the node, ring across nodes on 1/per_node of the data, all-gather
// inside). Equations: docs/training.md, "Communication".
#pragma once

#include <cstdint>

namespace dlcost::perf {

struct Link {
  double bandwidth_bytes_s = 0;  // achievable, per rank, per direction
  double latency_s = 0;
};

struct GroupPlacement {
  int64_t n = 1;         // ranks in the group
  int64_t per_node = 1;  // ranks of this group inside one node
  Link intra;            // in-node link (per GPU)
  Link inter;            // cross-node bandwidth available to one rank of this group
};

// Time of an all-reduce of `bytes` (the full buffer each rank holds).
double AllReduceTime(double bytes, const GroupPlacement& g);
// Reduce-scatter or all-gather of a `bytes` buffer (the full, unsharded size): half an
// all-reduce's traffic, as a flat ring of n - 1 steps (docs/training.md, "Collectives").
double ReduceScatterTime(double bytes, const GroupPlacement& g);
// All-to-all where each rank holds `bytes` and sends (n-1)/n of it to the others.
double AllToAllTime(double bytes, const GroupPlacement& g);
// One point-to-point send of `bytes` over `link`.
double SendTime(double bytes, const Link& link);

}  // namespace dlcost::perf
