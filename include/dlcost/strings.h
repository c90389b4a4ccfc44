// Small string helpers shared by the catalogs and the CLI.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dlcost {

std::string ToLower(std::string_view s);
std::string_view TrimView(std::string_view s);
std::vector<std::string> Split(std::string_view s, char sep);

// Levenshtein distance between two strings (case-sensitive).
size_t EditDistance(std::string_view a, std::string_view b);

// Up to `max` names from `known` closest to `query` (by edit distance on lowercase, and
// substring match), for "did you mean" messages. Empty when nothing is close.
std::vector<std::string> NearestNames(std::string_view query, const std::vector<std::string>& known,
                                      size_t max = 3);

// A value from an input, fit for a one-line error message: control characters as \n, \t or
// \xNN, bytes that are not UTF-8 as \xNN, and at most `max` bytes (then "...").
std::string ForMessage(std::string_view s, size_t max = 60);

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF).
bool IsValidUtf8(std::string_view s);

// "unknown GPU 'h10' (did you mean h100-sxm-80gb, h100-pcie-80gb?)".
std::string UnknownNameMessage(std::string_view what, std::string_view query,
                               const std::vector<std::string>& known);

}  // namespace dlcost
