#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dlcost/api_validate.h"

namespace dlcost::api {
namespace {

nlohmann::ordered_json ToJson(const ValidationReport& v) {
  nlohmann::ordered_json cases = nlohmann::ordered_json::array();
  for (const ValidationCase& c : v.cases) {
    nlohmann::ordered_json o;
    o["case_id"] = c.case_id;
    o["metric"] = c.metric;
    o["measured"] = c.measured;
    if (c.status == "ok") {
      o["predicted"] = *c.predicted;
      o["rel_error"] = *c.rel_error;
    }
    o["status"] = c.status;
    if (!c.reason.empty()) o["reason"] = c.reason;
    if (!c.chosen.empty()) o["chosen"] = c.chosen;
    if (c.planner_step_s) {
      o["authors_step_s"] = *c.authors_step_s;
      o["planner_step_s"] = *c.planner_step_s;
      o["planner_layout"] = c.planner_layout;
    }
    cases.push_back(o);
  }
  nlohmann::ordered_json summary = nlohmann::ordered_json::object();
  for (const MetricSummary& m : v.summary) {
    nlohmann::ordered_json s;
    s["n"] = m.predicted;
    s["cases"] = m.n;
    s["skipped"] = m.skipped;
    s["mape_pct"] = m.mape_pct;
    s["median_ape_pct"] = m.median_ape_pct;
    s["max_ape_pct"] = m.max_ape_pct;
    s["max_case"] = m.max_case;
    s["bias_pct"] = m.bias_pct;
    summary[m.metric] = s;
  }
  summary["skipped"] = v.skipped;
  nlohmann::ordered_json out;
  out["cases"] = cases;
  out["summary"] = summary;
  return out;
}

}  // namespace

Result<ValidationReport> Validate(const Session& session, const ValidateRequest& a) {
  if (a.kind != "training" && a.kind != "inference") {
    return UsageError(fmt::format("validate: unknown kind '{}' (training, inference)", a.kind));
  }
  if (a.kind == "inference" && (a.no_flash || a.compare_planner)) {
    return UsageError("validate inference: --no-flash and --compare-planner apply to training cases only");
  }
  std::string eff = session.EfficiencyPath(a.calibration);
  ValidationOptions opts;
  opts.flash_attention = !a.no_flash;
  opts.compare_planner = a.compare_planner;
  return a.kind == "training" ? ValidateTraining(a.file, session.data_dir(), eff, opts)
                              : ValidateInference(a.file, session.data_dir(), eff);
}

std::string ValidationJson(const ValidationReport& v) { return ToJson(v).dump(2) + "\n"; }

report::Report ValidationRecord(const ValidationReport& v, const std::string& file) {
  report::Report r;
  r.title = fmt::format("Validation of {}", file);
  report::Table& s = r.AddTable("summary", "Summary per metric",
                                {{"metric", "metric"}, {"n", "predicted"}, {"skipped", "skipped"},
                                 {"mape_pct", "MAPE %", 1}, {"median_ape_pct", "median APE %", 1},
                                 {"max_ape_pct", "max APE %", 1}, {"max_case", "worst case"}, {"bias_pct", "bias %", 1}});
  for (const MetricSummary& m : v.summary) {
    s.rows.push_back({m.metric, static_cast<int64_t>(m.predicted), static_cast<int64_t>(m.skipped), m.mape_pct,
                      m.median_ape_pct, m.max_ape_pct, m.max_case, m.bias_pct});
  }
  report::Table& c = r.AddTable("cases", "Cases",
                                {{"case_id", "case"}, {"metric", "metric"}, {"measured", "measured"},
                                 {"predicted", "predicted"}, {"rel_error_pct", "error %", 1}, {"status", "status"},
                                 {"detail", "chosen / reason"}});
  for (const ValidationCase& k : v.cases) {
    c.rows.push_back({k.case_id, k.metric, k.measured, k.predicted ? report::Value(*k.predicted) : report::Value(),
                      k.rel_error ? report::Value(100 * *k.rel_error) : report::Value(), k.status,
                      k.status == "ok" ? k.chosen : k.reason});
  }
  bool any_plan = false;
  for (const ValidationCase& k : v.cases) any_plan = any_plan || k.planner_step_s.has_value();
  if (any_plan) {
    report::Table& pt = r.AddTable("planner", "Authors' layout vs the planner's fastest (same model, GPUs, batch)",
                                   {{"case_id", "case"}, {"authors_step_s", "authors s", 3}, {"planner_step_s", "planner s", 3},
                                    {"speedup", "speed-up", 2}, {"planner_layout", "planner layout"}});
    for (const ValidationCase& k : v.cases) {
      if (!k.planner_step_s) continue;
      pt.rows.push_back({k.case_id, *k.authors_step_s, *k.planner_step_s, *k.authors_step_s / *k.planner_step_s,
                         k.planner_layout});
    }
  }
  r.notes.push_back("rel_error = (predicted - measured) / measured; skipped cases do not count in the error figures.");
  return r;
}


}  // namespace dlcost::api
