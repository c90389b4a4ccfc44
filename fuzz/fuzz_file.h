// Helpers of the fuzz targets whose parser reads a file (fuzz/README.md): the input is written
// to a file of this process, and an error must be one non-empty line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include <unistd.h>

#include "dlcost/status.h"

namespace dlcost::fuzz {

// A folder of this process under the temporary directory, removed at exit.
inline const std::filesystem::path& WorkDir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path d = std::filesystem::temp_directory_path() /
                              ("dlcost-fuzz-" + std::to_string(static_cast<long long>(::getpid())));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(WorkDir(), ec);
    });
    return d;
  }();
  return dir;
}

// Writes the input to `name` in the work folder and returns its path.
inline std::string InputFile(const uint8_t* data, size_t size, const std::string& name) {
  std::filesystem::path p = WorkDir() / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return p.string();
}

// Traps unless `s` is OK or an error of one non-empty line.
inline void CheckOneLine(const Status& s) {
  if (s.ok()) return;
  const std::string& m = s.message();
  if (m.empty() || m.find('\n') != std::string::npos) __builtin_trap();
}

}  // namespace dlcost::fuzz
