// Files the audit commands write (--write-deduplicated, --shard-out): never over the input,
// never left half-written, gzip when the name ends in .gz (audit-internal; docs/audit.md).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include <zlib.h>

#include "dlcost/status.h"

namespace dlcost::audit {

class OutputFile {
 public:
  // Opens a temporary file beside `path` (or, for a path that exists and is not a regular file
  // such as a device, `path` itself). InvalidInput naming `flag` when `path` is `input` (by
  // any name, link or hard link) or cannot be written.
  static Result<OutputFile> Open(const std::string& path, const std::string& input, const char* flag);
  OutputFile(OutputFile&& o) noexcept;
  OutputFile& operator=(OutputFile&&) = delete;
  OutputFile(const OutputFile&) = delete;
  ~OutputFile();

  void Write(std::string_view bytes);
  // Flushes, checks every write, and renames the temporary file over `path`; InvalidInput naming
  // the flag on a write error (a full disk), the temporary file removed.
  Status Commit();

 private:
  OutputFile() = default;
  void Discard();
  std::string path_, tmp_, flag_;
  std::FILE* plain_ = nullptr;
  gzFile gz_ = nullptr;
  bool failed_ = false;
};

}  // namespace dlcost::audit
