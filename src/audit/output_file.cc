#include "audit/output_file.h"

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

namespace dlcost::audit {

namespace fs = std::filesystem;

Result<OutputFile> OutputFile::Open(const std::string& path, const std::string& input, const char* flag) {
  std::error_code ec;
  if (path.empty()) return InvalidInput(fmt::format("{}: empty file name", flag));
  if (fs::exists(path, ec) && fs::exists(input, ec) && fs::equivalent(path, input, ec)) {
    return InvalidInput(fmt::format("{}: '{}' is the input of this run; give another path", flag, path));
  }
  OutputFile f;
  f.path_ = path;
  f.flag_ = flag;
  bool special = fs::exists(path, ec) && !fs::is_regular_file(path, ec);
  f.tmp_ = special ? path : fmt::format("{}.tmp-{}", path, static_cast<long>(getpid()));
  bool gzip = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (gzip) {
    f.gz_ = gzopen(f.tmp_.c_str(), "wb");
    if (!f.gz_) return InvalidInput(fmt::format("{}: cannot write '{}'", flag, path));
  } else {
    f.plain_ = std::fopen(f.tmp_.c_str(), "wb");
    if (!f.plain_) return InvalidInput(fmt::format("{}: cannot write '{}'", flag, path));
  }
  if (special) f.tmp_.clear();  // written in place: nothing to rename or remove
  return f;
}

OutputFile::OutputFile(OutputFile&& o) noexcept
    : path_(std::move(o.path_)), tmp_(std::move(o.tmp_)), flag_(std::move(o.flag_)), plain_(o.plain_), gz_(o.gz_),
      failed_(o.failed_) {
  o.plain_ = nullptr;
  o.gz_ = nullptr;
  o.tmp_.clear();
}

OutputFile::~OutputFile() { Discard(); }

void OutputFile::Write(std::string_view bytes) {
  if (failed_ || bytes.empty()) return;
  if (gz_) {
    failed_ = gzwrite(gz_, bytes.data(), static_cast<unsigned>(bytes.size())) != static_cast<int>(bytes.size());
  } else if (plain_) {
    failed_ = std::fwrite(bytes.data(), 1, bytes.size(), plain_) != bytes.size();
  }
}

Status OutputFile::Commit() {
  bool ok = !failed_;
  if (gz_) {
    ok = gzclose(gz_) == Z_OK && ok;
    gz_ = nullptr;
  }
  if (plain_) {
    ok = std::fflush(plain_) == 0 && !std::ferror(plain_) && ok;
    ok = std::fclose(plain_) == 0 && ok;
    plain_ = nullptr;
  }
  if (!ok) {
    Discard();
    return InvalidInput(fmt::format("{}: error writing '{}' (disk full?); nothing written", flag_, path_));
  }
  if (!tmp_.empty()) {
    std::error_code ec;
    fs::rename(tmp_, path_, ec);
    if (ec) {
      Discard();
      return InvalidInput(fmt::format("{}: cannot replace '{}': {}", flag_, path_, ec.message()));
    }
    tmp_.clear();
  }
  return Status::Ok();
}

void OutputFile::Discard() {
  if (gz_) gzclose(gz_);
  if (plain_) std::fclose(plain_);
  gz_ = nullptr;
  plain_ = nullptr;
  if (!tmp_.empty()) std::remove(tmp_.c_str());
  tmp_.clear();
}

}  // namespace dlcost::audit
