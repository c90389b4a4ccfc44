// One result, many printers.
//
// Commands fill a Report (scalar fields, tables, charts, notes); printers turn it into a human
// table, JSON, CSV, Markdown or HTML. Adding an output format never touches the model code.
// Charts are drawn only in HTML, as inline SVG (docs/reports.md); the other formats carry the
// same numbers in their tables.
//
//   report::Report r;
//   r.title = "GPUs";
//   r.AddField("count", "GPUs", int64_t{12});
//   report::Table& t = r.AddTable("gpus", "Accelerators", {{"id", "id"}, {"bf16_tflops", "BF16 TFLOP/s", 1}});
//   t.rows.push_back({std::string("h100-sxm-80gb"), 989.4});
//   std::string out = report::Render(r, report::Format::kJson);
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "dlcost/status.h"

namespace dlcost::report {

using Value = std::variant<std::monostate, std::string, double, int64_t, bool>;

struct Column {
  std::string key;    // JSON/CSV key, with its unit suffix
  std::string title;  // human heading
  int precision = -1; // digits after the point for doubles in human formats; -1: 3 significant
};

struct Table {
  std::string key;
  std::string title;
  std::vector<Column> columns;
  std::vector<std::vector<Value>> rows;
};

// Where a field is printed: in every format, only in the machine formats (JSON, CSV), or only
// in the human ones (table, Markdown, HTML). A pair of machine fields (x_low, x_high) and one
// human line ("15.1-24.9") show the same band to a program and to a reader.
enum class Shown { kAll, kMachine, kHuman };

struct Field {
  std::string key;
  std::string label;
  Value value;
  int precision = -1;
  Shown shown = Shown::kAll;
  bool InHuman() const { return shown != Shown::kMachine; }
  bool InMachine() const { return shown != Shown::kHuman; }
};

// One series of a chart. XY charts: points (x[i], y[i]), with optional error bars (empty, or
// as long as x). Stacked bars: y[c] is this series' segment of bar c.
struct ChartSeries {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> x_low, x_high, y_low, y_high;
};

enum class ChartKind {
  kStackedBars,  // horizontal bars, one per category, stacked from the series
  kScatter,      // points, with error bars where given
  kLines,        // each series a polyline through its points, in x order
};

struct ChartMarker {
  double x = 0;
  std::string label;
};

struct Chart {
  std::string key, title;
  ChartKind kind = ChartKind::kScatter;
  std::string x_label, y_label;  // axis titles, with units
  bool log_x = false, log_y = false;
  std::vector<std::string> categories;  // stacked bars: the bars, top to bottom
  std::vector<ChartSeries> series;
  bool diagonal = false;                // draw y = x (predicted against measured)
  std::vector<ChartMarker> x_markers;   // vertical lines with a label (a break-even month)
  std::vector<std::pair<size_t, size_t>> highlighted;  // (series, point) drawn ringed (the chosen plan)
};

struct Report {
  std::string title;
  std::vector<Field> fields;
  std::vector<Table> tables;
  std::vector<Chart> charts;       // HTML only
  std::vector<std::string> notes;  // assumptions and sources, printed after the tables

  void AddField(std::string key, std::string label, Value value, int precision = -1, Shown shown = Shown::kAll);
  Table& AddTable(std::string key, std::string title, std::vector<Column> columns);
  Chart& AddChart(std::string key, std::string title, ChartKind kind);
};

// The chart as a self-contained SVG element (no script, no external reference): axes with
// ticks and titles, a colour-blind-safe palette (Okabe and Ito 2008), a legend. Points that
// cannot be drawn (not finite, or not positive on a log axis) are left out; a chart with
// nothing to draw says so in its place.
std::string RenderSvg(const Chart& c);

enum class Format { kTable, kJson, kCsv, kMarkdown, kHtml };
Result<Format> ParseFormat(const std::string& text);

// Renders the report; the text ends with a newline.
std::string Render(const Report& r, Format f);

// Human rendering of one value (used by the table, Markdown and HTML printers).
std::string FormatValue(const Value& v, int precision);

}  // namespace dlcost::report
