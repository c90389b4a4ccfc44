#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/json_util.h"
#include "dlcost/strings.h"
#include "dlcost/model.h"

namespace dlcost {
namespace fs = std::filesystem;

namespace {

Status Invalid(const std::string& where, const std::string& what) {
  return InvalidInput(fmt::format("{}: {}", where, what));
}

Result<ModelKind> ParseKind(const std::string& s, const std::string& where) {
  if (s == "decoder") return ModelKind::kDecoder;
  if (s == "encoder") return ModelKind::kEncoder;
  if (s == "vit") return ModelKind::kVit;
  if (s == "dit") return ModelKind::kDit;
  if (s == "cnn") return ModelKind::kCnn;
  if (s == "unet") return ModelKind::kUnet;
  return Invalid(where, fmt::format("field 'kind': unknown kind '{}' (decoder, encoder, vit, dit, cnn, unet)", s));
}

Result<FfnAct> ParseFfnAct(const std::string& s, const std::string& where) {
  std::string t = ToLower(s);
  if (t == "gelu" || t == "relu" || t == "gelu_new" || t == "gelu_pytorch_tanh_mlp") return FfnAct::kGelu;
  if (t == "swiglu" || t == "silu") return FfnAct::kSwiglu;
  if (t == "geglu") return FfnAct::kGeglu;
  return Invalid(where, fmt::format("field 'ffn_act': unknown activation '{}' (gelu, swiglu, geglu)", s));
}

// Transformer fields shared by the decoder, encoder, vit and dit kinds.
Status ParseTransformer(const JsonFields& f, ModelSpec& m) {
  DLCOST_ASSIGN_OR_RETURN(m.hidden, f.PositiveInt("hidden"));
  DLCOST_ASSIGN_OR_RETURN(m.layers, f.PositiveInt("layers"));
  DLCOST_ASSIGN_OR_RETURN(m.heads, f.PositiveInt("heads"));
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> kv, f.OptPositiveInt("kv_heads"));
  m.kv_heads = kv.value_or(m.heads);
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> hd, f.OptPositiveInt("head_dim"));
  if (!hd && m.hidden % m.heads != 0) {
    return Invalid(f.where(), fmt::format("heads ({}) does not divide hidden ({}); give head_dim",
                                          m.heads, m.hidden));
  }
  m.head_dim = hd.value_or(m.hidden / m.heads);
  if (m.heads % m.kv_heads != 0) {
    return Invalid(f.where(), fmt::format("kv_heads ({}) must divide heads ({})", m.kv_heads, m.heads));
  }
  DLCOST_ASSIGN_OR_RETURN(m.ffn, f.PositiveInt("ffn"));
  DLCOST_ASSIGN_OR_RETURN(std::string act, f.String("ffn_act"));
  DLCOST_ASSIGN_OR_RETURN(m.ffn_act, ParseFfnAct(act, f.where()));
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> vocab, f.OptPositiveInt("vocab"));
  m.vocab = vocab.value_or(0);
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> max_seq, f.OptPositiveInt("max_seq"));
  m.max_seq = max_seq.value_or(0);
  DLCOST_ASSIGN_OR_RETURN(m.tie_embeddings, f.OptBool("tie_embeddings", false));
  std::string pos = f.OptString("position").value_or("rope");
  if (pos == "rope") m.position = PositionKind::kRope;
  else if (pos == "learned") m.position = PositionKind::kLearned;
  else if (pos == "none" || pos == "sincos") m.position = PositionKind::kNone;
  else return Invalid(f.where(), fmt::format("field 'position': unknown '{}' (rope, learned, none)", pos));
  std::string norm = f.OptString("norm").value_or("rmsnorm");
  if (norm == "rmsnorm") m.norm = NormKind::kRmsNorm;
  else if (norm == "layernorm") m.norm = NormKind::kLayerNorm;
  else return Invalid(f.where(), fmt::format("field 'norm': unknown '{}' (rmsnorm, layernorm)", norm));
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> npl, f.OptPositiveInt("norms_per_layer"));
  m.norms_per_layer = npl.value_or(2);
  DLCOST_ASSIGN_OR_RETURN(m.linear_bias, f.OptBool("linear_bias", false));
  DLCOST_ASSIGN_OR_RETURN(m.qkv_bias, f.OptBool("qkv_bias", false));
  if (f.Has("moe")) {
    JsonFields g(f.obj().at("moe"), f.where() + ": moe");
    MoeSpec moe;
    DLCOST_ASSIGN_OR_RETURN(moe.experts, g.PositiveInt("experts"));
    DLCOST_ASSIGN_OR_RETURN(moe.top_k, g.PositiveInt("top_k"));
    if (moe.top_k > moe.experts) return Invalid(g.where(), "top_k is larger than experts");
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> shared, g.OptNonNegativeInt("shared_experts"));
    moe.shared_experts = shared.value_or(0);
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> eff, g.OptPositiveInt("expert_ffn"));
    moe.expert_ffn = eff.value_or(m.ffn);
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> sff, g.OptPositiveInt("shared_expert_ffn"));
    moe.shared_expert_ffn = sff.value_or(moe.expert_ffn);
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> fd, g.OptNonNegativeInt("first_dense_layers"));
    moe.first_dense_layers = fd.value_or(0);
    if (moe.first_dense_layers > m.layers) return Invalid(g.where(), "first_dense_layers exceeds layers");
    DLCOST_ASSIGN_OR_RETURN(moe.router_bias, g.OptBool("router_bias", false));
    m.moe = moe;
  }
  if (f.Has("mla")) {
    JsonFields g(f.obj().at("mla"), f.where() + ": mla");
    MlaSpec mla;
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> q, g.OptNonNegativeInt("q_lora_rank"));
    mla.q_lora_rank = q.value_or(0);
    DLCOST_ASSIGN_OR_RETURN(mla.kv_lora_rank, g.PositiveInt("kv_lora_rank"));
    DLCOST_ASSIGN_OR_RETURN(mla.qk_nope_head_dim, g.PositiveInt("qk_nope_head_dim"));
    DLCOST_ASSIGN_OR_RETURN(mla.qk_rope_head_dim, g.PositiveInt("qk_rope_head_dim"));
    DLCOST_ASSIGN_OR_RETURN(mla.v_head_dim, g.PositiveInt("v_head_dim"));
    m.mla = mla;
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> mtp, f.OptNonNegativeInt("mtp_layers"));
  m.mtp_layers = mtp.value_or(0);
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> window, f.OptPositiveInt("sliding_window"));
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> windowed, f.OptNonNegativeInt("sliding_window_layers"));
  if (windowed && !window) return Invalid(f.where(), "field 'sliding_window_layers' needs 'sliding_window'");
  m.sliding_window = window.value_or(0);
  m.sliding_window_layers = window ? windowed.value_or(m.layers) : 0;
  if (m.sliding_window_layers > m.layers) {
    return Invalid(f.where(), fmt::format("field 'sliding_window_layers' ({}) exceeds layers ({})",
                                          m.sliding_window_layers, m.layers));
  }
  return Status::Ok();
}

Status ParseVision(const JsonFields& f, ModelSpec& m) {
  if (m.kind == ModelKind::kVit) {
    DLCOST_ASSIGN_OR_RETURN(m.image_size, f.PositiveInt("image_size"));
    DLCOST_ASSIGN_OR_RETURN(m.patch_size, f.PositiveInt("patch_size"));
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> ch, f.OptPositiveInt("channels"));
    m.channels = ch.value_or(3);
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> nc, f.OptNonNegativeInt("num_classes"));
    m.num_classes = nc.value_or(0);
    DLCOST_ASSIGN_OR_RETURN(m.class_token, f.OptBool("class_token", true));
    if (m.image_size % m.patch_size != 0) return Invalid(f.where(), "patch_size must divide image_size");
  } else {
    DLCOST_ASSIGN_OR_RETURN(m.input_size, f.PositiveInt("input_size"));
    DLCOST_ASSIGN_OR_RETURN(m.patch_size, f.PositiveInt("patch_size"));
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> ch, f.OptPositiveInt("in_channels"));
    m.channels = ch.value_or(4);
    DLCOST_ASSIGN_OR_RETURN(m.learn_sigma, f.OptBool("learn_sigma", true));
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> nc, f.OptNonNegativeInt("num_classes"));
    m.num_classes = nc.value_or(0);
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> fe, f.OptPositiveInt("frequency_embedding_size"));
    m.frequency_embedding_size = fe.value_or(256);
    if (m.input_size % m.patch_size != 0) return Invalid(f.where(), "patch_size must divide input_size");
  }
  return Status::Ok();
}

Status ParseResnet(const JsonFields& top, ModelSpec& m) {
  if (!top.Has("resnet")) return Invalid(top.where(), "missing object 'resnet'");
  JsonFields f(top.obj().at("resnet"), top.where() + ": resnet");
  ResnetSpec r;
  DLCOST_ASSIGN_OR_RETURN(r.blocks, f.IntList("blocks"));
  DLCOST_ASSIGN_OR_RETURN(r.widths, f.IntList("widths"));
  if (r.blocks.size() != r.widths.size()) return Invalid(f.where(), "blocks and widths differ in length");
  DLCOST_ASSIGN_OR_RETURN(r.bottleneck, f.OptBool("bottleneck", true));
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> e, f.OptPositiveInt("expansion"));
  r.expansion = e.value_or(r.bottleneck ? 4 : 1);
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> s, f.OptPositiveInt("stem_channels"));
  r.stem_channels = s.value_or(64);
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> nc, f.OptNonNegativeInt("num_classes"));
  r.num_classes = nc.value_or(1000);
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> is, f.OptPositiveInt("image_size"));
  r.image_size = is.value_or(224);
  m.resnet = r;
  m.image_size = r.image_size;
  return Status::Ok();
}

Status ParseUnet(const JsonFields& top, ModelSpec& m) {
  if (!top.Has("unet")) return Invalid(top.where(), "missing object 'unet'");
  JsonFields f(top.obj().at("unet"), top.where() + ": unet");
  UnetSpec u;
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> v, f.OptPositiveInt("in_channels"));
  u.in_channels = v.value_or(4);
  DLCOST_ASSIGN_OR_RETURN(v, f.OptPositiveInt("out_channels"));
  u.out_channels = v.value_or(4);
  DLCOST_ASSIGN_OR_RETURN(v, f.OptPositiveInt("sample_size"));
  u.sample_size = v.value_or(64);
  DLCOST_ASSIGN_OR_RETURN(u.block_out_channels, f.IntList("block_out_channels"));
  DLCOST_ASSIGN_OR_RETURN(v, f.OptPositiveInt("layers_per_block"));
  u.layers_per_block = v.value_or(2);
  DLCOST_ASSIGN_OR_RETURN(u.down_block_types, f.OptStringList("down_block_types"));
  DLCOST_ASSIGN_OR_RETURN(u.up_block_types, f.OptStringList("up_block_types"));
  size_t n = u.block_out_channels.size();
  if (u.down_block_types.size() != n || u.up_block_types.size() != n) {
    return Invalid(f.where(), "down_block_types and up_block_types must have one entry per block_out_channels");
  }
  DLCOST_ASSIGN_OR_RETURN(v, f.OptPositiveInt("attention_head_dim"));
  u.attention_heads = v.value_or(8);
  DLCOST_ASSIGN_OR_RETURN(v, f.OptPositiveInt("cross_attention_dim"));
  u.cross_attention_dim = v.value_or(768);
  DLCOST_ASSIGN_OR_RETURN(v, f.OptPositiveInt("transformer_layers_per_block"));
  u.transformer_layers_per_block = v.value_or(1);
  DLCOST_ASSIGN_OR_RETURN(v, f.OptPositiveInt("norm_num_groups"));
  u.norm_num_groups = v.value_or(32);
  DLCOST_ASSIGN_OR_RETURN(u.use_linear_projection, f.OptBool("use_linear_projection", false));
  DLCOST_ASSIGN_OR_RETURN(v, f.OptPositiveInt("time_embedding_dim"));
  u.time_embedding_dim = v.value_or(4 * u.block_out_channels[0]);
  DLCOST_ASSIGN_OR_RETURN(v, f.OptPositiveInt("context_tokens"));
  u.context_tokens = v.value_or(77);
  for (int64_t c : u.block_out_channels) {
    if (c % u.norm_num_groups != 0 || c % u.attention_heads != 0) {
      return Invalid(f.where(), "every block_out_channels entry must divide by norm_num_groups and attention heads");
    }
  }
  m.unet = u;
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> img, top.OptPositiveInt("image_size"));
  m.image_size = img.value_or(u.sample_size * 8);
  return Status::Ok();
}

Status ParsePublished(const JsonFields& top, ModelSpec& m) {
  if (!top.Has("published_params")) return Status::Ok();
  JsonFields f(top.obj().at("published_params"), top.where() + ": published_params");
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> t, f.OptNumber("total_b"));
  m.published.total_b = t.value_or(0);
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> a, f.OptNumber("active_b"));
  m.published.active_b = a.value_or(0);
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> e, f.OptNonNegativeInt("exact"));
  m.published.exact = e.value_or(0);
  m.published.source = f.OptString("source").value_or("");
  m.published.note = f.OptString("note").value_or("");
  return Status::Ok();
}

Result<ModelSpec> ParseDlcostSchema(const nlohmann::json& j, const std::string& where) {
  JsonFields f(j, where);
  ModelSpec m;
  DLCOST_ASSIGN_OR_RETURN(m.id, f.String("id"));
  m.name = f.OptString("name").value_or(m.id);
  m.family = f.OptString("family").value_or("");
  DLCOST_ASSIGN_OR_RETURN(std::string kind, f.String("kind"));
  DLCOST_ASSIGN_OR_RETURN(m.kind, ParseKind(kind, where));
  DLCOST_ASSIGN_OR_RETURN(m.aliases, f.OptStringList("aliases"));
  DLCOST_ASSIGN_OR_RETURN(m.sources, f.OptStringList("source"));
  switch (m.kind) {
    case ModelKind::kDecoder:
    case ModelKind::kEncoder:
      DLCOST_RETURN_IF_ERROR(ParseTransformer(f, m));
      if (m.vocab == 0) return Invalid(where, "missing field 'vocab'");
      if (m.kind == ModelKind::kEncoder) {
        DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> tv, f.OptNonNegativeInt("type_vocab"));
        m.type_vocab = tv.value_or(0);
        DLCOST_ASSIGN_OR_RETURN(m.pooler, f.OptBool("pooler", false));
      }
      break;
    case ModelKind::kVit:
    case ModelKind::kDit:
      DLCOST_RETURN_IF_ERROR(ParseTransformer(f, m));
      DLCOST_RETURN_IF_ERROR(ParseVision(f, m));
      break;
    case ModelKind::kCnn:
      DLCOST_RETURN_IF_ERROR(ParseResnet(f, m));
      break;
    case ModelKind::kUnet:
      DLCOST_RETURN_IF_ERROR(ParseUnet(f, m));
      break;
  }
  DLCOST_RETURN_IF_ERROR(ParsePublished(f, m));
  return m;
}

// Integer key that a Hugging Face config may spell in several ways; first present wins.
Result<std::optional<int64_t>> HfInt(const JsonFields& f, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (f.Has(k)) return f.OptPositiveInt(k);
  }
  return std::optional<int64_t>();
}

Result<int64_t> HfRequired(const JsonFields& f, std::initializer_list<const char*> keys) {
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> v, HfInt(f, keys));
  if (!v) return Invalid(f.where(), fmt::format("missing field '{}'", *keys.begin()));
  return *v;
}

// Sliding windows from a Hugging Face config: "sliding_window" (null or absent: none), unless
// "use_sliding_window" is false (Qwen2 ships a window it does not use); which layers use it from
// "layer_types" ("sliding_attention" entries) when given, else every other layer for Gemma 2
// (its modelling code alternates local and global layers) and every layer otherwise (Mistral).
Status HfSlidingWindow(const JsonFields& f, const std::string& type, const std::string& where, ModelSpec& m) {
  const nlohmann::json& j = f.obj();
  if (!j.contains("sliding_window") || j.at("sliding_window").is_null()) return Status::Ok();
  DLCOST_ASSIGN_OR_RETURN(bool use, f.OptBool("use_sliding_window", true));
  if (!use) return Status::Ok();
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> window, HfInt(f, {"sliding_window"}));
  if (!window || *window <= 0) return Invalid(where, "field 'sliding_window' must be a positive integer or null");
  int64_t windowed = type == "gemma2" ? m.layers / 2 : m.layers;
  if (j.contains("layer_types")) {
    const nlohmann::json& types = j.at("layer_types");
    if (!types.is_array() || static_cast<int64_t>(types.size()) != m.layers) {
      return Invalid(where, fmt::format("field 'layer_types' must list one type per layer ({})", m.layers));
    }
    windowed = 0;
    for (const nlohmann::json& t : types) {
      if (!t.is_string()) return Invalid(where, "field 'layer_types' must hold strings");
      windowed += t.get<std::string>() == "sliding_attention";
    }
  }
  if (windowed > 0) {
    m.sliding_window = *window;
    m.sliding_window_layers = windowed;
  }
  return Status::Ok();
}

Result<ModelSpec> ParseHfConfig(const nlohmann::json& j, const std::string& where) {
  JsonFields f(j, where);
  ModelSpec m;
  std::string type = ToLower(f.OptString("model_type").value_or(""));
  if (type.empty() && f.Has("architectures") && j.at("architectures").is_array() &&
      !j.at("architectures").empty() && j.at("architectures")[0].is_string()) {
    std::string arch = ToLower(j.at("architectures")[0].get<std::string>());
    for (const char* t : {"deepseek_v3", "deepseekv3", "mixtral", "qwen2", "gemma2", "gemma", "phi3",
                          "mistral", "llama", "gpt2"}) {
      if (arch.find(t) != std::string::npos) { type = t; break; }
    }
    if (type == "deepseekv3") type = "deepseek_v3";
  }
  static const std::set<std::string> kKnown = {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe",
                                               "gemma", "gemma2", "phi3", "gpt2", "deepseek_v2",
                                               "deepseek_v3"};
  if (!kKnown.count(type)) {
    return Invalid(where, fmt::format("unsupported model_type '{}' (supported: llama, mistral, mixtral, "
                                      "qwen2, gemma, gemma2, phi3, gpt2, deepseek_v2, deepseek_v3)",
                                      type));
  }
  m.kind = ModelKind::kDecoder;
  m.family = type;
  m.origin = where;
  std::string stem = fs::path(where).stem().string();
  m.id = stem == "config" ? f.OptString("_name_or_path").value_or(type) : stem;
  m.name = f.OptString("_name_or_path").value_or(m.id);
  DLCOST_ASSIGN_OR_RETURN(m.hidden, HfRequired(f, {"hidden_size", "n_embd"}));
  DLCOST_ASSIGN_OR_RETURN(m.layers, HfRequired(f, {"num_hidden_layers", "n_layer"}));
  DLCOST_ASSIGN_OR_RETURN(m.heads, HfRequired(f, {"num_attention_heads", "n_head"}));
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> kv, HfInt(f, {"num_key_value_heads"}));
  m.kv_heads = kv.value_or(m.heads);
  if (m.heads % m.kv_heads != 0) {
    return Invalid(where, fmt::format("num_key_value_heads ({}) must divide num_attention_heads ({})",
                                      m.kv_heads, m.heads));
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> hd, HfInt(f, {"head_dim"}));
  if (!hd && m.hidden % m.heads != 0) return Invalid(where, "num_attention_heads must divide hidden_size");
  m.head_dim = hd.value_or(m.hidden / m.heads);
  DLCOST_ASSIGN_OR_RETURN(m.vocab, HfRequired(f, {"vocab_size"}));
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> ms, HfInt(f, {"max_position_embeddings", "n_positions"}));
  m.max_seq = ms.value_or(0);
  bool tie_default = type == "gpt2" || type == "gemma" || type == "gemma2";
  DLCOST_ASSIGN_OR_RETURN(m.tie_embeddings, f.OptBool("tie_word_embeddings", tie_default));
  if (type == "gpt2") {
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> inner, HfInt(f, {"n_inner"}));
    m.ffn = inner.value_or(4 * m.hidden);
    m.ffn_act = FfnAct::kGelu;
    m.norm = NormKind::kLayerNorm;
    m.position = PositionKind::kLearned;
    m.linear_bias = true;
  } else {
    DLCOST_ASSIGN_OR_RETURN(m.ffn, HfRequired(f, {"intermediate_size"}));
    std::string act = ToLower(f.OptString("hidden_activation").value_or(f.OptString("hidden_act").value_or("silu")));
    m.ffn_act = act.find("gelu") != std::string::npos ? FfnAct::kGeglu : FfnAct::kSwiglu;
    m.norm = NormKind::kRmsNorm;
    m.position = PositionKind::kRope;
  }
  if (type == "qwen2" || type == "qwen2_moe") m.qkv_bias = true;
  if (type == "gemma2") m.norms_per_layer = 4;
  DLCOST_RETURN_IF_ERROR(HfSlidingWindow(f, type, where, m));
  if (type == "mixtral") {
    MoeSpec moe;
    DLCOST_ASSIGN_OR_RETURN(moe.experts, HfRequired(f, {"num_local_experts"}));
    DLCOST_ASSIGN_OR_RETURN(moe.top_k, HfRequired(f, {"num_experts_per_tok"}));
    moe.expert_ffn = m.ffn;
    moe.shared_expert_ffn = m.ffn;
    m.moe = moe;
  }
  if (type == "deepseek_v2" || type == "deepseek_v3") {
    MoeSpec moe;
    DLCOST_ASSIGN_OR_RETURN(moe.experts, HfRequired(f, {"n_routed_experts"}));
    DLCOST_ASSIGN_OR_RETURN(moe.top_k, HfRequired(f, {"num_experts_per_tok"}));
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> sh, f.OptNonNegativeInt("n_shared_experts"));
    moe.shared_experts = sh.value_or(0);
    DLCOST_ASSIGN_OR_RETURN(moe.expert_ffn, HfRequired(f, {"moe_intermediate_size"}));
    moe.shared_expert_ffn = moe.expert_ffn;
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> fd, f.OptNonNegativeInt("first_k_dense_replace"));
    moe.first_dense_layers = std::min<int64_t>(fd.value_or(0), m.layers);
    moe.router_bias = type == "deepseek_v3";  // e_score_correction_bias
    m.moe = moe;
    MlaSpec mla;
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> q, f.OptNonNegativeInt("q_lora_rank"));
    mla.q_lora_rank = q.value_or(0);
    DLCOST_ASSIGN_OR_RETURN(mla.kv_lora_rank, HfRequired(f, {"kv_lora_rank"}));
    DLCOST_ASSIGN_OR_RETURN(mla.qk_nope_head_dim, HfRequired(f, {"qk_nope_head_dim"}));
    DLCOST_ASSIGN_OR_RETURN(mla.qk_rope_head_dim, HfRequired(f, {"qk_rope_head_dim"}));
    DLCOST_ASSIGN_OR_RETURN(mla.v_head_dim, HfRequired(f, {"v_head_dim"}));
    m.mla = mla;
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> mtp, f.OptNonNegativeInt("num_nextn_predict_layers"));
    m.mtp_layers = mtp.value_or(0);
  }
  if (m.moe && m.moe->top_k > m.moe->experts) {
    return Invalid(where, fmt::format("num_experts_per_tok ({}) is larger than the number of routed experts ({})",
                                      m.moe->top_k, m.moe->experts));
  }
  m.sources.push_back(where);
  return m;
}

}  // namespace

const char* ModelKindName(ModelKind k) {
  switch (k) {
    case ModelKind::kDecoder: return "decoder";
    case ModelKind::kEncoder: return "encoder";
    case ModelKind::kVit: return "vit";
    case ModelKind::kDit: return "dit";
    case ModelKind::kCnn: return "cnn";
    case ModelKind::kUnet: return "unet";
  }
  return "decoder";
}

const char* FfnActName(FfnAct a) {
  switch (a) {
    case FfnAct::kGelu: return "gelu";
    case FfnAct::kSwiglu: return "swiglu";
    case FfnAct::kGeglu: return "geglu";
  }
  return "gelu";
}

bool ModelSpec::IsTransformer() const {
  return kind == ModelKind::kDecoder || kind == ModelKind::kEncoder || kind == ModelKind::kVit ||
         kind == ModelKind::kDit;
}

int64_t ModelSpec::AttentionWidth() const {
  if (mla) return heads * mla->v_head_dim;
  return heads * head_dim;
}

// Sizes beyond any model dlcost can price (a hundredfold above today's largest) are refused
// before an op graph is built from them: a million norms per layer would take seconds and a
// billion would exhaust memory.
Status CheckModelBounds(const ModelSpec& m, const std::string& where) {
  struct Bound {
    const char* field;
    int64_t value;
    int64_t max;
  };
  const Bound bounds[] = {
      {"layers", m.layers, 100'000},         {"hidden", m.hidden, 1 << 20},     {"heads", m.heads, 1 << 16},
      {"kv_heads", m.kv_heads, 1 << 16},     {"head_dim", m.head_dim, 1 << 16}, {"ffn", m.ffn, 1 << 24},
      {"vocab", m.vocab, 1 << 26},           {"max_seq", m.max_seq, 1 << 26},   {"norms_per_layer", m.norms_per_layer, 16},
      {"image_size", m.image_size, 1 << 16}, {"patch_size", m.patch_size, 1 << 16},
      {"experts", m.moe ? m.moe->experts : 0, 1 << 16},
      {"first_dense_layers", m.moe ? m.moe->first_dense_layers : 0, 100'000},
      {"sliding_window", m.sliding_window, 1 << 30},
  };
  for (const Bound& b : bounds) {
    if (b.value > b.max) return Invalid(where, fmt::format("field '{}' ({}) is above {}", b.field, b.value, b.max));
  }
  if (m.moe && m.moe->top_k > m.moe->experts) {
    return Invalid(where, fmt::format("field 'top_k' ({}) is above 'experts' ({})", m.moe->top_k, m.moe->experts));
  }
  return Status::Ok();
}

Result<ModelSpec> ParseModelJson(const nlohmann::json& doc, const std::string& where) {
  if (!doc.is_object()) return Invalid(where, "expected a JSON object");
  Result<ModelSpec> m = Invalid(where, "not a model file: needs 'kind' (dlcost schema) or 'model_type' (Hugging Face config.json)");
  if (doc.contains("kind")) m = ParseDlcostSchema(doc, where);
  else if (doc.contains("model_type") || doc.contains("architectures")) m = ParseHfConfig(doc, where);
  if (m.ok()) DLCOST_RETURN_IF_ERROR(CheckModelBounds(*m, where));
  return m;
}

Result<ModelSpec> ReadModelFile(const std::string& path) {
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(path));
  DLCOST_ASSIGN_OR_RETURN(ModelSpec m, ParseModelJson(j, path));
  if (m.origin.empty()) m.origin = path;
  return m;
}

Result<ModelCatalog> ModelCatalog::Load(const std::string& data_dir) {
  ModelCatalog c;
  fs::path dir = fs::path(data_dir) / "models";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return InvalidInput(fmt::format("{}: model zoo folder not found", dir.string()));
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  std::set<std::string> names;
  for (const std::string& p : files) {
    DLCOST_ASSIGN_OR_RETURN(ModelSpec m, ReadModelFile(p));
    m.origin = "zoo";
    if (fs::path(p).stem().string() != m.id) {
      return InvalidInput(fmt::format("{}: id '{}' does not match the file name", p, m.id));
    }
    std::vector<std::string> all = m.aliases;
    all.push_back(m.id);
    for (const std::string& n : all) {
      if (!names.insert(ToLower(n)).second) {
        return InvalidInput(fmt::format("{}: id or alias '{}' is used twice in the zoo", p, n));
      }
    }
    c.models_.push_back(std::move(m));
  }
  return c;
}

Result<ModelSpec> ModelCatalog::Resolve(std::string_view name_or_path) const {
  std::string q = ToLower(TrimView(name_or_path));
  if (q.empty()) return InvalidInput("--model: empty model name");
  for (const ModelSpec& m : models_) {
    if (ToLower(m.id) == q) return m;
    for (const std::string& a : m.aliases) {
      if (ToLower(a) == q) return m;
    }
  }
  std::string path(TrimView(name_or_path));
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return ReadModelFile(path);
  if (path.find('/') != std::string::npos || path.find(".json") != std::string::npos) {
    return InvalidInput(fmt::format("{}: cannot open model file", path));
  }
  std::vector<std::string> known;
  for (const ModelSpec& m : models_) {
    known.push_back(m.id);
    known.insert(known.end(), m.aliases.begin(), m.aliases.end());
  }
  return NotFound(UnknownNameMessage("model", name_or_path, known));
}

}  // namespace dlcost
