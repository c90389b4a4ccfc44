// ISO 8601 times of the ledger: parsed to Unix seconds, printed in UTC.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dlcost::ledger {

// "2026-05-01", "2026-05-01T12:00", "2026-05-01T12:00:00.5Z", "2026-05-01 12:00:00+02:00":
// seconds since 1970-01-01T00:00:00Z. A time without a zone is read as UTC. nullopt when the
// text is not such a time (or a field is out of range).
std::optional<double> ParseIsoTime(std::string_view text);

// "2026-05-01T12:00:00Z" (whole seconds, rounded down); empty outside the years 0000-9999.
std::string FormatIsoTime(double unix_seconds);

}  // namespace dlcost::ledger
