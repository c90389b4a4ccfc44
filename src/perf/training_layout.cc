// The layout rules (docs/training.md, "Layout rules"): the degrees of a training setup, with
// defaults filled in, checked against the GPU count, the model's shape and the batch.
#include <string>

#include <fmt/format.h>

#include "dlcost/training.h"

namespace dlcost {
namespace {

Status CheckDivides(int64_t a, int64_t b, const std::string& what) {
  if (a <= 0 || b % a != 0) return InvalidInput(what);
  return Status::Ok();
}

// The degrees of `s` (defaults for those left empty), each at least 1, and their product with
// dp equal to the GPU count.
Result<Layout> DegreesOf(const TrainingSetup& s) {
  Layout layout;
  layout.tp = s.tp.value_or(1);
  layout.pp = s.pp.value_or(1);
  layout.cp = s.cp.value_or(1);
  layout.ep = s.ep.value_or(1);
  layout.vpp = s.vpp.value_or(1);
  layout.zero = s.zero.value_or(0);
  layout.recompute = s.recompute.value_or(Recompute::kNone);
  layout.micro_batch = s.micro_batch.value_or(1);
  struct Degree {
    const char* flag;
    int64_t value;
  };
  for (Degree d : {Degree{"--tp", layout.tp}, Degree{"--pp", layout.pp}, Degree{"--cp", layout.cp},
                   Degree{"--ep", layout.ep}, Degree{"--vpp", layout.vpp}, Degree{"--micro-batch", layout.micro_batch}}) {
    if (d.value < 1) return InvalidInput(fmt::format("{}: must be at least 1", d.flag));
    if (d.flag != std::string("--vpp") && d.flag != std::string("--micro-batch") && d.value > s.num_gpus) {
      return InvalidInput(fmt::format("{}: {} is larger than --gpus {}", d.flag, d.value, s.num_gpus));
    }
  }
  if (layout.vpp > 1 && layout.pp == 1) return InvalidInput("--vpp: interleaving needs pipeline parallelism (pp > 1)");
  int64_t mp = layout.tp * layout.pp * layout.cp;
  if (s.num_gpus % mp != 0) {
    return InvalidInput(fmt::format("--gpus: {} GPUs is not a multiple of tp x pp x cp = {}", s.num_gpus, mp));
  }
  layout.dp = s.dp.value_or(s.num_gpus / mp);
  if (layout.tp * layout.pp * layout.cp * layout.dp != s.num_gpus) {
    return InvalidInput(fmt::format("--dp: tp x pp x cp x dp = {} x {} x {} x {} does not equal --gpus {}", layout.tp,
                                    layout.pp, layout.cp, layout.dp, s.num_gpus));
  }
  layout.seq_parallel = s.seq_parallel.value_or(layout.tp > 1);
  return layout;
}

}  // namespace

Status CheckPipelineSplit(const ModelSpec& model, const TrainingSetup& s, const Layout& layout) {
  if (s.pp_layers.empty()) return Status::Ok();
  int64_t n = static_cast<int64_t>(s.pp_layers.size());
  if (n != layout.pp && n != layout.pp * layout.vpp) {
    return InvalidInput(fmt::format("--pp-layers: {} counts for pp = {} (give pp, or pp x vpp = {}, counts)", n, layout.pp,
                                    layout.pp * layout.vpp));
  }
  int64_t sum = 0;
  for (int64_t c : s.pp_layers) {
    if (c < 1) return InvalidInput("--pp-layers: every stage needs at least one layer");
    sum += c;
  }
  if (sum != model.layers) {
    return InvalidInput(fmt::format("--pp-layers: the counts sum to {}, not the {} layers of {}", sum, model.layers, model.id));
  }
  return Status::Ok();
}

namespace {

// The degrees against the model: heads, layers, sequence and experts they must divide, and the
// ZeRO stages a pipeline allows.
Status CheckModelRules(const ModelSpec& model, const TrainingSetup& s, const Layout& layout) {
  if (model.IsTransformer()) {
    DLCOST_RETURN_IF_ERROR(CheckDivides(layout.tp, model.heads,
        fmt::format("--tp: {} does not divide the {} attention heads of {}", layout.tp, model.heads, model.id)));
    if (model.kv_heads % layout.tp != 0 && layout.tp % model.kv_heads != 0) {
      return InvalidInput(fmt::format("--tp: {} and the {} key/value heads of {} do not divide one another", layout.tp,
                                      model.kv_heads, model.id));
    }
    if (layout.pp * layout.vpp > model.layers + 2) {
      return InvalidInput(fmt::format("--pp: pp x vpp = {} is more than the {} layers of {} + 2 (a stage needs a layer, "
                                      "or the embedding or the loss)",
                                      layout.pp * layout.vpp, model.layers, model.id));
    }
    DLCOST_RETURN_IF_ERROR(CheckPipelineSplit(model, s, layout));
  } else if (layout.tp > 1 || layout.pp > 1 || layout.cp > 1) {
    return InvalidInput(fmt::format("--tp/--pp/--cp: {} is a {} model; only data parallelism is modelled for it",
                                    model.id, ModelKindName(model.kind)));
  }
  if (layout.cp > 1 && s.seq_len % layout.cp != 0) {
    return InvalidInput(fmt::format("--cp: {} does not divide --seq {}", layout.cp, s.seq_len));
  }
  if (layout.ep > 1) {
    if (!model.moe) return InvalidInput(fmt::format("--ep: {} has no experts", model.id));
    DLCOST_RETURN_IF_ERROR(CheckDivides(layout.ep, model.moe->experts,
        fmt::format("--ep: {} does not divide the {} experts", layout.ep, model.moe->experts)));
    // Megatron-Core folds expert parallelism over the tensor-, context- and data-parallel ranks
    // (MoE parallel folding): ep must divide tp x cp x dp.
    int64_t fold = layout.tp * layout.cp * layout.dp;
    DLCOST_RETURN_IF_ERROR(CheckDivides(layout.ep, fold,
        fmt::format("--ep: {} does not divide tp x cp x dp = {}", layout.ep, fold)));
  }
  if (layout.zero < 0 || layout.zero > 3) return InvalidInput("--zero: must be 0, 1, 2 or 3");
  if (s.shard_group > 0 && layout.zero == 3 && (layout.dp * layout.cp) % s.shard_group != 0) {
    return InvalidInput(fmt::format("--hsdp-shard: {} does not divide the data- x context-parallel size {}", s.shard_group,
                                    layout.dp * layout.cp));
  }
  // DeepSpeed's pipeline engine supports ZeRO stage 0 or 1 only, and Megatron-LM's distributed
  // optimizer is stage 1 (DeepSpeed documentation, "Pipeline Parallelism"); PyTorch FSDP2 runs
  // under torch.distributed.pipelining (torchtitan's FSDP + PP), so stage 3 is allowed.
  if (layout.zero == 2 && layout.pp > 1) {
    return InvalidInput(fmt::format("--zero: stage 2 cannot be combined with pipeline parallelism (pp = {}); use 0, 1 "
                                    "or 3 (FSDP)", layout.pp));
  }
  return Status::Ok();
}

// The global batch (the default when none is given) split into micro-batches per step.
Status ResolveBatch(const ModelSpec& model, const perf::OpGraph& graph, const TrainingSetup& s, Layout& layout) {
  if (s.global_batch) {
    layout.global_batch = *s.global_batch;
  } else {
    double per = static_cast<double>(graph.tokens_per_sample);
    layout.global_batch = DefaultGlobalBatch(model.IsLanguageModel(), per, layout.dp * layout.micro_batch);
  }
  if (layout.global_batch % (layout.dp * layout.micro_batch) != 0) {
    return InvalidInput(fmt::format("--global-batch: {} is not divisible by dp x micro-batch = {} x {}",
                                    layout.global_batch, layout.dp, layout.micro_batch));
  }
  layout.microbatches = layout.global_batch / (layout.dp * layout.micro_batch);
  if (layout.vpp > 1 && layout.microbatches % layout.pp != 0) {
    return InvalidInput(fmt::format("--vpp: interleaving needs the {} micro-batches per step to be a multiple of pp = {}",
                                    layout.microbatches, layout.pp));
  }
  return Status::Ok();
}

}  // namespace

Result<Layout> TrainingEvaluator::ResolveLayout(const TrainingSetup& s) const {
  if (s.num_gpus < 1) return InvalidInput("--gpus: must be at least 1");
  DLCOST_ASSIGN_OR_RETURN(Layout layout, DegreesOf(s));
  DLCOST_RETURN_IF_ERROR(CheckModelRules(model_, s, layout));
  DLCOST_RETURN_IF_ERROR(ResolveBatch(model_, graph_, s, layout));
  return layout;
}

}  // namespace dlcost
