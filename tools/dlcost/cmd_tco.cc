// dlcost tco: training vs serving cost over a model's life, month by month, and the break-even
// month of each serving optimization.
#include "cli_common.h"
#include "cost_flags.h"
#include "dlcost/api_serve.h"
#include "record_flags.h"
#include "serve_flags.h"

namespace dlcost::cli {
namespace {

int RunTco(const GlobalOptions& g, const api::TcoRequest& a, const RecordOptions& rec) {
  if (Status st = CheckRecordOptions(rec); !st.ok()) return Fail(st);
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  Result<api::TcoResult> r = api::Tco(*session, a);
  if (!r.ok()) return Fail(r.status());
  report::Report rep = api::TcoReport(*r);
  return EmitRecorded(g, rec, "tco", report::Render(rep, report::Format::kJson), &rep);
}

}  // namespace

void RegisterTco(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("tco", "Training vs serving cost over months, and when each serving optimization pays off");
  auto a = std::make_shared<api::TcoRequest>();
  AddServeOptions(cmd, &a->serve, true);
  AddCostOptions(cmd, &a->cost);
  cmd->add_option("--months", a->months, "Months of serving")->capture_default_str();
  cmd->add_option("--growth-pct", a->growth_pct, "Traffic growth per month, %")->capture_default_str();
  cmd->add_option("--train-tokens", a->train_tokens, "Tokens the model is trained on (training estimator)");
  cmd->add_option("--train-gpu", a->train_gpu, "Training GPU (default: the serving GPU)");
  cmd->add_option("--train-gpus", a->train_gpus, "Training GPUs")->capture_default_str();
  cmd->add_option("--train-price-usd-per-gpu-hour", a->train_price, "Training price (default: cheapest shipped offer)");
  cmd->add_option("--train-usd", a->train_usd, "Known training cost in USD (instead of --train-tokens)");
  auto rec = std::make_shared<RecordOptions>();
  AddRecordOptions(cmd, rec.get());
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a, rec] { *exit_code = RunTco(g, *a, *rec); });
}

}  // namespace dlcost::cli
