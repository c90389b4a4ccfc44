// Fuzz target of the catalog files a user may write or import: an accelerator JSON
// (data/hardware/accelerators/), a serving engine profile (data/engines/), a SkyPilot-style vms.csv (`prices import`), an audit
// manifest (`audit manifest --verify`) and a dedup shard (`audit dedup --merge`): a result or
// a one-line error (fuzz/README.md).
#include <filesystem>

#include "dlcost/audit.h"
#include "dlcost/engines.h"
#include "dlcost/hardware.h"
#include "dlcost/prices.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using dlcost::fuzz::CheckOneLine;
  using dlcost::fuzz::InputFile;
  std::string gpu = InputFile(data, size, "gpu.json");
  dlcost::Result<dlcost::Accelerator> a = dlcost::ParseAcceleratorFile(gpu);
  if (a.ok()) {
    if (!(a->memory_bandwidth_gb_s > 0) || !(a->MemoryBytes() > 0)) __builtin_trap();
  } else {
    CheckOneLine(a.status());
  }
  // An engine profile: data_dir/engines/*.json.
  static const std::filesystem::path engine_dir = [] {
    std::filesystem::create_directories(dlcost::fuzz::WorkDir() / "engine_data" / "engines");
    return dlcost::fuzz::WorkDir() / "engine_data";
  }();
  InputFile(data, size, "engine_data/engines/x.json");
  dlcost::Result<std::vector<dlcost::EngineProfile>> e = dlcost::LoadEngines(engine_dir.string());
  if (e.ok()) {
    for (const dlcost::EngineProfile& x : *e) {
      for (const dlcost::EngineFactor& f : x.factors) {
        if (!(f.factor >= 0.1 && f.factor <= 10)) __builtin_trap();
      }
      (void)dlcost::EngineEpoch(x, "0.6.0");
    }
  } else {
    CheckOneLine(e.status());
  }
  dlcost::VmsImportReport rep;
  dlcost::Result<dlcost::PriceTable> p = dlcost::PriceTable::ImportVmsCsv(InputFile(data, size, "vms.csv"), "fuzz", &rep);
  if (!p.ok()) CheckOneLine(p.status());
  dlcost::Result<dlcost::audit::Manifest> m = dlcost::audit::ReadManifest(InputFile(data, size, "manifest.json"));
  if (!m.ok()) CheckOneLine(m.status());
  dlcost::Result<dlcost::audit::MergedDedup> d = dlcost::audit::MergeDedupShards({InputFile(data, size, "shard.json")});
  if (!d.ok()) CheckOneLine(d.status());
  return 0;
}
