// dlcost calibrate: microbenchmarks of this device fitted into an efficiency profile for the
// estimator (docs/measure.md, "Calibration microbenchmarks" and "Fit").
#include "cli_common.h"
#include "measure_flags.h"

namespace dlcost::cli {
namespace {

int RunCalibrate(const GlobalOptions& g, const api::CalibrateRequest& req) {
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  Result<api::CalibrateResult> r = api::Calibrate(*session, req, MeasureEnvHere());
  if (!r.ok()) return Fail(r.status());
  return Emit(api::CalibrateReport(*r), g);
}

}  // namespace

void RegisterCalibrate(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cal = app.add_subcommand("calibrate", "Microbenchmark this device and fit an efficiency profile for the estimator");
  auto ca = std::make_shared<api::CalibrateRequest>();
  cal->add_option("--out", ca->out, "Profile JSON to write (complete or untouched)")->required();
  cal->add_flag("--quick", ca->quick, "Fewer shapes and shorter timings (under 2 minutes on 2 CPU cores)");
  cal->add_option("--dtypes", ca->dtypes, "Precisions to measure (default: fp32,bf16 on the cpu; bf16,fp16,tf32 on cuda)");
  cal->add_option("--id", ca->id, "Profile id (default calibrated-<device>)");
  cal->add_option("--device", ca->device.device, "cpu or cuda")->capture_default_str();
  cal->add_option("--threads", ca->device.threads, "CPU cores to use: BLAS threads (default: every CPU this process may use)");
  cal->add_option("--intra-op-threads", ca->device.intra_op_threads,
                  "libtorch intra-op threads (default: 1 beside OpenBLAS's own thread pool, else --threads)");
  cal->add_option("--gpu", ca->device.gpu, "Catalog id of the CUDA device (default: matched from its name)");
  cal->add_option("--record", ca->device.record, "Record raw samples and the environment under ROOT/<device>/<date>/");
  cal->add_option("--format", g.format, "Output format: table, json, csv, markdown, html")->capture_default_str();
  cal->callback([&g, exit_code, ca] { *exit_code = RunCalibrate(g, *ca); });
}

}  // namespace dlcost::cli
