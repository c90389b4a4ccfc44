// Fuzz target of the measured-case readers (`validate training|inference FILE.csv`): either
// file as a training and as an inference case file gives a report or a one-line error
// (fuzz/README.md).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "dlcost/validate.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string kData = DLCOST_FUZZ_DATA_DIR;
  static const std::string kEff = kData + "/efficiency/default.json";
  // The shipped catalogs, read once: the target is the case-file reader, not the catalogs (which
  // have their own target).
  static const dlcost::ValidationCatalogs kCatalogs = [] {
    dlcost::Result<dlcost::ValidationCatalogs> c = dlcost::ValidationCatalogs::Load(kData);
    if (!c.ok()) {
      std::fprintf(stderr, "fuzz_validate: %s\n", c.status().message().c_str());
      std::abort();
    }
    return std::move(*c);
  }();
  dlcost::ValidationOptions opts;
  opts.catalogs = &kCatalogs;
  std::string path = dlcost::fuzz::InputFile(data, size, "cases.csv");
  dlcost::Result<dlcost::ValidationReport> a = dlcost::ValidateInference(path, kData, kEff, opts);
  if (!a.ok()) dlcost::fuzz::CheckOneLine(a.status());
  dlcost::Result<dlcost::ValidationReport> b = dlcost::ValidateTraining(path, kData, kEff, opts);
  if (!b.ok()) dlcost::fuzz::CheckOneLine(b.status());
  return 0;
}
