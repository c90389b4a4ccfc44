// dlcost models: the model zoo. dlcost model NAME|FILE: parameters, FLOPs and the per-layer
// breakdown of one architecture.
#include "cli_common.h"
#include "dlcost/api_catalog.h"

namespace dlcost::cli {
namespace {

int RunModels(const GlobalOptions& g) {
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  Result<report::Report> r = api::ModelsReport(*session);
  return r.ok() ? Emit(*r, g) : Fail(r.status());
}

int RunModel(const GlobalOptions& g, const api::ModelRequest& a) {
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  Result<report::Report> r = api::ModelReport(*session, a);
  return r.ok() ? Emit(*r, g) : Fail(r.status());
}

}  // namespace

void RegisterModels(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* list = app.add_subcommand("models", "List the model zoo with computed and published parameter counts");
  AddOutputOptions(list, g);
  list->callback([&g, exit_code] { *exit_code = RunModels(g); });

  auto* one = app.add_subcommand("model", "Show one model: parameters, FLOPs, per-layer breakdown");
  auto a = std::make_shared<api::ModelRequest>();
  one->add_option("name", a->name, "Zoo id or alias, a dlcost model JSON, or a Hugging Face config.json")->required();
  one->add_option("--seq", a->seq, "Sequence length for the attention FLOPs (default: max_seq, at most 4096)");
  one->add_flag("--ops", a->ops, "Also list every operation of each layer group");
  AddOutputOptions(one, g);
  one->callback([&g, exit_code, a] { *exit_code = RunModel(g, *a); });
}

}  // namespace dlcost::cli
