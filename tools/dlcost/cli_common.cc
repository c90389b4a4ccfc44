#include "cli_common.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "dlcost/data_dir.h"
#include "dlcost/measure.h"

namespace dlcost::cli {

int Fail(const Status& s) {
  std::fprintf(stderr, "dlcost: error: %s\n", s.message().c_str());
  return ExitCodeFor(s);
}

std::vector<std::string> PossibleInputs(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--out") {
      ++i;  // its value is the output
      continue;
    }
    if (a.rfind("--out=", 0) == 0) continue;
    size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) a = a.substr(eq + 1);
    out.push_back(a);
  }
  return out;
}

Status WriteTextFile(const std::string& path, const std::string& text, const char* flag) {
  return measure::WriteFileAtomically(path, text, flag);
}

int EmitText(const std::string& text, const GlobalOptions& g) {
  if (g.out.empty()) {
    size_t n = std::fwrite(text.data(), 1, text.size(), stdout);
    if (n != text.size() || std::fflush(stdout) != 0 || std::ferror(stdout)) {
      return Fail(InvalidInput("standard output: write error (disk full or closed pipe?); the output is incomplete"));
    }
    return 0;
  }
  Status st = WriteOut(g, text);
  return st.ok() ? 0 : Fail(st);
}

Status WriteOut(const GlobalOptions& g, const std::string& text) {
  // Never over an input of the run: the same file by any name (path, ./, symlink, hard link).
  std::error_code ec;
  if (std::filesystem::exists(g.out, ec)) {
    for (const std::string& in : g.inputs) {
      std::error_code e2;
      if (std::filesystem::is_regular_file(in, e2) && std::filesystem::equivalent(g.out, in, e2)) {
        return InvalidInput(fmt::format("--out: '{}' is an input of this run ({}); give another path", g.out, in));
      }
    }
  }
  // Written to a temporary file beside it and renamed: a kill or a full disk never leaves a
  // half-written --out.
  return WriteTextFile(g.out, text, "--out");
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
