// ReadFrame: maps the file into memory and hands it to the CSV or JSONL reader.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "dlcost/strings.h"
#include "drift/readers.h"

namespace dlcost::drift {
namespace {

// A read-only memory map of a whole file (empty files map to an empty view).
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) munmap(data_, size_);
  }

  Status Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return InvalidInput(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return InvalidInput(fmt::format("{}: cannot read: not a regular file", path));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* m = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m == MAP_FAILED) {
        int err = errno;
        ::close(fd);
        return InvalidInput(fmt::format("{}: cannot read: {}", path, std::strerror(err)));
      }
      data_ = m;
      madvise(data_, size_, MADV_SEQUENTIAL | MADV_WILLNEED);
    }
    ::close(fd);
    return Status::Ok();
  }
  std::string_view view() const { return {static_cast<const char*>(data_), data_ ? size_ : 0}; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

const char* ColumnTypeName(ColumnType t) {
  switch (t) {
    case ColumnType::kNumeric: return "numeric";
    case ColumnType::kCategorical: return "categorical";
    case ColumnType::kText: return "text";
  }
  return "numeric";
}

const char* MethodName(Method m) {
  switch (m) {
    case Method::kAuto: return "auto";
    case Method::kKs: return "ks";
    case Method::kPsi: return "psi";
    case Method::kWasserstein: return "wasserstein";
    case Method::kChiSquare: return "chisquare";
    case Method::kJensenShannon: return "jensenshannon";
  }
  return "auto";
}

Result<ColumnType> ParseColumnType(const std::string& text) {
  std::string t = ToLower(text);
  if (t == "numeric") return ColumnType::kNumeric;
  if (t == "categorical") return ColumnType::kCategorical;
  if (t == "text") return ColumnType::kText;
  return UsageError(fmt::format("unknown column type '{}' (numeric, categorical, text)", text));
}

Result<Method> ParseMethod(const std::string& text) {
  std::string t = ToLower(text);
  if (t == "auto") return Method::kAuto;
  if (t == "ks") return Method::kKs;
  if (t == "psi") return Method::kPsi;
  if (t == "wasserstein") return Method::kWasserstein;
  if (t == "chisquare" || t == "chi-square" || t == "chi2") return Method::kChiSquare;
  if (t == "jensenshannon" || t == "js" || t == "jensen-shannon") return Method::kJensenShannon;
  return UsageError(
      fmt::format("unknown test '{}' (auto, ks, psi, wasserstein, chisquare, jensenshannon)", text));
}

bool IsPValueMethod(Method m) { return m == Method::kKs || m == Method::kChiSquare; }

const Column* Frame::Find(const std::string& name) const {
  for (const Column& c : columns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

ColumnType ResolveType(const std::string& name, ColumnType inferred, const ReadOptions& opts, const Frame* schema,
                       bool* keep, std::string* problem) {
  *keep = true;
  problem->clear();
  if (!opts.columns.empty() &&
      std::find(opts.columns.begin(), opts.columns.end(), name) == opts.columns.end()) {
    *keep = false;
    return inferred;
  }
  auto it = opts.types.find(name);
  ColumnType type = it != opts.types.end() ? it->second : inferred;
  if (schema != nullptr) {
    const Column* s = schema->Find(name);
    if (s == nullptr) {
      *keep = false;
      *problem = fmt::format("column '{}' is in {} but not in the reference {}", ForMessage(name), "the current file", schema->path);
      return type;
    }
    type = s->type;
  }
  return type;
}

void NoteAbsentColumns(const ReadOptions& opts, Frame* f) {
  for (const std::string& name : opts.columns) {
    if (f->Find(name) == nullptr) f->absent_columns.push_back(name);
  }
}

Result<Frame> ReadFrame(const std::string& path, const ReadOptions& opts, const Frame* schema) {
  MappedFile file;
  DLCOST_RETURN_IF_ERROR(file.Open(path));
  std::string lower = ToLower(path);
  if (EndsWith(lower, ".jsonl") || EndsWith(lower, ".ndjson")) return ReadJsonl(file.view(), path, opts, schema);
  return ReadCsv(file.view(), path, opts, schema);
}

}  // namespace dlcost::drift
