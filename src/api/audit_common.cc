#include "api/audit_common.h"

#include <fmt/format.h>

namespace dlcost::api {

// Skipped records named one warning each, before the rest are only counted.
constexpr size_t kSkippedWarnings = 10;
// Members shown per cluster in formats people read, before the rest are only counted.
constexpr size_t kMembersShown = 10;

Result<audit::InputSpec> MakeInputSpec(const std::string& path, const AuditInputFlags& in) {
  audit::InputSpec s;
  s.path = path;
  DLCOST_ASSIGN_OR_RETURN(s.format, audit::ParseInputFormat(in.input_format));
  s.text_field = in.text_field;
  s.id_field = in.id_field;
  s.label_field = in.label_field;
  s.max_record_bytes = in.max_record_bytes;
  return s;
}

audit::DedupOptions MakeDedupOptions(const MinHashFlags& f, const AuditHooks& hooks) {
  audit::DedupOptions opt;
  opt.threshold = f.threshold;
  opt.ngram = f.ngram;
  opt.num_perm = f.num_perm;
  opt.seed = f.seed;
  opt.progress = hooks.progress;
  return opt;
}

void WarnSkipped(const AuditHooks& hooks, const audit::InputStats& stats) {
  if (!hooks.warning) return;
  size_t shown = 0;
  for (const audit::SkippedRecord& k : stats.skipped_list) {
    if (shown++ == kSkippedWarnings) break;
    hooks.warning("skipped " + audit::DescribeSkipped(k));
  }
  if (stats.skipped > static_cast<int64_t>(kSkippedWarnings)) {
    hooks.warning(fmt::format("{} records skipped in all (listed in the report)", stats.skipped));
  }
}

std::string ClusterMembers(const audit::DedupResult& d, const std::vector<int64_t>& cluster, bool cut) {
  std::string members;
  for (size_t i = 0; i < cluster.size(); ++i) {
    if (cut && i == kMembersShown) {
      members += fmt::format(" ... (+{})", cluster.size() - kMembersShown);
      break;
    }
    members += (i ? " " : "") + d.ids[cluster[i]];
  }
  return members;
}

void AddSkippedTable(report::Report& r, const audit::InputStats& s, bool cut) {
  if (s.skipped == 0) return;
  report::Table& t = r.AddTable("skipped", "Skipped records", {{"file", "file"}, {"line", "line"}, {"reason", "reason"}});
  for (const audit::SkippedRecord& k : s.skipped_list) {
    if (cut && t.rows.size() == kAuditListRows) break;
    t.rows.push_back({k.file, k.line, k.reason});
  }
  for (const auto& [reason, n] : s.skipped_by_reason) r.notes.push_back(fmt::format("skipped: {} x {}", n, reason));
}

nlohmann::ordered_json SkippedJson(const audit::InputStats& s) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const audit::SkippedRecord& k : s.skipped_list) {
    nlohmann::ordered_json o;
    o["file"] = k.file;
    o["line"] = k.line;
    o["reason"] = k.reason;
    arr.push_back(o);
  }
  return arr;
}

}  // namespace dlcost::api
