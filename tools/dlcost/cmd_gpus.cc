// dlcost gpus [NAME]: the hardware catalog.
#include "cli_common.h"
#include "dlcost/api_catalog.h"

namespace dlcost::cli {
namespace {

int RunGpus(const GlobalOptions& g, const std::string& name) {
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  Result<report::Report> r = api::GpusReport(*session, name);
  return r.ok() ? Emit(*r, g) : Fail(r.status());
}

}  // namespace

void RegisterGpus(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("gpus", "List the accelerators in the hardware catalog, or show one");
  auto name = std::make_shared<std::string>();
  cmd->add_option("name", *name, "GPU id, alias or JSON file to show in detail");
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, name] { *exit_code = RunGpus(g, *name); });
}

}  // namespace dlcost::cli
