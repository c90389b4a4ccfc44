// The flags and the runner shared by cmd_measure.cc and cmd_calibrate.cc (measure_flags.h).
#include "measure_flags.h"

#include <unistd.h>

#include <cstdio>

#ifdef DLCOST_HAVE_TORCH
#include "dlcost/measure_runner.h"
#endif

namespace dlcost::cli {

void AddMeasureDeviceFlags(CLI::App* cmd, api::MeasureDeviceRequest& r, bool with_calibration) {
  cmd->add_option("--device", r.device, "cpu or cuda")->capture_default_str();
  cmd->add_option("--threads", r.threads, "CPU cores to use: BLAS threads (default: every CPU this process may use)");
  cmd->add_option("--intra-op-threads", r.intra_op_threads,
                  "libtorch intra-op threads (default: 1 beside OpenBLAS's own thread pool, else --threads)");
  cmd->add_option("--dtype", r.dtype, "fp32 or bf16 on the cpu (default fp32); bf16, fp16, tf32 or fp32 on cuda (default bf16)");
  if (with_calibration) {
    cmd->add_option("--calibration", r.calibration, "Profile from dlcost calibrate: predictions use its measured figures");
  }
  cmd->add_option("--gpu", r.gpu, "Catalog id of the CUDA device (default: matched from its name)");
  cmd->add_option("--record", r.record,
                  "Record raw samples and the environment under ROOT/<device>/<date>/ (e.g. validation/measured)");
}

api::MeasureEnv MeasureEnvHere() {
  api::MeasureEnv env;
#ifdef DLCOST_HAVE_TORCH
  env.runner = &measure::TorchRunner();
#endif
  env.progress = [](const std::string& s) {
    if (isatty(STDERR_FILENO) == 1) std::fprintf(stderr, "dlcost: %s\n", s.c_str());
  };
  return env;
}

}  // namespace dlcost::cli
