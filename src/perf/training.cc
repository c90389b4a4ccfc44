// The training estimator: prepares a model, system and setup once (TrainingEvaluator::Create)
// and prices one layout at a time (Evaluate): the layer groups' costs summed over pipeline
// stages, then the step time, the rates and the memory of the most-loaded GPU.
// Equations: docs/training.md.
#include "dlcost/training.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "dlcost/collectives.h"
#include "dlcost/op_graph.h"
#include "dlcost/units.h"
#include "perf/training_cost.h"

namespace dlcost {
namespace {

using perf::GroupPlacement;
using perf::kActBytes;
using perf::LayerCost;
using perf::LayoutCostInputs;
using perf::Link;
using perf::Op;
using perf::OpKind;

// Device memory outside PyTorch's caching allocator, by part (override the sum with
// --overhead-gib):
// - the CUDA context with lazy module loading (PyTorch's default since 1.13): 287,047,680 bytes
//   measured in pytorch/pytorch PR 86509 (666,632,192 bytes loading every module eagerly);
// - NCCL's buffers once a process communicates: 1.06 GB per GPU on 8 x H100 (PyTorch's own
//   memory excluded; NVIDIA/nccl issue 1685). The same report shows an all-to-all connecting 32
//   channels to every peer and reaching 4.34 GB; that is not added: how much an all-to-all
//   takes depends on the channels it connects, and with it a published expert-parallel run that
//   ran on 80 GB GPUs (NeMo AutoModel's Qwen3 30B-A3B, 8-way EP over DeepEP) would not fit.
constexpr double kCudaContextBytes = 287047680.0;
constexpr double kNcclCollectiveBytes = 1.06e9;

// Host memory bandwidth one GPU's process gets for an optimizer step on the CPU (--offload
// optimizer): 51.2 GB/s, a dlcost assumption: two sockets of 8 DDR4-3200 channels (25.6 GB/s
// each, 409.6 GB/s; the DGX A100's two AMD EPYC 7742) shared by the node's 8 GPUs.
constexpr double kHostMemoryBytesPerGpu = 51.2e9;
// Share of the PCIe link's bandwidth that host copies reach: about 25 of 31.5 GB/s on PCIe 4.0
// x16 (data/hardware/networks/pcie4-x16.json).
constexpr double kHostCopyEfficiency = 25.0 / 31.5;

// A parallel dimension of size `n` whose ranks are `stride` apart (inner dimensions first:
// tp, cp, then dp/ep, then pp, as Megatron-LM orders them).
GroupPlacement Place(int64_t n, int64_t stride, const SystemSpec& sys, const Link& intra, const Link& inter) {
  GroupPlacement g;
  g.n = n;
  int64_t gpn = std::max(1, sys.gpus_per_node);
  g.per_node = stride >= gpn ? 1 : std::max<int64_t>(1, std::min<int64_t>(n, gpn / stride));
  g.intra = intra;
  g.inter = inter;
  return g;
}

// Full low-precision training: torchtune's recipes load the model in the training dtype and
// train it there ("Full bf16 training", torchtune recipes' dtype checks): bf16 weights,
// gradients and optimizer state, no fp32 master copy.
bool PureLowPrecision(const TrainingSetup& s) {
  return s.framework == Framework::kTorchtune && (s.precision == Dtype::kBf16 || s.precision == Dtype::kFp16);
}

double OptimizerStateBytes(Optimizer o, const TrainingSetup& s) {
  Dtype precision = s.precision;
  bool fp32 = precision == Dtype::kFp32 || precision == Dtype::kTf32;
  if (PureLowPrecision(s)) {
    switch (o) {
      case Optimizer::kAdamW: return 4;     // m + v in bf16
      case Optimizer::kSgd: return 2;       // momentum in bf16
      case Optimizer::kAdafactor: return 0.1;
      case Optimizer::kAdam8bit: return 2;  // 8-bit m and v
    }
  }
  switch (o) {
    case Optimizer::kAdamW: return fp32 ? 8 : 12;     // (fp32 master +) m + v
    case Optimizer::kSgd: return fp32 ? 4 : 8;        // (fp32 master +) momentum
    // Adafactor keeps factored second moments (one value per row and column; Shazeer & Stern
    // 2018, Sec. 3): a small fraction of a byte per parameter, taken as 0.1.
    case Optimizer::kAdafactor: return fp32 ? 0.1 : 4.1;
    case Optimizer::kAdam8bit: return fp32 ? 2 : 6;   // 8-bit m and v (Dettmers et al. 2022)
  }
  return 12;
}

// Bytes read and written per parameter by one optimizer step (fused kernels).
double OptimizerTrafficBytes(Optimizer o) {
  switch (o) {
    // Counted from the tensors each fused update reads and writes, plus the 4-byte gradient-norm read:
    case Optimizer::kAdamW: return 34;     // read p32, g32, m, v (16); write p32, m, v (12), p16 (2)
    case Optimizer::kSgd: return 26;       // read p32, g32, momentum (12); write p32, momentum (8), p16 (2)
    case Optimizer::kAdafactor: return 18; // read p32, g32 (8); write p32 (4), p16 (2); factors ~0
    case Optimizer::kAdam8bit: return 22;  // read p32, g32, m8, v8 (10); write p32, m8, v8 (6), p16 (2)
  }
  return 34;
}

// The GPU's peak FLOP/s at `prec`, falling back to the mode that runs it (bf16 on fp16 tensor
// cores, fp32 as tf32); InvalidInput naming --precision when the catalog has none.
Result<double> TrainingPeakFlops(const Accelerator& gpu, Dtype prec) {
  std::optional<double> peak = gpu.PeakFlops(prec);
  if (!peak && prec == Dtype::kBf16) peak = gpu.PeakFlops(Dtype::kFp16);
  if (!peak && prec == Dtype::kFp32) peak = gpu.PeakFlops(Dtype::kTf32);
  if (!peak && (prec == Dtype::kFp32 || prec == Dtype::kTf32)) peak = gpu.PeakFlops(Dtype::kFp32);
  if (!peak) {
    return InvalidInput(fmt::format("--precision: {} has no {} mode in the catalog", gpu.id, DtypeName(prec)));
  }
  return *peak;
}

// LoRA adapters of rank r on the targeted projections (attention, MLP or both): r (k + n) each.
double LoraParams(const perf::OpGraph& graph, int64_t rank, LoraTargets targets) {
  double params = 0;
  for (const perf::LayerGroup& grp : graph.groups) {
    if (!perf::IsTransformerLayer(grp.name)) continue;
    for (const Op& op : grp.ops) {
      if (op.kind != OpKind::kGemm) continue;
      bool mlp = op.name.find("up_proj") != std::string::npos || op.name.find("gate_proj") != std::string::npos ||
                 op.name.find("down_proj") != std::string::npos;
      if ((targets == LoraTargets::kAttention && mlp) || (targets == LoraTargets::kMlp && !mlp)) continue;
      params += grp.count * static_cast<double>(rank) * (op.gemm_k + op.gemm_n);
    }
  }
  return params;
}

// Which pipeline stages a layer group sits on.
enum class StagePlace { kFirst, kLayers, kLast };

// Frameworks whose loss is PyTorch's unfused cross-entropy over the whole fp32 logits
// (torchtitan's and Hugging Face transformers' training loops; torchtune's recipes default to
// a chunked loss and Megatron-LM, NeMo and DeepSpeed-Megatron fuse it).
bool EagerCrossEntropy(const TrainingSetup& s) {
  if (!s.framework) return false;
  return *s.framework == Framework::kTorchtitan || *s.framework == Framework::kTransformers ||
         *s.framework == Framework::kPytorchFsdp;
}

// Bytes per logit the last stage holds for the loss: 12 for PyTorch's unfused cross-entropy (the
// fp32 log-softmax output, its gradient and the logits' gradient), 4 for a fused loss on fp32
// logits (Megatron-LM, NeMo, DeepSpeed-Megatron), and 2.5 for torchtune's chunked loss: the
// bf16 logits stay for the backward pass and one of its 8 chunks is upcast to fp32 at a time
// (torchtune/modules/loss/ce_chunked_output_loss.py, CEWithChunkedOutputLoss, num_output_chunks 8).
double LogitBytesPerElement(const TrainingSetup& s) {
  if (EagerCrossEntropy(s)) return 12.0;
  if (s.framework == Framework::kTorchtune) return 2.0 + 4.0 / 8.0;
  return 4.0;
}

// Every layer group priced once, with where it sits. Transformer groups fill layers in order;
// other groups sit on the first stage (before the layers) or the last (after them). Fixed-size
// arrays: the planner's inner loop allocates nothing.
struct GroupCosts {
  static constexpr size_t kMaxGroups = 16;
  std::array<LayerCost, kMaxGroups> cost{};
  std::array<int64_t, kMaxGroups> first_layer{};
  std::array<StagePlace, kMaxGroups> place{};
  size_t count = 0;
  int64_t layers = 0;       // transformer layers, all stages together
  double logits_bytes = 0;  // fp32 logits the last stage keeps for the loss
  double logits_s = 0;      // the cross-entropy over them, forward (and again backward)
};

GroupCosts CostGroups(const LayoutCostInputs& in) {
  const ModelSpec& model = *in.model;
  const perf::OpGraph& graph = *in.graph;
  const Layout& layout = *in.layout;
  GroupCosts out;
  out.count = std::min(graph.groups.size(), GroupCosts::kMaxGroups);
  int64_t layer_index = 0;
  for (size_t gi = 0; gi < out.count; ++gi) {
    const perf::LayerGroup& grp = graph.groups[gi];
    out.cost[gi] = perf::CostGroup(in, grp);
    bool repeated = perf::IsTransformerLayer(grp.name) && model.IsTransformer();
    out.place[gi] = repeated ? StagePlace::kLayers : (layer_index == 0 ? StagePlace::kFirst : StagePlace::kLast);
    if (grp.name == "head" || grp.name == "final_layer" || grp.name == "output") out.place[gi] = StagePlace::kLast;
    out.first_layer[gi] = layer_index;
    if (repeated) layer_index += grp.count;
    if (grp.name == "head" && model.IsLanguageModel()) {
      // Cross-entropy over the vocabulary: fp32 logits kept for backward (4 bytes) and read,
      // written and read again by the fused softmax/loss (Korthikanti et al. 2022: 4sbv/t).
      // torch.nn.functional.cross_entropy on logits upcast to fp32 (torchtitan's and Hugging
      // Face's loss) keeps its fp32 log-softmax output and, at the start of backward, holds its
      // gradient and the logits' gradient beside it: 12 bytes per logit at that peak.
      double rows = static_cast<double>(layout.micro_batch) * graph.tokens_per_sample / layout.cp;
      out.logits_bytes = LogitBytesPerElement(*in.setup) * rows * model.vocab / layout.tp;
      out.logits_s = perf::LossSeconds(3 * 4.0 * rows * model.vocab / layout.tp, in.rates);
    }
  }
  out.layers = layer_index;
  return out;
}

// Pipeline point-to-point time per micro-batch: activations forward and gradients backward,
// once per virtual chunk.
double PipelineSendSeconds(const LayoutCostInputs& in) {
  const Layout& layout = *in.layout;
  if (layout.pp <= 1) return 0;
  double rows = static_cast<double>(layout.micro_batch) * in.graph->tokens_per_sample / layout.cp;
  double msg = in.act_elem_bytes * rows * in.model->hidden / (layout.seq_parallel ? layout.tp : 1);
  // The slowest hop sets the pace: a pipeline spanning nodes crosses the network.
  const GroupPlacement& pp = in.pp_group;
  const Link& link = pp.n <= pp.per_node ? pp.intra : pp.inter;
  return 2 * perf::SendTime(msg, link) * layout.vpp;
}

// The layer groups summed per pipeline stage, per micro-batch.
struct StageTotals {
  LayerCost worst;               // the slowest stage
  double sum_stage_s = 0;        // all stages together
  double max_params = 0;         // parameters of the largest stage
  double max_expert_params = 0;  // the routed experts' share of them
  double first_act_bytes = 0;    // activations the first stage keeps
  double last_act_bytes = 0;     // activations the last stage keeps
  double recompute_flops = 0;    // all stages
  double fwd_flops = 0;          // all stages
};

// How many layers of group `gi` stage `st` holds (layers lo..hi-1 of the layer groups).
double LayersOnStage(const GroupCosts& groups, const perf::OpGraph& graph, size_t gi, int64_t st, int64_t pp,
                     int64_t lo, int64_t hi) {
  if (groups.place[gi] == StagePlace::kLayers) {
    int64_t a = std::max(lo, groups.first_layer[gi]);
    int64_t b = std::min(hi, groups.first_layer[gi] + graph.groups[gi].count);
    return static_cast<double>(std::max<int64_t>(0, b - a));
  }
  bool here = (groups.place[gi] == StagePlace::kFirst && st == 0) || (groups.place[gi] == StagePlace::kLast && st == pp - 1);
  return here ? 1.0 : 0.0;
}

// Layers of virtual stage `c` of `chunks` (at most layers + 2) spread as evenly as they allow: the
// L mod C stages with one layer more are the middle ones first, then the first (which also holds
// the embedding), and the last (which also holds the output layer and the loss) only when every
// other stage has one.
int64_t EvenChunkLayers(int64_t layers, int64_t chunks, int64_t c) {
  if (chunks > layers) {
    // One or two stages more than layers: the output layer and loss (and the embedding) get a
    // virtual stage of their own (Megatron-LM's --account-for-loss-in-pipeline-split and
    // --account-for-embedding-in-pipeline-split).
    if (c == chunks - 1) return 0;
    if (chunks == layers + 2 && c == 0) return 0;
    return 1;
  }
  int64_t base = layers / chunks, extra = layers % chunks;
  if (extra == 0) return base;
  int64_t rank;  // position of chunk c in the order that receives the extra layers
  if (c == 0) rank = chunks - 2;
  else if (c == chunks - 1) rank = chunks - 1;
  else rank = c - 1;
  return base + (rank < extra ? 1 : 0);
}

// Transformer layers on pipeline rank `st`: the setup's explicit split, else the even spread
// over pp x vpp virtual stages (rank st holds stages st, st + pp, ...).
int64_t RankLayers(const TrainingSetup& s, const Layout& layout, int64_t layers, int64_t st) {
  int64_t n = static_cast<int64_t>(s.pp_layers.size());
  if (n == layout.pp) return s.pp_layers[static_cast<size_t>(st)];
  int64_t chunks = layout.pp * layout.vpp, sum = 0;
  for (int64_t c = st; c < chunks; c += layout.pp) {
    sum += n == chunks ? s.pp_layers[static_cast<size_t>(c)] : EvenChunkLayers(layers, chunks, c);
  }
  return sum;
}

StageTotals SumStages(const LayoutCostInputs& in, const GroupCosts& groups, double pp_p2p) {
  const Layout& layout = *in.layout;
  int64_t layers = groups.layers;
  bool split = in.model->IsTransformer();
  StageTotals out;
  double max_stage = -1;
  int64_t next_lo = 0;
  for (int64_t st = 0; st < layout.pp; ++st) {
    LayerCost k{};
    double params = 0, expert_params = 0, act = 0;
    int64_t lo = next_lo, hi = split ? std::min(layers, lo + RankLayers(*in.setup, layout, layers, st)) : layers;
    if (st == layout.pp - 1) hi = layers;
    next_lo = hi;
    for (size_t gi = 0; gi < groups.count; ++gi) {
      double n = LayersOnStage(groups, *in.graph, gi, st, layout.pp, lo, hi);
      if (n == 0) continue;
      const LayerCost& g = groups.cost[gi];
      k.fwd_s += n * g.fwd_s;
      k.bwd_s += n * g.bwd_s;
      k.recompute_s += n * g.recompute_s;
      k.attention_s += n * g.attention_s;
      k.fwd_flops += n * g.fwd_flops;
      k.recompute_flops += n * g.recompute_flops;
      k.tp_comm_s += n * g.tp_comm_s;
      k.cp_comm_s += n * g.cp_comm_s;
      k.ep_comm_s += n * g.ep_comm_s;
      params += n * g.params;
      expert_params += n * g.expert_params;
      act += n * g.act_bytes;
    }
    if (st == layout.pp - 1) {
      k.fwd_s += groups.logits_s;
      k.bwd_s += groups.logits_s;
    }
    double t = k.fwd_s + k.bwd_s + k.recompute_s + k.tp_comm_s + k.cp_comm_s + k.ep_comm_s + pp_p2p;
    out.sum_stage_s += t;
    if (t > max_stage) {
      max_stage = t;
      out.worst = k;
    }
    if (params > out.max_params) {
      out.max_params = params;
      out.max_expert_params = expert_params;
    }
    if (st == 0) out.first_act_bytes = act;
    if (st == layout.pp - 1) out.last_act_bytes = act;
    out.recompute_flops += k.recompute_flops;
    out.fwd_flops += k.fwd_flops;
  }
  return out;
}

// Parameters that get gradients and optimizer state on the most-loaded GPU (before ZeRO):
// only the adapters when fine-tuning with LoRA/QLoRA.
double TrainedParams(const LayoutCostInputs& in, const StageTotals& stages) {
  const Layout& layout = *in.layout;
  return in.frozen_base ? in.lora_params / static_cast<double>(layout.tp * layout.pp) : stages.max_params;
}

// The routed experts' part of TrainedParams: they are reduced and sharded over the expert-data-
// parallel group, the rest over the data-parallel one.
double TrainedExpertParams(const LayoutCostInputs& in, const StageTotals& stages) {
  return in.frozen_base ? 0.0 : stages.max_expert_params;
}

// A reduce-scatter (or all-gather) of `per_param` bytes for every trained parameter: the dense
// part over `dense` ranks, the routed experts' part over their expert-data-parallel ranks.
double SplitReduceScatterTime(double dense_params, double expert_params, double per_param, const GroupPlacement& dense,
                              const GroupPlacement& expert) {
  return perf::ReduceScatterTime(dense_params * per_param, dense) +
         perf::ReduceScatterTime(expert_params * per_param, expert);
}

// Transformer layers on the most-loaded pipeline stage, at least 1 (the unit FSDP gathers).
double LayersPerStage(const LayoutCostInputs& in) {
  return std::max(1.0, std::ceil(static_cast<double>(in.model->layers) / static_cast<double>(in.layout->pp)));
}

// Whether the tensor-parallel collectives overlap the GEMMs: as asked (--overlap), else NeMo's
// default. NeMo's pre-training recipes in performance mode, which its published performance
// tables run, add MegatronCommOverlapCallback(tp_comm_overlap=True) (e.g. NVIDIA/NeMo
// nemo/collections/llm/recipes/llama31_405b.py, pretrain_performance_optimizations);
// Megatron-LM leaves --tp-comm-overlap off.
bool TensorParallelOverlap(const TrainingSetup& s) { return s.overlap.tp.value_or(s.framework == Framework::kNemo); }

// Compute lost to a collective of `comm_s` seconds that runs beside `compute_s` seconds of
// compute: its kernels hold a share of the SMs for the time they overlap.
double ContentionSeconds(double comm_s, double compute_s, const EfficiencyProfile& eff) {
  return eff.comm_compute_slowdown * std::min(comm_s, compute_s);
}

// Sharded data parallelism (ZeRO-3 / FSDP) as it runs, per micro-batch: every layer's weights
// are all-gathered before its forward and again before its backward (the recomputed forward
// runs inside that backward and reuses the gather), and its gradients reduce-scattered after
// it. Each gather is prefetched under the previous layer's compute, so per layer the exposed
// time is max(0, comm - compute); the first gather and the last reduce-scatter have nothing to
// hide under. With hybrid sharding (shard_group), the sharded gradients are also all-reduced
// across the replicas once per step. Equations: docs/training.md, "Sharded data parallelism".
double ShardedDataParallelSeconds(const LayoutCostInputs& in, const StageTotals& stages, bool overlap) {
  const Layout& layout = *in.layout;
  const LayerCost& w = stages.worst;
  const EfficiencyProfile& eff = *in.rates.eff;
  int64_t dp_cp = layout.dp * layout.cp;
  int64_t shard_n = dp_cp;
  int64_t sg = in.setup->shard_group;
  if (sg > 0 && sg < dp_cp && dp_cp % sg == 0) shard_n = sg;
  GroupPlacement shard = in.dp_group;
  shard.n = shard_n;
  shard.per_node = std::min(shard.per_node, shard_n);
  // Routed experts shard over their own replicas (HSDP's shard group divided by ep when it is
  // smaller than the expert-data-parallel group).
  GroupPlacement eshard = in.edp_group;
  eshard.n = std::max<int64_t>(1, std::min(eshard.n, shard_n / std::max<int64_t>(1, layout.ep)));
  eshard.per_node = std::min(eshard.per_node, eshard.n);
  double expert_params = TrainedExpertParams(in, stages);
  double gather = SplitReduceScatterTime(stages.max_params - expert_params, expert_params, in.weight_bytes, shard, eshard);
  double reduce = SplitReduceScatterTime(TrainedParams(in, stages) - expert_params, expert_params,
                                         in.setup->grad_bytes, shard, eshard);
  double layers = LayersPerStage(in);
  double fwd = w.fwd_s, bwd = w.bwd_s + w.recompute_s;
  // Under a pipeline, FSDP keeps a stage's weights gathered from forward to backward
  // (torchtitan sets reshard_after_forward=False with pipelining): no gather before backward.
  double bwd_gather = layout.pp > 1 ? 0.0 : gather;
  double per_mb;
  if (overlap) {
    per_mb = std::max(0.0, gather - fwd) + gather / layers + std::max(0.0, bwd_gather + reduce - bwd) +
             reduce / layers + ContentionSeconds(gather, fwd, eff) + ContentionSeconds(bwd_gather + reduce, bwd, eff);
  } else {
    per_mb = gather + bwd_gather + reduce;
  }
  double t = static_cast<double>(layout.microbatches) * per_mb;
  if (shard_n < dp_cp) {
    GroupPlacement repl = in.dp_group;
    repl.n = dp_cp / shard_n;
    repl.per_node = std::max<int64_t>(1, in.dp_group.per_node / shard_n);
    double ar = perf::AllReduceTime(TrainedParams(in, stages) * in.setup->grad_bytes / shard_n, repl);
    t += overlap ? std::max(0.0, ar - bwd) + ContentionSeconds(ar, bwd, eff) : ar;
  }
  return t;
}

// Data-parallel traffic of the step. ZeRO 0: gradient all-reduce; ZeRO 1/2: reduce-scatter of
// gradients plus all-gather of the updated weights, both bucketed under the last micro-batch's
// backward when overlapped (the default); ZeRO 3: ShardedDataParallelSeconds.
double ExposedDataParallelSeconds(const LayoutCostInputs& in, const StageTotals& stages) {
  const Layout& layout = *in.layout;
  if (layout.dp * layout.cp <= 1) return 0;
  bool overlap = in.setup->overlap.dp.value_or(true);
  if (layout.zero == 3) return ShardedDataParallelSeconds(in, stages, overlap);
  double expert_params = TrainedExpertParams(in, stages);
  double dense_params = TrainedParams(in, stages) - expert_params;
  double dp_time;
  if (layout.zero == 0) {
    dp_time = perf::AllReduceTime(dense_params * in.setup->grad_bytes, in.dp_group) +
              perf::AllReduceTime(expert_params * in.setup->grad_bytes, in.edp_group);
  } else {
    dp_time = SplitReduceScatterTime(dense_params, expert_params, in.setup->grad_bytes, in.dp_group, in.edp_group) +
              SplitReduceScatterTime(dense_params, expert_params, in.weight_bytes, in.dp_group, in.edp_group);
  }
  if (!overlap) return dp_time;
  double window = stages.worst.bwd_s;
  return std::max(0.0, dp_time - window) + ContentionSeconds(dp_time, window, *in.rates.eff);
}

// Bytes per second of a copy between a GPU and its host: the PCIe generation of the GPU's host
// interface, 16 lanes (data/hardware/networks/pcie{3,4,5}-x16.json), at the share copies reach.
// Hopper and Blackwell GPUs attach over PCIe 5.0, Ampere, Ada and CDNA over PCIe 4.0 (NVIDIA
// H100 and A100 datasheets, AMD Instinct MI300X data sheet), older ones over PCIe 3.0.
double HostCopyBytesPerS(const Accelerator& gpu) {
  const std::string& a = gpu.architecture;
  double gb_s = 15.75;
  if (a == "hopper" || a == "blackwell") gb_s = 63.0;
  else if (a == "ampere" || a == "ada" || a.rfind("cdna", 0) == 0) gb_s = 31.5;
  return gb_s * kGB * kHostCopyEfficiency;
}

// The optimizer's parameters on this GPU: its trained parameters, sharded by ZeRO >= 1.
double OptimizerParams(const LayoutCostInputs& in, const StageTotals& stages) {
  const Layout& layout = *in.layout;
  double expert_params = TrainedExpertParams(in, stages);
  if (layout.zero < 1) return TrainedParams(in, stages);
  return (TrainedParams(in, stages) - expert_params) / static_cast<double>(layout.dp * layout.cp) +
         expert_params / static_cast<double>(in.edp_group.n);
}

// The weight bytes this GPU holds between uses under ZeRO-3 (its shard), else all its stage's.
double HeldWeightBytes(const LayoutCostInputs& in, const StageTotals& stages) {
  double w = stages.max_params * in.weight_bytes;
  if (in.layout->zero >= 3) w /= static_cast<double>(in.layout->dp * in.layout->cp);
  return w;
}

// Host copies of --offload that overlap the step's compute (`compute_s`): gradients sent to the
// host during the backward pass, weights fetched for the forward and the backward pass, saved
// activations copied out and back. Only what outlasts the compute is exposed.
double ExposedOffloadSeconds(const LayoutCostInputs& in, const StageTotals& stages, double act_saved_bytes,
                             double compute_s) {
  const Offload& o = in.setup->offload;
  if (!o.Any()) return 0;
  double link = HostCopyBytesPerS(in.system->gpu);
  double m = static_cast<double>(in.layout->microbatches);
  double bytes = 0;
  // Gradients leave for the host every micro-batch and accumulate there (ZeRO-Offload).
  if (o.optimizer) bytes += m * OptimizerParams(in, stages) * in.setup->grad_bytes;
  if (o.params) bytes += 2 * m * HeldWeightBytes(in, stages);
  if (o.activations) bytes += 2 * m * act_saved_bytes;
  return std::max(0.0, bytes / link - compute_s);
}

// The optimizer step: its memory traffic over the parameters this GPU updates.
double OptimizerSeconds(const LayoutCostInputs& in, const StageTotals& stages) {
  const EfficiencyProfile& eff = *in.rates.eff;
  Optimizer optimizer = in.setup->optimizer;
  double opt_params = OptimizerParams(in, stages);
  double opt_traffic = OptimizerTrafficBytes(optimizer);
  if (in.setup->offload.optimizer) {
    // On the CPU: the same traffic over host memory, then the updated low-precision weights
    // copied back to the GPU (ZeRO-Offload's schedule; Ren et al. 2021, Sec. 4.1). Under
    // --offload params the weights stay on the host and are fetched when used.
    double copy_back = in.setup->offload.params ? 0.0 : opt_params * in.weight_bytes / HostCopyBytesPerS(in.system->gpu);
    return opt_params * opt_traffic / kHostMemoryBytesPerGpu + copy_back;
  }
  if (optimizer == Optimizer::kAdamW && !eff.adamw_bytes_curve.empty()) {
    opt_traffic = eff.adamw_bytes_curve.At(std::max(opt_params, 1.0));
  } else if (optimizer == Optimizer::kAdamW && eff.adamw_bytes_per_param > 0) {
    opt_traffic = eff.adamw_bytes_per_param;
  }
  return perf::MemSeconds(opt_params * opt_traffic, in.rates);
}

// Step time: the slowest stage over all micro-batches, the pipeline bubble (1F1B, interleaved
// when vpp > 1: Narayanan et al. 2021, Sec. 2.2, bubble fraction (pp - 1) / (m x vpp) of the
// ideal time), exposed data-parallel traffic, the optimizer and the per-step overhead.
void FillStepTime(const LayoutCostInputs& in, const StageTotals& stages, double pp_p2p, TrainingEstimate& e) {
  const Layout& layout = *in.layout;
  const LayerCost& w = stages.worst;
  double m = static_cast<double>(layout.microbatches);
  e.time_compute_s = m * (w.fwd_s + w.bwd_s + w.recompute_s);
  e.time_recompute_s = m * w.recompute_s;
  e.time_attention_s = m * w.attention_s;
  e.time_comm_tp_s = m * w.tp_comm_s;
  if (TensorParallelOverlap(*in.setup)) {
    // Tensor-parallel collectives overlapped with the GEMMs they feed (async TP, TE comm overlap).
    double work = w.fwd_s + w.bwd_s + w.recompute_s;
    e.time_comm_tp_s = m * (std::max(0.0, w.tp_comm_s - work) + ContentionSeconds(w.tp_comm_s, work, *in.rates.eff));
  }
  e.time_comm_cp_s = m * w.cp_comm_s;
  e.time_comm_ep_s = m * w.ep_comm_s;
  if (in.setup->overlap.ep.value_or(false)) {
    // Expert all-to-alls overlapped with another micro-batch's compute (Megatron-Core's
    // batch-level EP overlap, --overlap-moe-expert-parallel-comm; DeepEP's hooks): only what
    // outlasts the work stays exposed, and the overlapped part slows the compute beside it.
    double work = w.fwd_s + w.bwd_s + w.recompute_s;
    e.time_comm_ep_s = m * (std::max(0.0, w.ep_comm_s - work) + ContentionSeconds(w.ep_comm_s, work, *in.rates.eff));
  }
  e.time_comm_pp_s = m * pp_p2p;
  e.time_bubble_s = layout.pp > 1 ? (layout.pp - 1) / static_cast<double>(layout.vpp) * (stages.sum_stage_s / layout.pp) : 0;
  e.time_comm_dp_s = ExposedDataParallelSeconds(in, stages);
  e.time_optimizer_s = OptimizerSeconds(in, stages);
  e.time_offload_s = ExposedOffloadSeconds(in, stages, stages.first_act_bytes, e.time_compute_s);
  e.time_step_overhead_s = in.rates.eff->step_overhead_s;
  double modelled = e.time_compute_s + e.time_comm_tp_s + e.time_comm_cp_s + e.time_comm_ep_s + e.time_comm_pp_s +
                    e.time_bubble_s + e.time_comm_dp_s + e.time_optimizer_s + e.time_offload_s + e.time_step_overhead_s;
  // A team's own runs on this GPU, through `dlcost ledger fit` (1 unless the profile has one).
  e.time_ledger_correction_s = (in.rates.eff->run_time_factor - 1.0) * modelled;
  e.time_step_s = modelled + e.time_ledger_correction_s;
}

// FLOPs per step and the rates they give over the step time (MFU, HFU, tokens/s).
void FillRates(const LayoutCostInputs& in, const StageTotals& stages, TrainingEstimate& e) {
  const Layout& layout = *in.layout;
  const perf::OpGraph& graph = *in.graph;
  double units_per_step = static_cast<double>(layout.global_batch) * (graph.unit == "token" ? graph.tokens_per_sample : 1);
  e.tokens_per_step = units_per_step;
  double fwd = in.fwd_flops_per_unit * units_per_step;
  // Frozen (LoRA/QLoRA) bases compute input gradients but no weight gradients: 2 x forward,
  // plus the adapters' own 6 FLOPs per trained parameter and token.
  e.model_flops_per_step = in.frozen_base ? 2 * fwd + 6 * in.lora_params * units_per_step : 3 * fwd;
  e.hardware_flops_per_step =
      e.model_flops_per_step + (stages.fwd_flops > 0 ? fwd * stages.recompute_flops / stages.fwd_flops : 0);
  double n = static_cast<double>(layout.tp * layout.pp * layout.cp * layout.dp);
  e.tflops_per_gpu_model = e.model_flops_per_step / e.time_step_s / n / kTera;
  e.tflops_per_gpu_hardware = e.hardware_flops_per_step / e.time_step_s / n / kTera;
  e.mfu = e.model_flops_per_step / e.time_step_s / n / e.peak_flops;
  e.hfu = e.hardware_flops_per_step / e.time_step_s / n / e.peak_flops;
  e.tokens_per_s = units_per_step / e.time_step_s;
}

// Activations on the most-loaded GPU: the first stage holds one micro-batch per stage in flight
// (1F1B; more with interleaving), the last its own plus the logits.
double ActivationBytes(const LayoutCostInputs& in, const GroupCosts& groups, const StageTotals& stages) {
  const Layout& layout = *in.layout;
  double m = static_cast<double>(layout.microbatches);
  double in_flight = std::min<double>(layout.pp, m);
  if (layout.vpp > 1) in_flight *= 1.0 + (layout.pp - 1.0) / (layout.pp * layout.vpp);
  double act_first = stages.first_act_bytes * in_flight;
  double act_last = stages.last_act_bytes;
  if (in.setup->offload.activations) {
    // Copied to the host as the forward pass saves them and back as the backward pass needs
    // them: the GPU keeps the layer at work and the one in transit.
    double kept = std::min(1.0, 2.0 / LayersPerStage(in));
    act_first *= kept;
    act_last *= kept;
  }
  act_last += groups.logits_bytes;
  double act = std::max(act_first, act_last);
  if (layout.recompute == Recompute::kFull) {
    // Re-running one layer's forward materialises its full activations once more.
    Layout full = layout;
    full.recompute = Recompute::kNone;
    LayoutCostInputs without = in;
    without.layout = &full;
    for (size_t gi = 0; gi < groups.count; ++gi) {
      if (groups.place[gi] == StagePlace::kLayers) {
        act += perf::CostGroup(without, in.graph->groups[gi]).act_bytes;
        break;
      }
    }
  }
  return act;
}

// Frameworks whose training loop frees the gradients after every optimizer step:
// optimizer.zero_grad() / module.zero_grad() set them to None, PyTorch's default since 2.0
// (torch.optim.Optimizer.zero_grad, set_to_none=True; torchtune's recipes, torchtitan's train
// loop, Hugging Face's Trainer, which Unsloth runs, PyTorch FSDP and nanoGPT's train.py call it).
// Megatron-LM, NeMo and DeepSpeed keep a persistent contiguous gradient buffer; llm.c allocates its
// gradients once; MaxText's gradients are a JAX value of the whole step.
bool GradientsFreedEachStep(const TrainingSetup& s) {
  if (!s.framework) return false;
  switch (*s.framework) {
    case Framework::kTorchtune:
    case Framework::kTorchtitan:
    case Framework::kTransformers:
    case Framework::kUnsloth:
    case Framework::kPytorchFsdp:
    case Framework::kNanogpt:
      return true;
    default:
      return false;
  }
}

// The CUDA context, plus NCCL's buffers when the GPU talks to others.
double DefaultOverheadBytes(const Layout& layout) {
  bool communicates = layout.tp * layout.pp * layout.dp * layout.cp * layout.ep > 1;
  return kCudaContextBytes + (communicates ? kNcclCollectiveBytes : 0.0);
}

// Memory on the most-loaded GPU: weights, gradients and optimizer state (sharded by ZeRO),
// activations and the framework overhead, against the device's capacity.
void FillMemory(const LayoutCostInputs& in, const GroupCosts& groups, const StageTotals& stages, TrainingEstimate& e) {
  const Layout& layout = *in.layout;
  const TrainingSetup& s = *in.setup;
  double trained_params = TrainedParams(in, stages);
  double weights = stages.max_params * in.weight_bytes;
  double grads = trained_params * s.grad_bytes;
  double opt = trained_params * OptimizerStateBytes(s.optimizer, s);
  if (in.frozen_base) weights += trained_params * 2;  // adapters in bf16
  // ZeRO shards over every rank that holds the same weights: the data- and context-parallel
  // ones; a routed expert's weights are held by only dp x cp / ep of them (its expert-data-
  // parallel group, Megatron-Core's distributed optimizer), so their share divides by that.
  double dp_cp = static_cast<double>(layout.dp * layout.cp);
  double expert_dp = std::max(1.0, dp_cp / static_cast<double>(layout.ep));
  double expert_share = stages.max_params > 0 && !in.frozen_base ? stages.max_expert_params / stages.max_params : 0;
  auto shard = [&](double bytes) { return bytes * ((1 - expert_share) / dp_cp + expert_share / expert_dp); };
  if (layout.zero >= 1) opt = shard(opt);
  if (layout.zero >= 2) grads = shard(grads);
  if (layout.zero >= 3) {
    // Sharded, plus one layer gathered at a time; under a pipeline the stage's gathered weights
    // stay from forward to backward (ShardedDataParallelSeconds).
    weights = shard(weights) + (layout.pp > 1 ? weights : weights / LayersPerStage(in));
  }
  const Offload& off = s.offload;
  double layers_here = LayersPerStage(in);
  // Stepped (optimizer in backward) or sent to the host as the backward pass makes them: one
  // layer's gradients at a time.
  if (s.optimizer_in_backward || off.optimizer) grads /= layers_here;
  if (off.optimizer) opt = 0;
  if (off.params) {
    // The weights live on the host: the layer at work and the one being fetched.
    weights = std::min(1.0, 2.0 / layers_here) * (stages.max_params * in.weight_bytes +
                                                  (in.frozen_base ? trained_params * 2 : 0.0));
  }
  double act = ActivationBytes(in, groups, stages);
  e.memory_weights_bytes = weights;
  e.memory_grads_bytes = grads;
  e.memory_optimizer_bytes = opt;
  e.memory_activations_bytes = act;
  e.memory_overhead_bytes = s.overhead_bytes < 0 ? DefaultOverheadBytes(layout) : s.overhead_bytes;
  // Gradients freed after every step and one micro-batch per step: the backward pass creates
  // the gradients layer by layer while it frees the activations it consumes, so the two peak at
  // opposite ends of it and the step holds max(activations, gradients), not their sum. With
  // gradient accumulation the first micro-batch's gradients stay through the later ones.
  e.memory_not_concurrent_bytes =
      GradientsFreedEachStep(s) && layout.microbatches == 1 ? std::min(act, grads) : 0.0;
  e.memory_total_bytes = weights + grads + opt + act + e.memory_overhead_bytes - e.memory_not_concurrent_bytes;
  e.memory_capacity_bytes = in.system->gpu.MemoryBytes();
  e.memory_headroom_bytes = s.memory_headroom_bytes;
  e.fits = e.memory_total_bytes + e.memory_headroom_bytes <= e.memory_capacity_bytes;
}

}  // namespace

std::optional<AttentionKernel> EffectiveAttentionKernel(const TrainingSetup& s, std::string_view architecture) {
  if (s.attention_kernel) return s.attention_kernel;
  if (!s.flash_attention) return AttentionKernel::kEager;
  // The eager-PyTorch frameworks and nanoGPT call torch.nn.functional.scaled_dot_product_attention
  // in their model code (torchtitan's and torchtune's Llama attention, nanoGPT's
  // CausalSelfAttention, Hugging Face transformers' default attn_implementation "sdpa").
  if (perf::EagerPytorchModelCode(s) || s.framework == Framework::kNanogpt) return AttentionKernel::kSdpa;
  // Megatron-LM and NeMo attend through Transformer Engine, which prefers cuDNN's flash attention
  // on Hopper and later and Tri Dao's FlashAttention on Ampere when both apply (NVIDIA/NeMo
  // docs/source/performance/memory_optimizations.rst, 'Flash Attention', as of NeMo PR 9188).
  if (s.framework == Framework::kMegatron || s.framework == Framework::kNemo) {
    if (architecture == "hopper" || architecture == "blackwell") return AttentionKernel::kCudnn;
    if (architecture == "ampere") return AttentionKernel::kFlash2;
  }
  return std::nullopt;
}

// The backward fraction of kernel `k` where the profile measured it apart from the forward pass;
// 0 otherwise (the backward then runs at the forward fraction).
double AttentionKernelBackwardFraction(const EfficiencyProfile& eff, std::optional<AttentionKernel> k) {
  if (!k || *k == AttentionKernel::kEager) return 0;
  const auto& m = eff.attention_kernel_backward_fraction;
  auto it = m.find(AttentionKernelName(*k));
  if (it == m.end() && *k == AttentionKernel::kSdpa) it = m.find("flash2");
  return it != m.end() ? it->second : 0;
}

double AttentionKernelFraction(const EfficiencyProfile& eff, std::optional<AttentionKernel> k, std::string* which) {
  if (!k || *k == AttentionKernel::kEager) {
    if (which) *which = "the profile's fused-attention default";
    return eff.attention_max_fraction;
  }
  auto it = eff.attention_kernel_fraction.find(AttentionKernelName(*k));
  if (it == eff.attention_kernel_fraction.end() && *k == AttentionKernel::kSdpa) {
    it = eff.attention_kernel_fraction.find("flash2");  // SDPA's flash backend is FlashAttention-2
  }
  if (it != eff.attention_kernel_fraction.end()) {
    if (which) *which = fmt::format("{} measured on this GPU generation", AttentionKernelName(*k));
    return it->second;
  }
  if (which) *which = fmt::format("no measurement of {} on this GPU: the profile's fused-attention default", AttentionKernelName(*k));
  return eff.attention_max_fraction;
}

Result<TrainingEvaluator> TrainingEvaluator::Create(const ModelSpec& model, const SystemSpec& sys,
                                                    const TrainingSetup& s, const EfficiencyProfile& eff) {
  TrainingEvaluator t;
  t.model_ = model;
  t.sys_ = sys;
  t.setup_ = s;
  t.eff_ = eff;
  std::optional<AttentionKernel> kernel = EffectiveAttentionKernel(s, sys.gpu.architecture);
  t.setup_.flash_attention = !(kernel && *kernel == AttentionKernel::kEager);
  t.eff_.attention_max_fraction = AttentionKernelFraction(eff, kernel, nullptr);
  t.eff_.attention_backward_fraction = AttentionKernelBackwardFraction(eff, kernel);
  if ((s.precision == Dtype::kFp8 || s.precision == Dtype::kFp4) && eff.gemm_max_fraction_fp8 > 0) {
    t.eff_.gemm_max_fraction = eff.gemm_max_fraction_fp8;
  }
  t.gemm_curve_ = eff.gemm_curve[static_cast<int>(s.precision)];
  if (t.gemm_curve_.empty() && s.precision == Dtype::kTf32) t.gemm_curve_ = eff.gemm_curve[static_cast<int>(Dtype::kFp32)];
  DLCOST_ASSIGN_OR_RETURN(t.graph_, perf::BuildOpGraph(model, model.IsLanguageModel() ? s.seq_len : 0));
  Dtype prec = s.precision;
  DLCOST_ASSIGN_OR_RETURN(double peak, TrainingPeakFlops(sys.gpu, prec));
  t.peak_ = peak;
  // FP8 training (Transformer Engine recipes) runs the GEMMs in FP8 but keeps attention in
  // BF16/FP16 (NVIDIA Transformer Engine documentation, FP8 primer).
  t.attention_peak_ = peak;
  if (prec == Dtype::kFp8 || prec == Dtype::kFp4) {
    t.attention_peak_ = sys.gpu.PeakFlops(Dtype::kBf16).value_or(sys.gpu.PeakFlops(Dtype::kFp16).value_or(peak));
    t.low_precision_casts_ = true;
    // BF16 GEMMs at the BF16 fraction, expressed against the FP8 fraction the profile now holds.
    t.high_precision_gemm_peak_ = t.attention_peak_ * eff.gemm_max_fraction / t.eff_.gemm_max_fraction;
  }
  t.bandwidth_ = sys.gpu.memory_bandwidth_gb_s * kGB;
  t.sustained_compute_ = sys.gpu.SustainedComputeFraction();
  t.causal_ = model.kind == ModelKind::kDecoder;
  t.dropout_ = s.dropout.value_or(model.ffn_act == FfnAct::kGelu && model.kind == ModelKind::kDecoder);
  t.frozen_base_ = s.finetune == Finetune::kLora || s.finetune == Finetune::kQlora;
  // QLoRA: 4-bit NormalFloat weights plus double-quantised constants, 4.127 bits per parameter
  // (Dettmers et al. 2023, "QLoRA", Sec. 3) = 0.516 bytes.
  t.weight_bytes_ = s.finetune == Finetune::kQlora ? 0.516 : (prec == Dtype::kFp32 || prec == Dtype::kTf32 ? 4 : 2);
  t.act_bytes_ = prec == Dtype::kFp32 || prec == Dtype::kTf32 ? 4 : kActBytes;
  t.intra_ = IntraLink(sys, eff);
  t.inter_ = InterLink(sys, eff);
  t.lora_params_ = LoraParams(t.graph_, s.lora_rank, s.lora_targets);
  t.fwd_flops_per_unit_ = t.graph_.FwdFlopsPerUnit();
  double trained = t.frozen_base_ ? t.lora_params_ : t.graph_.TotalParams();
  t.checkpoint_bytes_ = trained * (2 + OptimizerStateBytes(s.optimizer, s));
  if (PureLowPrecision(s)) t.setup_.grad_bytes = 2;
  return t;
}

void TrainingEvaluator::Evaluate(const Layout& layout, TrainingEstimate* out) const {
  TrainingEstimate& e = *out;
  e.layout = layout;
  e.peak_flops = peak_;
  e.checkpoint_bytes = checkpoint_bytes_;
  LayoutCostInputs in;
  in.model = &model_;
  in.graph = &graph_;
  in.system = &sys_;
  in.setup = &setup_;
  in.layout = &layout;
  in.rates = perf::Rates{peak_ * sustained_compute_, attention_peak_ * sustained_compute_, bandwidth_, &eff_,
                         gemm_curve_.empty() ? nullptr : &gemm_curve_, high_precision_gemm_peak_ * sustained_compute_,
                         low_precision_casts_};
  in.causal = causal_;
  in.dropout = dropout_;
  in.frozen_base = frozen_base_;
  in.weight_bytes = weight_bytes_;
  in.act_elem_bytes = act_bytes_;
  in.lora_params = lora_params_;
  in.fwd_flops_per_unit = fwd_flops_per_unit_;
  in.tp_group = Place(layout.tp, 1, sys_, intra_, inter_);
  in.cp_group = Place(layout.cp, layout.tp, sys_, intra_, inter_);
  in.ep_group = Place(layout.ep, layout.tp * layout.cp, sys_, intra_, inter_);
  // Gradients are reduced (and ZeRO shards) over the data- and context-parallel ranks together:
  // both hold the same weights (Megatron-Core's data-parallel-with-context-parallel group,
  // torchtitan's dp_shard_cp mesh).
  in.dp_group = Place(layout.dp * layout.cp, layout.tp, sys_, intra_, inter_);
  in.pp_group = Place(layout.pp, layout.tp * layout.cp * layout.dp, sys_, intra_, inter_);
  in.edp_group = Place(std::max<int64_t>(1, layout.dp * layout.cp / layout.ep), layout.tp * layout.ep, sys_, intra_, inter_);

  GroupCosts groups = CostGroups(in);
  double pp_p2p = PipelineSendSeconds(in);
  StageTotals stages = SumStages(in, groups, pp_p2p);
  FillStepTime(in, stages, pp_p2p, e);
  FillRates(in, stages, e);
  FillMemory(in, groups, stages, e);
}

void AddTrainingAssumptions(const ModelSpec& model, const SystemSpec& sys, const TrainingSetup& s,
                            const EfficiencyProfile& eff, TrainingEstimate& e) {
  Dtype prec = s.precision;
  bool dropout = s.dropout.value_or(model.ffn_act == FfnAct::kGelu && model.kind == ModelKind::kDecoder);
  e.assumptions.push_back(fmt::format("efficiency profile '{}': GEMM {:.0f}%, attention {:.0f}%, memory {:.0f}% of peak",
                                      eff.id, 100 * eff.gemm_max_fraction, 100 * eff.attention_max_fraction,
                                      100 * eff.memory_fraction));
  if (!eff.gemm_curve[static_cast<int>(prec)].empty()) {
    e.assumptions.push_back(fmt::format("GEMM efficiency from the calibrated {} curve of profile '{}' (by arithmetic "
                                        "intensity); memory-bound work at {:.0f}% of the device bandwidth",
                                        DtypeName(prec), eff.id, 100 * eff.memory_fraction));
  }
  e.assumptions.push_back(fmt::format("dropout {}; {} attention; {}", dropout ? "on" : "off",
                                      s.flash_attention ? "fused (flash)" : "unfused",
                                      model.kind == ModelKind::kDecoder && s.flash_attention
                                          ? "masked causal blocks skipped (half the attention work)"
                                          : "full score matrix computed"));
  e.assumptions.push_back(fmt::format("gradients {} bytes/param, optimizer {} ({} bytes/param of state)", PureLowPrecision(s) ? 2.0 : s.grad_bytes,
                                      OptimizerName(s.optimizer), OptimizerStateBytes(s.optimizer, s)));
  if (PureLowPrecision(s)) {
    e.assumptions.push_back("torchtune trains in full bf16: bf16 weights, gradients and optimizer state, no fp32 "
                            "master copy");
  }
  std::string kernel_src;
  std::optional<AttentionKernel> kernel = EffectiveAttentionKernel(s, sys.gpu.architecture);
  double kernel_frac = AttentionKernelFraction(eff, kernel, &kernel_src);
  if (kernel && *kernel != AttentionKernel::kEager) {
    double bwd_frac = AttentionKernelBackwardFraction(eff, kernel);
    e.assumptions.push_back(fmt::format("attention kernel {}{}: {:.0f}% of peak ({}){}", AttentionKernelName(*kernel),
                                        s.attention_kernel ? "" : fmt::format(" ({}'s default)", FrameworkName(*s.framework)),
                                        100 * kernel_frac, kernel_src,
                                        bwd_frac > 0 ? fmt::format(", backward {:.0f}% (measured apart)", 100 * bwd_frac)
                                                     : ", backward at the forward fraction"));
  }
  bool tp_overlap = TensorParallelOverlap(s), dp_overlap = s.overlap.dp.value_or(true);
  bool ep_overlap = model.moe && s.overlap.ep.value_or(false);
  e.assumptions.push_back(fmt::format(
      "tensor-parallel collectives {}; data-parallel traffic {}{}{}",
      tp_overlap ? (s.overlap.tp ? "overlapped with the GEMMs" : "overlapped with the GEMMs (NeMo's performance-mode default)")
                 : "not overlapped with compute",
      dp_overlap ? "overlapped (ZeRO 0-2: under the last micro-batch's backward; ZeRO 3: per-layer prefetch)" : "not overlapped",
      model.moe ? (ep_overlap ? "; expert all-to-alls overlapped with another micro-batch's compute"
                              : "; expert all-to-alls not overlapped (--overlap ep to overlap them)")
                : "",
      dp_overlap || tp_overlap || ep_overlap
          ? fmt::format("; overlapped collectives slow compute by {:.0f}% of their time (NCCL's SM share)",
                        100 * eff.comm_compute_slowdown)
          : ""));
  double sustained = sys.gpu.SustainedComputeFraction();
  if (sustained < 1) {
    e.assumptions.push_back(fmt::format("{} runs capped at {:.0f} W of the {:.0f} W its peaks assume: compute at {:.1f}% of "
                                        "the datasheet peak's clock ((cap/peak power)^(1/3); MFU still against the "
                                        "datasheet peak)", sys.gpu.id, sys.gpu.tdp_w, sys.gpu.peak_power_w, 100 * sustained));
  }
  if (s.shard_group > 0) {
    e.assumptions.push_back(fmt::format("hybrid sharding: weights sharded over {} data-parallel ranks, replicated across "
                                        "groups", s.shard_group));
  }
}

Result<TrainingEstimate> EstimateTraining(const ModelSpec& model, const SystemSpec& sys, const TrainingSetup& s,
                                          const EfficiencyProfile& eff) {
  DLCOST_ASSIGN_OR_RETURN(TrainingEvaluator ev, TrainingEvaluator::Create(model, sys, s, eff));
  DLCOST_ASSIGN_OR_RETURN(Layout L, ev.ResolveLayout(s));
  TrainingEstimate e;
  ev.Evaluate(L, &e);
  AddTrainingAssumptions(model, sys, s, eff, e);
  return e;
}

}  // namespace dlcost
