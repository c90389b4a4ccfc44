// What the audit calls of the api module share: request flags into audit options, and the
// parts of their records and JSON that list skipped records and cluster members.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dlcost/api_audit.h"

namespace dlcost::api {

// Rows of a long table in formats people read; JSON and CSV list everything.
inline constexpr size_t kAuditListRows = 50;

// The input of `path` read as the flags `in` say; InvalidInput naming --input-format.
Result<audit::InputSpec> MakeInputSpec(const std::string& path, const AuditInputFlags& in);

// The MinHash flags and progress callback as dedup options (tokens per word left at the default).
audit::DedupOptions MakeDedupOptions(const MinHashFlags& f, const AuditHooks& hooks);

// Warns through hooks.warning of the skipped records of one input.
void WarnSkipped(const AuditHooks& hooks, const audit::InputStats& stats);

// The ids of `cluster`'s members, space-separated; when `cut`, the first ten and a count.
std::string ClusterMembers(const audit::DedupResult& d, const std::vector<int64_t>& cluster, bool cut);

// A "skipped" table (cut at kAuditListRows when `cut`) and a note per reason; nothing when no
// record was skipped.
void AddSkippedTable(report::Report& r, const audit::InputStats& s, bool cut);

// The skipped records listed in `s` as a JSON array of {file, line, reason}.
nlohmann::ordered_json SkippedJson(const audit::InputStats& s);

}  // namespace dlcost::api
