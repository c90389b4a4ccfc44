// dlcost's one CSV reader: RFC 4180 (comma-separated; '"' opens a quoted field at the start of a
// field, "" inside it is a quote, and commas and line ends inside it are text), with LF, CRLF or
// a lone CR as line ends, a UTF-8 byte order mark skipped, and the 1-based line where each record
// starts. Text after a closing quote up to the next comma is kept as written. Four layers:
//
//   CsvCursor        field by field over a buffer; what readers that parse straight into
//                    columns build on (drift reads numbers in place, without a copy).
//   CsvReader        record by record over a buffer (fields as views).
//   CsvStreamReader  record by record over a stream read in blocks (gzip, pipes), with a cap on
//                    the bytes of one record.
//   CsvTable         a whole small file (catalogs, validation cases) parsed into rows, columns
//                    looked up by name, numbers checked with the file, line and column in errors.
//
//   CsvReader reader(text);
//   CsvRecordView rec;
//   while (reader.Next(&rec)) Use(rec.line, rec.fields[0]);
//
//   DLCOST_ASSIGN_OR_RETURN(CsvTable t, CsvTable::ReadFile("cases.csv"));
//   DLCOST_ASSIGN_OR_RETURN(size_t col, t.RequireColumn("tokens_per_s"));
//   for (const CsvRow& row : t.rows()) {
//     DLCOST_ASSIGN_OR_RETURN(std::optional<double> v, t.Number(row, col));  // row.line in errors
//   }
#pragma once

#include <cfloat>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dlcost/status.h"

namespace dlcost {

// `text` without a leading UTF-8 byte order mark.
inline std::string_view SkipUtf8Bom(std::string_view text) {
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
  return text;
}

// What ended a field.
enum class CsvEnd { kComma, kLineEnd, kEof };

// Reads fields one at a time from [begin, end) and counts the line ends it passes (inside quoted
// fields too), so a caller knows the line of every field. Inline: it is the inner loop of drift.
class CsvCursor {
 public:
  CsvCursor(const char* begin, const char* end) : p_(begin), end_(end) {}

  // Reads one field and its terminator. An unquoted field is a view into the buffer; a quoted one
  // is unescaped into the cursor's own storage, valid until the next call.
  CsvEnd ReadField(std::string_view* out) {
    if (p_ < end_ && *p_ == '"') {
      ReadQuoted(out);
    } else {
      const char* s = p_;
      while (p_ < end_ && !IsStop(*p_)) ++p_;
      *out = std::string_view(s, static_cast<size_t>(p_ - s));
    }
    field_end_ = p_;
    return Terminate();
  }

  // When the next field is unquoted and std::from_chars reads all of it, stores the number
  // std::from_chars gives and consumes the field and its terminator; otherwise consumes nothing
  // and returns nullopt.
  std::optional<CsvEnd> ReadNumber(double* value) {
    if (p_ >= end_ || *p_ == '"') return std::nullopt;
    if (const char* e = ReadPlainDecimal(value)) {
      p_ = field_end_ = e;
      return Terminate();
    }
    auto r = std::from_chars(p_, end_, *value);
    if (r.ec != std::errc() || (r.ptr != end_ && *r.ptr != ',' && !IsLineEnd(*r.ptr))) return std::nullopt;
    p_ = field_end_ = r.ptr;
    return Terminate();
  }

  // At a line end: a blank line when the cursor is at the start of a record.
  bool AtLineEnd() const { return p_ < end_ && IsLineEnd(*p_); }
  void SkipLineEnd() { Terminate(); }
  bool AtEnd() const { return p_ >= end_; }
  const char* pos() const { return p_; }
  // Where the last field read ended (before its terminator).
  const char* field_end() const { return field_end_; }
  // Line ends passed so far.
  int64_t newlines() const { return newlines_; }
  // True when a quoted field ran to the end of the buffer without its closing quote.
  bool open_quote() const { return open_quote_; }

 private:
  static bool IsLineEnd(char c) { return c == '\n' || c == '\r'; }
  static bool IsStop(char c) { return c == ',' || c == '\n' || c == '\r'; }

  // The common case of ReadNumber without the library call: "-12.345", a whole field of at most
  // 15 digits. The digits then form an integer below 2^53 and the scale is a power of ten up to
  // 10^15, both exact doubles, so one IEEE division rounds correctly (W. D. Clinger, "How to read
  // floating point numbers accurately", PLDI 1990) to the value std::from_chars returns. Returns
  // the end of the number, or nullptr for anything else (left to std::from_chars).
  const char* ReadPlainDecimal(double* value) const {
#if FLT_EVAL_METHOD == 0
    static constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    auto is_digit = [](char c) { return static_cast<unsigned char>(c - '0') < 10; };
    const char* q = p_;
    const bool negative = *q == '-';
    q += negative;
    const char* start = q;
    uint64_t digits = 0;
    while (q < end_ && is_digit(*q)) digits = digits * 10 + static_cast<uint64_t>(*q++ - '0');
    if (q == start) return nullptr;
    int fraction = 0;
    if (q < end_ && *q == '.') {
      const char* f = ++q;
      while (q < end_ && is_digit(*q)) digits = digits * 10 + static_cast<uint64_t>(*q++ - '0');
      fraction = static_cast<int>(q - f);
      if (fraction == 0) return nullptr;  // "1." : std::from_chars decides
    }
    if (q - start - (fraction > 0) > 15 || (q < end_ && !IsStop(*q))) return nullptr;
    const double v = static_cast<double>(digits) / kPow10[fraction];
    *value = negative ? -v : v;
    return q;
#else
    return nullptr;  // extended-precision arithmetic would round twice
#endif
  }

  CsvEnd Terminate() {
    if (p_ >= end_) return CsvEnd::kEof;
    char c = *p_++;
    if (c == ',') return CsvEnd::kComma;
    if (c == '\r' && p_ < end_ && *p_ == '\n') ++p_;
    ++newlines_;
    return CsvEnd::kLineEnd;
  }

  void ReadQuoted(std::string_view* out) {
    scratch_.clear();
    ++p_;
    bool closed = false;
    while (p_ < end_) {
      char c = *p_;
      if (c == '"') {
        if (p_ + 1 < end_ && p_[1] == '"') {
          scratch_ += '"';
          p_ += 2;
          continue;
        }
        ++p_;
        closed = true;
        break;
      }
      if (c == '\n') ++newlines_;
      scratch_ += c;
      ++p_;
    }
    if (!closed) open_quote_ = true;
    while (p_ < end_ && !IsStop(*p_)) scratch_ += *p_++;
    *out = scratch_;
  }

  const char* p_;
  const char* end_;
  const char* field_end_ = nullptr;
  int64_t newlines_ = 0;
  bool open_quote_ = false;
  std::string scratch_;
};

// One record. The views stay valid until the reader reads the next record.
struct CsvRecordView {
  std::vector<std::string_view> fields;  // a blank line has one empty field
  int64_t line = 0;                      // 1-based line where the record starts
  std::string_view raw;                  // the record's bytes as written, without its line end
  bool open_quote = false;               // a quoted field ran to the end of the input
  bool too_long = false;                 // CsvStreamReader: over the cap (fields and raw empty)
};

// Splits one record into CsvRecordView::fields, keeping the unescaped text of quoted fields.
class CsvRecordSplitter {
 public:
  // Reads the fields of the record at `c` (through its line end, or the end of the buffer).
  void Split(CsvCursor& c, CsvRecordView* rec);

 private:
  struct Quoted {
    size_t field, offset, size;
  };
  std::string unescaped_;
  std::vector<Quoted> quoted_;
};

// Records of a CSV text in memory. A leading byte order mark is skipped; it belongs to line 1,
// so a text that is only a mark holds one blank line.
class CsvReader {
 public:
  // `skip_blank_lines`: records with no bytes at all are passed over (their lines still count).
  explicit CsvReader(std::string_view text, bool skip_blank_lines = true);
  // The next record; false at the end of the text.
  bool Next(CsvRecordView* rec);

 private:
  std::string_view text_;
  CsvCursor cursor_;
  bool skip_blank_;
  bool bom_line_;  // the text is only a byte order mark: its blank line is still to come
  CsvRecordSplitter splitter_;
};

// Bytes for CsvStreamReader.
class CsvSource {
 public:
  virtual ~CsvSource() = default;
  // Up to `capacity` bytes into `buffer`; 0 at the end of the input or on an error.
  virtual size_t Read(char* buffer, size_t capacity) = 0;
  // True when the input ended by an error (a broken stream): the record it cut is dropped.
  virtual bool failed() const { return false; }
};

// Records of a stream, read in blocks, as CsvReader reads them. Memory stays within about twice
// the larger of `max_record_bytes` and the block size: a longer record is passed over and
// reported as too_long.
class CsvStreamReader {
 public:
  CsvStreamReader(CsvSource* source, int64_t max_record_bytes, bool skip_blank_lines = true,
                  size_t block_bytes = size_t{1} << 18);
  // The next record; false at the end of the input.
  bool Next(CsvRecordView* rec);
  // 1-based line where the next record would start (after a broken stream: the line it cut).
  int64_t next_line() const { return line_; }

 private:
  enum class State { kFieldStart, kUnquoted, kQuoted, kQuoteInQuoted };
  bool Fill();
  bool FindRecordEnd(size_t* content_end, size_t* terminator);
  void Emit(size_t content_end, size_t terminator, CsvRecordView* rec);

  CsvSource* source_;
  int64_t max_bytes_;
  bool skip_blank_;
  size_t block_;
  std::string buf_;
  size_t begin_ = 0;    // start of the current record in buf_
  size_t scan_ = 0;     // where FindRecordEnd goes on
  State state_ = State::kFieldStart;
  int64_t record_newlines_ = 0;  // line ends inside the current record's quoted fields
  bool skipping_ = false;        // the current record is over the cap: its bytes are dropped
  bool eof_ = false;
  bool started_ = false;
  bool bom_line_ = false;  // a byte order mark and nothing after it yet
  int64_t line_ = 1;
  CsvRecordSplitter splitter_;
};

// A parsed table row: the line where it starts and its fields.
struct CsvRow {
  int line = 0;  // 1-based line where the row starts
  std::vector<std::string> fields;
};

// A whole CSV file with a header row. Blank rows (no bytes, or one empty field) are left out.
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
