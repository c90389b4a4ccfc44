// How a model is trained: the training job (GPUs, sequence, batch, precision, optimizer,
// fine-tuning method) and the parallel layout it runs under, with the flag spellings of the
// choices. The model (model.h) and the system (system.h) are the other two inputs of an estimate.
//
//   TrainingSetup s;
//   s.num_gpus = 64; s.seq_len = 8192;
//   DLCOST_ASSIGN_OR_RETURN(s.recompute, ParseRecompute("selective"));
//   s.tp = 8;                    // layout fields left empty take defaults or are searched
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dlcost/hardware.h"
#include "dlcost/status.h"

namespace dlcost {

enum class Recompute { kNone, kSelective, kFull };
enum class Optimizer { kAdamW, kSgd, kAdafactor, kAdam8bit };
enum class Finetune { kNone, kFull, kLora, kQlora };

// The flag spelling of each choice ("selective", "adamw", "qlora").
const char* RecomputeName(Recompute r);
const char* OptimizerName(Optimizer o);
const char* FinetuneName(Finetune f);
// A choice from its flag spelling (case-insensitive, with a few aliases such as "adam" and
// "off"); InvalidInput naming the flag and the accepted values otherwise.
Result<Recompute> ParseRecompute(const std::string& s);
Result<Optimizer> ParseOptimizer(const std::string& s);
Result<Finetune> ParseFinetune(const std::string& s);

// The training job. Optional layout fields left empty take defaults (ResolveLayout) or are
// searched (EstimateWithChosenLayout in plan.h).
struct TrainingSetup {
  int64_t num_gpus = 0;
  int64_t seq_len = 0;
  std::optional<int64_t> global_batch;  // sequences per optimizer step
  std::optional<int64_t> micro_batch;
  std::optional<int64_t> tp, pp, dp, cp, ep, vpp;
  std::optional<int> zero;                 // 0..3
  std::optional<bool> seq_parallel;
  std::optional<Recompute> recompute;
  Dtype precision = Dtype::kBf16;
  Optimizer optimizer = Optimizer::kAdamW;
  Finetune finetune = Finetune::kNone;
  int64_t lora_rank = 16;
  bool flash_attention = true;
  std::optional<bool> dropout;             // default: on for GELU (GPT-style) models
  double grad_bytes = 4;                   // gradient buffer bytes per param (fp32 main grads)
  double overhead_bytes = 0;               // framework overhead; <0 means the default term
  double moe_capacity_factor = 1.0;        // expert slots per routed token (1: dropless, balanced)
};

// A complete parallel layout: every degree, the batch split and the memory-saving choices.
struct Layout {
  int64_t tp = 1, pp = 1, dp = 1, cp = 1, ep = 1, vpp = 1;
  int64_t micro_batch = 1, global_batch = 1, microbatches = 1;
  int zero = 0;
  bool seq_parallel = false;
  Recompute recompute = Recompute::kNone;
};

// The global batch used when none is given: the multiple of `unit` (dp x micro-batch) nearest
// to 4M tokens for language models (the LLaMA papers' batch), 256 samples otherwise.
int64_t DefaultGlobalBatch(bool language_model, double tokens_per_sample, int64_t unit);

}  // namespace dlcost
