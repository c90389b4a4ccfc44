// The SQLite ledger (docs/ledger.md, "Storage").
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <filesystem>
#include <random>
#include <unordered_map>

#include <fmt/format.h>

#include "dlcost/ledger.h"
#include "ledger/backend.h"

namespace dlcost::ledger {
namespace fs = std::filesystem;

namespace {

// PRAGMA application_id of a dlcost ledger: "dlcL" in ASCII. A database with another id (or with
// tables and no id) is some other program's and is never written.
constexpr int kApplicationId = 0x646c634c;
// PRAGMA user_version: the schema version this dlcost writes. kMigrations[v] takes a ledger from
// version v to v + 1.
constexpr int kSchemaVersion = 1;
constexpr const char* kMigrations[] = {
    // 0 -> 1: the first schema.
    R"sql(
CREATE TABLE entries (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('estimate', 'actual')),
  project TEXT NOT NULL DEFAULT '',
  run_name TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  command TEXT NOT NULL DEFAULT '',
  gpu TEXT NOT NULL DEFAULT '',
  num_gpus INTEGER,
  start_time TEXT NOT NULL DEFAULT '',
  end_time TEXT NOT NULL DEFAULT '',
  wall_s REAL, gpu_hours REAL, energy_kwh REAL, usd REAL, co2_kg REAL, tokens REAL, tokens_per_s REAL,
  input_json TEXT NOT NULL DEFAULT '',
  result_json TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT '',
  source_key TEXT UNIQUE
);
CREATE INDEX entries_run ON entries (run_name, project);
CREATE TABLE tags (
  entry_id TEXT NOT NULL REFERENCES entries (id),
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (entry_id, key)
);
CREATE TABLE links (
  actual_id TEXT PRIMARY KEY REFERENCES entries (id),
  estimate_id TEXT NOT NULL REFERENCES entries (id),
  created_at TEXT NOT NULL
);
CREATE TABLE budgets (
  project TEXT PRIMARY KEY,
  usd REAL NOT NULL,
  period TEXT NOT NULL,
  set_at TEXT NOT NULL
);
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

// How long a writer waits for another one's transaction before giving up.
constexpr int kBusyTimeoutMs = 30000;

Status SqlError(sqlite3* db, int rc, const std::string& path, const std::string& what) {
  std::string msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  int primary = rc & 0xff;
  if (primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT) {
    return InvalidInput(fmt::format("--db: '{}' is not a readable SQLite database ({}); it was left untouched", path, msg));
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Unavailable(fmt::format("--db: '{}' stayed locked by another writer for {} s ({})", path, kBusyTimeoutMs / 1000, msg));
  }
  if (primary == SQLITE_CANTOPEN || primary == SQLITE_READONLY || primary == SQLITE_PERM || primary == SQLITE_IOERR ||
      primary == SQLITE_FULL) {
    return InvalidInput(fmt::format("--db: '{}': {} ({})", path, what, msg));
  }
  return Status(StatusCode::kInternal, fmt::format("--db: '{}': {}: {}", path, what, msg));
}

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  int prepare_rc() const { return rc_; }
  sqlite3_stmt* get() { return s_; }
  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  void Text(int i, const std::string& v) { sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT); }
  void TextOrNull(int i, const std::string& v) {
    if (v.empty()) {
      sqlite3_bind_null(s_, i);
    } else {
      Text(i, v);
    }
  }
  void Real(int i, std::optional<double> v) {
    if (v) {
      sqlite3_bind_double(s_, i, *v);
    } else {
      sqlite3_bind_null(s_, i);
    }
  }
  void Int(int i, std::optional<int64_t> v) {
    if (v) {
      sqlite3_bind_int64(s_, i, *v);
    } else {
      sqlite3_bind_null(s_, i);
    }
  }
  int Step() { return sqlite3_step(s_); }
  std::string ColText(int i) {
    const unsigned char* t = sqlite3_column_text(s_, i);
    return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s_, i));
  }
  std::optional<double> ColReal(int i) {
    if (sqlite3_column_type(s_, i) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_double(s_, i);
  }
  std::optional<int64_t> ColInt(int i) {
    if (sqlite3_column_type(s_, i) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(s_, i);
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_OK;
};

}  // namespace

std::string NewId(Kind k) {
  // Seeded from the OS per process: a forked writer must not draw its parent's sequence.
  static thread_local std::mt19937_64 rng;
  static thread_local pid_t seeded_for = 0;
  if (seeded_for != getpid()) {
    std::random_device rd;
    rng.seed((static_cast<uint64_t>(rd()) << 32) ^ rd());
    seeded_for = getpid();
  }
  return fmt::format("{}-{:012x}", k == Kind::kEstimate ? 'e' : 'a', rng() & 0xffffffffffffULL);
}

namespace {

constexpr const char* kEntryColumns =
    "id, kind, project, run_name, created_at, command, gpu, num_gpus, start_time, end_time, wall_s, gpu_hours, "
    "energy_kwh, usd, co2_kg, tokens, tokens_per_s, input_json, result_json, source, source_key";

}  // namespace

const char* KindName(Kind k) { return k == Kind::kEstimate ? "estimate" : "actual"; }

class SqliteBackend final : public Backend {
 public:
  sqlite3* db = nullptr;
  std::string path_;
  ~SqliteBackend() override { sqlite3_close_v2(db); }
  const std::string& path() const override { return path_; }
  Result<std::string> Add(const Entry& e) override;
  Result<ImportCounts> Import(const ImportBatch& batch) override;
  Result<std::vector<Entry>> List(const ListFilter& f) override;
  Result<std::vector<Link>> Links() override;
  Status PutLink(const std::string& estimate_id, const std::string& actual_id) override;
  Status SetBudget(const Budget& b) override;
  Result<std::vector<Budget>> Budgets(const std::string& project) override;
  Result<std::string> IntegrityCheck() override;

  Status Exec(const char* sql, const char* what) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
    sqlite3_free(err);
    return rc == SQLITE_OK ? Status::Ok() : SqlError(db, rc, path_, what);
  }
  Result<int64_t> PragmaInt(const char* sql) {
    Stmt s(db, sql);
    if (s.prepare_rc() != SQLITE_OK) return SqlError(db, s.prepare_rc(), path_, "reading the header");
    int rc = s.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqlError(db, rc, path_, "reading the header");
    return rc == SQLITE_ROW ? *s.ColInt(0) : int64_t{0};
  }
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT (rolled back when it fails).
  template <typename F>
  Status Transaction(F&& body) {
    return InTransaction([this](const char* sql, const char* what) { return Exec(sql, what); }, "BEGIN IMMEDIATE", body);
  }
  // Adds [begin, end) in one transaction; `last_id` is the id of the last entry added.
  Status InsertAll(const Entry* begin, const Entry* end, ImportCounts* counts, std::string* last_id);
  Status Migrate() {
    return Transaction([&]() -> Status {
      // Read again inside the write lock: another process may have created or migrated it.
      DLCOST_ASSIGN_OR_RETURN(int64_t version, PragmaInt("PRAGMA user_version"));
      for (int64_t v = version; v < kSchemaVersion; ++v) {
        DLCOST_RETURN_IF_ERROR(Exec(kMigrations[v], "creating the schema"));
      }
      DLCOST_RETURN_IF_ERROR(Exec(fmt::format("PRAGMA application_id = {}", kApplicationId).c_str(), "marking the ledger"));
      return Exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion).c_str(), "marking the ledger");
    });
  }
  // `now`: the created_at of an entry that has none.
  Status InsertEntry(Stmt& ins, Stmt& tag, const Entry& e, const std::string& now, std::string* id, bool* added) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      *id = NewId(e.kind);
      ins.Reset();
      ins.Text(1, *id);
      ins.Text(2, KindName(e.kind));
      ins.Text(3, e.project);
      ins.Text(4, e.run_name);
      ins.Text(5, e.created_at.empty() ? now : e.created_at);
      ins.Text(6, e.command);
      ins.Text(7, e.gpu);
      ins.Int(8, e.num_gpus);
      ins.Text(9, e.start);
      ins.Text(10, e.end);
      const Metrics& m = e.metrics;
      ins.Real(11, m.wall_s);
      ins.Real(12, m.gpu_hours);
      ins.Real(13, m.energy_kwh);
      ins.Real(14, m.usd);
      ins.Real(15, m.co2_kg);
      ins.Real(16, m.tokens);
      ins.Real(17, m.tokens_per_s);
      ins.Text(18, e.input_json);
      ins.Text(19, e.result_json);
      ins.Text(20, e.source);
      ins.TextOrNull(21, e.source_key);
      int rc = ins.Step();
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) continue;  // an id drawn twice: draw again
      if (rc != SQLITE_DONE) return SqlError(db, rc, path_, "adding an entry");
      *added = sqlite3_changes(db) > 0;
      if (!*added) return Status::Ok();
      for (const auto& [k, v] : e.tags) {
        tag.Reset();
        tag.Text(1, *id);
        tag.Text(2, k);
        tag.Text(3, v);
        rc = tag.Step();
        if (rc != SQLITE_DONE) return SqlError(db, rc, path_, "adding a tag");
      }
      return Status::Ok();
    }
    return Status(StatusCode::kInternal, "could not draw an unused entry id");
  }
  Result<std::vector<Entry>> Select(const std::string& where, const std::vector<std::string>& args) {
    std::string sql = fmt::format("SELECT {} FROM entries {} ORDER BY rowid", kEntryColumns, where);
    Stmt s(db, sql.c_str());
    if (s.prepare_rc() != SQLITE_OK) return SqlError(db, s.prepare_rc(), path_, "reading entries");
    for (size_t i = 0; i < args.size(); ++i) s.Text(static_cast<int>(i + 1), args[i]);
    std::vector<Entry> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      Entry e;
      e.id = s.ColText(0);
      e.kind = s.ColText(1) == "estimate" ? Kind::kEstimate : Kind::kActual;
      e.project = s.ColText(2);
      e.run_name = s.ColText(3);
      e.created_at = s.ColText(4);
      e.command = s.ColText(5);
      e.gpu = s.ColText(6);
      e.num_gpus = s.ColInt(7);
      e.start = s.ColText(8);
      e.end = s.ColText(9);
      e.metrics.wall_s = s.ColReal(10);
      e.metrics.gpu_hours = s.ColReal(11);
      e.metrics.energy_kwh = s.ColReal(12);
      e.metrics.usd = s.ColReal(13);
      e.metrics.co2_kg = s.ColReal(14);
      e.metrics.tokens = s.ColReal(15);
      e.metrics.tokens_per_s = s.ColReal(16);
      e.input_json = s.ColText(17);
      e.result_json = s.ColText(18);
      e.source = s.ColText(19);
      e.source_key = s.ColText(20);
      out.push_back(std::move(e));
    }
    if (rc != SQLITE_DONE) return SqlError(db, rc, path_, "reading entries");
    // Tags, in one pass.
    if (!out.empty()) {
      Stmt t(db, "SELECT entry_id, key, value FROM tags ORDER BY entry_id, key");
      if (t.prepare_rc() != SQLITE_OK) return SqlError(db, t.prepare_rc(), path_, "reading tags");
      std::unordered_map<std::string, size_t> index;
      for (size_t i = 0; i < out.size(); ++i) index.emplace(out[i].id, i);
      while ((rc = t.Step()) == SQLITE_ROW) {
        auto it = index.find(t.ColText(0));
        if (it != index.end()) out[it->second].tags.emplace_back(t.ColText(1), t.ColText(2));
      }
      if (rc != SQLITE_DONE) return SqlError(db, rc, path_, "reading tags");
    }
    return out;
  }
};


Result<std::unique_ptr<Backend>> OpenSqlite(const std::string& path) {
  std::error_code ec;
  fs::path p(path);
  if (fs::is_directory(p, ec)) return InvalidInput(fmt::format("--db: '{}' is a folder; give a file path", path));
  if (p.has_parent_path() && !fs::exists(p.parent_path(), ec)) {
    fs::create_directories(p.parent_path(), ec);
    if (ec) return InvalidInput(fmt::format("--db: cannot create the folder of '{}': {}", path, ec.message()));
  }
  auto impl = std::make_unique<SqliteBackend>();
  impl->path_ = path;
  int rc = sqlite3_open_v2(path.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return SqlError(impl->db, rc, path, "cannot open");
  sqlite3_extended_result_codes(impl->db, 1);
  sqlite3_busy_timeout(impl->db, kBusyTimeoutMs);

  // Whose database is it? Read before anything is written, in one read transaction so that the
  // three figures come from the same state (another process may be creating the ledger).
  DLCOST_RETURN_IF_ERROR(impl->Exec("BEGIN", "reading the header"));
  Result<int64_t> app_id_r = impl->PragmaInt("PRAGMA application_id");
  Result<int64_t> version_r = impl->PragmaInt("PRAGMA user_version");
  Result<int64_t> objects_r = impl->PragmaInt("SELECT count(*) FROM sqlite_master");
  (void)impl->Exec("COMMIT", "reading the header");
  DLCOST_ASSIGN_OR_RETURN(int64_t app_id, std::move(app_id_r));
  DLCOST_ASSIGN_OR_RETURN(int64_t version, std::move(version_r));
  DLCOST_ASSIGN_OR_RETURN(int64_t objects, std::move(objects_r));
  bool ours = app_id == kApplicationId;
  bool fresh = app_id == 0 && version == 0 && objects == 0;
  if (!ours && !fresh) {
    return InvalidInput(fmt::format(
        "--db: '{}' is a SQLite database of another program (application id {}, {} schema objects), not a dlcost "
        "ledger; it was left untouched",
        path, app_id, objects));
  }
  if (version > kSchemaVersion) {
    return InvalidInput(fmt::format("--db: '{}' has ledger schema version {}; this dlcost reads up to version {} (a newer "
                                    "dlcost wrote it)",
                                    path, version, kSchemaVersion));
  }
  // WAL lets readers work beside one writer; FULL syncs every commit (a kill or a power cut
  // loses at most the transaction in flight, never the database).
  // Switching a new file to WAL needs it to itself, and SQLite answers "busy" at once rather than
  // waiting when another process is reading it (as one creating the same ledger does): retry.
  for (int waited_ms = 0;; waited_ms += 5) {
    Status st = impl->Exec("PRAGMA journal_mode = WAL", "setting the journal mode");
    if (st.ok()) break;
    if (st.code() != StatusCode::kUnavailable || waited_ms >= kBusyTimeoutMs) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // 64 MiB of page cache: an import of 100,000 rows touches index pages all over the file.
  DLCOST_RETURN_IF_ERROR(impl->Exec("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -65536",
                                    "setting pragmas"));
  if (version < kSchemaVersion) DLCOST_RETURN_IF_ERROR(impl->Migrate());
  return std::unique_ptr<Backend>(std::move(impl));
}

Status SqliteBackend::InsertAll(const Entry* begin, const Entry* end, ImportCounts* counts, std::string* last_id) {
  return Transaction([&]() -> Status {
    Stmt ins(db, fmt::format("INSERT INTO entries ({}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                             "ON CONFLICT (source_key) DO NOTHING",
                             kEntryColumns)
                     .c_str());
    Stmt tag(db, "INSERT OR REPLACE INTO tags (entry_id, key, value) VALUES (?,?,?)");
    if (ins.prepare_rc() != SQLITE_OK) return SqlError(db, ins.prepare_rc(), path_, "adding an entry");
    if (tag.prepare_rc() != SQLITE_OK) return SqlError(db, tag.prepare_rc(), path_, "adding a tag");
    std::string now = NowUtc();
    for (const Entry* e = begin; e != end; ++e) {
      bool added = false;
      DLCOST_RETURN_IF_ERROR(InsertEntry(ins, tag, *e, now, last_id, &added));
      ++(added ? counts->added : counts->already_there);
    }
    return Status::Ok();
  });
}

Result<std::string> SqliteBackend::Add(const Entry& e) {
  ImportCounts counts;
  std::string id;
  DLCOST_RETURN_IF_ERROR(InsertAll(&e, &e + 1, &counts, &id));
  return id;
}

Result<ImportCounts> SqliteBackend::Import(const ImportBatch& batch) {
  ImportCounts counts;
  std::string id;
  DLCOST_RETURN_IF_ERROR(InsertAll(batch.entries.data(), batch.entries.data() + batch.entries.size(), &counts, &id));
  return counts;
}

Result<std::vector<Entry>> SqliteBackend::List(const ListFilter& f) {
  std::string where;
  std::vector<std::string> args;
  auto add = [&](const char* cond, const std::string& v) {
    where += where.empty() ? "WHERE " : " AND ";
    where += cond;
    args.push_back(v);
  };
  if (!f.id.empty()) add("id = ?", f.id);
  if (!f.project.empty()) add("project = ?", f.project);
  if (!f.run_name.empty()) add("run_name = ?", f.run_name);
  if (f.kind) add("kind = ?", KindName(*f.kind));
  return Select(where, args);
}


Result<std::vector<Link>> SqliteBackend::Links() {
  Stmt s(db, "SELECT estimate_id, actual_id FROM links ORDER BY rowid");
  if (s.prepare_rc() != SQLITE_OK) return SqlError(db, s.prepare_rc(), path_, "reading links");
  std::vector<Link> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back({s.ColText(0), s.ColText(1)});
  if (rc != SQLITE_DONE) return SqlError(db, rc, path_, "reading links");
  return out;
}

Status SqliteBackend::PutLink(const std::string& estimate_id, const std::string& actual_id) {
  return Transaction([&]() -> Status {
    Stmt s(db, "INSERT OR REPLACE INTO links (actual_id, estimate_id, created_at) VALUES (?,?,?)");
    if (s.prepare_rc() != SQLITE_OK) return SqlError(db, s.prepare_rc(), path_, "adding a link");
    s.Text(1, actual_id);
    s.Text(2, estimate_id);
    s.Text(3, NowUtc());
    int rc = s.Step();
    return rc == SQLITE_DONE ? Status::Ok() : SqlError(db, rc, path_, "adding a link");
  });
}

Status SqliteBackend::SetBudget(const Budget& b) {
  return Transaction([&]() -> Status {
    Stmt s(db, "INSERT OR REPLACE INTO budgets (project, usd, period, set_at) VALUES (?,?,?,?)");
    if (s.prepare_rc() != SQLITE_OK) return SqlError(db, s.prepare_rc(), path_, "setting a budget");
    s.Text(1, b.project);
    s.Real(2, b.usd);
    s.Text(3, PeriodName(b.period));
    s.Text(4, b.set_at.empty() ? NowUtc() : b.set_at);
    int rc = s.Step();
    return rc == SQLITE_DONE ? Status::Ok() : SqlError(db, rc, path_, "setting a budget");
  });
}

Result<std::vector<Budget>> SqliteBackend::Budgets(const std::string& project) {
  Stmt s(db, project.empty() ? "SELECT project, usd, period, set_at FROM budgets ORDER BY project"
                                    : "SELECT project, usd, period, set_at FROM budgets WHERE project = ?");
  if (s.prepare_rc() != SQLITE_OK) return SqlError(db, s.prepare_rc(), path_, "reading budgets");
  if (!project.empty()) s.Text(1, project);
  std::vector<Budget> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    Budget b;
    b.project = s.ColText(0);
    b.usd = s.ColReal(1).value_or(0);
    Result<Period> p = ParsePeriod(s.ColText(2));
    b.period = p.ok() ? *p : Period::kTotal;
    b.set_at = s.ColText(3);
    out.push_back(std::move(b));
  }
  if (rc != SQLITE_DONE) return SqlError(db, rc, path_, "reading budgets");
  return out;
}

Result<std::string> SqliteBackend::IntegrityCheck() {
  Stmt s(db, "PRAGMA integrity_check(20)");
  if (s.prepare_rc() != SQLITE_OK) return SqlError(db, s.prepare_rc(), path_, "checking integrity");
  std::string out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    if (!out.empty()) out += "; ";
    out += s.ColText(0);
  }
  if (rc != SQLITE_DONE) return SqlError(db, rc, path_, "checking integrity");
  return out;
}

Result<std::string> DefaultLedgerPath() {
  if (const char* env = std::getenv("DLCOST_LEDGER"); env != nullptr && *env != '\0') return std::string(env);
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg == '/') {
    return (fs::path(xdg) / "dlcost" / "ledger.db").string();
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return (fs::path(home) / ".local" / "share" / "dlcost" / "ledger.db").string();
  }
  return UsageError("--db: no ledger path: give --db, or set DLCOST_LEDGER, XDG_DATA_HOME or HOME");
}

}  // namespace dlcost::ledger
