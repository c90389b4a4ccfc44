// The cost ledger: recorded estimates beside imported actuals, budgets, and the comparison of
// the two (docs/ledger.md).
//
// A Ledger is one SQLite database file (WAL journal, busy timeout, every write one transaction,
// schema versioned by PRAGMA user_version and marked as dlcost's by PRAGMA application_id, so a
// foreign or corrupt file is refused, never written).
//
//   DLCOST_ASSIGN_OR_RETURN(ledger::Ledger db, ledger::Ledger::Open("ledger.db"));
//   ledger::Entry e; e.kind = ledger::Kind::kEstimate; e.run_name = "r1"; e.metrics.usd = 1200;
//   DLCOST_ASSIGN_OR_RETURN(std::string id, db.Add(e));
//   DLCOST_ASSIGN_OR_RETURN(ledger::ImportBatch batch, ledger::ParseGenericCsv(text, "runs.csv", {}));
//   DLCOST_ASSIGN_OR_RETURN(ledger::ImportCounts n, db.Import(batch));
//   ledger::Comparison c = ledger::Compare(db.List({}).value(), db.Links().value());
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dlcost/status.h"

namespace dlcost::ledger {

enum class Kind { kEstimate, kActual };
const char* KindName(Kind k);  // "estimate", "actual"

// What a run cost or was estimated to cost. Every field is optional: importers fill what the
// file has, estimates what the command printed.
struct Metrics {
  std::optional<double> wall_s;        // wall-clock seconds of the run
  std::optional<double> gpu_hours;
  std::optional<double> energy_kwh;
  std::optional<double> usd;
  std::optional<double> co2_kg;
  std::optional<double> tokens;        // tokens processed (trained on, or generated)
  std::optional<double> tokens_per_s;  // throughput; an actual's is tokens / wall_s when not given
};

// The metrics `ledger compare` compares, in its order, with their JSON names.
inline constexpr const char* kComparedMetrics[] = {"wall_s", "gpu_hours", "energy_kwh", "usd", "co2_kg", "tokens_per_s"};
std::optional<double> MetricByName(const Metrics& m, std::string_view name);

struct Entry {
  std::string id;  // set by the ledger: "e-" or "a-" and 12 hex digits
  Kind kind = Kind::kActual;
  std::string project, run_name;
  std::string created_at;  // set by the ledger: UTC, ISO 8601 ("2026-12-07T10:00:00Z")
  std::string command;     // estimates: train, infer, plan, budget, tco; actuals: the importer
  std::string gpu;
  std::optional<int64_t> num_gpus;
  std::string start, end;  // ISO 8601 as given (actuals)
  Metrics metrics;
  std::vector<std::pair<std::string, std::string>> tags;
  std::string input_json;   // estimates: the command line and its context; actuals: the source row
  std::string result_json;  // estimates: the command's JSON output
  std::string source;       // actuals: "file:line"
  std::string source_key;   // actuals: a digest of the row; the same row is imported once
};

// One file read by an importer: the rows to add and the rows it skipped, with why.
struct SkippedRow {
  int64_t line = 0;  // 0: not a line of a file (an MLflow run: the reason names its folder)
  std::string reason;
};
struct ImportBatch {
  std::string importer, file;
  std::vector<Entry> entries;
  std::vector<SkippedRow> skipped;
};
struct ImportCounts {
  int64_t added = 0;
  int64_t already_there = 0;  // rows imported before (same digest)
};

struct ListFilter {
  std::string id;       // empty: all
  std::string project;  // empty: all
  std::string run_name;
  std::optional<Kind> kind;
};

struct Link {
  std::string estimate_id, actual_id;
};

enum class Period { kMonth, kQuarter, kTotal };
const char* PeriodName(Period p);
Result<Period> ParsePeriod(const std::string& text);

struct Budget {
  std::string project;
  double usd = 0;
  Period period = Period::kTotal;
  std::string set_at;
};

class Backend;  // the store behind a Ledger (src/ledger/backend.h)

class Ledger {
 public:
  // Opens (and on first use creates) the ledger at `path`: a SQLite file, or a
  // postgresql://user:password@host:port/database URL. A file that is not a SQLite database, or a
  // database that is not a dlcost ledger, is InvalidInput and is left untouched; one made by a
  // newer dlcost (higher schema version) too. A PostgreSQL server that cannot be reached is
  // Unavailable; refused credentials are InvalidInput.
  static Result<Ledger> Open(const std::string& path);
  ~Ledger();
  Ledger(Ledger&&) noexcept;
  Ledger& operator=(Ledger&&) noexcept;

  const std::string& path() const;

  // Adds one entry (id and created_at are set here) and returns its id.
  Result<std::string> Add(const Entry& e);
  // Adds every entry of `batch` in one transaction: all or nothing. Rows whose source_key is
  // already in the ledger are counted, not added again.
  Result<ImportCounts> Import(const ImportBatch& batch);

  Result<std::vector<Entry>> List(const ListFilter& f) const;  // oldest first
  Result<Entry> Get(const std::string& id) const;              // NotFound when absent
  Result<std::vector<Link>> Links() const;
  // Links an estimate to an actual explicitly (replacing a link the actual had).
  Status AddLink(const std::string& estimate_id, const std::string& actual_id);

  Status SetBudget(const Budget& b);
  Result<std::vector<Budget>> Budgets(const std::string& project) const;  // empty project: all

  // PRAGMA integrity_check: "ok" or the first problems SQLite found.
  Result<std::string> IntegrityCheck() const;

 private:
  explicit Ledger(std::unique_ptr<Backend> impl);
  std::unique_ptr<Backend> impl_;
};

// The ledger `--db` names when none is given: $DLCOST_LEDGER, else $XDG_DATA_HOME/dlcost/ledger.db,
// else $HOME/.local/share/dlcost/ledger.db.
Result<std::string> DefaultLedgerPath();

// ---- Importers (docs/ledger.md, "Importing actuals") ----
struct ImportOptions {
  std::string project;      // overrides the file's project (or sets it when the file has none)
  std::string name_field;   // the column that names the run (codecarbon: run_id; slurm: JobName; wandb: Name)
  bool skip_bad_rows = false;  // skip and report rows with bad fields instead of failing
};
// dlcost's generic CSV: run_name (required), project, gpu, num_gpus, start, end, duration_s,
// gpu_hours, energy_kwh, usd, co2_kg, tokens; at least one measured quantity per row.
Result<ImportBatch> ParseGenericCsv(std::string_view text, const std::string& file, const ImportOptions& o);
// CodeCarbon's emissions.csv (timestamp, project_name, run_id, duration, emissions,
// energy_consumed, gpu_count, gpu_model, ...).
Result<ImportBatch> ParseCodeCarbonCsv(std::string_view text, const std::string& file, const ImportOptions& o);
// Slurm accounting, `sacct --parsable2` ('|'-separated, header first): JobID, JobName (or the
// column name_field names), Elapsed or ElapsedRaw (or Start and End), Start, End, AllocTRES
// (gres/gpu[:TYPE]=N), Account, State. Job steps and unfinished jobs are skipped.
Result<ImportBatch> ParseSlurmSacct(std::string_view text, const std::string& file, const ImportOptions& o);
// MLflow's file store: `dir` is an mlruns folder or one experiment's folder. Runs are named by
// their mlflow.runName tag; params or metrics named gpu, num_gpus, gpu_hours, energy_kwh, usd,
// co2_kg, tokens fill those fields. Unfinished and deleted runs are skipped.
Result<ImportBatch> ParseMlflowStore(const std::string& dir, const ImportOptions& o);
// A Weights & Biases runs table exported as CSV (the runs table's CSV download): Name (or the
// column name_field names), State, Created, Runtime (seconds), End Time, ID, and config or
// summary columns named gpu, num_gpus, gpu_hours, energy_kwh, usd, co2_kg, tokens. Runs still
// running or pending are skipped.
Result<ImportBatch> ParseWandbCsv(std::string_view text, const std::string& file, const ImportOptions& o);

// ---- Comparison ----
struct Pair {
  std::string estimate_id, actual_id, run_name, project, metric;
  double estimated = 0, actual = 0, rel_error = 0;  // rel_error = (estimated - actual) / actual
};
struct MetricSummary {
  std::string metric;
  int64_t n = 0;
  double mape_pct = 0, bias_pct = 0;
};
struct Comparison {
  std::vector<Pair> pairs;
  std::vector<MetricSummary> summary;  // metrics with at least one pair, in kComparedMetrics order
  int64_t actuals_unmatched = 0;       // actuals with no estimate of their run
};
// Pairs every actual with its estimate: the explicit link when there is one, else the latest
// estimate with the same run name (and the same project when both name one). `project` filters.
Comparison Compare(const std::vector<Entry>& entries, const std::vector<Link>& links, const std::string& project);

// ---- Learning from history ----
// A correction of the estimator's run time per GPU type, fitted from pairs: time_factor =
// exp(mean ln(actual / estimated)) over the group's wall-time pairs (GPU-hours where a pair has
// no wall time), and its leave-one-out error (docs/ledger.md, "Fit").
struct FitGroup {
  std::string key;      // GPU id of the estimates
  std::string cluster;  // by_cluster: the estimates' cluster tag
  int64_t pairs = 0;
  double time_factor = 1;
  double sd_log = 0;                       // standard deviation of ln(actual / estimated); 0 with 1 pair
  double mape_before_pct = 0;              // the estimates as they were
  std::optional<double> loo_mape_pct;      // each pair corrected by the factor of the others (>= 2 pairs)
  // The time factor's two parts, from the runs whose actual reports tokens/s: the steady step
  // (estimated / actual tokens/s) and the rest of the run (time factor / step factor: failures,
  // restarts, evaluation, stalls the goodput model missed). Their product is the time factor
  // over those runs.
  int64_t step_pairs = 0;
  std::optional<double> step_time_factor, goodput_factor;
  double step_sd_log = 0, goodput_sd_log = 0;  // their spreads (standard deviations of the logs; 0 with 1 run)
  double before_ape_sum = 0, loo_ape_sum = 0;  // sums of the APEs behind the two MAPEs
};
struct FitResult {
  std::vector<FitGroup> groups;  // by key
  int64_t pairs = 0;
  int64_t loo_pairs = 0;               // pairs in groups of >= 2
  double mape_before_pct = 0;          // over loo_pairs
  double loo_mape_pct = 0;             // over loo_pairs
  int64_t pairs_without_cluster = 0;   // by_cluster: runs left out, their estimate has no cluster tag
};
// `cluster`: only estimates tagged cluster=<it> (one profile per cluster); empty: all.
// `by_cluster`: one group per cluster tag and GPU (side by side), sorted by cluster then GPU.
FitResult FitCorrections(const std::vector<Entry>& entries, const std::vector<Link>& links, const std::string& project,
                         const std::string& cluster, bool by_cluster = false);

// ---- Budgets ----
struct BudgetStatus {
  Budget budget;
  std::string window_start, window_end;  // the period's bounds (UTC), empty for total
  double spent = 0;       // actuals' usd in the window
  double committed = 0;   // the latest estimate of each named run without an actual, in the window
  double left = 0;        // budget - spent - committed
  int64_t actuals_without_usd = 0;
  bool exceeded = false;        // spent > budget
  bool over_committed = false;  // spent + committed > budget
};
// `now` is a UTC ISO 8601 time (tests pass a fixed one). `replacing_run`: a run name being
// planned again, whose earlier estimate is left out of the committed sum.
BudgetStatus CheckBudget(const Budget& b, const std::vector<Entry>& entries, const std::vector<Link>& links,
                         const std::string& now, const std::string& replacing_run = "");

// The current time, UTC, ISO 8601 with a Z.
std::string NowUtc();

}  // namespace dlcost::ledger
