// dlcost: what deep-learning work will cost, before and after paying for it.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "cli_common.h"

int main(int argc, char** argv) {
  using namespace dlcost::cli;
  CLI::App app{"dlcost: estimate and check the cost of deep-learning training and serving\n"
               "(GPU-hours, wall time, dollars, energy, CO2). Exit codes: 0 ok, 1 bad input or data,\n"
               "2 usage, 3 infeasible, 4 unavailable."};
  app.name("dlcost");
  app.set_version_flag("--version", "dlcost 0.1.0");
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
