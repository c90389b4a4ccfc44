// The training estimator in the regimes of today's runs: sharded data parallelism at scale,
// uneven pipeline stages, power-capped GPUs, attention kernels per GPU generation and the
// setup choices that name them (docs/training.md).
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "dlcost/efficiency.h"
#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/run_cost.h"
#include "dlcost/system.h"
#include "dlcost/training.h"

namespace dlcost {
namespace {

// Llama-3-8B's shape (Dubey et al. 2024, Table 3).
ModelSpec Llama8b() {
  ModelSpec m;
  m.id = "llama-3-8b";
  m.kind = ModelKind::kDecoder;
  m.hidden = 4096;
  m.layers = 32;
  m.heads = 32;
  m.kv_heads = 8;
  m.head_dim = 128;
  m.ffn = 14336;
  m.ffn_act = FfnAct::kSwiglu;
  m.vocab = 128256;
  m.max_seq = 8192;
  return m;
}

struct Gpu {
  SystemSpec sys;
  EfficiencyProfile eff;
};

Gpu Load(const std::string& id) {
  Result<HardwareCatalog> hw = HardwareCatalog::Load(DLCOST_TEST_DATA_DIR);
  EXPECT_TRUE(hw.ok()) << hw.status().message();
  Result<Accelerator> a = hw->Resolve(id);
  EXPECT_TRUE(a.ok()) << a.status().message();
  Result<SystemSpec> sys = MakeSystem(*hw, *a, 0, 0);
  EXPECT_TRUE(sys.ok());
  Result<EfficiencyProfile> eff = LoadEfficiency(std::string(DLCOST_TEST_DATA_DIR) + "/efficiency/default.json", id);
  EXPECT_TRUE(eff.ok()) << eff.status().message();
  return {*sys, *eff};
}

TrainingSetup Fsdp(int64_t gpus, int64_t global_batch, int64_t seq = 8192) {
  TrainingSetup s;
  s.num_gpus = gpus;
  s.seq_len = seq;
  s.tp = 1;
  s.pp = 1;
  s.micro_batch = 1;
  s.global_batch = global_batch;
  s.zero = 3;
  s.recompute = Recompute::kSelective;
  return s;
}

double TokensPerGpu(const ModelSpec& m, const Gpu& g, const TrainingSetup& s) {
  Result<TrainingEstimate> e = EstimateTraining(m, g.sys, s, g.eff);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return e.ok() ? e->tokens_per_s / static_cast<double>(s.num_gpus) : 0;
}

TEST(ShardedDataParallel, FixedGlobalBatchCollapsesAtLargeDp) {
  // One 2,048-token micro-batch per GPU: on 8 GPUs the per-layer gathers run over NVLink and
  // mostly hide; on 1,024 GPUs they cross the network as a 1,023-step ring and no longer hide
  // under one micro-batch's compute, so throughput per GPU falls by a third or more.
  Gpu h100 = Load("h100-sxm-80gb");
  double small = TokensPerGpu(Llama8b(), h100, Fsdp(8, 8, 2048));
  double large = TokensPerGpu(Llama8b(), h100, Fsdp(1024, 1024, 2048));
  EXPECT_LT(large, 0.7 * small) << small << " vs " << large;
  Result<TrainingEstimate> e = EstimateTraining(Llama8b(), h100.sys, Fsdp(1024, 1024, 2048), h100.eff);
  ASSERT_TRUE(e.ok());
  EXPECT_GT(e->time_comm_dp_s, 0.3 * e->time_step_s);
}

TEST(ShardedDataParallel, HybridShardingKeepsGathersInTheNode) {
  Gpu h100 = Load("h100-sxm-80gb");
  TrainingSetup full = Fsdp(1024, 1024, 2048);
  TrainingSetup hsdp = full;
  hsdp.shard_group = 8;
  EXPECT_GT(TokensPerGpu(Llama8b(), h100, hsdp), TokensPerGpu(Llama8b(), h100, full));
  hsdp.shard_group = 3;  // does not divide dp = 1024
  Result<TrainingEstimate> bad = EstimateTraining(Llama8b(), h100.sys, hsdp, h100.eff);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--hsdp-shard"), std::string::npos);
}

TEST(ShardedDataParallel, NoOverlapExposesEveryCollective) {
  Gpu h100 = Load("h100-sxm-80gb");
  TrainingSetup s = Fsdp(64, 64);
  TrainingSetup none = s;
  none.overlap.dp = false;
  EXPECT_LT(TokensPerGpu(Llama8b(), h100, none), TokensPerGpu(Llama8b(), h100, s));
}

TEST(ContextParallel, ZeroShardsOverDataAndContextRanks) {
  // Context-parallel ranks hold the same weights: their gradients are reduced together and
  // ZeRO shards the optimizer over dp x cp (Megatron-Core's data-parallel-with-context group).
  Gpu h100 = Load("h100-sxm-80gb");
  TrainingSetup s = Fsdp(8, 8, 32768);
  s.zero = 1;
  s.cp = 1;
  Result<TrainingEstimate> no_cp = EstimateTraining(Llama8b(), h100.sys, s, h100.eff);
  s.cp = 2;
  s.global_batch = 4;
  Result<TrainingEstimate> cp2 = EstimateTraining(Llama8b(), h100.sys, s, h100.eff);
  ASSERT_TRUE(no_cp.ok() && cp2.ok());
  EXPECT_EQ(cp2->layout.dp, 4);
  EXPECT_NEAR(cp2->memory_optimizer_bytes, no_cp->memory_optimizer_bytes, 1e-6 * no_cp->memory_optimizer_bytes);
}

// Llama-3-8B's blocks with `experts` routed experts of width `expert_ffn`, top-2, and its
// estimate on 64 H100s with ZeRO-1 and ep = 8 (one node's GPUs hold different experts).
Result<TrainingEstimate> MoeOn64H100(ModelSpec m, int64_t experts, int64_t expert_ffn, const Gpu& h100,
                                     Overlap overlap = {}) {
  MoeSpec moe;
  moe.experts = experts;
  moe.top_k = 2;
  moe.expert_ffn = expert_ffn;
  m.moe = moe;
  TrainingSetup s = Fsdp(64, 64, 4096);
  s.zero = 1;
  s.ep = 8;
  s.overlap = overlap;
  return EstimateTraining(m, h100.sys, s, h100.eff);
}

TEST(ExpertParallel, ExpertOptimizerStateShardsOverItsOwnReplicasOnly) {
  // Mixtral-8x7B-like: 8 experts, ep = 8 on 64 GPUs. Each expert's weights live on 64 / 8 = 8
  // ranks, so ZeRO-1 divides their optimizer state by 8, not by the 64 data-parallel ranks.
  ModelSpec m = Llama8b();
  m.vocab = 32000;
  Gpu h100 = Load("h100-sxm-80gb");
  Result<TrainingEstimate> e = MoeOn64H100(m, 8, m.ffn, h100);
  ASSERT_TRUE(e.ok()) << e.status().message();
  double expert_params = 8.0 / 8 * 3 * 4096.0 * 14336 * 32;  // one expert per GPU, 32 layers
  EXPECT_GT(e->memory_optimizer_bytes, 12 * expert_params / 8);
  EXPECT_LT(e->memory_optimizer_bytes, 12 * expert_params / 8 * 1.2);
}

TEST(ExpertParallel, ExpertGradientsCrossTheNetworkWithoutAnInNodeReduction) {
  // Expert parallelism filling the node (ep = 8 of 8 GPUs) on 8 nodes: the 8 GPUs of a node
  // hold different experts, so each expert's gradients reduce-scatter over one rank per node
  // and cross the NIC whole ((n - 1) / n of them), not as the 1/8 shard a dense parameter's
  // hierarchical reduction sends. One micro-batch per GPU leaves little backward to hide under.
  Gpu h100 = Load("h100-sxm-80gb");
  Result<TrainingEstimate> e = MoeOn64H100(Llama8b(), 64, 2048, h100);
  ASSERT_TRUE(e.ok()) << e.status().message();
  double expert_params = 64.0 / 8 * 3 * 4096.0 * 2048 * 32;  // 8 experts per GPU, 32 layers
  perf::Link nic = InterLink(h100.sys, h100.eff);
  double expert_rs_s = 7.0 / 8 * expert_params * 4 / nic.bandwidth_bytes_s;  // fp32 gradients
  double backward_s = e->time_compute_s - e->time_compute_s / 3;  // at most the step's backward
  EXPECT_GT(e->time_comm_dp_s, expert_rs_s - backward_s);
  EXPECT_GT(e->time_comm_dp_s, 0.0);
}

TEST(Framework, NemoOverlapsTensorParallelCommunicationByDefault) {
  // NeMo's performance-mode recipes add tp_comm_overlap; Megatron-LM leaves it off; an explicit
  // --overlap wins either way.
  Gpu h100 = Load("h100-sxm-80gb");
  ModelSpec m = Llama8b();
  TrainingSetup s = Fsdp(8, 16, 8192);
  s.zero = 1;
  s.tp = 8;
  s.framework = Framework::kMegatron;
  Result<TrainingEstimate> megatron = EstimateTraining(m, h100.sys, s, h100.eff);
  s.framework = Framework::kNemo;
  Result<TrainingEstimate> nemo = EstimateTraining(m, h100.sys, s, h100.eff);
  Result<Overlap> none = ParseOverlap("dp", "--overlap");
  ASSERT_TRUE(none.ok());
  s.overlap = *none;
  Result<TrainingEstimate> nemo_off = EstimateTraining(m, h100.sys, s, h100.eff);
  ASSERT_TRUE(megatron.ok() && nemo.ok() && nemo_off.ok());
  ASSERT_GT(megatron->time_comm_tp_s, 0.0);
  EXPECT_LT(nemo->time_comm_tp_s, megatron->time_comm_tp_s);
  EXPECT_DOUBLE_EQ(nemo_off->time_comm_tp_s, megatron->time_comm_tp_s);
}

TEST(ExpertParallel, OverlapHidesTheAllToAllsUnderCompute) {
  // 64 experts over ep = 8 on 8 nodes' worth of GPUs: --overlap ep leaves only what outlasts the
  // compute plus the SM contention (kappa x the overlapped time) exposed.
  Gpu h100 = Load("h100-sxm-80gb");
  Result<TrainingEstimate> plain = MoeOn64H100(Llama8b(), 64, 2048, h100);
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  ASSERT_GT(plain->time_comm_ep_s, 0.0);
  Result<Overlap> o = ParseOverlap("dp+ep", "--overlap");
  ASSERT_TRUE(o.ok());
  Result<TrainingEstimate> hidden = MoeOn64H100(Llama8b(), 64, 2048, h100, *o);
  ASSERT_TRUE(hidden.ok()) << hidden.status().message();
  EXPECT_LT(hidden->time_comm_ep_s, plain->time_comm_ep_s);
  EXPECT_GE(hidden->time_comm_ep_s, h100.eff.comm_compute_slowdown * std::min(plain->time_comm_ep_s, hidden->time_compute_s) * 0.999);
  EXPECT_DOUBLE_EQ(hidden->time_compute_s, plain->time_compute_s);
}

TEST(ExpertParallel, MoeLayersIssueMoreHostOperatorsThanDenseOnes) {
  // 128 narrow experts, top-8, ep = 8 (16 local experts). With a host slow enough to bound every
  // layer, a MoE layer costs (44 + 52 + 2 x 16) / 50 dense layers' dispatch under Transformer
  // Engine's one GEMM per local expert (Megatron-LM), (44 + 52 + 2) / 50 with one grouped GEMM
  // per projection; forward once, backward twice.
  Gpu h100 = Load("h100-sxm-80gb");
  h100.eff.layer_host_overhead_s = 0.05;
  ModelSpec m = Llama8b();
  MoeSpec moe;
  moe.experts = 128;
  moe.top_k = 8;
  moe.expert_ffn = 768;
  m.moe = moe;
  TrainingSetup s = Fsdp(8, 64, 4096);
  s.zero = 1;
  s.ep = 8;
  s.framework = Framework::kMegatron;
  Result<TrainingEstimate> te = EstimateTraining(m, h100.sys, s, h100.eff);
  ASSERT_TRUE(te.ok()) << te.status().message();
  s.framework = Framework::kTorchtitan;
  Result<TrainingEstimate> grouped = EstimateTraining(m, h100.sys, s, h100.eff);
  ASSERT_TRUE(grouped.ok()) << grouped.status().message();
  double micro_batches = 64.0 / 8;
  double host_layers = micro_batches * m.layers * 3 * 0.05;
  // The embedding and output layer add a little GPU work outside the blocks.
  EXPECT_NEAR(te->time_compute_s / (host_layers * 128.0 / 50.0), 1.0, 0.01);
  EXPECT_NEAR(grouped->time_compute_s / (host_layers * 98.0 / 50.0), 1.0, 0.01);
  // A dense model of the same blocks: 50 operators.
  ModelSpec dense = Llama8b();
  Result<TrainingEstimate> d = EstimateTraining(dense, h100.sys, Fsdp(8, 64, 4096), h100.eff);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_NEAR(d->time_compute_s / host_layers, 1.0, 0.01);
}

TEST(Recompute, TorchtitanSelectiveSavesEveryOtherMatmulAndRecomputesTheRest) {
  // torchtitan's op-level policy on a Llama block (q, k, v, o, gate, up, down): q, v, gate and
  // down outputs, the attention output and the block input are kept; k, o and up are
  // recomputed in backward. Megatron-LM's selective policy recomputes only the attention core.
  ModelSpec m = Llama8b();
  Gpu h100 = Load("h100-sxm-80gb");
  TrainingSetup s = Fsdp(8, 16);
  s.micro_batch = 2;
  s.framework = Framework::kTorchtitan;
  Result<TrainingEstimate> titan = EstimateTraining(m, h100.sys, s, h100.eff);
  ASSERT_TRUE(titan.ok()) << titan.status().message();
  s.framework = Framework::kMegatron;
  Result<TrainingEstimate> megatron = EstimateTraining(m, h100.sys, s, h100.eff);
  ASSERT_TRUE(megatron.ok()) << megatron.status().message();
  double h = 4096, kv = 1024, ffn = 14336, tokens = 2.0 * 8192;
  double recomputed_per_layer = 2 * tokens * (h * kv + h * h + h * ffn);  // k, o, up projections
  double recomputed_flops_per_gpu = 32 * recomputed_per_layer * 16 / 2 / 8;  // 8 GPUs, 1 micro-batch each
  double titan_recompute = titan->hardware_flops_per_step - titan->model_flops_per_step;
  EXPECT_NEAR(titan_recompute / 8, recomputed_flops_per_gpu, 0.01 * recomputed_flops_per_gpu);
  EXPECT_GT(titan->time_recompute_s, megatron->time_recompute_s);
  // Kept per token and layer: x, q, v, attention out, gate, down = 4096 x 4 + 1024 + 14336
  // elements at 2 bytes; Megatron's selective keeps about twice as much.
  double kept = 32 * tokens * (4 * h + kv + ffn) * 2;
  EXPECT_LT(titan->memory_activations_bytes, megatron->memory_activations_bytes);
  EXPECT_GT(titan->memory_activations_bytes, kept);
}

TEST(PowerCap, CappedH100IsSlowerByTheCubeRootOfThePowerRatio) {
  Gpu capped = Load("h100-sxm-96gb-500w");
  EXPECT_NEAR(capped.sys.gpu.SustainedComputeFraction(), std::cbrt(500.0 / 700.0), 1e-12);
  Gpu full = Load("h100-sxm-80gb");
  EXPECT_DOUBLE_EQ(full.sys.gpu.SustainedComputeFraction(), 1.0);
  TrainingSetup s = Fsdp(8, 8);
  double a = TokensPerGpu(Llama8b(), capped, s), b = TokensPerGpu(Llama8b(), full, s);
  EXPECT_LT(a, b);
  EXPECT_GT(a, 0.8 * b);
  // MFU stays against the datasheet peak.
  Result<TrainingEstimate> e = EstimateTraining(Llama8b(), capped.sys, s, capped.eff);
  ASSERT_TRUE(e.ok());
  EXPECT_DOUBLE_EQ(e->peak_flops, 989.4e12);
}

TEST(AttentionKernel, FlashAttention3BeatsFlashAttention2OnHopper) {
  Gpu h100 = Load("h100-sxm-80gb");
  TrainingSetup s = Fsdp(8, 8);
  s.attention_kernel = AttentionKernel::kFlash2;
  double fa2 = TokensPerGpu(Llama8b(), h100, s);
  s.attention_kernel = AttentionKernel::kFlash3;
  double fa3 = TokensPerGpu(Llama8b(), h100, s);
  EXPECT_GT(fa3, 1.03 * fa2);
  std::string which;
  EXPECT_DOUBLE_EQ(AttentionKernelFraction(h100.eff, AttentionKernel::kFlash2, &which), 0.339);
  EXPECT_NE(which.find("flash2"), std::string::npos);
  // SDPA runs FlashAttention-2 where the profile has no SDPA figure of its own.
  EfficiencyProfile no_sdpa = h100.eff;
  no_sdpa.attention_kernel_fraction.erase("sdpa");
  EXPECT_DOUBLE_EQ(AttentionKernelFraction(no_sdpa, AttentionKernel::kSdpa, nullptr), 0.339);
}

TEST(AttentionKernel, BackwardRunsAtItsOwnMeasuredFraction) {
  // FlashAttention-3 paper, Figs. 5-6 (H100, head dim 128, 16k): cuDNN forward 539, backward 516
  // TFLOP/s. A profile without the backward figure runs the backward at the forward fraction.
  Gpu h100 = Load("h100-sxm-80gb");
  EXPECT_DOUBLE_EQ(h100.eff.attention_kernel_backward_fraction.at("cudnn"), 0.522);
  TrainingSetup s = Fsdp(8, 8);
  s.seq_len = 32768;
  s.attention_kernel = AttentionKernel::kCudnn;
  double measured = TokensPerGpu(Llama8b(), h100, s);
  Gpu same = h100;
  same.eff.attention_kernel_backward_fraction.clear();
  double at_forward = TokensPerGpu(Llama8b(), same, s);
  EXPECT_LT(measured, at_forward);
  EXPECT_GT(measured, 0.9 * at_forward);
}

TEST(AttentionKernel, FrameworkPicksItsKernel) {
  TrainingSetup s;
  EXPECT_FALSE(EffectiveAttentionKernel(s, "hopper").has_value());
  s.framework = Framework::kTorchtitan;
  EXPECT_EQ(EffectiveAttentionKernel(s, "hopper"), AttentionKernel::kSdpa);
  // Transformer Engine (Megatron-LM, NeMo): cuDNN on Hopper and later, FlashAttention-2 on Ampere.
  s.framework = Framework::kNemo;
  EXPECT_EQ(EffectiveAttentionKernel(s, "hopper"), AttentionKernel::kCudnn);
  EXPECT_EQ(EffectiveAttentionKernel(s, "blackwell"), AttentionKernel::kCudnn);
  EXPECT_EQ(EffectiveAttentionKernel(s, "ampere"), AttentionKernel::kFlash2);
  EXPECT_FALSE(EffectiveAttentionKernel(s, "cdna3").has_value());
  s.attention_kernel = AttentionKernel::kFlash3;
  EXPECT_EQ(EffectiveAttentionKernel(s, "hopper"), AttentionKernel::kFlash3);
  s.attention_kernel = AttentionKernel::kEager;
  EXPECT_EQ(EffectiveAttentionKernel(s, "hopper"), AttentionKernel::kEager);
}

TEST(Framework, EagerPyTorchMovesMoreBytesThanFusedKernels) {
  // Same model, GPUs and layout: torchtitan's eager RMSNorm, SwiGLU and rotary operators (and its
  // SDPA kernel) make a step slower than Megatron-LM's fused kernels; with the same attention
  // kernel the difference is the elementwise traffic alone.
  Gpu h100 = Load("h100-sxm-80gb");
  TrainingSetup fused = Fsdp(8, 8);
  fused.attention_kernel = AttentionKernel::kFlash2;
  fused.framework = Framework::kMegatron;
  TrainingSetup eager = fused;
  eager.framework = Framework::kTorchtitan;
  double a = TokensPerGpu(Llama8b(), h100, fused), b = TokensPerGpu(Llama8b(), h100, eager);
  EXPECT_LT(b, 0.97 * a) << a << " vs " << b;
  EXPECT_GT(b, 0.75 * a);
}

TEST(UnevenPipeline, LayersThatDoNotDivideAreSpreadAndExplicitSplitsChecked) {
  ModelSpec m = Llama8b();
  m.layers = 30;  // pp = 4 leaves 2 stages with 8 layers, 2 with 7
  Gpu h100 = Load("h100-sxm-80gb");
  TrainingSetup s;
  s.num_gpus = 32;
  s.seq_len = 4096;
  s.tp = 8;
  s.pp = 4;
  s.micro_batch = 1;
  s.global_batch = 32;
  s.zero = 1;
  Result<TrainingEstimate> even = EstimateTraining(m, h100.sys, s, h100.eff);
  ASSERT_TRUE(even.ok()) << even.status().message();
  s.pp_layers = {7, 8, 8, 7};  // the even spread: the extra layers go to the middle stages
  Result<TrainingEstimate> given = EstimateTraining(m, h100.sys, s, h100.eff);
  ASSERT_TRUE(given.ok()) << given.status().message();
  EXPECT_DOUBLE_EQ(given->time_step_s, even->time_step_s);
  s.pp_layers = {4, 10, 8, 8};  // the 10-layer stage sets the pace
  Result<TrainingEstimate> skewed = EstimateTraining(m, h100.sys, s, h100.eff);
  ASSERT_TRUE(skewed.ok());
  EXPECT_GT(skewed->time_step_s, 1.1 * even->time_step_s);
  s.pp_layers = {8, 8, 8, 8};
  Result<TrainingEstimate> bad = EstimateTraining(m, h100.sys, s, h100.eff);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("sum to 32, not the 30 layers"), std::string::npos) << bad.status().message();
  s.pp_layers = {10, 10, 10};
  bad = EstimateTraining(m, h100.sys, s, h100.eff);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--pp-layers: 3 counts for pp = 4"), std::string::npos);
  s.pp_layers = {0, 10, 10, 10};
  bad = EstimateTraining(m, h100.sys, s, h100.eff);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("at least one layer"), std::string::npos);
}

TEST(SetupNames, UnknownValuesListTheAcceptedOnes) {
  Result<Framework> f = ParseFramework("jax-magic", "--framework");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("--framework: unknown framework 'jax-magic' (accepted: megatron-lm, nemo, "
                                      "torchtitan"),
            std::string::npos)
      << f.status().message();
  Result<AttentionKernel> k = ParseAttentionKernel("flash9", "attention_kernel");
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.status().message().find("eager, sdpa, flash1, flash2, flash3, cudnn"), std::string::npos);
  EXPECT_EQ(*ParseFramework(" TorchTitan ", "x"), Framework::kTorchtitan);
  Result<Overlap> o = ParseOverlap("dp+tp", "--overlap");
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(*o->dp);
  EXPECT_TRUE(*o->tp);
  o = ParseOverlap("none", "--overlap");
  ASSERT_TRUE(o.ok());
  EXPECT_FALSE(*o->dp);
  EXPECT_FALSE(ParseOverlap("dp+warp", "--overlap").ok());
  EXPECT_FALSE(ParseLoraTargets("everything", "--lora-targets").ok());
}

}  // namespace
}  // namespace dlcost

namespace dlcost {
namespace {

TEST(Goodput, LargeJobsLoseMoreToInterruptionsThanSmallOnes) {
  RunInputs in;
  // A 405B-parameter checkpoint (2 + 12 bytes per parameter) on 16,384 GPUs, 54 days of steps:
  // Llama 3's own scale, where Meta reported more than 90% effective training time.
  GoodputParts big = GoodputOf(54 * 86400.0, 16384, 405e9 * 14, in);
  EXPECT_TRUE(big.modelled);
  EXPECT_NEAR(big.mtbf_s / 3600, 1.0 / (16384 * 419.0 / (54 * 24 * 16384.0)), 1e-9);
  EXPECT_GT(big.goodput, 0.9);
  EXPECT_LT(big.goodput, 0.95);
  EXPECT_NEAR(big.checkpoint_interval_s, std::sqrt(2 * big.checkpoint_s * big.mtbf_s), 1e-6);
  GoodputParts small = GoodputOf(86400.0, 8, 8e9 * 14, in);
  EXPECT_GT(small.goodput, 0.99);
  in.overheads.restart_s = 3600;
  EXPECT_LT(GoodputOf(54 * 86400.0, 16384, 405e9 * 14, in).goodput, big.goodput);
  in.overheads.eval_fraction = 0.1;
  EXPECT_LT(GoodputOf(86400.0, 8, 8e9 * 14, in).goodput, 1 / 1.1 + 1e-12);
  in.goodput = 0.8;
  GoodputParts given = GoodputOf(86400.0, 8, 8e9 * 14, in);
  EXPECT_FALSE(given.modelled);
  EXPECT_DOUBLE_EQ(given.goodput, 0.8);
}

}  // namespace
}  // namespace dlcost
