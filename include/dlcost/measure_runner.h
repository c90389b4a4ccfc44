// The libtorch runner: builds a model from its op graph with libtorch, runs and times real
// training and inference steps, and runs the calibration microbenchmarks.
//
// This header is torch-free so that the CLI compiles without libtorch; the definitions live in
// src/measure/torch_*.cc, which are built (into dlcost_measure_torch) only when libtorch is
// found, and are linked only into dlcost-measure (where DLCOST_HAVE_TORCH is defined).
//
//   DLCOST_ASSIGN_OR_RETURN(measure::RunnerInfo info, measure::InitRunner(Device::kCpu, 0));
//   DLCOST_ASSIGN_OR_RETURN(measure::StepSamples s, measure::RunTrainSteps(run, &meter));
//   api::MeasureTrain(session, request, {&measure::TorchRunner(), progress});
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dlcost/hardware.h"
#include "dlcost/measure.h"
#include "dlcost/model.h"
#include "dlcost/status.h"

namespace dlcost::measure {

// OpenBLAS's DYNAMIC_ARCH build picks its kernels when it loads and falls back to its generic
// SSE3 ("Prescott") kernels on CPUs newer than its release, several times below the vector
// units. When that happened and the user has not chosen a kernel set (OPENBLAS_CORETYPE unset),
// returns the set that matches the CPU ("SkylakeX" with AVX-512, "Haswell" with AVX2) so that
// the caller can set OPENBLAS_CORETYPE and start the program again; else "".
std::string BetterBlasKernels();

// Selects the device and the threads for every later call: `threads` BLAS threads (0: every CPU
// this process may run on) and `intra_op_threads` libtorch threads (0: 1 when the BLAS is
// OpenBLAS with its own pthreads pool, so that two pools do not fight over the same cores, as
// Debian's libtorch does by default; else `threads`). Unavailable when the device is not usable.
Result<RunnerInfo> InitRunner(Device device, int threads, int intra_op_threads = 0);

// Runs `run.warmup` untimed and `run.steps` timed forward + backward + AdamW steps; `meter`
// (may be null) is read around the timed steps.
Result<StepSamples> RunTrainSteps(const TrainRun& run, EnergyMeter* meter);

// Prefills `run.prompt` tokens and decodes `run.generate` tokens against a KV cache,
// `run.warmup` untimed and `run.reps` timed repetitions.
Result<InferSamples> RunInferSteps(const InferRun& run, EnergyMeter* meter);

// Runs the calibration microbenchmarks of `plan`; `progress` (may be empty) is called with a
// short label before each group.
Result<MicrobenchData> RunMicrobenchmarks(const MicrobenchPlan& plan, const ProgressFn& progress);

// These functions as the Runner that api::MeasureTrain and the other measure calls drive; one per
// process (libtorch's device and thread settings are global).
Runner& TorchRunner();

}  // namespace dlcost::measure
