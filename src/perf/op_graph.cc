#include "dlcost/op_graph.h"

#include <algorithm>

#include <fmt/format.h>

namespace dlcost::perf {
namespace {

// A linear layer applied to `rows` rows per sample unit: [rows x k] * [k x n].
Op Linear(std::string name, int64_t k, int64_t n, double rows, bool bias) {
  Op op;
  op.name = std::move(name);
  op.kind = OpKind::kGemm;
  op.params = static_cast<double>(k) * n + (bias ? n : 0);
  op.active_params = op.params;
  op.fwd_flops = 2.0 * k * n * rows;
  op.gemm_rows = rows;
  op.gemm_k = k;
  op.gemm_n = n;
  op.act_out_elems = static_cast<double>(n) * rows;
  return op;
}

Op Norm(std::string name, int64_t width, double params_per_channel, double rows) {
  Op op;
  op.name = std::move(name);
  op.kind = OpKind::kNorm;
  op.params = params_per_channel * width;
  op.active_params = op.params;
  op.act_out_elems = static_cast<double>(width) * rows;
  return op;
}

// Attention scores and weighted values for `q_rows` queries per unit over `kv_len` keys:
// QK^T costs 2*kv_len*qk_dim per query and head, AV 2*kv_len*v_dim (full score matrix).
Op Attention(std::string name, int64_t heads, int64_t qk_dim, int64_t v_dim, double kv_len, double q_rows) {
  Op op;
  op.name = std::move(name);
  op.kind = OpKind::kAttention;
  op.fwd_flops = 2.0 * kv_len * heads * (qk_dim + v_dim) * q_rows;
  op.act_out_elems = static_cast<double>(heads) * v_dim * q_rows;
  op.gemm_rows = q_rows;
  op.attn_heads = heads;
  op.attn_kv_len = kv_len;
  return op;
}

Op Embedding(std::string name, int64_t rows, int64_t width, double lookups) {
  Op op;
  op.name = std::move(name);
  op.kind = OpKind::kEmbedding;
  op.params = static_cast<double>(rows) * width;
  op.active_params = static_cast<double>(width) * lookups;
  op.act_out_elems = static_cast<double>(width) * lookups;
  return op;
}

// Convolution with a k x k kernel producing an out_hw x out_hw map.
Op Conv(std::string name, int64_t cin, int64_t cout, int64_t k, int64_t out_hw, bool bias) {
  Op op;
  op.name = std::move(name);
  op.kind = OpKind::kConv;
  op.params = static_cast<double>(cin) * cout * k * k + (bias ? cout : 0);
  op.active_params = op.params;
  double pixels = static_cast<double>(out_hw) * out_hw;
  op.fwd_flops = 2.0 * cin * cout * k * k * pixels;
  op.gemm_rows = pixels;
  op.gemm_k = cin * k * k;
  op.gemm_n = cout;
  op.act_out_elems = cout * pixels;
  return op;
}

double NormParamsPerChannel(const ModelSpec& m) {
  if (m.kind == ModelKind::kDit) return 0;  // DiT: LayerNorm without affine (adaLN supplies it)
  return m.norm == NormKind::kLayerNorm ? 2.0 : 1.0;
}

// Dense FFN of width `ffn`.
void AddDenseFfn(const ModelSpec& m, int64_t ffn, double rows, const std::string& prefix,
                 std::vector<Op>& ops) {
  bool b = m.linear_bias;
  if (m.ffn_act == FfnAct::kGelu) {
    ops.push_back(Linear(prefix + "up_proj", m.hidden, ffn, rows, b));
  } else {
    ops.push_back(Linear(prefix + "gate_proj", m.hidden, ffn, rows, b));
    ops.push_back(Linear(prefix + "up_proj", m.hidden, ffn, rows, b));
  }
  ops.push_back(Linear(prefix + "down_proj", ffn, m.hidden, rows, b));
}

void AddMoeFfn(const ModelSpec& m, double rows, std::vector<Op>& ops) {
  const MoeSpec& e = *m.moe;
  Op router = Linear("router", m.hidden, e.experts, rows, false);
  router.kind = OpKind::kRouter;
  if (e.router_bias) {
    router.params += static_cast<double>(e.experts);
    router.active_params = router.params;
  }
  ops.push_back(router);
  int matrices = m.ffn_act == FfnAct::kGelu ? 2 : 3;
  double one_expert = static_cast<double>(matrices) * m.hidden * e.expert_ffn;
  Op experts;
  experts.name = fmt::format("experts ({} routed, top-{})", e.experts, e.top_k);
  experts.kind = OpKind::kExperts;
  experts.params = one_expert * e.experts;
  experts.active_params = one_expert * e.top_k;
  experts.fwd_flops = 2.0 * one_expert * e.top_k * rows;
  experts.gemm_rows = rows * e.top_k / e.experts;  // average tokens per expert per unit
  experts.gemm_k = m.hidden;
  experts.gemm_n = e.expert_ffn;
  experts.act_out_elems = static_cast<double>(m.hidden) * rows;
  ops.push_back(experts);
  if (e.shared_experts > 0) {
    std::vector<Op> shared;
    AddDenseFfn(m, e.shared_expert_ffn * e.shared_experts, rows, "shared_expert.", shared);
    ops.insert(ops.end(), shared.begin(), shared.end());
  }
}

void AddAttentionBlock(const ModelSpec& m, double kv_len, double rows, std::vector<Op>& ops) {
  size_t first = ops.size();
  double np = NormParamsPerChannel(m);
  ops.push_back(Norm("attn_norm", m.hidden, np, rows));
  bool b = m.linear_bias;
  bool qkv_b = b || m.qkv_bias;
  if (m.mla) {
    const MlaSpec& a = *m.mla;
    int64_t qk = a.qk_nope_head_dim + a.qk_rope_head_dim;
    if (a.q_lora_rank > 0) {
      ops.push_back(Linear("q_a_proj", m.hidden, a.q_lora_rank, rows, false));
      ops.push_back(Norm("q_a_norm", a.q_lora_rank, 1.0, rows));
      ops.push_back(Linear("q_b_proj", a.q_lora_rank, m.heads * qk, rows, false));
    } else {
      ops.push_back(Linear("q_proj", m.hidden, m.heads * qk, rows, false));
    }
    ops.push_back(Linear("kv_a_proj", m.hidden, a.kv_lora_rank + a.qk_rope_head_dim, rows, false));
    ops.push_back(Norm("kv_a_norm", a.kv_lora_rank, 1.0, rows));
    ops.push_back(Linear("kv_b_proj", a.kv_lora_rank, m.heads * (a.qk_nope_head_dim + a.v_head_dim), rows, false));
    ops.push_back(Attention("attention (MLA)", m.heads, qk, a.v_head_dim, kv_len, rows));
    ops.push_back(Linear("o_proj", m.heads * a.v_head_dim, m.hidden, rows, false));
  } else {
    ops.push_back(Linear("q_proj", m.hidden, m.heads * m.head_dim, rows, qkv_b));
    ops.push_back(Linear("k_proj", m.hidden, m.kv_heads * m.head_dim, rows, qkv_b));
    ops.push_back(Linear("v_proj", m.hidden, m.kv_heads * m.head_dim, rows, qkv_b));
    std::string kind = m.kv_heads == m.heads ? "MHA" : (m.kv_heads == 1 ? "MQA" : "GQA");
    ops.push_back(Attention(fmt::format("attention ({})", kind), m.heads, m.head_dim, m.head_dim, kv_len, rows));
    ops.push_back(Linear("o_proj", m.heads * m.head_dim, m.hidden, rows, b));
  }
  for (int64_t i = 2; i < m.norms_per_layer; i += 2) {
    ops.push_back(Norm("post_attn_norm", m.hidden, np, rows));
  }
  for (size_t i = first; i < ops.size(); ++i) ops[i].attention_block = true;
}

std::vector<Op> TransformerLayer(const ModelSpec& m, bool moe, double kv_len, double rows) {
  std::vector<Op> ops;
  AddAttentionBlock(m, kv_len, rows, ops);
  ops.push_back(Norm("mlp_norm", m.hidden, NormParamsPerChannel(m), rows));
  if (moe) {
    AddMoeFfn(m, rows, ops);
  } else {
    AddDenseFfn(m, m.ffn, rows, "", ops);
  }
  for (int64_t i = 2; i < m.norms_per_layer; i += 2) {
    ops.push_back(Norm("post_mlp_norm", m.hidden, NormParamsPerChannel(m), rows));
  }
  if (m.kind == ModelKind::kDit) {
    // adaLN-Zero: the conditioning vector (one per image) regresses 6 modulation vectors.
    ops.push_back(Linear("adaln_modulation", m.hidden, 6 * m.hidden, 1.0, true));
  }
  return ops;
}

void AddTransformerLayers(const ModelSpec& m, double kv_len, double rows, OpGraph& g) {
  int64_t dense = m.layers;
  int64_t moe = 0;
  if (m.moe) {
    dense = m.moe->first_dense_layers;
    moe = m.layers - dense;
  }
  std::string base = m.kind == ModelKind::kEncoder || m.kind == ModelKind::kVit ? "encoder_layer"
                     : m.kind == ModelKind::kDit                                ? "dit_block"
                                                                                : "decoder_layer";
  if (dense > 0) g.groups.push_back({m.moe ? "dense_layer" : base, dense, TransformerLayer(m, false, kv_len, rows)});
  if (moe > 0) g.groups.push_back({"moe_layer", moe, TransformerLayer(m, true, kv_len, rows)});
}

// Keys per query row of a decoder's attention op, averaged over its layers, in the op's
// full-matrix convention (a causal pass computes half of it): `seq` for full attention; a layer
// with a window of w < seq attends to w - w^2 / (2 seq) keys per query on average under the
// causal mask, which is 2w - w^2 / seq in that convention (docs/model.md).
double AttentionKvLen(const ModelSpec& m, double seq) {
  double w = static_cast<double>(m.sliding_window);
  if (m.kind != ModelKind::kDecoder || m.sliding_window_layers <= 0 || w <= 0 || w >= seq) return seq;
  double windowed = static_cast<double>(m.sliding_window_layers);
  double layers = static_cast<double>(m.layers);
  return ((layers - windowed) * seq + windowed * (2 * w - w * w / seq)) / layers;
}

OpGraph BuildLanguageModel(const ModelSpec& m, int64_t seq) {
  OpGraph g;
  g.unit = "token";
  g.seq_len = seq;
  g.tokens_per_sample = seq;
  LayerGroup emb{"embedding", 1, {Embedding("token_embedding", m.vocab, m.hidden, 1.0)}};
  if (m.position == PositionKind::kLearned) {
    emb.ops.push_back(Embedding("position_embedding", m.max_seq, m.hidden, 1.0));
  }
  if (m.type_vocab > 0) emb.ops.push_back(Embedding("token_type_embedding", m.type_vocab, m.hidden, 1.0));
  if (m.kind == ModelKind::kEncoder) emb.ops.push_back(Norm("embedding_norm", m.hidden, 2.0, 1.0));
  g.groups.push_back(std::move(emb));
  AddTransformerLayers(m, AttentionKvLen(m, static_cast<double>(seq)), 1.0, g);
  LayerGroup head{"head", 1, {}};
  if (m.kind == ModelKind::kDecoder) head.ops.push_back(Norm("final_norm", m.hidden, NormParamsPerChannel(m), 1.0));
  if (m.pooler) {
    // The pooler runs on the first token of each sequence only.
    head.ops.push_back(Linear("pooler", m.hidden, m.hidden, 1.0 / static_cast<double>(seq), true));
  }
  Op lm = Linear(m.tie_embeddings ? "lm_head (tied to embedding)" : "lm_head", m.hidden, m.vocab, 1.0, false);
  if (m.tie_embeddings) {
    lm.params = 0;
    lm.active_params = 0;
  }
  head.ops.push_back(lm);
  g.groups.push_back(std::move(head));
  return g;
}

OpGraph BuildVit(const ModelSpec& m) {
  OpGraph g;
  g.unit = "image";
  int64_t side = m.image_size / m.patch_size;
  int64_t tokens = side * side + (m.class_token ? 1 : 0);
  g.seq_len = tokens;
  g.tokens_per_sample = tokens;
  double rows = static_cast<double>(tokens);
  LayerGroup emb{"patch_embedding", 1, {}};
  Op patch = Linear("patch_proj", m.channels * m.patch_size * m.patch_size, m.hidden,
                    static_cast<double>(side * side), true);
  patch.kind = OpKind::kConv;
  emb.ops.push_back(patch);
  if (m.class_token) emb.ops.push_back(Embedding("class_token", 1, m.hidden, 1.0));
  emb.ops.push_back(Embedding("position_embedding", tokens, m.hidden, rows));
  g.groups.push_back(std::move(emb));
  AddTransformerLayers(m, rows, rows, g);
  LayerGroup head{"head", 1, {Norm("final_norm", m.hidden, NormParamsPerChannel(m), rows)}};
  if (m.num_classes > 0) head.ops.push_back(Linear("classifier", m.hidden, m.num_classes, 1.0, true));
  g.groups.push_back(std::move(head));
  return g;
}

OpGraph BuildDit(const ModelSpec& m) {
  OpGraph g;
  g.unit = "image";
  int64_t side = m.input_size / m.patch_size;
  int64_t tokens = side * side;
  g.seq_len = tokens;
  g.tokens_per_sample = tokens;
  double rows = static_cast<double>(tokens);
  LayerGroup emb{"embedding", 1, {}};
  Op patch = Linear("patch_proj", m.channels * m.patch_size * m.patch_size, m.hidden, rows, true);
  patch.kind = OpKind::kConv;
  emb.ops.push_back(patch);
  Op pos = Embedding("position_embedding (fixed sin-cos)", tokens, m.hidden, rows);
  pos.trainable = false;
  emb.ops.push_back(pos);
  emb.ops.push_back(Linear("timestep_mlp_1", m.frequency_embedding_size, m.hidden, 1.0, true));
  emb.ops.push_back(Linear("timestep_mlp_2", m.hidden, m.hidden, 1.0, true));
  if (m.num_classes > 0) {
    // One extra row: the "null" class used for classifier-free guidance.
    emb.ops.push_back(Embedding("label_embedding", m.num_classes + 1, m.hidden, 1.0));
  }
  g.groups.push_back(std::move(emb));
  AddTransformerLayers(m, rows, rows, g);
  int64_t out_ch = m.learn_sigma ? 2 * m.channels : m.channels;
  LayerGroup head{"final_layer", 1, {}};
  head.ops.push_back(Linear("final_adaln_modulation", m.hidden, 2 * m.hidden, 1.0, true));
  head.ops.push_back(Linear("final_proj", m.hidden, m.patch_size * m.patch_size * out_ch, rows, true));
  g.groups.push_back(std::move(head));
  return g;
}

OpGraph BuildResnet(const ModelSpec& m) {
  const ResnetSpec& r = *m.resnet;
  OpGraph g;
  g.unit = "image";
  g.tokens_per_sample = 1;
  int64_t hw = r.image_size / 2;  // 7x7 stride-2 stem
  g.seq_len = hw * hw;
  LayerGroup stem{"stem", 1, {Conv("conv1 7x7/2", 3, r.stem_channels, 7, hw, false),
                              Norm("bn1", r.stem_channels, 2.0, static_cast<double>(hw * hw))}};
  g.groups.push_back(std::move(stem));
  hw /= 2;  // 3x3 stride-2 max pool
  int64_t in = r.stem_channels;
  for (size_t s = 0; s < r.blocks.size(); ++s) {
    LayerGroup stage{fmt::format("stage{}", s + 1), 1, {}};
    int64_t w = r.widths[s];
    int64_t out = r.bottleneck ? w * r.expansion : w;
    for (int64_t b = 0; b < r.blocks[s]; ++b) {
      int64_t stride = (b == 0 && s > 0) ? 2 : 1;
      int64_t out_hw = hw / stride;
      std::string p = fmt::format("block{}.", b + 1);
      if (r.bottleneck) {
        stage.ops.push_back(Conv(p + "conv1 1x1", in, w, 1, hw, false));
        stage.ops.push_back(Norm(p + "bn1", w, 2.0, 1.0));
        stage.ops.push_back(Conv(p + "conv2 3x3", w, w, 3, out_hw, false));
        stage.ops.push_back(Norm(p + "bn2", w, 2.0, 1.0));
        stage.ops.push_back(Conv(p + "conv3 1x1", w, out, 1, out_hw, false));
        stage.ops.push_back(Norm(p + "bn3", out, 2.0, 1.0));
      } else {
        stage.ops.push_back(Conv(p + "conv1 3x3", in, w, 3, out_hw, false));
        stage.ops.push_back(Norm(p + "bn1", w, 2.0, 1.0));
        stage.ops.push_back(Conv(p + "conv2 3x3", w, w, 3, out_hw, false));
        stage.ops.push_back(Norm(p + "bn2", w, 2.0, 1.0));
      }
      if (stride != 1 || in != out) {
        stage.ops.push_back(Conv(p + "downsample 1x1", in, out, 1, out_hw, false));
        stage.ops.push_back(Norm(p + "downsample_bn", out, 2.0, 1.0));
      }
      in = out;
      hw = out_hw;
    }
    g.groups.push_back(std::move(stage));
  }
  LayerGroup head{"head", 1, {}};
  if (r.num_classes > 0) head.ops.push_back(Linear("fc", in, r.num_classes, 1.0, true));
  g.groups.push_back(std::move(head));
  return g;
}

// diffusers ResnetBlock2D: GroupNorm, 3x3 conv, time-embedding projection, GroupNorm, 3x3
// conv, and a 1x1 shortcut when channels change.
void AddUnetResnet(const UnetSpec& u, const std::string& p, int64_t in, int64_t out, int64_t hw,
                   std::vector<Op>& ops) {
  double px = static_cast<double>(hw) * hw;
  ops.push_back(Norm(p + "norm1", in, 2.0, px));
  ops.push_back(Conv(p + "conv1", in, out, 3, hw, true));
  ops.push_back(Linear(p + "time_emb_proj", u.time_embedding_dim, out, 1.0, true));
  ops.push_back(Norm(p + "norm2", out, 2.0, px));
  ops.push_back(Conv(p + "conv2", out, out, 3, hw, true));
  if (in != out) ops.push_back(Conv(p + "conv_shortcut", in, out, 1, hw, true));
}

// diffusers Transformer2DModel with BasicTransformerBlocks (self-attention, cross-attention
// to the text context, GEGLU feed-forward of 4x width).
void AddUnetTransformer(const UnetSpec& u, const std::string& p, int64_t c, int64_t hw,
                        std::vector<Op>& ops) {
  double t = static_cast<double>(hw) * hw;
  double ctx = static_cast<double>(u.context_tokens);
  int64_t hd = c / u.attention_heads;
  ops.push_back(Norm(p + "norm", c, 2.0, t));
  ops.push_back(Linear(p + "proj_in", c, c, t, true));
  for (int64_t l = 0; l < u.transformer_layers_per_block; ++l) {
    std::string q = fmt::format("{}block{}.", p, l + 1);
    ops.push_back(Norm(q + "norm1", c, 2.0, t));
    ops.push_back(Linear(q + "attn1.to_q", c, c, t, false));
    ops.push_back(Linear(q + "attn1.to_k", c, c, t, false));
    ops.push_back(Linear(q + "attn1.to_v", c, c, t, false));
    ops.push_back(Attention(q + "attn1 (self)", u.attention_heads, hd, hd, t, t));
    ops.push_back(Linear(q + "attn1.to_out", c, c, t, true));
    ops.push_back(Norm(q + "norm2", c, 2.0, t));
    ops.push_back(Linear(q + "attn2.to_q", c, c, t, false));
    ops.push_back(Linear(q + "attn2.to_k", u.cross_attention_dim, c, ctx, false));
    ops.push_back(Linear(q + "attn2.to_v", u.cross_attention_dim, c, ctx, false));
    ops.push_back(Attention(q + "attn2 (cross)", u.attention_heads, hd, hd, ctx, t));
    ops.push_back(Linear(q + "attn2.to_out", c, c, t, true));
    ops.push_back(Norm(q + "norm3", c, 2.0, t));
    ops.push_back(Linear(q + "ff.geglu_proj", c, 8 * c, t, true));
    ops.push_back(Linear(q + "ff.out", 4 * c, c, t, true));
  }
  ops.push_back(Linear(p + "proj_out", c, c, t, true));
}

bool HasCrossAttention(const std::string& block_type) {
  return block_type.find("CrossAttn") != std::string::npos;
}

OpGraph BuildUnet(const ModelSpec& m) {
  const UnetSpec& u = *m.unet;
  OpGraph g;
  g.unit = "image";
  g.tokens_per_sample = 1;
  int64_t hw = u.sample_size;
  g.seq_len = hw * hw;
  const auto& ch = u.block_out_channels;
  size_t n = ch.size();
  LayerGroup in{"input", 1, {Conv("conv_in", u.in_channels, ch[0], 3, hw, true),
                             Linear("time_embedding.linear_1", ch[0], u.time_embedding_dim, 1.0, true),
                             Linear("time_embedding.linear_2", u.time_embedding_dim, u.time_embedding_dim, 1.0, true)}};
  g.groups.push_back(std::move(in));
  int64_t c_in = ch[0];
  for (size_t i = 0; i < n; ++i) {
    LayerGroup blk{fmt::format("down_block{}", i + 1), 1, {}};
    for (int64_t l = 0; l < u.layers_per_block; ++l) {
      int64_t cin = l == 0 ? c_in : ch[i];
      AddUnetResnet(u, fmt::format("resnet{}.", l + 1), cin, ch[i], hw, blk.ops);
      if (HasCrossAttention(u.down_block_types[i])) {
        AddUnetTransformer(u, fmt::format("attn{}.", l + 1), ch[i], hw, blk.ops);
      }
    }
    if (i + 1 < n) {
      hw /= 2;
      blk.ops.push_back(Conv("downsample", ch[i], ch[i], 3, hw, true));
    }
    c_in = ch[i];
    g.groups.push_back(std::move(blk));
  }
  LayerGroup mid{"mid_block", 1, {}};
  AddUnetResnet(u, "resnet1.", ch[n - 1], ch[n - 1], hw, mid.ops);
  AddUnetTransformer(u, "attn1.", ch[n - 1], hw, mid.ops);
  AddUnetResnet(u, "resnet2.", ch[n - 1], ch[n - 1], hw, mid.ops);
  g.groups.push_back(std::move(mid));
  int64_t prev_out = ch[n - 1];
  for (size_t i = 0; i < n; ++i) {
    int64_t out = ch[n - 1 - i];
    int64_t skip_in = ch[std::max<int64_t>(0, static_cast<int64_t>(n) - 2 - static_cast<int64_t>(i))];
    LayerGroup blk{fmt::format("up_block{}", i + 1), 1, {}};
    int64_t layers = u.layers_per_block + 1;
    for (int64_t l = 0; l < layers; ++l) {
      int64_t res_skip = l == layers - 1 ? skip_in : out;
      int64_t res_in = l == 0 ? prev_out : out;
      AddUnetResnet(u, fmt::format("resnet{}.", l + 1), res_in + res_skip, out, hw, blk.ops);
      if (HasCrossAttention(u.up_block_types[i])) {
        AddUnetTransformer(u, fmt::format("attn{}.", l + 1), out, hw, blk.ops);
      }
    }
    if (i + 1 < n) {
      hw *= 2;
      blk.ops.push_back(Conv("upsample", out, out, 3, hw, true));
    }
    prev_out = out;
    g.groups.push_back(std::move(blk));
  }
  LayerGroup outg{"output", 1, {Norm("conv_norm_out", ch[0], 2.0, static_cast<double>(hw * hw)),
                                Conv("conv_out", ch[0], u.out_channels, 3, hw, true)}};
  g.groups.push_back(std::move(outg));
  return g;
}

}  // namespace

const char* OpKindName(OpKind k) {
  switch (k) {
    case OpKind::kGemm: return "gemm";
    case OpKind::kAttention: return "attention";
    case OpKind::kNorm: return "norm";
    case OpKind::kEmbedding: return "embedding";
    case OpKind::kConv: return "conv";
    case OpKind::kRouter: return "router";
    case OpKind::kExperts: return "experts";
    case OpKind::kOther: return "other";
  }
  return "other";
}

double LayerGroup::Params() const {
  double s = 0;
  for (const Op& op : ops) s += op.params;
  return s;
}
double LayerGroup::ActiveParams() const {
  double s = 0;
  for (const Op& op : ops) s += op.kind == OpKind::kEmbedding ? op.params : op.active_params;
  return s;
}
double LayerGroup::FwdFlops() const {
  double s = 0;
  for (const Op& op : ops) s += op.fwd_flops;
  return s;
}

double OpGraph::TotalParams() const {
  double s = 0;
  for (const LayerGroup& g : groups) s += g.Params() * g.count;
  return s;
}
double OpGraph::TrainableParams() const {
  double s = 0;
  for (const LayerGroup& g : groups) {
    for (const Op& op : g.ops) s += op.trainable ? op.params * g.count : 0;
  }
  return s;
}
double OpGraph::ActiveParams() const {
  double s = 0;
  for (const LayerGroup& g : groups) s += g.ActiveParams() * g.count;
  return s;
}
double OpGraph::EmbeddingParams() const {
  double s = 0;
  for (const LayerGroup& g : groups) {
    for (const Op& op : g.ops) s += op.kind == OpKind::kEmbedding ? op.params * g.count : 0;
  }
  return s;
}
double OpGraph::FwdFlopsPerUnit() const {
  double s = 0;
  for (const LayerGroup& g : groups) s += g.FwdFlops() * g.count;
  return s;
}
int64_t OpGraph::TransformerLayers() const {
  int64_t n = 0;
  for (const LayerGroup& g : groups) {
    if (g.name.find("layer") != std::string::npos || g.name == "dit_block") n += g.count;
  }
  return n;
}

LayerElementwise LayerElementwiseOf(const ModelSpec& m, const LayerGroup& layer, double moe_capacity_factor) {
  LayerElementwise out;
  double h = static_cast<double>(m.hidden);
  double hq = static_cast<double>(m.heads * m.head_dim);
  double hkv = static_cast<double>(m.kv_heads * m.head_dim);
  if (m.mla) {
    hq = static_cast<double>(m.heads) * (m.mla->qk_nope_head_dim + m.mla->qk_rope_head_dim);
    hkv = hq;
  }
  double mult = m.ffn_act == FfnAct::kGelu ? 2.0 : 3.0;
  if (layer.name == "moe_layer" && m.moe) {
    out.ffn_elems = mult * (moe_capacity_factor * m.moe->top_k * m.moe->expert_ffn +
                            m.moe->shared_experts * m.moe->shared_expert_ffn);
  } else {
    out.ffn_elems = mult * m.ffn;
  }
  out.rope_elems = m.position == PositionKind::kRope ? 2 * (hq + hkv) : 0;
  out.residual_elems = 2 * 3 * h;
  return out;
}

Result<OpGraph> BuildOpGraph(const ModelSpec& spec, int64_t seq_len) {
  if (seq_len < 0 || seq_len > (int64_t{1} << 30)) {
    return InvalidInput(fmt::format("--seq: {} is out of range (1 to 2^30 tokens)", seq_len));
  }
  switch (spec.kind) {
    case ModelKind::kDecoder:
    case ModelKind::kEncoder: {
      int64_t seq = seq_len;
      if (seq == 0) seq = spec.max_seq > 0 ? std::min<int64_t>(spec.max_seq, 4096) : 2048;
      if (spec.position == PositionKind::kLearned && spec.max_seq > 0 && seq > spec.max_seq) {
        return InvalidInput(fmt::format("--seq: {} exceeds the learned position table of {} ({} tokens)",
                                        seq, spec.id, spec.max_seq));
      }
      return BuildLanguageModel(spec, seq);
    }
    case ModelKind::kVit: return BuildVit(spec);
    case ModelKind::kDit: return BuildDit(spec);
    case ModelKind::kCnn: return BuildResnet(spec);
    case ModelKind::kUnet: return BuildUnet(spec);
  }
  return Status(StatusCode::kInternal, "unknown model kind");
}

}  // namespace dlcost::perf
