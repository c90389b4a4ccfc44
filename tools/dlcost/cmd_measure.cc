// dlcost measure train|infer|sweep: real steps on this machine's CPU or CUDA GPU with libtorch,
// side by side with the estimator (docs/measure.md). Input is checked before anything runs, so
// bad input gets its own error even where dlcost was built without libtorch (exit 4 then).
#include "cli_common.h"
#include "measure_flags.h"

namespace dlcost::cli {
namespace {

int RunMeasureTrain(const GlobalOptions& g, const api::MeasureTrainRequest& req) {
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  Result<api::MeasureTrainResult> r = api::MeasureTrain(*session, req, MeasureEnvHere());
  if (!r.ok()) return Fail(r.status());
  return Emit(api::MeasureTrainReport(*r), g);
}

int RunMeasureInfer(const GlobalOptions& g, const api::MeasureInferRequest& req) {
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  Result<api::MeasureInferResult> r = api::MeasureInfer(*session, req, MeasureEnvHere());
  if (!r.ok()) return Fail(r.status());
  return Emit(api::MeasureInferReport(*r), g);
}

int RunMeasureSweep(const GlobalOptions& g, const api::MeasureSweepRequest& req) {
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  // A sweep takes minutes: a bad --format fails before it starts, not after.
  auto format_ok = [&g] { return report::ParseFormat(g.format).status(); };
  Result<api::MeasureSweepResult> r = api::MeasureSweep(*session, req, MeasureEnvHere(), format_ok);
  if (!r.ok()) return Fail(r.status());
  if (g.format == "json") return EmitText(api::MeasureSweepJson(*r), g);
  return Emit(api::MeasureSweepReport(*r), g);
}

}  // namespace

void RegisterMeasure(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* measure = app.add_subcommand("measure", "Measure real training and inference steps here (libtorch) against the estimator");
  measure->require_subcommand(1);

  auto* train = measure->add_subcommand("train", "Time training steps of a model's transformer blocks; compare with the estimator");
  auto ta = std::make_shared<api::MeasureTrainRequest>();
  train->add_option("--model", ta->model, "Zoo id or model JSON / config.json")->required();
  train->add_option("--layers", ta->layers, "Transformer layers to build (default: all)");
  train->add_option("--batch", ta->batch, "Sequences per step (default 1)");
  train->add_option("--seq", ta->seq, "Tokens per sequence (default 128)");
  train->add_option("--steps", ta->steps, "Timed steps (default 5)");
  train->add_option("--warmup", ta->warmup, "Untimed warm-up steps (default 2)");
  AddMeasureDeviceFlags(train, ta->device, true);
  AddOutputOptions(train, g);
  train->callback([&g, exit_code, ta] { *exit_code = RunMeasureTrain(g, *ta); });

  auto* infer = measure->add_subcommand("infer", "Time prefill and KV-cache decode steps; compare with the serving estimator");
  auto ia = std::make_shared<api::MeasureInferRequest>();
  infer->add_option("--model", ia->model, "Zoo id or model JSON / config.json")->required();
  infer->add_option("--layers", ia->layers, "Transformer layers to build (default: all)");
  infer->add_option("--batch", ia->batch, "Sequences decoded together (default 1)");
  infer->add_option("--prompt", ia->prompt, "Prompt tokens (default 128)");
  infer->add_option("--generate", ia->generate, "Tokens decoded per repetition (default 16)");
  infer->add_option("--reps", ia->reps, "Timed repetitions (default 3)");
  infer->add_option("--warmup", ia->warmup, "Untimed repetitions (default 1)");
  AddMeasureDeviceFlags(infer, ia->device, true);
  AddOutputOptions(infer, g);
  infer->callback([&g, exit_code, ia] { *exit_code = RunMeasureInfer(g, *ia); });

  auto* sweep = measure->add_subcommand("sweep", "Measure a grid of configurations and report the estimator's error");
  auto sa = std::make_shared<api::MeasureSweepRequest>();
  sweep->add_option("--grid", sa->grid, "standard (>= 10 cases) or tiny (3 small cases, for tests)")->capture_default_str();
  sweep->add_option("--steps", sa->steps, "Timed steps per case (default 5)");
  sweep->add_option("--warmup", sa->warmup, "Untimed warm-up steps per case (default 2)");
  sweep->add_option("--rounds", sa->rounds,
                    "At most this many passes over the grid (default 5): a case keeps its fastest round's median "
                    "and stops once its two fastest rounds agree within 5%");
  AddMeasureDeviceFlags(sweep, sa->device, true);
  AddOutputOptions(sweep, g);
  sweep->callback([&g, exit_code, sa] { *exit_code = RunMeasureSweep(g, *sa); });
}

}  // namespace dlcost::cli
