// Ledger: the argument checks common to every store, and the choice of store by --db.
#include <fmt/format.h>

#include "dlcost/ledger.h"
#include "ledger/backend.h"

namespace dlcost::ledger {

Ledger::Ledger(std::unique_ptr<Backend> impl) : impl_(std::move(impl)) {}
Ledger::~Ledger() = default;
Ledger::Ledger(Ledger&&) noexcept = default;
Ledger& Ledger::operator=(Ledger&&) noexcept = default;

Result<Ledger> Ledger::Open(const std::string& path) {
  if (path.empty()) return UsageError("--db: empty path");
  std::unique_ptr<Backend> b;
  if (path.rfind("postgresql://", 0) == 0 || path.rfind("postgres://", 0) == 0) {
    DLCOST_ASSIGN_OR_RETURN(b, OpenPostgres(path));
  } else if (path.find("://") != std::string::npos) {
    return UsageError(fmt::format("--db: '{}': a ledger is a file path or a postgresql:// URL", path.substr(0, path.find("://") + 3)));
  } else {
    DLCOST_ASSIGN_OR_RETURN(b, OpenSqlite(path));
  }
  return Ledger(std::move(b));
}

const std::string& Ledger::path() const { return impl_->path(); }
Result<std::string> Ledger::Add(const Entry& e) { return impl_->Add(e); }
Result<ImportCounts> Ledger::Import(const ImportBatch& batch) { return impl_->Import(batch); }
Result<std::vector<Entry>> Ledger::List(const ListFilter& f) const { return impl_->List(f); }
Result<std::vector<Link>> Ledger::Links() const { return impl_->Links(); }
Status Ledger::SetBudget(const Budget& b) { return impl_->SetBudget(b); }
Result<std::vector<Budget>> Ledger::Budgets(const std::string& project) const { return impl_->Budgets(project); }
Result<std::string> Ledger::IntegrityCheck() const { return impl_->IntegrityCheck(); }

Result<Entry> Ledger::Get(const std::string& id) const {
  ListFilter f;
  f.id = id;
  DLCOST_ASSIGN_OR_RETURN(std::vector<Entry> v, impl_->List(f));
  if (v.empty()) return NotFound(fmt::format("no ledger entry '{}' in '{}' (dlcost ledger list shows the ids)", id, path()));
  return std::move(v.front());
}

Status Ledger::AddLink(const std::string& estimate_id, const std::string& actual_id) {
  DLCOST_ASSIGN_OR_RETURN(Entry est, Get(estimate_id));
  DLCOST_ASSIGN_OR_RETURN(Entry act, Get(actual_id));
  if (est.kind != Kind::kEstimate) return InvalidInput(fmt::format("ledger link: '{}' is an actual, not an estimate", estimate_id));
  if (act.kind != Kind::kActual) return InvalidInput(fmt::format("ledger link: '{}' is an estimate, not an actual", actual_id));
  return impl_->PutLink(estimate_id, actual_id);
}

}  // namespace dlcost::ledger
