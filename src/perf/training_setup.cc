// The choices of a training setup by their flag spellings, and the default global batch.
#include "dlcost/training_setup.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "dlcost/strings.h"

namespace dlcost {
namespace {

// Tokens per global batch used when no global batch is given: 4M tokens, the batch of the
// LLaMA papers (Touvron et al. 2023a, Table 2; 2023b, Sec. 2.2).
constexpr double kDefaultBatchTokens = 4194304.0;

}  // namespace

const char* RecomputeName(Recompute r) {
  switch (r) {
    case Recompute::kNone: return "none";
    case Recompute::kSelective: return "selective";
    case Recompute::kFull: return "full";
  }
  return "none";
}

const char* OptimizerName(Optimizer o) {
  switch (o) {
    case Optimizer::kAdamW: return "adamw";
    case Optimizer::kSgd: return "sgd";
    case Optimizer::kAdafactor: return "adafactor";
    case Optimizer::kAdam8bit: return "adam8bit";
  }
  return "adamw";
}

const char* FinetuneName(Finetune f) {
  switch (f) {
    case Finetune::kNone: return "none";
    case Finetune::kFull: return "full";
    case Finetune::kLora: return "lora";
    case Finetune::kQlora: return "qlora";
  }
  return "none";
}

Result<Recompute> ParseRecompute(const std::string& s) {
  std::string t = ToLower(s);
  if (t == "none" || t == "off") return Recompute::kNone;
  if (t == "selective") return Recompute::kSelective;
  if (t == "full") return Recompute::kFull;
  return InvalidInput(fmt::format("--recompute: unknown value '{}' (none, selective, full)", ForMessage(s)));
}

Result<Optimizer> ParseOptimizer(const std::string& s) {
  std::string t = ToLower(s);
  if (t == "adamw" || t == "adam") return Optimizer::kAdamW;
  if (t == "sgd") return Optimizer::kSgd;
  if (t == "adafactor") return Optimizer::kAdafactor;
  if (t == "adam8bit" || t == "adamw8bit" || t == "8bit-adam") return Optimizer::kAdam8bit;
  return InvalidInput(fmt::format("--optimizer: unknown optimizer '{}' (adamw, sgd, adafactor, adam8bit)", ForMessage(s)));
}

Result<Finetune> ParseFinetune(const std::string& s) {
  std::string t = ToLower(s);
  if (t == "none" || t == "pretrain") return Finetune::kNone;
  if (t == "full") return Finetune::kFull;
  if (t == "lora") return Finetune::kLora;
  if (t == "qlora") return Finetune::kQlora;
  return InvalidInput(fmt::format("--finetune: unknown method '{}' (full, lora, qlora)", ForMessage(s)));
}

namespace {

// Spellings of each enum value in enum order; the first is the canonical name.
constexpr const char* kFrameworkNames[] = {"megatron-lm", "nemo", "torchtitan", "deepspeed", "pytorch-fsdp", "torchtune",
                                           "unsloth", "transformers", "maxtext", "llm.c", "nanogpt", "other"};
constexpr const char* kKernelNames[] = {"eager", "sdpa", "flash1", "flash2", "flash3", "cudnn", "ck", "other"};
constexpr const char* kLoraTargetNames[] = {"all", "attention", "mlp"};

template <typename E, size_t N>
Result<E> ParseNamed(const std::string& s, const std::string& what, const char* const (&names)[N], const char* noun) {
  std::string t = ToLower(std::string(TrimView(s)));
  for (size_t i = 0; i < N; ++i) {
    if (t == names[i]) return static_cast<E>(i);
  }
  std::string accepted;
  for (size_t i = 0; i < N; ++i) accepted += (i ? ", " : "") + std::string(names[i]);
  return InvalidInput(fmt::format("{}: unknown {} '{}' (accepted: {})", what, noun, ForMessage(s), accepted));
}

}  // namespace

const char* FrameworkName(Framework f) { return kFrameworkNames[static_cast<int>(f)]; }
const char* AttentionKernelName(AttentionKernel k) { return kKernelNames[static_cast<int>(k)]; }
const char* LoraTargetsName(LoraTargets t) { return kLoraTargetNames[static_cast<int>(t)]; }

std::optional<Recompute> FrameworkDefaultRecompute(Framework f) {
  if (f == Framework::kTorchtune) return Recompute::kFull;
  return std::nullopt;
}

Result<Framework> ParseFramework(const std::string& s, const std::string& what) {
  return ParseNamed<Framework>(s, what, kFrameworkNames, "framework");
}
Result<AttentionKernel> ParseAttentionKernel(const std::string& s, const std::string& what) {
  return ParseNamed<AttentionKernel>(s, what, kKernelNames, "attention kernel");
}
Result<LoraTargets> ParseLoraTargets(const std::string& s, const std::string& what) {
  return ParseNamed<LoraTargets>(s, what, kLoraTargetNames, "LoRA target set");
}

Result<Overlap> ParseOverlap(const std::string& s, const std::string& what) {
  Overlap o;
  std::string t = ToLower(std::string(TrimView(s)));
  o.dp = false;
  o.tp = false;
  o.ep = false;
  if (t == "none") return o;
  for (const std::string& part : Split(t, '+')) {
    std::string p(TrimView(part));
    if (p == "dp") o.dp = true;
    else if (p == "tp") o.tp = true;
    else if (p == "ep") o.ep = true;
    else if (p != "pp" && p != "cp") {
      return InvalidInput(fmt::format("{}: unknown overlap '{}' (none, or dp, tp, pp, cp, ep joined with '+')", what, ForMessage(s)));
    }
  }
  return o;
}

Result<Offload> ParseOffload(const std::string& s, const std::string& what) {
  Offload o;
  std::string t = ToLower(std::string(TrimView(s)));
  if (t == "none") return o;
  for (const std::string& part : Split(t, '+')) {
    std::string p(TrimView(part));
    if (p == "optimizer") o.optimizer = true;
    else if (p == "params") o.params = o.optimizer = true;
    else if (p == "activations") o.activations = true;
    else {
      return InvalidInput(fmt::format("{}: unknown offload '{}' (none, or optimizer, params, activations joined with '+')",
                                      what, ForMessage(s)));
    }
  }
  return o;
}

std::string OffloadName(const Offload& o) {
  std::string out;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!out.empty()) out += '+';
    out += name;
  };
  add(o.optimizer && !o.params, "optimizer");
  add(o.params, "params");
  add(o.activations, "activations");
  return out.empty() ? "none" : out;
}

int64_t DefaultGlobalBatch(bool language_model, double tokens_per_sample, int64_t unit) {
  unit = std::max<int64_t>(1, unit);
  double target = language_model ? kDefaultBatchTokens / std::max(1.0, tokens_per_sample) : 256.0;
  return std::max<int64_t>(unit, static_cast<int64_t>(std::llround(target / static_cast<double>(unit))) * unit);
}

}  // namespace dlcost
