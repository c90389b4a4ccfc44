// Fuzz target of the drift readers (`drift` reference and current files, CSV and JSON Lines,
// and the policy file): a frame (or policy) or a one-line error (fuzz/README.md).
#include "dlcost/drift.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dlcost::drift::ReadOptions opts;
  opts.threads = 1;
  for (const char* name : {"frame.csv", "frame.jsonl"}) {
    std::string path = dlcost::fuzz::InputFile(data, size, name);
    dlcost::Result<dlcost::drift::Frame> f = dlcost::drift::ReadFrame(path, opts, nullptr);
    if (!f.ok()) dlcost::fuzz::CheckOneLine(f.status());
  }
  std::string path = dlcost::fuzz::InputFile(data, size, "policy.json");
  dlcost::drift::Policy policy;
  dlcost::Result<dlcost::drift::DecisionPolicy> p = dlcost::drift::ReadPolicyFile(path, &policy);
  if (!p.ok()) dlcost::fuzz::CheckOneLine(p.status());
  return 0;
}
