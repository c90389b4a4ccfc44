#include "dlcost/ledger.h"

#include <libpq-fe.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ledger/time.h"
#include "temp_dir.h"

namespace dlcost::ledger {
namespace {

using testing_util::TempDir;

// The store tests run on both stores: a SQLite file, and a new database on the PostgreSQL server
// DLCOST_TEST_PG_URL names (scripts/test.sh starts a throw-away one; without it they are skipped).
class LedgerStores : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      const char* base = std::getenv("DLCOST_TEST_PG_URL");
      if (base == nullptr || *base == '\0') GTEST_SKIP() << "DLCOST_TEST_PG_URL is not set (scripts/test.sh sets it)";
      base_ = base;
    }
  }
  // A new, empty ledger.
  std::string NewLedger(const std::string& name) {
    if (GetParam() == "sqlite") return (tmp_.path() / (name + ".db")).string();
    static int counter = 0;
    std::string db = fmt::format("t_{}_{}_{}", getpid(), name, counter++);
    PGconn* c = PQconnectdb(base_.c_str());
    EXPECT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
    PGresult* r = PQexec(c, ("CREATE DATABASE " + db).c_str());
    EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
    return base_.substr(0, base_.rfind('/') + 1) + db;
  }
  TempDir tmp_;
  std::string base_;
};
INSTANTIATE_TEST_SUITE_P(Store, LedgerStores, ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

// PostgreSQL only (the SQLite file's case is LedgerStore.RefusesForeignAndCorruptFiles...).
class LedgerPostgres : public LedgerStores {};

// A PostgreSQL database whose dlcost_entries table is someone else's is refused, not written.
TEST_P(LedgerPostgres, RefusesAForeignSchema) {
  std::string url = NewLedger("foreign");
  PGconn* c = PQconnectdb(url.c_str());
  PGresult* r = PQexec(c, "CREATE TABLE dlcost_entries (x INT); INSERT INTO dlcost_entries VALUES (7)");
  ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(c);
  PQclear(r);
  Result<Ledger> db = Ledger::Open(url);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(db.status().message().find("not a dlcost ledger"), std::string::npos) << db.status().message();
  r = PQexec(c, "SELECT count(*) FROM dlcost_entries");
  EXPECT_STREQ(PQgetvalue(r, 0, 0), "1");
  PQclear(r);
  PQfinish(c);
  // An unreachable server is "unavailable" (exit 4).
  EXPECT_EQ(Ledger::Open("postgresql://dlcost@127.0.0.1:1/x").status().code(), StatusCode::kUnavailable);
}
INSTANTIATE_TEST_SUITE_P(Store, LedgerPostgres, ::testing::Values("postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Entry Estimate(const std::string& run, double usd, double gpu_hours, const std::string& project = "p") {
  Entry e;
  e.kind = Kind::kEstimate;
  e.run_name = run;
  e.project = project;
  e.command = "train";
  e.metrics.usd = usd;
  e.metrics.gpu_hours = gpu_hours;
  return e;
}

TEST(LedgerTime, ParsesIsoForms) {
  EXPECT_EQ(ParseIsoTime("1970-01-01"), 0.0);
  EXPECT_EQ(ParseIsoTime("1970-01-02T00:00:00Z"), 86400.0);
  EXPECT_EQ(ParseIsoTime("1970-01-01T01:00:00+01:00"), 0.0);
  EXPECT_EQ(ParseIsoTime("1970-01-01 00:01"), 60.0);
  EXPECT_DOUBLE_EQ(*ParseIsoTime("1970-01-01T00:00:01.5"), 1.5);
  EXPECT_EQ(ParseIsoTime("2024-02-30"), std::nullopt);
  EXPECT_EQ(ParseIsoTime("2024-13-01"), std::nullopt);
  EXPECT_EQ(ParseIsoTime("yesterday"), std::nullopt);
  EXPECT_EQ(ParseIsoTime("2024-01-01T10:00:00Zjunk"), std::nullopt);
  EXPECT_EQ(FormatIsoTime(*ParseIsoTime("2026-12-07T10:11:12Z")), "2026-12-07T10:11:12Z");
}

TEST_P(LedgerStores, AddListGetRoundTrip) {
  std::string path = GetParam() == "sqlite" ? (tmp_.path() / "sub" / "ledger.db").string() : NewLedger("roundtrip");
  Result<Ledger> db = Ledger::Open(path);
  ASSERT_TRUE(db.ok()) << db.status().message();
  Entry e = Estimate("r1", 1200, 300);
  e.tags = {{"team", "nlp"}};
  e.num_gpus = 8;
  Result<std::string> id = db->Add(e);
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(id->rfind("e-", 0), 0u);
  Result<Entry> back = db->Get(*id);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->run_name, "r1");
  EXPECT_EQ(back->metrics.usd, 1200.0);
  EXPECT_EQ(back->num_gpus, 8);
  ASSERT_EQ(back->tags.size(), 1u) << "tags";
  EXPECT_EQ(back->tags[0].second, "nlp");
  EXPECT_FALSE(back->metrics.energy_kwh.has_value());
  EXPECT_EQ(db->Get("e-000000000000").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*db->IntegrityCheck(), "ok");
  // A second open of the same file sees the entry (the schema is not created twice).
  Result<Ledger> again = Ledger::Open(path);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->List({})->size(), 1u);
}

TEST(LedgerStore, RefusesForeignAndCorruptFilesWithoutTouchingThem) {
  TempDir tmp;
  std::string text = tmp.Write("notes.txt", "this is not a database, just text\n");
  Result<Ledger> a = Ledger::Open(text);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(a.status().message().find("not a readable SQLite database"), std::string::npos) << a.status().message();
  EXPECT_EQ(ReadAll(text), "this is not a database, just text\n");

  // Another program's SQLite database: refused, bytes unchanged.
  std::string ledger_path = (tmp.path() / "mine.db").string();
  ASSERT_TRUE(Ledger::Open(ledger_path).ok());
  std::string bytes = ReadAll(ledger_path);
  // Change the application id (bytes 68-71 of the header) to another program's.
  std::string foreign = bytes;
  foreign[68] = 0x12;
  std::string foreign_path = tmp.Write("foreign.db", foreign);
  Result<Ledger> b = Ledger::Open(foreign_path);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("another program"), std::string::npos) << b.status().message();
  EXPECT_EQ(ReadAll(foreign_path), foreign);

  // A truncated database (half of the header).
  std::string cut = tmp.Write("cut.db", bytes.substr(0, 50));
  EXPECT_FALSE(Ledger::Open(cut).ok());
  EXPECT_EQ(ReadAll(cut), bytes.substr(0, 50));

  EXPECT_EQ(Ledger::Open(tmp.path().string()).status().code(), StatusCode::kInvalidInput);  // a folder
  EXPECT_EQ(Ledger::Open("mysql://localhost/x").status().code(), StatusCode::kUsage);  // neither a file nor PostgreSQL
}

TEST_P(LedgerStores, GenericCsvIsIdempotentAndAllOrNothing) {
  Result<Ledger> db = Ledger::Open(NewLedger("idempotent"));
  ASSERT_TRUE(db.ok());
  std::string csv =
      "run_name,project,gpu,num_gpus,start,end,usd,energy_kwh\n"
      "r1,p,h100-sxm-80gb,8,2026-05-01T00:00:00Z,2026-05-01T10:00:00Z,300,40\n"
      "r2,p,h100-sxm-80gb,8,2026-05-02T00:00:00Z,2026-05-02T05:00:00Z,150,\n";
  Result<ImportBatch> batch = ParseGenericCsv(csv, "runs.csv", {});
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  ASSERT_EQ(batch->entries.size(), 2u);
  EXPECT_EQ(batch->entries[0].metrics.wall_s, 36000.0);
  EXPECT_EQ(batch->entries[0].source, "runs.csv:2");
  Result<ImportCounts> n = db->Import(*batch);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->added, 2);
  // The same rows again, in another column order: nothing added.
  std::string reordered =
      "energy_kwh,usd,end,start,num_gpus,gpu,project,run_name\n"
      "40,300,2026-05-01T10:00:00Z,2026-05-01T00:00:00Z,8,h100-sxm-80gb,p,r1\n";
  Result<ImportCounts> again = db->Import(*ParseGenericCsv(reordered, "other.csv", {}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->added, 0);
  EXPECT_EQ(again->already_there, 1);
  EXPECT_EQ(db->List({})->size(), 2u);

  // One bad row fails the file, naming line and column; with skip_bad_rows it is reported.
  std::string bad = "run_name,usd,end,start\nr3,10,,\nr4,-5,,\nr5,1,2026-01-01,2026-01-02\nr6,abc,,\n";
  Result<ImportBatch> b = ParseGenericCsv(bad, "bad.csv", {});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("bad.csv: line 3: column 'usd': -5 is negative"), std::string::npos)
      << b.status().message();
  ImportOptions skip;
  skip.skip_bad_rows = true;
  Result<ImportBatch> s = ParseGenericCsv(bad, "bad.csv", skip);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->entries.size(), 1u);
  ASSERT_EQ(s->skipped.size(), 3u);
  EXPECT_EQ(s->skipped[0].line, 3);
  EXPECT_NE(s->skipped[1].reason.find("negative duration"), std::string::npos) << s->skipped[1].reason;
  EXPECT_EQ(s->skipped[2].line, 5);

  EXPECT_FALSE(ParseGenericCsv("project,usd\np,1\n", "x.csv", {}).ok());         // no run_name
  EXPECT_FALSE(ParseGenericCsv("run_name,usdd\nr,1\n", "x.csv", {}).ok());       // unknown column
  EXPECT_FALSE(ParseGenericCsv("run_name,project\nr,p\n", "x.csv", {}).ok());    // nothing measured
  EXPECT_FALSE(ParseGenericCsv("run_name,usd\nr\xff,1\n", "x.csv", {}).ok());    // invalid UTF-8
  EXPECT_FALSE(ParseGenericCsv("run_name,num_gpus,usd\nr,1.5,1\n", "x.csv", {}).ok());
}

TEST(LedgerImport, CodeCarbonKeepsTheLastRowOfARun) {
  std::string csv =
      "timestamp,project_name,run_id,duration,emissions,emissions_rate,energy_consumed,gpu_count,gpu_model\n"
      "2024-05-27T10:00:00,proj,run-a,600,0.01,1e-5,0.02,1,1 x NVIDIA A100-SXM4-40GB\n"
      "2024-05-27T11:00:00,proj,run-a,4200,0.2,1e-5,0.46,1,1 x NVIDIA A100-SXM4-40GB\n"
      "2024-05-28T09:00:00,proj,run-b,100,0.001,1e-5,0.002,,\n";
  Result<ImportBatch> b = ParseCodeCarbonCsv(csv, "emissions.csv", {});
  ASSERT_TRUE(b.ok()) << b.status().message();
  ASSERT_EQ(b->entries.size(), 2u);
  EXPECT_EQ(b->entries[0].run_name, "run-a");
  EXPECT_EQ(b->entries[0].metrics.wall_s, 4200.0);
  EXPECT_EQ(b->entries[0].metrics.energy_kwh, 0.46);
  EXPECT_EQ(b->entries[0].gpu, "NVIDIA A100-SXM4-40GB");
  EXPECT_EQ(b->entries[0].num_gpus, 1);
  EXPECT_EQ(b->entries[0].start, "2024-05-27T09:50:00Z");
  ASSERT_EQ(b->skipped.size(), 1u);
  EXPECT_EQ(b->skipped[0].line, 2);
  ImportOptions by_project;
  by_project.name_field = "project_name";
  Result<ImportBatch> p = ParseCodeCarbonCsv(csv, "emissions.csv", by_project);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->entries[0].run_name, "proj");
  // Not CodeCarbon's format.
  Result<ImportBatch> wrong = ParseCodeCarbonCsv("run_name,usd\nr,1\n", "runs.csv", {});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("run_id"), std::string::npos) << wrong.status().message();
}

TEST(LedgerImport, SlurmJobsNotStepsAndOnlyFinished) {
  std::string text =
      "JobID|JobName|Account|State|Elapsed|Start|End|AllocTRES\n"
      "7|train|lab|COMPLETED|1-01:00:00|2026-01-01T00:00:00|2026-01-02T01:00:00|cpu=8,gres/gpu:a100=4,gres/gpu=4,gres/gpumem=40960\n"
      "7.batch|batch|lab|COMPLETED|1-01:00:00|2026-01-01T00:00:00|2026-01-02T01:00:00|cpu=8\n"
      "8|eval|lab|RUNNING|00:10:00|2026-01-03T00:00:00|Unknown|gres/gpu=1\n"
      "9|short|lab|COMPLETED|05:30|2026-01-04T00:00:00|2026-01-04T00:05:30|\n";
  Result<ImportBatch> b = ParseSlurmSacct(text, "sacct.txt", {});
  ASSERT_TRUE(b.ok()) << b.status().message();
  ASSERT_EQ(b->entries.size(), 2u);
  EXPECT_EQ(b->entries[0].run_name, "train");
  EXPECT_EQ(b->entries[0].project, "lab");
  EXPECT_EQ(b->entries[0].metrics.wall_s, 90000.0);
  EXPECT_EQ(b->entries[0].num_gpus, 4);
  EXPECT_EQ(b->entries[0].gpu, "a100");
  EXPECT_EQ(b->entries[1].metrics.wall_s, 330.0);
  EXPECT_FALSE(b->entries[1].num_gpus.has_value());
  ASSERT_EQ(b->skipped.size(), 2u);
  EXPECT_EQ(b->skipped[1].line, 4);
  Result<ImportBatch> bad = ParseSlurmSacct("JobID|JobName|Elapsed\n1|x|ten minutes\n", "s.txt", {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("s.txt: line 2: column 'Elapsed'"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(ParseSlurmSacct("run_name,usd\nr,1\n", "runs.csv", {}).ok());  // not sacct output
  EXPECT_FALSE(ParseSlurmSacct("JobID|JobName|Elapsed\n1|x\n", "s.txt", {}).ok());  // short row
}

TEST(LedgerImport, WandbRunsTableExport) {
  // The runs table's CSV download: every field quoted, the shown config and summary columns after
  // the run columns; run names repeat across runs.
  std::string text =
      "\"Name\",\"State\",\"Notes\",\"User\",\"Tags\",\"Created\",\"Runtime\",\"Sweep\",\"ID\",\"gpu\",\"num_gpus\",\"lr\"\n"
      "\"ft\",\"finished\",\"-\",\"\",\"\",\"2026-05-25T14:08:33.000Z\",\"732\",\"\",\"a1\",\"a100-sxm-80gb\",\"8\",\"0.001\"\n"
      "\"ft\",\"crashed\",\"-\",\"\",\"\",\"2026-05-25T13:43:10.000Z\",\"1521\",\"\",\"b2\",\"a100-sxm-80gb\",\"8\",\"0.001\"\n"
      "\"ft2\",\"running\",\"-\",\"\",\"\",\"2026-05-25T13:37:27.000Z\",\"337\",\"\",\"c3\",\"\",\"\",\"\"\n";
  ImportOptions o;
  o.project = "lm";
  Result<ImportBatch> b = ParseWandbCsv(text, "wandb_export.csv", o);
  ASSERT_TRUE(b.ok()) << b.status().message();
  ASSERT_EQ(b->entries.size(), 2u);
  EXPECT_EQ(b->entries[0].run_name, "ft");
  EXPECT_EQ(b->entries[0].project, "lm");
  EXPECT_EQ(b->entries[0].metrics.wall_s, 732.0);
  EXPECT_EQ(b->entries[0].num_gpus, 8);
  EXPECT_EQ(b->entries[0].gpu, "a100-sxm-80gb");
  EXPECT_EQ(b->entries[0].start, "2026-05-25T14:08:33.000Z");
  EXPECT_EQ(b->entries[0].end, "2026-05-25T14:20:45Z");  // Created + Runtime
  // Two runs of one name are two entries (keyed by their W&B ids); the running one waits.
  EXPECT_NE(b->entries[0].source_key, b->entries[1].source_key);
  ASSERT_EQ(b->skipped.size(), 1u);
  EXPECT_EQ(b->skipped[0].line, 4);
  // Without Runtime, Created and End Time give the wall time; a reversed pair is an error.
  Result<ImportBatch> span = ParseWandbCsv(
      "Name,Created,End Time\nr,2026-01-01T00:00:00Z,2026-01-01T01:00:00Z\n", "w.csv", {});
  ASSERT_TRUE(span.ok()) << span.status().message();
  EXPECT_EQ(span->entries[0].metrics.wall_s, 3600.0);
  Result<ImportBatch> rev = ParseWandbCsv(
      "Name,Created,End Time\nr,2026-01-01T01:00:00Z,2026-01-01T00:00:00Z\n", "w.csv", {});
  ASSERT_FALSE(rev.ok());
  EXPECT_NE(rev.status().message().find("w.csv: line 2: 'End Time'"), std::string::npos) << rev.status().message();
  Result<ImportBatch> neg = ParseWandbCsv("Name,Runtime\nr,-5\n", "w.csv", {});
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.status().message().find("column 'Runtime'"), std::string::npos) << neg.status().message();
  // Another tool's file is named as such.
  Result<ImportBatch> other = ParseWandbCsv("run_name,usd\nr,1\n", "runs.csv", {});
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("not a W&B runs table export"), std::string::npos);
  // --name-field picks another column (here the run id).
  o.name_field = "ID";
  EXPECT_EQ(ParseWandbCsv(text, "wandb_export.csv", o)->entries[1].run_name, "b2");
}

TEST(LedgerImport, MlflowFileStore) {
  std::string store = std::string(DLCOST_TEST_FIXTURES) + "/ledger/mlruns";
  Result<ImportBatch> b = ParseMlflowStore(store, {});
  ASSERT_TRUE(b.ok()) << b.status().message();
  ASSERT_EQ(b->entries.size(), 1u);
  const Entry& e = b->entries[0];
  EXPECT_EQ(e.run_name, "pretrain-1b");  // the mlflow.runName tag
  EXPECT_EQ(e.project, "lm");            // the experiment's name
  EXPECT_EQ(e.metrics.wall_s, 64800.0);
  EXPECT_EQ(e.metrics.energy_kwh, 118.4);  // the metric's last value
  EXPECT_EQ(e.metrics.tokens_per_s, 42110.0);
  EXPECT_EQ(e.num_gpus, 8);
  ASSERT_EQ(b->skipped.size(), 1u);
  EXPECT_NE(b->skipped[0].reason.find("has not finished"), std::string::npos);
  // One experiment's folder works too; a folder that is no store does not.
  EXPECT_EQ(ParseMlflowStore(store + "/271828", {})->entries.size(), 1u);
  EXPECT_FALSE(ParseMlflowStore(std::string(DLCOST_TEST_FIXTURES) + "/drift", {}).ok());
  EXPECT_FALSE(ParseMlflowStore(store + "/271828/meta.yaml", {}).ok());
}

TEST(LedgerCompare, PairsByRunNameAndExplicitLink) {
  std::vector<Entry> entries;
  Entry e1 = Estimate("r1", 100, 10);
  e1.id = "e-1";
  Entry e1b = Estimate("r1", 120, 12);  // a later estimate of the same run wins
  e1b.id = "e-2";
  Entry e3 = Estimate("other", 50, 5);
  e3.id = "e-3";
  Entry a1;
  a1.id = "a-1";
  a1.run_name = "r1";
  a1.project = "p";
  a1.metrics.usd = 100;
  a1.metrics.wall_s = 3600;
  a1.num_gpus = 10;  // 10 GPU-hours, derived
  Entry a2;
  a2.id = "a-2";
  a2.run_name = "renamed";
  a2.metrics.usd = 40;
  Entry a3;
  a3.id = "a-3";
  a3.run_name = "lost";
  a3.metrics.usd = 1;
  entries = {e1, e1b, e3, a1, a2, a3};
  Comparison c = Compare(entries, {{"e-3", "a-2"}}, "");
  EXPECT_EQ(c.actuals_unmatched, 1);
  ASSERT_EQ(c.pairs.size(), 3u);
  EXPECT_EQ(c.pairs[0].estimate_id, "e-2");
  EXPECT_EQ(c.pairs[0].metric, "gpu_hours");
  EXPECT_DOUBLE_EQ(c.pairs[0].rel_error, 0.2);
  EXPECT_EQ(c.pairs[1].metric, "usd");
  EXPECT_DOUBLE_EQ(c.pairs[1].rel_error, 0.2);
  EXPECT_EQ(c.pairs[2].estimate_id, "e-3");
  EXPECT_DOUBLE_EQ(c.pairs[2].rel_error, 0.25);
  ASSERT_EQ(c.summary.size(), 2u);
  EXPECT_EQ(c.summary[1].metric, "usd");
  EXPECT_EQ(c.summary[1].n, 2);
  EXPECT_DOUBLE_EQ(c.summary[1].mape_pct, 22.5);
  // Another project sees nothing.
  EXPECT_TRUE(Compare(entries, {}, "q").pairs.empty());
}

// A generated history: actual run times differ from the estimates by a hidden factor per GPU
// times lognormal noise. The fitted correction's leave-one-out MAPE must come down to the noise.
TEST(LedgerFit, LearnsAHiddenPerGpuFactorDownToTheNoise) {
  std::mt19937_64 rng(20261208);
  std::normal_distribution<double> noise(0.0, 0.05);
  std::uniform_real_distribution<double> hours(2, 200);
  const std::vector<std::pair<std::string, double>> hidden = {{"h100-sxm-80gb", 1.30}, {"a100-sxm-80gb", 0.82}, {"l40s", 1.05}};
  std::vector<Entry> entries;
  double noise_ape = 0;
  int n = 0;
  for (const auto& [gpu, factor] : hidden) {
    for (int i = 0; i < 40; ++i) {
      Entry est;
      est.kind = Kind::kEstimate;
      est.id = fmt::format("e-{}-{}", gpu, i);
      est.run_name = fmt::format("{}-{}", gpu, i);
      est.gpu = gpu;
      est.metrics.wall_s = hours(rng) * 3600;
      Entry act;
      act.kind = Kind::kActual;
      act.id = fmt::format("a-{}-{}", gpu, i);
      act.run_name = est.run_name;
      double eps = std::exp(noise(rng));
      act.metrics.wall_s = *est.metrics.wall_s * factor * eps;
      noise_ape += std::fabs(1 / eps - 1);  // the error of a perfect factor
      ++n;
      entries.push_back(est);
      entries.push_back(act);
    }
  }
  double noise_mape = 100 * noise_ape / n;
  FitResult fit = FitCorrections(entries, {}, "", "");
  ASSERT_EQ(fit.groups.size(), 3u);
  EXPECT_EQ(fit.loo_pairs, 120);
  EXPECT_GT(fit.mape_before_pct, 15.0);
  EXPECT_LT(fit.loo_mape_pct, 1.1 * noise_mape) << "noise MAPE " << noise_mape;
  for (const FitGroup& g : fit.groups) {
    double truth = 0;
    for (const auto& [gpu, factor] : hidden) {
      if (gpu == g.key) truth = factor;
    }
    EXPECT_NEAR(g.time_factor, truth, 0.03 * truth) << g.key;
    EXPECT_NEAR(g.sd_log, 0.05, 0.015) << g.key;
  }
  // A cluster filter keeps only the estimates tagged with it.
  entries[0].tags = {{"cluster", "west"}};
  entries[2].tags = {{"cluster", "west"}};
  FitResult west = FitCorrections(entries, {}, "", "west");
  ASSERT_EQ(west.groups.size(), 1u);
  EXPECT_EQ(west.groups[0].pairs, 2);
}

// One GPU type in two clusters that run it at different speeds (hidden factors 1.40 and 0.90):
// pooled, one factor fits neither; side by side, each cluster gets its own, down to the noise.
TEST(LedgerFit, SideBySideClustersSeparateOneGpuType) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> noise(0.0, 0.05);
  std::uniform_real_distribution<double> hours(2, 200);
  std::vector<Entry> entries;
  double noise_ape = 0;
  for (const auto& [cluster, factor] : std::vector<std::pair<std::string, double>>{{"east", 1.40}, {"west", 0.90}}) {
    for (int i = 0; i < 30; ++i) {
      Entry est;
      est.kind = Kind::kEstimate;
      est.id = fmt::format("e-{}-{}", cluster, i);
      est.run_name = fmt::format("{}-{}", cluster, i);
      est.gpu = "h100-sxm-80gb";
      est.tags = {{"cluster", cluster}};
      est.metrics.wall_s = hours(rng) * 3600;
      Entry act;
      act.kind = Kind::kActual;
      act.id = fmt::format("a-{}-{}", cluster, i);
      act.run_name = est.run_name;
      double eps = std::exp(noise(rng));
      act.metrics.wall_s = *est.metrics.wall_s * factor * eps;
      noise_ape += std::fabs(1 / eps - 1);
      entries.push_back(est);
      entries.push_back(act);
    }
  }
  Entry untagged;  // an estimate without a cluster tag is left out, and counted
  untagged.kind = Kind::kEstimate;
  untagged.id = "e-x";
  untagged.run_name = "x";
  untagged.gpu = "h100-sxm-80gb";
  untagged.metrics.wall_s = 3600;
  Entry untagged_act = untagged;
  untagged_act.kind = Kind::kActual;
  untagged_act.id = "a-x";
  entries.push_back(untagged);
  entries.push_back(untagged_act);
  double noise_mape = 100 * noise_ape / 60;
  FitResult pooled = FitCorrections(entries, {}, "", "");
  ASSERT_EQ(pooled.groups.size(), 1u);
  EXPECT_GT(pooled.loo_mape_pct, 3 * noise_mape);
  FitResult side = FitCorrections(entries, {}, "", "", true);
  ASSERT_EQ(side.groups.size(), 2u);
  EXPECT_EQ(side.groups[0].cluster, "east");
  EXPECT_EQ(side.groups[1].cluster, "west");
  EXPECT_EQ(side.groups[0].key, "h100-sxm-80gb");
  EXPECT_NEAR(side.groups[0].time_factor, 1.40, 0.03 * 1.40);
  EXPECT_NEAR(side.groups[1].time_factor, 0.90, 0.03 * 0.90);
  EXPECT_EQ(side.pairs, 60);
  EXPECT_EQ(side.pairs_without_cluster, 1);
  EXPECT_LT(side.loo_mape_pct, 1.1 * noise_mape) << "noise MAPE " << noise_mape;
}

// Actuals that report their steady throughput split the time factor: hidden step factor 1.25
// (the steady step is 25% slower than modelled) and goodput factor 1.12 (12% more wall time lost
// around the steps than the goodput model says); the time factor is their product.
TEST(LedgerFit, SplitsTheFactorIntoStepAndGoodput) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0.0, 0.03);
  std::vector<Entry> entries;
  for (int i = 0; i < 25; ++i) {
    Entry est;
    est.kind = Kind::kEstimate;
    est.id = fmt::format("e-{}", i);
    est.run_name = fmt::format("r{}", i);
    est.gpu = "a100-sxm-80gb";
    est.metrics.wall_s = 36000.0 * (1 + i);
    est.metrics.tokens_per_s = 50000;
    Entry act;
    act.kind = Kind::kActual;
    act.id = fmt::format("a-{}", i);
    act.run_name = est.run_name;
    double step = 1.25 * std::exp(noise(rng)), goodput = 1.12 * std::exp(noise(rng));
    act.metrics.tokens_per_s = 50000 / step;
    act.metrics.wall_s = *est.metrics.wall_s * step * goodput;
    entries.push_back(est);
    entries.push_back(act);
  }
  // A run whose actual reports no throughput of its own counts in the time factor only: tokens /
  // wall time, which the comparison falls back to, is not its steady step.
  Entry est = entries[0], act = entries[1];
  est.id = "e-x";
  est.run_name = "x";
  act.id = "a-x";
  act.run_name = "x";
  act.metrics.tokens_per_s.reset();
  act.metrics.tokens = 5e9;
  entries.push_back(est);
  entries.push_back(act);
  // A tco estimate (months of serving and the training) is no run to correct.
  Entry tco = entries[0], tco_act = entries[1];
  tco.id = "e-tco";
  tco.run_name = "chat";
  tco.command = "tco";
  tco.metrics.wall_s.reset();
  tco.metrics.gpu_hours = 9000;
  tco_act.id = "a-tco";
  tco_act.run_name = "chat";
  tco_act.metrics.wall_s.reset();
  tco_act.metrics.gpu_hours = 50;
  entries.push_back(tco);
  entries.push_back(tco_act);
  FitResult fit = FitCorrections(entries, {}, "", "");
  ASSERT_EQ(fit.groups.size(), 1u);
  const FitGroup& g = fit.groups[0];
  EXPECT_EQ(g.pairs, 26);
  EXPECT_EQ(g.step_pairs, 25);
  ASSERT_TRUE(g.step_time_factor && g.goodput_factor);
  EXPECT_NEAR(*g.step_time_factor, 1.25, 0.02 * 1.25);
  EXPECT_NEAR(*g.goodput_factor, 1.12, 0.02 * 1.12);
  EXPECT_NEAR(g.step_sd_log, 0.03, 0.012);  // the noise put on each part
  EXPECT_NEAR(g.goodput_sd_log, 0.03, 0.012);
  EXPECT_NEAR(g.time_factor, 1.25 * 1.12, 0.03 * 1.4);
}

TEST(LedgerBudget, SpentCommittedAndWindow) {
  Entry old_actual;
  old_actual.id = "a-0";
  old_actual.project = "p";
  old_actual.end = "2026-11-20T00:00:00Z";
  old_actual.metrics.usd = 500;
  Entry actual;
  actual.id = "a-1";
  actual.project = "p";
  actual.run_name = "r1";
  actual.end = "2026-12-03T00:00:00Z";
  actual.metrics.usd = 700;
  Entry est1 = Estimate("r1", 650, 1);
  est1.id = "e-1";
  est1.created_at = "2026-12-01T00:00:00Z";
  Entry est2 = Estimate("r2", 400, 1);  // planned, not run yet: committed
  est2.id = "e-2";
  est2.created_at = "2026-12-04T00:00:00Z";
  Entry unnamed = Estimate("", 9999, 1);  // exploration: not committed
  unnamed.id = "e-3";
  unnamed.created_at = "2026-12-04T00:00:00Z";
  Entry no_usd;
  no_usd.id = "a-2";
  no_usd.project = "p";
  no_usd.end = "2026-12-05T00:00:00Z";
  std::vector<Entry> entries = {old_actual, actual, est1, est2, unnamed, no_usd};
  Budget month{"p", 1000, Period::kMonth, ""};
  BudgetStatus s = CheckBudget(month, entries, {}, "2026-12-07T12:00:00Z");
  EXPECT_EQ(s.window_start, "2026-12-01T00:00:00Z");
  EXPECT_EQ(s.window_end, "2027-01-01T00:00:00Z");
  EXPECT_DOUBLE_EQ(s.spent, 700);
  EXPECT_DOUBLE_EQ(s.committed, 400);
  EXPECT_DOUBLE_EQ(s.left, -100);
  EXPECT_FALSE(s.exceeded);
  EXPECT_TRUE(s.over_committed);
  EXPECT_EQ(s.actuals_without_usd, 1);
  Budget total{"p", 1000, Period::kTotal, ""};
  BudgetStatus t = CheckBudget(total, entries, {}, "2026-12-07T12:00:00Z");
  EXPECT_DOUBLE_EQ(t.spent, 1200);
  EXPECT_TRUE(t.exceeded);
  Budget quarter{"p", 1000, Period::kQuarter, ""};
  EXPECT_EQ(CheckBudget(quarter, entries, {}, "2026-11-15T00:00:00Z").window_start, "2026-10-01T00:00:00Z");
}

// Eight processes add entries to one ledger at once: every entry is there afterwards.
TEST_P(LedgerStores, EightConcurrentWritersLoseNothing) {
  std::string path = NewLedger("shared");
  constexpr int kWriters = 8, kEach = 25;
  std::vector<pid_t> kids;
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      Result<Ledger> db = Ledger::Open(path);
      if (!db.ok()) {
        fprintf(stderr, "writer %d: %s\n", w, db.status().message().c_str());
        _exit(10);
      }
      for (int i = 0; i < kEach; ++i) {
        if (!db->Add(Estimate("w" + std::to_string(w), i, i)).ok()) _exit(11);
      }
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  Result<Ledger> db = Ledger::Open(path);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(db->List({})->size(), static_cast<size_t>(kWriters * kEach));
  EXPECT_EQ(*db->IntegrityCheck(), "ok");
}

}  // namespace
}  // namespace dlcost::ledger
