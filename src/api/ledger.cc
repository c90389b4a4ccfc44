// The ledger's library calls: recording, listing, importing, comparing, budgets (docs/ledger.md).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/json_util.h"
#include "dlcost/api_ledger.h"
#include "dlcost/strings.h"

namespace dlcost::api {
namespace {

using ordered_json = nlohmann::ordered_json;

std::string Dump(const ordered_json& j) { return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n"; }

Result<ledger::Ledger> OpenLedger(const std::string& db) {
  DLCOST_ASSIGN_OR_RETURN(std::string path, LedgerPath(db));
  return ledger::Ledger::Open(path);
}

ordered_json Num(std::optional<double> v) { return v ? ordered_json(*v) : ordered_json(nullptr); }
report::Value Val(std::optional<double> v) { return v ? report::Value(*v) : report::Value(); }

ordered_json EntryJson(const ledger::Entry& e, bool full) {
  ordered_json j;
  j["id"] = e.id;
  j["kind"] = ledger::KindName(e.kind);
  j["run_name"] = e.run_name;
  j["project"] = e.project;
  j["created_at"] = e.created_at;
  j["command"] = e.command;
  j["gpu"] = e.gpu;
  j["num_gpus"] = e.num_gpus ? ordered_json(*e.num_gpus) : ordered_json(nullptr);
  j["start"] = e.start;
  j["end"] = e.end;
  const ledger::Metrics& m = e.metrics;
  j["wall_s"] = Num(m.wall_s);
  j["gpu_hours"] = Num(m.gpu_hours);
  j["energy_kwh"] = Num(m.energy_kwh);
  j["usd"] = Num(m.usd);
  j["co2_kg"] = Num(m.co2_kg);
  j["tokens"] = Num(m.tokens);
  j["tokens_per_s"] = Num(m.tokens_per_s);
  ordered_json tags = ordered_json::object();
  for (const auto& [k, v] : e.tags) tags[k] = v;
  j["tags"] = tags;
  j["source"] = e.source;
  if (full) {
    ordered_json in = ParseJsonNoThrow<ordered_json>(e.input_json);
    ordered_json out = ParseJsonNoThrow<ordered_json>(e.result_json);
    j["input"] = in.is_discarded() ? ordered_json(nullptr) : in;
    j["result"] = out.is_discarded() ? ordered_json(nullptr) : out;
  }
  return j;
}

std::optional<double> JsonNumber(const ordered_json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || !it->is_number()) return std::nullopt;
  double v = it->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

Result<std::pair<std::string, std::string>> ParseTag(const std::string& t) {
  size_t eq = t.find('=');
  if (eq == std::string::npos || eq == 0) return UsageError(fmt::format("--tag: '{}' is not KEY=VALUE", ForMessage(t)));
  std::string k = t.substr(0, eq), v = t.substr(eq + 1);
  if (!IsValidUtf8(k) || !IsValidUtf8(v)) return UsageError(fmt::format("--tag: '{}' is not valid UTF-8", ForMessage(t)));
  return std::make_pair(k, v);
}

Status CheckName(const std::string& v, const char* flag) {
  if (!IsValidUtf8(v)) return UsageError(fmt::format("{}: '{}' is not valid UTF-8", flag, ForMessage(v)));
  if (v.size() > 4096) return UsageError(fmt::format("{}: longer than 4096 bytes", flag));
  return Status::Ok();
}

}  // namespace

Result<std::string> LedgerPath(const std::string& db) {
  if (!db.empty()) return db;
  return ledger::DefaultLedgerPath();
}

Result<std::string> RecordEstimate(const RecordRequest& r) {
  DLCOST_RETURN_IF_ERROR(CheckName(r.project, "--project"));
  DLCOST_RETURN_IF_ERROR(CheckName(r.run_name, "--run-name"));
  ledger::Entry e;
  e.kind = ledger::Kind::kEstimate;
  e.project = r.project;
  e.run_name = r.run_name;
  e.command = r.command;
  for (const std::string& t : r.tags) {
    DLCOST_ASSIGN_OR_RETURN(auto kv, ParseTag(t));
    e.tags.push_back(std::move(kv));
  }
  ordered_json result = ParseJsonNoThrow<ordered_json>(r.result_json);
  if (result.is_discarded() || !result.is_object()) {
    return Status(StatusCode::kInternal, fmt::format("{}: its JSON output could not be read back for the ledger", r.command));
  }
  // A plan's figures are those of its best plan.
  const ordered_json* o = &result;
  if (auto it = result.find("plans"); it != result.end() && it->is_array() && !it->empty() && (*it)[0].is_object()) {
    o = &(*it)[0];
  }
  ledger::Metrics& m = e.metrics;
  if (auto d = JsonNumber(*o, "wall_days")) m.wall_s = *d * 86400.0;
  m.gpu_hours = JsonNumber(*o, "gpu_hours");
  if (!m.gpu_hours) m.gpu_hours = JsonNumber(*o, "serving_gpu_hours");  // tco with --train-usd: serving alone
  m.energy_kwh = JsonNumber(*o, "energy_kwh");
  m.usd = JsonNumber(*o, "usd");
  m.co2_kg = JsonNumber(*o, "co2_kg");
  m.tokens = JsonNumber(*o, "tokens");
  m.tokens_per_s = JsonNumber(*o, "tokens_per_s");
  if (!m.tokens_per_s) m.tokens_per_s = JsonNumber(*o, "output_tok_s");
  if (auto it = o->find("gpu"); it != o->end() && it->is_string()) e.gpu = it->get<std::string>();
  if (auto it = o->find("serving_gpu"); e.gpu.empty() && it != o->end() && it->is_string()) e.gpu = it->get<std::string>();
  if (auto n = JsonNumber(*o, "num_gpus")) e.num_gpus = static_cast<int64_t>(*n);
  ordered_json input;
  input["command"] = r.command;
  ordered_json args = ordered_json::array();
  for (const std::string& a : r.args) args.push_back(IsValidUtf8(a) ? a : ForMessage(a, 4096));
  input["args"] = args;
  input["data_dir"] = IsValidUtf8(r.data_dir) ? r.data_dir : ForMessage(r.data_dir, 4096);
  e.input_json = input.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
  e.result_json = result.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
  DLCOST_ASSIGN_OR_RETURN(ledger::Ledger db, OpenLedger(r.db));
  return db.Add(e);
}

std::string WithLedgerId(const std::string& json, const std::string& id) {
  ordered_json j = ParseJsonNoThrow<ordered_json>(json);
  if (j.is_discarded() || !j.is_object()) return json;
  j["ledger_id"] = id;
  return Dump(j);
}

Result<LedgerListResult> LedgerList(const LedgerListRequest& r) {
  ledger::ListFilter f;
  f.project = r.project;
  f.run_name = r.run_name;
  if (r.kind == "estimate") {
    f.kind = ledger::Kind::kEstimate;
  } else if (r.kind == "actual") {
    f.kind = ledger::Kind::kActual;
  } else if (!r.kind.empty()) {
    return UsageError(fmt::format("--kind: '{}' is not estimate or actual", ForMessage(r.kind)));
  }
  DLCOST_ASSIGN_OR_RETURN(ledger::Ledger db, OpenLedger(r.db));
  LedgerListResult out;
  out.db = db.path();
  DLCOST_ASSIGN_OR_RETURN(out.entries, db.List(f));
  return out;
}

std::string LedgerListJson(const LedgerListResult& r) {
  ordered_json j;
  j["entries"] = ordered_json::array();
  for (const ledger::Entry& e : r.entries) j["entries"].push_back(EntryJson(e, false));
  return Dump(j);
}

report::Report LedgerListReport(const LedgerListResult& r) {
  report::Report rep;
  rep.title = "Ledger " + r.db;
  rep.AddField("entries", "Entries", static_cast<int64_t>(r.entries.size()));
  report::Table& t = rep.AddTable("entries", "Entries (oldest first)",
                                  {{"id", "id"},
                                   {"kind", "kind"},
                                   {"created_at", "recorded (UTC)"},
                                   {"project", "project"},
                                   {"run_name", "run"},
                                   {"command", "from"},
                                   {"gpu", "GPU"},
                                   {"num_gpus", "GPUs"},
                                   {"gpu_hours", "GPU-hours"},
                                   {"wall_s", "wall s"},
                                   {"usd", "$", 2},
                                   {"energy_kwh", "kWh"},
                                   {"co2_kg", "CO2 kg"}});
  for (const ledger::Entry& e : r.entries) {
    const ledger::Metrics& m = e.metrics;
    t.rows.push_back({e.id, std::string(ledger::KindName(e.kind)), e.created_at, e.project, e.run_name, e.command, e.gpu,
                      e.num_gpus ? report::Value(*e.num_gpus) : report::Value(), Val(m.gpu_hours), Val(m.wall_s),
                      Val(m.usd), Val(m.energy_kwh), Val(m.co2_kg)});
  }
  return rep;
}

Result<ledger::Entry> LedgerShow(const std::string& db, const std::string& id) {
  DLCOST_ASSIGN_OR_RETURN(ledger::Ledger l, OpenLedger(db));
  return l.Get(id);
}

std::string LedgerEntryJson(const ledger::Entry& e) { return Dump(EntryJson(e, true)); }

report::Report LedgerEntryReport(const ledger::Entry& e) {
  report::Report rep;
  rep.title = fmt::format("Ledger entry {} ({})", e.id, ledger::KindName(e.kind));
  rep.AddField("id", "Id", e.id);
  rep.AddField("kind", "Kind", std::string(ledger::KindName(e.kind)));
  rep.AddField("created_at", "Recorded (UTC)", e.created_at);
  rep.AddField("project", "Project", e.project);
  rep.AddField("run_name", "Run", e.run_name);
  rep.AddField("command", "From", e.command);
  if (!e.gpu.empty()) rep.AddField("gpu", "GPU", e.gpu);
  if (e.num_gpus) rep.AddField("num_gpus", "GPUs", *e.num_gpus);
  if (!e.start.empty()) rep.AddField("start", "Start", e.start);
  if (!e.end.empty()) rep.AddField("end", "End", e.end);
  const ledger::Metrics& m = e.metrics;
  if (m.wall_s) rep.AddField("wall_s", "Wall time (s)", *m.wall_s);
  if (m.gpu_hours) rep.AddField("gpu_hours", "GPU-hours", *m.gpu_hours);
  if (m.energy_kwh) rep.AddField("energy_kwh", "Energy (kWh)", *m.energy_kwh);
  if (m.usd) rep.AddField("usd", "Cost ($)", *m.usd, 2);
  if (m.co2_kg) rep.AddField("co2_kg", "CO2 (kg)", *m.co2_kg);
  if (m.tokens) rep.AddField("tokens", "Tokens", *m.tokens);
  if (m.tokens_per_s) rep.AddField("tokens_per_s", "Tokens/s", *m.tokens_per_s);
  for (const auto& [k, v] : e.tags) rep.AddField("tag_" + k, "Tag " + k, v);
  if (!e.source.empty()) rep.AddField("source", "Source", e.source);
  if (!e.input_json.empty()) rep.AddField("input", "Input", e.input_json);
  return rep;
}

Result<LedgerImportResult> LedgerImport(const LedgerImportRequest& r) {
  static const char* kImporters[] = {"csv", "codecarbon", "slurm", "mlflow", "wandb"};
  if (std::find(std::begin(kImporters), std::end(kImporters), r.importer) == std::end(kImporters)) {
    return InvalidInput(fmt::format("ledger import: unknown importer '{}' (known: csv, codecarbon, slurm, mlflow, wandb)",
                                    ForMessage(r.importer)));
  }
  DLCOST_RETURN_IF_ERROR(CheckName(r.project, "--project"));
  if (!r.name_field.empty() && r.importer != "codecarbon" && r.importer != "slurm" && r.importer != "wandb") {
    return UsageError("--name-field: only for codecarbon, slurm and wandb");
  }
  ledger::ImportOptions o;
  o.project = r.project;
  o.name_field = r.name_field;
  o.skip_bad_rows = r.skip_bad_rows;
  Result<ledger::ImportBatch> batch = InvalidInput("no importer ran");
  if (r.importer == "mlflow") {
    batch = ledger::ParseMlflowStore(r.file, o);
  } else {
    std::error_code ec;
    if (std::filesystem::is_directory(r.file, ec)) return InvalidInput(fmt::format("{}: a folder, not a file", r.file));
    std::ifstream in(r.file, std::ios::binary);
    if (!in) return InvalidInput(fmt::format("{}: cannot open", r.file));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return InvalidInput(fmt::format("{}: read error", r.file));
    std::string text = ss.str();
    batch = r.importer == "csv"          ? ledger::ParseGenericCsv(text, r.file, o)
            : r.importer == "codecarbon" ? ledger::ParseCodeCarbonCsv(text, r.file, o)
            : r.importer == "wandb"      ? ledger::ParseWandbCsv(text, r.file, o)
                                         : ledger::ParseSlurmSacct(text, r.file, o);
  }
  if (!batch.ok()) return batch.status();
  if (batch->entries.empty() && batch->skipped.empty()) return InvalidInput(fmt::format("{}: no runs to import", r.file));
  DLCOST_ASSIGN_OR_RETURN(ledger::Ledger db, OpenLedger(r.db));
  LedgerImportResult out;
  out.db = db.path();
  out.importer = r.importer;
  out.file = r.file;
  DLCOST_ASSIGN_OR_RETURN(out.counts, db.Import(*batch));
  out.skipped = batch->skipped;
  return out;
}

report::Report LedgerImportReport(const LedgerImportResult& r) {
  report::Report rep;
  rep.title = fmt::format("Imported {} ({}) into {}", r.file, r.importer, r.db);
  rep.AddField("added", "Runs added", r.counts.added);
  rep.AddField("already_there", "Already in the ledger", r.counts.already_there);
  rep.AddField("skipped", "Rows skipped", static_cast<int64_t>(r.skipped.size()));
  if (!r.skipped.empty()) {
    report::Table& t = rep.AddTable("skipped_rows", "Rows skipped", {{"line", "line"}, {"reason", "reason"}});
    for (const ledger::SkippedRow& s : r.skipped) {
      t.rows.push_back({s.line > 0 ? report::Value(s.line) : report::Value(), s.reason});
    }
  }
  return rep;
}

Status LedgerLink(const std::string& db, const std::string& estimate_id, const std::string& actual_id) {
  DLCOST_ASSIGN_OR_RETURN(ledger::Ledger l, OpenLedger(db));
  return l.AddLink(estimate_id, actual_id);
}

Result<ledger::Comparison> LedgerCompare(const LedgerCompareRequest& r) {
  DLCOST_ASSIGN_OR_RETURN(ledger::Ledger db, OpenLedger(r.db));
  DLCOST_ASSIGN_OR_RETURN(std::vector<ledger::Entry> entries, db.List({}));
  DLCOST_ASSIGN_OR_RETURN(std::vector<ledger::Link> links, db.Links());
  return ledger::Compare(entries, links, r.project);
}

std::string LedgerCompareJson(const ledger::Comparison& c) {
  ordered_json j;
  j["pairs"] = ordered_json::array();
  for (const ledger::Pair& p : c.pairs) {
    ordered_json o;
    o["estimate_id"] = p.estimate_id;
    o["actual_id"] = p.actual_id;
    o["run_name"] = p.run_name;
    o["project"] = p.project;
    o["metric"] = p.metric;
    o["estimated"] = p.estimated;
    o["actual"] = p.actual;
    o["rel_error"] = p.rel_error;
    j["pairs"].push_back(std::move(o));
  }
  j["summary"] = ordered_json::object();
  for (const ledger::MetricSummary& s : c.summary) {
    j["summary"][s.metric] = {{"n", s.n}, {"mape_pct", s.mape_pct}, {"bias_pct", s.bias_pct}};
  }
  j["actuals_unmatched"] = c.actuals_unmatched;
  return Dump(j);
}

report::Report LedgerCompareReport(const ledger::Comparison& c) {
  report::Report rep;
  rep.title = "Estimates against actual runs";
  report::Table& s = rep.AddTable("summary", "Summary per metric",
                                  {{"metric", "metric"}, {"n", "pairs"}, {"mape_pct", "MAPE %", 1}, {"bias_pct", "bias %", 1}});
  for (const ledger::MetricSummary& m : c.summary) s.rows.push_back({m.metric, m.n, m.mape_pct, m.bias_pct});
  report::Table& t = rep.AddTable("pairs", "Pairs",
                                  {{"run_name", "run"},
                                   {"metric", "metric"},
                                   {"estimated", "estimated"},
                                   {"actual", "actual"},
                                   {"rel_error_pct", "error %", 1},
                                   {"estimate_id", "estimate"},
                                   {"actual_id", "actual id"}});
  for (const ledger::Pair& p : c.pairs) {
    t.rows.push_back({p.run_name, p.metric, p.estimated, p.actual, 100.0 * p.rel_error, p.estimate_id, p.actual_id});
  }
  // Estimated against actual on log axes, a series per metric (their units differ; the log
  // scale keeps each metric's spread readable), y = x where the estimate was exact.
  report::Chart& chart = rep.AddChart("estimated_vs_actual", "Estimated against actual (log-log; on the dashed line, exact)",
                                      report::ChartKind::kScatter);
  chart.x_label = "actual (each metric in its own unit)";
  chart.y_label = "estimated";
  chart.log_x = chart.log_y = true;
  chart.diagonal = true;
  for (const ledger::MetricSummary& m : c.summary) {
    report::ChartSeries s{m.metric, {}, {}, {}, {}, {}, {}};
    for (const ledger::Pair& p : c.pairs) {
      if (p.metric != m.metric) continue;
      s.x.push_back(p.actual);
      s.y.push_back(p.estimated);
    }
    chart.series.push_back(std::move(s));
  }
  rep.notes.push_back("error = (estimated - actual) / actual; an actual is paired with its linked estimate, else the latest "
                      "estimate of the same run name (docs/ledger.md)");
  if (c.actuals_unmatched > 0) {
    rep.notes.push_back(fmt::format("{} actual run(s) have no estimate: record one with --record --run-name NAME, or "
                                    "dlcost ledger link ESTIMATE ACTUAL",
                                    c.actuals_unmatched));
  }
  return rep;
}

Status LedgerBudgetSet(const LedgerBudgetSetRequest& r) {
  if (r.project.empty()) return UsageError("--project: a budget belongs to a project");
  DLCOST_RETURN_IF_ERROR(CheckName(r.project, "--project"));
  double usd = 0;
  try {
    size_t pos = 0;
    usd = std::stod(r.usd, &pos);
    if (pos != r.usd.size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    return UsageError(fmt::format("--usd: '{}' is not a number", ForMessage(r.usd)));
  }
  if (!std::isfinite(usd) || usd <= 0 || usd > 1e15) return UsageError(fmt::format("--usd: {} is not a positive amount", r.usd));
  DLCOST_ASSIGN_OR_RETURN(ledger::Period period, ledger::ParsePeriod(r.period));
  DLCOST_ASSIGN_OR_RETURN(ledger::Ledger db, OpenLedger(r.db));
  return db.SetBudget({r.project, usd, period, ""});
}

Result<LedgerBudgetCheckResult> LedgerBudgetCheck(const LedgerBudgetCheckRequest& r) {
  DLCOST_ASSIGN_OR_RETURN(ledger::Ledger db, OpenLedger(r.db));
  DLCOST_ASSIGN_OR_RETURN(std::vector<ledger::Budget> budgets, db.Budgets(r.project));
  if (budgets.empty()) {
    return NotFound(r.project.empty() ? fmt::format("no budget in '{}' (dlcost ledger budget set --project P --usd X)", db.path())
                                      : fmt::format("project '{}' has no budget in '{}' (dlcost ledger budget set)",
                                                    ForMessage(r.project), db.path()));
  }
  DLCOST_ASSIGN_OR_RETURN(std::vector<ledger::Entry> entries, db.List({}));
  DLCOST_ASSIGN_OR_RETURN(std::vector<ledger::Link> links, db.Links());
  LedgerBudgetCheckResult out;
  out.db = db.path();
  out.now = r.now.empty() ? ledger::NowUtc() : r.now;
  for (const ledger::Budget& b : budgets) {
    out.budgets.push_back(ledger::CheckBudget(b, entries, links, out.now));
    out.exceeded = out.exceeded || out.budgets.back().exceeded;
  }
  return out;
}

namespace {

// A cluster tag that can stand in a file name (`--profile-out prof-{cluster}.json`).
bool IsFileNameSafe(const std::string& v) {
  if (v.empty() || v.size() > 128 || v[0] == '.' || v[0] == '-') return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

// The base profile with the groups' corrections (those with enough pairs) added; nullopt when no
// group has enough.
std::optional<std::string> CorrectedProfile(const ordered_json& base_in, const std::vector<const ledger::FitGroup*>& groups,
                                            int64_t min_pairs, const std::string& source) {
  ordered_json corrections = ordered_json::object();
  for (const ledger::FitGroup* g : groups) {
    if (g->pairs < min_pairs) continue;
    ordered_json c;
    c["time_factor"] = g->time_factor;
    c["pairs"] = g->pairs;
    c["sd_log"] = g->sd_log;
    c["mape_before_pct"] = g->mape_before_pct;
    c["loo_mape_pct"] = g->loo_mape_pct ? ordered_json(*g->loo_mape_pct) : ordered_json(nullptr);
    if (g->step_time_factor && g->goodput_factor) {
      c["step_pairs"] = g->step_pairs;
      c["step_time_factor"] = *g->step_time_factor;
      c["step_sd_log"] = g->step_sd_log;
      c["goodput_factor"] = *g->goodput_factor;
      c["goodput_sd_log"] = g->goodput_sd_log;
    }
    corrections[g->key] = c;
  }
  if (corrections.empty()) return std::nullopt;
  ordered_json base = base_in;
  std::string id = base.contains("id") && base["id"].is_string() ? base["id"].get<std::string>() : "profile";
  base["id"] = id + "+ledger";
  base["ledger_corrections"] = corrections;
  base["ledger_corrections_source"] = source;
  return Dump(base);
}

}  // namespace

Result<LedgerFitResult> LedgerFit(const LedgerFitRequest& r) {
  LedgerFitResult out;
  try {
    size_t pos = 0;
    long long v = std::stoll(r.min_pairs, &pos);
    if (pos != r.min_pairs.size() || v < 2 || v > 1000000) throw std::invalid_argument("range");
    out.min_pairs = v;
  } catch (const std::exception&) {
    return UsageError(fmt::format("--min-pairs: '{}' is not a whole number from 2 up", ForMessage(r.min_pairs)));
  }
  if (r.by != "gpu" && r.by != "cluster") {
    return UsageError(fmt::format("--by: '{}' is not gpu or cluster", ForMessage(r.by)));
  }
  bool by_cluster = r.by == "cluster";
  if (by_cluster && !r.cluster.empty()) return UsageError("--cluster: not with --by cluster, which fits every cluster");
  out.by = r.by;
  DLCOST_RETURN_IF_ERROR(CheckName(r.project, "--project"));
  DLCOST_RETURN_IF_ERROR(CheckName(r.cluster, "--cluster"));
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json base_read, ReadJsonFile(r.base_profile));
  ordered_json base = ParseJsonNoThrow<ordered_json>(base_read.dump());
  if (!base.is_object()) return InvalidInput(fmt::format("{}: expected a JSON object (an efficiency profile)", r.base_profile));
  DLCOST_ASSIGN_OR_RETURN(ledger::Ledger db, OpenLedger(r.db));
  DLCOST_ASSIGN_OR_RETURN(std::vector<ledger::Entry> entries, db.List({}));
  DLCOST_ASSIGN_OR_RETURN(std::vector<ledger::Link> links, db.Links());
  out.db = db.path();
  out.base_profile = r.base_profile;
  out.fit = ledger::FitCorrections(entries, links, r.project, r.cluster, by_cluster);
  // The groups of each profile: all of them, or (by cluster) each cluster's.
  std::vector<std::pair<std::string, std::vector<const ledger::FitGroup*>>> per_profile;
  for (const ledger::FitGroup& g : out.fit.groups) {
    std::string c = by_cluster ? g.cluster : r.cluster;
    if (per_profile.empty() || per_profile.back().first != c) per_profile.push_back({c, {}});
    per_profile.back().second.push_back(&g);
  }
  for (const auto& [cluster, groups] : per_profile) {
    std::string source =
        fmt::format("dlcost ledger fit on {} at {}{}{}: time_factor = exp(mean ln(actual / estimated wall time)) per GPU "
                    "(docs/ledger.md, 'Fit')",
                    IsValidUtf8(out.db) ? out.db : ForMessage(out.db), ledger::NowUtc(),
                    r.project.empty() ? "" : ", project " + r.project, cluster.empty() ? "" : ", cluster " + cluster);
    std::optional<std::string> json = CorrectedProfile(base, groups, out.min_pairs, source);
    if (!json) continue;
    if (by_cluster && !IsFileNameSafe(cluster)) {
      return InvalidInput(fmt::format("ledger fit --by cluster: the cluster tag '{}' cannot name a profile file (letters, "
                                      "digits, '.', '_' and '-' only); fit it with --cluster instead",
                                      ForMessage(cluster)));
    }
    out.profiles.push_back({cluster, std::move(*json)});
  }
  if (out.profiles.empty()) {
    return InvalidInput(fmt::format("ledger fit: no {} has {} or more estimate-actual pairs with a wall time or GPU-hours "
                                    "in '{}'{}{} (dlcost ledger compare shows the pairs{})",
                                    by_cluster ? "cluster's GPU" : "GPU", out.min_pairs, out.db,
                                    r.project.empty() ? "" : " for project " + r.project,
                                    r.cluster.empty() ? "" : " on cluster " + r.cluster,
                                    by_cluster ? "; --by cluster reads the cluster=NAME tag of the estimates" : ""));
  }
  return out;
}

report::Report LedgerFitReport(const LedgerFitResult& r) {
  report::Report rep;
  rep.title = "Run-time corrections learnt from " + r.db;
  rep.AddField("pairs", "Estimate-actual pairs used", r.fit.pairs);
  rep.AddField("loo_pairs", "Pairs on GPUs with 2 or more", r.fit.loo_pairs);
  if (r.fit.loo_pairs > 0) {
    rep.AddField("mape_before_pct", "MAPE of the estimates as recorded (%)", r.fit.mape_before_pct, 1);
    rep.AddField("loo_mape_pct", "Leave-one-out MAPE after correction (%)", r.fit.loo_mape_pct, 1);
  }
  bool by_cluster = r.by == "cluster";
  if (by_cluster) rep.AddField("pairs_without_cluster", "Runs left out (estimate without a cluster tag)", r.fit.pairs_without_cluster);
  std::vector<report::Column> cols = {{"gpu", "GPU"},
                                      {"pairs", "pairs"},
                                   {"time_factor", "time factor", 3},
                                   {"sd_log", "sd of ln ratio", 3},
                                   {"mape_before_pct", "MAPE before %", 1},
                                   {"loo_mape_pct", "LOO MAPE after %", 1},
                                      {"step_time_factor", "step factor", 3},
                                      {"goodput_factor", "goodput factor", 3},
                                      {"written", "in profile"}};
  if (by_cluster) cols.insert(cols.begin(), {"cluster", "cluster"});
  report::Table& t = rep.AddTable("corrections", by_cluster ? "Per cluster and GPU" : "Per GPU", cols);
  for (const ledger::FitGroup& g : r.fit.groups) {
    std::vector<report::Value> row = {g.key, g.pairs, g.time_factor, g.sd_log, g.mape_before_pct,
                                      g.loo_mape_pct ? report::Value(*g.loo_mape_pct) : report::Value(),
                                      g.step_time_factor ? report::Value(*g.step_time_factor) : report::Value(),
                                      g.goodput_factor ? report::Value(*g.goodput_factor) : report::Value(), g.pairs >= r.min_pairs};
    if (by_cluster) row.insert(row.begin(), g.cluster);
    t.rows.push_back(std::move(row));
  }
  rep.notes.push_back("time factor = exp(mean ln(actual / estimated)) of wall time (GPU-hours where a run has no wall "
                      "time); train, plan and budget multiply the modelled step time by it when given the profile with "
                      "--calibration; the leave-one-out MAPE corrects each pair with the factor of the other pairs of its "
                      "GPU (docs/ledger.md, 'Fit')");
  rep.notes.push_back("step factor = exp(mean ln(estimated / actual tokens/s)) over the runs whose actual reports a "
                      "throughput (tokens_per_s), goodput factor = the rest of the time factor over those runs (failures, "
                      "restarts, evaluation, stalls); informative: the profile's correction is the time factor");
  if (by_cluster) {
    rep.notes.push_back("by cluster: the groups are the estimates' cluster=NAME tags and GPUs, each pair corrected with "
                        "the factor of the other pairs of its cluster and GPU; each cluster gets its own profile");
  }
  rep.notes.push_back(fmt::format("base profile: {}", r.base_profile));
  return rep;
}

Result<std::optional<ledger::BudgetStatus>> LedgerProjectBudget(const std::string& db, const std::string& project,
                                                                const std::string& run_name) {
  DLCOST_RETURN_IF_ERROR(CheckName(project, "--project"));
  DLCOST_ASSIGN_OR_RETURN(ledger::Ledger l, OpenLedger(db));
  DLCOST_ASSIGN_OR_RETURN(std::vector<ledger::Budget> budgets, l.Budgets(project));
  if (budgets.empty()) return std::optional<ledger::BudgetStatus>();
  DLCOST_ASSIGN_OR_RETURN(std::vector<ledger::Entry> entries, l.List({}));
  DLCOST_ASSIGN_OR_RETURN(std::vector<ledger::Link> links, l.Links());
  return std::optional<ledger::BudgetStatus>(ledger::CheckBudget(budgets[0], entries, links, ledger::NowUtc(), run_name));
}

std::string BudgetLine(const ledger::BudgetStatus& s) {
  std::string period = s.budget.period == ledger::Period::kTotal ? "in all" : std::string("per ") + ledger::PeriodName(s.budget.period);
  return fmt::format("project '{}' budget: ${:.2f} {}, ${:.2f} spent, ${:.2f} committed, ${:.2f} left", s.budget.project,
                     s.budget.usd, period, s.spent, s.committed, s.left);
}

report::Report LedgerBudgetReport(const LedgerBudgetCheckResult& r) {
  report::Report rep;
  rep.title = "Budgets in " + r.db;
  rep.AddField("now", "As of (UTC)", r.now);
  rep.AddField("exceeded", "Any budget exceeded", r.exceeded);
  report::Table& t = rep.AddTable("budgets", "Budgets",
                                  {{"project", "project"},
                                   {"period", "period"},
                                   {"window_start", "from"},
                                   {"window_end", "until"},
                                   {"budget_usd", "budget $", 2},
                                   {"spent_usd", "spent $", 2},
                                   {"committed_usd", "committed $", 2},
                                   {"left_usd", "left $", 2},
                                   {"status", "status"},
                                   {"actuals_without_usd", "actuals without $"}});
  for (const ledger::BudgetStatus& s : r.budgets) {
    std::string status = s.exceeded ? "exceeded" : s.over_committed ? "over-committed" : "ok";
    t.rows.push_back({s.budget.project, std::string(ledger::PeriodName(s.budget.period)), s.window_start, s.window_end,
                      s.budget.usd, s.spent, s.committed, s.left, status, s.actuals_without_usd});
  }
  rep.notes.push_back("spent: the cost of actual runs in the period (by end time); committed: the latest recorded estimate "
                      "of each named run that no actual run matches yet (docs/ledger.md, 'Budgets')");
  rep.notes.push_back("exit status 5 when a budget is exceeded (spent > budget); over-committed (spent + committed > "
                      "budget) is reported, not an error");
  return rep;
}

}  // namespace dlcost::api
