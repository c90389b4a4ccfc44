#include "common/csv.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "dlcost/strings.h"

namespace dlcost {

Result<CsvTable> CsvTable::Parse(std::string_view text, std::string name, int header_line) {
  CsvTable t;
  t.name_ = std::move(name);
  std::vector<CsvRow> all;
  CsvRow row;
  std::string field;
  bool in_quotes = false;
  bool field_started = false;
  int line = 1;
  row.line = 1;
  auto end_field = [&]() {
    row.fields.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  auto end_row = [&]() {
    end_field();
    bool blank = row.fields.size() == 1 && row.fields[0].empty();
    if (!blank) all.push_back(std::move(row));
    row = CsvRow();
    row.line = line;
  };
  size_t n = text.size();
  if (n >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF) {
    text.remove_prefix(3);  // UTF-8 byte-order mark
    n = text.size();
  }
  for (size_t i = 0; i < n; ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < n && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"' && !field_started) {
      in_quotes = true;
      field_started = true;
    } else if (c == ',') {
      end_field();
    } else if (c == '\r') {
      // dropped; "\r\n" ends a line at the '\n'
    } else if (c == '\n') {
      ++line;
      end_row();
    } else {
      field.push_back(c);
      field_started = true;
    }
  }
  if (in_quotes) {
    return InvalidInput(fmt::format("{}: line {}: unterminated quoted field", t.name_, row.line));
  }
  if (field_started || !field.empty() || !row.fields.empty()) end_row();
  if (static_cast<int>(all.size()) <= header_line) {
    return InvalidInput(fmt::format("{}: no header row", t.name_));
  }
  for (const std::string& h : all[header_line].fields) {
    t.header_.emplace_back(TrimView(h));
  }
  for (size_t i = 0; i < t.header_.size(); ++i) {
    t.index_.emplace(ToLower(t.header_[i]), i);
  }
  for (size_t r = header_line + 1; r < all.size(); ++r) {
    if (all[r].fields.size() > t.header_.size()) {
      return InvalidInput(fmt::format("{}: line {}: {} fields but the header has {}", t.name_,
                                      all[r].line, all[r].fields.size(), t.header_.size()));
    }
    t.rows_.push_back(std::move(all[r]));
  }
  return t;
}

Result<CsvTable> CsvTable::ReadFile(const std::string& path, int header_line) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidInput(fmt::format("{}: cannot open file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path, header_line);
}

std::optional<size_t> CsvTable::Column(std::string_view column) const {
  auto it = index_.find(ToLower(TrimView(column)));
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

Result<size_t> CsvTable::RequireColumn(std::string_view column) const {
  auto c = Column(column);
  if (!c) return InvalidInput(fmt::format("{}: missing column '{}'", name_, column));
  return *c;
}

const std::string& CsvTable::Field(const CsvRow& row, size_t col) const {
  static const std::string kEmpty;
  return col < row.fields.size() ? row.fields[col] : kEmpty;
}

Result<std::optional<double>> CsvTable::Number(const CsvRow& row, size_t col) const {
  std::string_view s = TrimView(Field(row, col));
  if (s.empty()) return std::optional<double>();
  std::string str(s);
  char* end = nullptr;
  double v = std::strtod(str.c_str(), &end);
  bool bad = end != str.c_str() + str.size() || !std::isfinite(v);
  // strtod takes "nan"/"inf": a data value never is one.
  for (char c : str) {
    if (std::isalpha(static_cast<unsigned char>(c)) && c != 'e' && c != 'E') bad = true;
  }
  if (bad) {
    return InvalidInput(fmt::format("{}: line {}: column '{}': '{}' is not a number", name_, row.line,
                                    col < header_.size() ? header_[col] : "?", s));
  }
  return std::optional<double>(v);
}

}  // namespace dlcost
