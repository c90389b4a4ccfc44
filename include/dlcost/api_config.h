// Configuration layers: defaults for command options from ./dlcost.json and the user's
// $XDG_CONFIG_HOME/dlcost/config.json (README, "Configuration"). The file format:
//
//   {"gpu": "h100",                        option defaults for every command that has them
//    "infer": {"engine": "vllm"},          ... for one command ("audit leakage" for a subcommand)
//    "region": "US-CA"}
//
// Values are strings, numbers or true/false (flags). The CLI turns a layer into arguments
// (tools/dlcost/config_layer.h); the precedence is the command line, DLCOST_<OPTION>
// variables, ./dlcost.json, then the user's file.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "dlcost/status.h"

namespace dlcost::api {

struct ConfigLayer {
  std::string where;                                                      // the file
  std::map<std::string, std::string> general;                             // option -> value
  std::map<std::string, std::map<std::string, std::string>> per_command;  // command -> option -> value
};

// The layer of the configuration file at `path`; nullopt when there is no such file.
// InvalidInput names the file and the key of a malformed file (not JSON, not an object, a
// value that is not a string, number or true/false, nesting deeper than a command object).
Result<std::optional<ConfigLayer>> ReadConfigLayer(const std::string& path);

// The user's configuration file: $XDG_CONFIG_HOME/dlcost/config.json, else
// $HOME/.config/dlcost/config.json; empty when neither variable is set.
std::string UserConfigPath();

}  // namespace dlcost::api
