// Chart builders shared by the reports of the api (drawn in HTML only; docs/reports.md).
#pragma once

#include <string>

#include "dlcost/report.h"

namespace dlcost::api {

// A one-bar stacked chart of a parts table (label in column 0, value in `value_col`): every
// positive part, without the "total" row and the indented "of which" rows, which double-count.
void AddPartsChart(report::Report& r, const report::Table& t, size_t value_col, std::string key, std::string title,
                   std::string bar, std::string x_label);

}  // namespace dlcost::api
