// The libtorch transformer of torch_model.h.
#include "measure/torch_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
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

}  // namespace

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
  m.fused_attention_ = fused_attention;
  m.causal_ = spec.kind == ModelKind::kDecoder;
  const int64_t h = spec.hidden;
  const int64_t heads = spec.heads;
  const int64_t kv = spec.kv_heads > 0 ? spec.kv_heads : heads;
  m.head_dim_ = spec.head_dim > 0 ? spec.head_dim : h / heads;
  const int64_t d = m.head_dim_;
  auto opts = torch::TensorOptions().dtype(dtype).device(device);

  auto weight = [&](std::vector<int64_t> shape) {
    torch::Tensor t = (torch::randn(shape, opts) * kInitStd).requires_grad_(true);
    m.params_.push_back(t);
    return t;
  };
  auto vec = [&](int64_t n, double value) {
    torch::Tensor t = torch::full({n}, value, opts).requires_grad_(true);
    m.params_.push_back(t);
    return t;
  };
  auto linear = [&](int64_t in, int64_t out, bool bias) {
    TorchLinear l;
    l.w = weight({out, in});
    if (bias) l.b = vec(out, 0.0);
    return l;
  };
  auto norm = [&](int64_t width) {
    TorchNorm n;
    n.layer_norm = spec.norm == NormKind::kLayerNorm;
    n.w = vec(width, 1.0);
    if (n.layer_norm) n.b = vec(width, 0.0);
    return n;
  };

  m.wte_ = weight({spec.vocab, h});
  if (spec.position == PositionKind::kLearned) m.wpe_ = weight({std::max(spec.max_seq, max_seq), h});
  if (spec.kind == ModelKind::kEncoder) {
    m.has_emb_norm_ = true;
    m.emb_norm_ = norm(h);
  }
  bool gated = spec.ffn_act != FfnAct::kGelu;
  for (int64_t i = 0; i < spec.layers; ++i) {
    TorchBlock b;
    b.attn_norm = norm(h);
    bool qkv_bias = spec.linear_bias || spec.qkv_bias;
    b.q = linear(h, heads * d, qkv_bias);
    b.k = linear(h, kv * d, qkv_bias);
    b.v = linear(h, kv * d, qkv_bias);
    b.o = linear(heads * d, h, spec.linear_bias);
    if (spec.norms_per_layer >= 4) b.post_attn_norm = norm(h);
    b.mlp_norm = norm(h);
    b.moe = spec.moe.has_value() && i >= spec.moe->first_dense_layers;
    if (b.moe) {
      const MoeSpec& e = *spec.moe;
      b.router = linear(h, e.experts, false);
      for (int64_t x = 0; x < e.experts; ++x) {
        if (gated) b.expert_gate.push_back(weight({e.expert_ffn, h}));
        b.expert_up.push_back(weight({e.expert_ffn, h}));
        b.expert_down.push_back(weight({h, e.expert_ffn}));
      }
      if (e.shared_experts > 0) {
        int64_t f = e.shared_experts * e.shared_expert_ffn;
        if (gated) b.shared_gate = linear(h, f, false);
        b.shared_up = linear(h, f, false);
        b.shared_down = linear(f, h, false);
      }
    } else {
      if (gated) b.gate = linear(h, spec.ffn, spec.linear_bias);
      b.up = linear(h, spec.ffn, spec.linear_bias);
      b.down = linear(spec.ffn, h, spec.linear_bias);
    }
    if (spec.norms_per_layer >= 4) b.post_mlp_norm = norm(h);
    m.blocks_.push_back(std::move(b));
  }
  if (spec.kind == ModelKind::kDecoder) {
    m.has_final_norm_ = true;
    m.final_norm_ = norm(h);
  }
  m.lm_head_ = spec.tie_embeddings ? m.wte_ : weight({spec.vocab, h});

  if (spec.position == PositionKind::kRope) {
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

torch::Tensor TorchModel::Norm(const TorchNorm& n, const torch::Tensor& x) const {
  if (n.layer_norm) return torch::layer_norm(x, {x.size(-1)}, n.w, n.b, kNormEps);
  // RMSNorm (Zhang & Sennrich 2019), as written in the Llama reference code.
  torch::Tensor r = torch::rsqrt(x.pow(2).mean(-1, true) + kNormEps);
  return x * r * n.w;
}

torch::Tensor TorchModel::ApplyRope(const torch::Tensor& x, int64_t offset) const {
  int64_t s = x.size(1), d = x.size(3);
  torch::Tensor cos = rope_cos_.narrow(0, offset, s).view({1, s, 1, d});
  torch::Tensor sin = rope_sin_.narrow(0, offset, s).view({1, s, 1, d});
  torch::Tensor rot = torch::cat({-x.narrow(-1, d / 2, d / 2), x.narrow(-1, 0, d / 2)}, -1);
  return x * cos + rot * sin;
}

torch::Tensor TorchModel::Attention(const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in,
                                    bool causal, int64_t q_offset) const {
  torch::Tensor k = k_in, v = v_in;
  int64_t heads = q_in.size(1), kv = k_in.size(1);
  if (kv < heads) {  // grouped-query attention: each K/V head serves heads / kv query heads
    k = k.repeat_interleave(heads / kv, 1);
    v = v.repeat_interleave(heads / kv, 1);
  }
  int64_t sq = q_in.size(2), sk = k.size(2);
  bool need_mask = causal && sq > 1;
#if TORCH_VERSION_MAJOR >= 2
  if (fused_attention_ && (!need_mask || q_offset == 0)) {
    return at::scaled_dot_product_attention(q_in, k, v, {}, 0.0, need_mask);
  }
#endif
  torch::Tensor q = q_in * (1.0 / std::sqrt(static_cast<double>(q_in.size(3))));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1));
  if (need_mask) {
    torch::Tensor mask = torch::ones({sq, sk}, torch::TensorOptions().dtype(torch::kBool).device(device_))
                             .triu(1 + q_offset);
    scores.masked_fill_(mask, -std::numeric_limits<double>::infinity());
  }
  return torch::matmul(torch::softmax(scores, -1), v);
}

torch::Tensor TorchModel::Mlp(const TorchBlock& b, const torch::Tensor& x) const {
  switch (spec_.ffn_act) {
    case FfnAct::kGelu:
      return torch::linear(torch::gelu(torch::linear(x, b.up.w, b.up.b), "tanh"), b.down.w, b.down.b);
    case FfnAct::kSwiglu:
      return torch::linear(torch::silu(torch::linear(x, b.gate.w, b.gate.b)) * torch::linear(x, b.up.w, b.up.b),
                           b.down.w, b.down.b);
    case FfnAct::kGeglu:
      return torch::linear(torch::gelu(torch::linear(x, b.gate.w, b.gate.b), "tanh") * torch::linear(x, b.up.w, b.up.b),
                           b.down.w, b.down.b);
  }
  return x;
}

torch::Tensor TorchModel::Moe(const TorchBlock& b, const torch::Tensor& x) const {
  const MoeSpec& e = *spec_.moe;
  int64_t h = x.size(-1);
  torch::Tensor xf = x.reshape({-1, h});
  int64_t tokens = xf.size(0);
  // Top-k routing with renormalised weights (Mixtral; Jiang et al. 2024, Sec. 2.1).
  torch::Tensor probs = torch::softmax(torch::linear(xf, b.router.w).to(torch::kFloat), -1);
  auto [top_v, top_i] = probs.topk(e.top_k, -1);
  top_v = top_v / top_v.sum(-1, true);
  torch::Tensor flat = top_i.reshape({-1});
  torch::Tensor order = flat.argsort();
  torch::Tensor token_of = order.div(e.top_k, "floor");
  torch::Tensor weights = top_v.reshape({-1}).index_select(0, order).to(dtype_).unsqueeze(1);
  torch::Tensor counts = flat.bincount({}, e.experts).to(torch::kCPU);
  const int64_t* count = counts.data_ptr<int64_t>();
  torch::Tensor out = torch::zeros_like(xf);
  int64_t start = 0;
  for (int64_t i = 0; i < e.experts; ++i) {
    int64_t c = count[i];
    if (c == 0) continue;
    torch::Tensor idx = token_of.narrow(0, start, c);
    torch::Tensor xe = xf.index_select(0, idx);
    torch::Tensor up = torch::linear(xe, b.expert_up[i]);
    torch::Tensor act;
    if (spec_.ffn_act == FfnAct::kGelu) {
      act = torch::gelu(up, "tanh");
    } else {
      torch::Tensor g = torch::linear(xe, b.expert_gate[i]);
      act = (spec_.ffn_act == FfnAct::kSwiglu ? torch::silu(g) : torch::gelu(g, "tanh")) * up;
    }
    torch::Tensor ye = torch::linear(act, b.expert_down[i]) * weights.narrow(0, start, c);
    out.index_add_(0, idx, ye);
    start += c;
  }
  (void)tokens;
  if (b.shared_up.w.defined()) {
    TorchBlock shared;
    shared.gate = b.shared_gate;
    shared.up = b.shared_up;
    shared.down = b.shared_down;
    out = out + Mlp(shared, xf);
  }
  return out.view(x.sizes());
}

torch::Tensor TorchModel::SelfAttention(torch::Tensor q, torch::Tensor k, torch::Tensor v, KvCache* cache,
                                        size_t layer) const {
  int64_t batch = q.size(0), s = q.size(1), heads = q.size(2), d = q.size(3);
  int64_t offset = cache ? cache->length : 0;
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  v = v.transpose(1, 2);
  if (cache) {
    cache->k[layer].narrow(2, offset, s).copy_(k);
    cache->v[layer].narrow(2, offset, s).copy_(v);
    k = cache->k[layer].narrow(2, 0, offset + s);
    v = cache->v[layer].narrow(2, 0, offset + s);
  }
  return Attention(q, k, v, causal_, offset).transpose(1, 2).reshape({batch, s, heads * d});
}

torch::Tensor TorchModel::Block(const TorchBlock& b, torch::Tensor x, KvCache* cache, size_t layer) {
  int64_t batch = x.size(0), s = x.size(1);
  int64_t heads = spec_.heads, kv = spec_.kv_heads > 0 ? spec_.kv_heads : heads, d = head_dim_;
  torch::Tensor h1 = Norm(b.attn_norm, x);
  torch::Tensor q = torch::linear(h1, b.q.w, b.q.b).view({batch, s, heads, d});
  torch::Tensor k = torch::linear(h1, b.k.w, b.k.b).view({batch, s, kv, d});
  torch::Tensor v = torch::linear(h1, b.v.w, b.v.b).view({batch, s, kv, d});
  int64_t offset = cache ? cache->length : 0;
  if (spec_.position == PositionKind::kRope) {
    q = ApplyRope(q, offset);
    k = ApplyRope(k, offset);
  }
  torch::Tensor a = torch::linear(SelfAttention(q, k, v, cache, layer), b.o.w, b.o.b);
  if (b.post_attn_norm.w.defined()) a = Norm(b.post_attn_norm, a);
  x = x + a;
  torch::Tensor h2 = Norm(b.mlp_norm, x);
  torch::Tensor f = b.moe ? Moe(b, h2) : Mlp(b, h2);
  if (b.post_mlp_norm.w.defined()) f = Norm(b.post_mlp_norm, f);
  return x + f;
}

torch::Tensor TorchModel::Embed(const torch::Tensor& tokens, int64_t offset) const {
  torch::Tensor x = torch::embedding(wte_, tokens);
  if (wpe_.defined()) x = x + wpe_.narrow(0, offset, tokens.size(1));
  if (has_emb_norm_) x = Norm(emb_norm_, x);
  return x;
}

torch::Tensor TorchModel::Head(const torch::Tensor& x) const {
  torch::Tensor y = has_final_norm_ ? Norm(final_norm_, x) : x;
  return torch::linear(y, lm_head_);
}

torch::Tensor TorchModel::Loss(const torch::Tensor& tokens, const torch::Tensor& targets) {
  torch::Tensor x = Embed(tokens, 0);
  for (size_t i = 0; i < blocks_.size(); ++i) x = Block(blocks_[i], x, nullptr, i);
  torch::Tensor logits = Head(x);
  // fp32 logits for the loss, as mixed-precision training keeps them (the estimator's 4sbV).
  return torch::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}).to(torch::kFloat), targets.reshape({-1}));
}

torch::Tensor TorchModel::Forward(const torch::Tensor& tokens, KvCache* cache) {
  int64_t offset = cache ? cache->length : 0;
  torch::Tensor x = Embed(tokens, offset);
  for (size_t i = 0; i < blocks_.size(); ++i) x = Block(blocks_[i], x, cache, i);
  if (cache) cache->length += tokens.size(1);
  return Head(x.select(1, x.size(1) - 1));
}

KvCache TorchModel::NewCache(int64_t batch, int64_t capacity) const {
  KvCache c;
  int64_t kv = spec_.kv_heads > 0 ? spec_.kv_heads : spec_.heads;
  auto opts = torch::TensorOptions().dtype(dtype_).device(device_);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    c.k.push_back(torch::zeros({batch, kv, capacity, head_dim_}, opts));
    c.v.push_back(torch::zeros({batch, kv, capacity, head_dim_}, opts));
  }
  return c;
}

void Sync(const torch::Device& device) {
  if (!device.is_cuda()) return;
#if TORCH_VERSION_MAJOR >= 2
  torch::cuda::synchronize();
#else
  torch::zeros({1}, torch::TensorOptions().device(device)).cpu();  // waits for the stream
#endif
}

double TimeMedian(const std::function<void()>& fn, int min_reps, double target_s, int max_reps) {
  using Clock = std::chrono::steady_clock;
  fn();
  std::vector<double> t;
  double total = 0;
  while (static_cast<int>(t.size()) < max_reps && (static_cast<int>(t.size()) < min_reps || total < target_s)) {
    auto t0 = Clock::now();
    fn();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    t.push_back(s);
    total += s;
  }
  std::sort(t.begin(), t.end());
  size_t n = t.size();
  return n % 2 == 1 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

AdamWStep::AdamWStep(std::vector<torch::Tensor> params) : params_(std::move(params)) {
  mixed_ = !params_.empty() && params_.front().scalar_type() != torch::kFloat;
  std::vector<torch::Tensor> opt_params = params_;
  if (mixed_) {
    for (const torch::Tensor& p : params_) master_.push_back(p.detach().to(torch::kFloat).requires_grad_(true));
    opt_params = master_;
  }
  // AdamW hyper-parameters of the Llama papers (Touvron et al. 2023, Sec. 2.2); they do not
  // change the work per step.
  opt_ = std::make_unique<torch::optim::AdamW>(
      opt_params, torch::optim::AdamWOptions(3e-4).betas({0.9, 0.95}).weight_decay(0.1));
}

void AdamWStep::Run() {
  if (mixed_) {
    for (size_t i = 0; i < params_.size(); ++i) master_[i].mutable_grad() = params_[i].grad().to(torch::kFloat);
  }
  opt_->step();
  if (mixed_) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params_.size(); ++i) params_[i].copy_(master_[i]);
  }
}

Trainer::Trainer(TorchModel* model, int64_t batch, int64_t seq) : model_(model), opt_(model->params()) {
  auto ids = torch::TensorOptions().dtype(torch::kLong).device(model_->params().front().device());
  tokens_ = torch::randint(0, model_->spec().vocab, {batch, seq}, ids);
  targets_ = torch::randint(0, model_->spec().vocab, {batch, seq}, ids);
}

double Trainer::Step() {
  for (torch::Tensor& p : model_->params()) p.mutable_grad() = torch::Tensor();
  torch::Tensor loss = model_->Loss(tokens_, targets_);
  loss.backward();
  opt_.Run();
  double value = loss.item<double>();
  Sync(tokens_.device());
  return value;
}

}  // namespace dlcost::measure
