// Fast CSV reader for drift tables, on the common CsvCursor. The data rows are cut into two byte
// ranges at a line boundary (when the file holds no quote character, so no field can span lines)
// and parsed by two threads straight into column vectors: numbers read in place by the cursor's
// std::from_chars path, categories through a dictionary keyed by string_view, no per-cell
// allocation.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "common/csv.h"
#include "dlcost/strings.h"
#include "drift/cells.h"
#include "drift/parallel.h"
#include "drift/readers.h"

namespace dlcost::drift {
namespace {

struct BadCell {
  size_t col;
  std::string text;
};

// One byte range of data rows, parsed into per-column vectors.
struct Chunk {
  std::vector<std::vector<double>> num;
  std::vector<std::vector<uint32_t>> cat;
  std::vector<Dictionary> dict;
  std::vector<int64_t> bad;
  std::vector<int64_t> first_bad_line;  // chunk-local, 0 when none
  std::vector<std::string> first_bad_text;
  std::vector<int64_t> row_lines;       // chunk-local 1-based
  int64_t newlines = 0;
  int64_t ragged = 0;
  int64_t first_ragged_line = 0;
  size_t first_ragged_fields = 0;
};

void ParseChunk(const char* p, const char* end, const std::vector<Slot>& slots, int64_t expected_bytes_per_row,
                Chunk* ch) {
  const size_t ncols = slots.size();
  ch->num.resize(ncols);
  ch->cat.resize(ncols);
  ch->dict.resize(ncols);
  ch->bad.assign(ncols, 0);
  ch->first_bad_line.assign(ncols, 0);
  ch->first_bad_text.resize(ncols);
  const size_t guess = expected_bytes_per_row > 0 ? static_cast<size_t>((end - p) / expected_bytes_per_row + 16) : 0;
  for (size_t c = 0; c < ncols; ++c) {
    if (slots[c] == Slot::kNumeric || slots[c] == Slot::kText) ch->num[c].reserve(guess);
    if (slots[c] == Slot::kCategorical) ch->cat[c].reserve(guess);
  }
  ch->row_lines.reserve(guess);
  std::vector<BadCell> row_bad;
  CsvCursor cur(p, end);
  while (!cur.AtEnd()) {
    if (cur.AtLineEnd()) {  // blank line: not a row
      cur.SkipLineEnd();
      continue;
    }
    const int64_t row_line = cur.newlines() + 1;
    row_bad.clear();
    size_t col = 0;
    CsvEnd term = CsvEnd::kEof;
    bool ragged = false;
    for (col = 0; col < ncols; ++col) {
      const Slot slot = slots[col];
      if (slot == Slot::kNumeric) {
        double v;
        if (std::optional<CsvEnd> t = cur.ReadNumber(&v)) {
          if (std::isfinite(v)) {
            ch->num[col].push_back(v);
          } else {
            ch->num[col].push_back(std::numeric_limits<double>::quiet_NaN());
            if (!std::isnan(v)) row_bad.push_back({col, "inf"});
          }
          term = *t;
          goto next_field;
        }
      }
      {
        std::string_view field;
        term = cur.ReadField(&field);
        switch (slot) {
          case Slot::kSkip: break;
          case Slot::kNumeric: {
            double v = 0;
            NumberParse np = ParseNumberText(field, &v);
            if (np == NumberParse::kValue) {
              ch->num[col].push_back(v);
            } else {
              ch->num[col].push_back(std::numeric_limits<double>::quiet_NaN());
              if (np == NumberParse::kBad) row_bad.push_back({col, std::string(field.substr(0, 40))});
            }
            break;
          }
          case Slot::kText:
            ch->num[col].push_back(IsMissingToken(field) ? std::numeric_limits<double>::quiet_NaN()
                                                         : Utf8Length(field));
            break;
          case Slot::kCategorical:
            ch->cat[col].push_back(IsMissingToken(field) ? kMissingCode : ch->dict[col].Code(field));
            break;
        }
      }
    next_field:
      if (term != CsvEnd::kComma) {
        if (col + 1 < ncols) ragged = true;  // short row
        break;
      }
      if (col + 1 == ncols) {  // long row: skip the rest of the line
        ragged = true;
        size_t fields = ncols;
        while (term == CsvEnd::kComma) {
          std::string_view skip;
          term = cur.ReadField(&skip);
          ++fields;
        }
        col = fields - 1;
        break;
      }
    }
    if (ragged) {
      const size_t filled = std::min(col + 1, ncols);
      for (size_t c = 0; c < filled; ++c) {
        if (slots[c] == Slot::kNumeric || slots[c] == Slot::kText) ch->num[c].pop_back();
        if (slots[c] == Slot::kCategorical) ch->cat[c].pop_back();
      }
      if (ch->ragged++ == 0) {
        ch->first_ragged_line = row_line;
        ch->first_ragged_fields = col + 1;
      }
      continue;
    }
    for (BadCell& b : row_bad) {
      if (ch->bad[b.col]++ == 0) {
        ch->first_bad_line[b.col] = row_line;
        ch->first_bad_text[b.col] = std::move(b.text);
      }
    }
    ch->row_lines.push_back(row_line);
  }
  ch->newlines = cur.newlines();
}

// Reads the header row into names; p ends after it, *newlines counts the lines it passed.
Result<std::vector<std::string>> ReadHeader(const char*& p, const char* end, const std::string& path,
                                            int64_t* newlines) {
  std::vector<std::string> names;
  CsvCursor cur(p, end);
  while (cur.AtLineEnd()) cur.SkipLineEnd();  // leading blank lines
  if (cur.AtEnd()) return InvalidInput(fmt::format("{}: the file is empty (no header row)", path));
  const int64_t header_line = cur.newlines() + 1;
  CsvEnd term;
  do {
    std::string_view f;
    term = cur.ReadField(&f);
    while (!f.empty() && (f.front() == ' ' || f.front() == '\t')) f.remove_prefix(1);
    while (!f.empty() && (f.back() == ' ' || f.back() == '\t')) f.remove_suffix(1);
    names.emplace_back(f);
  } while (term == CsvEnd::kComma);
  p = cur.pos();
  *newlines = cur.newlines();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) {
      return InvalidInput(fmt::format("{}: line {}: header column {} has no name", path, header_line, i + 1));
    }
    for (size_t j = 0; j < i; ++j) {
      if (names[j] == names[i]) {
        return InvalidInput(fmt::format("{}: line {}: column '{}' appears twice in the header (columns {} and {})",
                                        path, header_line, ForMessage(names[i]), j + 1, i + 1));
      }
    }
  }
  return names;
}

std::vector<ColumnSample> SampleColumns(const char* p, const char* end, size_t ncols, int64_t max_rows,
                                        int64_t* bytes_per_row) {
  std::vector<ColumnSample> samples(ncols);
  int64_t rows = 0;
  CsvCursor cur(p, end);
  while (!cur.AtEnd() && rows < max_rows) {
    if (cur.AtLineEnd()) {
      cur.SkipLineEnd();
      continue;
    }
    size_t col = 0;
    CsvEnd term;
    do {
      std::string_view f;
      term = cur.ReadField(&f);
      if (col < ncols) {
        double v;
        samples[col].Add(f, ParseNumberText(f, &v) != NumberParse::kBad);
      }
      ++col;
    } while (term == CsvEnd::kComma);
    ++rows;
  }
  *bytes_per_row = rows > 0 ? std::max<int64_t>(1, (cur.pos() - p) / rows) : 0;
  return samples;
}

// Which columns to read and how: a slot per file column, and its index among the frame's columns.
void PlanColumns(const std::vector<std::string>& names, std::vector<ColumnSample>& samples, const ReadOptions& opts,
                 const Frame* schema, Frame& f, std::vector<Slot>& slots, std::vector<size_t>& out_index) {
  const size_t ncols = names.size();
  slots.assign(ncols, Slot::kSkip);
  out_index.assign(ncols, SIZE_MAX);
  for (size_t c = 0; c < ncols; ++c) {
    bool keep = true;
    std::string problem;
    ColumnType type = ResolveType(names[c], samples[c].Infer(), opts, schema, &keep, &problem);
    if (!keep && problem.empty()) continue;  // not selected
    Column col;
    col.name = names[c];
    col.type = type;
    col.problem = problem;
    if (keep) {
      slots[c] = type == ColumnType::kNumeric ? Slot::kNumeric
                 : type == ColumnType::kText  ? Slot::kText
                                              : Slot::kCategorical;
    }
    out_index[c] = f.columns.size();
    f.columns.push_back(std::move(col));
  }
}

// The data rows cut into ranges at line starts, one per thread; one range when a quoted field
// could hold a newline or the data is small.
std::vector<std::pair<const char*, const char*>> SplitRanges(const char* p, const char* end, int threads) {
  std::vector<std::pair<const char*, const char*>> ranges;
  const bool has_quotes = std::memchr(p, '"', static_cast<size_t>(end - p)) != nullptr;
  const size_t kMinChunkBytes = 1 << 20;
  if (has_quotes || threads <= 1 || static_cast<size_t>(end - p) < 2 * kMinChunkBytes) {
    ranges.emplace_back(p, end);
    return ranges;
  }
  const char* start = p;
  for (int t = 1; t < threads; ++t) {
    const char* cut = p + (end - p) * t / threads;
    if (cut < start) cut = start;
    const void* nl = std::memchr(cut, '\n', static_cast<size_t>(end - cut));
    const char* next = nl ? static_cast<const char*>(nl) + 1 : end;
    ranges.emplace_back(start, next);
    start = next;
  }
  ranges.emplace_back(start, end);
  return ranges;
}

// Row counts, ragged rows and line numbers: each chunk counted its own newlines from 0, so
// `base` gets the file line each chunk starts after.
void CollectRows(std::vector<Chunk>& chunks, int64_t header_newlines, size_t ncols, Frame& f, std::vector<int64_t>& base) {
  base.resize(chunks.size());
  int64_t b = header_newlines;
  for (size_t i = 0; i < chunks.size(); ++i) {
    base[i] = b;
    b += chunks[i].newlines;
  }
  for (size_t i = 0; i < chunks.size(); ++i) {
    f.rows += static_cast<int64_t>(chunks[i].row_lines.size());
    if (chunks[i].ragged > 0) {
      if (f.skipped_rows == 0) {
        f.skipped_detail = fmt::format("line {} has {} fields, the header has {}",
                                       base[i] + chunks[i].first_ragged_line, chunks[i].first_ragged_fields, ncols);
      }
      f.skipped_rows += chunks[i].ragged;
    }
  }
  f.row_lines.reserve(static_cast<size_t>(f.rows));
  for (size_t i = 0; i < chunks.size(); ++i) {
    for (int64_t l : chunks[i].row_lines) f.row_lines.push_back(base[i] + l);
    std::vector<int64_t>().swap(chunks[i].row_lines);
  }
}

// Joins the chunks' codes of categorical file column `c` under one dictionary.
void MergeCategorical(std::vector<Chunk>& chunks, size_t c, Column& col) {
  Dictionary global;
  size_t total = 0;
  for (const Chunk& ch : chunks) total += ch.cat[c].size();
  col.codes.reserve(total);
  for (Chunk& ch : chunks) {
    const std::vector<std::string>& local = ch.dict[c].names();
    std::vector<uint32_t> remap(local.size());
    for (size_t k = 0; k < local.size(); ++k) remap[k] = global.Code(local[k]);
    for (uint32_t code : ch.cat[c]) {
      if (code == kMissingCode) {
        ++col.missing;
        col.codes.push_back(kMissingCode);
      } else {
        col.codes.push_back(remap[code]);
      }
    }
    std::vector<uint32_t>().swap(ch.cat[c]);
  }
  col.categories = global.names();
}

// Joins the chunks' values of numeric file column `c` and counts the missing ones.
void MergeNumeric(std::vector<Chunk>& chunks, size_t c, Column& col) {
  if (chunks.size() == 1) {
    col.values = std::move(chunks[0].num[c]);
  } else {
    size_t total = 0;
    for (const Chunk& ch : chunks) total += ch.num[c].size();
    col.values.reserve(total);
    for (Chunk& ch : chunks) {
      col.values.insert(col.values.end(), ch.num[c].begin(), ch.num[c].end());
      std::vector<double>().swap(ch.num[c]);
    }
  }
  int64_t missing = 0;
  for (double v : col.values) missing += std::isnan(v);
  col.missing = missing;
}

// The first bad cell of file column `c` across the chunks, as the column's problem.
void NoteBadCells(const std::vector<Chunk>& chunks, const std::vector<int64_t>& base, size_t c, const std::string& path,
                  Column& col) {
  int64_t bad = 0;
  size_t first = chunks.size();
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].bad[c] > 0 && first == chunks.size()) first = i;
    bad += chunks[i].bad[c];
  }
  if (bad == 0) return;
  col.bad_cells = bad;
  col.problem = fmt::format("{}: column '{}': line {}: '{}' is not a finite number ({} such {})", path, ForMessage(col.name),
                            base[first] + chunks[first].first_bad_line[c], ForMessage(chunks[first].first_bad_text[c]), bad,
                            bad == 1 ? "cell" : "cells");
}

}  // namespace

Result<Frame> ReadCsv(std::string_view text, const std::string& path, const ReadOptions& opts, const Frame* schema) {
  text = SkipUtf8Bom(text);
  const char* p = text.data();
  const char* end = p + text.size();
  int64_t header_newlines = 0;
  DLCOST_ASSIGN_OR_RETURN(std::vector<std::string> names, ReadHeader(p, end, path, &header_newlines));
  const size_t ncols = names.size();

  int64_t bytes_per_row = 0;
  std::vector<ColumnSample> samples = SampleColumns(p, end, ncols, opts.inference_rows, &bytes_per_row);

  Frame f;
  f.path = path;
  std::vector<Slot> slots;
  std::vector<size_t> out_index;
  PlanColumns(names, samples, opts, schema, f, slots, out_index);
  NoteAbsentColumns(opts, &f);

  const int threads = std::max(1, opts.threads);
  std::vector<std::pair<const char*, const char*>> ranges = SplitRanges(p, end, threads);
  std::vector<Chunk> chunks(ranges.size());
  ParallelFor(ranges.size(), threads, [&](size_t i) {
    ParseChunk(ranges[i].first, ranges[i].second, slots, bytes_per_row, &chunks[i]);
  });
  std::vector<int64_t> base;
  CollectRows(chunks, header_newlines, ncols, f, base);

  // Merge the chunks column by column (two threads across columns).
  ParallelFor(ncols, threads, [&](size_t c) {
    if (slots[c] == Slot::kSkip) return;
    Column& col = f.columns[out_index[c]];
    NoteBadCells(chunks, base, c, path, col);
    if (slots[c] == Slot::kCategorical) {
      MergeCategorical(chunks, c, col);
    } else {
      MergeNumeric(chunks, c, col);
    }
  });
  return f;
}

}  // namespace dlcost::drift
