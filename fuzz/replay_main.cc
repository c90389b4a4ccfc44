// Runs a fuzz target over files without libFuzzer: every file named on the command line, or
// every file in a folder named there, goes through LLVMFuzzerTestOneInput once. ctest uses it to
// keep the seed corpora passing in every build (fuzz/README.md).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int RunFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz_replay: cannot open %s\n", p.string().c_str());
    return 1;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int files = 0, failed = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (const auto& e : std::filesystem::directory_iterator(p)) {
        if (!e.is_regular_file()) continue;
        failed += RunFile(e.path());
        ++files;
      }
    } else {
      failed += RunFile(p);
      ++files;
    }
  }
  std::printf("fuzz_replay: %d inputs, %d unreadable\n", files, failed);
  return files == 0 || failed > 0 ? 1 : 0;
}
