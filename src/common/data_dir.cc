#include "dlcost/data_dir.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

namespace dlcost {
namespace fs = std::filesystem;

namespace {
bool LooksLikeDataDir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p / "hardware" / "accelerators", ec);
}
}  // namespace

Result<std::string> FindDataDir(const std::string& override_dir) {
  if (!override_dir.empty()) {
    if (!LooksLikeDataDir(override_dir)) {
      return InvalidInput(fmt::format("--data-dir: '{}' has no hardware/accelerators folder", override_dir));
    }
    return override_dir;
  }
  if (const char* env = std::getenv("DLCOST_DATA_DIR"); env != nullptr && *env != '\0') {
    if (!LooksLikeDataDir(env)) {
      return InvalidInput(fmt::format("DLCOST_DATA_DIR: '{}' has no hardware/accelerators folder", env));
    }
    return std::string(env);
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) {
    fs::path dir = exe.parent_path();
    candidates = {dir / ".." / "share" / "dlcost" / "data", dir / "data", dir / ".." / "data"};
  }
  candidates.emplace_back(DLCOST_SOURCE_DATA_DIR);
  for (const fs::path& c : candidates) {
    if (LooksLikeDataDir(c)) return fs::weakly_canonical(c, ec).string();
  }
  return Unavailable("cannot find the dlcost data folder; pass --data-dir or set DLCOST_DATA_DIR");
}

}  // namespace dlcost
