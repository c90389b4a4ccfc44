// Serving a decoder language model (perf-internal): EstimateServing (serving.cc) hands the
// replica it described to EstimateDecoder, which sizes the KV cache, sets up speculative
// decoding and prices the setup's scheduling mode. Equations and sources: docs/serving.md.
#pragma once

#include "dlcost/model.h"
#include "dlcost/serving.h"
#include "dlcost/status.h"
#include "perf/serving_pass.h"

namespace dlcost::perf {

// Fills `out` for decoder `model` served on replica `r` under `s` (`draft`: the draft model
// s.spec names, if any); the op graph and KV size are set on `r`. Infeasible when the KV cache,
// the batch, the concurrency or the latency targets cannot be met; InvalidInput naming the flag
// for a missing draft model or an out-of-range --qps.
Status EstimateDecoder(const ModelSpec& model, const ServingSetup& s, const ModelSpec* draft, ServingReplica& r,
                       ServingEstimate& out);

}  // namespace dlcost::perf
