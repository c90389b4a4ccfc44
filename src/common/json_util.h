// Checked access to JSON objects read from data files and user files. Every getter names the
// file and the key in its error, and rejects wrong types, NaN, negative or zero sizes.
//
//   DLCOST_ASSIGN_OR_RETURN(nlohmann::json doc, ReadJsonFile(path));
//   JsonFields f(doc, path);
//   DLCOST_ASSIGN_OR_RETURN(int64_t hidden, f.PositiveInt("hidden"));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dlcost/status.h"

namespace dlcost {

// Deepest nesting of objects and arrays in a JSON text (brackets outside strings).
int JsonNestingDepth(std::string_view text);
// Deeper than this, dlcost refuses a JSON text: no input it reads nests so deep, and printing
// or walking such a value recursively would exhaust the stack.
inline constexpr int kMaxJsonDepth = 64;
// Parses `text` without throwing: a discarded value (is_discarded()) when it is not JSON, holds
// a number outside double range, or nests deeper than `max_depth`.
// `Json`: nlohmann::json, or nlohmann::ordered_json to keep the keys in file order.
template <typename Json = nlohmann::json>
Json ParseJsonNoThrow(std::string_view text, int max_depth = kMaxJsonDepth) {
  if (JsonNestingDepth(text) > max_depth) return Json(Json::value_t::discarded);
  try {
    return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  } catch (const typename Json::exception&) {
    return Json(Json::value_t::discarded);
  }
}

// Reads and parses a JSON file; a syntax error names the file and byte offset, a number out of
// double range or nesting deeper than kMaxJsonDepth is refused.
Result<nlohmann::json> ReadJsonFile(const std::string& path);
// Reads a whole file into a string.
Result<std::string> ReadTextFile(const std::string& path);

class JsonFields {
 public:
  // `where` names the object in errors (a file name, or "file: moe").
  JsonFields(const nlohmann::json& obj, std::string where);

  bool Has(const std::string& key) const;
  const nlohmann::json& obj() const { return obj_; }
  const std::string& where() const { return where_; }

  Result<std::string> String(const std::string& key) const;
  std::optional<std::string> OptString(const std::string& key) const;
  Result<int64_t> PositiveInt(const std::string& key) const;
  // Optional integer: absent or null -> nullopt; present but not a positive integer -> error.
  Result<std::optional<int64_t>> OptPositiveInt(const std::string& key) const;
  Result<std::optional<int64_t>> OptNonNegativeInt(const std::string& key) const;
  Result<double> PositiveNumber(const std::string& key) const;
  Result<std::optional<double>> OptNumber(const std::string& key, bool allow_zero = true) const;
  Result<bool> OptBool(const std::string& key, bool default_value) const;
  Result<std::vector<int64_t>> IntList(const std::string& key) const;
  Result<std::vector<std::string>> OptStringList(const std::string& key) const;

 private:
  Status TypeError(const std::string& key, const char* expected) const;
  const nlohmann::json& obj_;
  std::string where_;
};

}  // namespace dlcost
