// `train` as a library call: memory, step time and whole-run cost of training a model, with the
// layout fields left empty chosen by the planner's search (docs/training.md).
//
//   api::TrainRequest req;
//   req.model = "llama-3-8b"; req.gpu = "h100"; req.gpus = "64"; req.tokens = "1T";
//   DLCOST_ASSIGN_OR_RETURN(api::TrainResult r, api::Train(session, req));
//   r.estimate.time_step_s, r.cost.gpu_hours, r.estimate.fits ...
//   r.bands.wall_days->low, r.bands.wall_days->high   // the 80% error band, when the table has one
//   std::string json = report::Render(api::TrainReport(r), report::Format::kJson);
#pragma once

#include <string>
#include <vector>

#include "dlcost/api_bands.h"
#include "dlcost/api_session.h"
#include "dlcost/report.h"
#include "dlcost/training.h"

namespace dlcost::api {

// Every field is the text of the CLI flag of the same name (`global_batch` is --global-batch);
// empty means "not given".
struct TrainRequest {
  std::string model, gpu, gpus, tokens, steps, seq, global_batch, micro_batch;
  std::string tp, pp, dp, cp, ep, vpp, zero, seq_parallel, recompute, precision = "bf16", optimizer = "adamw";
  std::string finetune = "none", lora_rank = "16", lora_targets = "all";
  std::string framework, attention_kernel, overlap, hsdp_shard, pp_layers, offload;
  bool optimizer_in_backward = false;
  bool compile = false;  // --compile: torch.compile fuses the eager frameworks' elementwise operators
  CostRequest cost;
  SystemRequest system;
  std::string goodput, host_power_w, restart_min, eval_fraction;
  std::string calibration, overhead_gib, memory_headroom, moe_capacity_factor, epochs, dataset_tokens;
  std::string bands;  // --bands: a band table instead of the shipped data/bands/training.json
  bool no_flash = false;
};

struct TrainResult {
  ModelSpec model;
  Accelerator gpu;
  TrainingSetup setup;
  TrainingEstimate estimate;  // estimate.fits == false: the layout does not fit (an ordinary result)
  RunInputs run;
  RunCost cost;
  CostContext cost_context;
  std::string calibration_note;  // CalibrationNote of --calibration, or empty
  EstimateBands bands;           // 80% error bands of step time, throughput, GPU-hours, days, cost
  bool finetune_batch_defaulted = false;  // --finetune without --global-batch: the shared default
};

// Estimates the training job of `req`. Bad input is InvalidInput or UsageError naming the flag.
Result<TrainResult> Train(const Session& session, const TrainRequest& req);

// The record `dlcost train` prints: fields, memory and step-time tables, notes and sources.
report::Report TrainReport(const TrainResult& r);

}  // namespace dlcost::api
