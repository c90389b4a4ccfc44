// What training on the duplicate tokens of `audit dedup` costs, priced as `dlcost train` prices
// a run (docs/audit.md, "Wasted compute").
#include <algorithm>

#include <fmt/format.h>

#include "dlcost/api_audit.h"
#include "dlcost/plan.h"

namespace dlcost::api {

Result<WastedTokenCost> PriceWastedTokens(const Session& session, const AuditDedupRequest& req, double tokens) {
  DLCOST_ASSIGN_OR_RETURN(ModelSpec model, session.ResolveModel(req.model));
  DLCOST_ASSIGN_OR_RETURN(Accelerator gpu, session.ResolveGpu(req.gpu));
  if (req.gpus < 1 || req.gpus > 1000000) return InvalidInput("--gpus: must be in 1..1,000,000");
  TrainingSetup s;
  s.num_gpus = req.gpus;
  s.seq_len = DefaultSeqLen(model.max_seq, false);  // as `dlcost train`
  s.overhead_bytes = -1;
  DLCOST_ASSIGN_OR_RETURN(SystemSpec sys, session.ResolveSystem(gpu, {}));
  DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile eff, session.Efficiency(req.calibration, gpu.id));
  DLCOST_ASSIGN_OR_RETURN(TrainingEstimate est, EstimateWithChosenLayout(model, sys, s, eff));
  if (!est.fits) {
    return Infeasible(fmt::format("--model {} does not fit on {} x {}; wasted-token cost not computed", model.id,
                                  req.gpus, gpu.id));
  }
  WastedTokenCost w;
  w.model = model.id;
  w.gpu = gpu.id;
  w.num_gpus = req.gpus;
  if (tokens <= 0) return w;
  DLCOST_ASSIGN_OR_RETURN(CostContext cc, session.ResolveCost(gpu, req.cost));
  RunInputs run;
  run.tokens = tokens;
  run.usd_per_gpu_hour = cc.usd_per_gpu_hour;
  run.pue = cc.pue;
  run.carbon_g_per_kwh = cc.carbon_g_per_kwh;
  run.gpu_power_w = cc.gpu_power_w.value_or(0);
  DLCOST_ASSIGN_OR_RETURN(RunCost cost, ComputeRunCost(est, req.gpus, gpu.tdp_w, run));
  w.gpu_hours = cost.gpu_hours;
  w.usd = cost.usd;
  w.energy_kwh = cost.energy_kwh;
  w.co2_kg = cost.co2_kg;
  // The price note only: the grid is named in the note below.
  if (!cc.notes.empty()) w.notes.push_back(cc.notes.front());
  w.notes.push_back(fmt::format("wasted-token cost: one epoch of the duplicate tokens on {} x {} training {} "
                                "(layout chosen as by `dlcost train`; goodput {:.3f}, modelled as by `dlcost train`; {} grid "
                                "carbon)",
                                req.gpus, gpu.id, model.id, cost.goodput.goodput,
                                req.cost.region.empty() ? "WORLD" : req.cost.region));
  return w;
}

}  // namespace dlcost::api
