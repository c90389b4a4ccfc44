// Serving flags shared by `dlcost infer` and `dlcost tco` (model, GPU, layout, lengths, load,
// number formats, sparsity, speculative decoding, engine), bound to an api::ServeRequest.
#pragma once

#include <CLI/CLI.hpp>

#include "dlcost/api_serve.h"

namespace dlcost::cli {

void AddServeOptions(CLI::App* cmd, api::ServeRequest* f, bool require_model_gpu);

}  // namespace dlcost::cli
