// Fuzz target of the error-band table reader (`--bands FILE`, data/bands/*.json) and of the
// calibration-profile reader's sections beyond the efficiency figures (`--calibration FILE`):
// a table whose quantiles are finite and ordered, or a one-line error (fuzz/README.md).
#include <cmath>

#include "dlcost/error_bands.h"
#include "dlcost/measure.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = dlcost::fuzz::InputFile(data, size, "bands.json");
  dlcost::Result<dlcost::ErrorBandTable> t = dlcost::ErrorBandTable::Load(path);
  if (t.ok()) {
    for (const auto& [key, q] : t->regimes) {
      if (!std::isfinite(q.q10) || !std::isfinite(q.q90) || q.q10 > q.q90) __builtin_trap();
    }
  } else {
    dlcost::fuzz::CheckOneLine(t.status());
  }
  dlcost::Result<dlcost::measure::CalibrationProfile> p = dlcost::measure::LoadCalibrationProfile(path);
  if (!p.ok()) dlcost::fuzz::CheckOneLine(p.status());
  return 0;
}
