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

#include "dlcost/hardware.h"
#include "dlcost/status.h"

namespace dlcost {

// An engine's iteration time over the kernel model's on one GPU generation (GpuGeneration:
// "hopper", "cdna3", "apple-m2" ...) from one version epoch on ("" = before the first listed epoch).
struct EngineFactor {
  std::string architecture;
  std::string from_version;
  double factor = 1;
  int64_t cases = 0;
  int64_t sources = 0;
};

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
  // The version asked for ("vllm@0.5.3" -> "0.5.3"; "" = the newest), and the versions at which
  // the engine's speed changed, each starting an epoch (ascending, with why in `sources`).
  std::string version;
  std::vector<std::string> version_epochs;
  // Iteration-time factors by GPU generation and epoch (docs/serving.md, "Engine factors"), fitted by
  // `dlcost validate inference` on the engine's published cases.
  std::vector<EngineFactor> factors;
  // > 0: use this factor (the validator's refits); 0: look it up in `factors`.
  double iteration_time_factor = 0;
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

// The epoch a version falls in: the last of `version_epochs` not after it, "" before the first;
// an empty or unparsable version is the newest epoch.
std::string EngineEpoch(const EngineProfile& e, std::string_view version);

// Compares dotted versions numerically ("0.10.0" > "0.6.6"); a non-numeric part compares as text.
int CompareVersions(std::string_view a, std::string_view b);

// The entry of `factors` for the GPU's generation and the version's epoch; null when none.
const EngineFactor* FindEngineFactor(const EngineProfile& e, const Accelerator& gpu);

// The factor an estimate on `gpu` uses: the forced one when set, else FindEngineFactor's, else 1
// (the kernel model).
double IterationTimeFactor(const EngineProfile& e, const Accelerator& gpu);

}  // namespace dlcost
