#include "common/json_util.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace dlcost {

Result<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidInput(fmt::format("{}: cannot open file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int JsonNestingDepth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') deepest = std::max(deepest, ++depth);
    else if (c == '}' || c == ']') --depth;
  }
  return deepest;
}

Result<nlohmann::json> ReadJsonFile(const std::string& path) {
  DLCOST_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  if (JsonNestingDepth(text) > kMaxJsonDepth) {
    return InvalidInput(fmt::format("{}: JSON nested deeper than {} levels", path, kMaxJsonDepth));
  }
  nlohmann::json j = ParseJsonNoThrow(text);
  if (j.is_discarded()) {
    // Re-parse with exceptions only to get the position (and the kind of error) for the message.
    try {
      (void)nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      return InvalidInput(fmt::format("{}: invalid JSON at byte {}", path, e.byte));
    } catch (const nlohmann::json::out_of_range&) {
      return InvalidInput(fmt::format("{}: a number is outside the range of a double", path));
    } catch (const nlohmann::json::exception&) {
    }
    return InvalidInput(fmt::format("{}: invalid JSON", path));
  }
  return j;
}

JsonFields::JsonFields(const nlohmann::json& obj, std::string where)
    : obj_(obj), where_(std::move(where)) {}

bool JsonFields::Has(const std::string& key) const {
  return obj_.is_object() && obj_.contains(key) && !obj_.at(key).is_null();
}

Status JsonFields::TypeError(const std::string& key, const char* expected) const {
  return InvalidInput(fmt::format("{}: field '{}' must be {}", where_, key, expected));
}

Result<std::string> JsonFields::String(const std::string& key) const {
  if (!Has(key)) return InvalidInput(fmt::format("{}: missing field '{}'", where_, key));
  const auto& v = obj_.at(key);
  if (!v.is_string()) return TypeError(key, "a string");
  return v.get<std::string>();
}

std::optional<std::string> JsonFields::OptString(const std::string& key) const {
  if (!Has(key) || !obj_.at(key).is_string()) return std::nullopt;
  return obj_.at(key).get<std::string>();
}

Result<std::optional<int64_t>> JsonFields::OptNonNegativeInt(const std::string& key) const {
  if (!Has(key)) return std::optional<int64_t>();
  const auto& v = obj_.at(key);
  if (v.is_number_integer() || v.is_number_unsigned()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(1e15)) {
      return TypeError(key, "an integer no larger than 1e15");
    }
    int64_t x = v.get<int64_t>();
    if (x < 0) return TypeError(key, "zero or a positive integer");
    if (x > static_cast<int64_t>(1e15)) return TypeError(key, "an integer no larger than 1e15");
    return std::optional<int64_t>(x);
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && d >= 0 && d <= 1e15) {
      return std::optional<int64_t>(static_cast<int64_t>(d));
    }
  }
  return TypeError(key, "zero or a positive integer");
}

Result<std::optional<int64_t>> JsonFields::OptPositiveInt(const std::string& key) const {
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> v, OptNonNegativeInt(key));
  if (v && *v == 0) return TypeError(key, "a positive integer");
  return v;
}

Result<int64_t> JsonFields::PositiveInt(const std::string& key) const {
  if (!Has(key)) return InvalidInput(fmt::format("{}: missing field '{}'", where_, key));
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> v, OptPositiveInt(key));
  return *v;
}

Result<std::optional<double>> JsonFields::OptNumber(const std::string& key, bool allow_zero) const {
  if (!Has(key)) return std::optional<double>();
  const auto& v = obj_.at(key);
  if (!v.is_number()) return TypeError(key, "a number");
  double d = v.get<double>();
  if (!std::isfinite(d) || d < 0 || (!allow_zero && d == 0)) {
    return TypeError(key, allow_zero ? "a finite number >= 0" : "a finite number > 0");
  }
  return std::optional<double>(d);
}

Result<double> JsonFields::PositiveNumber(const std::string& key) const {
  if (!Has(key)) return InvalidInput(fmt::format("{}: missing field '{}'", where_, key));
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> v, OptNumber(key, /*allow_zero=*/false));
  return *v;
}

Result<bool> JsonFields::OptBool(const std::string& key, bool default_value) const {
  if (!Has(key)) return default_value;
  const auto& v = obj_.at(key);
  if (!v.is_boolean()) return TypeError(key, "true or false");
  return v.get<bool>();
}

Result<std::vector<int64_t>> JsonFields::IntList(const std::string& key) const {
  if (!Has(key)) return InvalidInput(fmt::format("{}: missing field '{}'", where_, key));
  const auto& v = obj_.at(key);
  if (!v.is_array() || v.empty()) return TypeError(key, "a non-empty list of positive integers");
  std::vector<int64_t> out;
  for (const auto& e : v) {
    if (!e.is_number_integer() || e.get<int64_t>() <= 0 || e.get<int64_t>() > 1000000000) {
      return TypeError(key, "a non-empty list of positive integers");
    }
    out.push_back(e.get<int64_t>());
  }
  return out;
}

Result<std::vector<std::string>> JsonFields::OptStringList(const std::string& key) const {
  std::vector<std::string> out;
  if (!Has(key)) return out;
  const auto& v = obj_.at(key);
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
    return out;
  }
  if (!v.is_array()) return TypeError(key, "a list of strings");
  for (const auto& e : v) {
    if (!e.is_string()) return TypeError(key, "a list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace dlcost
