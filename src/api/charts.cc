#include "api/charts.h"

#include <variant>

namespace dlcost::api {

void AddPartsChart(report::Report& r, const report::Table& t, size_t value_col, std::string key, std::string title,
                   std::string bar, std::string x_label) {
  report::Chart c;
  c.key = std::move(key);
  c.title = std::move(title);
  c.kind = report::ChartKind::kStackedBars;
  c.x_label = std::move(x_label);
  c.categories = {std::move(bar)};
  for (const std::vector<report::Value>& row : t.rows) {
    if (row.size() <= value_col || !std::holds_alternative<std::string>(row[0])) continue;
    const std::string& name = std::get<std::string>(row[0]);
    if (name == "total" || name.rfind("  ", 0) == 0) continue;
    double v = std::holds_alternative<double>(row[value_col]) ? std::get<double>(row[value_col])
               : std::holds_alternative<int64_t>(row[value_col]) ? static_cast<double>(std::get<int64_t>(row[value_col]))
                                                                 : 0.0;
    if (!(v > 0)) continue;
    c.series.push_back({name, {}, {v}, {}, {}, {}, {}});
  }
  r.charts.push_back(std::move(c));
}

}  // namespace dlcost::api
