#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dlcost/api_validate.h"
#include "dlcost/measure.h"

namespace dlcost::api {
namespace {

nlohmann::ordered_json OptJson(const std::optional<double>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

// The bands per metric family: leave-one-source-out beside in-sample (docs/training.md).
nlohmann::ordered_json BandsJson(const ValidationReport& v) {
  nlohmann::ordered_json fam = nlohmann::ordered_json::object();
  for (const BandFamilySummary& f : v.band_families) {
    nlohmann::ordered_json o;
    o["predicted"] = f.predicted;
    o["banded"] = f.banded_loso;
    o["band_coverage_pct"] = OptJson(f.loso_coverage_pct);
    o["band_median_halfwidth_pct"] = OptJson(f.loso_median_halfwidth_pct);
    o["in_sample_banded"] = f.banded_in_sample;
    o["in_sample_band_coverage_pct"] = OptJson(f.in_sample_coverage_pct);
    o["in_sample_band_median_halfwidth_pct"] = OptJson(f.in_sample_median_halfwidth_pct);
    fam[f.family] = o;
  }
  nlohmann::ordered_json out;
  out["level_pct"] = 80;
  out["method"] = "leave-one-source-out: 10th and 90th percentiles of the other sources' log residuals at the "
                  "case's finest regime key with at least " + std::to_string(kBandMinResiduals) +
                  " of them (docs/training.md, 'Error bands')";
  out["families"] = fam;
  return out;
}

nlohmann::ordered_json GroupsJson(const std::vector<ErrorGroup>& groups, bool sources) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const ErrorGroup& g : groups) {
    nlohmann::ordered_json o;
    o[sources ? "source" : "regime"] = g.key;
    o["family"] = g.family;
    o["n"] = g.n;
    o["mape_pct"] = g.mape_pct;
    o["median_ape_pct"] = g.median_ape_pct;
    o["bias_pct"] = g.bias_pct;
    if (sources) o["fit_source"] = g.fit_source;
    out.push_back(o);
  }
  return out;
}

nlohmann::ordered_json FamiliesJson(const ValidationReport& v) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const FamilyError& f : v.families) {
    nlohmann::ordered_json o;
    o["n"] = f.n;
    o["mape_pct"] = f.mape_pct;
    o["median_ape_pct"] = f.median_ape_pct;
    o["loso_n"] = f.loso_n;
    o["loso_mape_pct"] = OptJson(f.loso_mape_pct);
    o["loso_median_ape_pct"] = OptJson(f.loso_median_ape_pct);
    out[f.family] = o;
  }
  return out;
}

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
      if (!c.regime.family.empty()) {
        o["predicted_low"] = OptJson(c.predicted_low);
        o["predicted_high"] = OptJson(c.predicted_high);
        if (!c.band_key.empty()) o["band_key"] = c.band_key;
      }
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
    if (!v.band_families.empty()) {
      s["band_coverage_pct"] = OptJson(m.band_coverage_pct);
      s["band_median_halfwidth_pct"] = OptJson(m.band_median_halfwidth_pct);
    }
    summary[m.metric] = s;
  }
  summary["skipped"] = v.skipped;
  nlohmann::ordered_json out;
  out["cases"] = cases;
  out["summary"] = summary;
  if (!v.band_families.empty()) out["error_bands"] = BandsJson(v);
  if (!v.families.empty()) {
    out["families"] = FamiliesJson(v);
    out["fit_sources"] = v.fit_sources;
    out["by_source"] = GroupsJson(v.by_source, true);
    out["by_regime"] = GroupsJson(v.by_regime, false);
    nlohmann::ordered_json methods = GroupsJson(v.by_method, false);
    for (auto& m : methods) {
      m["method"] = m["regime"];
      m.erase("regime");
    }
    out["by_method"] = methods;
  }
  if (!v.engine_factors.empty()) {
    nlohmann::ordered_json ef = nlohmann::ordered_json::array();
    for (const EngineFactorFit& f : v.engine_factors) {
      nlohmann::ordered_json o;
      o["engine"] = f.engine;
      o["fitted"] = f.fitted;
      o["shipped"] = f.shipped;
      o["cases"] = f.cases;
      o["sources"] = f.sources;
      ef.push_back(o);
    }
    out["engine_factors"] = ef;
  }
  return out;
}

// --write-bands: the band table of every predicted case, written atomically, never over a file
// the run read (the cases file, the efficiency profile), and only when the loader would read it
// back (a table `train` rejects is never written).
Status WriteBands(const ValidationReport& v, const ValidateRequest& a, const std::string& eff_path) {
  namespace fs = std::filesystem;
  for (const std::string& input : {a.file, eff_path}) {
    std::error_code ec;
    if (fs::exists(a.write_bands, ec) && fs::equivalent(a.write_bands, input, ec)) {
      return InvalidInput(fmt::format("--write-bands: '{}' is an input of this run ({}); give another path", a.write_bands,
                                      input == a.file ? "the cases file" : "the efficiency profile"));
    }
  }
  ErrorBandTable t = BandTableFromReport(v, a.file);
  std::string text = t.ToJsonText();
  Result<ErrorBandTable> check = ErrorBandTable::Parse(nlohmann::json::parse(text), "--write-bands");
  if (!check.ok()) {
    return InvalidInput(fmt::format("--write-bands: the residuals of {} do not make a usable band table ({}); "
                                    "nothing written", a.file, check.status().message()));
  }
  return measure::WriteFileAtomically(a.write_bands, text, "--write-bands");
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
  if (a.kind == "inference") {
    DLCOST_ASSIGN_OR_RETURN(ValidationReport v, ValidateInference(a.file, session.data_dir(), eff));
    if (!a.write_bands.empty()) DLCOST_RETURN_IF_ERROR(WriteBands(v, a, eff));
    return v;
  }
  DLCOST_ASSIGN_OR_RETURN(ValidationReport v, ValidateTraining(a.file, session.data_dir(), eff, opts));
  if (!a.write_bands.empty()) DLCOST_RETURN_IF_ERROR(WriteBands(v, a, eff));
  return v;
}

std::string ValidationJson(const ValidationReport& v) {
  // Bytes that are not UTF-8 (a cell of a cases file) print as U+FFFD instead of aborting.
  return ToJson(v).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

namespace {

report::Value OptValue(const std::optional<double>& v) { return v ? report::Value(*v) : report::Value(); }

void SummaryTable(const ValidationReport& v, bool bands, report::Report& r) {
  std::vector<report::Column> cols = {{"metric", "metric"}, {"n", "predicted"}, {"skipped", "skipped"},
                                      {"mape_pct", "MAPE %", 1}, {"median_ape_pct", "median APE %", 1},
                                      {"max_ape_pct", "max APE %", 1}, {"max_case", "worst case"}, {"bias_pct", "bias %", 1}};
  if (bands) {
    cols.push_back({"band_coverage_pct", "in 80% band %", 1});
    cols.push_back({"band_median_halfwidth_pct", "band +-% (median)", 1});
  }
  report::Table& s = r.AddTable("summary", "Summary per metric", cols);
  for (const MetricSummary& m : v.summary) {
    s.rows.push_back({m.metric, static_cast<int64_t>(m.predicted), static_cast<int64_t>(m.skipped), m.mape_pct,
                      m.median_ape_pct, m.max_ape_pct, m.max_case, m.bias_pct});
    if (bands) {
      s.rows.back().push_back(OptValue(m.band_coverage_pct));
      s.rows.back().push_back(OptValue(m.band_median_halfwidth_pct));
    }
  }
}

void CasesTable(const ValidationReport& v, bool bands, report::Report& r) {
  std::vector<report::Column> cols = {{"case_id", "case"}, {"metric", "metric"}, {"measured", "measured"},
                                      {"predicted", "predicted"}};
  if (bands) {
    cols.push_back({"predicted_low", "80% band low"});
    cols.push_back({"predicted_high", "80% band high"});
  }
  for (report::Column col : std::vector<report::Column>{
           {"rel_error_pct", "error %", 1}, {"status", "status"}, {"detail", "chosen / reason"}}) {
    cols.push_back(col);
  }
  report::Table& c = r.AddTable("cases", "Cases", cols);
  for (const ValidationCase& k : v.cases) {
    std::vector<report::Value> row = {k.case_id, k.metric, k.measured, OptValue(k.predicted)};
    if (bands) {
      row.push_back(OptValue(k.predicted_low));
      row.push_back(OptValue(k.predicted_high));
    }
    row.push_back(k.rel_error ? report::Value(100 * *k.rel_error) : report::Value());
    row.push_back(k.status);
    row.push_back(k.status == "ok" ? k.chosen : k.reason);
    c.rows.push_back(std::move(row));
  }
}

// Predicted against measured on log axes, one series per metric family, the 80% band as an
// error bar and y = x as the line a perfect model would sit on.
void AddPredictedChart(const ValidationReport& v, report::Report& r) {
  report::Chart& c = r.AddChart("predicted_vs_measured", "Predicted against measured (log-log; on the dashed line, exact)",
                                report::ChartKind::kScatter);
  c.x_label = "measured";
  c.y_label = "predicted";
  c.log_x = c.log_y = true;
  c.diagonal = true;
  std::map<std::string, size_t> series_of;
  for (const ValidationCase& k : v.cases) {
    if (k.status != "ok" || !k.predicted) continue;
    std::string family = k.regime.family.empty() ? k.metric : k.regime.family;
    auto [it, added] = series_of.emplace(family, c.series.size());
    if (added) c.series.push_back({family, {}, {}, {}, {}, {}, {}});
    report::ChartSeries& s = c.series[it->second];
    s.x.push_back(k.measured);
    s.y.push_back(*k.predicted);
    s.y_low.push_back(k.predicted_low.value_or(*k.predicted));
    s.y_high.push_back(k.predicted_high.value_or(*k.predicted));
  }
}

void BandFamilyTable(const ValidationReport& v, report::Report& r) {
  report::Table& t = r.AddTable(
      "error_bands", "80% error bands per metric family (leave-one-source-out vs in-sample)",
      {{"family", "family"}, {"predicted", "predicted"}, {"banded", "banded"},
       {"band_coverage_pct", "in band %", 1}, {"band_median_halfwidth_pct", "band +-% (median)", 1},
       {"in_sample_band_coverage_pct", "in-sample in band %", 1},
       {"in_sample_band_median_halfwidth_pct", "in-sample +-% (median)", 1}});
  for (const BandFamilySummary& f : v.band_families) {
    t.rows.push_back({f.family, static_cast<int64_t>(f.predicted), static_cast<int64_t>(f.banded_loso),
                      OptValue(f.loso_coverage_pct), OptValue(f.loso_median_halfwidth_pct),
                      OptValue(f.in_sample_coverage_pct), OptValue(f.in_sample_median_halfwidth_pct)});
  }
}

// MAPE per family (all vs leave-one-source-out), per source and per regime.
void ErrorGroupTables(const ValidationReport& v, report::Report& r) {
  if (v.families.empty()) return;
  report::Table& f = r.AddTable(
      "families", "MAPE per metric family: all predicted cases vs leave-one-source-out (fit sources left out)",
      {{"family", "family"}, {"n", "cases"}, {"mape_pct", "MAPE %", 1}, {"median_ape_pct", "median APE %", 1},
       {"loso_n", "LOSO cases"}, {"loso_mape_pct", "LOSO MAPE %", 1}, {"loso_median_ape_pct", "LOSO median %", 1}});
  for (const FamilyError& e : v.families) {
    f.rows.push_back({e.family, static_cast<int64_t>(e.n), e.mape_pct, e.median_ape_pct, static_cast<int64_t>(e.loso_n),
                      OptValue(e.loso_mape_pct), OptValue(e.loso_median_ape_pct)});
  }
  std::vector<report::Column> cols = {{"family", "family"}, {"key", "source"}, {"n", "cases"}, {"mape_pct", "MAPE %", 1},
                                      {"median_ape_pct", "median APE %", 1}, {"bias_pct", "bias %", 1},
                                      {"fit_source", "fitted on it"}};
  report::Table& s = r.AddTable("by_source", "Error per source", cols);
  for (const ErrorGroup& g : v.by_source) {
    s.rows.push_back({g.family, g.key, static_cast<int64_t>(g.n), g.mape_pct, g.median_ape_pct, g.bias_pct,
                      std::string(g.fit_source ? "yes" : "no")});
  }
  cols.pop_back();
  cols[1] = {"key", "regime (family/GPU generation/parallelism/precision)"};
  report::Table& g2 = r.AddTable("by_regime", "Error per regime", cols);
  for (const ErrorGroup& g : v.by_regime) {
    g2.rows.push_back({g.family, g.key, static_cast<int64_t>(g.n), g.mape_pct, g.median_ape_pct, g.bias_pct});
  }
  if (v.by_method.empty()) return;
  cols[1] = {"key", "method"};
  report::Table& g3 =
      r.AddTable("by_method", "Error per training method (leave-one-source-out: fit sources left out)", cols);
  for (const ErrorGroup& g : v.by_method) {
    g3.rows.push_back({g.family, g.key, static_cast<int64_t>(g.n), g.mape_pct, g.median_ape_pct, g.bias_pct});
  }
}

void PlannerTable(const ValidationReport& v, report::Report& r) {
  bool any_plan = false;
  for (const ValidationCase& k : v.cases) any_plan = any_plan || k.planner_step_s.has_value();
  if (!any_plan) return;
  report::Table& pt = r.AddTable("planner", "Authors' layout vs the planner's fastest (same model, GPUs, batch)",
                                 {{"case_id", "case"}, {"authors_step_s", "authors s", 3}, {"planner_step_s", "planner s", 3},
                                  {"speedup", "speed-up", 2}, {"planner_layout", "planner layout"}});
  for (const ValidationCase& k : v.cases) {
    if (!k.planner_step_s) continue;
    pt.rows.push_back({k.case_id, *k.authors_step_s, *k.planner_step_s, *k.authors_step_s / *k.planner_step_s,
                       k.planner_layout});
  }
}

}  // namespace

report::Report ValidationRecord(const ValidationReport& v, const std::string& file) {
  report::Report r;
  r.title = fmt::format("Validation of {}", file);
  bool bands = !v.band_families.empty();
  SummaryTable(v, bands, r);
  CasesTable(v, bands, r);
  AddPredictedChart(v, r);
  PlannerTable(v, r);
  if (bands) BandFamilyTable(v, r);
  ErrorGroupTables(v, r);
  if (!v.engine_factors.empty()) {
    report::Table& t = r.AddTable(
        "engine_factors", "Serving engines' iteration-time factors (docs/serving.md, 'Engine factors')",
        {{"engine", "engine"}, {"fitted", "fitted on these cases", 3}, {"shipped", "engine profile", 3},
         {"cases", "cases"}, {"sources", "sources"}});
    for (const EngineFactorFit& f : v.engine_factors) {
      t.rows.push_back({f.engine, f.fitted, f.shipped, static_cast<int64_t>(f.cases), static_cast<int64_t>(f.sources)});
    }
    r.notes.push_back(fmt::format(
        "engine factors (engine/GPU generation/first version of the epoch): fitted where at least {} dense-model cases "
        "predicted in closed form from {} sources name the engine (else 1); the cases and in-sample MAPE use the "
        "engine profiles' factors, the LOSO MAPE and band coverage refit each factor without the case's own source.",
        kEngineFitMinCases, kEngineFitMinSources));
  }
  if (!v.families.empty()) {
    r.notes.push_back(fmt::format(
        "leave-one-source-out (LOSO) MAPE: the cases of the sources the efficiency profile was fitted on ({}) are left "
        "out; every other source is one the model never saw. Skipped cases count nowhere.",
        v.fit_sources.empty() ? std::string("none") : fmt::format("{}", fmt::join(v.fit_sources, ", "))));
  }
  r.notes.push_back("rel_error = (predicted - measured) / measured; skipped cases do not count in the error figures.");
  if (bands) {
    r.notes.push_back(fmt::format(
        "80% band: predicted / e^q90 to predicted / e^q10, q10 and q90 the 10th and 90th percentiles of "
        "ln(predicted/measured) of the other sources' cases (rates and times pooled with their signs aligned) at the "
        "finest regime key (family/GPU generation/parallelism/precision) with at least {} of them; a source never "
        "predicts itself. No band: fewer than {} residuals from other sources even for the whole family "
        "(docs/training.md, 'Error bands').",
        kBandMinResiduals, kBandMinResiduals));
  }
  return r;
}

}  // namespace dlcost::api
