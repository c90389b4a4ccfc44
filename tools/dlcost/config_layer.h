// Defaults for any long option from configuration (docs: README, "Configuration"): the command
// line first, then DLCOST_<OPTION> environment variables, then ./dlcost.json, then
// $XDG_CONFIG_HOME/dlcost/config.json (or ~/.config/dlcost/config.json).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "dlcost/status.h"

namespace dlcost::cli {

// Adds to `args` (the arguments after the program name) the options the configuration sets
// for the command `args` names and the command line leaves out, and shows them as the
// effective defaults in that command's --help. InvalidInput names the file (or variable) and
// the key of a bad configuration. DLCOST_NO_CONFIG=1 turns the files and variables off.
Status ApplyConfigDefaults(CLI::App& app, std::vector<std::string>& args);

}  // namespace dlcost::cli
