// A transformer language model written directly against libtorch and built from the
// estimator's op graph (include/dlcost/op_graph.h): one torch module per op-graph layer kind
// (the embedding group, a transformer layer, the head) holding one torch module per op entry
// (a linear layer, a norm, an embedding table, attention, routed experts), each keeping the
// entry it was built from (OpRef). So every operation the runner times has exactly one
// counterpart that the estimator charges, and a model the graph describes differently cannot
// be built silently: an entry without a module, or two entries for one module, is an error.
// What the graph does not list (RoPE, the FFN activation, residual adds, the loss) is the glue
// between the modules: perf::LayerElementwiseOf charges it.
//
// Internal to dlcost_measure_torch: one of the few translation units that include <torch/torch.h>.
//
//   TorchModel m = TorchModel::Build(spec, seq, torch::kBFloat16, device, false);
//   torch::Tensor loss = m.Loss(tokens, targets);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "dlcost/measure.h"
#include "dlcost/model.h"
#include "dlcost/op_graph.h"

namespace dlcost::measure {

// The op-graph entry a module was built from: graph.groups[group].ops[op].
struct OpRef {
  size_t group = 0;
  size_t op = 0;
};

// OpKind::kGemm and kRouter: y = x W^T + b.
struct TorchLinear {
  OpRef ref;
  torch::Tensor w;  // [out, in]
  torch::Tensor b;  // [out] or undefined
  bool defined() const { return w.defined(); }
  torch::Tensor Forward(const torch::Tensor& x) const { return torch::linear(x, w, b); }
};

// OpKind::kNorm: LayerNorm (with a bias) or RMSNorm.
struct TorchNorm {
  OpRef ref;
  bool layer_norm = false;
  torch::Tensor w, b;  // b undefined for RMSNorm
  bool defined() const { return w.defined(); }
  torch::Tensor Forward(const torch::Tensor& x) const;
};

// OpKind::kEmbedding: a table of [rows, width].
struct TorchEmbedding {
  OpRef ref;
  torch::Tensor table;
  bool defined() const { return table.defined(); }
};

// OpKind::kAttention: scores and weighted values of `heads` query heads over `kv_heads`
// key/value heads (grouped-query attention repeats them), scaled dot-product.
struct TorchAttention {
  OpRef ref;
  int64_t heads = 0, kv_heads = 0, head_dim = 0;
  bool causal = true;
  bool fused = false;  // scaled_dot_product_attention where libtorch has it
  torch::Device device = torch::kCPU;
  bool defined() const { return heads > 0; }
  // q [B, H, Sq, D], k and v [B, KV, Sk, D]; the queries start at position `q_offset`.
  torch::Tensor Forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, int64_t q_offset) const;
};

// OpKind::kExperts: one [f, h], [f, h], [h, f] tensor per expert (separate parameters, as Hugging
// Face's Mixtral keeps them: slicing one stacked tensor would make every expert's backward write
// a gradient of the whole stack); `gate` is empty for GELU experts.
struct TorchExperts {
  OpRef ref;
  std::vector<torch::Tensor> gate, up, down;
  int64_t top_k = 1;
  bool defined() const { return !up.empty(); }
};

// The "embedding" group.
struct TorchEmbeddingLayer {
  TorchEmbedding token, position, token_type;
  TorchNorm norm;
};

// A "decoder_layer", "encoder_layer", "dense_layer" or "moe_layer" group (one instance).
struct TorchTransformerLayer {
  TorchNorm attn_norm, post_attn_norm, mlp_norm, post_mlp_norm;  // post_* with 4 norms per layer
  TorchLinear q, k, v, o;
  TorchAttention attention;
  TorchLinear gate, up, down;  // dense FFN (gate undefined for GELU)
  TorchLinear router;          // MoE only
  TorchExperts experts;
  TorchLinear shared_gate, shared_up, shared_down;  // shared experts (one wide FFN)
  bool moe = false;
};

// The "head" group: the final norm, the pooler (first token), the LM head.
struct TorchHeadLayer {
  TorchNorm final_norm;
  TorchLinear pooler;
  TorchLinear lm_head;  // w is the token table when the graph ties them
};

// Per-layer key/value cache for decoding: [batch, kv_heads, capacity, head_dim].
struct KvCache {
  std::vector<torch::Tensor> k, v;
  int64_t length = 0;  // positions filled
};

class TorchModel {
 public:
  // Builds the op graph of `spec` at `max_seq` tokens and allocates one module per entry
  // (normal(0, 0.02) weights, unit norms) in `dtype` on `device`, ready for sequences up to
  // `max_seq`. `fused_attention` selects scaled_dot_product_attention where libtorch has it.
  // Throws c10::Error on failure, naming an entry the runner has no module for.
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
  const perf::OpGraph& graph() const { return graph_; }
  const std::vector<TorchTransformerLayer>& layers() const { return layers_; }

  // The glue between modules, public for the microbenchmarks.
  torch::Tensor ApplyRope(const torch::Tensor& x, int64_t offset) const;  // x: [B, S, H, D]
  // The FFN activation: act(gate) * up for gated FFNs, act(up) otherwise.
  torch::Tensor Activation(const torch::Tensor& gate, const torch::Tensor& up) const;
  // Attention of `layer` from projected q [B, S, H, D] and k, v [B, S, KV, D] (RoPE applied),
  // appending k, v to `cache` (may be null) at `index`; returns the context [B, S, H x D].
  torch::Tensor SelfAttention(const TorchTransformerLayer& layer, torch::Tensor q, torch::Tensor k, torch::Tensor v,
                              KvCache* cache, size_t index) const;

 private:
  friend class TorchModelBuilder;
  torch::Tensor Block(const TorchTransformerLayer& b, torch::Tensor x, KvCache* cache, size_t index) const;
  torch::Tensor Mlp(const TorchTransformerLayer& b, const torch::Tensor& x) const;
  torch::Tensor Moe(const TorchTransformerLayer& b, const torch::Tensor& x) const;
  torch::Tensor Embed(const torch::Tensor& tokens, int64_t offset) const;
  torch::Tensor Head(const torch::Tensor& x) const;

  ModelSpec spec_;
  perf::OpGraph graph_;
  torch::ScalarType dtype_ = torch::kFloat;
  torch::Device device_ = torch::kCPU;
  TorchEmbeddingLayer embedding_;
  std::vector<TorchTransformerLayer> layers_;
  TorchHeadLayer head_;
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
