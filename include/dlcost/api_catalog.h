// The catalog views as library calls: the accelerators (`gpus`), the cloud offers (`prices`)
// and the model zoo (`models`, `model`), each as the record the CLI prints.
//
//   DLCOST_ASSIGN_OR_RETURN(report::Report r, api::GpusReport(session, "h100"));
//   std::string json = report::Render(r, report::Format::kJson);
#pragma once

#include <string>

#include "dlcost/api_session.h"
#include "dlcost/report.h"

namespace dlcost::api {

// Every accelerator of the catalog, or one in detail when `name` (an id, alias or JSON file)
// is given.
Result<report::Report> GpusReport(const Session& session, const std::string& name);

// Offers, cheapest $/GPU-hour first: all GPUs or `gpu`, from the shipped snapshot or a
// SkyPilot-style vms.csv (`vms`, offers labelled `provider`); `top` > 0 keeps the cheapest N.
struct PricesRequest {
  std::string gpu, vms, provider;
  int top = 0;
};
Result<report::Report> PricesReport(const Session& session, const PricesRequest& req);

// The model zoo with computed and published parameter counts.
Result<report::Report> ModelsReport(const Session& session);

// `dlcost --version`: the version, the commit it was built from (`commit`, empty when unknown),
// the data folder and the dates of its snapshots (prices, hardware catalog, efficiency profile,
// error bands); a catalog that does not load is named with its error instead.
std::string VersionText(const Session& session, const std::string& version, const std::string& commit);

// One model: parameters, FLOPs per token or image at `seq` (empty: the model's context), the
// per-layer breakdown and, with `ops`, every operation of each layer group.
struct ModelRequest {
  std::string name, seq;
  bool ops = false;
};
Result<report::Report> ModelReport(const Session& session, const ModelRequest& req);

}  // namespace dlcost::api
