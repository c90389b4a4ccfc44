// A transformer language model written directly against libtorch, built from a ModelSpec with
// the same op description as the estimator's op graph (src/perf/op_graph.cc): token (and
// learned position) embedding, pre-norm blocks with GQA attention, RoPE, a GELU, SwiGLU or
// GeGLU MLP or a top-k mixture of experts, a final norm and the LM head with cross-entropy.
//
// Internal to dlcost_measure: one of the few translation units that include <torch/torch.h>.
//
//   TorchModel m = TorchModel::Build(spec, seq, torch::kBFloat16, device);
//   torch::Tensor loss = m.Loss(tokens, targets);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "dlcost/measure.h"
#include "dlcost/model.h"

namespace dlcost::measure {

struct TorchLinear {
  torch::Tensor w;  // [out, in]
  torch::Tensor b;  // [out] or undefined
};

struct TorchNorm {
  bool layer_norm = false;
  torch::Tensor w, b;  // b undefined for RMSNorm
};

struct TorchBlock {
  TorchNorm attn_norm, mlp_norm, post_attn_norm, post_mlp_norm;  // post_* used with 4 norms
  TorchLinear q, k, v, o;
  TorchLinear gate, up, down;     // dense FFN (gate undefined for GELU)
  TorchLinear router;             // MoE only
  // One [f, h], [f, h], [h, f] tensor per expert (separate parameters, as Hugging Face's Mixtral
  // keeps them: slicing one stacked tensor would make every expert's backward write a gradient
  // of the whole stack).
  std::vector<torch::Tensor> expert_gate, expert_up, expert_down;
  TorchLinear shared_gate, shared_up, shared_down;    // shared experts (one wide FFN)
  bool moe = false;
};

// Per-layer key/value cache for decoding: [batch, kv_heads, capacity, head_dim].
struct KvCache {
  std::vector<torch::Tensor> k, v;
  int64_t length = 0;  // positions filled
};

class TorchModel {
 public:
  // Allocates the parameters (normal(0, 0.02) weights, unit norms) for `spec` in `dtype` on
  // `device`, ready for sequences up to `max_seq`. `fused_attention` selects
  // scaled_dot_product_attention where libtorch has it. Throws c10::Error on failure.
  static TorchModel Build(const ModelSpec& spec, int64_t max_seq, torch::ScalarType dtype, torch::Device device,
                          bool fused_attention);

  // Mean cross-entropy of next-token prediction; tokens and targets are [batch, seq] int64.
  torch::Tensor Loss(const torch::Tensor& tokens, const torch::Tensor& targets);
  // Logits of the last position, [batch, vocab], running `tokens` [batch, n] after the
  // positions already in `cache` (prefill when the cache is empty, decode for n = 1).
  torch::Tensor Forward(const torch::Tensor& tokens, KvCache* cache);
  KvCache NewCache(int64_t batch, int64_t capacity) const;

  std::vector<torch::Tensor>& params() { return params_; }
  const ModelSpec& spec() const { return spec_; }

  // Building blocks, public for the microbenchmarks.
  torch::Tensor Norm(const TorchNorm& n, const torch::Tensor& x) const;
  torch::Tensor Mlp(const TorchBlock& b, const torch::Tensor& x) const;
  torch::Tensor Attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, bool causal,
                          int64_t q_offset) const;
  torch::Tensor ApplyRope(const torch::Tensor& x, int64_t offset) const;  // x: [B, S, H, D]
  // Attention of a block from projected q [B, S, H, D] and k, v [B, S, KV, D] (RoPE applied),
  // appending k, v to `cache` (may be null) for `layer`; returns the context [B, S, H x D].
  torch::Tensor SelfAttention(torch::Tensor q, torch::Tensor k, torch::Tensor v, KvCache* cache, size_t layer) const;
  int64_t head_dim() const { return head_dim_; }

 private:
  torch::Tensor Block(const TorchBlock& b, torch::Tensor x, KvCache* cache, size_t layer);
  torch::Tensor Moe(const TorchBlock& b, const torch::Tensor& x) const;
  torch::Tensor Embed(const torch::Tensor& tokens, int64_t offset) const;
  torch::Tensor Head(const torch::Tensor& x) const;

  ModelSpec spec_;
  torch::ScalarType dtype_ = torch::kFloat;
  torch::Device device_ = torch::kCPU;
  bool fused_attention_ = false;
  bool causal_ = true;
  int64_t head_dim_ = 0;
  torch::Tensor wte_, wpe_, lm_head_;
  TorchNorm emb_norm_, final_norm_;
  bool has_emb_norm_ = false, has_final_norm_ = false;
  std::vector<TorchBlock> blocks_;
  torch::Tensor rope_cos_, rope_sin_;  // [max_seq, head_dim]
  std::vector<torch::Tensor> params_;
};

// The libtorch dtype for `d` (fp32, tf32 → float, bf16, fp16); throws c10::Error otherwise.
torch::ScalarType TorchDtype(Dtype d);

// One training step as the runner times it: drop the gradients, forward, cross-entropy,
// backward, AdamW. Mixed precision (bf16/fp16 parameters) keeps fp32 master weights, gradients
// and AdamW moments, as Megatron-LM does (the estimator's 18 bytes per parameter).
class AdamWStep {
 public:
  // `params` are the model's parameters; their gradients are set by backward.
  explicit AdamWStep(std::vector<torch::Tensor> params);
  void Run();

 private:
  std::vector<torch::Tensor> params_;
  bool mixed_ = false;
  std::vector<torch::Tensor> master_;
  std::unique_ptr<torch::optim::AdamW> opt_;
};

class Trainer {
 public:
  Trainer(TorchModel* model, int64_t batch, int64_t seq);
  // Runs one step and waits for the device; returns the loss.
  double Step();

 private:
  TorchModel* model_;
  AdamWStep opt_;
  torch::Tensor tokens_, targets_;
};

// The device and runner description chosen by InitRunner (torch_runner.cc).
const torch::Device& RunnerDevice();
const RunnerInfo& RunnerDescription();

// Waits until `device` has finished all queued work (no-op on the CPU).
void Sync(const torch::Device& device);

// Median seconds of `fn` (which must leave the device idle, see Sync) over at least
// `min_reps` calls and until `target_s` seconds have been spent, at most `max_reps` calls,
// after one untimed call.
double TimeMedian(const std::function<void()>& fn, int min_reps, double target_s, int max_reps);

}  // namespace dlcost::measure
