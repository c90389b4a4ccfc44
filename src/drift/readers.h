// The two table readers behind ReadFrame (CSV and JSONL), over a file already in memory.
#pragma once

#include <string_view>

#include "dlcost/drift.h"

namespace dlcost::drift {

// What to do with each column of a file, decided once the header and a sample are known.
enum class Slot { kSkip, kNumeric, kCategorical, kText };

// The type a column is read as: the schema's (when given and it has the column), else an
// override from the options, else the inferred type. `*keep` is false for columns the
// options do not select or the schema lacks (they are listed but not read).
ColumnType ResolveType(const std::string& name, ColumnType inferred, const ReadOptions& opts, const Frame* schema,
                       bool* keep, std::string* problem);

Result<Frame> ReadCsv(std::string_view text, const std::string& path, const ReadOptions& opts, const Frame* schema);
Result<Frame> ReadJsonl(std::string_view text, const std::string& path, const ReadOptions& opts, const Frame* schema);

// Names in `opts.columns` that `f` lacks go to f.absent_columns.
void NoteAbsentColumns(const ReadOptions& opts, Frame* f);

}  // namespace dlcost::drift
