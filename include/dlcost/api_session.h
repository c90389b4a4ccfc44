// The library entry point: one Session per data folder loads the shipped catalogs once and
// resolves what every estimating call needs (model, GPU, system, efficiency or calibration
// profile, price, power and carbon context). The CLI, the Python package and the local web page
// all go through it, so the same input gives the same answer and the same error everywhere.
//
//   DLCOST_ASSIGN_OR_RETURN(api::Session s, api::Session::Open());      // the shipped data/
//   DLCOST_ASSIGN_OR_RETURN(ModelSpec m, s.ResolveModel("llama-3-8b"));
//   DLCOST_ASSIGN_OR_RETURN(Accelerator gpu, s.ResolveGpu("h100"));
//   DLCOST_ASSIGN_OR_RETURN(SystemSpec sys, s.ResolveSystem(gpu, {}));
//
// Requests hold text as a user gives it ("1T", "8k", "0.9"): the library parses it, so that the
// three callers share one parser and one error message naming the CLI flag (--tokens).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dlcost/carbon.h"
#include "dlcost/error_bands.h"
#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/prices.h"
#include "dlcost/status.h"
#include "dlcost/training.h"

namespace dlcost::api {

// Price, power and carbon inputs shared by the estimating calls (flags of train, infer, tco).
struct CostRequest {
  std::string price;        // --price-usd-per-gpu-hour
  std::string offer;        // --offer PROVIDER:INSTANCE[:REGION]
  std::string region;       // --region (carbon intensity; PUE where the source has one)
  std::string pue;          // --pue
  std::string gpu_power_w;  // --gpu-power-w
};

// What a CostRequest resolves to.
struct CostContext {
  std::optional<double> usd_per_gpu_hour;
  std::string provider;               // of the offer used, "" when the price was given
  double pue = 1;
  std::string pue_note;               // where the PUE comes from
  double carbon_g_per_kwh = 0;
  std::optional<double> gpu_power_w;  // as given; empty = the catalog TDP
  std::vector<std::string> notes;     // where the price and the carbon intensity come from
};

// How nodes are wired, when not the catalog's (flags --gpus-per-node, --internode-gbps).
struct SystemRequest {
  std::string gpus_per_node;   // GPUs per node; "" = the catalog's node size
  std::string internode_gbps;  // network per node in Gbit/s; "" = the catalog's NICs
};

class Session {
 public:
  // Opens the data folder `data_dir` or, when empty, the first of $DLCOST_DATA_DIR, the folder
  // beside the program (../share/dlcost/data, data, ../data) and the source tree's data/.
  // Catalogs are read on first use and kept; a Session may be shared between threads.
  static Result<Session> Open(const std::string& data_dir = "");

  const std::string& data_dir() const;

  // The shipped catalogs, loaded once; errors name the file.
  Result<const HardwareCatalog*> Hardware() const;
  Result<const ModelCatalog*> Models() const;
  Result<const PriceTable*> Prices() const;
  Result<const CarbonData*> Carbon() const;
  // The error-band table at `path` (--bands), or when empty the shipped <data>/bands/training.json
  // (loaded once); nullptr when the shipped file is absent. A malformed file is InvalidInput
  // naming the file and the field.
  Result<std::shared_ptr<const ErrorBandTable>> ErrorBands(const std::string& path) const;

  // A zoo id, a model JSON or a Hugging Face config.json path.
  Result<ModelSpec> ResolveModel(const std::string& ref) const;
  // A GPU id or alias, or a GPU JSON path.
  Result<Accelerator> ResolveGpu(const std::string& ref) const;
  // The system `gpu` runs in: its intra-node link and the network of `r` (or the catalog's).
  Result<SystemSpec> ResolveSystem(const Accelerator& gpu, const SystemRequest& r) const;

  // The efficiency profile file used when `calibration` (--calibration) is empty:
  // <data>/efficiency/default.json.
  std::string EfficiencyPath(const std::string& calibration) const;
  // The efficiency figures for `gpu_id` from `calibration` or the shipped default profile.
  Result<EfficiencyProfile> Efficiency(const std::string& calibration, const std::string& gpu_id) const;

  // Resolves the price (given, the named offer, or the cheapest shipped offer for `gpu` whose
  // instance holds `node_gpus` GPUs: one serving replica, or one training node), the region's
  // carbon intensity and PUE, and the GPU power. Errors name the flag.
  Result<CostContext> ResolveCost(const Accelerator& gpu, const CostRequest& r, int node_gpus = 1) const;

 private:
  struct State;
  explicit Session(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

// For estimates that read `--calibration path`: when the file is a profile written by
// `dlcost calibrate` (it has a "device" section), a note naming the device it was measured on
// and saying that only its efficiencies and overheads carry over to `target`'s catalog peaks;
// empty for a plain efficiency profile or no path. A profile it cannot read (any section) is
// InvalidInput naming the file and the field.
Result<std::string> CalibrationNote(const std::string& path, const std::string& target);

// Optional flag values: empty text is "not given".
Result<std::optional<int64_t>> OptionalPositiveInt(const std::string& text, const char* flag);
Result<std::optional<double>> OptionalCount(const std::string& text, const char* flag);

}  // namespace dlcost::api
