// Shared plumbing of the dlcost subcommands: global options, output and error handling.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "dlcost/api_session.h"
#include "dlcost/report.h"
#include "dlcost/status.h"

namespace dlcost::cli {

struct GlobalOptions {
  std::string format = "table";
  std::string out;       // file to write instead of stdout
  std::string data_dir;  // catalogs folder override
  // Every command-line word that may name an input file (all but --out's value): --out must not
  // name one of them (the same file by any path, link or hard link).
  std::vector<std::string> inputs;
  std::vector<std::string> argv;  // the command line after `dlcost` (kept with --record)
};

// The words of `argv` that may name input files: every argument except the value of --out.
std::vector<std::string> PossibleInputs(int argc, char** argv);

// Prints "dlcost: error: <message>" on stderr and returns the exit code for the status.
int Fail(const Status& s);

// Renders `r` in the chosen format to stdout or --out. Returns the process exit code.
int Emit(const report::Report& r, const GlobalOptions& g);

// Writes already-rendered `text` (exact JSON contracts) to stdout or --out; the exit code.
int EmitText(const std::string& text, const GlobalOptions& g);

// Writes `text` to the file `path` atomically (a temporary file beside it, renamed); errors name `flag`.
Status WriteTextFile(const std::string& path, const std::string& text, const char* flag);
// Writes `text` to --out atomically; InvalidInput when --out names an input of the run.
Status WriteOut(const GlobalOptions& g, const std::string& text);

// For a flag held as text in a library request but once read as a T: shows T's name in --help
// and rejects text CLI11 cannot convert to T with the message a T flag gave, so the command line
// accepts and refuses exactly what it did. Call it after the flag's other checks (they run first).
template <typename T>
CLI::Option* TypedAs(CLI::Option* opt) {
  std::string name = opt->get_name();
  opt->type_name(CLI::detail::type_name<T>());
  opt->check(CLI::Validator(
      [name](std::string& text) {
        T value{};
        if (!CLI::detail::lexical_conversion<T, T>({text}, value)) {
          throw CLI::ConversionError(name, std::vector<std::string>{text});
        }
        return std::string();
      },
      ""));
  return opt;
}

// Adds --format and --out to a subcommand.
void AddOutputOptions(CLI::App* cmd, GlobalOptions& g);

// The data folder for this run (--data-dir, $DLCOST_DATA_DIR, next to the binary, source tree).
Result<std::string> DataDir(const GlobalOptions& g);

// The library session over that folder.
Result<api::Session> OpenSession(const GlobalOptions& g);

// Each subcommand registers itself and stores its exit code in `*exit_code` when it runs.
void RegisterGpus(CLI::App& app, GlobalOptions& g, int* exit_code);
void RegisterPrices(CLI::App& app, GlobalOptions& g, int* exit_code);
void RegisterModels(CLI::App& app, GlobalOptions& g, int* exit_code);
void RegisterTrain(CLI::App& app, GlobalOptions& g, int* exit_code);
void RegisterValidate(CLI::App& app, GlobalOptions& g, int* exit_code);
void RegisterAudit(CLI::App& app, GlobalOptions& g, int* exit_code);
void RegisterPlan(CLI::App& app, GlobalOptions& g, int* exit_code);
void RegisterBudget(CLI::App& app, GlobalOptions& g, int* exit_code);
void RegisterDrift(CLI::App& app, GlobalOptions& g, int* exit_code);
void RegisterInfer(CLI::App& app, GlobalOptions& g, int* exit_code);
void RegisterTco(CLI::App& app, GlobalOptions& g, int* exit_code);
void RegisterLedger(CLI::App& app, GlobalOptions& g, int* exit_code);
// measure train|infer|sweep (cmd_measure.cc) and calibrate (cmd_calibrate.cc).
void RegisterMeasure(CLI::App& app, GlobalOptions& g, int* exit_code);
void RegisterCalibrate(CLI::App& app, GlobalOptions& g, int* exit_code);

}  // namespace dlcost::cli
