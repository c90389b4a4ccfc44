// Serving engine profiles: how an inference engine (vLLM, TensorRT-LLM, llama.cpp ...)
// schedules and holds memory, read once from data/engines/*.json (schema and sources:
// data/engines/README.md).
//
//   DLCOST_ASSIGN_OR_RETURN(std::vector<EngineProfile> engines, LoadEngines(data_dir));
//   DLCOST_ASSIGN_OR_RETURN(EngineProfile vllm, ResolveEngine(engines, "vllm@0.6"));
//   vllm.max_num_tokens   // the prefill chunk budget per iteration
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dlcost/status.h"

namespace dlcost {

// Serving software. Shipped profiles: data/engines/*.json (schema in data/engines/README.md).
struct EngineProfile {
  std::string id = "generic";
  std::string name;
  std::vector<std::string> aliases;
  bool continuous_batching = true;  // iteration-level scheduling with mixed prefill and decode
  double kv_memory_fraction = 0.9;  // share of device memory left after weights that holds the KV cache
  int64_t max_batch = 256;          // sequences in flight, engine cap
  int64_t max_num_tokens = 8192;    // tokens per iteration (prefill chunk budget)
  bool reserve_full_sequence = true;  // KV reserved for prompt + all outputs at admission
  double step_overhead_s = 0;       // host time per iteration not hidden behind the GPU
  double kernel_overhead_s = -1;    // per kernel launch; < 0: the efficiency profile's value
  double workspace_bytes = 0;       // activation workspace and engine buffers per GPU
  std::vector<std::string> sources;
  std::string notes;
};

// Reads every data_dir/engines/*.json in name order; InvalidInput naming the file and field
// when one is malformed, or when the folder is missing or holds none.
Result<std::vector<EngineProfile>> LoadEngines(const std::string& data_dir);

// An engine by id or alias (a trailing "@version" is ignored; "+..." suffixes too), or the
// "generic" profile for an empty name. Unknown names are an error listing the shipped ones.
Result<EngineProfile> ResolveEngine(const std::vector<EngineProfile>& engines, std::string_view name);

}  // namespace dlcost
