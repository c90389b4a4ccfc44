// The fastest layout of one evaluator that fits: what `train` and the validator use for the
// layout fields a user leaves empty. Searches the same layout space as the planner.
#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "dlcost/plan.h"
#include "plan/layout_space.h"

namespace dlcost {
namespace {

// Adds to `dst` the values of `more` it lacks, in order.
template <typename T>
void Union(std::vector<T>& dst, const std::vector<T>& more) {
  for (const T& v : more) {
    if (std::find(dst.begin(), dst.end(), v) == dst.end()) dst.push_back(v);
  }
}

}  // namespace

Result<TrainingEstimate> FastestLayout(const TrainingEvaluator& ev, const TrainingSetup& s, const LayoutSpace* also) {
  const ModelSpec& m = ev.model();
  size_t split = s.pp_layers.size();
  if (split > 0) {
    // An explicit split fixes the pipeline: its counts are checked before the search.
    if (!s.pp) return InvalidInput("--pp-layers: give --pp with it");
    Layout probe;
    probe.pp = *s.pp;
    probe.vpp = s.vpp.value_or(static_cast<int64_t>(split) % *s.pp == 0 ? static_cast<int64_t>(split) / *s.pp : 1);
    DLCOST_RETURN_IF_ERROR(CheckPipelineSplit(m, s, probe));
  }
  LayoutSpace in;
  if (s.tp) in.tp = {*s.tp};
  if (s.pp) in.pp = {*s.pp};
  if (s.cp) in.cp = {*s.cp};
  else in.cp = {1};
  if (s.ep) in.ep = {*s.ep};
  if (s.vpp) in.vpp = {*s.vpp};
  if (s.micro_batch) in.micro_batch = {*s.micro_batch};
  else in.micro_batch = {1, 2, 4, 8, 16};
  if (s.recompute) in.recompute = {*s.recompute};
  if (s.zero) in.zero = {*s.zero};
  in.global_batch = s.global_batch;
  in.seq_parallel = s.seq_parallel;
  in.num_gpus = {s.num_gpus};
  plan::Space sp = plan::MakeSpace(in, m, ev.system(), s.seq_len, s.num_gpus);
  if (also) {
    if (!s.tp) Union(sp.tp, also->tp);
    if (!s.pp) Union(sp.pp, also->pp);
    if (!s.cp) Union(sp.cp, also->cp);
    if (!s.ep) Union(sp.ep, also->ep);
    if (!s.vpp) Union(sp.vpp, also->vpp);
    if (!s.micro_batch) Union(sp.mb, also->micro_batch);
    if (!s.recompute) Union(sp.recompute, also->recompute);
    if (!s.zero) Union(sp.zero, also->zero);
  }
  int64_t pruned = 0;
  std::optional<TrainingEstimate> best, smallest;
  TrainingEstimate est;
  plan::ForEachLayout(m, sp, s.num_gpus, s.seq_len, ev.tokens_per_sample(), &pruned, [&](const Layout& layout) {
    if (s.dp && layout.dp != *s.dp) return;
    if (split > 0 && static_cast<int64_t>(split) != layout.pp && static_cast<int64_t>(split) != layout.pp * layout.vpp) return;
    if (s.shard_group > 0 && (layout.dp * layout.cp) % s.shard_group != 0) return;  // --hsdp-shard must divide dp x cp
    ev.Evaluate(layout, &est);
    if (!smallest || est.memory_total_bytes < smallest->memory_total_bytes) smallest = est;
    if (!est.fits) return;
    if (!best || est.time_step_s < best->time_step_s * (1 - 1e-12)) best = est;
  });
  if (!best && !smallest) {
    // Nothing passed the layout rules: report the rule the given fields break.
    TrainingSetup t = s;
    t.tp = sp.tp.empty() ? 1 : sp.tp.front();
    t.pp = sp.pp.empty() ? 1 : sp.pp.front();
    Result<Layout> r = ev.ResolveLayout(t);
    if (!r.ok()) return r.status();
    return InvalidInput("no layout satisfies the given degrees");
  }
  TrainingEstimate out = best ? *best : *smallest;
  const Layout& layout = out.layout;
  if (!s.tp) out.chosen.push_back(fmt::format("tp={}", layout.tp));
  if (!s.pp) out.chosen.push_back(fmt::format("pp={}", layout.pp));
  if (!s.dp) out.chosen.push_back(fmt::format("dp={}", layout.dp));
  if (!s.vpp) out.chosen.push_back(fmt::format("vpp={}", layout.vpp));
  if (!s.cp && layout.cp > 1) out.chosen.push_back(fmt::format("cp={}", layout.cp));
  if (!s.ep && m.moe) out.chosen.push_back(fmt::format("ep={}", layout.ep));
  if (!s.micro_batch) out.chosen.push_back(fmt::format("micro_batch={}", layout.micro_batch));
  if (!s.global_batch) out.chosen.push_back(fmt::format("global_batch={}", layout.global_batch));
  if (!s.recompute) out.chosen.push_back(fmt::format("recompute={}", RecomputeName(layout.recompute)));
  if (!s.zero) out.chosen.push_back(fmt::format("zero={}", layout.zero));
  if (!s.seq_parallel) out.chosen.push_back(fmt::format("seq_parallel={}", layout.seq_parallel ? 1 : 0));
  return out;
}

Result<TrainingEstimate> EstimateWithChosenLayout(const ModelSpec& model, const SystemSpec& sys,
                                                  const TrainingSetup& s, const EfficiencyProfile& eff) {
  if (s.num_gpus < 1) return InvalidInput("--gpus: must be at least 1");
  DLCOST_ASSIGN_OR_RETURN(TrainingEvaluator ev, TrainingEvaluator::Create(model, sys, s, eff));
  DLCOST_ASSIGN_OR_RETURN(TrainingEstimate e, FastestLayout(ev, s));
  AddTrainingAssumptions(model, sys, s, eff, e);
  return e;
}

}  // namespace dlcost
