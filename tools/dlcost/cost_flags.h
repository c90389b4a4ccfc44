// Price, power and carbon flags shared by the estimating commands (train, infer, tco).
#pragma once

#include <CLI/CLI.hpp>

#include "dlcost/api_session.h"

namespace dlcost::cli {

void AddCostOptions(CLI::App* cmd, api::CostRequest* f);

}  // namespace dlcost::cli
