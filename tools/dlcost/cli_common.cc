#include "cli_common.h"

#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "common/data_dir.h"

namespace dlcost::cli {

int Fail(const Status& s) {
  std::fprintf(stderr, "dlcost: error: %s\n", s.message().c_str());
  return ExitCodeFor(s);
}

int Emit(const report::Report& r, const GlobalOptions& g) {
  Result<report::Format> f = report::ParseFormat(g.format);
  if (!f.ok()) return Fail(f.status());
  std::string text = report::Render(r, *f);
  if (g.out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return 0;
  }
  std::ofstream out(g.out, std::ios::binary);
  if (!out) return Fail(InvalidInput(fmt::format("--out: cannot write '{}'", g.out)));
  out << text;
  if (!out) return Fail(InvalidInput(fmt::format("--out: error writing '{}'", g.out)));
  return 0;
}

void AddOutputOptions(CLI::App* cmd, GlobalOptions& g) {
  cmd->add_option("--format", g.format, "Output format: table, json, csv, markdown, html")
      ->capture_default_str();
  cmd->add_option("--out", g.out, "Write the output to this file instead of stdout");
}

Result<std::string> DataDir(const GlobalOptions& g) { return FindDataDir(g.data_dir); }

}  // namespace dlcost::cli
