// dlcost train: per-GPU memory, step time and whole-run cost of a training job.
#include <cstdio>

#include "cli_common.h"
#include "cost_flags.h"
#include "dlcost/api_train.h"
#include "dlcost/units.h"
#include "record_flags.h"

namespace dlcost::cli {
namespace {

int RunTrain(const GlobalOptions& g, const api::TrainRequest& a, const RecordOptions& rec) {
  if (Status st = CheckRecordOptions(rec); !st.ok()) return Fail(st);
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  Result<api::TrainResult> r = api::Train(*session, a);
  if (!r.ok()) return Fail(r.status());
  report::Report rep = api::TrainReport(*r);
  const TrainingEstimate& e = r->estimate;
  // Only an estimate that fits is recorded: one that cannot run commits nothing.
  int code = e.fits ? EmitRecorded(g, rec, "train", report::Render(rep, report::Format::kJson), &rep) : Emit(rep, g);
  if (code != 0) return code;
  if (!e.fits) {
    if (rec.record) std::fprintf(stderr, "dlcost: not recorded in the ledger: the layout does not fit\n");
    double usable = e.memory_capacity_bytes - e.memory_headroom_bytes;
    std::fprintf(stderr, "dlcost: does not fit: %.2f GiB needed per GPU, %.1f GiB available%s (short by %.2f GiB)\n",
                 e.memory_total_bytes / kGiB, usable / kGiB,
                 e.memory_headroom_bytes > 0 ? " after --memory-headroom" : "",
                 (e.memory_total_bytes - usable) / kGiB);
    return 3;
  }
  return 0;
}

}  // namespace

void RegisterTrain(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("train", "Estimate memory, step time and whole-run cost of training a model");
  auto a = std::make_shared<api::TrainRequest>();
  auto rec = std::make_shared<RecordOptions>();
  cmd->add_option("--model", a->model, "Zoo id, model JSON or Hugging Face config.json")->required();
  cmd->add_option("--gpu", a->gpu, "GPU id or alias (dlcost gpus)")->required();
  cmd->add_option("--gpus", a->gpus, "Number of GPUs")->required();
  cmd->add_option("--tokens", a->tokens, "Tokens (or images) to train on, e.g. 1T, 500B");
  cmd->add_option("--steps", a->steps, "Optimizer steps (instead of --tokens)");
  cmd->add_option("--epochs", a->epochs, "Passes over the dataset (with --dataset-tokens, instead of --tokens)");
  cmd->add_option("--dataset-tokens", a->dataset_tokens, "Dataset size in tokens (or images) for --epochs");
  cmd->add_option("--moe-capacity-factor", a->moe_capacity_factor, "Expert slots per routed token (default 1: dropless)");
  cmd->add_option("--seq", a->seq, "Sequence length (default: the model's context, at most 8192)");
  cmd->add_option("--global-batch", a->global_batch, "Sequences per optimizer step (default: ~4M tokens)");
  cmd->add_option("--micro-batch", a->micro_batch, "Sequences per GPU per micro-step");
  cmd->add_option("--tp", a->tp, "Tensor-parallel size");
  cmd->add_option("--pp", a->pp, "Pipeline-parallel size");
  cmd->add_option("--dp", a->dp, "Data-parallel size");
  cmd->add_option("--cp", a->cp, "Context-parallel size");
  cmd->add_option("--ep", a->ep, "Expert-parallel size");
  cmd->add_option("--vpp", a->vpp, "Virtual pipeline stages per rank (interleaving)");
  cmd->add_option("--zero", a->zero, "ZeRO stage 0-3 (3 = FSDP full shard)");
  cmd->add_option("--seq-parallel", a->seq_parallel, "Megatron sequence parallelism 0|1 (default 1 when tp > 1)");
  cmd->add_option("--recompute", a->recompute, "Activation recomputation: none, selective, full");
  cmd->add_option("--precision", a->precision, "bf16, fp16, fp8, fp32")->capture_default_str();
  cmd->add_option("--optimizer", a->optimizer, "adamw, sgd, adafactor, adam8bit")->capture_default_str();
  cmd->add_option("--finetune", a->finetune, "none (pre-training), full, lora, qlora")->capture_default_str();
  cmd->add_option("--lora-rank", a->lora_rank, "LoRA rank")->capture_default_str();
  cmd->add_option("--lora-targets", a->lora_targets, "Projections with LoRA adapters: all, attention, mlp")
      ->capture_default_str();
  cmd->add_option("--framework", a->framework,
                  "Training framework (megatron-lm, nemo, torchtitan, deepspeed, pytorch-fsdp, torchtune, ...): sets "
                  "the default attention kernel");
  cmd->add_option("--attention-kernel", a->attention_kernel, "eager, sdpa, flash1, flash2, flash3, cudnn, ck, other");
  cmd->add_option("--overlap", a->overlap, "Communication overlapped with compute: none, or dp, tp, ep joined with '+' (pp and cp are always overlapped)");
  cmd->add_option("--offload", a->offload,
                  "Training state in host memory: none, or optimizer, params, activations joined with '+' (params "
                  "implies optimizer)");
  cmd->add_flag("--compile", a->compile,
                "The model runs under torch.compile (fuses the elementwise operators of torchtitan, torchtune, "
                "pytorch-fsdp and transformers model code)");
  cmd->add_flag("--optimizer-in-backward", a->optimizer_in_backward,
                "Step each parameter as its gradient is made (no whole-model gradient buffer)");
  cmd->add_option("--pp-layers", a->pp_layers,
                  "Transformer layers per pipeline rank (or per virtual stage), e.g. 15,16,16,16,16,16,16,15");
  cmd->add_option("--restart-min", a->restart_min,
                  "Minutes to detect an interruption, restart and reload (default 10; models the goodput)");
  cmd->add_option("--eval-fraction", a->eval_fraction,
                  "Evaluation time as a share of the steady-state training time (default 0)");
  cmd->add_option("--hsdp-shard", a->hsdp_shard, "Hybrid sharding: shard weights over groups of N data-parallel ranks");
  AddCostOptions(cmd, &a->cost);
  cmd->add_option("--goodput", a->goodput,
                  "Share of wall time spent training (default: modelled from interruptions, restarts, checkpoints)");
  cmd->add_option("--host-power-w", a->host_power_w, "Host power per GPU in W (default 0)");
  cmd->add_option("--gpus-per-node", a->system.gpus_per_node, "GPUs per node (default: catalog node size)");
  cmd->add_option("--internode-gbps", a->system.internode_gbps, "Network bandwidth per node, Gbit/s (default: catalog NICs)");
  cmd->add_option("--overhead-gib", a->overhead_gib, "Memory outside the allocator per GPU in GiB (default: CUDA context + NCCL buffers)");
  cmd->add_option("--memory-headroom", a->memory_headroom, "GiB kept free on every GPU (fragmentation, other processes; default 0)");
  cmd->add_option("--calibration", a->calibration, "Efficiency profile JSON (default: data/efficiency/default.json)");
  cmd->add_option("--bands", a->bands, "Error-band table JSON (default: data/bands/training.json)");
  cmd->add_flag("--no-flash", a->no_flash, "Model unfused attention (stores the s x s scores)");
  AddRecordOptions(cmd, rec.get());
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a, rec] { *exit_code = RunTrain(g, *a, *rec); });
}

}  // namespace dlcost::cli
