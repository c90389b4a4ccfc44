// Fuzz target of the ledger's importers (`ledger import csv|codecarbon|slurm|wandb FILE`, MLflow's
// meta.yaml): any bytes must give entries the ledger can hold or a one-line error, never a crash,
// a hang or an exception.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dlcost/ledger.h"
#include "dlcost/strings.h"
#include "ledger/importer_util.h"

namespace {

void CheckBatch(const dlcost::Result<dlcost::ledger::ImportBatch>& b) {
  if (!b.ok()) {
    const std::string& m = b.status().message();
    if (m.empty() || m.find('\n') != std::string::npos) __builtin_trap();  // errors are one non-empty line
    return;
  }
  for (const dlcost::ledger::Entry& e : b->entries) {
    if (e.run_name.empty() || !dlcost::IsValidUtf8(e.run_name) || !dlcost::IsValidUtf8(e.project) ||
        !dlcost::IsValidUtf8(e.gpu) || e.source_key.empty()) {
      __builtin_trap();
    }
    if (e.num_gpus && *e.num_gpus < 1) __builtin_trap();
    const dlcost::ledger::Metrics& m = e.metrics;
    for (auto v : {m.wall_s, m.gpu_hours, m.energy_kwh, m.usd, m.co2_kg, m.tokens, m.tokens_per_s}) {
      if (v && !(std::isfinite(*v) && *v >= 0)) __builtin_trap();
    }
  }
  for (const dlcost::ledger::SkippedRow& s : b->skipped) {
    if (s.reason.empty() || s.reason.find('\n') != std::string::npos) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool skip : {false, true}) {
    dlcost::ledger::ImportOptions o;
    o.skip_bad_rows = skip;
    CheckBatch(dlcost::ledger::ParseGenericCsv(text, "fuzz.csv", o));
    CheckBatch(dlcost::ledger::ParseCodeCarbonCsv(text, "emissions.csv", o));
    CheckBatch(dlcost::ledger::ParseSlurmSacct(text, "sacct.txt", o));
    CheckBatch(dlcost::ledger::ParseWandbCsv(text, "wandb_export.csv", o));
  }
  // MLflow's meta.yaml reader: any text gives a map (never a crash).
  std::map<std::string, std::string> yaml = dlcost::ledger::ParseFlatYaml(text);
  if (yaml.size() > size + 1) __builtin_trap();
  return 0;
}
