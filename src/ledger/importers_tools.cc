// Importers of the tools' own files (docs/ledger.md, "Importing actuals"): Slurm accounting
// (`sacct --parsable2`) and MLflow's file store (`mlruns/`).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "dlcost/ledger.h"
#include "common/csv.h"
#include "dlcost/strings.h"
#include "ledger/importer_util.h"
#include "ledger/time.h"

namespace dlcost::ledger {
namespace fs = std::filesystem;
namespace {

// "[DD-][HH:]MM:SS" (sacct's Elapsed) in seconds, or nullopt.
std::optional<double> ParseElapsed(std::string_view s) {
  double days = 0;
  size_t dash = s.find('-');
  if (dash != std::string_view::npos) {
    std::optional<double> d = ParseNonNegativeNumber(s.substr(0, dash));
    if (!d || std::floor(*d) != *d) return std::nullopt;
    days = *d;
    s.remove_prefix(dash + 1);
  }
  std::vector<std::string> parts = Split(s, ':');
  if (parts.size() < 2 || parts.size() > 3) return std::nullopt;
  double total = 0;
  for (const std::string& p : parts) {
    std::optional<double> v = ParseNonNegativeNumber(p);
    if (!v || p.empty()) return std::nullopt;
    total = total * 60 + *v;
  }
  return days * 86400 + total;
}

// The GPU count and type in sacct's AllocTRES ("cpu=16,gres/gpu:a100=4,gres/gpu=4,mem=64G").
void ParseTres(std::string_view tres, std::optional<int64_t>* gpus, std::string* gpu_type) {
  for (const std::string& item : Split(tres, ',')) {
    std::string_view it = item;
    size_t eq = it.find('=');
    if (eq == std::string_view::npos) continue;
    // gres/gpu=N or gres/gpu:TYPE=N; not gres/gpumem or gres/gpuutil (newer Slurm's GPU figures).
    std::string_view key = it.substr(0, eq);
    if (key != "gres/gpu" && key.rfind("gres/gpu:", 0) != 0) continue;
    std::optional<double> n = ParseNonNegativeNumber(it.substr(eq + 1));
    if (!n || *n < 1 || std::floor(*n) != *n || *n > 1e9) continue;
    std::string_view name = it.substr(0, eq);
    if (name.size() > 9 && name[8] == ':') {
      *gpu_type = std::string(name.substr(9));
    }
    *gpus = static_cast<int64_t>(*n);
  }
}

std::optional<std::string> ReadSmallFile(const fs::path& p, std::string* error) {
  std::error_code ec;
  uintmax_t size = fs::file_size(p, ec);
  if (ec) {
    *error = fmt::format("{}: cannot read: {}", p.string(), ec.message());
    return std::nullopt;
  }
  if (size > (64u << 20)) {
    *error = fmt::format("{}: larger than 64 MiB", p.string());
    return std::nullopt;
  }
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) {
    *error = fmt::format("{}: cannot read", p.string());
    return std::nullopt;
  }
  return ss.str();
}

}  // namespace

Result<ImportBatch> ParseSlurmSacct(std::string_view text, const std::string& file, const ImportOptions& o) {
  text = SkipUtf8Bom(text);
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  if (lines.empty() || lines[0].find('|') == std::string_view::npos) {
    return InvalidInput(fmt::format("{}: line 1: not sacct --parsable2 output (a '|'-separated header such as "
                                    "JobID|JobName|Elapsed|Start|End|AllocTRES)",
                                    file));
  }
  std::vector<std::string> header = Split(lines[0], '|');
  auto col = [&](std::string_view name) -> std::optional<size_t> {
    for (size_t i = 0; i < header.size(); ++i) {
      if (ToLower(TrimView(header[i])) == ToLower(name)) return i;
    }
    return std::nullopt;
  };
  std::string name_field = o.name_field.empty() ? "JobName" : o.name_field;
  auto c_name = col(name_field), c_id = col("JobID"), c_elapsed = col("Elapsed"), c_raw = col("ElapsedRaw");
  auto c_start = col("Start"), c_end = col("End"), c_tres = col("AllocTRES"), c_account = col("Account");
  auto c_state = col("State");
  if (!c_name) return InvalidInput(fmt::format("{}: line 1: no column '{}' (it names the run)", file, ForMessage(name_field)));
  if (!c_elapsed && !c_raw && !(c_start && c_end)) {
    return InvalidInput(fmt::format("{}: line 1: no Elapsed, ElapsedRaw, or Start and End column: no duration to import", file));
  }
  ImportBatch batch;
  batch.importer = "slurm";
  batch.file = file;
  for (size_t li = 1; li < lines.size(); ++li) {
    std::string_view line = lines[li];
    if (TrimView(line).empty()) continue;
    int64_t line_no = static_cast<int64_t>(li + 1);
    std::vector<std::string> f = Split(line, '|');
    auto get = [&](std::optional<size_t> c) -> std::string {
      return c && *c < f.size() ? std::string(TrimView(f[*c])) : std::string();
    };
    std::string error;
    auto fail = [&](std::string m) {
      if (error.empty()) error = fmt::format("{}: line {}: {}", file, line_no, m);
    };
    if (f.size() != header.size()) {
      fail(fmt::format("{} fields, the header has {}", f.size(), header.size()));
    }
    std::string job_id = get(c_id);
    // Job steps (123.batch, 123.0, 123.extern) repeat their job's time: only the job row counts.
    if (error.empty() && job_id.find('.') != std::string::npos) {
      batch.skipped.push_back({line_no, fmt::format("job step {} (its job's row counts)", ForMessage(job_id))});
      continue;
    }
    Entry e;
    e.kind = Kind::kActual;
    e.command = "import slurm";
    e.source = fmt::format("{}:{}", file, line_no);
    for (size_t i = 0; i < f.size() && i < header.size(); ++i) {
      if (!IsValidUtf8(f[i])) fail(fmt::format("column '{}' is not valid UTF-8", ForMessage(header[i])));
    }
    std::string state = ToLower(get(c_state));
    if (error.empty()) {
      e.run_name = get(c_name);
      e.project = o.project.empty() ? get(c_account) : o.project;
      ParseTres(get(c_tres), &e.num_gpus, &e.gpu);
      std::string s = get(c_start), en = get(c_end);
      std::optional<double> ts, te;
      if (!s.empty() && s != "Unknown" && s != "None") {
        ts = ParseIsoTime(s);
        if (!ts) fail(fmt::format("column 'Start': '{}' is not a time", ForMessage(s)));
        e.start = s;
      }
      if (!en.empty() && en != "Unknown" && en != "None") {
        te = ParseIsoTime(en);
        if (!te) fail(fmt::format("column 'End': '{}' is not a time", ForMessage(en)));
        e.end = en;
      }
      if (std::string raw = get(c_raw); !raw.empty()) {
        e.metrics.wall_s = ParseNonNegativeNumber(raw);
        if (!e.metrics.wall_s) fail(fmt::format("column 'ElapsedRaw': '{}' is not a number of seconds", ForMessage(raw)));
      } else if (std::string el = get(c_elapsed); !el.empty()) {
        e.metrics.wall_s = ParseElapsed(el);
        if (!e.metrics.wall_s) fail(fmt::format("column 'Elapsed': '{}' is not [DD-]HH:MM:SS", ForMessage(el)));
      } else if (ts && te) {
        if (*te < *ts) fail("'End' is before 'Start': a negative duration");
        e.metrics.wall_s = *te - *ts;
      }
      if (error.empty() && e.metrics.wall_s && *e.metrics.wall_s > kMaxDurationS) {
        fail(fmt::format("a duration of {:g} s is beyond {:g} s", *e.metrics.wall_s, kMaxDurationS));
      }
      if (error.empty()) {
        if (e.run_name.empty()) {
          fail(fmt::format("column '{}' is empty (it names the run)", name_field));
        } else if (state.rfind("running", 0) == 0 || state.rfind("pending", 0) == 0 || e.end.empty()) {
          batch.skipped.push_back({line_no, fmt::format("job {} has not finished (state {})", ForMessage(job_id),
                                                        state.empty() ? "unknown" : ForMessage(state))});
          continue;
        } else if (!e.metrics.wall_s) {
          fail("no duration (Elapsed, ElapsedRaw, or Start and End)");
        }
      }
    }
    e.input_json = "{\"sacct\":" + JsonString(std::string(line)) + "}";
    e.source_key = RowKey("slurm", e) + (job_id.empty() ? "" : ":" + job_id);
    if (!error.empty()) {
      if (!o.skip_bad_rows) return InvalidInput(error);
      batch.skipped.push_back({line_no, error});
      continue;
    }
    batch.entries.push_back(std::move(e));
  }
  return batch;
}

Result<ImportBatch> ParseMlflowStore(const std::string& dir, const ImportOptions& o) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return InvalidInput(fmt::format("{}: not a folder (give MLflow's file store, the mlruns folder, or one experiment's folder)", dir));
  }
  // The store's experiment folders, or the folder itself when it is one experiment.
  std::vector<fs::path> experiments;
  if (fs::exists(fs::path(dir) / "meta.yaml", ec)) {
    experiments.push_back(dir);
  } else {
    for (const fs::directory_entry& d : fs::directory_iterator(dir, ec)) {
      std::string name = d.path().filename().string();
      if (d.is_directory(ec) && name != ".trash" && name != "models" && fs::exists(d.path() / "meta.yaml", ec)) {
        experiments.push_back(d.path());
      }
    }
    if (ec) return InvalidInput(fmt::format("{}: cannot list: {}", dir, ec.message()));
  }
  if (experiments.empty()) {
    return InvalidInput(fmt::format("{}: no experiment folder with a meta.yaml: not an MLflow file store", dir));
  }
  std::sort(experiments.begin(), experiments.end());
  ImportBatch batch;
  batch.importer = "mlflow";
  batch.file = dir;
  for (const fs::path& exp : experiments) {
    std::string error;
    std::optional<std::string> exp_meta = ReadSmallFile(exp / "meta.yaml", &error);
    if (!exp_meta) return InvalidInput(error);
    std::map<std::string, std::string> em = ParseFlatYaml(*exp_meta);
    if (em["lifecycle_stage"] == "deleted") continue;
    std::string project = o.project.empty() ? em["name"] : o.project;
    std::vector<fs::path> runs;
    for (const fs::directory_entry& d : fs::directory_iterator(exp, ec)) {
      if (d.is_directory(ec) && fs::exists(d.path() / "meta.yaml", ec)) runs.push_back(d.path());
    }
    std::sort(runs.begin(), runs.end());
    for (const fs::path& run : runs) {
      std::string where = (run / "meta.yaml").string();
      std::optional<std::string> meta = ReadSmallFile(run / "meta.yaml", &error);
      if (!meta) return InvalidInput(error);
      std::map<std::string, std::string> m = ParseFlatYaml(*meta);
      std::string run_error;
      auto fail = [&](std::string msg) {
        if (run_error.empty()) run_error = fmt::format("{}: {}", where, msg);
      };
      if (m["lifecycle_stage"] == "deleted") continue;
      Entry e;
      e.kind = Kind::kActual;
      e.command = "import mlflow";
      e.project = project;
      e.source = run.string();
      std::string run_id = m["run_id"].empty() ? run.filename().string() : m["run_id"];
      // The run's name: the mlflow.runName tag, else meta.yaml's run_name, else its id.
      std::string tag_name;
      if (fs::exists(run / "tags" / "mlflow.runName", ec)) {
        std::optional<std::string> t = ReadSmallFile(run / "tags" / "mlflow.runName", &error);
        if (!t) return InvalidInput(error);
        tag_name = std::string(TrimView(*t));
      }
      e.run_name = !tag_name.empty() ? tag_name : !m["run_name"].empty() ? m["run_name"] : run_id;
      // 1 RUNNING, 2 SCHEDULED, 3 FINISHED, 4 FAILED, 5 KILLED (mlflow.entities.RunStatus).
      std::string status = m["status"];
      if (status == "1" || status == "2" || status == "RUNNING" || status == "SCHEDULED" || m["end_time"].empty() ||
          m["end_time"] == "null") {
        batch.skipped.push_back({0, fmt::format("{}: run {} has not finished", where, ForMessage(run_id))});
        continue;
      }
      std::optional<double> t0 = ParseNonNegativeNumber(m["start_time"]), t1 = ParseNonNegativeNumber(m["end_time"]);
      if (!t0 || !t1) {
        fail("start_time and end_time must be milliseconds since 1970");
      } else if (*t1 < *t0) {
        fail("end_time is before start_time: a negative duration");
      } else if ((*t1 - *t0) / 1000.0 > kMaxDurationS) {
        fail(fmt::format("a duration of {:g} s is beyond {:g} s", (*t1 - *t0) / 1000.0, kMaxDurationS));
      } else {
        e.metrics.wall_s = (*t1 - *t0) / 1000.0;
        e.start = FormatIsoTime(*t0 / 1000.0);
        e.end = FormatIsoTime(*t1 / 1000.0);
      }
      // Params and metrics that carry a ledger field under its own name.
      auto value_of = [&](const char* name) -> std::optional<std::string> {
        for (const char* sub : {"metrics", "params"}) {
          fs::path p = run / sub / name;
          if (!fs::exists(p, ec)) continue;
          std::optional<std::string> t = ReadSmallFile(p, &error);
          if (!t) {
            fail(error);
            return std::nullopt;
          }
          if (std::string(sub) == "params") return std::string(TrimView(*t));
          // A metric file: "timestamp value step" per line; the last line is the latest value.
          std::string last;
          for (const std::string& line : Split(*t, '\n')) {
            if (!TrimView(line).empty()) last = std::string(TrimView(line));
          }
          std::vector<std::string> parts = Split(last, ' ');
          if (parts.size() < 2) {
            fail(fmt::format("{}: not MLflow's 'timestamp value step' lines", p.string()));
            return std::nullopt;
          }
          return parts[1];
        }
        return std::nullopt;
      };
      auto number = [&](const char* name, std::optional<double>* out) {
        std::optional<std::string> v = value_of(name);
        if (!v) return;
        *out = ParseNonNegativeNumber(*v);
        if (!*out || **out > kMaxQuantity) {
          fail(fmt::format("{} '{}' is not a non-negative number up to {:g}", name, ForMessage(*v), kMaxQuantity));
          out->reset();
        }
      };
      number("gpu_hours", &e.metrics.gpu_hours);
      number("energy_kwh", &e.metrics.energy_kwh);
      number("usd", &e.metrics.usd);
      number("co2_kg", &e.metrics.co2_kg);
      number("tokens", &e.metrics.tokens);
      number("tokens_per_s", &e.metrics.tokens_per_s);
      if (std::optional<std::string> g = value_of("gpu")) e.gpu = *g;
      std::optional<double> n;
      number("num_gpus", &n);
      if (n && (*n < 1 || std::floor(*n) != *n || *n > 1e9)) {
        fail("num_gpus is not a whole number >= 1");
      } else if (n) {
        e.num_gpus = static_cast<int64_t>(*n);
      }
      for (const std::string* s : {&e.run_name, &e.project, &e.gpu}) {
        if (!IsValidUtf8(*s)) fail("a name is not valid UTF-8");
      }
      e.input_json = "{\"mlflow_run_id\":" + JsonString(IsValidUtf8(run_id) ? run_id : ForMessage(run_id)) + "}";
      e.source_key = RowKey("mlflow", e) + ":" + Digest(run_id);
      if (!run_error.empty()) {
        if (!o.skip_bad_rows) return InvalidInput(run_error);
        batch.skipped.push_back({0, run_error});
        continue;
      }
      batch.entries.push_back(std::move(e));
    }
  }
  return batch;
}

}  // namespace dlcost::ledger
