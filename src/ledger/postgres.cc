// The PostgreSQL ledger for teams (docs/ledger.md, "Storage"): the same entries, links and
// budgets as the SQLite file, in tables named dlcost_* of the database the URL names, through
// Debian's libpq.
#include <libpq-fe.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "dlcost/ledger.h"
#include "ledger/backend.h"

namespace dlcost::ledger {
namespace {

constexpr int kSchemaVersion = 1;
constexpr const char* kApplication = "dlcost-ledger";
// pg_advisory_xact_lock key of schema creation and migration ("dlcL").
constexpr const char* kLockKey = "1684890444";
constexpr const char* kMigrations[] = {
    // 0 -> 1: the first schema.
    R"sql(
CREATE TABLE dlcost_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE dlcost_entries (
  seq BIGSERIAL UNIQUE,
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('estimate', 'actual')),
  project TEXT NOT NULL DEFAULT '',
  run_name TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  command TEXT NOT NULL DEFAULT '',
  gpu TEXT NOT NULL DEFAULT '',
  num_gpus BIGINT,
  start_time TEXT NOT NULL DEFAULT '',
  end_time TEXT NOT NULL DEFAULT '',
  wall_s DOUBLE PRECISION, gpu_hours DOUBLE PRECISION, energy_kwh DOUBLE PRECISION, usd DOUBLE PRECISION,
  co2_kg DOUBLE PRECISION, tokens DOUBLE PRECISION, tokens_per_s DOUBLE PRECISION,
  input_json TEXT NOT NULL DEFAULT '',
  result_json TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  source_key TEXT UNIQUE
);
CREATE INDEX dlcost_entries_run ON dlcost_entries (run_name, project);
CREATE TABLE dlcost_tags (
  entry_id TEXT NOT NULL REFERENCES dlcost_entries (id),
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (entry_id, key)
);
CREATE TABLE dlcost_links (
  seq BIGSERIAL,
  actual_id TEXT PRIMARY KEY REFERENCES dlcost_entries (id),
  estimate_id TEXT NOT NULL REFERENCES dlcost_entries (id),
  created_at TEXT NOT NULL
);
CREATE TABLE dlcost_budgets (
  project TEXT PRIMARY KEY,
  usd DOUBLE PRECISION NOT NULL,
  period TEXT NOT NULL,
  set_at TEXT NOT NULL
);
INSERT INTO dlcost_meta (key, value) VALUES ('application', 'dlcost-ledger');
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

constexpr const char* kEntryColumns =
    "id, kind, project, run_name, created_at, command, gpu, num_gpus, start_time, end_time, wall_s, gpu_hours, "
    "energy_kwh, usd, co2_kg, tokens, tokens_per_s, input_json, result_json, source, source_key";

// The URL as messages show it: the password replaced by ***.
std::string Redacted(const std::string& url) {
  size_t scheme = url.find("://");
  size_t at = url.find('@', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme == std::string::npos || at == std::string::npos) return url;
  size_t colon = url.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

std::string OneLine(std::string m) {
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  for (char& c : m) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  return m;
}

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

using Param = std::optional<std::string>;
Param Num(std::optional<double> v) { return v ? Param(fmt::format("{:.17g}", *v)) : Param(); }
Param Int(std::optional<int64_t> v) { return v ? Param(std::to_string(*v)) : Param(); }

class PgBackend final : public Backend {
 public:
  PGconn* conn = nullptr;
  std::string path_;
  ~PgBackend() override { PQfinish(conn); }
  const std::string& path() const override { return path_; }

  Status Error(const std::string& what, const PGresult* r = nullptr) {
    std::string msg = OneLine(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn));
    if (PQstatus(conn) != CONNECTION_OK) {
      return Unavailable(fmt::format("--db: '{}': {}: the server connection was lost ({})", path_, what, msg));
    }
    return InvalidInput(fmt::format("--db: '{}': {}: {}", path_, what, msg));
  }
  Result<ResultPtr> Run(const std::string& sql, const std::vector<Param>& params, const char* what) {
    std::vector<const char*> values;
    for (const Param& p : params) values.push_back(p ? p->c_str() : nullptr);
    ResultPtr r(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr, 0),
                &PQclear);
    ExecStatusType st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Error(what, r.get());
    return r;
  }
  Status Exec(const std::string& sql, const char* what) {
    ResultPtr r(PQexec(conn, sql.c_str()), &PQclear);
    ExecStatusType st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Error(what, r.get());
    return Status::Ok();
  }
  template <typename F>
  Status Transaction(F&& body) {
    return InTransaction([this](const char* sql, const char* what) { return Exec(sql, what); }, "BEGIN", body);
  }

  Status Setup() {
    return Transaction([&]() -> Status {
      DLCOST_RETURN_IF_ERROR(Exec(fmt::format("SELECT pg_advisory_xact_lock({})", kLockKey), "locking the schema"));
      DLCOST_ASSIGN_OR_RETURN(ResultPtr r, Run("SELECT to_regclass('dlcost_meta') IS NOT NULL, to_regclass('dlcost_entries') "
                                               "IS NOT NULL",
                                               {}, "reading the schema"));
      bool meta = std::string(PQgetvalue(r.get(), 0, 0)) == "t";
      bool entries = std::string(PQgetvalue(r.get(), 0, 1)) == "t";
      int64_t version = 0;
      if (meta) {
        DLCOST_ASSIGN_OR_RETURN(ResultPtr m, Run("SELECT key, value FROM dlcost_meta", {}, "reading the schema"));
        std::string app;
        for (int i = 0; i < PQntuples(m.get()); ++i) {
          std::string k = PQgetvalue(m.get(), i, 0), v = PQgetvalue(m.get(), i, 1);
          if (k == "application") app = v;
          if (k == "schema_version") version = std::atoll(v.c_str());
        }
        if (app != kApplication) {
          return InvalidInput(fmt::format("--db: '{}' has a dlcost_meta table of another program; it was left untouched", path_));
        }
      } else if (entries) {
        return InvalidInput(fmt::format("--db: '{}' has a dlcost_entries table but no dlcost_meta: not a dlcost ledger; it "
                                        "was left untouched",
                                        path_));
      }
      if (version > kSchemaVersion) {
        return InvalidInput(fmt::format("--db: '{}' has ledger schema version {}; this dlcost reads up to version {}", path_,
                                        version, kSchemaVersion));
      }
      for (int64_t v = version; v < kSchemaVersion; ++v) DLCOST_RETURN_IF_ERROR(Exec(kMigrations[v], "creating the schema"));
      if (version < kSchemaVersion) {
        DLCOST_RETURN_IF_ERROR(Run("INSERT INTO dlcost_meta (key, value) VALUES ('schema_version', $1) ON CONFLICT (key) DO "
                                   "UPDATE SET value = excluded.value",
                                   {std::to_string(kSchemaVersion)}, "marking the schema")
                                   .status());
      }
      return Status::Ok();
    });
  }

  // Adds one entry inside the caller's transaction. *added is false when its source_key is there.
  Status Insert(const Entry& e, const std::string& now, bool* added, std::string* id) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      *id = NewId(e.kind);
      const Metrics& m = e.metrics;
      std::vector<Param> p = {*id,        KindName(e.kind), e.project,  e.run_name,   e.created_at.empty() ? now : e.created_at,
                              e.command,  e.gpu,            Int(e.num_gpus), e.start, e.end,
                              Num(m.wall_s), Num(m.gpu_hours), Num(m.energy_kwh), Num(m.usd), Num(m.co2_kg),
                              Num(m.tokens), Num(m.tokens_per_s), e.input_json, e.result_json, e.source,
                              e.source_key.empty() ? Param() : Param(e.source_key)};
      DLCOST_ASSIGN_OR_RETURN(
          ResultPtr r, Run(fmt::format("INSERT INTO dlcost_entries ({}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,"
                                       "$14,$15,$16,$17,$18,$19,$20,$21) ON CONFLICT DO NOTHING RETURNING id",
                                       kEntryColumns),
                           p, "adding an entry"));
      if (PQntuples(r.get()) == 1) {
        *added = true;
        for (const auto& [k, v] : e.tags) {
          DLCOST_RETURN_IF_ERROR(Run("INSERT INTO dlcost_tags (entry_id, key, value) VALUES ($1, $2, $3) ON CONFLICT "
                                     "(entry_id, key) DO UPDATE SET value = excluded.value",
                                     {*id, k, v}, "adding a tag")
                                     .status());
        }
        return Status::Ok();
      }
      // Nothing added: the row was imported before, or the id was drawn twice.
      if (!e.source_key.empty()) {
        DLCOST_ASSIGN_OR_RETURN(ResultPtr k, Run("SELECT 1 FROM dlcost_entries WHERE source_key = $1", {e.source_key},
                                                 "adding an entry"));
        if (PQntuples(k.get()) > 0) {
          *added = false;
          return Status::Ok();
        }
      }
    }
    return Status(StatusCode::kInternal, "could not draw an unused entry id");
  }

  // Adds [begin, end) in one transaction; `last_id` is the id of the last entry added.
  Status InsertAll(const Entry* begin, const Entry* end, ImportCounts* counts, std::string* last_id) {
    return Transaction([&]() -> Status {
      std::string now = NowUtc();
      for (const Entry* e = begin; e != end; ++e) {
        bool added = false;
        DLCOST_RETURN_IF_ERROR(Insert(*e, now, &added, last_id));
        ++(added ? counts->added : counts->already_there);
      }
      return Status::Ok();
    });
  }

  Result<std::string> Add(const Entry& e) override {
    ImportCounts counts;
    std::string id;
    DLCOST_RETURN_IF_ERROR(InsertAll(&e, &e + 1, &counts, &id));
    return id;
  }

  Result<ImportCounts> Import(const ImportBatch& batch) override {
    ImportCounts counts;
    std::string id;
    DLCOST_RETURN_IF_ERROR(InsertAll(batch.entries.data(), batch.entries.data() + batch.entries.size(), &counts, &id));
    return counts;
  }

  Result<std::vector<Entry>> List(const ListFilter& f) override {
    std::string where;
    std::vector<Param> args;
    auto add = [&](const char* col, const std::string& v) {
      args.push_back(v);
      where += fmt::format("{} {} = ${}", where.empty() ? "WHERE" : " AND", col, args.size());
    };
    if (!f.id.empty()) add("id", f.id);
    if (!f.project.empty()) add("project", f.project);
    if (!f.run_name.empty()) add("run_name", f.run_name);
    if (f.kind) add("kind", KindName(*f.kind));
    DLCOST_ASSIGN_OR_RETURN(ResultPtr r, Run(fmt::format("SELECT {} FROM dlcost_entries {} ORDER BY seq", kEntryColumns, where),
                                             args, "reading entries"));
    auto text = [&](int row, int col) { return std::string(PQgetvalue(r.get(), row, col)); };
    auto real = [&](int row, int col) -> std::optional<double> {
      if (PQgetisnull(r.get(), row, col)) return std::nullopt;
      return std::strtod(PQgetvalue(r.get(), row, col), nullptr);
    };
    std::vector<Entry> out;
    std::unordered_map<std::string, size_t> index;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      Entry e;
      e.id = text(i, 0);
      e.kind = text(i, 1) == "estimate" ? Kind::kEstimate : Kind::kActual;
      e.project = text(i, 2);
      e.run_name = text(i, 3);
      e.created_at = text(i, 4);
      e.command = text(i, 5);
      e.gpu = text(i, 6);
      if (!PQgetisnull(r.get(), i, 7)) e.num_gpus = std::atoll(PQgetvalue(r.get(), i, 7));
      e.start = text(i, 8);
      e.end = text(i, 9);
      e.metrics.wall_s = real(i, 10);
      e.metrics.gpu_hours = real(i, 11);
      e.metrics.energy_kwh = real(i, 12);
      e.metrics.usd = real(i, 13);
      e.metrics.co2_kg = real(i, 14);
      e.metrics.tokens = real(i, 15);
      e.metrics.tokens_per_s = real(i, 16);
      e.input_json = text(i, 17);
      e.result_json = text(i, 18);
      e.source = text(i, 19);
      e.source_key = text(i, 20);
      index.emplace(e.id, out.size());
      out.push_back(std::move(e));
    }
    if (!out.empty()) {
      DLCOST_ASSIGN_OR_RETURN(ResultPtr t, Run("SELECT entry_id, key, value FROM dlcost_tags ORDER BY entry_id, key", {},
                                               "reading tags"));
      for (int i = 0; i < PQntuples(t.get()); ++i) {
        auto it = index.find(PQgetvalue(t.get(), i, 0));
        if (it != index.end()) out[it->second].tags.emplace_back(PQgetvalue(t.get(), i, 1), PQgetvalue(t.get(), i, 2));
      }
    }
    return out;
  }

  Result<std::vector<Link>> Links() override {
    DLCOST_ASSIGN_OR_RETURN(ResultPtr r, Run("SELECT estimate_id, actual_id FROM dlcost_links ORDER BY seq", {}, "reading links"));
    std::vector<Link> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back({PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1)});
    return out;
  }

  Status PutLink(const std::string& estimate_id, const std::string& actual_id) override {
    return Transaction([&]() -> Status {
      return Run("INSERT INTO dlcost_links (actual_id, estimate_id, created_at) VALUES ($1, $2, $3) ON CONFLICT "
                 "(actual_id) DO UPDATE SET estimate_id = excluded.estimate_id, created_at = excluded.created_at",
                 {actual_id, estimate_id, NowUtc()}, "adding a link")
          .status();
    });
  }

  Status SetBudget(const Budget& b) override {
    return Transaction([&]() -> Status {
      return Run("INSERT INTO dlcost_budgets (project, usd, period, set_at) VALUES ($1, $2, $3, $4) ON CONFLICT (project) "
                 "DO UPDATE SET usd = excluded.usd, period = excluded.period, set_at = excluded.set_at",
                 {b.project, Num(b.usd), std::string(PeriodName(b.period)), b.set_at.empty() ? NowUtc() : b.set_at},
                 "setting a budget")
          .status();
    });
  }

  Result<std::vector<Budget>> Budgets(const std::string& project) override {
    DLCOST_ASSIGN_OR_RETURN(ResultPtr r, project.empty()
                                             ? Run("SELECT project, usd, period, set_at FROM dlcost_budgets ORDER BY project", {},
                                                   "reading budgets")
                                             : Run("SELECT project, usd, period, set_at FROM dlcost_budgets WHERE project = $1",
                                                   {project}, "reading budgets"));
    std::vector<Budget> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      Budget b;
      b.project = PQgetvalue(r.get(), i, 0);
      b.usd = std::strtod(PQgetvalue(r.get(), i, 1), nullptr);
      Result<Period> p = ParsePeriod(PQgetvalue(r.get(), i, 2));
      b.period = p.ok() ? *p : Period::kTotal;
      b.set_at = PQgetvalue(r.get(), i, 3);
      out.push_back(std::move(b));
    }
    return out;
  }

  // The server keeps its own pages consistent; this checks the ledger's references.
  Result<std::string> IntegrityCheck() override {
    DLCOST_ASSIGN_OR_RETURN(
        ResultPtr r,
        Run("SELECT (SELECT count(*) FROM dlcost_links l LEFT JOIN dlcost_entries e ON e.id = l.estimate_id WHERE e.id IS NULL) + "
            "(SELECT count(*) FROM dlcost_tags t LEFT JOIN dlcost_entries e ON e.id = t.entry_id WHERE e.id IS NULL)",
            {}, "checking integrity"));
    std::string dangling = PQgetvalue(r.get(), 0, 0);
    return dangling == "0" ? std::string("ok") : fmt::format("{} links or tags name no entry", dangling);
  }
};

}  // namespace

Result<std::unique_ptr<Backend>> OpenPostgres(const std::string& url) {
  auto b = std::make_unique<PgBackend>();
  b->path_ = Redacted(url);
  // The URL carries every setting; a server that does not answer in 10 s is unreachable.
  const char* keys[] = {"dbname", "connect_timeout", "client_encoding", nullptr};
  const char* values[] = {url.c_str(), "10", "UTF8", nullptr};
  b->conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (b->conn == nullptr) return Unavailable(fmt::format("--db: '{}': out of memory connecting", b->path_));
  if (PQstatus(b->conn) != CONNECTION_OK) {
    std::string msg = OneLine(PQerrorMessage(b->conn));
    // Refused credentials or a database that is not there: the URL is wrong (exit 1). Anything
    // else (no route, refused connection, timeout): the server is unreachable (exit 4).
    bool refused = msg.find("authentication failed") != std::string::npos || msg.find("password") != std::string::npos ||
                   msg.find("does not exist") != std::string::npos || msg.find("no pg_hba.conf entry") != std::string::npos ||
                   msg.find("invalid") != std::string::npos;
    std::string text = fmt::format("--db: '{}': {}", b->path_, msg);
    return refused ? Result<std::unique_ptr<Backend>>(InvalidInput(text)) : Result<std::unique_ptr<Backend>>(Unavailable(text));
  }
  PQsetNoticeProcessor(b->conn, [](void*, const char*) {}, nullptr);  // CREATE ... notices stay quiet
  DLCOST_RETURN_IF_ERROR(b->Setup());
  return std::unique_ptr<Backend>(std::move(b));
}

}  // namespace dlcost::ledger
