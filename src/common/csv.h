// A small RFC 4180 CSV reader: comma-separated, '"' quoting (with "" for a quote inside a
// quoted field, and newlines allowed inside quotes), first row is the header. Rows keep their
// 1-based line number so errors can name the line.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dlcost/status.h"

namespace dlcost {

struct CsvRow {
  int line = 0;  // 1-based line where the row starts
  std::vector<std::string> fields;
};

class CsvTable {
 public:
  // Parses `text`; `name` (a file name) is used in error messages. `header_line` is the
  // 0-based index of the row that holds the column names (rows above it are skipped).
  static Result<CsvTable> Parse(std::string_view text, std::string name, int header_line = 0);
  static Result<CsvTable> ReadFile(const std::string& path, int header_line = 0);

  const std::string& name() const { return name_; }
  const std::vector<std::string>& header() const { return header_; }
  const std::vector<CsvRow>& rows() const { return rows_; }

  // Index of a column by exact (trimmed, case-insensitive) header name, or nullopt.
  std::optional<size_t> Column(std::string_view column) const;
  // Like Column but an error naming the file when the column is missing.
  Result<size_t> RequireColumn(std::string_view column) const;

  // Field text of `row` in column `col` (empty when the row is short).
  const std::string& Field(const CsvRow& row, size_t col) const;

  // Parses a numeric field; empty -> nullopt; junk, NaN or inf -> error naming file, line, column.
  Result<std::optional<double>> Number(const CsvRow& row, size_t col) const;

 private:
  std::string name_;
  std::vector<std::string> header_;
  std::vector<CsvRow> rows_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace dlcost
