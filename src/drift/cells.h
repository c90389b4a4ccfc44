// Cell-level helpers shared by the CSV and JSONL readers: missing-value tokens, number text,
// category dictionaries and column type inference.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "dlcost/drift.h"

namespace dlcost::drift {

// Tokens read as a missing value in any column: empty, NA, N/A, NaN, nan, null, NULL, None
// (the spellings pandas, R and JSON writers produce).
inline bool IsMissingToken(std::string_view s) {
  switch (s.size()) {
    case 0: return true;
    case 2: return s == "NA";
    case 3: return s == "N/A" || s == "NaN" || s == "nan";
    case 4: return s == "null" || s == "NULL" || s == "None";
    default: return false;
  }
}

enum class NumberParse { kValue, kMissing, kBad };

// Reads a whole field as a finite number (blanks around it and a leading '+' allowed).
inline NumberParse ParseNumberText(std::string_view s, double* out) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  if (IsMissingToken(s)) return NumberParse::kMissing;
  if (s.size() > 1 && s.front() == '+' && s[1] != '-') s.remove_prefix(1);
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return NumberParse::kBad;
  if (std::isnan(v)) return NumberParse::kMissing;
  if (!std::isfinite(v)) return NumberParse::kBad;
  *out = v;
  return NumberParse::kValue;
}

// Length of UTF-8 text in code points.
inline double Utf8Length(std::string_view s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return static_cast<double>(n);
}

struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Category text -> code, with codes in first-seen order.
class Dictionary {
 public:
  uint32_t Code(std::string_view s) {
    auto it = index_.find(s);
    if (it != index_.end()) return it->second;
    uint32_t code = static_cast<uint32_t>(names_.size());
    names_.emplace_back(s);
    index_.emplace(names_.back(), code);
    return code;
  }
  const std::vector<std::string>& names() const { return names_; }

 private:
  std::unordered_map<std::string, uint32_t, StringViewHash, std::equal_to<>> index_;
  std::vector<std::string> names_;
};

// What the first rows of a column look like, to infer its type.
struct ColumnSample {
  bool all_numeric = true;
  int64_t present = 0;
  int64_t chars = 0;
  std::unordered_set<std::string> distinct;  // capped at kMaxDistinct

  static constexpr size_t kMaxDistinct = 4096;
  void Add(std::string_view s, bool is_number) {
    if (IsMissingToken(s)) return;
    ++present;
    chars += static_cast<int64_t>(Utf8Length(s));
    if (!is_number) all_numeric = false;
    if (distinct.size() < kMaxDistinct) distinct.emplace(s);
  }
  // Numeric when every present value is a number (or nothing is present); text when values
  // are long (>= 20 characters on average) and mostly distinct (> half of at least 100);
  // otherwise categorical. Our heuristic: override with --numeric/--categorical/--text.
  ColumnType Infer() const {
    if (all_numeric) return ColumnType::kNumeric;
    if (present >= 100 && static_cast<int64_t>(distinct.size()) * 2 > present && chars >= 20 * present) {
      return ColumnType::kText;
    }
    return ColumnType::kCategorical;
  }
};

}  // namespace dlcost::drift
