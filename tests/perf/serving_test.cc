// Serving estimator: formats, memory, decode/prefill regimes, speculative decoding, MoE,
// sparsity, latency targets and the inference validator.
#include <cmath>

#include <gtest/gtest.h>

#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/serving.h"
#include "dlcost/units.h"
#include "dlcost/op_graph.h"
#include "perf/serving_pass.h"

namespace dlcost {
namespace {

struct Fixture {
  HardwareCatalog hw;
  ModelCatalog zoo;
  std::vector<EngineProfile> engines;
};

const Fixture& F() {
  static Fixture* f = [] {
    auto* x = new Fixture{*HardwareCatalog::Load(DLCOST_TEST_DATA_DIR), *ModelCatalog::Load(DLCOST_TEST_DATA_DIR),
                          *LoadEngines(DLCOST_TEST_DATA_DIR)};
    return x;
  }();
  return *f;
}

struct Case {
  ModelSpec model;
  SystemSpec sys;
  EfficiencyProfile eff;
  EngineProfile engine;
};

Case MakeCase(const char* model, const char* gpu) {
  Case r;
  r.model = *F().zoo.Resolve(model);
  Accelerator a = *F().hw.Resolve(gpu);
  r.sys = *MakeSystem(F().hw, a, 0, 0);
  r.eff = *LoadEfficiency(std::string(DLCOST_TEST_DATA_DIR) + "/efficiency/default.json", a.id);
  r.engine = *ResolveEngine(F().engines, "generic");
  return r;
}

ServingSetup Base(int64_t in = 512, int64_t out = 256) {
  ServingSetup s;
  s.weights = *ParseNumberFormat("fp16", "--weights");
  s.input_len = in;
  s.output_len = out;
  return s;
}

TEST(ServingFormats, BitsIncludeBlockScales) {
  EXPECT_DOUBLE_EQ(ParseNumberFormat("q4_0", "w")->bits, 4.5);
  EXPECT_DOUBLE_EQ(ParseNumberFormat("q8_0", "w")->bits, 8.5);
  EXPECT_DOUBLE_EQ(ParseNumberFormat("int4", "w")->bits, 4.125);
  EXPECT_DOUBLE_EQ(ParseNumberFormat("fp8", "w")->bits, 8);
  EXPECT_TRUE(ParseNumberFormat("int4", "w")->block_quantized);
  Result<NumberFormat> bad = ParseNumberFormat("int3", "--weights");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--weights"), std::string::npos);
}

TEST(ServingMemory, WeightsAndKvPerTokenFromTheConfig) {
  Case r = MakeCase("llama-3-8b", "h100-sxm-80gb");
  ServingSetup s = Base();
  Result<ServingEstimate> e = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(e.ok()) << e.status().message();
  // 8,030,261,248 parameters x 2 bytes.
  EXPECT_NEAR(e->weights_bytes, 8030261248.0 * 2, 1e3);
  // 32 layers x (K and V) x 8 KV heads x 128 x 2 bytes = 128 KiB per token.
  EXPECT_DOUBLE_EQ(e->kv_bytes_per_token, 32.0 * 2 * 8 * 128 * 2);
  EXPECT_DOUBLE_EQ(e->kv_bytes_per_sequence, e->kv_bytes_per_token * (512 + 256));
  EXPECT_EQ(e->max_concurrency, static_cast<int64_t>(e->kv_budget_bytes / e->kv_bytes_per_sequence));
  // TP splits the KV heads; past 8 ranks each GPU keeps one head.
  s.tp = 2;
  EXPECT_DOUBLE_EQ(EstimateServing(r.model, r.sys, s, r.eff, r.engine)->kv_bytes_per_token, 32.0 * 2 * 4 * 128 * 2);
  s.tp = 16;
  s.num_gpus = 16;
  Result<ServingEstimate> t16 = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  if (t16.ok()) {
    EXPECT_DOUBLE_EQ(t16->kv_bytes_per_token, 32.0 * 2 * 1 * 128 * 2);
  }
  // fp8 KV halves it; int4 weights are a quarter of fp16 plus scales.
  s = Base();
  s.kv_cache = *ParseNumberFormat("fp8", "kv");
  s.weights = *ParseNumberFormat("int4", "w");
  Result<ServingEstimate> q = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(q.ok());
  EXPECT_DOUBLE_EQ(q->kv_bytes_per_token, 32.0 * 2 * 8 * 128);
  EXPECT_NEAR(q->weights_bytes / e->weights_bytes, 4.125 / 16, 0.01);
}

TEST(ServingTime, SingleStreamDecodeIsBoundByReadingTheWeights) {
  Case r = MakeCase("llama-2-7b", "a100-sxm-80gb");
  ServingSetup s = Base(128, 128);
  s.mode = ServingMode::kSingleStream;
  Result<ServingEstimate> e = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(e.ok());
  double floor_s = e->weights_bytes / (2039e9 * r.eff.memory_fraction);
  EXPECT_GT(e->tpot_s, floor_s);
  EXPECT_LT(e->tpot_s, 1.3 * floor_s);
  // Prefill of 2,048 tokens is compute bound: at least 2 x params x tokens at the GEMM peak.
  s.input_len = 2048;
  Result<ServingEstimate> p = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  EXPECT_GT(p->ttft_s, 2 * 6.74e9 * 2048 / 312e12);
}

TEST(ServingTime, EngineFactorScalesEveryPassOfItsGeneration) {
  // docs/serving.md, "Engine factors": time(pass) = f * kernel model + step overhead.
  Case r = MakeCase("llama-3-8b", "h100-sxm-80gb");
  ServingSetup s = Base(1024, 128);
  s.mode = ServingMode::kSingleStream;
  Result<ServingEstimate> base = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(base.ok());
  r.engine.factors = {{"hopper", "", 1.5, 10, 3}, {"ampere", "", 3.0, 10, 3}};
  Result<ServingEstimate> f = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(f.ok());
  EXPECT_NEAR(f->tpot_s / base->tpot_s, 1.5, 1e-9);
  EXPECT_NEAR(f->ttft_s / base->ttft_s, 1.5, 1e-9);
  bool noted = false;
  for (const std::string& a : f->assumptions) noted = noted || a.find("1.50x the kernel model") != std::string::npos;
  EXPECT_TRUE(noted);
  // The host overhead per iteration is added after the factor, not scaled by it.
  r.engine.step_overhead_s = 0.01;
  Result<ServingEstimate> o = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  EXPECT_NEAR(o->tpot_s, 1.5 * base->tpot_s + 0.01, 1e-9);
}

TEST(ServingTime, ThroughputRisesWithConcurrencyAndLatencyToo) {
  Case r = MakeCase("llama-3-8b", "h100-sxm-80gb");
  double last_tps = 0, last_tpot = 0;
  for (int64_t c : {1, 8, 64, 256}) {
    ServingSetup s = Base();
    s.concurrency = c;
    Result<ServingEstimate> e = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
    ASSERT_TRUE(e.ok());
    EXPECT_GT(e->output_tok_s, last_tps);
    EXPECT_GE(e->tpot_s, last_tpot);
    last_tps = e->output_tok_s;
    last_tpot = e->tpot_s;
  }
}

TEST(ServingTime, ClientsBeyondWhatFitsQueueAndWait) {
  Case r = MakeCase("llama-3-8b", "h100-sxm-80gb");
  ServingSetup s = Base(4096, 4096);
  s.batch = 100000;  // lift the engine cap: memory binds
  Result<ServingEstimate> fit = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(fit.ok()) << fit.status().message();
  int64_t n = fit->max_concurrency;
  EXPECT_EQ(fit->binding, "memory");
  s.concurrency = 3 * n;
  Result<ServingEstimate> e = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->concurrency, n);
  EXPECT_EQ(e->queued, 2 * n);
  // Throughput is that of the n running; the wait is 2 request latencies (closed loop).
  EXPECT_NEAR(e->output_tok_s, fit->output_tok_s, 1e-6 * fit->output_tok_s);
  EXPECT_NEAR(e->queue_wait_s, 2 * fit->request_latency_s, 1e-9 * fit->request_latency_s);
  EXPECT_NEAR(e->ttft_s, fit->ttft_s + e->queue_wait_s, 1e-9);
}

TEST(ServingSpec, GainShrinksAsLoadRises) {
  Case r = MakeCase("llama-3-8b", "h100-sxm-80gb");
  ServingSetup s = Base(128, 2048);
  s.spec = SpecDecode{"eagle", 3, 0.5};
  s.concurrency = 1;
  Result<ServingEstimate> lo = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(lo.ok()) << lo.status().message();
  // Leviathan et al. 2023: (1 - 0.5^4) / (1 - 0.5) = 1.875 tokens per verify step.
  EXPECT_DOUBLE_EQ(lo->spec_tokens_per_step, 1.875);
  EXPECT_GT(lo->spec_speedup, 1.2);
  s.concurrency = 200;
  Result<ServingEstimate> hi = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(hi.ok());
  EXPECT_LT(hi->spec_speedup, lo->spec_speedup);
  EXPECT_LT(hi->spec_speedup, 1.0);  // a loss at high load for a decode-heavy workload
  s.spec->accept = 1.0;
  EXPECT_FALSE(EstimateServing(r.model, r.sys, s, r.eff, r.engine).ok());
}

TEST(ServingMoe, OneTokenReadsOnlyItsExperts) {
  Case r = MakeCase("mixtral-8x7b", "h100-sxm-80gb");
  ServingSetup s = Base(128, 128);
  s.mode = ServingMode::kSingleStream;
  s.weights = *ParseNumberFormat("fp8", "w");
  Result<ServingEstimate> e = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(e.ok()) << e.status().message();
  double all_weights_s = e->weights_bytes / (3350e9 * r.eff.memory_fraction);
  // Top-2 of 8 experts: well under half of the weights are read per token.
  EXPECT_LT(e->tpot_s, 0.5 * all_weights_s);
}

TEST(ServingSlidingWindow, WindowedLayersCacheOnlyTheirWindow) {
  // gpt-oss-120b on 4 H100s at 4,096 + 1,024 tokens: 18 of 36 layers keep 128 keys, so a
  // sequence caches (18 x 5120 + 18 x 128) / 36 keys per layer on average instead of 5120.
  Case r = MakeCase("gpt-oss-120b", "h100-sxm-80gb");
  ServingSetup s = Base(4096, 1024);
  s.tp = 4;
  Result<ServingEstimate> windowed = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(windowed.ok()) << windowed.status().message();
  ModelSpec full = r.model;
  full.sliding_window = 0;
  full.sliding_window_layers = 0;
  Result<ServingEstimate> unwindowed = EstimateServing(full, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(unwindowed.ok()) << unwindowed.status().message();
  EXPECT_NEAR(windowed->kv_bytes_per_sequence / unwindowed->kv_bytes_per_sequence, (5120.0 + 128.0) / (2 * 5120.0),
              1e-9);
  EXPECT_GE(windowed->max_concurrency, unwindowed->max_concurrency);
  EXPECT_GT(windowed->output_tok_s, unwindowed->output_tok_s);
  // A context within the window caches everything.
  EXPECT_DOUBLE_EQ(perf::WindowedKeys(r.model, 100.0), 100.0);
  EXPECT_DOUBLE_EQ(perf::WindowedKeys(r.model, 1000.0), (1000.0 + 128.0) / 2);
}

TEST(ServingSparsity, TwoFourNeedsSparseTensorCores) {
  Case r = MakeCase("llama-3-8b", "apple-m1");
  ServingSetup s = Base();
  s.sparsity_2_4 = true;
  s.mode = ServingMode::kSingleStream;
  Result<ServingEstimate> e = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("--sparsity"), std::string::npos);
  Case h = MakeCase("llama-3-8b", "h100-sxm-80gb");
  ServingSetup d = Base();
  Result<ServingEstimate> dense = EstimateServing(h.model, h.sys, d, h.eff, h.engine);
  d.sparsity_2_4 = true;
  Result<ServingEstimate> sparse = EstimateServing(h.model, h.sys, d, h.eff, h.engine);
  ASSERT_TRUE(sparse.ok());
  EXPECT_LT(sparse->weights_bytes, 0.6 * dense->weights_bytes);
  EXPECT_GT(sparse->output_tok_s, dense->output_tok_s);
}

TEST(ServingTargets, HighestConcurrencyMeetingTpot) {
  Case r = MakeCase("llama-3-8b", "h100-sxm-80gb");
  ServingSetup s = Base();
  s.tpot_target_s = 0.012;
  Result<ServingEstimate> e = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(e.ok());
  EXPECT_LE(e->tpot_s, 0.012);
  ServingSetup one_more = Base();
  one_more.concurrency = e->concurrency + 1;
  EXPECT_GT(EstimateServing(r.model, r.sys, one_more, r.eff, r.engine)->tpot_s, 0.012);
  s.tpot_target_s = 1e-6;
  Result<ServingEstimate> none = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kInfeasible);
}

TEST(ServingLoad, ReplicasForTheOfferedQps) {
  Case r = MakeCase("llama-3-8b", "h100-sxm-80gb");
  ServingSetup s = Base();
  Result<ServingEstimate> one = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  s.qps = one->req_s * 3.5;
  Result<ServingEstimate> e = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e->gpus_needed, 4);
}

TEST(ServingImages, DiffusionCostsStepsTimesTheDenoiser) {
  Case r = MakeCase("sd-1.5-unet", "a100-sxm-80gb");
  ServingSetup s = Base();
  s.denoise_steps = 50;
  Result<ServingEstimate> a = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  ASSERT_TRUE(a.ok()) << a.status().message();
  s.denoise_steps = 25;
  Result<ServingEstimate> b = EstimateServing(r.model, r.sys, s, r.eff, r.engine);
  EXPECT_NEAR(a->image_latency_s / b->image_latency_s, 2.0, 1e-9);
  EXPECT_EQ(a->unit, "image");
}

}  // namespace
}  // namespace dlcost
