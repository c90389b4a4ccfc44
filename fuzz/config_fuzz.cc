// Fuzz target of the configuration-file reader (./dlcost.json and the user's config.json):
// a layer whose keys and values are non-empty text, or a one-line error naming the file
// (fuzz/README.md).
#include "dlcost/api_config.h"
#include "fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = dlcost::fuzz::InputFile(data, size, "dlcost.json");
  dlcost::Result<std::optional<dlcost::api::ConfigLayer>> layer = dlcost::api::ReadConfigLayer(path);
  if (!layer.ok()) {
    dlcost::fuzz::CheckOneLine(layer.status());
    return 0;
  }
  if (!layer->has_value()) __builtin_trap();  // the file exists
  for (const auto& [key, value] : (*layer)->general) {
    if (key.empty()) __builtin_trap();
  }
  for (const auto& [command, options] : (*layer)->per_command) {
    if (command.empty()) __builtin_trap();
    for (const auto& [key, value] : options) {
      if (key.empty()) __builtin_trap();
    }
  }
  return 0;
}
