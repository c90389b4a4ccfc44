// Model architectures: what is computed.
//
// A ModelSpec describes one architecture (a decoder LLM, an encoder, a ViT, a DiT, a ResNet-style
// CNN or a Stable-Diffusion-style UNet). Specs come from the zoo (data/models/<id>.json), from a
// user's JSON file in the same schema, or from a Hugging Face config.json (Llama, Mistral,
// Mixtral, Qwen2, Gemma/Gemma-2, Phi-3, GPT-2 and DeepSeek-V2/V3 families).
//
//   DLCOST_ASSIGN_OR_RETURN(ModelCatalog zoo, ModelCatalog::Load(data_dir));
//   DLCOST_ASSIGN_OR_RETURN(ModelSpec m, zoo.Resolve("llama-3-8b"));   // or a path to a file
//   DLCOST_ASSIGN_OR_RETURN(perf::OpGraph g, perf::BuildOpGraph(m, /*seq_len=*/0));
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "dlcost/status.h"

namespace dlcost {

enum class ModelKind { kDecoder, kEncoder, kVit, kDit, kCnn, kUnet };
enum class FfnAct { kGelu, kSwiglu, kGeglu };
enum class NormKind { kRmsNorm, kLayerNorm };
enum class PositionKind { kRope, kLearned, kNone };

const char* ModelKindName(ModelKind k);
const char* FfnActName(FfnAct a);

struct MoeSpec {
  int64_t experts = 0;             // routed experts per MoE layer
  int64_t top_k = 0;               // routed experts per token
  int64_t shared_experts = 0;      // always-active experts
  int64_t expert_ffn = 0;          // intermediate size of one routed expert
  int64_t shared_expert_ffn = 0;   // intermediate size of one shared expert
  int64_t first_dense_layers = 0;  // leading layers with a dense FFN of size `ffn`
  bool router_bias = false;        // per-expert bias in the router (DeepSeek-V3 correction bias)
};

struct MlaSpec {  // DeepSeek multi-head latent attention
  int64_t q_lora_rank = 0;  // 0: queries projected directly
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
};

struct ResnetSpec {
  std::vector<int64_t> blocks;   // blocks per stage
  std::vector<int64_t> widths;   // bottleneck width per stage
  bool bottleneck = true;
  int64_t expansion = 4;
  int64_t stem_channels = 64;
  int64_t num_classes = 1000;
  int64_t image_size = 224;
};

struct UnetSpec {  // diffusers UNet2DConditionModel configuration
  int64_t in_channels = 4;
  int64_t out_channels = 4;
  int64_t sample_size = 64;  // latent side
  std::vector<int64_t> block_out_channels;
  int64_t layers_per_block = 2;
  std::vector<std::string> down_block_types;
  std::vector<std::string> up_block_types;
  int64_t attention_heads = 8;  // "attention_head_dim" in SD-1.x configs is the head count
  int64_t cross_attention_dim = 768;
  int64_t transformer_layers_per_block = 1;
  int64_t norm_num_groups = 32;
  bool use_linear_projection = false;
  int64_t time_embedding_dim = 0;  // 0: 4 x block_out_channels[0]
  int64_t context_tokens = 77;     // text-encoder tokens attended by cross-attention (CLIP: 77)
};

struct PublishedParams {
  double total_b = 0;   // billions, 0 when unknown
  double active_b = 0;  // billions (MoE), 0 when not applicable
  int64_t exact = 0;    // exact count when published, else 0
  std::string source;
  std::string note;
};

struct ModelSpec {
  std::string id;
  std::string name;
  std::string family;
  ModelKind kind = ModelKind::kDecoder;
  std::vector<std::string> aliases;
  std::vector<std::string> sources;
  std::string origin;  // "zoo", a file path, or "hf-config"

  // Transformer shape.
  int64_t hidden = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;  // hidden / heads unless given
  int64_t ffn = 0;
  FfnAct ffn_act = FfnAct::kSwiglu;
  int64_t vocab = 0;
  int64_t max_seq = 0;
  bool tie_embeddings = false;
  PositionKind position = PositionKind::kRope;
  NormKind norm = NormKind::kRmsNorm;
  int64_t norms_per_layer = 2;
  bool linear_bias = false;
  bool qkv_bias = false;
  std::optional<MoeSpec> moe;
  std::optional<MlaSpec> mla;
  int64_t mtp_layers = 0;  // DeepSeek-V3 multi-token-prediction modules (not in published totals)
  // Sliding-window attention: `sliding_window_layers` of the layers attend to at most the last
  // `sliding_window` keys (gpt-oss, Gemma 2 alternate them with full-attention layers; Mistral 7B
  // v0.1 windows every layer). 0: every layer attends to its whole context.
  int64_t sliding_window = 0;
  int64_t sliding_window_layers = 0;

  // Encoder (BERT).
  int64_t type_vocab = 0;
  bool pooler = false;
  // ViT / DiT.
  int64_t image_size = 0;
  int64_t patch_size = 0;
  int64_t channels = 0;
  int64_t num_classes = 0;
  bool class_token = false;
  int64_t input_size = 0;
  bool learn_sigma = false;
  int64_t frequency_embedding_size = 256;
  // CNN / UNet.
  std::optional<ResnetSpec> resnet;
  std::optional<UnetSpec> unet;

  PublishedParams published;

  bool IsTransformer() const;
  bool IsLanguageModel() const { return kind == ModelKind::kDecoder || kind == ModelKind::kEncoder; }
  // Width of the attention output (heads x head_dim, or heads x v_head_dim for MLA).
  int64_t AttentionWidth() const;
};

// Parses a model from a JSON document: the dlcost schema (has "kind") or a Hugging Face
// config.json (has "model_type" or "architectures"). `where` names the file in errors.
Result<ModelSpec> ParseModelJson(const nlohmann::json& doc, const std::string& where);
Result<ModelSpec> ReadModelFile(const std::string& path);

class ModelCatalog {
 public:
  // Loads every data/models/*.json (the zoo).
  static Result<ModelCatalog> Load(const std::string& data_dir);
  const std::vector<ModelSpec>& models() const { return models_; }
  // A zoo id or alias (case-insensitive), or a path to a JSON model file or config.json.
  Result<ModelSpec> Resolve(std::string_view name_or_path) const;

 private:
  std::vector<ModelSpec> models_;
};

}  // namespace dlcost
