// Importers of actual runs (docs/ledger.md, "Importing actuals"): dlcost's generic CSV,
// CodeCarbon's emissions.csv and a Weights & Biases runs table exported as CSV. Each reads the whole file, checks every field and returns the rows
// to add; the ledger adds them in one transaction.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <unordered_map>

#include <fmt/format.h>

#include "common/csv.h"
#include "dlcost/ledger.h"
#include "dlcost/strings.h"
#include "ledger/importer_util.h"
#include "ledger/time.h"

namespace dlcost::ledger {
namespace {

// A row's problem: the error (or, with skip_bad_rows, the reason it was skipped).
struct RowError {
  std::string message;
};

class RowReader {
 public:
  RowReader(const CsvTable& t, const CsvRow& row) : t_(t), row_(row) {}

  // Text of a column (empty when the column is absent); invalid UTF-8 is an error.
  std::optional<std::string> Text(std::optional<size_t> col, const char* name) {
    if (!col) return std::string();
    std::string v(TrimView(t_.Field(row_, *col)));
    if (!IsValidUtf8(v)) return Fail(fmt::format("column '{}' is not valid UTF-8", name));
    return v;
  }
  // A non-negative finite number up to `max`, or nullopt when empty.
  bool Number(std::optional<size_t> col, const char* name, std::optional<double>* out, double max = kMaxQuantity) {
    out->reset();
    if (!col) return true;
    Result<std::optional<double>> v = t_.Number(row_, *col);
    if (!v.ok()) {
      Fail(v.status().message());
      return false;
    }
    if (*v && **v < 0) {
      Fail(fmt::format("{}: line {}: column '{}': {} is negative", t_.name(), row_.line, name, **v));
      return false;
    }
    if (*v && **v > max) {
      Fail(fmt::format("{}: line {}: column '{}': {:g} is beyond {:g}", t_.name(), row_.line, name, **v, max));
      return false;
    }
    *out = *v;
    return true;
  }
  bool Count(std::optional<size_t> col, const char* name, std::optional<int64_t>* out) {
    std::optional<double> v;
    if (!Number(col, name, &v)) return false;
    if (!v) return true;
    if (*v < 1 || *v > 1e9 || std::floor(*v) != *v) {
      Fail(fmt::format("{}: line {}: column '{}': '{}' is not a whole number of GPUs >= 1", t_.name(), row_.line, name,
                       ForMessage(t_.Field(row_, *col))));
      return false;
    }
    *out = static_cast<int64_t>(*v);
    return true;
  }
  // An ISO 8601 time, or empty.
  bool Time(std::optional<size_t> col, const char* name, std::string* text, std::optional<double>* epoch) {
    epoch->reset();
    std::optional<std::string> t = Text(col, name);
    if (!t) return false;
    *text = *t;
    if (t->empty()) return true;
    *epoch = ParseIsoTime(*t);
    if (!*epoch) {
      Fail(fmt::format("{}: line {}: column '{}': '{}' is not an ISO 8601 time (2026-05-01T12:00:00Z)", t_.name(),
                       row_.line, name, ForMessage(*t)));
      return false;
    }
    return true;
  }
  std::nullopt_t Fail(std::string message) {
    if (error_.empty()) {
      error_ = message.rfind(t_.name() + ":", 0) == 0 ? std::move(message)
                                                      : fmt::format("{}: line {}: {}", t_.name(), row_.line, message);
    }
    return std::nullopt;
  }
  const std::string& error() const { return error_; }

 private:
  const CsvTable& t_;
  const CsvRow& row_;
  std::string error_;
};

// The source row as a JSON object, kept with the entry (what was read, column by column; empty
// fields left out). Written by hand: it is most of an import's parsing time otherwise.
std::string RowJson(const CsvTable& t, const CsvRow& row) {
  std::string out = "{";
  for (size_t c = 0; c < t.header().size(); ++c) {
    const std::string& v = t.Field(row, c);
    if (v.empty() || !IsValidUtf8(v) || !IsValidUtf8(t.header()[c])) continue;
    if (out.size() > 1) out.push_back(',');
    AppendJsonString(&out, t.header()[c]);
    out.push_back(':');
    AppendJsonString(&out, v);
  }
  out.push_back('}');
  return out;
}

// Adds the row, or returns its error (or records it as skipped).
Status Finish(const CsvRow& row, const std::string& error, const ImportOptions& o, ImportBatch* batch, Entry e) {
  if (!error.empty()) {
    if (!o.skip_bad_rows) return InvalidInput(error);
    batch->skipped.push_back({row.line, error});
    return Status::Ok();
  }
  batch->entries.push_back(std::move(e));
  return Status::Ok();
}

bool HasMeasure(const Metrics& m) {
  return m.wall_s || m.gpu_hours || m.energy_kwh || m.usd || m.co2_kg || m.tokens || m.tokens_per_s;
}

}  // namespace

Result<ImportBatch> ParseGenericCsv(std::string_view text, const std::string& file, const ImportOptions& o) {
  DLCOST_ASSIGN_OR_RETURN(CsvTable t, CsvTable::Parse(text, file));
  static const std::vector<std::string> kKnown = {"run_name", "project", "gpu",        "num_gpus", "start", "end",
                                                  "duration_s", "gpu_hours", "energy_kwh", "usd",      "co2_kg", "tokens"};
  for (const std::string& h : t.header()) {
    std::string name = ToLower(TrimView(h));
    if (std::find(kKnown.begin(), kKnown.end(), name) == kKnown.end()) {
      return InvalidInput(fmt::format("{}: line 1: unknown column '{}' (the generic format has {})", file, ForMessage(h),
                                      fmt::join(kKnown, ", ")));
    }
  }
  DLCOST_ASSIGN_OR_RETURN(size_t c_run, t.RequireColumn("run_name"));
  auto c_project = t.Column("project"), c_gpu = t.Column("gpu"), c_num = t.Column("num_gpus");
  auto c_start = t.Column("start"), c_end = t.Column("end"), c_dur = t.Column("duration_s");
  auto c_gh = t.Column("gpu_hours"), c_kwh = t.Column("energy_kwh"), c_usd = t.Column("usd");
  auto c_co2 = t.Column("co2_kg"), c_tokens = t.Column("tokens");
  ImportBatch batch;
  batch.importer = "csv";
  batch.file = file;
  batch.entries.reserve(t.rows().size());
  for (const CsvRow& row : t.rows()) {
    RowReader r(t, row);
    Entry e;
    e.kind = Kind::kActual;
    e.command = "import csv";
    e.source = fmt::format("{}:{}", file, row.line);
    std::optional<double> start, end;
    if (auto v = r.Text(c_run, "run_name")) e.run_name = *v;
    if (auto v = r.Text(c_project, "project")) e.project = o.project.empty() ? *v : o.project;
    if (auto v = r.Text(c_gpu, "gpu")) e.gpu = *v;
    r.Count(c_num, "num_gpus", &e.num_gpus) && r.Time(c_start, "start", &e.start, &start) &&
        r.Time(c_end, "end", &e.end, &end) && r.Number(c_dur, "duration_s", &e.metrics.wall_s, kMaxDurationS) &&
        r.Number(c_gh, "gpu_hours", &e.metrics.gpu_hours) && r.Number(c_kwh, "energy_kwh", &e.metrics.energy_kwh) &&
        r.Number(c_usd, "usd", &e.metrics.usd) && r.Number(c_co2, "co2_kg", &e.metrics.co2_kg) &&
        r.Number(c_tokens, "tokens", &e.metrics.tokens);
    if (r.error().empty()) {
      if (e.run_name.empty()) {
        r.Fail("column 'run_name' is empty");
      } else if (start && end && *end < *start) {
        r.Fail(fmt::format("'end' ({}) is before 'start' ({}): a negative duration", e.end, e.start));
      } else {
        if (!e.metrics.wall_s && start && end) e.metrics.wall_s = *end - *start;
        if (e.metrics.wall_s && *e.metrics.wall_s > kMaxDurationS) {
          r.Fail(fmt::format("'start' to 'end' is {:g} s, beyond {:g} s", *e.metrics.wall_s, kMaxDurationS));
        }
        if (!HasMeasure(e.metrics)) {
          r.Fail("no measured quantity (duration_s or start and end, gpu_hours, energy_kwh, usd, co2_kg, tokens)");
        }
      }
    }
    e.input_json = RowJson(t, row);
    e.source_key = RowKey("csv", e);
    DLCOST_RETURN_IF_ERROR(Finish(row, r.error(), o, &batch, std::move(e)));
  }
  return batch;
}

Result<ImportBatch> ParseCodeCarbonCsv(std::string_view text, const std::string& file, const ImportOptions& o) {
  DLCOST_ASSIGN_OR_RETURN(CsvTable t, CsvTable::Parse(text, file));
  std::string name_field = o.name_field.empty() ? "run_id" : o.name_field;
  // CodeCarbon's columns (its output/file.py writes them from EmissionsData): these are the ones
  // a ledger entry needs.
  size_t c_name = 0, c_ts = 0, c_dur = 0, c_kwh = 0, c_co2 = 0;
  for (auto [col, name] : {std::pair{&c_name, name_field.c_str()}, std::pair{&c_ts, "timestamp"}, std::pair{&c_dur, "duration"},
                           std::pair{&c_kwh, "energy_consumed"}, std::pair{&c_co2, "emissions"}}) {
    std::optional<size_t> c = t.Column(name);
    if (!c) {
      return InvalidInput(fmt::format("{}: line 1: no column '{}': not a CodeCarbon emissions.csv (it has timestamp, "
                                      "project_name, run_id, duration, emissions, energy_consumed, ...)",
                                      file, ForMessage(name)));
    }
    *col = *c;
  }
  auto c_run = t.Column("run_id"), c_project = t.Column("project_name");
  auto c_gpu_count = t.Column("gpu_count"), c_gpu_model = t.Column("gpu_model");
  ImportBatch batch;
  batch.importer = "codecarbon";
  batch.file = file;
  // CodeCarbon appends a row each time a tracker flushes; a run's last row holds its totals.
  // Rows are keyed by run_id and the last one wins.
  std::unordered_map<std::string, size_t> last_of_run;
  std::vector<std::pair<const CsvRow*, Entry>> rows;
  rows.reserve(t.rows().size());
  batch.entries.reserve(t.rows().size());
  for (const CsvRow& row : t.rows()) {
    RowReader r(t, row);
    Entry e;
    e.kind = Kind::kActual;
    e.command = "import codecarbon";
    e.source = fmt::format("{}:{}", file, row.line);
    std::optional<double> end;
    std::optional<double> gpu_count;
    std::string run_id;
    if (auto v = r.Text(c_name, name_field.c_str())) e.run_name = *v;
    if (auto v = r.Text(c_run, "run_id")) run_id = *v;
    if (auto v = r.Text(c_project, "project_name")) e.project = o.project.empty() ? *v : o.project;
    if (auto v = r.Text(c_gpu_model, "gpu_model")) {
      // "1 x NVIDIA A100-SXM4-40GB": the count is in gpu_count.
      std::string_view m = *v;
      size_t x = m.find(" x ");
      if (x != std::string_view::npos && x > 0 && std::all_of(m.begin(), m.begin() + x, [](char ch) { return ch >= '0' && ch <= '9'; })) {
        m.remove_prefix(x + 3);
      }
      e.gpu = std::string(m);
    }
    if (r.Time(c_ts, "timestamp", &e.end, &end) && r.Number(c_dur, "duration", &e.metrics.wall_s, kMaxDurationS) &&
        r.Number(c_kwh, "energy_consumed", &e.metrics.energy_kwh) && r.Number(c_co2, "emissions", &e.metrics.co2_kg) &&
        r.Number(c_gpu_count, "gpu_count", &gpu_count)) {
      if (e.run_name.empty()) {
        r.Fail(fmt::format("column '{}' is empty (it names the run)", name_field));
      } else if (!e.metrics.wall_s) {
        r.Fail("column 'duration' is empty");
      } else if (gpu_count && *gpu_count >= 1 && std::floor(*gpu_count) == *gpu_count && *gpu_count <= 1e9) {
        e.num_gpus = static_cast<int64_t>(*gpu_count);
      }
      if (end && e.metrics.wall_s) e.start = FormatIsoTime(*end - *e.metrics.wall_s);
    }
    e.input_json = RowJson(t, row);
    e.source_key = RowKey("codecarbon", e);
    if (!r.error().empty()) {
      DLCOST_RETURN_IF_ERROR(Finish(row, r.error(), o, &batch, std::move(e)));
      continue;
    }
    std::string key = (run_id.empty() ? e.run_name : run_id) + "\x1f" + e.project;
    auto [it, inserted] = last_of_run.emplace(key, rows.size());
    if (!inserted) {
      batch.skipped.push_back({rows[it->second].first->line,
                               fmt::format("superseded by line {} (a later row of the same run)", row.line)});
      rows[it->second].first = nullptr;
      it->second = rows.size();
    }
    rows.emplace_back(&row, std::move(e));
  }
  for (auto& [row, e] : rows) {
    if (row != nullptr) batch.entries.push_back(std::move(e));
  }
  std::sort(batch.skipped.begin(), batch.skipped.end(), [](const SkippedRow& a, const SkippedRow& b) { return a.line < b.line; });
  return batch;
}

Result<ImportBatch> ParseWandbCsv(std::string_view text, const std::string& file, const ImportOptions& o) {
  DLCOST_ASSIGN_OR_RETURN(CsvTable t, CsvTable::Parse(text, file));
  std::string name_field = o.name_field.empty() ? "Name" : o.name_field;
  std::optional<size_t> c_name = t.Column(name_field);
  auto c_runtime = t.Column("Runtime"), c_created = t.Column("Created"), c_end = t.Column("End Time");
  if (!c_name || (!c_runtime && !(c_created && c_end))) {
    return InvalidInput(fmt::format("{}: line 1: no column '{}': not a W&B runs table export (it has Name, "
                                    "State, Created, Runtime, ... and the config and summary columns shown)",
                                    file, !c_name ? ForMessage(name_field) : std::string("Runtime")));
  }
  auto c_state = t.Column("State"), c_id = t.Column("ID");
  // Config or summary columns under dlcost's names, as for MLflow's params and metrics.
  auto c_gpu = t.Column("gpu"), c_num = t.Column("num_gpus"), c_gh = t.Column("gpu_hours");
  auto c_kwh = t.Column("energy_kwh"), c_usd = t.Column("usd"), c_co2 = t.Column("co2_kg");
  auto c_tokens = t.Column("tokens"), c_tps = t.Column("tokens_per_s");
  ImportBatch batch;
  batch.importer = "wandb";
  batch.file = file;
  batch.entries.reserve(t.rows().size());
  for (const CsvRow& row : t.rows()) {
    RowReader r(t, row);
    std::optional<std::string> state = r.Text(c_state, "State");
    std::string st = state ? ToLower(*state) : std::string();
    // A run still going (or not started) has no final runtime yet: skipped, not an error.
    if (st == "running" || st == "pending" || st == "preempting") {
      batch.skipped.push_back({row.line, fmt::format("run not finished (State {})", *state)});
      continue;
    }
    Entry e;
    e.kind = Kind::kActual;
    e.command = "import wandb";
    e.source = fmt::format("{}:{}", file, row.line);
    e.project = o.project;
    std::optional<double> start, end;
    std::string run_id;
    if (auto v = r.Text(c_name, name_field.c_str())) e.run_name = *v;
    if (auto v = r.Text(c_id, "ID")) run_id = *v;
    if (auto v = r.Text(c_gpu, "gpu")) e.gpu = *v;
    r.Time(c_created, "Created", &e.start, &start) && r.Time(c_end, "End Time", &e.end, &end) &&
        r.Number(c_runtime, "Runtime", &e.metrics.wall_s, kMaxDurationS) && r.Count(c_num, "num_gpus", &e.num_gpus) &&
        r.Number(c_gh, "gpu_hours", &e.metrics.gpu_hours) && r.Number(c_kwh, "energy_kwh", &e.metrics.energy_kwh) &&
        r.Number(c_usd, "usd", &e.metrics.usd) && r.Number(c_co2, "co2_kg", &e.metrics.co2_kg) &&
        r.Number(c_tokens, "tokens", &e.metrics.tokens) && r.Number(c_tps, "tokens_per_s", &e.metrics.tokens_per_s);
    if (r.error().empty()) {
      if (e.run_name.empty()) {
        r.Fail(fmt::format("column '{}' is empty (it names the run)", name_field));
      } else if (start && end && *end < *start) {
        r.Fail(fmt::format("'End Time' ({}) is before 'Created' ({}): a negative duration", e.end, e.start));
      } else {
        if (!e.metrics.wall_s && start && end) e.metrics.wall_s = *end - *start;
        if (e.metrics.wall_s && *e.metrics.wall_s > kMaxDurationS) {
          r.Fail(fmt::format("'Created' to 'End Time' is {:g} s, beyond {:g} s", *e.metrics.wall_s, kMaxDurationS));
        } else if (!HasMeasure(e.metrics)) {
          r.Fail("no measured quantity (Runtime, or Created and End Time, or a gpu_hours, energy_kwh, usd, co2_kg, "
                 "tokens or tokens_per_s column)");
        }
      }
      if (start && e.metrics.wall_s && e.end.empty()) e.end = FormatIsoTime(*start + *e.metrics.wall_s);
    }
    e.input_json = RowJson(t, row);
    // W&B run names repeat (a script's runs may share one): a run's id is unique in its project
    // and keys it when the export shows it; else its name, times and figures do.
    e.source_key = run_id.empty() ? RowKey("wandb", e) : "wandb:" + Digest("id\x1f" + e.project + "\x1f" + run_id);
    DLCOST_RETURN_IF_ERROR(Finish(row, r.error(), o, &batch, std::move(e)));
  }
  return batch;
}

}  // namespace dlcost::ledger
