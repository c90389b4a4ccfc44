#include "common/csv.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "dlcost/strings.h"

namespace dlcost {

void CsvRecordSplitter::Split(CsvCursor& c, CsvRecordView* rec) {
  rec->fields.clear();
  unescaped_.clear();
  quoted_.clear();
  CsvEnd end;
  do {
    const bool is_quoted = !c.AtEnd() && *c.pos() == '"';
    std::string_view f;
    end = c.ReadField(&f);
    if (is_quoted) {
      // The cursor keeps only its last quoted field: copy it, and point at the copy once the
      // copies stop moving.
      quoted_.push_back({rec->fields.size(), unescaped_.size(), f.size()});
      unescaped_.append(f);
      rec->fields.emplace_back();
    } else {
      rec->fields.push_back(f);
    }
  } while (end == CsvEnd::kComma);
  for (const Quoted& q : quoted_) rec->fields[q.field] = std::string_view(unescaped_).substr(q.offset, q.size);
}

CsvReader::CsvReader(std::string_view text, bool skip_blank_lines)
    : text_(SkipUtf8Bom(text)),
      cursor_(text_.data(), text_.data() + text_.size()),
      skip_blank_(skip_blank_lines),
      bom_line_(text_.empty() && text.size() == 3) {}

bool CsvReader::Next(CsvRecordView* rec) {
  while (skip_blank_ && cursor_.AtLineEnd()) cursor_.SkipLineEnd();
  if (cursor_.AtEnd() && !(bom_line_ && !skip_blank_)) return false;
  bom_line_ = false;
  const char* start = cursor_.pos();
  rec->line = cursor_.newlines() + 1;
  splitter_.Split(cursor_, rec);
  rec->raw = std::string_view(start, static_cast<size_t>(cursor_.field_end() - start));
  rec->open_quote = cursor_.open_quote();
  rec->too_long = false;
  return true;
}

CsvStreamReader::CsvStreamReader(CsvSource* source, int64_t max_record_bytes, bool skip_blank_lines,
                                 size_t block_bytes)
    : source_(source), max_bytes_(max_record_bytes), skip_blank_(skip_blank_lines),
      block_(std::max<size_t>(block_bytes, 1)) {}

bool CsvStreamReader::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {  // the bytes before the current record are done with
    buf_.erase(0, begin_);
    scan_ -= begin_;
    begin_ = 0;
  }
  const size_t old = buf_.size();
  buf_.resize(old + block_);
  const size_t n = source_->Read(buf_.data() + old, block_);
  buf_.resize(old + n);
  if (n == 0) eof_ = true;
  return n > 0;
}

bool CsvStreamReader::FindRecordEnd(size_t* content_end, size_t* terminator) {
  const char* b = buf_.data();
  const size_t n = buf_.size();
  size_t i = scan_;
  State s = state_;
  for (; i < n; ++i) {
    const char c = b[i];
    if (s == State::kQuoted) {
      if (c == '"') s = State::kQuoteInQuoted;
      else if (c == '\n') ++record_newlines_;
      continue;
    }
    if (s == State::kQuoteInQuoted) {
      if (c == '"') {
        s = State::kQuoted;
        continue;
      }
      s = State::kUnquoted;  // the quote closed the field; `c` follows it
    }
    if (c == '"' && s == State::kFieldStart) {
      s = State::kQuoted;
    } else if (c == ',') {
      s = State::kFieldStart;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 == n && !eof_) break;  // a '\n' may follow in the next block
      *content_end = i;
      *terminator = c == '\r' && i + 1 < n && b[i + 1] == '\n' ? 2 : 1;
      return true;
    } else {
      s = State::kUnquoted;
    }
  }
  scan_ = i;
  state_ = s;
  return false;
}

void CsvStreamReader::Emit(size_t content_end, size_t terminator, CsvRecordView* rec) {
  rec->line = line_;
  rec->too_long = skipping_ || static_cast<int64_t>(content_end - begin_) > max_bytes_;
  rec->open_quote = false;
  if (rec->too_long) {
    rec->fields.clear();
    rec->raw = std::string_view();
  } else {
    rec->raw = std::string_view(buf_.data() + begin_, content_end - begin_);
    CsvCursor c(rec->raw.data(), rec->raw.data() + rec->raw.size());
    splitter_.Split(c, rec);
    rec->open_quote = c.open_quote();
  }
  line_ += record_newlines_ + (terminator > 0 ? 1 : 0);
  bom_line_ = false;
  begin_ = scan_ = content_end + terminator;
  state_ = State::kFieldStart;
  record_newlines_ = 0;
  skipping_ = false;
}

bool CsvStreamReader::Next(CsvRecordView* rec) {
  if (!started_) {
    while (buf_.size() < 3 && Fill()) {
    }
    if (SkipUtf8Bom(buf_).size() < buf_.size()) begin_ = scan_ = 3;
    bom_line_ = begin_ == 3;
    started_ = true;
  }
  while (true) {
    size_t content_end = 0, terminator = 0;
    if (FindRecordEnd(&content_end, &terminator)) {
      if (skip_blank_ && !skipping_ && content_end == begin_) {
        ++line_;
        bom_line_ = false;
        begin_ = scan_ = content_end + terminator;
        continue;
      }
      Emit(content_end, terminator, rec);
      return true;
    }
    if (eof_) {
      if (source_->failed()) return false;  // the record the error cut is dropped
      if (begin_ == buf_.size() && !skipping_ && !(bom_line_ && !skip_blank_)) return false;
      Emit(buf_.size(), 0, rec);  // the last record, without a line end
      return true;
    }
    if (static_cast<int64_t>(scan_ - begin_) > max_bytes_) skipping_ = true;
    if (skipping_) begin_ = scan_;  // over the cap: keep only the scan state
    Fill();
  }
}

Result<CsvTable> CsvTable::Parse(std::string_view text, std::string name, int header_line) {
  CsvTable t;
  t.name_ = std::move(name);
  std::vector<CsvRow> all;
  CsvReader reader(text);
  CsvRecordView rec;
  while (reader.Next(&rec)) {
    if (rec.open_quote) return InvalidInput(fmt::format("{}: line {}: unterminated quoted field", t.name_, rec.line));
    if (rec.fields.size() == 1 && rec.fields[0].empty()) continue;  // a blank row such as `""`
    CsvRow row;
    row.line = static_cast<int>(rec.line);
    row.fields.assign(rec.fields.begin(), rec.fields.end());
    all.push_back(std::move(row));
  }
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
  if (!c) return InvalidInput(fmt::format("{}: missing column '{}'", name_, ForMessage(column)));
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
                                    col < header_.size() ? ForMessage(header_[col]) : "?", ForMessage(s)));
  }
  return std::optional<double>(v);
}

}  // namespace dlcost
