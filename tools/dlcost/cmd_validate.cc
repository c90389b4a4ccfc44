// dlcost validate training|inference FILE.csv: predicted vs measured for every case.
#include "cli_common.h"
#include "dlcost/api_validate.h"

namespace dlcost::cli {
namespace {

int RunValidate(const GlobalOptions& g, const api::ValidateRequest& a) {
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  Result<ValidationReport> v = api::Validate(*session, a);
  if (!v.ok()) return Fail(v.status());
  if (g.format == "json") return EmitText(api::ValidationJson(*v), g);
  return Emit(api::ValidationRecord(*v, a.file), g);
}

}  // namespace

void RegisterValidate(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("validate", "Predict published measured cases and report the error");
  auto a = std::make_shared<api::ValidateRequest>();
  cmd->add_option("kind", a->kind, "training or inference")->required();
  cmd->add_option("file", a->file, "Cases CSV (schema: validation/published/README.md)")->required();
  cmd->add_option("--calibration", a->calibration, "Efficiency profile JSON");
  cmd->add_flag("--no-flash", a->no_flash, "Assume unfused attention for every row (pre-2023 Megatron-LM)");
  cmd->add_flag("--compare-planner", a->compare_planner,
                "For rows that give their layout, also report the planner's fastest layout for the same GPUs and batch");
  cmd->add_option("--write-bands", a->write_bands,
                  "Write the per-regime error-band table of all predicted cases to this JSON file (training: data/bands/training.json; inference: data/bands/serving.json)");
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a] { *exit_code = RunValidate(g, *a); });
}

}  // namespace dlcost::cli
