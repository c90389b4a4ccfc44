// Parameter counts of every zoo model against the published totals (within 0.5%), and the
// Hugging Face config.json importer against the zoo entries of the same models.
#include <cmath>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dlcost/model.h"
#include "dlcost/op_graph.h"

namespace dlcost {
namespace {

const ModelCatalog& Zoo() {
  static const ModelCatalog* zoo = [] {
    Result<ModelCatalog> z = ModelCatalog::Load(DLCOST_TEST_DATA_DIR);
    if (!z.ok()) {
      ADD_FAILURE() << z.status().message();
      return new ModelCatalog();
    }
    return new ModelCatalog(std::move(z).value());
  }();
  return *zoo;
}

perf::OpGraph Graph(const std::string& id) {
  Result<ModelSpec> m = Zoo().Resolve(id);
  EXPECT_TRUE(m.ok()) << m.status().message();
  Result<perf::OpGraph> g = perf::BuildOpGraph(*m, 0);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return *g;
}

struct Published {
  const char* id;
  double total;   // published total parameters
  double active;  // published active parameters (MoE), 0 otherwise
};

// The published figures named in the foundation issue and the model cards (data/models/README.md).
constexpr Published kPublished[] = {
    {"gpt2", 124439808, 0},           {"gpt2-xl", 1557611200, 0},
    {"gpt3-175b", 175e9, 0},          {"llama-2-7b", 6.74e9, 0},
    {"llama-2-13b", 13.0e9, 0},       {"llama-2-70b", 68.98e9, 0},
    {"llama-3-8b", 8.03e9, 0},        {"llama-3-70b", 70.55e9, 0},
    {"llama-3.1-8b", 8.03e9, 0},      {"llama-3.1-70b", 70.55e9, 0},
    {"llama-3.1-405b", 405.85e9, 0},  {"mistral-7b", 7.24e9, 0},
    {"mixtral-8x7b", 46.7e9, 12.9e9}, {"mixtral-8x22b", 140.6e9, 39e9},
    {"qwen2.5-7b", 7.61e9, 0},        {"qwen2.5-72b", 72.7e9, 0},
    {"gemma-2-9b", 9.24e9, 0},        {"phi-3-mini", 3.82e9, 0},
    {"deepseek-v3", 671e9, 37e9},     {"bert-large", 335141888, 0},
    {"vit-l-16", 304326632, 0},       {"resnet-50", 25557032, 0},
    {"dit-xl-2", 675129632, 0},       {"sd-1.5-unet", 859520964, 0},
};

class PublishedCount : public ::testing::TestWithParam<Published> {};

TEST_P(PublishedCount, WithinHalfAPercent) {
  const Published& p = GetParam();
  perf::OpGraph g = Graph(p.id);
  double total = g.TotalParams();
  EXPECT_NEAR(total / p.total, 1.0, 0.005) << p.id << ": computed " << total << " vs published " << p.total;
  if (p.active > 0) {
    // Published active counts are rounded to the nearest billion ("37B" for DeepSeek-V3, whose
    // routed-expert arithmetic gives 37.5B): within 2%.
    EXPECT_NEAR(g.ActiveParams() / p.active, 1.0, 0.02)
        << p.id << ": active " << g.ActiveParams() << " vs published " << p.active;
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, PublishedCount, ::testing::ValuesIn(kPublished),
                         [](const auto& info) {
                           std::string n = info.param.id;
                           for (char& c : n) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(ModelZoo, EveryZooModelHasAPublishedCountWithinHalfAPercent) {
  ASSERT_GE(Zoo().models().size(), 24u);
  for (const ModelSpec& m : Zoo().models()) {
    if (m.published.total_b <= 0) continue;
    Result<perf::OpGraph> g = perf::BuildOpGraph(m, 0);
    ASSERT_TRUE(g.ok()) << m.id;
    double pub = m.published.exact > 0 ? static_cast<double>(m.published.exact) : m.published.total_b * 1e9;
    // Rounded published figures (e.g. "0.34B") carry their own rounding error.
    double rounding = m.published.exact > 0 ? 0.0 : 0.5 * std::pow(10.0, std::floor(std::log10(m.published.total_b)) - 2) / m.published.total_b;
    EXPECT_NEAR(g->TotalParams() / pub, 1.0, 0.005 + rounding) << m.id;
  }
}

TEST(ModelZoo, ExactCountsMatchToTheParameter) {
  EXPECT_EQ(Graph("gpt2").TotalParams(), 124439808);
  EXPECT_EQ(Graph("llama-2-7b").TotalParams(), 6738415616);
  EXPECT_EQ(Graph("llama-3-8b").TotalParams(), 8030261248);
  EXPECT_EQ(Graph("resnet-50").TotalParams(), 25557032);
  EXPECT_EQ(Graph("vit-l-16").TotalParams(), 304326632);
  EXPECT_EQ(Graph("mixtral-8x7b").TotalParams(), 46702792704);
}

TEST(ModelZoo, TrainingFlopsAreSixNPlusAttention) {
  // Llama-2-7B at s=4096: 6 x non-embedding params + 3 x (4 s d_attn per layer) + 6 h V for the head.
  perf::OpGraph g = Graph("llama-2-7b");
  Result<ModelSpec> m = Zoo().Resolve("llama-2-7b");
  ASSERT_TRUE(m.ok());
  Result<perf::OpGraph> g4k = perf::BuildOpGraph(*m, 4096);
  ASSERT_TRUE(g4k.ok());
  double n_layers = 32 * (4.0 * 4096 * 4096 + 3.0 * 4096 * 11008);
  double expected = 6 * n_layers + 3 * 32 * 4.0 * 4096 * 4096 + 6.0 * 4096 * 32000;
  EXPECT_NEAR(g4k->TrainFlopsPerUnit() / expected, 1.0, 1e-12);
}

TEST(ModelZoo, AliasesResolveAndUnknownNamesSuggest) {
  EXPECT_TRUE(Zoo().Resolve("LLAMA3-8B").ok());
  Result<ModelSpec> bad = Zoo().Resolve("llama-3-8");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_NE(bad.status().message().find("did you mean"), std::string::npos) << bad.status().message();
}

struct HfCase {
  const char* file;
  const char* zoo_id;
};

class HfImport : public ::testing::TestWithParam<HfCase> {};

TEST_P(HfImport, MatchesTheZooEntry) {
  const HfCase& c = GetParam();
  Result<ModelSpec> hf = ReadModelFile(std::string(DLCOST_TEST_DATA_DIR) + "/models/hf/" + c.file);
  ASSERT_TRUE(hf.ok()) << hf.status().message();
  Result<perf::OpGraph> g = perf::BuildOpGraph(*hf, 0);
  ASSERT_TRUE(g.ok());
  perf::OpGraph z = Graph(c.zoo_id);
  EXPECT_NEAR(g->TotalParams() / z.TotalParams(), 1.0, 0.002) << c.file;
  EXPECT_NEAR(g->ActiveParams() / z.ActiveParams(), 1.0, 0.002) << c.file;
}

INSTANTIATE_TEST_SUITE_P(
    Configs, HfImport,
    ::testing::Values(HfCase{"llama-2-7b.json", "llama-2-7b"}, HfCase{"llama-3.1-8b.json", "llama-3.1-8b"},
                      HfCase{"llama-3.1-70b.json", "llama-3.1-70b"},
                      HfCase{"mixtral-8x7b-v0.1.json", "mixtral-8x7b"},
                      HfCase{"qwen2.5-7b-instruct.json", "qwen2.5-7b"},
                      HfCase{"deepseek-v3.json", "deepseek-v3"}),
    [](const auto& info) {
      std::string n = info.param.zoo_id;
      for (char& c : n) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
      return n;
    });

TEST(HfImport, MistralV03HasTheLargerVocabulary) {
  Result<ModelSpec> hf = ReadModelFile(std::string(DLCOST_TEST_DATA_DIR) + "/models/hf/mistral-7b-instruct-v0.3.json");
  ASSERT_TRUE(hf.ok()) << hf.status().message();
  EXPECT_EQ(hf->vocab, 32768);
  Result<perf::OpGraph> g = perf::BuildOpGraph(*hf, 0);
  ASSERT_TRUE(g.ok());
  EXPECT_NEAR(g->TotalParams(), 7.248e9, 0.005e9);  // Mistral-7B-v0.3: 7.25B
}

TEST(SlidingWindow, WindowedLayersAttendToAtMostTheirWindow) {
  // gpt-oss-120b at 4,096 tokens: 18 of 36 layers attend to 128 keys. In the op's full-matrix
  // convention a windowed causal layer costs 2w - w^2/s keys per query, a full one s.
  Result<ModelSpec> m = Zoo().Resolve("gpt-oss-120b");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->sliding_window, 128);
  EXPECT_EQ(m->sliding_window_layers, 18);
  Result<perf::OpGraph> g = perf::BuildOpGraph(*m, 4096);
  ASSERT_TRUE(g.ok());
  double s = 4096, w = 128;
  double expected_kv = (18 * s + 18 * (2 * w - w * w / s)) / 36;
  bool found = false;
  for (const perf::LayerGroup& grp : g->groups) {
    for (const perf::Op& op : grp.ops) {
      if (op.kind != perf::OpKind::kAttention) continue;
      found = true;
      EXPECT_NEAR(op.attn_kv_len, expected_kv, 1e-9);
      EXPECT_NEAR(op.fwd_flops, 2.0 * expected_kv * 64 * (64 + 64), 1e-6);
    }
  }
  EXPECT_TRUE(found);
  // A context no longer than the window attends to all of it.
  Result<perf::OpGraph> short_ctx = perf::BuildOpGraph(*m, 128);
  ASSERT_TRUE(short_ctx.ok());
  for (const perf::LayerGroup& grp : short_ctx->groups) {
    for (const perf::Op& op : grp.ops) {
      if (op.kind == perf::OpKind::kAttention) EXPECT_DOUBLE_EQ(op.attn_kv_len, 128.0);
    }
  }
}

TEST(SlidingWindow, HfConfigsSayWhichLayersUseIt) {
  // Qwen2.5 ships a window with use_sliding_window false; Mistral v0.3 and Mixtral set it null.
  for (const char* file : {"qwen2.5-7b-instruct.json", "mistral-7b-instruct-v0.3.json", "mixtral-8x7b-v0.1.json"}) {
    Result<ModelSpec> hf = ReadModelFile(std::string(DLCOST_TEST_DATA_DIR) + "/models/hf/" + file);
    ASSERT_TRUE(hf.ok()) << hf.status().message();
    EXPECT_EQ(hf->sliding_window, 0) << file;
  }
  // layer_types counts the sliding layers; without it Mistral windows every layer and Gemma 2
  // every other one.
  nlohmann::json base = {{"model_type", "mistral"}, {"hidden_size", 512}, {"num_hidden_layers", 4},
                         {"num_attention_heads", 8}, {"intermediate_size", 1024}, {"vocab_size", 1000},
                         {"sliding_window", 256}};
  Result<ModelSpec> all = ParseModelJson(base, "cfg.json");
  ASSERT_TRUE(all.ok()) << all.status().message();
  EXPECT_EQ(all->sliding_window, 256);
  EXPECT_EQ(all->sliding_window_layers, 4);
  nlohmann::json typed = base;
  typed["layer_types"] = {"sliding_attention", "full_attention", "sliding_attention", "full_attention"};
  Result<ModelSpec> half = ParseModelJson(typed, "cfg.json");
  ASSERT_TRUE(half.ok()) << half.status().message();
  EXPECT_EQ(half->sliding_window_layers, 2);
  nlohmann::json gemma = base;
  gemma["model_type"] = "gemma2";
  Result<ModelSpec> g2 = ParseModelJson(gemma, "cfg.json");
  ASSERT_TRUE(g2.ok()) << g2.status().message();
  EXPECT_EQ(g2->sliding_window_layers, 2);
  nlohmann::json wrong = base;
  wrong["layer_types"] = {"sliding_attention"};
  Result<ModelSpec> bad = ParseModelJson(wrong, "cfg.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("layer_types"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace dlcost
