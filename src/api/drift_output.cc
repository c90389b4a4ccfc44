// The two outputs of a drift run: the exact JSON contract and the report record of the other
// formats. The JSON is written here rather than by report::Render because its shape (nested
// rows, windows, multivariate and decision objects, nulls for untested values) is a published
// contract that the generic field/table record cannot express.
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dlcost/api_drift.h"

namespace dlcost::api {
namespace {

using ordered_json = nlohmann::ordered_json;

std::optional<double> Finite(const std::optional<double>& v) {
  if (v && std::isfinite(*v)) return v;
  return std::nullopt;
}

ordered_json Num(const std::optional<double>& v) {
  auto f = Finite(v);
  return f ? ordered_json(*f) : ordered_json(nullptr);
}

ordered_json ColumnsJson(const drift::DriftResult& r) {
  ordered_json cols = ordered_json::array();
  for (const drift::ColumnResult& c : r.columns) {
    ordered_json o;
    o["name"] = c.name;
    o["type"] = drift::ColumnTypeName(c.type);
    o["test"] = c.method == drift::Method::kAuto ? ordered_json(nullptr) : ordered_json(drift::MethodName(c.method));
    o["statistic"] = Num(c.statistic);
    o["p_value"] = Num(c.p_value);
    o["threshold"] = Num(c.threshold);
    o["drift"] = c.drift;
    cols.push_back(std::move(o));
  }
  return cols;
}

ordered_json NotesJson(const drift::DriftResult& r) {
  ordered_json notes = ordered_json::array();
  for (const drift::ColumnResult& c : r.columns) {
    if (c.note.empty() && c.missing_reference == 0 && c.missing_current == 0) continue;
    ordered_json o;
    o["name"] = c.name;
    o["tested"] = c.tested;
    o["missing_reference"] = c.missing_reference;
    o["missing_current"] = c.missing_current;
    o["note"] = c.note;
    notes.push_back(std::move(o));
  }
  return notes;
}

ordered_json WindowsJson(const DriftResult& r) {
  ordered_json ws = ordered_json::array();
  for (const DriftWindowResult& w : r.windows) {
    ordered_json x;
    x["start"] = drift::FormatUtc(w.window.start_s);
    x["end"] = drift::FormatUtc(w.window.end_s);
    x["rows"] = static_cast<int64_t>(w.window.rows.size());
    x["columns"] = ColumnsJson(w.result);
    x["dataset_drift"] = w.result.dataset_drift;
    x["drift_share"] = w.result.drift_share;
    ws.push_back(std::move(x));
  }
  return ws;
}

ordered_json MmdJson(const DriftResult& r) {
  const drift::MmdResult& m = *r.mmd;
  ordered_json x;
  x["test"] = "mmd";
  x["columns"] = m.columns;
  x["statistic"] = m.ok ? ordered_json(m.statistic) : ordered_json(nullptr);
  x["p_value"] = m.ok ? ordered_json(m.p_value) : ordered_json(nullptr);
  x["threshold"] = 0.05;
  x["drift"] = m.drift;
  x["bandwidth"] = m.ok ? ordered_json(m.bandwidth) : ordered_json(nullptr);
  x["sample_rows"] = {{"reference", m.rows_reference}, {"current", m.rows_current}};
  x["permutations"] = r.mmd_permutations;
  x["seed"] = r.mmd_seed;
  if (!m.ok) x["note"] = m.problem;
  return x;
}

ordered_json DecisionJson(const drift::Decision& d) {
  ordered_json x;
  x["verdict"] = d.verdict;
  x["reasons"] = d.reasons;
  if (d.performance) {
    const drift::Performance& p = *d.performance;
    x["performance"] = {{"metric", p.metric},
                        {"reference", Num(p.reference)},
                        {"current", Num(p.current)},
                        {"rows_reference", p.rows_reference},
                        {"rows_current", p.rows_current}};
  }
  return x;
}

report::Value Opt(const std::optional<double>& v) {
  auto f = Finite(v);
  return f ? report::Value(*f) : report::Value();
}

void AddColumnsTable(const drift::DriftResult& d, report::Report* r) {
  report::Table& t = r->AddTable("columns", "Columns",
                                 {{"name", "column"},
                                  {"type", "type"},
                                  {"test", "test"},
                                  {"statistic", "statistic", 4},
                                  {"p_value", "p-value"},
                                  {"threshold", "threshold", 4},
                                  {"drift", "drift"},
                                  {"missing_reference", "missing ref"},
                                  {"missing_current", "missing cur"},
                                  {"note", "note"}});
  for (const drift::ColumnResult& c : d.columns) {
    t.rows.push_back({c.name, std::string(drift::ColumnTypeName(c.type)),
                      c.method == drift::Method::kAuto ? report::Value()
                                                       : report::Value(std::string(drift::MethodName(c.method))),
                      Opt(c.statistic), Opt(c.p_value), Opt(c.threshold), c.drift, c.missing_reference,
                      c.missing_current, c.note});
  }
}

void AddWindowsTable(const DriftResult& o, report::Report* r) {
  report::Table& w = r->AddTable(
      "windows", fmt::format("Windows ({} thresholds)", o.chunk_thresholds ? "reference-chunk" : "fixed"),
      {{"start", "start"}, {"end", "end"}, {"rows", "rows"}, {"columns_tested", "tested"},
       {"columns_drifted", "drifted"}, {"drift_share", "drift share", 3},
       {"dataset_drift", "dataset drift"}, {"drifted_columns", "drifted columns"}});
  for (const DriftWindowResult& x : o.windows) {
    std::string names;
    for (const drift::ColumnResult& c : x.result.columns) {
      if (c.drift) names += (names.empty() ? "" : " ") + c.name;
    }
    w.rows.push_back({drift::FormatUtc(x.window.start_s), drift::FormatUtc(x.window.end_s),
                      static_cast<int64_t>(x.window.rows.size()), static_cast<int64_t>(x.result.tested),
                      static_cast<int64_t>(x.result.drifted), x.result.drift_share, x.result.dataset_drift,
                      x.window.rows.empty() ? std::string("(empty window)") : names});
  }
}

// The share of drifted columns window by window, against time from the first window's start;
// windows that drift as a dataset ringed.
void AddWindowsChart(const DriftResult& o, report::Report* r) {
  report::Chart& c = r->AddChart("windows", "Share of columns drifting, window by window", report::ChartKind::kLines);
  int64_t t0 = o.windows.front().window.start_s;
  c.x_label = fmt::format("hours since {}", drift::FormatUtc(t0));
  c.y_label = "columns drifting (%)";
  report::ChartSeries s{"drift share; ringed: dataset drift", {}, {}, {}, {}, {}, {}};
  for (const DriftWindowResult& x : o.windows) {
    if (x.result.tested == 0) continue;  // an empty window tests nothing
    if (x.result.dataset_drift) c.highlighted.push_back({0, s.x.size()});
    s.x.push_back(static_cast<double>(x.window.start_s - t0) / 3600.0);
    s.y.push_back(100.0 * x.result.drift_share);
  }
  c.series.push_back(std::move(s));
}

}  // namespace

std::string DriftJson(const DriftResult& r) {
  ordered_json j;
  j["columns"] = ColumnsJson(r.overall);
  j["dataset_drift"] = r.overall.dataset_drift;
  j["drift_share"] = r.overall.drift_share;
  j["rows"] = {{"reference", r.overall.rows_reference}, {"current", r.overall.rows_current}};
  j["column_notes"] = NotesJson(r.overall);
  if (!r.windows.empty()) {
    j["windows"] = WindowsJson(r);
    j["window_thresholds"] = r.chunk_thresholds ? "reference-chunks" : "fixed";
  }
  if (r.mmd) j["multivariate"] = MmdJson(r);
  if (r.decision) j["decision"] = DecisionJson(*r.decision);
  if (!r.notes.empty()) j["notes"] = r.notes;
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

report::Report DriftReport(const DriftResult& o) {
  report::Report r;
  const drift::DriftResult& d = o.overall;
  r.title = fmt::format("Drift of {} against {}", o.current_path, o.reference_path);
  r.AddField("rows_reference", "reference rows", d.rows_reference);
  r.AddField("rows_current", "current rows", d.rows_current);
  r.AddField("columns_tested", "columns tested", static_cast<int64_t>(d.tested));
  r.AddField("columns_drifted", "columns drifted", static_cast<int64_t>(d.drifted));
  r.AddField("drift_share", "drift share", d.drift_share, 3);
  r.AddField("dataset_drift", "dataset drift", d.dataset_drift);
  if (o.mmd && o.mmd->ok) {
    r.AddField("mmd_p_value", "multivariate (MMD) p-value", o.mmd->p_value, 4);
    r.AddField("mmd_drift", "multivariate drift", o.mmd->drift);
  }
  if (o.decision) r.AddField("decision", "decision", o.decision->verdict);
  AddColumnsTable(d, &r);
  if (!o.windows.empty()) {
    AddWindowsTable(o, &r);
    AddWindowsChart(o, &r);
  }
  if (o.decision) {
    report::Table& dt = r.AddTable("decision", fmt::format("Decision: {}", o.decision->verdict), {{"reason", "reason"}});
    for (const std::string& reason : o.decision->reasons) dt.rows.push_back({reason});
  }
  if (o.mmd && !o.mmd->ok) r.notes.push_back("Multivariate (MMD) test not run: " + o.mmd->problem);
  if (o.mmd && o.mmd->ok) {
    r.notes.push_back(fmt::format("MMD^2 {:.6g} on {} + {} sampled rows of {} numeric columns, RBF bandwidth {:.4g} "
                                  "(reference sd units), {} permutations, seed {}.",
                                  o.mmd->statistic, o.mmd->rows_reference, o.mmd->rows_current, o.mmd->columns.size(),
                                  o.mmd->bandwidth, o.mmd_permutations, o.mmd_seed));
  }
  for (const std::string& n : o.notes) r.notes.push_back(n);
  return r;
}

}  // namespace dlcost::api
