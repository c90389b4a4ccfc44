// `validate` as a library call: predict every row of a published measured-cases CSV (schema:
// validation/published/README.md) and report the error per case and per metric.
//
//   api::ValidateRequest req;  req.kind = "training"; req.file = "validation/published/training_cases.csv";
//   DLCOST_ASSIGN_OR_RETURN(ValidationReport v, api::Validate(session, req));
//   std::string json = api::ValidationJson(v);   // the exact JSON contract of `dlcost validate`
#pragma once

#include <string>

#include "dlcost/api_session.h"
#include "dlcost/report.h"
#include "dlcost/validate.h"

namespace dlcost::api {

struct ValidateRequest {
  std::string kind;         // "training" or "inference"
  std::string file;         // the cases CSV
  std::string calibration;  // --calibration (empty: the shipped efficiency profile)
  bool no_flash = false;          // --no-flash (training only)
  bool compare_planner = false;   // --compare-planner (training only)
  std::string write_bands;        // --write-bands PATH (training only): the band table, as data/bands/training.json
};

// Predicts every case of `req.file` with its error band; with `req.write_bands`, also writes the
// band table there (atomically; InvalidInput when it names the cases file or cannot be written).
Result<ValidationReport> Validate(const Session& session, const ValidateRequest& req);

// The JSON of `dlcost validate --format json`: every case and the summary per metric.
std::string ValidationJson(const ValidationReport& v);
// The record the human formats print: summary, cases and (with --compare-planner) the planner table.
report::Report ValidationRecord(const ValidationReport& v, const std::string& file);

}  // namespace dlcost::api
