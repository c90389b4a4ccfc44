#include "cli_common.h"

#include <cstdio>
#include <fstream>

#include <fmt/format.h>

#include "dlcost/data_dir.h"
#include "dlcost/measure.h"

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

std::string CalibrationNote(const std::string& path, const std::string& target) {
  if (path.empty()) return "";
  Result<measure::MeasuredDevice> md = measure::LoadMeasuredDevice(path);
  if (!md.ok()) return "";
  std::string peaks;
  for (int i = 0; i < kNumDtypes; ++i) {
    if (!md->peak_flops[i]) continue;
    peaks += fmt::format("{}{} {:.3g} TFLOP/s", peaks.empty() ? "" : ", ", DtypeName(static_cast<Dtype>(i)),
                         *md->peak_flops[i] / 1e12);
  }
  return fmt::format("calibration profile {} was measured on {} ({} threads; best GEMM {}; copy bandwidth {:.1f} GB/s): "
                     "its efficiency curves, memory fractions, AdamW and attention figures and overheads are applied to the "
                     "catalog peaks of {}; "
                     "dlcost measure --calibration predicts with the measured peaks themselves",
                     path, md->name.empty() ? "an unnamed device" : md->name, md->threads, peaks.empty() ? "-" : peaks,
                     md->memory_bandwidth_bytes_s / 1e9, target);
}

}  // namespace dlcost::cli
