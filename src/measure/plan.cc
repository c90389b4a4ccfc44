// What gets measured: microbenchmark shapes, probe and overhead models, the sweep grid, and
// cutting a model to the layers a measurement runs.
#include <algorithm>

#include <fmt/format.h>

#include "dlcost/measure.h"
#include "dlcost/op_graph.h"

namespace dlcost::measure {
namespace {

// A dense transformer in one of the block styles of BlockStyle().
ModelSpec MakeSpec(const std::string& id, const std::string& style, int64_t hidden, int64_t heads, int64_t kv_heads,
                   int64_t ffn, int64_t vocab, int64_t layers) {
  ModelSpec m;
  m.id = id;
  m.name = id;
  m.family = "synthetic";
  m.kind = ModelKind::kDecoder;
  m.origin = "dlcost measure (synthetic)";
  m.hidden = hidden;
  m.layers = layers;
  m.heads = heads;
  m.kv_heads = kv_heads;
  m.head_dim = hidden / heads;
  m.ffn = ffn;
  m.vocab = vocab;
  m.max_seq = 8192;
  if (style == "gelu") {
    // GPT-2 (Radford et al. 2019): LayerNorm, learned positions, biases, tied LM head.
    m.ffn_act = FfnAct::kGelu;
    m.norm = NormKind::kLayerNorm;
    m.position = PositionKind::kLearned;
    m.linear_bias = true;
    m.tie_embeddings = true;
  } else {
    // Llama (Touvron et al. 2023): RMSNorm, RoPE, SwiGLU, no biases, untied LM head.
    m.ffn_act = FfnAct::kSwiglu;
    m.norm = NormKind::kRmsNorm;
    m.position = PositionKind::kRope;
    m.linear_bias = false;
    m.tie_embeddings = false;
  }
  return m;
}

ModelSpec MakeMoe(const std::string& id, int64_t hidden, int64_t heads, int64_t kv_heads, int64_t expert_ffn,
                  int64_t experts, int64_t top_k, int64_t vocab, int64_t layers) {
  ModelSpec m = MakeSpec(id, "gated", hidden, heads, kv_heads, expert_ffn, vocab, layers);
  MoeSpec e;
  e.experts = experts;
  e.top_k = top_k;
  e.expert_ffn = expert_ffn;
  m.moe = e;
  return m;
}

}  // namespace

std::vector<GemmShape> GemmGrid(Device device, bool quick) {
  // Shapes of transformer training and decoding on a CPU, by family: weight-bound (few rows,
  // as in decoding), one small dimension (attention score and value products, 64-wide heads),
  // square, tall (tokens >> hidden) and wide (the LM head). Arithmetic intensity spans about
  // 2 to 1,400 FLOPs per element. FLOPs per call stay under ~4 GFLOP so the quick plan fits in
  // seconds on two cores.
  std::vector<GemmShape> cpu = {
      {1, 1024, 1024},   {4, 2048, 2048},  {16, 1024, 4096}, {32, 2048, 512},   {64, 64, 64},
      {256, 64, 256},    {1024, 64, 1024}, {512, 512, 64},   {128, 128, 128},   {256, 256, 256},
      {512, 512, 512},   {1024, 1024, 1024}, {512, 256, 768}, {1024, 256, 1024}, {2048, 512, 512},
      {4096, 256, 256},  {1024, 768, 768}, {2048, 512, 1536}, {128, 256, 8192}, {256, 512, 8192},
  };
  std::vector<GemmShape> cpu_full_extra = {
      {1, 4096, 1024},  {8, 512, 512},    {2048, 64, 2048}, {64, 512, 32768}, {768, 768, 3072},
      {2048, 1024, 256}, {384, 384, 384}, {96, 768, 768},
  };
  if (device == Device::kCuda) {
    // The same families, scaled up by 4-8x in each dimension: GPUs need far more work per call
    // to approach their peak.
    std::vector<GemmShape> gpu;
    for (const GemmShape& s : cpu) {
      int64_t m = s.m <= 32 ? s.m : s.m * 4;
      gpu.push_back({m, std::min<int64_t>(s.k * 4, 16384), std::min<int64_t>(s.n * 4, 32768)});
    }
    if (!quick) {
      gpu.push_back({8192, 8192, 8192});
      gpu.push_back({16384, 4096, 14336});
      gpu.push_back({8192, 4096, 128256});
    }
    return gpu;
  }
  if (!quick) cpu.insert(cpu.end(), cpu_full_extra.begin(), cpu_full_extra.end());
  return cpu;
}

std::string BlockStyle(const ModelSpec& m) {
  if (m.moe) return "moe";
  return m.ffn_act == FfnAct::kGelu ? "gelu" : "gated";
}

ModelSpec OverheadModel(const std::string& style, int64_t layers, int64_t experts) {
  // Widths of a few dozen elements: every operator is dispatched but does almost no work.
  if (style == "moe") return MakeMoe("overhead-moe", 64, 4, 2, 64, experts, 2, 128, layers);
  if (style == "gelu") return MakeSpec("overhead-gelu", "gelu", 64, 4, 4, 256, 128, layers);
  return MakeSpec("overhead-gated", "gated", 64, 4, 2, 128, 128, layers);
}

ModelSpec ProbeModel(const std::string& style, Device device) {
  if (device == Device::kCuda) {
    return style == "gelu" ? MakeSpec("probe-gelu", "gelu", 2048, 16, 16, 8192, 32000, 1)
                           : MakeSpec("probe-gated", "gated", 2048, 16, 4, 5632, 32000, 1);
  }
  return style == "gelu" ? MakeSpec("probe-gelu", "gelu", 512, 8, 8, 2048, 8192, 1)
                         : MakeSpec("probe-gated", "gated", 512, 8, 2, 1408, 8192, 1);
}

std::vector<ProbeShape> ElementwiseShapes(Device device) {
  if (device == Device::kCuda) return {{4, 2048}, {8, 4096}};
  // The quick plan times these too (they take milliseconds): one shape alone let a single lucky
  // or unlucky timing set the memory fraction.
  return {{1, 256}, {4, 256}};
}

std::vector<ProbeShape> AttentionShapes(Device device, bool quick) {
  if (device == Device::kCuda) return {{4, 1024}, {1, 4096}};
  if (quick) return {{2, 128}, {1, 512}};
  return {{4, 64}, {2, 256}, {1, 1024}};
}

Result<ModelSpec> CutModel(const ModelSpec& model, int64_t layers) {
  if (!model.IsLanguageModel()) {
    return InvalidInput(fmt::format("--model: {} is a {} model; dlcost measure runs decoder and encoder language models",
                                    model.id, ModelKindName(model.kind)));
  }
  if (model.mla) {
    return InvalidInput(fmt::format("--model: {} uses multi-head latent attention, which the measurement runner does "
                                    "not build",
                                    model.id));
  }
  if (model.hidden <= 0 || model.heads <= 0 || model.vocab <= 0 || model.layers <= 0) {
    return InvalidInput(fmt::format("--model: {} lacks hidden, heads, vocab or layers", model.id));
  }
  int64_t kv = model.kv_heads > 0 ? model.kv_heads : model.heads;
  if (model.heads % kv != 0) {
    return InvalidInput(fmt::format("--model: {} has {} heads, not a multiple of its {} key/value heads", model.id,
                                    model.heads, kv));
  }
  if (layers < 1) return InvalidInput("--layers: must be at least 1");
  if (layers > model.layers) {
    return InvalidInput(fmt::format("--layers: {} has only {} layers", model.id, model.layers));
  }
  ModelSpec m = model;
  m.kv_heads = kv;
  m.layers = layers;
  if (m.moe) m.moe->first_dense_layers = std::min(m.moe->first_dense_layers, layers);
  m.mtp_layers = 0;
  return m;
}

std::vector<SweepCase> SweepGrid(Device device, Dtype dtype, bool tiny) {
  std::vector<SweepCase> out;
  auto add = [&](std::string name, std::string regime, ModelSpec m, int64_t b, int64_t s) {
    SweepCase c;
    c.name = std::move(name);
    c.regime = std::move(regime);
    c.model = std::move(m);
    c.batch = b;
    c.seq = s;
    c.dtype = dtype;
    out.push_back(std::move(c));
  };
  if (tiny) {
    add("tiny-gated", "overhead-bound", MakeSpec("tiny-gated", "gated", 64, 4, 2, 128, 256, 2), 1, 16);
    add("tiny-gelu", "overhead-bound", MakeSpec("tiny-gelu", "gelu", 64, 4, 4, 256, 256, 1), 2, 16);
    add("tiny-moe", "overhead-bound", MakeMoe("tiny-moe", 64, 4, 2, 64, 4, 2, 256, 1), 1, 16);
    return out;
  }
  if (device == Device::kCuda) {
    ModelSpec l1 = MakeSpec("llama-1b-like", "gated", 2048, 16, 4, 5632, 32000, 4);
    ModelSpec l2 = MakeSpec("llama-3b-like", "gated", 3072, 24, 8, 8192, 32000, 2);
    ModelSpec g = MakeSpec("gpt-1b-like", "gelu", 2048, 16, 16, 8192, 50257, 4);
    ModelSpec moe = MakeMoe("moe-like", 2048, 16, 4, 2816, 8, 2, 32000, 2);
    add("llama-1b-like b1 s128", "memory/overhead-bound", l1, 1, 128);
    add("llama-1b-like b8 s1024", "compute-bound", l1, 8, 1024);
    add("llama-1b-like b1 s8192", "attention-heavy", l1, 1, 8192);
    add("llama-1b-like b32 s2048", "compute-bound", l1, 32, 2048);
    add("llama-3b-like b4 s2048", "compute-bound", l2, 4, 2048);
    add("llama-3b-like b1 s256", "memory/overhead-bound", l2, 1, 256);
    add("gpt-1b-like b8 s1024", "compute-bound", g, 8, 1024);
    add("gpt-1b-like b1 s128", "memory/overhead-bound", g, 1, 128);
    add("moe-like b8 s1024", "moe", moe, 8, 1024);
    add("moe-like b1 s256", "moe, memory/overhead-bound", moe, 1, 256);
    add("llama-1b-like b2 s4096", "attention-heavy", l1, 2, 4096);
    add("gpt-1b-like b2 s2048", "compute-bound", g, 2, 2048);
    return out;
  }
  // CPU: sizes a two-core machine steps through in well under a second each.
  ModelSpec ls = MakeSpec("llama-s", "gated", 512, 8, 2, 1408, 8192, 4);
  ModelSpec lm = MakeSpec("llama-m", "gated", 768, 12, 4, 2048, 16384, 2);
  ModelSpec lt = MakeSpec("llama-t", "gated", 256, 4, 2, 704, 4096, 2);
  ModelSpec gs = MakeSpec("gpt-s", "gelu", 512, 8, 8, 2048, 8192, 4);
  ModelSpec moe = MakeMoe("moe-s", 512, 8, 2, 704, 8, 2, 8192, 2);
  add("llama-t b1 s16", "overhead-bound", lt, 1, 16);
  add("llama-s b1 s64", "memory-bound (weights, optimizer)", ls, 1, 64);
  add("llama-s b4 s128", "compute-bound", ls, 4, 128);
  add("llama-s b1 s1024", "attention-heavy", ls, 1, 1024);
  add("llama-m b1 s32", "memory-bound (weights, optimizer)", lm, 1, 32);
  add("llama-m b2 s256", "compute-bound", lm, 2, 256);
  add("gpt-s b2 s128", "compute-bound", gs, 2, 128);
  add("gpt-s b1 s512", "attention-heavy", gs, 1, 512);
  add("moe-s b2 s128", "moe", moe, 2, 128);
  add("moe-s b1 s32", "moe, memory-bound", moe, 1, 32);
  add("llama-s b8 s64", "compute-bound", ls, 8, 64);
  return out;
}

}  // namespace dlcost::measure
