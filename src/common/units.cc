#include "dlcost/units.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "dlcost/strings.h"

namespace dlcost {
namespace {

struct Suffix {
  const char* text;
  double factor;
};

// Longest suffixes first so "Ki" wins over "K".
constexpr Suffix kCountSuffixes[] = {
    {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
    {"k", 1e3},     {"K", 1e3},        {"M", 1e6},           {"B", 1e9},
    {"G", 1e9},     {"T", 1e12},       {"P", 1e15},
    // Lower case as people type them ("2b", "500m", "1t"): a count is never in milli-units.
    {"m", 1e6},     {"b", 1e9},        {"g", 1e9},           {"t", 1e12},   {"p", 1e15},
};

Result<double> ParseNumberPrefix(std::string_view text, std::string_view field, size_t* consumed) {
  std::string s(text);
  if (s.empty()) return InvalidInput(fmt::format("{}: empty value", field));
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str()) {
    return InvalidInput(fmt::format("{}: '{}' is not a number", field, text));
  }
  if (errno == ERANGE || !std::isfinite(v)) {
    return InvalidInput(fmt::format("{}: '{}' is not a finite number", field, text));
  }
  *consumed = static_cast<size_t>(end - s.c_str());
  return v;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Seconds in one duration unit (exact spelling), or nullopt.
std::optional<double> UnitSeconds(std::string_view unit) {
  if (unit == "s") return 1.0;
  if (unit == "m" || unit == "min") return 60.0;
  if (unit == "h") return 3600.0;
  if (unit == "d") return kSecondsPerDay;
  if (unit == "w") return 7 * kSecondsPerDay;
  return std::nullopt;
}

// DurationSyntax::kWindow.
Result<double> ParseWindowDuration(std::string_view text, std::string_view field) {
  std::string_view s = TrimView(text);
  double n = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), n);
  if (r.ec != std::errc() || !std::isfinite(n)) {
    return UsageError(fmt::format("{}: '{}' is not a duration (for example 1d, 12h, 30m, 3600)", field, text));
  }
  std::string unit = ToLower(TrimView(std::string_view(r.ptr, static_cast<size_t>(s.data() + s.size() - r.ptr))));
  std::optional<double> scale = unit.empty() ? std::optional<double>(1.0) : UnitSeconds(unit);
  if (!scale) return UsageError(fmt::format("{}: unknown unit '{}' in '{}' (s, m, h, d, w)", field, unit, text));
  double secs = n * *scale;
  if (!(secs >= 1) || secs > 1e12) return UsageError(fmt::format("{}: '{}' must be at least 1 second", field, text));
  return secs;
}

}  // namespace

Result<double> ParseCount(std::string_view text, std::string_view field) {
  text = Trim(text);
  // strtod accepts "nan", "inf" and hex floats; a count never is one of those.
  for (char c : text) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
          c == '+' || c == '-' || std::isalpha(static_cast<unsigned char>(c)))) {
      return InvalidInput(fmt::format("{}: '{}' is not a number", field, text));
    }
  }
  if (!text.empty() && !std::isdigit(static_cast<unsigned char>(text[0])) && text[0] != '.' &&
      text[0] != '-' && text[0] != '+') {
    return InvalidInput(fmt::format("{}: '{}' is not a number", field, text));
  }
  if (text.find_first_of("xX") != std::string_view::npos) {  // strtod would read hex
    return InvalidInput(fmt::format("{}: '{}' is not a number", field, text));
  }
  size_t used = 0;
  DLCOST_ASSIGN_OR_RETURN(double v, ParseNumberPrefix(text, field, &used));
  std::string_view rest = text.substr(used);
  double factor = 1.0;
  if (!rest.empty()) {
    bool matched = false;
    for (const Suffix& s : kCountSuffixes) {
      if (rest == s.text) {
        factor = s.factor;
        matched = true;
        break;
      }
    }
    if (!matched) {
      return InvalidInput(fmt::format(
          "{}: unknown suffix '{}' in '{}' (use k, M, B, T, P (or m, b, t, p) or Ki, Mi, Gi, Ti)", field, rest, text));
    }
  }
  double out = v * factor;
  if (out < 0) return InvalidInput(fmt::format("{}: '{}' is negative", field, text));
  if (out > kMaxCount) {
    return InvalidInput(fmt::format("{}: '{}' is too large (limit {:g})", field, text, kMaxCount));
  }
  return out;
}

Result<double> ParseMemoryHeadroom(std::string_view text, std::string_view field) {
  DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(text, field));
  if (v > 1e6) return InvalidInput(fmt::format("{}: '{}' GiB is more than 1,000,000 GiB", field, Trim(text)));
  return v * kGiB;
}

Result<int64_t> ParsePositiveInt(std::string_view text, std::string_view field) {
  DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(text, field));
  if (v < 1) return InvalidInput(fmt::format("{}: '{}' must be at least 1", field, Trim(text)));
  if (v != std::floor(v)) {
    return InvalidInput(fmt::format("{}: '{}' must be a whole number", field, Trim(text)));
  }
  return static_cast<int64_t>(v);
}

Result<double> ParseDurationSeconds(std::string_view text, std::string_view field, DurationSyntax syntax) {
  if (syntax == DurationSyntax::kWindow) return ParseWindowDuration(text, field);
  text = Trim(text);
  if (text.empty()) return InvalidInput(fmt::format("{}: empty duration", field));
  std::string_view num = text;
  std::optional<double> factor = UnitSeconds(text.substr(text.size() - 1));
  if (factor) {
    num.remove_suffix(1);
  } else {
    factor = 1.0;
  }
  DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(num, field));
  if (v <= 0) return InvalidInput(fmt::format("{}: duration '{}' must be positive", field, text));
  return v * *factor;
}

Status CheckPositive(double value, std::string_view field, bool allow_zero) {
  if (!std::isfinite(value)) return InvalidInput(fmt::format("{}: must be a finite number", field));
  if (allow_zero ? value < 0 : value <= 0) {
    return InvalidInput(fmt::format("{}: must be {} (got {:g})", field,
                                    allow_zero ? "zero or positive" : "positive", value));
  }
  return Status::Ok();
}

std::string HumanCount(double value, int significant) {
  if (!std::isfinite(value)) return "n/a";
  struct Scale {
    double factor;
    const char* suffix;
  };
  constexpr Scale kScales[] = {{1e15, "P"}, {1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}};
  double a = std::fabs(value);
  for (const Scale& s : kScales) {
    if (a >= s.factor) return fmt::format("{:.{}g}{}", value / s.factor, significant, s.suffix);
  }
  return fmt::format("{:.{}g}", value, significant);
}

}  // namespace dlcost
