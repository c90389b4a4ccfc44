// dlcost: what deep-learning work will cost, before and after paying for it.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli_common.h"
#include "config_layer.h"
#include "dlcost/api_catalog.h"
#include "dlcost/api_session.h"
#include "dlcost_commit.h"

namespace {

// `measure` and `calibrate` run in dlcost-measure, the program beside this one that links
// libtorch (CMakeLists.txt): loading libtorch costs every process over half a second, so the
// other commands must not pay for it. Returns only when there is no helper to hand over to (a
// build without libtorch), and then this program's own measure commands check the input and
// exit 4.
void HandOverMeasure(int argc, char** argv) {
  bool measure = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--data-dir") {
      ++i;
      continue;
    }
    if (arg.empty() || arg[0] == '-') continue;
    measure = arg == "measure" || arg == "calibrate";
    break;
  }
  if (!measure) return;
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return;
  std::string helper = (exe.parent_path() / "dlcost-measure").string();
  if (access(helper.c_str(), X_OK) != 0) return;
  std::fflush(nullptr);
  char* self = argv[0];
  argv[0] = helper.data();
  execv(helper.c_str(), argv);
  argv[0] = self;
  std::fprintf(stderr, "dlcost: warning: could not start %s; running without libtorch\n", helper.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  using namespace dlcost::cli;
  HandOverMeasure(argc, argv);
  CLI::App app{"dlcost: estimate and check the cost of deep-learning training and serving\n"
               "(GPU-hours, wall time, dollars, energy, CO2). Exit codes: 0 ok, 1 bad input or data,\n"
               "2 usage, 3 infeasible, 4 unavailable, 5 a check failed (drift detected; audit leakage --fail-on)."};
  app.name("dlcost");
  // The version, the commit and the shipped data's snapshot dates (api::VersionText).
  app.set_version_flag("--version", std::function<std::string()>([] {
    dlcost::Result<dlcost::api::Session> s = dlcost::api::Session::Open("");
    if (!s.ok()) return fmt::format("dlcost {} (commit {})\ndata: {}", DLCOST_VERSION, DLCOST_COMMIT, s.status().message());
    std::string text = dlcost::api::VersionText(*s, DLCOST_VERSION, DLCOST_COMMIT);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }));
  app.require_subcommand(1);
  app.fallthrough();
  GlobalOptions g;
  app.add_option("--data-dir", g.data_dir, "Folder with the catalogs (default: the shipped data/)");
  int exit_code = 0;
  RegisterGpus(app, g, &exit_code);
  RegisterPrices(app, g, &exit_code);
  RegisterModels(app, g, &exit_code);
  RegisterTrain(app, g, &exit_code);
  RegisterValidate(app, g, &exit_code);
  RegisterAudit(app, g, &exit_code);
  RegisterPlan(app, g, &exit_code);
  RegisterBudget(app, g, &exit_code);
  RegisterDrift(app, g, &exit_code);
  RegisterInfer(app, g, &exit_code);
  RegisterTco(app, g, &exit_code);
  RegisterLedger(app, g, &exit_code);
  RegisterMeasure(app, g, &exit_code);
  RegisterCalibrate(app, g, &exit_code);
  // Defaults from ./dlcost.json, the user's config.json and DLCOST_<OPTION> variables become
  // arguments, after the ones given (config_layer.h).
  std::vector<std::string> args(argv + 1, argv + argc);
  if (dlcost::Status cs = ApplyConfigDefaults(app, args); !cs.ok()) {
    std::fprintf(stderr, "dlcost: error: %s\n", cs.message().c_str());
    return 1;
  }
  args.insert(args.begin(), argv[0]);
  std::vector<char*> full_argv;
  for (std::string& a : args) full_argv.push_back(a.data());
  full_argv.push_back(nullptr);
  argc = static_cast<int>(args.size());
  argv = full_argv.data();
  g.inputs = PossibleInputs(argc, argv);
  g.argv.assign(argv + 1, argv + argc);
  // Name an unknown command instead of CLI11's generic "a subcommand is required".
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--data-dir") {
      ++i;
      continue;
    }
    if (arg.empty() || arg[0] == '-') continue;
    bool known = false;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      known = known || sub->get_name() == arg;
    }
    if (!known) {
      std::string names;
      for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
        names += (names.empty() ? "" : ", ") + sub->get_name();
      }
      std::fprintf(stderr, "dlcost: usage error: unknown command '%s' (commands: %s)\n", arg.c_str(), names.c_str());
      return 2;
    }
    break;
  }
  // An option given an empty value ("--tp ''" or "--tp=") is a mistake, never "not given".
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool empty_after_flag = arg.empty() && i > 1 && argv[i - 1][0] == '-' && argv[i - 1][1] == '-';
    bool empty_inline = arg.rfind("--", 0) == 0 && !arg.empty() && arg.back() == '=';
    if (empty_after_flag || empty_inline) {
      std::string flag = empty_inline ? arg.substr(0, arg.size() - 1) : std::string(argv[i - 1]);
      std::fprintf(stderr, "dlcost: usage error: %s: empty value (leave the option out to use its default)\n",
                   flag.c_str());
      return 2;
    }
  }
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
