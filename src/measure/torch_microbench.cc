// The calibration microbenchmarks (measure_runner.h): GEMMs as linear layers train them, copy
// bandwidth, the memory-bound operations of a layer, attention, the optimizer step and the
// overheads of tiny models. The plan (shapes, models) is torch-free: src/measure/plan.cc.
#include <malloc.h>

#include <algorithm>
#include <string>

#include <fmt/format.h>

#include "dlcost/measure_runner.h"
#include "measure/torch_model.h"

namespace dlcost::measure {
namespace {

struct Budget {
  int min_reps;
  double target_s;
  int max_reps;
};

// Times forward + backward of `fn`'s outputs with the given output gradients.
double TimeFwdBwd(const std::function<std::vector<torch::Tensor>()>& fn, const std::vector<torch::Tensor>& grads,
                  const std::vector<torch::Tensor>& leaves, const torch::Device& dev, const Budget& b) {
  return TimeMedian(
      [&] {
        for (const torch::Tensor& l : leaves) l.mutable_grad() = torch::Tensor();
        std::vector<torch::Tensor> out = fn();
        torch::autograd::backward(out, grads);
        Sync(dev);
      },
      b.min_reps, b.target_s, b.max_reps);
}

void RunGemms(const MicrobenchPlan& plan, const torch::Device& dev, const Budget& b, MicrobenchData& d) {
  for (Dtype dt : plan.dtypes) {
    auto opts = torch::TensorOptions().dtype(TorchDtype(dt)).device(dev);
    at::globalContext().setAllowTF32CuBLAS(dt == Dtype::kTf32);
    for (const GemmShape& s : GemmGrid(plan.device, plan.quick)) {
      torch::Tensor x = torch::randn({s.m, s.k}, opts);
      torch::Tensor w = torch::randn({s.n, s.k}, opts);
      torch::Tensor dy = torch::randn({s.m, s.n}, opts);
      GemmSample g;
      g.dtype = dt;
      g.m = s.m;
      g.k = s.k;
      g.n = s.n;
      g.fwd_s = TimeMedian([&] { torch::linear(x, w); Sync(dev); }, b.min_reps, b.target_s, b.max_reps);
      g.dgrad_s = TimeMedian([&] { torch::mm(dy, w); Sync(dev); }, b.min_reps, b.target_s, b.max_reps);
      g.wgrad_s = TimeMedian([&] { torch::mm(dy.t(), x); Sync(dev); }, b.min_reps, b.target_s, b.max_reps);
      d.gemm.push_back(g);
    }
  }
  at::globalContext().setAllowTF32CuBLAS(false);
}

// The norms, RoPE, activation and residual adds of one layer, forward and backward: the layer's
// norm entries (the modules built from them) and the glue perf::LayerElementwiseOf charges,
// with the GEMM and attention outputs they consume given as leaves (so no GEMM runs).
double TimeLayerElementwise(const ModelSpec& spec, const ProbeShape& p, Dtype dt, const torch::Device& dev,
                            bool fused, const Budget& b) {
  ModelSpec one = spec;
  one.layers = 1;
  TorchModel tm = TorchModel::Build(one, p.seq, TorchDtype(dt), dev, fused);
  const TorchTransformerLayer& l = tm.layers().front();
  auto opts = torch::TensorOptions().dtype(TorchDtype(dt)).device(dev);
  int64_t h = l.o.w.size(0), f = l.up.w.size(0);
  const TorchAttention& at = l.attention;
  auto leaf = [&](std::vector<int64_t> shape) { return torch::randn(shape, opts).requires_grad_(true); };
  torch::Tensor x = leaf({p.batch, p.seq, h});
  torch::Tensor q = leaf({p.batch, p.seq, at.heads, at.head_dim});
  torch::Tensor k = leaf({p.batch, p.seq, at.kv_heads, at.head_dim});
  torch::Tensor attn_out = leaf({p.batch, p.seq, h});
  torch::Tensor gate = leaf({p.batch, p.seq, f});
  torch::Tensor up = leaf({p.batch, p.seq, f});
  torch::Tensor mlp_out = leaf({p.batch, p.seq, h});
  bool rope = spec.position == PositionKind::kRope;
  auto fn = [&]() -> std::vector<torch::Tensor> {
    std::vector<torch::Tensor> out;
    out.push_back(l.attn_norm.Forward(x));
    if (rope) {
      out.push_back(tm.ApplyRope(q, 0));
      out.push_back(tm.ApplyRope(k, 0));
    }
    torch::Tensor x2 = x + attn_out;
    out.push_back(l.mlp_norm.Forward(x2));
    out.push_back(tm.Activation(gate, up));
    out.push_back(x2 + mlp_out);
    return out;
  };
  std::vector<torch::Tensor> grads;
  {
    torch::NoGradGuard ng;
    for (const torch::Tensor& o : fn()) grads.push_back(torch::randn_like(o));
  }
  return TimeFwdBwd(fn, grads, {x, q, k, attn_out, gate, up, mlp_out}, dev, b);
}

// The layer's attention entry (the module built from it), forward and backward.
AttentionSample TimeAttention(const ModelSpec& spec, const ProbeShape& p, Dtype dt, const torch::Device& dev,
                              bool fused, const Budget& b) {
  ModelSpec one = spec;
  one.layers = 1;
  TorchModel tm = TorchModel::Build(one, p.seq, TorchDtype(dt), dev, fused);
  const TorchTransformerLayer& l = tm.layers().front();
  const TorchAttention& at = l.attention;
  auto opts = torch::TensorOptions().dtype(TorchDtype(dt)).device(dev);
  torch::Tensor q = torch::randn({p.batch, p.seq, at.heads, at.head_dim}, opts).requires_grad_(true);
  torch::Tensor k = torch::randn({p.batch, p.seq, at.kv_heads, at.head_dim}, opts).requires_grad_(true);
  torch::Tensor v = torch::randn({p.batch, p.seq, at.kv_heads, at.head_dim}, opts).requires_grad_(true);
  torch::Tensor g = torch::randn({p.batch, p.seq, at.heads * at.head_dim}, opts);
  AttentionSample a;
  a.block = BlockStyle(spec);
  a.dtype = dt;
  a.batch = p.batch;
  a.heads = at.heads;
  a.seq = p.seq;
  a.head_dim = at.head_dim;
  a.causal = at.causal;
  {
    torch::NoGradGuard ng;
    a.fwd_s = TimeMedian([&] { tm.SelfAttention(l, q, k, v, nullptr, 0); Sync(dev); }, b.min_reps, b.target_s,
                         b.max_reps);
  }
  double both = TimeFwdBwd([&] { return std::vector<torch::Tensor>{tm.SelfAttention(l, q, k, v, nullptr, 0)}; }, {g},
                           {q, k, v}, dev, b);
  a.bwd_s = std::max(0.0, both - a.fwd_s);
  return a;
}

// fp32 logits of [tokens x vocab] and the cross-entropy loss, forward and backward.
double TimeCrossEntropy(int64_t tokens, int64_t vocab, Dtype dt, const torch::Device& dev, const Budget& b) {
  auto opts = torch::TensorOptions().dtype(TorchDtype(dt)).device(dev);
  torch::Tensor logits = torch::randn({tokens, vocab}, opts).requires_grad_(true);
  torch::Tensor target = torch::randint(0, vocab, {tokens}, torch::TensorOptions().dtype(torch::kLong).device(dev));
  torch::Tensor one = torch::ones({}, torch::TensorOptions().dtype(torch::kFloat).device(dev));
  return TimeFwdBwd([&] { return std::vector<torch::Tensor>{torch::cross_entropy_loss(logits.to(torch::kFloat), target)}; },
                    {one}, {logits}, dev, b);
}

OptimizerSample TimeOptimizer(const std::vector<int64_t>& sizes, Dtype dt, const torch::Device& dev, const Budget& b) {
  auto opts = torch::TensorOptions().dtype(TorchDtype(dt)).device(dev);
  std::vector<torch::Tensor> ps;
  double params = 0;
  for (int64_t n : sizes) {
    torch::Tensor p = torch::randn({n}, opts).requires_grad_(true);
    p.mutable_grad() = torch::randn({n}, opts);
    ps.push_back(p);
    params += static_cast<double>(n);
  }
  AdamWStep step(ps);
  OptimizerSample o;
  o.dtype = dt;
  o.params = params;
  o.tensors = static_cast<int64_t>(sizes.size());
  o.seconds = TimeMedian([&] { step.Run(); Sync(dev); }, b.min_reps, b.target_s, b.max_reps);
  return o;
}

// The framework's cost of one tiny GEMM call, and the copy bandwidth of a tensor larger than
// the caches (the L3 of current server CPUs is up to ~0.5 GB).
void RunDispatchAndCopy(const MicrobenchPlan& plan, const torch::Device& dev, const Budget& mem_b,
                        const std::function<void(const std::string&)>& say, MicrobenchData& d) {
  say("dispatch");
  torch::Tensor x = torch::randn({8, 8}, torch::TensorOptions().device(dev));
  torch::Tensor w = torch::randn({8, 8}, torch::TensorOptions().device(dev));
  d.dispatch_s = TimeMedian([&] { torch::linear(x, w); Sync(dev); }, 50, 0.02, 5000);
  say("memory bandwidth");
  double want = plan.device == Device::kCuda ? 2e9 : (plan.quick ? 512e6 : 1e9);
  double memory = RunnerDescription().device_memory_bytes;
  double cap = memory > 0 ? memory / 8 : want;
  int64_t n = static_cast<int64_t>(std::min(want, cap) / 4);
  torch::Tensor src = torch::randn({n}, torch::TensorOptions().device(dev));
  torch::Tensor dst = torch::empty_like(src);
  double t = TimeMedian([&] { dst.copy_(src); Sync(dev); }, 3, mem_b.target_s, 50);
  d.memory.push_back({"copy", Dtype::kFp32, 2.0 * 4.0 * static_cast<double>(n), t});
}

// Decoding streams the weights once per generated token: one row times a weight matrix
// (forward only, as inference runs it) for weight sets from inside the caches to beyond them,
// so that the fit can give the bandwidth a decode step reaches by the weights' working set.
void RunWeightStreaming(const MicrobenchPlan& plan, Dtype dt, const torch::Device& dev, const Budget& mem_b,
                        const std::function<void(const std::string&)>& say, MicrobenchData& d) {
  say(fmt::format("weight streaming ({})", DtypeName(dt)));
  double big = plan.device == Device::kCuda ? 2e9 : (plan.quick ? 512e6 : 1e9);
  double memory = RunnerDescription().device_memory_bytes;
  if (memory > 0) big = std::min(big, memory / 8);
  constexpr int64_t kCols = 4096;  // the input width of a 7-8B model's projections
  double elem = DtypeBytes(dt);
  auto opts = torch::TensorOptions().dtype(TorchDtype(dt)).device(dev);
  // A model's weights are many matrices read one after another: the set is cut into matrices of
  // at most 64 MB (a 4,096 x 4,096 fp32 projection), each multiplied by the same row.
  constexpr double kPiece = 64e6;
  for (double ws : {4e6, 32e6, 256e6, big}) {
    if (ws > big) continue;
    int64_t rows = std::max<int64_t>(1, static_cast<int64_t>(std::min(ws, kPiece) / (elem * kCols)));
    int64_t pieces = std::max<int64_t>(1, static_cast<int64_t>(std::round(ws / (static_cast<double>(rows) * kCols * elem))));
    std::vector<torch::Tensor> ws_mats;
    for (int64_t i = 0; i < pieces; ++i) ws_mats.push_back(torch::randn({rows, kCols}, opts));
    torch::Tensor x = torch::randn({1, kCols}, opts);
    torch::NoGradGuard no_grad;
    double t = TimeMedian(
        [&] {
          for (const torch::Tensor& w : ws_mats) torch::linear(x, w);
          Sync(dev);
        },
        mem_b.min_reps, mem_b.target_s, mem_b.max_reps);
    d.memory.push_back({"weight_stream", dt, static_cast<double>(pieces * rows) * kCols * elem, t});
  }
}

// A probe layer's elementwise operators and attention, per block style, in precision `dt`.
void RunLayerProbes(const MicrobenchPlan& plan, Dtype dt, const torch::Device& dev, const Budget& mem_b,
                    const std::function<void(const std::string&)>& say, MicrobenchData& d) {
  bool fused = RunnerDescription().fused_attention;
  for (const char* style : {"gelu", "gated"}) {
    ModelSpec pm = ProbeModel(style, plan.device);
    say(fmt::format("elementwise and attention ({}, {})", style, DtypeName(dt)));
    for (const ProbeShape& p : ElementwiseShapes(plan.device)) {
      double t = TimeLayerElementwise(pm, p, dt, dev, fused, mem_b);
      double tokens = static_cast<double>(p.batch * p.seq);
      d.memory.push_back({std::string("layer_elementwise:") + style, dt,
                          ModelledLayerElementwiseBytes(pm, tokens, DtypeBytes(dt) > 2 ? 4.0 : 2.0), t});
    }
    for (const ProbeShape& p : AttentionShapes(plan.device, plan.quick)) {
      d.attention.push_back(TimeAttention(pm, p, dt, dev, fused, mem_b));
    }
  }
}

// The cross-entropy over fp32 logits and AdamW steps, in precision `dt`.
void RunLossAndOptimizer(const MicrobenchPlan& plan, Dtype dt, const torch::Device& dev, const Budget& mem_b,
                         MicrobenchData& d) {
  // Two sizes (the logits of 256 and 1,024 tokens on a CPU: 33 and 131 MB), fitted by their
  // median, as with the other memory-bound operators.
  std::vector<int64_t> ce_tokens = plan.device == Device::kCuda ? std::vector<int64_t>{4096, 8192}
                                                                : std::vector<int64_t>{256, 1024};
  for (int64_t tokens : ce_tokens) {
    int64_t vocab = 32000;
    double t = TimeCrossEntropy(tokens, vocab, dt, dev, mem_b);
    d.memory.push_back({"cross_entropy", dt, ModelledCrossEntropyBytes(tokens, vocab), t});
  }
  // Parameter tensors of 256 Ki to 16 Mi elements (x64 on GPUs), as in models, where a few
  // large matrices hold most parameters; the same set at 1/16 and 1/4 of the size (and x4 in
  // the full plan on a CPU): AdamW's cost per parameter grows as the optimizer state outgrows
  // the caches, and the fit keeps it as a curve over the parameter count.
  int64_t scale = plan.device == Device::kCuda ? 64 : 1;
  std::vector<int64_t> shrink = {4, 2, 0};
  for (int64_t sh : shrink) {
    int64_t base = (scale << 24) >> sh;
    d.optimizer.push_back(TimeOptimizer({base, base >> 2, base >> 4, base >> 6}, dt, dev, mem_b));
  }
  if (!plan.quick && plan.device == Device::kCpu) {
    d.optimizer.push_back(TimeOptimizer({scale << 26, scale << 24, scale << 22, scale << 20}, dt, dev, mem_b));
  }
}

// Training steps of tiny models per block style and layer count, in the first precision.
void RunOverheads(const MicrobenchPlan& plan, const torch::Device& dev, MicrobenchData& d) {
  bool fused = RunnerDescription().fused_attention;
  Dtype dt = plan.dtypes.front();
  std::vector<int64_t> layers = plan.quick ? std::vector<int64_t>{1, 3} : std::vector<int64_t>{1, 2, 4};
  struct Style {
    const char* name;
    int64_t experts;
  };
  std::vector<Style> styles = {{"gelu", 0}, {"gated", 0}, {"moe", 4}};
  if (!plan.quick) styles.push_back({"moe", 8});
  for (const Style& st : styles) {
    for (int64_t l : layers) {
      ModelSpec m = OverheadModel(st.name, l, st.experts);
      TorchModel tm = TorchModel::Build(m, 16, TorchDtype(dt), dev, fused);
      Trainer tr(&tm, 1, 16);
      tr.Step();
      double t = TimeMedian([&] { tr.Step(); }, 5, plan.quick ? 0.1 : 0.3, 200);
      d.overhead.push_back({st.name, l, st.experts, t});
    }
  }
}

// One pass over the whole plan.
void RunRound(const MicrobenchPlan& plan, const std::function<void(const std::string&)>& say, MicrobenchData& d) {
  const torch::Device& dev = RunnerDevice();
  Budget gemm_b{3, plan.quick ? 0.03 : 0.1, 200};
  Budget mem_b{3, plan.quick ? 0.1 : 0.3, 100};
  torch::manual_seed(0);
  RunDispatchAndCopy(plan, dev, mem_b, say, d);
  say("GEMM shapes");
  RunGemms(plan, dev, gemm_b, d);
  for (Dtype dt : plan.dtypes) {
    RunWeightStreaming(plan, dt, dev, mem_b, say, d);
    RunLayerProbes(plan, dt, dev, mem_b, say, d);
    say(fmt::format("cross-entropy and optimizer ({})", DtypeName(dt)));
    RunLossAndOptimizer(plan, dt, dev, mem_b, d);
  }
  say("overheads (tiny models)");
  RunOverheads(plan, dev, d);
}

// Keeps, point by point, the faster of two rounds: other processes can only slow a timing down.
void KeepFaster(MicrobenchData& best, const MicrobenchData& r) {
  best.dispatch_s = std::min(best.dispatch_s, r.dispatch_s);
  for (size_t i = 0; i < best.gemm.size() && i < r.gemm.size(); ++i) {
    GemmSample& b = best.gemm[i];
    const GemmSample& x = r.gemm[i];
    if (x.fwd_s + x.dgrad_s + x.wgrad_s < b.fwd_s + b.dgrad_s + b.wgrad_s) b = x;
  }
  for (size_t i = 0; i < best.memory.size() && i < r.memory.size(); ++i) {
    best.memory[i].seconds = std::min(best.memory[i].seconds, r.memory[i].seconds);
  }
  for (size_t i = 0; i < best.attention.size() && i < r.attention.size(); ++i) {
    if (r.attention[i].fwd_s + r.attention[i].bwd_s < best.attention[i].fwd_s + best.attention[i].bwd_s) {
      best.attention[i] = r.attention[i];
    }
  }
  for (size_t i = 0; i < best.overhead.size() && i < r.overhead.size(); ++i) {
    best.overhead[i].step_s = std::min(best.overhead[i].step_s, r.overhead[i].step_s);
  }
  for (size_t i = 0; i < best.optimizer.size() && i < r.optimizer.size(); ++i) {
    best.optimizer[i].seconds = std::min(best.optimizer[i].seconds, r.optimizer[i].seconds);
  }
}

}  // namespace

Result<MicrobenchData> RunMicrobenchmarks(const MicrobenchPlan& plan, const ProgressFn& progress) {
  try {
    const RunnerInfo& info = RunnerDescription();
    MicrobenchData best;
    double worst_other = 0;
    // Three rounds: on a shared or virtualised machine (other tenants on the same cores) a
    // point is rarely disturbed in all of them.
    constexpr int kRounds = 3;
    for (int round = 0; round < kRounds; ++round) {
      auto say = [&](const std::string& s) {
        if (progress) progress(fmt::format("round {}/{}: {}", round + 1, kRounds, s));
      };
      MicrobenchData d;
      CpuInterference others;
      others.Start();
      RunRound(plan, say, d);
      worst_other = std::max(worst_other, others.OtherPct());
      if (round == 0) {
        best = std::move(d);
      } else {
        KeepFaster(best, d);
      }
      malloc_trim(0);
    }
    best.device = plan.device;
    best.device_name = info.device_name;
    best.threads = info.threads;
    best.quick = plan.quick;
    best.fused_attention = info.fused_attention;
    best.memory_total_bytes = info.device_memory_bytes;
    best.other_cpu_pct = worst_other;
    return best;
  } catch (const std::bad_alloc&) {
    return Infeasible("calibrate: the host ran out of memory");
  } catch (const std::exception& e) {
    std::string msg = e.what();
    size_t nl = msg.find('\n');
    return Status(StatusCode::kInternal, "calibrate: libtorch error: " + msg.substr(0, nl));
  }
}

}  // namespace dlcost::measure
