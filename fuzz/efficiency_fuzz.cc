// Fuzz target of the efficiency-profile reader (`--calibration FILE`, data/efficiency/*.json):
// a profile whose fractions are in range, or a one-line error (fuzz/README.md).
#include <cmath>

#include "dlcost/efficiency.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = dlcost::fuzz::InputFile(data, size, "profile.json");
  for (const char* gpu : {"", "h100-sxm-80gb"}) {
    dlcost::Result<dlcost::EfficiencyProfile> e = dlcost::LoadEfficiency(path, gpu);
    if (e.ok()) {
      for (double f : {e->gemm_max_fraction, e->memory_fraction, e->attention_max_fraction}) {
        if (!(f > 0) || !std::isfinite(f)) __builtin_trap();
      }
    } else {
      dlcost::fuzz::CheckOneLine(e.status());
    }
  }
  return 0;
}
