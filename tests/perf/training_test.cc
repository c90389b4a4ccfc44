// The training estimator against hand-worked examples from the cited papers (docs/training.md).
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/training.h"
#include "dlcost/units.h"
#include "dlcost/collectives.h"

namespace dlcost {
namespace {

// GPT-style model of Korthikanti et al. 2022 Table 3 shape (22B: h=6144, a=64, L=48).
ModelSpec Gpt22b() {
  ModelSpec m;
  m.id = "gpt-22b";
  m.kind = ModelKind::kDecoder;
  m.hidden = 6144;
  m.layers = 48;
  m.heads = 64;
  m.kv_heads = 64;
  m.head_dim = 96;
  m.ffn = 4 * 6144;
  m.ffn_act = FfnAct::kGelu;
  m.vocab = 51200;
  m.max_seq = 2048;
  m.position = PositionKind::kLearned;
  m.norm = NormKind::kLayerNorm;
  m.linear_bias = true;
  m.tie_embeddings = true;
  return m;
}

struct Fixture {
  HardwareCatalog hw;
  SystemSpec sys;
  EfficiencyProfile eff;
};

const Fixture& F() {
  static const Fixture* f = [] {
    auto* x = new Fixture();
    Result<HardwareCatalog> hw = HardwareCatalog::Load(DLCOST_TEST_DATA_DIR);
    EXPECT_TRUE(hw.ok()) << hw.status().message();
    x->hw = *hw;
    Result<Accelerator> a100 = x->hw.Resolve("a100-sxm-80gb");
    EXPECT_TRUE(a100.ok());
    Result<SystemSpec> sys = MakeSystem(x->hw, *a100, 8, 1600);
    EXPECT_TRUE(sys.ok());
    x->sys = *sys;
    return x;
  }();
  return *f;
}

TrainingSetup MakeSetup(int64_t gpus, int64_t tp, int64_t pp, int64_t mb, int64_t gb, Recompute rc, bool sp) {
  TrainingSetup s;
  s.num_gpus = gpus;
  s.seq_len = 2048;
  s.tp = tp;
  s.pp = pp;
  s.micro_batch = mb;
  s.global_batch = gb;
  s.recompute = rc;
  s.seq_parallel = sp;
  s.zero = 0;
  s.dropout = true;
  return s;
}

TEST(TrainingMemory, ActivationsMatchKorthikantiWithoutRecompute) {
  // Unfused attention, no recompute, no sequence parallelism: per layer
  // s b h (10 + 24/t + 5 a s / (h t)) bytes (Korthikanti et al. 2022, eq. 3).
  TrainingSetup s = MakeSetup(8, 8, 1, 4, 4, Recompute::kNone, false);
  s.flash_attention = false;
  Result<TrainingEstimate> e = EstimateTraining(Gpt22b(), F().sys, s, F().eff);
  ASSERT_TRUE(e.ok()) << e.status().message();
  double sbh = 2048.0 * 4 * 6144;
  double per_layer = sbh * (10 + 24.0 / 8 + 5.0 * 64 * 2048 / (6144.0 * 8));
  double logits = 4.0 * 2048 * 4 * 51200 / 8;
  EXPECT_NEAR(e->memory_activations_bytes / (48 * per_layer + logits), 1.0, 1e-9);
}

TEST(TrainingMemory, SequenceParallelWithSelectiveRecomputeIs34sbhOverT) {
  TrainingSetup s = MakeSetup(8, 8, 1, 4, 4, Recompute::kSelective, true);
  Result<TrainingEstimate> e = EstimateTraining(Gpt22b(), F().sys, s, F().eff);
  ASSERT_TRUE(e.ok());
  double sbh = 2048.0 * 4 * 6144;
  double logits = 4.0 * 2048 * 4 * 51200 / 8;
  EXPECT_NEAR(e->memory_activations_bytes / (48 * sbh * 34 / 8 + logits), 1.0, 1e-9);
}

TEST(TrainingMemory, ModelStatesAre18BytesPerParameterAndZeroShardsThem) {
  TrainingSetup s = MakeSetup(8, 8, 1, 4, 4, Recompute::kSelective, true);
  Result<TrainingEstimate> e = EstimateTraining(Gpt22b(), F().sys, s, F().eff);
  ASSERT_TRUE(e.ok());
  double states = e->memory_weights_bytes + e->memory_grads_bytes + e->memory_optimizer_bytes;
  EXPECT_NEAR(states / e->memory_weights_bytes, 9.0, 1e-9);  // (2 + 4 + 12) / 2
  // ZeRO-1 over 8 data-parallel ranks: 6 + 12/8 bytes per parameter (Megatron-LM distributed optimizer).
  TrainingSetup z = MakeSetup(64, 8, 1, 4, 32, Recompute::kSelective, true);
  z.zero = 1;
  Result<TrainingEstimate> ez = EstimateTraining(Gpt22b(), F().sys, z, F().eff);
  ASSERT_TRUE(ez.ok());
  double bytes_per_param = (ez->memory_weights_bytes + ez->memory_grads_bytes + ez->memory_optimizer_bytes) /
                           (ez->memory_weights_bytes / 2);
  EXPECT_NEAR(bytes_per_param, 6 + 12.0 / 8, 1e-9);
}

TEST(TrainingMemory, OverheadIsCudaContextPlusNcclWhenTheGpuCommunicates) {
  // 287,047,680 bytes of CUDA context (pytorch/pytorch PR 86509), + 1.06e9 bytes of NCCL buffers
  // once the GPU talks to others (NVIDIA/nccl issue 1685).
  TrainingSetup one = MakeSetup(1, 1, 1, 1, 1, Recompute::kFull, false);
  one.overhead_bytes = -1;
  TrainingSetup eight = MakeSetup(8, 8, 1, 1, 1, Recompute::kFull, true);
  eight.overhead_bytes = -1;
  Result<TrainingEstimate> a = EstimateTraining(Gpt22b(), F().sys, one, F().eff);
  Result<TrainingEstimate> b = EstimateTraining(Gpt22b(), F().sys, eight, F().eff);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_DOUBLE_EQ(a->memory_overhead_bytes, 287047680.0);
  EXPECT_DOUBLE_EQ(b->memory_overhead_bytes, 287047680.0 + 1.06e9);
}

TEST(TrainingMemory, GradientsFreedEachStepAreNotHeldBesideTheActivations) {
  // PyTorch loops (zero_grad sets the gradients to None) without accumulation hold
  // max(activations, gradients); Megatron's persistent buffer holds both; so does accumulation.
  TrainingSetup s = MakeSetup(8, 8, 1, 1, 1, Recompute::kNone, true);
  Result<TrainingEstimate> megatron = EstimateTraining(Gpt22b(), F().sys, s, F().eff);
  s.framework = Framework::kTorchtitan;
  Result<TrainingEstimate> titan = EstimateTraining(Gpt22b(), F().sys, s, F().eff);
  TrainingSetup acc = s;
  acc.global_batch = 4;  // four micro-batches
  Result<TrainingEstimate> titan_acc = EstimateTraining(Gpt22b(), F().sys, acc, F().eff);
  ASSERT_TRUE(megatron.ok() && titan.ok() && titan_acc.ok());
  EXPECT_DOUBLE_EQ(megatron->memory_not_concurrent_bytes, 0);
  EXPECT_DOUBLE_EQ(titan_acc->memory_not_concurrent_bytes, 0);
  const TrainingEstimate& e = *titan;
  EXPECT_DOUBLE_EQ(e.memory_not_concurrent_bytes, std::min(e.memory_activations_bytes, e.memory_grads_bytes));
  EXPECT_NEAR(e.memory_total_bytes, e.memory_weights_bytes + e.memory_optimizer_bytes + e.memory_overhead_bytes +
                                        std::max(e.memory_activations_bytes, e.memory_grads_bytes), 1.0);
}

TEST(TrainingMemory, OffloadMovesStateToTheHostAndPaysForTheCopies) {
  TrainingSetup base = MakeSetup(8, 1, 1, 1, 8, Recompute::kFull, false);
  base.zero = 3;
  Result<TrainingEstimate> a = EstimateTraining(Gpt22b(), F().sys, base, F().eff);
  TrainingSetup opt = base;
  opt.offload.optimizer = true;
  Result<TrainingEstimate> b = EstimateTraining(Gpt22b(), F().sys, opt, F().eff);
  TrainingSetup params = base;
  params.offload = *ParseOffload("params", "--offload");
  Result<TrainingEstimate> c = EstimateTraining(Gpt22b(), F().sys, params, F().eff);
  TrainingSetup acts = base;
  acts.offload.activations = true;
  Result<TrainingEstimate> d = EstimateTraining(Gpt22b(), F().sys, acts, F().eff);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  // Optimizer on the host: no optimizer state, one layer's gradients, a slower CPU step
  // (34 bytes per parameter at 51.2 GB/s against the GPU's HBM).
  EXPECT_DOUBLE_EQ(b->memory_optimizer_bytes, 0);
  EXPECT_NEAR(b->memory_grads_bytes * 48, a->memory_grads_bytes, 1.0);
  EXPECT_GT(b->time_optimizer_s, 10 * a->time_optimizer_s);
  // Weights on the host too: two layers' weights, unsharded.
  EXPECT_TRUE(c->memory_weights_bytes < a->memory_weights_bytes);
  EXPECT_DOUBLE_EQ(c->memory_optimizer_bytes, 0);
  // Activations on the host: two layers' saved inputs instead of 48.
  EXPECT_LT(d->memory_activations_bytes, a->memory_activations_bytes);
  EXPECT_GE(d->time_step_s, a->time_step_s);
  EXPECT_EQ(OffloadName(params.offload), "params");
  EXPECT_EQ(OffloadName(*ParseOffload("activations+optimizer", "x")), "optimizer+activations");
  EXPECT_EQ(OffloadName(*ParseOffload("none", "x")), "none");
  Result<Offload> bad = ParseOffload("disk", "--offload");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--offload"), std::string::npos);
}

TEST(TrainingTime, PipelineBubbleIsPMinusOneOverVStages) {
  TrainingSetup s = MakeSetup(64, 8, 8, 1, 64, Recompute::kFull, true);
  Result<TrainingEstimate> e = EstimateTraining(Gpt22b(), F().sys, s, F().eff);
  ASSERT_TRUE(e.ok());
  TrainingSetup v = s;
  v.vpp = 2;
  Result<TrainingEstimate> ev = EstimateTraining(Gpt22b(), F().sys, v, F().eff);
  ASSERT_TRUE(ev.ok());
  EXPECT_GT(e->time_bubble_s, 0);
  EXPECT_NEAR(ev->time_bubble_s / e->time_bubble_s, 0.5, 0.05);  // interleaving halves the bubble
}

TEST(TrainingTime, RecomputeCostsAForwardPassAndRaisesHfuNotMfu) {
  TrainingSetup none = MakeSetup(8, 8, 1, 1, 8, Recompute::kNone, true);
  TrainingSetup full = MakeSetup(8, 8, 1, 1, 8, Recompute::kFull, true);
  Result<TrainingEstimate> a = EstimateTraining(Gpt22b(), F().sys, none, F().eff);
  Result<TrainingEstimate> b = EstimateTraining(Gpt22b(), F().sys, full, F().eff);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_GT(b->time_step_s, a->time_step_s * 1.2);
  EXPECT_DOUBLE_EQ(a->model_flops_per_step, b->model_flops_per_step);
  EXPECT_NEAR(b->hardware_flops_per_step / b->model_flops_per_step, 4.0 / 3.0, 0.02);
  EXPECT_LT(b->mfu, a->mfu);
}

TEST(TrainingInput, BadDegreesNameTheFlag) {
  TrainingSetup s = MakeSetup(8, 3, 1, 1, 8, Recompute::kNone, false);
  Result<TrainingEstimate> e = EstimateTraining(Gpt22b(), F().sys, s, F().eff);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("--gpus"), std::string::npos) << e.status().message();
  TrainingSetup p = MakeSetup(8, 1, 8, 1, 8, Recompute::kNone, false);
  p.tp = 1;
  p.pp = 64;  // more stages than the 48 layers
  p.num_gpus = 64;
  e = EstimateTraining(Gpt22b(), F().sys, p, F().eff);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("--pp"), std::string::npos) << e.status().message();
  TrainingSetup gb = MakeSetup(8, 8, 1, 4, 6, Recompute::kNone, false);
  e = EstimateTraining(Gpt22b(), F().sys, gb, F().eff);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("--global-batch"), std::string::npos);
}

TEST(TrainingRun, LlamaEnergyConventionIsReproducible) {
  TrainingSetup s = MakeSetup(8, 8, 1, 4, 4, Recompute::kSelective, true);
  Result<TrainingEstimate> e = EstimateTraining(Gpt22b(), F().sys, s, F().eff);
  ASSERT_TRUE(e.ok());
  RunInputs in;
  in.steps = 1000;
  in.goodput = 1.0;
  in.gpu_power_w = 400;
  in.pue = 1.1;
  in.carbon_g_per_kwh = 500;
  Result<RunCost> c = ComputeRunCost(*e, 8, 400, in);
  ASSERT_TRUE(c.ok());
  EXPECT_NEAR(c->energy_kwh, c->gpu_hours * 0.4 * 1.1, 1e-9);
  EXPECT_NEAR(c->co2_kg, c->energy_kwh * 0.5, 1e-9);
  EXPECT_NEAR(c->gpu_hours, 1000 * e->time_step_s * 8 / 3600, 1e-9);
  in.goodput = 0;
  EXPECT_FALSE(ComputeRunCost(*e, 8, 400, in).ok());
}

TEST(Collectives, AllReduceAlphaBeta) {
  perf::GroupPlacement g;
  g.n = 8;
  g.per_node = 8;
  g.intra = {100e9, 0};
  g.inter = {10e9, 0};
  EXPECT_NEAR(perf::AllReduceTime(8e9, g), 2.0 * 7 / 8 * 8e9 / 100e9, 1e-12);
  g.n = 16;  // two nodes: in-node ring plus cross-node ring on 1/8 shards
  EXPECT_NEAR(perf::AllReduceTime(8e9, g), 2.0 * 7 / 8 * 8e9 / 100e9 + 2.0 * 1 / 2 * 1e9 / 10e9, 1e-12);
  g.n = 1;
  EXPECT_EQ(perf::AllReduceTime(8e9, g), 0);
}

}  // namespace
}  // namespace dlcost

namespace dlcost {
namespace {

TEST(TrainingMoe, CapacityFactorPadsExpertWorkButNotModelFlops) {
  Result<ModelCatalog> zoo = ModelCatalog::Load(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(zoo.ok());
  Result<ModelSpec> m = zoo->Resolve("mixtral-8x7b");
  ASSERT_TRUE(m.ok());
  Result<Accelerator> h100 = F().hw.Resolve("h100-sxm-80gb");
  ASSERT_TRUE(h100.ok());
  Result<SystemSpec> sys = MakeSystem(F().hw, *h100, 0, 0);
  ASSERT_TRUE(sys.ok());
  TrainingSetup s;
  s.num_gpus = 16;
  s.seq_len = 4096;
  s.tp = 2;
  s.pp = 1;
  s.ep = 8;
  s.micro_batch = 1;
  s.global_batch = 64;
  s.zero = 1;
  s.recompute = Recompute::kFull;
  Result<TrainingEstimate> base = EstimateTraining(*m, *sys, s, F().eff);
  s.moe_capacity_factor = 1.5;
  Result<TrainingEstimate> padded = EstimateTraining(*m, *sys, s, F().eff);
  ASSERT_TRUE(base.ok() && padded.ok()) << base.status().message();
  EXPECT_GT(padded->time_step_s, base->time_step_s);
  EXPECT_GT(padded->time_comm_ep_s, base->time_comm_ep_s * 1.4);
  EXPECT_DOUBLE_EQ(padded->model_flops_per_step, base->model_flops_per_step);
}

}  // namespace
}  // namespace dlcost
