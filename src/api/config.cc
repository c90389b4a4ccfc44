// Configuration layers (include/dlcost/api_config.h).
#include "dlcost/api_config.h"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/json_util.h"
#include "dlcost/strings.h"

namespace dlcost::api {
namespace {

// The value of a JSON scalar as it would be typed on the command line.
Result<std::string> ScalarText(const nlohmann::json& v, const std::string& where) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_float()) return fmt::format("{}", v.get<double>());
  return InvalidInput(fmt::format("{}: must be a string, number or true/false", where));
}

// An option name as it follows "--" (letters, digits, '-' and '_', not starting with '-'), or
// with `command` a command name (such words joined by single spaces, "audit leakage").
bool ValidName(const std::string& k, bool command) {
  if (k.empty() || k.size() > 64 || k.front() == '-' || k.front() == ' ' || k.back() == ' ') return false;
  for (size_t i = 0; i < k.size(); ++i) {
    char c = k[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (command && c == ' ') ok = k[i - 1] != ' ';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<std::optional<ConfigLayer>> ReadConfigLayer(const std::string& path) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return std::optional<ConfigLayer>();
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(path));
  if (!j.is_object()) return InvalidInput(path + ": a dlcost configuration is a JSON object");
  ConfigLayer l;
  l.where = path;
  for (const auto& item : j.items()) {
    std::string where = fmt::format("{}: '{}'", path, ForMessage(item.key()));
    bool command = item.value().is_object();
    if (!ValidName(item.key(), command)) {
      return InvalidInput(fmt::format("{}: is not {}", where,
                                      command ? "a command name (\"infer\", \"audit leakage\")"
                                              : "an option name (its long flag without the dashes: \"gpu\")"));
    }
    if (command) {
      std::map<std::string, std::string>& opts = l.per_command[item.key()];
      for (const auto& o : item.value().items()) {
        std::string owhere = fmt::format("{}.'{}'", where, ForMessage(o.key()));
        if (!ValidName(o.key(), false)) {
          return InvalidInput(owhere + ": is not an option name (its long flag without the dashes: \"gpu\")");
        }
        DLCOST_ASSIGN_OR_RETURN(opts[o.key()], ScalarText(o.value(), owhere));
      }
    } else {
      DLCOST_ASSIGN_OR_RETURN(l.general[item.key()], ScalarText(item.value(), where));
    }
  }
  return std::optional<ConfigLayer>(std::move(l));
}

std::string UserConfigPath() {
  if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) return std::string(x) + "/dlcost/config.json";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.config/dlcost/config.json";
  return "";
}

}  // namespace dlcost::api
