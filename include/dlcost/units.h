// Units and quantity parsing.
//
// dlcost keeps every quantity in SI base units inside the library (bytes, FLOPs, seconds,
// watts, US dollars) and puts the unit in the name of every variable and JSON key
// (`time_step_s`, `memory_weights_bytes`). This header holds the conversion constants and the
// parsers for user-typed quantities with suffixes:
//
//   ParseCount("1T", "--tokens")  -> 1e12        (k, M, B or G, T, P: powers of 1000)
//   ParseCount("8Ki", "--seq")    -> 8192        (Ki, Mi, Gi, Ti: powers of 1024)
//   ParseDurationSeconds("30d", "--deadline") -> 2592000 seconds (s, m, h, d, w)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dlcost/status.h"

namespace dlcost {

inline constexpr double kKiB = 1024.0;
inline constexpr double kMiB = 1024.0 * 1024.0;
inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
inline constexpr double kGB = 1e9;
inline constexpr double kTera = 1e12;
inline constexpr double kSecondsPerHour = 3600.0;
inline constexpr double kSecondsPerDay = 86400.0;

// Largest count dlcost accepts for any size (tokens, steps, GPUs): 1e18. Larger values are
// rejected rather than silently overflowing downstream arithmetic.
inline constexpr double kMaxCount = 1e18;

// Parses a non-negative count with an optional decimal (k, M, B/G, T, P) or binary
// (Ki, Mi, Gi, Ti) suffix. `field` names the flag or key in the error message. Rejects NaN,
// infinities, negative values, junk and values above kMaxCount.
Result<double> ParseCount(std::string_view text, std::string_view field);

// --memory-headroom: GiB kept free on every GPU (allocator fragmentation, other processes), a
// plain number of GiB from 0 to 1,000,000; bytes. InvalidInput naming `field` otherwise.
Result<double> ParseMemoryHeadroom(std::string_view text, std::string_view field);

// Like ParseCount but the result must be a positive integer that fits in int64.
Result<int64_t> ParsePositiveInt(std::string_view text, std::string_view field);

// How a flag spells a duration. Both read a number and a unit (s, m, h, d, w; none means
// seconds); they differ in what else they accept and in their errors, which each flag's users
// rely on.
enum class DurationSyntax {
  // --deadline: the number may carry ParseCount's suffixes ("1ks" = 1000 s), the unit is one
  // lower-case letter at the end, any positive value; errors are InvalidInput.
  kCount,
  // --window: a plain number, then blanks and a unit in any case, "min" too ("30 min", "12H");
  // 1 s to 1e12 s; errors are UsageError with an example.
  kWindow,
};

// Parses a duration "90s", "30m", "12h", "30d", "2w" (a bare number means seconds) into
// seconds; errors name `field`.
Result<double> ParseDurationSeconds(std::string_view text, std::string_view field,
                                    DurationSyntax syntax = DurationSyntax::kCount);

// Checks that `value` is finite and > 0 (or >= 0 when allow_zero); error names `field`.
Status CheckPositive(double value, std::string_view field, bool allow_zero = false);

// Formats a count for people: 1.23e12 -> "1.23T", 6.74e9 -> "6.74B".
std::string HumanCount(double value, int significant = 3);

}  // namespace dlcost
