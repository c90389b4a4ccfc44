// Fuzz target of the model file reader (`--model FILE`: dlcost model JSON or a Hugging Face
// config.json): a model within the size bounds or a one-line error (fuzz/README.md).
#include "dlcost/model.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = dlcost::fuzz::InputFile(data, size, "config.json");
  dlcost::Result<dlcost::ModelSpec> m = dlcost::ReadModelFile(path);
  if (m.ok()) {
    if (m->layers < 1 || m->hidden < 1 || m->heads < 1 || m->vocab < 0) __builtin_trap();
  } else {
    dlcost::fuzz::CheckOneLine(m.status());
  }
  return 0;
}
