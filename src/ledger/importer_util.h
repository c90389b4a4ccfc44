// Helpers shared by the ledger's importers.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "dlcost/ledger.h"

namespace dlcost::ledger {

// The largest figure an import accepts (dollars, kWh, tokens, ...), and the longest duration
// (about 317 years): anything above is a unit mistake or garbage, not a run.
inline constexpr double kMaxQuantity = 1e18;
inline constexpr double kMaxDurationS = 1e10;

// 32 hex digits of the SHA-256 of `text`.
std::string Digest(const std::string& text);
// The row's identity: its importer and its values in a fixed order (not the column order or the
// file name, so a re-exported file with the same runs adds nothing).
std::string RowKey(const std::string& importer, const Entry& e);
// `s` (valid UTF-8) as a JSON string literal, appended to `out` / returned.
void AppendJsonString(std::string* out, std::string_view s);
std::string JsonString(std::string_view s);
// A finite number >= 0 spelled out in all of `s` (blanks around it allowed), or nullopt.
std::optional<double> ParseNonNegativeNumber(std::string_view s);
// The top-level "key: value" lines of a YAML file (MLflow's meta.yaml), quotes removed; nested
// and list lines are left out.
std::map<std::string, std::string> ParseFlatYaml(std::string_view text);

}  // namespace dlcost::ledger
