// Fuzz target of the audit record readers (`audit dedup|leakage|labels` inputs: JSON Lines,
// CSV and gzip-compressed files): every record read or skipped and counted, or a one-line error
// (fuzz/README.md).
#include "dlcost/audit.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (const char* name : {"records.jsonl", "records.csv", "records.jsonl.gz"}) {
    dlcost::audit::InputSpec in;
    in.path = dlcost::fuzz::InputFile(data, size, name);
    in.id_field = "id";
    in.label_field = "label";
    dlcost::audit::InputStats stats;
    int64_t n = 0;
    dlcost::Status s = dlcost::audit::ReadRecords(
        in, [&](dlcost::audit::Record&) { ++n; return dlcost::Status::Ok(); }, &stats);
    dlcost::fuzz::CheckOneLine(s);
  }
  return 0;
}
