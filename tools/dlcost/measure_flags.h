// What `measure` and `calibrate` share on the command line: the device flags, the runner this
// program has (libtorch in dlcost-measure, none in dlcost) and progress lines on a terminal.
#pragma once

#include <CLI/CLI.hpp>

#include "dlcost/api_measure.h"

namespace dlcost::cli {

// Adds --device, --threads, --intra-op-threads, --dtype, --gpu, --record and, when
// `with_calibration`, --calibration.
void AddMeasureDeviceFlags(CLI::App* cmd, api::MeasureDeviceRequest& r, bool with_calibration);

// The runner of this program (null without libtorch) and progress lines on stderr when it is a
// terminal.
api::MeasureEnv MeasureEnvHere();

}  // namespace dlcost::cli
