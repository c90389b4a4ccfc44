// Request traces for `infer --trace`: CSV (header with arrival_s, input_len, output_len) or
// JSON Lines (one object per line with those keys). docs/serving.md, "Latency under load".
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/csv.h"
#include "common/json_util.h"
#include "dlcost/api_serve.h"
#include "dlcost/strings.h"
#include "dlcost/units.h"

namespace dlcost::api {
namespace {

constexpr int64_t kMaxTraceRequests = 10'000'000;
constexpr int64_t kMaxTraceLength = int64_t{1} << 24;  // tokens, as --input/--output
constexpr size_t kMaxJsonLineBytes = 1 << 16;
constexpr int kMaxTraceJsonDepth = 4;

// `t` for an error message: at most 40 bytes, bytes outside printable ASCII as '?'.
std::string Printable(std::string_view t) {
  std::string out;
  for (char c : t.substr(0, 40)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (t.size() > 40) out += "...";
  return out;
}

// A row's value of `field`: a finite number >= 0 (arrival_s) or an integer 1..16M (lengths).
Result<double> TraceNumber(std::string_view text, const char* field, bool length) {
  std::string_view t = TrimView(text);
  if (t.empty()) return InvalidInput(fmt::format("{}: missing", field));
  double v = 0;
  const char* end = t.data() + t.size();
  auto [ptr, ec] = std::from_chars(t.data(), end, v);
  if (ec != std::errc() || ptr != end || !std::isfinite(v)) {
    return InvalidInput(fmt::format("{}: '{}' is not a number", field, Printable(t)));
  }
  if (v < 0) return InvalidInput(fmt::format("{}: '{}' is negative", field, Printable(t)));
  if (length && (v < 1 || v != std::floor(v) || v > static_cast<double>(kMaxTraceLength))) {
    return InvalidInput(fmt::format("{}: '{}' must be a whole number of tokens from 1 to 16,777,216", field, Printable(t)));
  }
  if (!length && v > 1e9) return InvalidInput(fmt::format("{}: '{}' is more than 1e9 seconds", field, Printable(t)));
  return v;
}

Result<LoadRequest> RowRequest(std::string_view arrival, std::string_view input, std::string_view output) {
  LoadRequest r;
  DLCOST_ASSIGN_OR_RETURN(r.arrival_s, TraceNumber(arrival, "arrival_s", false));
  DLCOST_ASSIGN_OR_RETURN(double in, TraceNumber(input, "input_len", true));
  DLCOST_ASSIGN_OR_RETURN(double out, TraceNumber(output, "output_len", true));
  r.input_len = static_cast<int64_t>(in);
  r.output_len = static_cast<int64_t>(out);
  return r;
}

// Adds `r` (parsed from line `line`) or, with skip_bad, counts the bad row; arrival times must
// not go backwards.
Status Accept(Result<LoadRequest> r, const std::string& name, int64_t line, bool skip_bad, LoadTrace& out) {
  if (r.ok() && !out.requests.empty() && r->arrival_s < out.requests.back().arrival_s) {
    r = InvalidInput(fmt::format("arrival_s: {} is before the previous row's {} (rows must be sorted by arrival)",
                                 r->arrival_s, out.requests.back().arrival_s));
  }
  if (!r.ok()) {
    if (!skip_bad) return InvalidInput(fmt::format("{}:{}: {}", name, line, r.status().message()));
    ++out.skipped;
    if (out.first_skipped.empty()) out.first_skipped = fmt::format("{}:{}: {}", name, line, r.status().message());
    return Status::Ok();
  }
  if (static_cast<int64_t>(out.requests.size()) >= kMaxTraceRequests) {
    return InvalidInput(fmt::format("{}:{}: more than 10,000,000 requests", name, line));
  }
  out.requests.push_back(*r);
  return Status::Ok();
}

Status ParseCsvTrace(std::string_view text, const std::string& name, bool skip_bad, LoadTrace& out) {
  CsvReader reader(text);
  CsvRecordView rec;
  if (!reader.Next(&rec)) return InvalidInput(fmt::format("{}: empty trace (no header)", name));
  int ci[3] = {-1, -1, -1};
  const char* cols[3] = {"arrival_s", "input_len", "output_len"};
  for (size_t i = 0; i < rec.fields.size(); ++i) {
    std::string h = ToLower(std::string(TrimView(rec.fields[i])));
    for (int k = 0; k < 3; ++k) {
      if (h == cols[k]) ci[k] = static_cast<int>(i);
    }
  }
  for (int k = 0; k < 3; ++k) {
    if (ci[k] < 0) {
      return InvalidInput(fmt::format("{}:{}: header lacks column '{}' (columns: arrival_s, input_len, output_len)", name,
                                      rec.line, cols[k]));
    }
  }
  while (reader.Next(&rec)) {
    if (rec.fields.size() == 1 && TrimView(rec.fields[0]).empty()) continue;  // blank line
    auto field = [&](int k) -> std::string_view {
      size_t i = static_cast<size_t>(ci[k]);
      return i < rec.fields.size() ? rec.fields[i] : std::string_view();
    };
    DLCOST_RETURN_IF_ERROR(Accept(RowRequest(field(0), field(1), field(2)), name, static_cast<int64_t>(rec.line), skip_bad, out));
  }
  return Status::Ok();
}

Result<LoadRequest> JsonLineRequest(std::string_view line) {
  if (line.size() > kMaxJsonLineBytes) return InvalidInput("line longer than 64 KiB");
  if (JsonNestingDepth(line) > kMaxTraceJsonDepth) return InvalidInput("JSON nested too deep");
  nlohmann::json j = ParseJsonNoThrow(line);
  if (j.is_discarded() || !j.is_object()) return InvalidInput("not a JSON object");
  auto num = [&](const char* key, bool length) -> Result<double> {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return InvalidInput(fmt::format("{}: missing", key));
    if (!it->is_number()) return InvalidInput(fmt::format("{}: not a number", key));
    std::string text = fmt::format("{}", it->get<double>());
    return TraceNumber(text, key, length);
  };
  LoadRequest r;
  DLCOST_ASSIGN_OR_RETURN(r.arrival_s, num("arrival_s", false));
  DLCOST_ASSIGN_OR_RETURN(double in, num("input_len", true));
  DLCOST_ASSIGN_OR_RETURN(double out, num("output_len", true));
  r.input_len = static_cast<int64_t>(in);
  r.output_len = static_cast<int64_t>(out);
  return r;
}

Status ParseJsonlTrace(std::string_view text, const std::string& name, bool skip_bad, LoadTrace& out) {
  int64_t line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view l = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line;
    if (TrimView(l).empty()) continue;
    DLCOST_RETURN_IF_ERROR(Accept(JsonLineRequest(l), name, line, skip_bad, out));
  }
  return Status::Ok();
}

}  // namespace

Result<LoadTrace> ParseLoadTrace(std::string_view text, const std::string& name, bool skip_bad_rows) {
  LoadTrace out;
  text = SkipUtf8Bom(text);
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return InvalidInput(fmt::format("{}: empty trace", name));
  if (text[first] == '{') {
    DLCOST_RETURN_IF_ERROR(ParseJsonlTrace(text, name, skip_bad_rows, out));
  } else {
    DLCOST_RETURN_IF_ERROR(ParseCsvTrace(text, name, skip_bad_rows, out));
  }
  if (out.requests.empty()) {
    return InvalidInput(fmt::format("{}: no usable request{}", name,
                                    out.skipped > 0 ? fmt::format(" ({} bad rows skipped; first: {})", out.skipped, out.first_skipped) : ""));
  }
  return out;
}

Result<LoadTrace> ReadLoadTrace(const std::string& path, bool skip_bad_rows) {
  DLCOST_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  return ParseLoadTrace(text, path, skip_bad_rows);
}

}  // namespace dlcost::api
