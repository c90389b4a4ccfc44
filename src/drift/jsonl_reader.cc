// JSONL reader for drift tables: one JSON object per line, keys are columns. Lines are parsed
// one at a time (nlohmann::json), so memory stays at one line plus the column vectors.
#include <cmath>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dlcost/strings.h"
#include "drift/cells.h"
#include "drift/readers.h"
#include "common/json_util.h"

namespace dlcost::drift {
namespace {

using json = nlohmann::ordered_json;

// Calls fn(line_number, text) for each non-blank line.
template <typename F>
void ForEachLine(std::string_view text, F&& fn) {
  size_t pos = 0;
  int64_t line = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    ++line;
    std::string_view s = text.substr(pos, nl - pos);
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    bool blank = s.find_first_not_of(" \t") == std::string_view::npos;
    if (!blank && !fn(line, s)) return;
    pos = nl + 1;
  }
}

std::string CellText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

struct Builder {
  Column col;
  Slot slot = Slot::kSkip;
  Dictionary dict;
  int64_t first_bad_line = 0;
  std::string first_bad_text;
  int64_t last_row = -1;  // last row that set a value

  void Missing() {
    if (slot == Slot::kCategorical) col.codes.push_back(kMissingCode);
    else if (slot != Slot::kSkip) col.values.push_back(std::numeric_limits<double>::quiet_NaN());
  }
  void Set(const json& v, int64_t line) {
    if (slot == Slot::kSkip) return;
    if (v.is_null()) {
      Missing();
      return;
    }
    if (slot == Slot::kCategorical) {
      std::string s = CellText(v);
      col.codes.push_back(IsMissingToken(s) ? kMissingCode : dict.Code(s));
      return;
    }
    if (slot == Slot::kText) {
      std::string s = CellText(v);
      col.values.push_back(IsMissingToken(s) ? std::numeric_limits<double>::quiet_NaN() : Utf8Length(s));
      return;
    }
    double d = 0;
    NumberParse np = NumberParse::kBad;
    if (v.is_number()) {
      d = v.get<double>();
      np = std::isfinite(d) ? NumberParse::kValue : NumberParse::kBad;
    } else if (v.is_string()) {
      np = ParseNumberText(v.get_ref<const std::string&>(), &d);
    }
    if (np == NumberParse::kValue) {
      col.values.push_back(d);
      return;
    }
    col.values.push_back(std::numeric_limits<double>::quiet_NaN());
    if (np == NumberParse::kBad) {
      if (col.bad_cells++ == 0) {
        first_bad_line = line;
        first_bad_text = CellText(v).substr(0, 40);
      }
    }
  }
};

}  // namespace

Result<Frame> ReadJsonl(std::string_view text, const std::string& path, const ReadOptions& opts, const Frame* schema) {
  // Pass 1 (first rows only): key order and types.
  std::vector<std::string> names;
  std::unordered_map<std::string, size_t> sample_index;
  std::vector<ColumnSample> samples;
  int64_t sampled = 0;
  ForEachLine(text, [&](int64_t, std::string_view s) {
    json j = ParseJsonNoThrow<json>(s);
    if (j.is_discarded() || !j.is_object()) return true;
    for (auto it = j.begin(); it != j.end(); ++it) {
      auto [pos, inserted] = sample_index.emplace(it.key(), names.size());
      if (inserted) {
        names.push_back(it.key());
        samples.emplace_back();
      }
      const json& v = it.value();
      if (v.is_null()) continue;
      samples[pos->second].Add(CellText(v), v.is_number() || (v.is_string() && [&] {
        double d;
        return ParseNumberText(v.get_ref<const std::string&>(), &d) != NumberParse::kBad;
      }()));
    }
    return ++sampled < opts.inference_rows;
  });

  Frame f;
  f.path = path;
  std::vector<Builder> builders;
  std::unordered_map<std::string, size_t> index;
  auto add_column = [&](const std::string& name, ColumnType inferred) -> Builder& {
    Builder b;
    bool keep = true;
    std::string problem;
    b.col.name = name;
    b.col.type = ResolveType(name, inferred, opts, schema, &keep, &problem);
    b.col.problem = problem;
    if (keep) {
      b.slot = b.col.type == ColumnType::kNumeric ? Slot::kNumeric
               : b.col.type == ColumnType::kText  ? Slot::kText
                                                  : Slot::kCategorical;
    } else if (problem.empty()) {
      b.col.name.clear();  // not selected: dropped at the end
    }
    index.emplace(name, builders.size());
    builders.push_back(std::move(b));
    return builders.back();
  };
  for (size_t i = 0; i < names.size(); ++i) add_column(names[i], samples[i].Infer());

  // Pass 2: every line.
  ForEachLine(text, [&](int64_t line, std::string_view s) {
    json j = ParseJsonNoThrow<json>(s);
    if (j.is_discarded() || !j.is_object()) {
      if (f.skipped_rows++ == 0) {
        f.skipped_detail = fmt::format("line {} is not a JSON object", line);
      }
      return true;
    }
    const int64_t row = f.rows;
    for (auto it = j.begin(); it != j.end(); ++it) {
      auto found = index.find(it.key());
      Builder* b;
      if (found == index.end()) {
        // A key first seen after the sample: a new column, missing in the rows before.
        const json& v = it.value();
        b = &add_column(it.key(), v.is_number() || v.is_null() ? ColumnType::kNumeric : ColumnType::kCategorical);
        for (int64_t r = 0; r < row; ++r) b->Missing();
      } else {
        b = &builders[found->second];
      }
      if (b->last_row == row) continue;  // duplicate key: the first one counts
      b->Set(it.value(), line);
      b->last_row = row;
    }
    for (Builder& b : builders) {
      if (b.last_row != row) {
        b.Missing();
        b.last_row = row;
      }
    }
    f.row_lines.push_back(line);
    ++f.rows;
    return true;
  });
  if (f.rows == 0 && f.skipped_rows > 0) {
    return InvalidInput(fmt::format("{}: no line is a JSON object ({})", path, f.skipped_detail));
  }
  if (builders.empty()) return InvalidInput(fmt::format("{}: the file is empty (no JSON object)", path));

  for (Builder& b : builders) {
    if (b.col.name.empty()) continue;
    if (b.slot == Slot::kCategorical) {
      b.col.categories = b.dict.names();
      for (uint32_t c : b.col.codes) b.col.missing += c == kMissingCode;
    } else {
      for (double v : b.col.values) b.col.missing += std::isnan(v);
    }
    if (b.col.bad_cells > 0) {
      b.col.problem = fmt::format("{}: column '{}': line {}: '{}' is not a finite number ({} such {})", path,
                                  ForMessage(b.col.name), b.first_bad_line, ForMessage(b.first_bad_text), b.col.bad_cells,
                                  b.col.bad_cells == 1 ? "cell" : "cells");
    }
    f.columns.push_back(std::move(b.col));
  }
  NoteAbsentColumns(opts, &f);
  return f;
}

}  // namespace dlcost::drift
