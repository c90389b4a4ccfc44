#include "dlcost/report.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "report/escape.h"

namespace dlcost::report {
namespace {

nlohmann::json ToJson(const Value& v) {
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  if (std::holds_alternative<double>(v)) {
    double d = std::get<double>(v);
    if (!std::isfinite(d)) return nullptr;
    return d;
  }
  if (std::holds_alternative<int64_t>(v)) return std::get<int64_t>(v);
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v);
  return nullptr;
}

// Machine rendering for CSV: full precision, empty for null.
std::string RawValue(const Value& v) {
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  if (std::holds_alternative<double>(v)) {
    double d = std::get<double>(v);
    return std::isfinite(d) ? fmt::format("{}", d) : "";
  }
  if (std::holds_alternative<int64_t>(v)) return fmt::format("{}", std::get<int64_t>(v));
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v) ? "true" : "false";
  return "";
}

std::string CsvQuote(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += "\"\"";
    else out += c;
  }
  return out + "\"";
}

std::string HtmlEscape(const std::string& s) { return MarkupEscape(s); }

std::string MdEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

bool IsNumeric(const Value& v) {
  return std::holds_alternative<double>(v) || std::holds_alternative<int64_t>(v);
}

// A human table's cell or field value on one line: control characters (a newline inside a
// quoted CSV header, a tab) are written as escapes, so every row stays one line of the table.
std::string OneLine(std::string s) {
  if (std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return s;
  }
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (u < 0x20 || u == 0x7f) out += fmt::format("\\x{:02x}", u);
    else out += c;
  }
  return out;
}

// UTF-8 aware display width (counts code points, not bytes).
size_t Width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Pad(const std::string& s, size_t width, bool right) {
  size_t w = Width(s);
  if (w >= width) return s;
  std::string fill(width - w, ' ');
  return right ? fill + s : s + fill;
}

// Human tables carry no trailing blanks (they would show up in every diff of saved output).
std::string TrimEnd(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string RenderText(const Report& r) {
  std::string out;
  if (!r.title.empty()) out += r.title + "\n\n";
  size_t label_w = 0;
  for (const Field& f : r.fields) {
    if (f.InHuman()) label_w = std::max(label_w, Width(f.label));
  }
  for (const Field& f : r.fields) {
    if (!f.InHuman()) continue;
    out += TrimEnd("  " + Pad(f.label, label_w, false) + "  " + OneLine(FormatValue(f.value, f.precision))) + "\n";
  }
  if (!r.fields.empty()) out += "\n";
  for (const Table& t : r.tables) {
    if (!t.title.empty()) out += t.title + "\n";
    std::vector<size_t> w(t.columns.size());
    std::vector<bool> right(t.columns.size(), false);
    std::vector<std::vector<std::string>> cells;
    for (size_t c = 0; c < t.columns.size(); ++c) w[c] = Width(t.columns[c].title);
    for (const auto& row : t.rows) {
      std::vector<std::string> line;
      for (size_t c = 0; c < t.columns.size(); ++c) {
        const Value& v = c < row.size() ? row[c] : Value();
        std::string s = OneLine(FormatValue(v, t.columns[c].precision));
        if (IsNumeric(v)) right[c] = true;
        w[c] = std::max(w[c], Width(s));
        line.push_back(std::move(s));
      }
      cells.push_back(std::move(line));
    }
    std::string head = " ";
    std::string rule = " ";
    for (size_t c = 0; c < t.columns.size(); ++c) {
      head += " " + Pad(t.columns[c].title, w[c], right[c]) + " ";
      rule += " " + std::string(w[c], '-') + " ";
    }
    out += TrimEnd(head) + "\n" + TrimEnd(rule) + "\n";
    for (const auto& line : cells) {
      std::string s = " ";
      for (size_t c = 0; c < line.size(); ++c) s += " " + Pad(line[c], w[c], right[c]) + " ";
      out += TrimEnd(s) + "\n";
    }
    out += "\n";
  }
  if (!r.notes.empty()) {
    out += "Notes:\n";
    for (const std::string& n : r.notes) out += "  - " + n + "\n";
  }
  while (out.size() > 1 && out[out.size() - 1] == '\n' && out[out.size() - 2] == '\n') out.pop_back();
  return out;
}

std::string RenderJson(const Report& r) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const Field& f : r.fields) {
    if (f.InMachine()) j[f.key] = ToJson(f.value);
  }
  for (const Table& t : r.tables) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& row : t.rows) {
      nlohmann::ordered_json o = nlohmann::ordered_json::object();
      for (size_t c = 0; c < t.columns.size(); ++c) {
        o[t.columns[c].key] = ToJson(c < row.size() ? row[c] : Value());
      }
      rows.push_back(std::move(o));
    }
    j[t.key] = std::move(rows);
  }
  if (!r.notes.empty()) j["notes"] = r.notes;
  // Text from user files need not be UTF-8: replace bad bytes (U+FFFD) rather than throw.
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string RenderCsv(const Report& r) {
  std::string out;
  // A report with exactly one table and no fields is a plain CSV file; otherwise each part is
  // its own block separated by a blank line, fields first as key,value.
  if (!r.fields.empty()) {
    out += "key,value\n";
    for (const Field& f : r.fields) {
      if (f.InMachine()) out += CsvQuote(f.key) + "," + CsvQuote(RawValue(f.value)) + "\n";
    }
  }
  for (const Table& t : r.tables) {
    if (!out.empty()) out += "\n";
    for (size_t c = 0; c < t.columns.size(); ++c) out += (c ? "," : "") + CsvQuote(t.columns[c].key);
    out += "\n";
    for (const auto& row : t.rows) {
      for (size_t c = 0; c < t.columns.size(); ++c) {
        out += (c ? "," : "") + CsvQuote(RawValue(c < row.size() ? row[c] : Value()));
      }
      out += "\n";
    }
  }
  return out;
}

std::string RenderMarkdown(const Report& r) {
  std::string out;
  if (!r.title.empty()) out += "## " + MdEscape(r.title) + "\n\n";
  if (!r.fields.empty()) {
    out += "| quantity | value |\n| --- | --- |\n";
    for (const Field& f : r.fields) {
      if (!f.InHuman()) continue;
      out += "| " + MdEscape(f.label) + " | " + MdEscape(FormatValue(f.value, f.precision)) + " |\n";
    }
    out += "\n";
  }
  for (const Table& t : r.tables) {
    if (!t.title.empty()) out += "### " + MdEscape(t.title) + "\n\n";
    out += "|";
    for (const Column& c : t.columns) out += " " + MdEscape(c.title) + " |";
    out += "\n|";
    for (size_t c = 0; c < t.columns.size(); ++c) out += " --- |";
    out += "\n";
    for (const auto& row : t.rows) {
      out += "|";
      for (size_t c = 0; c < t.columns.size(); ++c) {
        out += " " + MdEscape(FormatValue(c < row.size() ? row[c] : Value(), t.columns[c].precision)) + " |";
      }
      out += "\n";
    }
    out += "\n";
  }
  if (!r.notes.empty()) {
    out += "Notes:\n\n";
    for (const std::string& n : r.notes) out += "- " + MdEscape(n) + "\n";
  }
  return out;
}

// The page's whole style: inline, so that the file is self-contained; print-friendly.
constexpr const char* kHtmlStyle =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d1d1f;background:#fff;"
    "margin:0}main{max-width:980px;margin:0 auto;padding:24px 20px 40px}"
    "h1{font-size:1.5em;margin:0 0 16px}h2{font-size:1.15em;margin:28px 0 8px}"
    "table{border-collapse:collapse;margin:8px 0 16px;font-variant-numeric:tabular-nums}"
    "th,td{padding:4px 10px;border-bottom:1px solid #e3e3e6;text-align:left;vertical-align:top}"
    "td.n{text-align:right;white-space:nowrap}thead th{border-bottom:2px solid #b9b9c0;background:#f6f6f8}"
    ".tw{overflow-x:auto;max-width:100%}.tw table{font-size:.9em}"
    "table.fields th{font-weight:500;color:#444;background:none}tbody tr:nth-child(even){background:#fafafc}"
    "figure{margin:12px 0 24px}figcaption{font-weight:600;margin-bottom:4px}svg.chart{max-width:100%;height:auto}"
    "svg text{font:12px system-ui,sans-serif;fill:#222}svg .title{font-weight:600}"
    "svg .grid{stroke:#e6e6ea}svg .frame{fill:none;stroke:#8a8a92}svg .err{stroke-width:1.3;opacity:.55}"
    "svg .diag{stroke:#8a8a92;stroke-dasharray:5 4}svg .marker{stroke:#D55E00;stroke-width:1.5;stroke-dasharray:6 4}"
    "svg .mlabel{fill:#D55E00}svg .ring{fill:none;stroke:#000;stroke-width:2}"
    "ul.notes{font-size:.9em;color:#333;padding-left:20px}ul.notes li{margin:3px 0}"
    "footer{margin-top:32px;font-size:.8em;color:#777}"
    "@media print{main{max-width:none;padding:0}figure,table{break-inside:avoid}.tw{overflow:visible}}";

// A number cell is right-aligned.
bool IsNumber(const Value& v) { return std::holds_alternative<double>(v) || std::holds_alternative<int64_t>(v); }

std::string RenderHtml(const Report& r) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>" +
                    HtmlEscape(r.title) + "</title><style>" + kHtmlStyle + "</style></head><body><main>\n";
  if (!r.title.empty()) out += "<h1>" + HtmlEscape(r.title) + "</h1>\n";
  if (!r.fields.empty()) {
    out += "<table class=\"fields\">\n";
    for (const Field& f : r.fields) {
      if (!f.InHuman()) continue;
      out += "<tr><th>" + HtmlEscape(f.label) + "</th><td>" + HtmlEscape(FormatValue(f.value, f.precision)) +
             "</td></tr>\n";
    }
    out += "</table>\n";
  }
  for (const Chart& c : r.charts) {
    out += "<figure id=\"chart-" + HtmlEscape(c.key) + "\"><figcaption>" + HtmlEscape(c.title) + "</figcaption>" +
           RenderSvg(c) + "</figure>\n";
  }
  for (const Table& t : r.tables) {
    if (!t.title.empty()) out += "<h2>" + HtmlEscape(t.title) + "</h2>\n";
    out += "<div class=\"tw\"><table>\n<thead><tr>";
    for (const Column& c : t.columns) out += "<th>" + HtmlEscape(c.title) + "</th>";
    out += "</tr></thead>\n<tbody>\n";
    for (const auto& row : t.rows) {
      out += "<tr>";
      for (size_t c = 0; c < t.columns.size(); ++c) {
        const Value& v = c < row.size() ? row[c] : Value();
        out += (IsNumber(v) ? "<td class=\"n\">" : "<td>") + HtmlEscape(FormatValue(v, t.columns[c].precision)) + "</td>";
      }
      out += "</tr>\n";
    }
    out += "</tbody></table></div>\n";
  }
  if (!r.notes.empty()) {
    out += "<h2>Notes and sources</h2>\n<ul class=\"notes\">\n";
    for (const std::string& n : r.notes) out += "<li>" + HtmlEscape(n) + "</li>\n";
    out += "</ul>\n";
  }
  return out + "<footer>Written by dlcost. Every figure's formula and source: the docs folder of dlcost.</footer>\n</main></body></html>\n";
}

}  // namespace

Chart& Report::AddChart(std::string key, std::string title, ChartKind kind) {
  Chart c;
  c.key = std::move(key);
  c.title = std::move(title);
  c.kind = kind;
  charts.push_back(std::move(c));
  return charts.back();
}

void Report::AddField(std::string key, std::string label, Value value, int precision, Shown shown) {
  fields.push_back({std::move(key), std::move(label), std::move(value), precision, shown});
}

Table& Report::AddTable(std::string key, std::string title, std::vector<Column> columns) {
  tables.push_back({std::move(key), std::move(title), std::move(columns), {}});
  return tables.back();
}

Result<Format> ParseFormat(const std::string& text) {
  if (text == "table" || text == "text") return Format::kTable;
  if (text == "json") return Format::kJson;
  if (text == "csv") return Format::kCsv;
  if (text == "markdown" || text == "md") return Format::kMarkdown;
  if (text == "html") return Format::kHtml;
  return UsageError(fmt::format("--format: unknown format '{}' (table, json, csv, markdown, html)", text));
}

std::string FormatValue(const Value& v, int precision) {
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  if (std::holds_alternative<int64_t>(v)) return fmt::format("{}", std::get<int64_t>(v));
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v) ? "yes" : "no";
  if (std::holds_alternative<double>(v)) {
    double d = std::get<double>(v);
    if (!std::isfinite(d)) return "-";
    if (precision >= 0) return fmt::format("{:.{}f}", d, precision);
    double a = std::fabs(d);
    // Large counts in words, 3 significant digits ("8.03 billion", not "8.03e+09").
    if (a >= 1e7 && a < 1e15) {
      double scale = a < 1e9 ? 1e6 : a < 1e12 ? 1e9 : 1e12;
      const char* word = a < 1e9 ? "million" : a < 1e12 ? "billion" : "trillion";
      return fmt::format("{:#.3g} {}", d / scale, word);
    }
    if (a != 0 && (a >= 1e15 || a < 1e-3)) return fmt::format("{:.3g}", d);
    if (a >= 100) return fmt::format("{:.0f}", d);
    return fmt::format("{:.3g}", d);
  }
  return "-";
}

std::string Render(const Report& r, Format f) {
  switch (f) {
    case Format::kTable: return RenderText(r);
    case Format::kJson: return RenderJson(r);
    case Format::kCsv: return RenderCsv(r);
    case Format::kMarkdown: return RenderMarkdown(r);
    case Format::kHtml: return RenderHtml(r);
  }
  return RenderText(r);
}

}  // namespace dlcost::report
