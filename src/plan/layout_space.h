// The layout space the planner searches (plan-internal): the values each layout dimension may
// take for one model and system, and the walk over every combination that passes the layout
// rules (docs/training.md, "Layout rules"; docs/plan.md). RunPlan (planner.cc) and
// FastestLayout (fastest_layout.cc) both search through it.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "dlcost/model.h"
#include "dlcost/plan.h"
#include "dlcost/system.h"
#include "dlcost/training_setup.h"

namespace dlcost::plan {

// A LayoutSpace with its defaults filled in for one model and system.
struct Space {
  std::vector<int64_t> num_gpus, tp, pp, cp, ep, vpp, mb;  // mb: micro-batch sizes
  std::vector<Recompute> recompute;
  std::vector<int> zero;
  std::optional<int64_t> global_batch;
  std::optional<bool> seq_parallel;
};

// Fills the defaults of a layout space for one model and system: GPU counts up to `gpus_max`,
// degrees that divide the model's heads and layers, context parallelism from 16k tokens.
Space MakeSpace(const LayoutSpace& in, const ModelSpec& m, const SystemSpec& sys, int64_t seq, int64_t gpus_max);

// Calls `fn(layout)` for every layout of `space` with `n` GPUs that passes the layout rules;
// `pruned` counts the combinations that do not.
template <typename Fn>
void ForEachLayout(const ModelSpec& m, const Space& sp, int64_t n, int64_t seq, int64_t tokens_per_sample,
                   int64_t* pruned, Fn&& fn) {
  bool tr = m.IsTransformer();
  for (int64_t tp : sp.tp) {
    if (!tr && tp > 1) { ++*pruned; continue; }  // only data parallelism is modelled for these
    if (tr && (m.heads % tp != 0 || (m.kv_heads % tp != 0 && tp % m.kv_heads != 0))) { ++*pruned; continue; }
    if (n % tp != 0) { ++*pruned; continue; }
    for (int64_t cp : sp.cp) {
      if (n % (tp * cp) != 0 || (cp > 1 && seq % cp != 0)) { ++*pruned; continue; }
      if (!tr && cp > 1) { ++*pruned; continue; }
      for (int64_t pp : sp.pp) {
        if (!tr && pp > 1) { ++*pruned; continue; }
        if (n % (tp * cp * pp) != 0 || (tr && m.layers + 2 < pp)) { ++*pruned; continue; }
        int64_t dp = n / (tp * cp * pp);
        for (int64_t ep : sp.ep) {
          if (ep > 1 && (!m.moe || m.moe->experts % ep != 0 || (tp * cp * dp) % ep != 0)) { ++*pruned; continue; }
          for (int64_t vpp : sp.vpp) {
            if (vpp > 1 && (pp == 1 || m.layers + 2 < pp * vpp)) { ++*pruned; continue; }
            for (int64_t mb : sp.mb) {
              int64_t unit = dp * mb;
              int64_t gb;
              if (sp.global_batch) {
                gb = *sp.global_batch;
                if (gb % unit != 0) { ++*pruned; continue; }
              } else {
                gb = DefaultGlobalBatch(m.IsLanguageModel(), static_cast<double>(tokens_per_sample), unit);
              }
              int64_t micro = gb / unit;
              if (vpp > 1 && micro % pp != 0) { ++*pruned; continue; }
              for (Recompute rc : sp.recompute) {
                for (int z : sp.zero) {
                  // Nothing to shard over (unless the only stage asked for is this one).
                  if (dp == 1 && z != 0 && sp.zero.size() > 1) { ++*pruned; continue; }
                  // ZeRO-2/3 do not run with pipelines, except FSDP under PyTorch pipelining when asked
                  // for (ZeRO-3 the only stage in the space).
                  if (z >= 2 && pp > 1 && !(z == 3 && sp.zero.size() == 1)) { ++*pruned; continue; }
                  Layout layout;
                  layout.tp = tp;
                  layout.pp = pp;
                  layout.dp = dp;
                  layout.cp = cp;
                  layout.ep = ep;
                  layout.vpp = vpp;
                  layout.micro_batch = mb;
                  layout.global_batch = gb;
                  layout.microbatches = micro;
                  layout.zero = z;
                  layout.seq_parallel = sp.seq_parallel.value_or(tp > 1);
                  layout.recompute = rc;
                  fn(layout);
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace dlcost::plan
