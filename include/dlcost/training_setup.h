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
#include <vector>

#include "dlcost/hardware.h"
#include "dlcost/status.h"

namespace dlcost {

enum class Recompute { kNone, kSelective, kFull };
enum class Optimizer { kAdamW, kSgd, kAdafactor, kAdam8bit };
enum class Finetune { kNone, kFull, kLora, kQlora };
// The training framework: it decides defaults the row or the flags leave open (the attention
// kernel, docs/training.md "Frameworks and attention kernels").
enum class Framework { kMegatron, kNemo, kTorchtitan, kDeepspeed, kPytorchFsdp, kTorchtune, kUnsloth, kTransformers,
                       kMaxtext, kLlmc, kNanogpt, kOther };
// The attention kernel: eager is the unfused score matrix; the others are fused (flash-style)
// kernels whose efficiency per GPU generation comes from the efficiency profile.
enum class AttentionKernel { kEager, kSdpa, kFlash1, kFlash2, kFlash3, kCudnn, kCk, kOther };
inline constexpr int kNumAttentionKernels = 8;
// Which projections of a transformer block carry LoRA adapters.
enum class LoraTargets { kAll, kAttention, kMlp };

// The flag spelling of each choice ("selective", "adamw", "qlora").
const char* RecomputeName(Recompute r);
const char* OptimizerName(Optimizer o);
const char* FinetuneName(Finetune f);
const char* FrameworkName(Framework f);
const char* AttentionKernelName(AttentionKernel k);
const char* LoraTargetsName(LoraTargets t);
// A choice from its flag spelling (case-insensitive, with a few aliases such as "adam" and
// "off"); InvalidInput naming the flag and the accepted values otherwise.
Result<Recompute> ParseRecompute(const std::string& s);
Result<Optimizer> ParseOptimizer(const std::string& s);
Result<Finetune> ParseFinetune(const std::string& s);

// Fine-tuning defaults shared by train, plan and budget (a dlcost assumption, stated in their
// output): sequences of at most 4,096 tokens and 256K tokens per optimizer step, far below
// pre-training's ~4M-token batches, at least one sequence.
constexpr int64_t kFinetuneSeqLen = 4096;
constexpr int64_t kFinetuneBatchTokens = 262144;
inline int64_t DefaultFinetuneGlobalBatch(int64_t seq_len) {
  return seq_len >= kFinetuneBatchTokens ? 1 : kFinetuneBatchTokens / (seq_len > 0 ? seq_len : 1);
}
// The sequence length assumed when none is given (train, plan, tco, audit waste and the
// validator's rows without seq_len): the model's context, at most 8,192 tokens (kFinetuneSeqLen
// when fine-tuning), or 2,048 when the model states no context (a dlcost assumption).
constexpr int64_t kPretrainSeqLenCap = 8192;
inline int64_t DefaultSeqLen(int64_t model_max_seq, bool finetune) {
  int64_t cap = finetune ? kFinetuneSeqLen : kPretrainSeqLenCap;
  return model_max_seq > 0 ? (model_max_seq < cap ? model_max_seq : cap) : 2048;
}
// `what` names the flag or column in the error ("--framework", "framework").
Result<Framework> ParseFramework(const std::string& s, const std::string& what);
// The activation recomputation a framework's shipped configurations turn on, used where the flags
// or the case row leave it open: torchtune's recipe configs set enable_activation_checkpointing:
// True (every block; e.g. recipes/configs/llama3_1/8B_qlora_single_device.yaml). Empty where the
// framework has no one default (the tool then chooses).
std::optional<Recompute> FrameworkDefaultRecompute(Framework f);
Result<AttentionKernel> ParseAttentionKernel(const std::string& s, const std::string& what);
Result<LoraTargets> ParseLoraTargets(const std::string& s, const std::string& what);

// Communication overlapped with compute: data-parallel (gradient reduction, FSDP gathers),
// tensor-parallel collectives and expert all-to-alls. Empty fields: the estimator's defaults (dp
// overlapped; tp only under NeMo, whose performance recipes overlap it; ep not).
struct Overlap {
  std::optional<bool> dp, tp, ep;
};
// "none", or dp, tp, pp, cp, ep joined with '+' ("dp+tp"); pp and cp are accepted and change
// nothing (pipeline sends and the context-parallel ring are always modelled overlapped); ep
// overlaps the expert all-to-alls with compute (off unless named). InvalidInput naming `what`
// otherwise.
Result<Overlap> ParseOverlap(const std::string& s, const std::string& what);

// Training state kept in host memory instead of on the GPU (--offload): the optimizer states and
// the optimizer step on the CPU, gradients sent to the host as the backward pass makes them
// (DeepSpeed ZeRO-Offload, Ren et al. 2021); the weights too, fetched layer by layer (PyTorch FSDP
// CPUOffload(offload_params=True), DeepSpeed ZeRO-3 offload_param; implies the optimizer); the
// saved activations, copied out after the forward pass and back for the backward pass (torchtune's
// enable_activation_offloading).
struct Offload {
  bool optimizer = false, params = false, activations = false;
  bool Any() const { return optimizer || params || activations; }
};
// "none", or optimizer, params, activations joined with '+' ("params+activations"); params turns
// optimizer on. InvalidInput naming `what` otherwise.
Result<Offload> ParseOffload(const std::string& s, const std::string& what);
// The flag spelling: "none" or the parts joined with '+'.
std::string OffloadName(const Offload& o);

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
  LoraTargets lora_targets = LoraTargets::kAll;
  bool flash_attention = true;             // false: unfused attention (also AttentionKernel::kEager)
  std::optional<AttentionKernel> attention_kernel;  // empty: the framework's, else the profile's fused default
  std::optional<Framework> framework;
  Overlap overlap;
  Offload offload;
  // torch.compile on the model (--compile; the case's `compile` column): the eager PyTorch
  // frameworks' elementwise operators are fused. Empty: the framework's default (eager).
  std::optional<bool> compiled;
  // The optimizer steps each parameter as soon as its gradient exists (torchtune's
  // optimizer_in_bwd): no whole-model gradient buffer, one layer's gradients at a time.
  bool optimizer_in_backward = false;
  // FSDP/ZeRO-3 hybrid sharding (HSDP): weights are sharded over groups of this many
  // data-parallel ranks and replicated across groups; 0 = shard over the whole dp group.
  int64_t shard_group = 0;
  // Transformer layers per pipeline rank (pp entries) or per virtual stage (pp x vpp entries,
  // rank r holding stages r, r + pp, ...); empty: spread as evenly as the layers allow.
  std::vector<int64_t> pp_layers;
  std::optional<bool> dropout;             // default: on for GELU (GPT-style) models
  double grad_bytes = 4;                   // gradient buffer bytes per param (fp32 main grads)
  double overhead_bytes = 0;               // framework overhead; <0 means the default term
  double memory_headroom_bytes = 0;        // kept free per GPU (--memory-headroom): fits needs total + it <= capacity
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
