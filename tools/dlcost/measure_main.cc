// dlcost-measure: the libtorch half of dlcost (measure train|infer|sweep, calibrate).
// It is a separate program so that the rest of dlcost never loads libtorch: `dlcost measure ...`
// and `dlcost calibrate ...` hand their arguments to this program (see main.cc), and the other
// commands start in milliseconds. Run on its own it behaves exactly like those two commands.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "dlcost/measure_runner.h"

int main(int argc, char** argv) {
  using namespace dlcost::cli;
  // OpenBLAS chose its kernels when it loaded, before main: if it fell back to its generic ones
  // on this CPU, start again with the CPU's own (docs/measure.md, "OpenBLAS kernels").
  std::string kernels = dlcost::measure::BetterBlasKernels();
  if (!kernels.empty()) {  // empty after the restart: OPENBLAS_CORETYPE is set then
    setenv("OPENBLAS_CORETYPE", kernels.c_str(), 1);
    setenv("DLCOST_CHOSE_OPENBLAS_CORETYPE", kernels.c_str(), 1);
    std::fflush(nullptr);
    execv("/proc/self/exe", argv);
    std::fprintf(stderr, "dlcost: warning: could not restart with OPENBLAS_CORETYPE=%s\n", kernels.c_str());
  }
  CLI::App app{"dlcost measure / calibrate: real steps and microbenchmarks with libtorch.\n"
               "Exit codes: 0 ok, 1 bad input or data, 2 usage, 3 infeasible, 4 unavailable."};
  app.name("dlcost");
  app.set_version_flag("--version", "dlcost 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions g;
  app.add_option("--data-dir", g.data_dir, "Folder with the catalogs (default: the shipped data/)");
  int exit_code = 0;
  RegisterMeasure(app, g, &exit_code);
  RegisterCalibrate(app, g, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "dlcost: usage error: %s\n", e.what());
    std::fprintf(stderr, "Run 'dlcost --help' or 'dlcost <command> --help'.\n");
    return 2;
  }
  return exit_code;
}
