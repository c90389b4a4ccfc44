// Streaming record input for the audit: JSONL, CSV and folders of text files, each optionally
// gzip-compressed. zlib's gz* functions read plain files transparently, so one reader serves both.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit/internal.h"
#include "common/csv.h"
#include "dlcost/strings.h"
#include "dlcost/audit.h"
#include "common/json_util.h"

namespace dlcost::audit {
namespace {

namespace fs = std::filesystem;

// A (possibly gzip-compressed) file, read in blocks. A broken stream ends it: the bytes zlib
// gave before the error are still handed out, then error() says why.
class GzFile : public CsvSource {
 public:
  GzFile(gzFile f, std::string path) : f_(f), path_(std::move(path)) {}
  ~GzFile() override { gzclose(f_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  static Result<std::unique_ptr<GzFile>> Open(const std::string& path) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) return InvalidInput(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    gzbuffer(f, 1 << 17);
    return std::make_unique<GzFile>(f, path);
  }

  size_t Read(char* buffer, size_t capacity) override {
    if (eof_) return 0;
    int n = gzread(f_, buffer, static_cast<unsigned>(capacity));
    int err = 0;
    const char* msg = gzerror(f_, &err);
    if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) {
      std::string why = msg ? msg : "unknown error";
      if (why.rfind(path_ + ": ", 0) == 0) why.erase(0, path_.size() + 2);
      error_ = fmt::format("broken gzip stream ({})", why);
      eof_ = true;
      return n > 0 ? static_cast<size_t>(n) : 0;
    }
    if (n == 0) eof_ = true;
    return static_cast<size_t>(n);
  }
  bool failed() const override { return !error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  gzFile f_;
  std::string path_;
  bool eof_ = false;
  std::string error_;
};

// Lines of a GzFile.
class LineReader {
 public:
  LineReader(std::unique_ptr<GzFile> file, int64_t max_bytes) : file_(std::move(file)), max_(max_bytes) {
    buf_.resize(1 << 18);
  }

  static Result<std::unique_ptr<LineReader>> Open(const std::string& path, int64_t max_bytes) {
    DLCOST_ASSIGN_OR_RETURN(std::unique_ptr<GzFile> f, GzFile::Open(path));
    return std::make_unique<LineReader>(std::move(f), max_bytes);
  }

  // Next line without its "\n" (and a "\r" before it). False at the end or on a broken stream
  // (then error() is set). A line longer than the limit is cut and *too_long set.
  bool Next(std::string* line, bool* too_long) {
    line->clear();
    *too_long = false;
    bool any = false;
    while (true) {
      if (pos_ == len_) {
        if (!Fill()) {
          if (any && error().empty()) break;  // the last line, without a newline
          return false;                       // a line cut by a broken stream is dropped
        }
      }
      any = true;
      const char* start = buf_.data() + pos_;
      const void* nl = std::memchr(start, '\n', len_ - pos_);
      size_t n = nl ? static_cast<const char*>(nl) - start : len_ - pos_;
      Append(line, start, n, too_long);
      pos_ += n;
      if (nl) {
        ++pos_;
        break;
      }
    }
    ++line_no_;
    if (!line->empty() && line->back() == '\r') line->pop_back();
    return true;
  }

  // The whole rest of the file (for a text file of a folder), cut at the limit.
  void ReadAll(std::string* out, bool* too_long) {
    out->clear();
    *too_long = false;
    while (true) {
      if (pos_ == len_ && !Fill()) return;
      Append(out, buf_.data() + pos_, len_ - pos_, too_long);
      pos_ = len_;
    }
  }

  int64_t line_no() const { return line_no_; }
  const std::string& error() const { return file_->error(); }

 private:
  void Append(std::string* s, const char* p, size_t n, bool* too_long) {
    if (*too_long) return;
    if (static_cast<int64_t>(s->size() + n) > max_) {
      *too_long = true;
      return;
    }
    s->append(p, n);
  }

  bool Fill() {
    size_t n = file_->Read(buf_.data(), buf_.size());
    if (n == 0) return false;
    pos_ = 0;
    len_ = n;
    return true;
  }

  std::unique_ptr<GzFile> file_;
  int64_t max_;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0;
  int64_t line_no_ = 0;
};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<InputFormat> DetectFormat(const InputSpec& in) {
  if (in.format != InputFormat::kAuto) return in.format;
  std::error_code ec;
  if (fs::is_directory(in.path, ec)) return InputFormat::kDir;
  std::string p = ToLower(in.path);
  if (EndsWith(p, ".gz")) p.resize(p.size() - 3);
  if (EndsWith(p, ".jsonl") || EndsWith(p, ".ndjson") || EndsWith(p, ".json")) return InputFormat::kJsonl;
  if (EndsWith(p, ".csv")) return InputFormat::kCsv;
  return InvalidInput(fmt::format("{}: cannot tell the input format from the name; use --input-format jsonl|csv|dir",
                                  in.path));
}

// Which records a reader hands on, and where the record numbers of skipped ones go.
struct ReadFilter {
  const RecordFilter* keep = nullptr;          // null: every record
  std::vector<int64_t>* skipped_records = nullptr;  // null: not wanted
  bool Keeps(int64_t number) const { return keep == nullptr || (*keep)(number); }
};

class Skipper {
 public:
  Skipper(InputStats* s, const ReadFilter& f) : s_(s), f_(f) {}
  void Skip(const std::string& file, int64_t line, int64_t number, std::string reason) {
    ++s_->records;
    ++s_->skipped;
    // Count by the reason without the record-specific detail after " (".
    std::string key = reason.substr(0, reason.find(" ("));
    ++s_->skipped_by_reason[key];
    if (s_->skipped_list.size() < kMaxSkippedListed) {
      s_->skipped_list.push_back({file, line, std::move(reason)});
      if (f_.skipped_records != nullptr) f_.skipped_records->push_back(number);
    }
  }
  // A broken stream ends the file: it counts as the record that would have come next.
  void BrokenStream(const std::string& file, int64_t line, int64_t next_number, const std::string& error) {
    if (f_.Keeps(next_number)) Skip(file, line, next_number, error + "; rest of the file skipped");
  }

 private:
  InputStats* s_;
  ReadFilter f_;
};

// Text fields must be valid UTF-8 and hold something besides whitespace.
std::optional<std::string> CheckText(const std::string& text) {
  if (!ValidUtf8(text)) return std::string("invalid UTF-8");
  if (TrimView(text).empty()) return std::string("empty text");
  return std::nullopt;
}

std::optional<std::string> JsonScalarText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned() || v.is_boolean()) return v.dump();
  if (v.is_number_float()) return v.dump();
  return std::nullopt;
}

Status ReadJsonl(const InputSpec& in, const ReadFilter& filter, const std::function<Status(Record&)>& fn,
                 InputStats* st) {
  DLCOST_ASSIGN_OR_RETURN(std::unique_ptr<LineReader> lr, LineReader::Open(in.path, in.max_record_bytes));
  Skipper skip(st, filter);
  std::string line;
  bool too_long = false;
  int64_t number = 0;
  Record rec;
  rec.file = in.path;
  while (lr->Next(&line, &too_long)) {
    int64_t line_no = lr->line_no();
    int64_t this_number = number++;
    if (!filter.Keeps(this_number)) continue;  // another slice's record: not parsed, not counted
    if (too_long) {
      skip.Skip(in.path, line_no, this_number, fmt::format("record larger than {} bytes", in.max_record_bytes));
      continue;
    }
    if (TrimView(line).empty()) {
      skip.Skip(in.path, line_no, this_number, "empty line");
      continue;
    }
    if (!ValidUtf8(line)) {
      skip.Skip(in.path, line_no, this_number, "invalid UTF-8");
      continue;
    }
    nlohmann::json doc = ParseJsonNoThrow(line);
    if (doc.is_discarded() || !doc.is_object()) {
      skip.Skip(in.path, line_no, this_number, "not a JSON object");
      continue;
    }
    auto text_it = doc.find(in.text_field);
    if (text_it == doc.end() || text_it->is_null()) {
      skip.Skip(in.path, line_no, this_number, fmt::format("missing field '{}'", in.text_field));
      continue;
    }
    if (!text_it->is_string()) {
      skip.Skip(in.path, line_no, this_number, fmt::format("field '{}' is not a string", in.text_field));
      continue;
    }
    rec.text = text_it->get<std::string>();
    if (auto bad = CheckText(rec.text)) {
      skip.Skip(in.path, line_no, this_number, *bad);
      continue;
    }
    if (!in.id_field.empty()) {
      auto it = doc.find(in.id_field);
      std::optional<std::string> id = it == doc.end() ? std::nullopt : JsonScalarText(*it);
      if (!id) {
        skip.Skip(in.path, line_no, this_number, fmt::format("missing field '{}'", in.id_field));
        continue;
      }
      rec.id = std::move(*id);
    } else {
      rec.id = std::to_string(this_number);
    }
    rec.label.reset();
    if (!in.label_field.empty()) {
      auto it = doc.find(in.label_field);
      std::optional<std::string> label = it == doc.end() ? std::nullopt : JsonScalarText(*it);
      if (!label) {
        skip.Skip(in.path, line_no, this_number, fmt::format("missing field '{}'", in.label_field));
        continue;
      }
      rec.label = std::move(*label);
    }
    rec.number = this_number;
    rec.line = line_no;
    rec.raw = line;
    ++st->records;
    ++st->valid;
    DLCOST_RETURN_IF_ERROR(fn(rec));
  }
  if (!lr->error().empty()) skip.BrokenStream(in.path, lr->line_no() + 1, number, lr->error());
  return Status::Ok();
}

// CSV text as the audit stores and hashes it: line ends inside a record (quoted fields, the raw
// record) are "\n" whatever the file uses, so a CRLF copy of a corpus reads the same.
void AssignLf(std::string* out, std::string_view text) {
  out->assign(text);
  if (out->find('\r') == std::string::npos) return;
  size_t w = 0;
  for (size_t r = 0; r < out->size(); ++r) {
    if ((*out)[r] == '\r' && r + 1 < out->size() && (*out)[r + 1] == '\n') continue;
    (*out)[w++] = (*out)[r];
  }
  out->resize(w);
}

// The header of a CSV input: its column names and its raw line (st->csv_header).
Result<std::vector<std::string>> ReadCsvHeader(const InputSpec& in, CsvStreamReader* csv, const GzFile& file,
                                               InputStats* st) {
  CsvRecordView rec;
  if (!csv->Next(&rec)) {
    if (file.failed()) return InvalidInput(fmt::format("{}: {}", in.path, file.error()));
    return InvalidInput(fmt::format("{}: empty CSV file (no header)", in.path));
  }
  if (rec.too_long || rec.open_quote || !ValidUtf8(rec.raw)) {
    return InvalidInput(fmt::format("{}:1: unreadable CSV header", in.path));
  }
  AssignLf(&st->csv_header, rec.raw);
  std::vector<std::string> header(rec.fields.size());
  for (size_t i = 0; i < header.size(); ++i) AssignLf(&header[i], rec.fields[i]);
  return header;
}

// Why a CSV record cannot be used, or nullopt; fills `rec` when it can.
std::optional<std::string> CsvRecord(const InputSpec& in, const CsvRecordView& v, size_t text_col,
                                     std::optional<size_t> id_col, std::optional<size_t> label_col, Record* rec) {
  if (v.too_long) return fmt::format("record larger than {} bytes", in.max_record_bytes);
  if (v.raw.empty()) return std::string("empty line");
  if (!ValidUtf8(v.raw)) return std::string("invalid UTF-8");
  if (v.open_quote) return std::string("unterminated quoted field");
  auto field = [&](size_t c) -> const std::string_view* { return c < v.fields.size() ? &v.fields[c] : nullptr; };
  const std::string_view* text = field(text_col);
  if (text == nullptr) return fmt::format("missing field '{}'", in.text_field);
  AssignLf(&rec->text, *text);
  if (auto bad = CheckText(rec->text)) return bad;
  if (id_col) {
    const std::string_view* id = field(*id_col);
    if (id == nullptr || TrimView(*id).empty()) return fmt::format("missing field '{}'", in.id_field);
    AssignLf(&rec->id, *id);
  }
  rec->label.reset();
  if (label_col) {
    const std::string_view* label = field(*label_col);
    if (label == nullptr || TrimView(*label).empty()) return fmt::format("missing field '{}'", in.label_field);
    rec->label.emplace();
    AssignLf(&*rec->label, *label);
  }
  AssignLf(&rec->raw, v.raw);
  return std::nullopt;
}

Status ReadCsv(const InputSpec& in, const ReadFilter& filter, const std::function<Status(Record&)>& fn,
                 InputStats* st) {
  DLCOST_ASSIGN_OR_RETURN(std::unique_ptr<GzFile> file, GzFile::Open(in.path));
  // Blank lines are records here: a corpus line that holds nothing is reported, not dropped.
  CsvStreamReader csv(file.get(), in.max_record_bytes, /*skip_blank_lines=*/false);
  DLCOST_ASSIGN_OR_RETURN(std::vector<std::string> header, ReadCsvHeader(in, &csv, *file, st));
  auto column = [&](const std::string& name) -> std::optional<size_t> {
    std::string want = ToLower(TrimView(name));
    for (size_t i = 0; i < header.size(); ++i) {
      if (ToLower(TrimView(header[i])) == want) return i;
    }
    return std::nullopt;
  };
  auto require = [&](const std::string& name, const char* flag) -> Result<size_t> {
    std::optional<size_t> c = column(name);
    if (!c) return InvalidInput(fmt::format("{}: no column '{}' ({}) in the header", in.path, name, flag));
    return *c;
  };
  DLCOST_ASSIGN_OR_RETURN(size_t text_col, require(in.text_field, "--text-field"));
  std::optional<size_t> id_col, label_col;
  if (!in.id_field.empty()) {
    DLCOST_ASSIGN_OR_RETURN(id_col, require(in.id_field, "--id-field"));
  }
  if (!in.label_field.empty()) {
    DLCOST_ASSIGN_OR_RETURN(label_col, require(in.label_field, "--label-field"));
  }
  Skipper skip(st, filter);
  int64_t number = 0;
  Record rec;
  rec.file = in.path;
  CsvRecordView v;
  while (csv.Next(&v)) {
    int64_t this_number = number++;
    if (!filter.Keeps(this_number)) continue;  // another slice's record: not used, not counted
    if (auto bad = CsvRecord(in, v, text_col, id_col, label_col, &rec)) {
      skip.Skip(in.path, v.line, this_number, std::move(*bad));
      continue;
    }
    if (!id_col) rec.id = std::to_string(this_number);
    rec.number = this_number;
    rec.line = v.line;
    ++st->records;
    ++st->valid;
    DLCOST_RETURN_IF_ERROR(fn(rec));
  }
  if (file->failed()) skip.BrokenStream(in.path, csv.next_line(), number, file->error());
  return Status::Ok();
}

Status ReadDir(const InputSpec& in, const ReadFilter& filter, const std::function<Status(Record&)>& fn,
                 InputStats* st) {
  std::error_code ec;
  std::vector<fs::path> files;
  fs::recursive_directory_iterator it(in.path, fs::directory_options::skip_permission_denied, ec);
  if (ec) return InvalidInput(fmt::format("{}: cannot read folder: {}", in.path, ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::error_code ec2;
    if (it->is_regular_file(ec2)) files.push_back(it->path());
  }
  std::vector<std::pair<std::string, fs::path>> named;
  for (const fs::path& p : files) named.emplace_back(fs::relative(p, in.path, ec).generic_string(), p);
  std::sort(named.begin(), named.end());
  Skipper skip(st, filter);
  Record rec;
  int64_t number = 0;
  for (const auto& [rel, p] : named) {
    int64_t this_number = number++;
    if (!filter.Keeps(this_number)) continue;
    std::string path = p.string();
    Result<std::unique_ptr<LineReader>> lr = LineReader::Open(path, in.max_record_bytes);
    if (!lr.ok()) {
      skip.Skip(path, 0, this_number, "cannot open");
      continue;
    }
    bool too_long = false;
    (*lr)->ReadAll(&rec.text, &too_long);
    if (!(*lr)->error().empty()) {
      skip.Skip(path, 0, this_number, (*lr)->error());
      continue;
    }
    if (too_long) {
      skip.Skip(path, 0, this_number, fmt::format("record larger than {} bytes", in.max_record_bytes));
      continue;
    }
    if (auto bad = CheckText(rec.text)) {
      skip.Skip(path, 0, this_number, *bad);
      continue;
    }
    rec.file = path;
    rec.id = rel;
    rec.number = this_number;
    rec.line = 0;
    rec.label.reset();
    rec.raw.clear();
    ++st->records;
    ++st->valid;
    DLCOST_RETURN_IF_ERROR(fn(rec));
  }
  return Status::Ok();
}

}  // namespace

Result<InputFormat> ParseInputFormat(const std::string& text) {
  if (text == "auto") return InputFormat::kAuto;
  if (text == "jsonl") return InputFormat::kJsonl;
  if (text == "csv") return InputFormat::kCsv;
  if (text == "dir") return InputFormat::kDir;
  return InvalidInput(fmt::format("--input-format: '{}' is not auto, jsonl, csv or dir", text));
}

std::string DescribeSkipped(const SkippedRecord& s) {
  if (s.line > 0) return fmt::format("{}:{}: {}", s.file, s.line, s.reason);
  return fmt::format("{}: {}", s.file, s.reason);
}

Status ReadRecords(const InputSpec& in, const std::function<Status(Record&)>& fn, InputStats* stats) {
  return ReadSomeRecords(in, nullptr, fn, stats, nullptr);
}

Status ReadSomeRecords(const InputSpec& in, const RecordFilter* keep, const std::function<Status(Record&)>& fn,
                       InputStats* stats, std::vector<int64_t>* skipped_records) {
  *stats = InputStats();
  if (skipped_records != nullptr) skipped_records->clear();
  const ReadFilter filter{keep, skipped_records};
  if (in.path.empty()) return UsageError("no input file given");
  std::error_code ec;
  if (!fs::exists(in.path, ec)) return InvalidInput(fmt::format("{}: no such file or folder", in.path));
  DLCOST_ASSIGN_OR_RETURN(InputFormat f, DetectFormat(in));
  if (in.max_record_bytes <= 0) return InvalidInput("--max-record-bytes: must be positive");
  switch (f) {
    case InputFormat::kJsonl: return ReadJsonl(in, filter, fn, stats);
    case InputFormat::kCsv: return ReadCsv(in, filter, fn, stats);
    case InputFormat::kDir:
      if (!fs::is_directory(in.path, ec)) return InvalidInput(fmt::format("{}: not a folder", in.path));
      return ReadDir(in, filter, fn, stats);
    case InputFormat::kAuto: break;
  }
  return Status(StatusCode::kInternal, "unknown input format");
}

Result<InputFormat> ResolvedFormat(const InputSpec& in) { return DetectFormat(in); }

}  // namespace dlcost::audit
