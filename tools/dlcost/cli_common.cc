#include "cli_common.h"

#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "dlcost/data_dir.h"

namespace dlcost::cli {

int Fail(const Status& s) {
  std::fprintf(stderr, "dlcost: error: %s\n", s.message().c_str());
  return ExitCodeFor(s);
}

Status WriteTextFile(const std::string& path, const std::string& text, const char* flag) {
  std::ofstream out(path, std::ios::binary);
  if (!out) return InvalidInput(fmt::format("{}: cannot write '{}'", flag, path));
  out << text;
  out.close();
  if (!out) return InvalidInput(fmt::format("{}: error writing '{}'", flag, path));
  return Status::Ok();
}

int EmitText(const std::string& text, const GlobalOptions& g) {
  if (g.out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return 0;
  }
  Status st = WriteTextFile(g.out, text, "--out");
  return st.ok() ? 0 : Fail(st);
}

int Emit(const report::Report& r, const GlobalOptions& g) {
  Result<report::Format> f = report::ParseFormat(g.format);
  if (!f.ok()) return Fail(f.status());
  return EmitText(report::Render(r, *f), g);
}

void AddOutputOptions(CLI::App* cmd, GlobalOptions& g) {
  cmd->add_option("--format", g.format, "Output format: table, json, csv, markdown, html")
      ->capture_default_str();
  cmd->add_option("--out", g.out, "Write the output to this file instead of stdout");
}

Result<std::string> DataDir(const GlobalOptions& g) { return FindDataDir(g.data_dir); }

Result<api::Session> OpenSession(const GlobalOptions& g) { return api::Session::Open(g.data_dir); }

}  // namespace dlcost::cli
