// Fuzz target of the request-trace parser (`infer --trace`): any bytes must give a trace or a
// one-line error, never a crash, a hang or an exception. Built with libFuzzer when
// DLCOST_FUZZ=ON (clang); otherwise fuzz_replay runs the seed corpus through it (fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dlcost/api_serve.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool skip : {false, true}) {
    dlcost::Result<dlcost::api::LoadTrace> t = dlcost::api::ParseLoadTrace(text, "fuzz", skip);
    if (t.ok()) {
      // A parsed trace holds only what the simulation can use.
      double prev = -1;
      for (const dlcost::LoadRequest& r : t->requests) {
        if (!(r.arrival_s >= prev) || r.input_len < 1 || r.output_len < 1) __builtin_trap();
        prev = r.arrival_s;
      }
    } else if (t.status().message().empty() || t.status().message().find('\n') != std::string_view::npos) {
      __builtin_trap();  // errors are one non-empty line
    }
  }
  return 0;
}
