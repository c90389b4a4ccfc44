// Fuzz target of the CSV reader every CSV input goes through (validation cases, price imports,
// traces): a table or a one-line error (fuzz/README.md).
#include <string_view>

#include "common/csv.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  dlcost::Result<dlcost::CsvTable> t = dlcost::CsvTable::Parse(text, "fuzz");
  if (t.ok()) {
    for (const dlcost::CsvRow& r : t->rows()) {
      for (size_t c = 0; c < t->header().size(); ++c) (void)t->Field(r, c);
    }
  } else {
    dlcost::fuzz::CheckOneLine(t.status());
  }
  return 0;
}
