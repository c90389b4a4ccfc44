// The libtorch transformer of torch_model.h, built from the op graph.
#include "measure/torch_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>

namespace dlcost::measure {
namespace {

// RoPE base frequency of the Llama family (Touvron et al. 2023, "LLaMA", Sec. 2.2, after Su
// et al. 2021). Its value does not change the work done, only the angles.
constexpr double kRopeTheta = 10000.0;
// Weight initialisation std of GPT-2 and Llama reference code; irrelevant to timing but keeps
// the loss finite.
constexpr double kInitStd = 0.02;
constexpr double kNormEps = 1e-5;

bool IsTransformerGroup(const std::string& name) {
  return name == "decoder_layer" || name == "encoder_layer" || name == "dense_layer" || name == "moe_layer";
}

// Fills `slot` with `module`, once: two entries for one module mean the graph describes a
// layer the runner does not build.
template <typename T>
void Fill(T& slot, T module, const perf::LayerGroup& g, const perf::Op& op) {
  TORCH_CHECK(!slot.defined(), "op graph: ", g.name, " has a second entry '", op.name, "' for one runner module");
  slot = std::move(module);
}

}  // namespace

// Allocates one module per op-graph entry into a TorchModel.
class TorchModelBuilder {
 public:
  TorchModelBuilder(TorchModel& m, bool fused) : m_(m), fused_(fused) {
    opts_ = torch::TensorOptions().dtype(m.dtype_).device(m.device_);
  }

  void BuildEmbedding(const perf::LayerGroup& g, size_t gi, int64_t max_seq);
  TorchTransformerLayer BuildLayer(const perf::LayerGroup& g, size_t gi);
  void BuildHead(const perf::LayerGroup& g, size_t gi);
  // Parameters beyond the graph's: learned positions widened to the run's length.
  double extra_params() const { return extra_params_; }

 private:
  torch::Tensor Weight(std::vector<int64_t> shape) {
    torch::Tensor t = (torch::randn(shape, opts_) * kInitStd).requires_grad_(true);
    m_.params_.push_back(t);
    return t;
  }
  torch::Tensor Vec(int64_t n, double value) {
    torch::Tensor t = torch::full({n}, value, opts_).requires_grad_(true);
    m_.params_.push_back(t);
    return t;
  }
  // [gemm_n, gemm_k], with a bias when the entry holds more than the matrix.
  TorchLinear Linear(const perf::Op& op, OpRef ref) {
    TorchLinear l;
    l.ref = ref;
    l.w = Weight({op.gemm_n, op.gemm_k});
    if (op.params > static_cast<double>(op.gemm_k) * op.gemm_n) l.b = Vec(op.gemm_n, 0.0);
    return l;
  }
  // Width = output elements per token; 2 parameters per channel: LayerNorm, 1: RMSNorm (or a
  // LayerNorm without bias), 0: no affine parameters.
  TorchNorm Norm(const perf::Op& op, OpRef ref) {
    TorchNorm n;
    n.ref = ref;
    auto width = static_cast<int64_t>(op.act_out_elems);
    double per_channel = op.params / static_cast<double>(width);
    n.layer_norm = per_channel >= 2 || m_.spec_.norm == NormKind::kLayerNorm;
    n.w = per_channel >= 1 ? Vec(width, 1.0) : torch::ones({width}, opts_);
    if (per_channel >= 2) n.b = Vec(width, 0.0);
    return n;
  }
  // [rows, width]; at least `min_rows` rows (learned positions for the run's length).
  TorchEmbedding Embedding(const perf::Op& op, OpRef ref, int64_t min_rows) {
    TorchEmbedding e;
    e.ref = ref;
    auto width = static_cast<int64_t>(op.act_out_elems);
    auto rows = static_cast<int64_t>(op.params / static_cast<double>(width));
    extra_params_ += static_cast<double>(std::max<int64_t>(0, min_rows - rows)) * width;
    e.table = Weight({std::max(rows, min_rows), width});
    return e;
  }
  // Heads from the entry; the head size and key/value heads from the q and k projections before it.
  TorchAttention Attention(const perf::Op& op, OpRef ref, const TorchTransformerLayer& layer) {
    TORCH_CHECK(layer.q.defined() && layer.k.defined(), "op graph: attention before its q and k projections");
    TorchAttention a;
    a.ref = ref;
    a.heads = op.attn_heads;
    a.head_dim = layer.q.w.size(0) / a.heads;
    a.kv_heads = layer.k.w.size(0) / a.head_dim;
    a.causal = m_.spec_.kind == ModelKind::kDecoder;
    a.fused = fused_;
    a.device = m_.device_;
    return a;
  }
  TorchExperts Experts(const perf::Op& op, OpRef ref) {
    const MoeSpec& e = *m_.spec_.moe;
    TorchExperts x;
    x.ref = ref;
    x.top_k = e.top_k;
    for (int64_t i = 0; i < e.experts; ++i) {
      if (m_.spec_.ffn_act != FfnAct::kGelu) x.gate.push_back(Weight({op.gemm_n, op.gemm_k}));
      x.up.push_back(Weight({op.gemm_n, op.gemm_k}));
      x.down.push_back(Weight({op.gemm_k, op.gemm_n}));
    }
    return x;
  }
  TorchNorm& NormSlot(TorchTransformerLayer& l, const perf::LayerGroup& g, const perf::Op& op);
  TorchLinear& LinearSlot(TorchTransformerLayer& l, const perf::LayerGroup& g, const perf::Op& op);

  TorchModel& m_;
  bool fused_;
  torch::TensorOptions opts_;
  double extra_params_ = 0;
};

TorchNorm& TorchModelBuilder::NormSlot(TorchTransformerLayer& l, const perf::LayerGroup& g, const perf::Op& op) {
  std::map<std::string, TorchNorm*> slots = {{"attn_norm", &l.attn_norm}, {"post_attn_norm", &l.post_attn_norm},
                                             {"mlp_norm", &l.mlp_norm}, {"post_mlp_norm", &l.post_mlp_norm}};
  auto it = slots.find(op.name);
  TORCH_CHECK(it != slots.end(), "op graph: the runner has no module for ", g.name, " entry '", op.name, "'");
  return *it->second;
}

TorchLinear& TorchModelBuilder::LinearSlot(TorchTransformerLayer& l, const perf::LayerGroup& g, const perf::Op& op) {
  std::map<std::string, TorchLinear*> slots = {
      {"q_proj", &l.q},       {"k_proj", &l.k},   {"v_proj", &l.v},        {"o_proj", &l.o},
      {"gate_proj", &l.gate}, {"up_proj", &l.up}, {"down_proj", &l.down},  {"shared_expert.gate_proj", &l.shared_gate},
      {"shared_expert.up_proj", &l.shared_up},    {"shared_expert.down_proj", &l.shared_down}};
  auto it = slots.find(op.name);
  TORCH_CHECK(it != slots.end(), "op graph: the runner has no module for ", g.name, " entry '", op.name, "'");
  return *it->second;
}

void TorchModelBuilder::BuildEmbedding(const perf::LayerGroup& g, size_t gi, int64_t max_seq) {
  TorchEmbeddingLayer& e = m_.embedding_;
  for (size_t oi = 0; oi < g.ops.size(); ++oi) {
    const perf::Op& op = g.ops[oi];
    OpRef ref{gi, oi};
    if (op.name == "token_embedding") {
      Fill(e.token, Embedding(op, ref, 0), g, op);
    } else if (op.name == "position_embedding") {
      Fill(e.position, Embedding(op, ref, max_seq), g, op);
    } else if (op.name == "token_type_embedding") {
      Fill(e.token_type, Embedding(op, ref, 0), g, op);
    } else if (op.name == "embedding_norm") {
      Fill(e.norm, Norm(op, ref), g, op);
    } else {
      TORCH_CHECK(false, "op graph: the runner has no module for embedding entry '", op.name, "'");
    }
  }
  TORCH_CHECK(e.token.defined(), "op graph: no token embedding");
}

TorchTransformerLayer TorchModelBuilder::BuildLayer(const perf::LayerGroup& g, size_t gi) {
  TorchTransformerLayer l;
  l.moe = g.name == "moe_layer";
  for (size_t oi = 0; oi < g.ops.size(); ++oi) {
    const perf::Op& op = g.ops[oi];
    OpRef ref{gi, oi};
    switch (op.kind) {
      case perf::OpKind::kNorm: Fill(NormSlot(l, g, op), Norm(op, ref), g, op); break;
      case perf::OpKind::kGemm: Fill(LinearSlot(l, g, op), Linear(op, ref), g, op); break;
      case perf::OpKind::kRouter: Fill(l.router, Linear(op, ref), g, op); break;
      case perf::OpKind::kAttention: Fill(l.attention, Attention(op, ref, l), g, op); break;
      case perf::OpKind::kExperts: Fill(l.experts, Experts(op, ref), g, op); break;
      default: TORCH_CHECK(false, "op graph: the runner has no module for ", g.name, " entry '", op.name, "'");
    }
  }
  bool ffn = l.moe ? l.router.defined() && l.experts.defined() : l.up.defined() && l.down.defined();
  TORCH_CHECK(l.attn_norm.defined() && l.mlp_norm.defined() && l.v.defined() && l.o.defined() &&
                  l.attention.defined() && ffn,
              "op graph: ", g.name, " lacks an entry the runner needs");
  return l;
}

void TorchModelBuilder::BuildHead(const perf::LayerGroup& g, size_t gi) {
  TorchHeadLayer& h = m_.head_;
  for (size_t oi = 0; oi < g.ops.size(); ++oi) {
    const perf::Op& op = g.ops[oi];
    OpRef ref{gi, oi};
    if (op.name == "final_norm") {
      Fill(h.final_norm, Norm(op, ref), g, op);
    } else if (op.name == "pooler") {
      Fill(h.pooler, Linear(op, ref), g, op);
    } else if (op.name.rfind("lm_head", 0) == 0) {
      TorchLinear lm;
      lm.ref = ref;
      // Tied: the entry holds no parameters and the head multiplies by the token table.
      lm.w = op.params > 0 ? Weight({op.gemm_n, op.gemm_k}) : m_.embedding_.token.table;
      Fill(h.lm_head, std::move(lm), g, op);
    } else {
      TORCH_CHECK(false, "op graph: the runner has no module for head entry '", op.name, "'");
    }
  }
  TORCH_CHECK(h.lm_head.defined(), "op graph: no LM head");
}

torch::ScalarType TorchDtype(Dtype d) {
  switch (d) {
    case Dtype::kFp32:
    case Dtype::kTf32: return torch::kFloat;
    case Dtype::kBf16: return torch::kBFloat16;
    case Dtype::kFp16: return torch::kHalf;
    default: break;
  }
  TORCH_CHECK(false, "dtype ", DtypeName(d), " is not supported by the measurement runner (fp32, tf32, bf16, fp16)");
}

TorchModel TorchModel::Build(const ModelSpec& spec, int64_t max_seq, torch::ScalarType dtype, torch::Device device,
                             bool fused_attention) {
  TorchModel m;
  m.spec_ = spec;
  m.dtype_ = dtype;
  m.device_ = device;
  Result<perf::OpGraph> graph = perf::BuildOpGraph(spec, max_seq);
  TORCH_CHECK(graph.ok(), "op graph: ", graph.status().message());
  m.graph_ = *graph;
  TorchModelBuilder b(m, fused_attention);
  for (size_t gi = 0; gi < m.graph_.groups.size(); ++gi) {
    const perf::LayerGroup& g = m.graph_.groups[gi];
    if (g.name == "embedding") {
      b.BuildEmbedding(g, gi, spec.position == PositionKind::kLearned ? max_seq : 0);
    } else if (IsTransformerGroup(g.name)) {
      for (int64_t i = 0; i < g.count; ++i) m.layers_.push_back(b.BuildLayer(g, gi));
    } else if (g.name == "head") {
      b.BuildHead(g, gi);
    } else {
      TORCH_CHECK(false, "op graph: the runner has no module for the group '", g.name, "'");
    }
  }
  // Every parameter the estimator counts is in a module, and no other.
  double numel = 0;
  for (const torch::Tensor& p : m.params_) numel += static_cast<double>(p.numel());
  TORCH_CHECK(numel == m.graph_.TotalParams() + b.extra_params(), "op graph: the runner built ", numel,
              " parameters for the graph's ", m.graph_.TotalParams());

  if (spec.position == PositionKind::kRope && !m.layers_.empty()) {
    int64_t d = m.layers_.front().attention.head_dim;
    auto f32 = torch::TensorOptions().dtype(torch::kFloat).device(device);
    torch::Tensor inv = torch::pow(kRopeTheta, -torch::arange(0, d, 2, f32) / static_cast<double>(d));
    torch::Tensor pos = torch::arange(0, max_seq, f32);
    torch::Tensor freqs = torch::outer(pos, inv);
    torch::Tensor emb = torch::cat({freqs, freqs}, -1);
    m.rope_cos_ = emb.cos().to(dtype);
    m.rope_sin_ = emb.sin().to(dtype);
  }
  return m;
}

torch::Tensor TorchNorm::Forward(const torch::Tensor& x) const {
  if (layer_norm) return torch::layer_norm(x, {x.size(-1)}, w, b, kNormEps);
  // RMSNorm (Zhang & Sennrich 2019), as written in the Llama reference code.
  torch::Tensor r = torch::rsqrt(x.pow(2).mean(-1, true) + kNormEps);
  return x * r * w;
}

torch::Tensor TorchAttention::Forward(const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in,
                                      int64_t q_offset) const {
  torch::Tensor k = k_in, v = v_in;
  int64_t nq = q_in.size(1), nkv = k_in.size(1);
  if (nkv < nq) {  // grouped-query attention: each K/V head serves nq / nkv query heads
    k = k.repeat_interleave(nq / nkv, 1);
    v = v.repeat_interleave(nq / nkv, 1);
  }
  int64_t sq = q_in.size(2), sk = k.size(2);
  bool need_mask = causal && sq > 1;
#if TORCH_VERSION_MAJOR >= 2
  if (fused && (!need_mask || q_offset == 0)) {
    return at::scaled_dot_product_attention(q_in, k, v, {}, 0.0, need_mask);
  }
#endif
  torch::Tensor q = q_in * (1.0 / std::sqrt(static_cast<double>(q_in.size(3))));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1));
  if (need_mask) {
    torch::Tensor mask =
        torch::ones({sq, sk}, torch::TensorOptions().dtype(torch::kBool).device(device)).triu(1 + q_offset);
    scores.masked_fill_(mask, -std::numeric_limits<double>::infinity());
  }
  return torch::matmul(torch::softmax(scores, -1), v);
}

torch::Tensor TorchModel::ApplyRope(const torch::Tensor& x, int64_t offset) const {
  int64_t s = x.size(1), d = x.size(3);
  torch::Tensor cos = rope_cos_.narrow(0, offset, s).view({1, s, 1, d});
  torch::Tensor sin = rope_sin_.narrow(0, offset, s).view({1, s, 1, d});
  torch::Tensor rot = torch::cat({-x.narrow(-1, d / 2, d / 2), x.narrow(-1, 0, d / 2)}, -1);
  return x * cos + rot * sin;
}

torch::Tensor TorchModel::Activation(const torch::Tensor& gate, const torch::Tensor& up) const {
  switch (spec_.ffn_act) {
    case FfnAct::kGelu: return torch::gelu(up, "tanh");
    case FfnAct::kSwiglu: return torch::silu(gate) * up;
    case FfnAct::kGeglu: return torch::gelu(gate, "tanh") * up;
  }
  return up;
}

torch::Tensor TorchModel::Mlp(const TorchTransformerLayer& b, const torch::Tensor& x) const {
  torch::Tensor gate = b.gate.defined() ? b.gate.Forward(x) : torch::Tensor();
  return b.down.Forward(Activation(gate, b.up.Forward(x)));
}

torch::Tensor TorchModel::Moe(const TorchTransformerLayer& b, const torch::Tensor& x) const {
  const TorchExperts& e = b.experts;
  auto experts = static_cast<int64_t>(e.up.size());
  int64_t h = x.size(-1);
  torch::Tensor xf = x.reshape({-1, h});
  // Top-k routing with renormalised weights (Mixtral; Jiang et al. 2024, Sec. 2.1).
  torch::Tensor probs = torch::softmax(b.router.Forward(xf).to(torch::kFloat), -1);
  auto [top_v, top_i] = probs.topk(e.top_k, -1);
  top_v = top_v / top_v.sum(-1, true);
  torch::Tensor flat = top_i.reshape({-1});
  torch::Tensor order = flat.argsort();
  torch::Tensor token_of = order.div(e.top_k, "floor");
  torch::Tensor weights = top_v.reshape({-1}).index_select(0, order).to(dtype_).unsqueeze(1);
  torch::Tensor counts = flat.bincount({}, experts).to(torch::kCPU);
  const int64_t* count = counts.data_ptr<int64_t>();
  torch::Tensor out = torch::zeros_like(xf);
  int64_t start = 0;
  for (int64_t i = 0; i < experts; ++i) {
    int64_t c = count[i];
    if (c == 0) continue;
    torch::Tensor idx = token_of.narrow(0, start, c);
    torch::Tensor xe = xf.index_select(0, idx);
    torch::Tensor gate = e.gate.empty() ? torch::Tensor() : torch::linear(xe, e.gate[i]);
    torch::Tensor act = Activation(gate, torch::linear(xe, e.up[i]));
    out.index_add_(0, idx, torch::linear(act, e.down[i]) * weights.narrow(0, start, c));
    start += c;
  }
  if (b.shared_up.defined()) {
    torch::Tensor gate = b.shared_gate.defined() ? b.shared_gate.Forward(xf) : torch::Tensor();
    out = out + b.shared_down.Forward(Activation(gate, b.shared_up.Forward(xf)));
  }
  return out.view(x.sizes());
}

torch::Tensor TorchModel::SelfAttention(const TorchTransformerLayer& layer, torch::Tensor q, torch::Tensor k,
                                        torch::Tensor v, KvCache* cache, size_t index) const {
  int64_t batch = q.size(0), s = q.size(1), heads = q.size(2), d = q.size(3);
  int64_t offset = cache ? cache->length : 0;
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  v = v.transpose(1, 2);
  if (cache) {
    cache->k[index].narrow(2, offset, s).copy_(k);
    cache->v[index].narrow(2, offset, s).copy_(v);
    k = cache->k[index].narrow(2, 0, offset + s);
    v = cache->v[index].narrow(2, 0, offset + s);
  }
  return layer.attention.Forward(q, k, v, offset).transpose(1, 2).reshape({batch, s, heads * d});
}

torch::Tensor TorchModel::Block(const TorchTransformerLayer& b, torch::Tensor x, KvCache* cache, size_t index) const {
  int64_t batch = x.size(0), s = x.size(1);
  const TorchAttention& at = b.attention;
  torch::Tensor h1 = b.attn_norm.Forward(x);
  torch::Tensor q = b.q.Forward(h1).view({batch, s, at.heads, at.head_dim});
  torch::Tensor k = b.k.Forward(h1).view({batch, s, at.kv_heads, at.head_dim});
  torch::Tensor v = b.v.Forward(h1).view({batch, s, at.kv_heads, at.head_dim});
  int64_t offset = cache ? cache->length : 0;
  if (spec_.position == PositionKind::kRope) {
    q = ApplyRope(q, offset);
    k = ApplyRope(k, offset);
  }
  torch::Tensor a = b.o.Forward(SelfAttention(b, q, k, v, cache, index));
  if (b.post_attn_norm.defined()) a = b.post_attn_norm.Forward(a);
  x = x + a;
  torch::Tensor h2 = b.mlp_norm.Forward(x);
  torch::Tensor f = b.moe ? Moe(b, h2) : Mlp(b, h2);
  if (b.post_mlp_norm.defined()) f = b.post_mlp_norm.Forward(f);
  return x + f;
}

torch::Tensor TorchModel::Embed(const torch::Tensor& tokens, int64_t offset) const {
  const TorchEmbeddingLayer& e = embedding_;
  torch::Tensor x = torch::embedding(e.token.table, tokens);
  if (e.position.defined()) x = x + e.position.table.narrow(0, offset, tokens.size(1));
  // Random tokens carry no segment: every position has token type 0.
  if (e.token_type.defined()) x = x + torch::embedding(e.token_type.table, torch::zeros_like(tokens));
  if (e.norm.defined()) x = e.norm.Forward(x);
  return x;
}

torch::Tensor TorchModel::Head(const torch::Tensor& x) const {
  torch::Tensor y = head_.final_norm.defined() ? head_.final_norm.Forward(x) : x;
  return head_.lm_head.Forward(y);
}

torch::Tensor TorchModel::Loss(const torch::Tensor& tokens, const torch::Tensor& targets) {
  torch::Tensor x = Embed(tokens, 0);
  for (size_t i = 0; i < layers_.size(); ++i) x = Block(layers_[i], x, nullptr, i);
  torch::Tensor logits = Head(x);
  // fp32 logits for the loss, as mixed-precision training keeps them (the estimator's 4sbV).
  torch::Tensor loss =
      torch::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}).to(torch::kFloat), targets.reshape({-1}));
  if (head_.pooler.defined()) {
    // The pooler (first token of each sequence) is trained with its own objective; here it is
    // run forward and backward with a zero weight so that its entry is timed too.
    torch::Tensor pooled = torch::tanh(head_.pooler.Forward(x.select(1, 0)));
    loss = loss + 0.0 * pooled.to(torch::kFloat).sum();
  }
  return loss;
}

torch::Tensor TorchModel::Forward(const torch::Tensor& tokens, KvCache* cache) {
  int64_t offset = cache ? cache->length : 0;
  torch::Tensor x = Embed(tokens, offset);
  for (size_t i = 0; i < layers_.size(); ++i) x = Block(layers_[i], x, cache, i);
  if (cache) cache->length += tokens.size(1);
  return Head(x.select(1, x.size(1) - 1));
}

KvCache TorchModel::NewCache(int64_t batch, int64_t capacity) const {
  KvCache c;
  auto opts = torch::TensorOptions().dtype(dtype_).device(device_);
  for (const TorchTransformerLayer& l : layers_) {
    c.k.push_back(torch::zeros({batch, l.attention.kv_heads, capacity, l.attention.head_dim}, opts));
    c.v.push_back(torch::zeros({batch, l.attention.kv_heads, capacity, l.attention.head_dim}, opts));
  }
  return c;
}

}  // namespace dlcost::measure
