// What a ledger store does, whatever holds it: SQLite (store.cc) or PostgreSQL (postgres.cc).
// Ledger (ledger.h) checks its arguments and calls one of these.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dlcost/ledger.h"

namespace dlcost::ledger {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const std::string& path() const = 0;  // the file, or the URL without its password
  virtual Result<std::string> Add(const Entry& e) = 0;
  virtual Result<ImportCounts> Import(const ImportBatch& batch) = 0;
  virtual Result<std::vector<Entry>> List(const ListFilter& f) = 0;
  virtual Result<std::vector<Link>> Links() = 0;
  virtual Status PutLink(const std::string& estimate_id, const std::string& actual_id) = 0;
  virtual Status SetBudget(const Budget& b) = 0;
  virtual Result<std::vector<Budget>> Budgets(const std::string& project) = 0;
  virtual Result<std::string> IntegrityCheck() = 0;
};

// Runs `body` between `begin` (BEGIN, BEGIN IMMEDIATE) and COMMIT through `exec(sql, what)`,
// rolling back when the body or the commit fails. Both stores' writes go through it.
template <typename Exec, typename Body>
Status InTransaction(Exec&& exec, const char* begin, Body&& body) {
  DLCOST_RETURN_IF_ERROR(exec(begin, "starting a transaction"));
  Status st = body();
  if (st.ok()) st = exec("COMMIT", "committing");
  if (!st.ok()) (void)exec("ROLLBACK", "rolling back");
  return st;
}

Result<std::unique_ptr<Backend>> OpenSqlite(const std::string& path);
Result<std::unique_ptr<Backend>> OpenPostgres(const std::string& url);

// "e-" or "a-" and 12 random hex digits, from a generator seeded by the OS in each process.
std::string NewId(Kind k);

}  // namespace dlcost::ledger
