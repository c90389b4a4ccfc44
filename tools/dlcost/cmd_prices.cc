// dlcost prices [GPU] [--vms FILE]: offers for a GPU, cheapest first.
#include "cli_common.h"
#include "dlcost/api_catalog.h"

namespace dlcost::cli {
namespace {

int RunPrices(const GlobalOptions& g, const api::PricesRequest& a) {
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  Result<report::Report> r = api::PricesReport(*session, a);
  return r.ok() ? Emit(*r, g) : Fail(r.status());
}

}  // namespace

void RegisterPrices(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("prices", "List cloud offers for a GPU, cheapest $/GPU-hour first");
  auto a = std::make_shared<api::PricesRequest>();
  cmd->add_option("gpu", a->gpu, "GPU id or alias (all GPUs when omitted)");
  cmd->add_option("--vms", a->vms, "A SkyPilot-style vms.csv to read instead of the shipped snapshot");
  cmd->add_option("--provider", a->provider, "Provider label for --vms offers (default: from the path)");
  cmd->add_option("--top", a->top, "Show only the N cheapest offers")->check(CLI::Range(1, 1000000));
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a] { *exit_code = RunPrices(g, *a); });
}

}  // namespace dlcost::cli
