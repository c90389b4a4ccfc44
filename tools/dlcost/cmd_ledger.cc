// dlcost ledger: recorded estimates beside imported actual runs, their comparison and budgets
// (docs/ledger.md). Exit 0 ok, 1 bad input, 2 usage, 4 ledger locked or unavailable, 5 a budget
// exceeded (ledger budget check).
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "cli_common.h"
#include "dlcost/api_ledger.h"

namespace dlcost::cli {
namespace {

constexpr int kExitBudgetExceeded = 5;  // the code drift uses for a crossed threshold (issue 18)

void AddDb(CLI::App* cmd, std::string* db) {
  cmd->add_option("--db", *db, "Ledger file or postgresql:// URL (default $DLCOST_LEDGER, else $XDG_DATA_HOME/dlcost/ledger.db)");
}

// Prints a result: `json(value)` (an exact JSON contract) with --format json, else the report
// `report(value)` in the chosen format. The exit code.
template <typename T, typename JsonFn, typename ReportFn>
int EmitResult(const GlobalOptions& g, const Result<T>& r, JsonFn&& json, ReportFn&& report) {
  if (!r.ok()) return Fail(r.status());
  return g.format == "json" ? EmitText(json(*r), g) : Emit(report(*r), g);
}

void RegisterList(CLI::App* ledger, GlobalOptions& g, int* exit_code) {
  {
    auto* cmd = ledger->add_subcommand("list", "List the entries, oldest first");
    auto a = std::make_shared<api::LedgerListRequest>();
    AddDb(cmd, &a->db);
    cmd->add_option("--project", a->project, "Only this project");
    cmd->add_option("--run-name", a->run_name, "Only this run name");
    cmd->add_option("--kind", a->kind, "Only estimate or actual entries");
    AddOutputOptions(cmd, g);
    cmd->callback([&g, exit_code, a] {
      *exit_code = EmitResult(g, api::LedgerList(*a), api::LedgerListJson, api::LedgerListReport);
    });
  }
  {
    auto* cmd = ledger->add_subcommand("show", "One entry with its full input and result");
    auto db = std::make_shared<std::string>();
    auto id = std::make_shared<std::string>();
    cmd->add_option("id", *id, "Entry id (dlcost ledger list)")->required();
    AddDb(cmd, db.get());
    AddOutputOptions(cmd, g);
    cmd->callback([&g, exit_code, db, id] {
      *exit_code = EmitResult(g, api::LedgerShow(*db, *id), api::LedgerEntryJson, api::LedgerEntryReport);
    });
  }
}

// import, link and compare: actual runs in, pairs out.
void RegisterActuals(CLI::App* ledger, GlobalOptions& g, int* exit_code) {
  {
    auto* cmd = ledger->add_subcommand(
        "import",
        "Import actual runs: csv (dlcost's generic format), codecarbon (emissions.csv), slurm (sacct --parsable2 "
        "output), mlflow (an mlruns folder), wandb (a W&B runs table exported as CSV)");
    auto a = std::make_shared<api::LedgerImportRequest>();
    cmd->add_option("importer", a->importer, "csv, codecarbon, slurm, mlflow or wandb")->required();
    cmd->add_option("file", a->file, "The file to read (mlflow: the mlruns folder)")->required();
    AddDb(cmd, &a->db);
    cmd->add_option("--project", a->project, "Project of every imported run (overrides the file's)");
    cmd->add_option("--name-field", a->name_field, "codecarbon, slurm, wandb: the column that names the run (default run_id, JobName, Name)");
    cmd->add_flag("--skip-bad-rows", a->skip_bad_rows, "Skip and report rows with bad fields instead of importing nothing");
    AddOutputOptions(cmd, g);
    cmd->callback([&g, exit_code, a] {
      Result<api::LedgerImportResult> r = api::LedgerImport(*a);
      if (!r.ok()) {
        *exit_code = Fail(r.status());
        return;
      }
      *exit_code = Emit(api::LedgerImportReport(*r), g);
    });
  }
  {
    auto* cmd = ledger->add_subcommand("link", "Pair an actual run with an estimate explicitly");
    auto db = std::make_shared<std::string>();
    auto est = std::make_shared<std::string>();
    auto act = std::make_shared<std::string>();
    cmd->add_option("estimate", *est, "Estimate id")->required();
    cmd->add_option("actual", *act, "Actual id")->required();
    AddDb(cmd, db.get());
    cmd->callback([exit_code, db, est, act] {
      Status st = api::LedgerLink(*db, *est, *act);
      *exit_code = st.ok() ? 0 : Fail(st);
      if (st.ok()) std::printf("linked actual %s to estimate %s\n", act->c_str(), est->c_str());
    });
  }
  {
    auto* cmd = ledger->add_subcommand("compare", "Estimated against actual, per run and metric, with MAPE and bias");
    auto a = std::make_shared<api::LedgerCompareRequest>();
    AddDb(cmd, &a->db);
    cmd->add_option("--project", a->project, "Only this project");
    AddOutputOptions(cmd, g);
    cmd->callback([&g, exit_code, a] {
      *exit_code = EmitResult(g, api::LedgerCompare(*a), api::LedgerCompareJson, api::LedgerCompareReport);
    });
  }
}

void RegisterBudgets(CLI::App* ledger, GlobalOptions& g, int* exit_code) {
  {
    auto* budget = ledger->add_subcommand("budget", "Budgets per project: set one, or check spending against them");
    budget->require_subcommand(1);
    auto* set = budget->add_subcommand("set", "Set (or replace) a project's budget");
    auto s = std::make_shared<api::LedgerBudgetSetRequest>();
    AddDb(set, &s->db);
    set->add_option("--project", s->project, "Project")->required();
    set->add_option("--usd", s->usd, "Budget in US dollars")->required();
    set->add_option("--period", s->period, "month, quarter or total")->capture_default_str();
    set->callback([exit_code, s] {
      Status st = api::LedgerBudgetSet(*s);
      *exit_code = st.ok() ? 0 : Fail(st);
      if (st.ok()) std::printf("budget of project %s: $%s per %s\n", s->project.c_str(), s->usd.c_str(), s->period.c_str());
    });
    auto* check = budget->add_subcommand("check", "Spent, committed and left per budget; exit 5 when one is exceeded");
    auto c = std::make_shared<api::LedgerBudgetCheckRequest>();
    AddDb(check, &c->db);
    check->add_option("--project", c->project, "Only this project");
    check->add_option("--now", c->now, "Check as of this UTC time (ISO 8601; default now)");
    AddOutputOptions(check, g);
    check->callback([&g, exit_code, c] {
      Result<api::LedgerBudgetCheckResult> r = api::LedgerBudgetCheck(*c);
      if (!r.ok()) {
        *exit_code = Fail(r.status());
        return;
      }
      int rc = Emit(api::LedgerBudgetReport(*r), g);
      *exit_code = rc != 0 ? rc : r->exceeded ? kExitBudgetExceeded : 0;
    });
  }
}

// fit and check: what the history teaches, and whether the file is sound.
void RegisterFitAndCheck(CLI::App* ledger, GlobalOptions& g, int* exit_code) {
  {
    auto* cmd = ledger->add_subcommand(
        "fit", "Learn a run-time correction per GPU from the pairs and write it into a profile --calibration reads");
    auto a = std::make_shared<api::LedgerFitRequest>();
    auto out = std::make_shared<std::string>();
    AddDb(cmd, &a->db);
    cmd->add_option("--profile-out", *out,
                    "Write the corrected efficiency profile here (atomically); with --by cluster a path with {cluster}, "
                    "one profile per cluster")
        ->required();
    cmd->add_option("--project", a->project, "Only this project's runs");
    cmd->add_option("--cluster", a->cluster, "Only estimates tagged cluster=NAME (one profile per cluster)");
    cmd->add_option("--by", a->by, "gpu, or cluster: every cluster=NAME tag side by side, a profile each")->capture_default_str();
    cmd->add_option("--calibration", a->base_profile, "Profile to add the corrections to (default: data/efficiency/default.json)");
    cmd->add_option("--min-pairs", a->min_pairs, "Pairs a GPU needs for a correction")->capture_default_str();
    AddOutputOptions(cmd, g);
    cmd->callback([&g, exit_code, a, out] {
      api::LedgerFitRequest req = *a;
      if (req.base_profile.empty()) {
        Result<std::string> dir = DataDir(g);
        if (!dir.ok()) {
          *exit_code = Fail(dir.status());
          return;
        }
        req.base_profile = *dir + "/efficiency/default.json";
      }
      bool per_cluster = req.by == "cluster";
      if (per_cluster != (out->find("{cluster}") != std::string::npos)) {
        *exit_code = Fail(UsageError(per_cluster ? "--profile-out: with --by cluster it names one file per cluster and "
                                                   "needs {cluster} in it (e.g. prof-{cluster}.json)"
                                                 : "--profile-out: {cluster} is for --by cluster"));
        return;
      }
      Result<api::LedgerFitResult> r = api::LedgerFit(req);
      if (!r.ok()) {
        *exit_code = Fail(r.status());
        return;
      }
      report::Report rep = api::LedgerFitReport(*r);
      auto path_of = [&](const api::LedgerFitProfile& p) {
        std::string path = *out;
        if (per_cluster) path.replace(path.find("{cluster}"), 9, p.cluster);
        return path;
      };
      // Every profile's place is checked before the first is written, so that a bad one leaves
      // none behind.
      for (const api::LedgerFitProfile& p : r->profiles) {
        std::string path = path_of(p);
        std::error_code ec;
        std::filesystem::path parent = std::filesystem::path(path).parent_path();
        if (path == req.base_profile || path == req.db || (!parent.empty() && !std::filesystem::is_directory(parent, ec))) {
          *exit_code = Fail(InvalidInput(fmt::format("--profile-out: cannot write '{}' (an input of the command, or its "
                                                     "folder does not exist); nothing written",
                                                     path)));
          return;
        }
      }
      for (const api::LedgerFitProfile& p : r->profiles) {
        std::string path = path_of(p);
        // Never over an input of the run (the base profile, the ledger).
        GlobalOptions to_profile = g;
        to_profile.out = path;
        std::erase(to_profile.inputs, *out);  // the words of the command line, less this output
        to_profile.inputs.push_back(req.base_profile);
        if (Status st = WriteOut(to_profile, p.json); !st.ok()) {
          std::string m = st.message();
          if (m.rfind("--out", 0) == 0) m = "--profile-out" + m.substr(5);
          *exit_code = Fail(Status(st.code(), m));
          return;
        }
        rep.notes.push_back(per_cluster ? fmt::format("profile of cluster {}: {}", p.cluster, path) : "profile: " + path);
      }
      *exit_code = Emit(rep, g);
    });
  }
  {
    auto* cmd = ledger->add_subcommand("check", "Check the ledger file's integrity (SQLite integrity_check)");
    auto db = std::make_shared<std::string>();
    AddDb(cmd, db.get());
    cmd->callback([exit_code, db] {
      Result<std::string> path = api::LedgerPath(*db);
      if (!path.ok()) {
        *exit_code = Fail(path.status());
        return;
      }
      Result<ledger::Ledger> l = ledger::Ledger::Open(*path);
      if (!l.ok()) {
        *exit_code = Fail(l.status());
        return;
      }
      Result<std::string> r = l->IntegrityCheck();
      if (!r.ok()) {
        *exit_code = Fail(r.status());
        return;
      }
      std::printf("%s: %s\n", path->c_str(), r->c_str());
      *exit_code = *r == "ok" ? 0 : 1;
    });
  }
}

}  // namespace

void RegisterLedger(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* ledger = app.add_subcommand("ledger", "The cost ledger: recorded estimates, imported actual runs, budgets");
  ledger->require_subcommand(1);
  RegisterList(ledger, g, exit_code);
  RegisterActuals(ledger, g, exit_code);
  RegisterBudgets(ledger, g, exit_code);
  RegisterFitAndCheck(ledger, g, exit_code);
}

}  // namespace dlcost::cli
