// audit manifest: SHA-256, size and license of every file of a folder, and --verify.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dlcost/api_audit.h"

namespace dlcost::api {
namespace {

using Json = nlohmann::ordered_json;

report::Report ManifestReport(const AuditManifestResult& res) {
  report::Report r;
  r.title = fmt::format("Manifest of {}", res.dir);
  r.AddField("files", "files", static_cast<int64_t>(res.manifest.files.size()));
  report::Table& t = r.AddTable("entries", "Files", {{"path", "path"}, {"size_bytes", "bytes"}, {"sha256", "SHA-256"},
                                                     {"license", "license (SPDX)"}});
  for (const auto& e : res.manifest.files) {
    t.rows.push_back({e.path, e.size_bytes, e.sha256, e.license.empty() ? report::Value() : report::Value(e.license)});
  }
  r.notes.push_back("license: SPDX-License-Identifier lines, or key phrases of LICENSE/COPYING files (docs/audit.md)");
  return r;
}

report::Report VerifyReport(const AuditManifestResult& res) {
  report::Report r;
  r.title = fmt::format("Verification of {} against {}", res.dir, res.verify);
  r.AddField("files_expected", "files in the manifest", static_cast<int64_t>(res.before.files.size()));
  r.AddField("files_found", "files found", static_cast<int64_t>(res.manifest.files.size()));
  r.AddField("added", "added", res.added);
  r.AddField("removed", "removed", res.removed);
  r.AddField("changed", "changed", res.changed);
  report::Table& t = r.AddTable("changes", "Changes", {{"path", "path"}, {"change", "change"},
                                                       {"sha256_before", "SHA-256 before"}, {"sha256_after", "SHA-256 after"}});
  for (const auto& c : res.changes) t.rows.push_back({c.path, c.what, c.sha256_before, c.sha256_after});
  return r;
}

// Empty text and negative sizes mean "no such file on this side": JSON null.
Json OrNull(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }
Json OrNull(int64_t n) { return n < 0 ? Json(nullptr) : Json(n); }

std::string VerifyJson(const AuditManifestResult& res) {
  Json arr = Json::array();
  for (const auto& c : res.changes) {
    Json o;
    o["path"] = c.path;
    o["change"] = c.what;
    o["sha256_before"] = OrNull(c.sha256_before);
    o["sha256_after"] = OrNull(c.sha256_after);
    o["size_bytes_before"] = OrNull(c.size_before);
    o["size_bytes_after"] = OrNull(c.size_after);
    arr.push_back(o);
  }
  Json out;
  out["changes"] = arr;
  Json s;
  s["files_expected"] = res.before.files.size();
  s["files_found"] = res.manifest.files.size();
  s["added"] = res.added;
  s["removed"] = res.removed;
  s["changed"] = res.changed;
  s["ok"] = res.changes.empty();
  out["summary"] = s;
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

Result<AuditManifestResult> AuditManifest(const AuditManifestRequest& req) {
  AuditManifestResult r;
  r.dir = req.dir;
  r.verify = req.verify;
  DLCOST_ASSIGN_OR_RETURN(r.manifest, audit::BuildManifest(req.dir, req.verify.empty() ? req.out : req.verify));
  for (const auto& e : r.manifest.files) r.total_bytes += e.size_bytes;
  if (req.verify.empty()) return r;
  DLCOST_ASSIGN_OR_RETURN(r.before, audit::ReadManifest(req.verify));
  r.changes = audit::CompareManifests(r.before, r.manifest);
  for (const auto& c : r.changes) {
    r.added += c.what == "added";
    r.removed += c.what == "removed";
    r.changed += c.what == "changed";
  }
  return r;
}

Status AuditManifestVerdict(const AuditManifestResult& r) {
  if (r.changes.empty()) return Status::Ok();
  return InvalidInput(fmt::format("{}: does not match {}: {} added, {} removed, {} changed", r.dir, r.verify, r.added,
                                  r.removed, r.changed));
}

report::Report AuditManifestReport(const AuditManifestResult& r) {
  return r.verify.empty() ? ManifestReport(r) : VerifyReport(r);
}

std::string AuditManifestJson(const AuditManifestResult& r) {
  return r.verify.empty() ? audit::ManifestToJson(r.manifest) : VerifyJson(r);
}

}  // namespace dlcost::api
