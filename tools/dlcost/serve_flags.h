// Serving flags shared by `dlcost infer` and `dlcost tco`: model, GPU, layout, lengths, load,
// number formats, sparsity, speculative decoding and engine, parsed into a ServingSetup.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "dlcost/api_session.h"
#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/serving.h"
#include "dlcost/status.h"
#include "dlcost/plan.h"
#include "dlcost/training.h"

namespace dlcost::cli {

struct ServeFlags {
  std::string model, gpu, gpus, tp = "1", pp = "1", ep = "1";
  std::string input = "512", output = "256";
  std::string batch, concurrency, qps, mode = "continuous";
  std::string weights = "fp16", activations, kv_cache;
  std::string sparsity, unstructured, sparse_kernel;
  std::string spec;
  std::string ttft_ms, tpot_ms;
  std::string engine, calibration, moe_imbalance;
  std::string steps = "50";
  bool no_cfg = false;
};

// Everything EstimateServing needs, resolved from the flags and the catalogs.
struct ServeContext {
  ModelSpec model;
  std::optional<ModelSpec> draft;
  Accelerator gpu;
  SystemSpec system;
  EfficiencyProfile eff;
  EngineProfile engine;
  ServingSetup setup;
  std::vector<Accelerator> catalog;  // for "supported on" hints
  std::string calibration_note;      // CalibrationNote of --calibration (empty without one)
};

// `prefix` is prepended to every flag name ("" for infer; "serve-" is not used: tco shares names).
void AddServeOptions(CLI::App* cmd, ServeFlags* f, bool require_model_gpu);
Result<ServeContext> ResolveServe(const std::string& data_dir, const ServeFlags& f);

// Runs EstimateServing; an unsupported number format or sparsity error gets the list of
// catalog GPUs that support it appended.
Result<ServingEstimate> RunServing(const ServeContext& c, const ServingSetup& s);

// "draft=MODEL,k=4,accept=0.7" (draft may be eagle, medusa or ngram).
Result<SpecDecode> ParseSpecDecode(const std::string& text);

}  // namespace dlcost::cli
