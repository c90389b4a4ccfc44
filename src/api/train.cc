#include "dlcost/api_train.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "api/bands.h"
#include "api/charts.h"
#include "dlcost/plan.h"
#include "dlcost/strings.h"
#include "dlcost/units.h"

namespace dlcost::api {
namespace {

// The layout and precision flags of `a` into `s` (model-dependent checks need `model`).
Status ParseLayoutFlags(const TrainRequest& a, const ModelSpec& model, TrainingSetup& s) {
  struct IntFlag {
    const std::string* text;
    const char* name;
    std::optional<int64_t>* dst;
  };
  IntFlag ints[] = {{&a.global_batch, "--global-batch", &s.global_batch}, {&a.micro_batch, "--micro-batch", &s.micro_batch},
                    {&a.tp, "--tp", &s.tp}, {&a.pp, "--pp", &s.pp}, {&a.dp, "--dp", &s.dp}, {&a.cp, "--cp", &s.cp},
                    {&a.ep, "--ep", &s.ep}, {&a.vpp, "--vpp", &s.vpp}};
  for (const IntFlag& f : ints) {
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> v, OptionalPositiveInt(*f.text, f.name));
    if (v && *v > 100000000) return InvalidInput(fmt::format("{}: value too large", f.name));
    *f.dst = v;
  }
  if (!a.zero.empty()) {
    if (a.zero != "0" && a.zero != "1" && a.zero != "2" && a.zero != "3") {
      return InvalidInput(fmt::format("--zero: '{}' must be 0, 1, 2 or 3", a.zero));
    }
    s.zero = a.zero[0] - '0';
  }
  if (!a.seq_parallel.empty()) {
    if (a.seq_parallel != "0" && a.seq_parallel != "1") return InvalidInput("--seq-parallel: must be 0 or 1");
    s.seq_parallel = a.seq_parallel == "1";
  }
  if (!a.recompute.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.recompute, ParseRecompute(a.recompute));
  }
  DLCOST_ASSIGN_OR_RETURN(s.precision, ParseDtype(a.precision, "--precision"));
  DLCOST_ASSIGN_OR_RETURN(s.optimizer, ParseOptimizer(a.optimizer));
  DLCOST_ASSIGN_OR_RETURN(s.finetune, ParseFinetune(a.finetune));
  DLCOST_ASSIGN_OR_RETURN(s.lora_rank, ParsePositiveInt(a.lora_rank, "--lora-rank"));
  DLCOST_ASSIGN_OR_RETURN(s.lora_targets, ParseLoraTargets(a.lora_targets, "--lora-targets"));
  if (s.finetune != Finetune::kNone && s.finetune != Finetune::kFull && s.lora_rank > model.hidden) {
    return InvalidInput(fmt::format("--lora-rank: {} is above the hidden size {} of {}", s.lora_rank, model.hidden, model.id));
  }
  s.flash_attention = !a.no_flash;
  if (!a.framework.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.framework, ParseFramework(a.framework, "--framework"));
    if (!s.recompute) s.recompute = FrameworkDefaultRecompute(*s.framework);
  }
  if (!a.attention_kernel.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.attention_kernel, ParseAttentionKernel(a.attention_kernel, "--attention-kernel"));
    if (a.no_flash && *s.attention_kernel != AttentionKernel::kEager) {
      return UsageError("--no-flash: contradicts --attention-kernel " + a.attention_kernel);
    }
  }
  if (!a.overlap.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.overlap, ParseOverlap(a.overlap, "--overlap"));
  }
  if (!a.offload.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.offload, ParseOffload(a.offload, "--offload"));
  }
  s.optimizer_in_backward = a.optimizer_in_backward;
  if (a.compile) s.compiled = true;
  if (s.optimizer_in_backward && s.offload.optimizer) {
    return UsageError("--optimizer-in-backward: contradicts --offload " + a.offload + " (the optimizer runs on the CPU)");
  }
  if (!a.hsdp_shard.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.shard_group, ParsePositiveInt(a.hsdp_shard, "--hsdp-shard"));
    if (s.zero && *s.zero != 3) return InvalidInput("--hsdp-shard: hybrid sharding needs --zero 3");
    s.zero = 3;
  }
  if (!a.pp_layers.empty()) {
    for (const std::string& part : Split(a.pp_layers, ',')) {
      DLCOST_ASSIGN_OR_RETURN(int64_t n, ParsePositiveInt(std::string(TrimView(part)), "--pp-layers"));
      if (n > 100000) return InvalidInput("--pp-layers: a stage of more than 100,000 layers");
      s.pp_layers.push_back(n);
    }
  }
  s.overhead_bytes = -1;
  if (!a.moe_capacity_factor.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(a.moe_capacity_factor, "--moe-capacity-factor"));
    if (v < 1 || v > 16) return InvalidInput("--moe-capacity-factor: must be between 1 and 16");
    if (!model.moe) return InvalidInput(fmt::format("--moe-capacity-factor: {} has no experts", model.id));
    s.moe_capacity_factor = v;
  }
  if (!a.overhead_gib.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double o, ParseCount(a.overhead_gib, "--overhead-gib"));
    s.overhead_bytes = o * kGiB;
  }
  if (!a.memory_headroom.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.memory_headroom_bytes, ParseMemoryHeadroom(a.memory_headroom, "--memory-headroom"));
  }
  return Status::Ok();
}

Result<TrainingSetup> ParseSetup(const TrainRequest& a, const ModelSpec& model) {
  TrainingSetup s;
  DLCOST_ASSIGN_OR_RETURN(s.num_gpus, ParsePositiveInt(a.gpus, "--gpus"));
  if (s.num_gpus > 1000000) return InvalidInput("--gpus: at most 1,000,000");
  if (!a.seq.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.seq_len, ParsePositiveInt(a.seq, "--seq"));
    if (s.seq_len > (int64_t{1} << 24)) return InvalidInput("--seq: at most 16M tokens");
  } else {
    s.seq_len = DefaultSeqLen(model.max_seq, !(a.finetune.empty() || a.finetune == "none"));
  }
  DLCOST_RETURN_IF_ERROR(ParseLayoutFlags(a, model, s));
  if (s.finetune != Finetune::kNone && !s.global_batch) s.global_batch = DefaultFinetuneGlobalBatch(s.seq_len);
  return s;
}

// The goodput note: the user's figure, or the modelled parts (docs/training.md, "Whole run").
std::string GoodputNote(const GoodputParts& g, const RunOverheads& o) {
  if (!g.modelled) return fmt::format("goodput {:.3f} (given with --goodput)", g.goodput);
  return fmt::format(
      "goodput {:.3f} modelled: {:.3g} interruptions expected (Llama 3's {:.2e} per GPU-hour; Dubey et al. 2024, "
      "Table 5; job MTBF {:.1f} h), each losing half a checkpoint interval and a {:.0f}-minute restart (assumed; "
      "--restart-min); checkpoints of {:.0f} s (weights and optimizer state at Llama 3's 2 TB/s for 16,384 GPUs, "
      "pro rata) every {:.0f} min (Young's optimum sqrt(2 C MTBF)); losses {:.1f}% checkpoints, {:.1f}% "
      "interruptions, {:.1f}% evaluation (--eval-fraction); --goodput overrides",
      g.goodput, g.interruptions, o.interruptions_per_gpu_hour, g.mtbf_s / kSecondsPerHour, o.restart_s / 60,
      g.checkpoint_s, g.checkpoint_interval_s / 60, 100 * g.checkpoint_share, 100 * g.failure_share, 100 * g.eval_share);
}

// How much to train: --tokens, --steps, or --epochs x --dataset-tokens, and --goodput.
Result<RunInputs> ParseRunAmount(const TrainRequest& a) {
  RunInputs run;
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> tokens, OptionalCount(a.tokens, "--tokens"));
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> steps, OptionalCount(a.steps, "--steps"));
  if (!a.epochs.empty() || !a.dataset_tokens.empty()) {
    if (a.epochs.empty() || a.dataset_tokens.empty()) return UsageError("--epochs and --dataset-tokens: give both");
    if (tokens || steps) return UsageError("--epochs/--dataset-tokens: not with --tokens or --steps");
    DLCOST_ASSIGN_OR_RETURN(double ep, ParseCount(a.epochs, "--epochs"));
    DLCOST_ASSIGN_OR_RETURN(double ds, ParseCount(a.dataset_tokens, "--dataset-tokens"));
    if (ep <= 0 || ds <= 0) return InvalidInput("--epochs/--dataset-tokens: must be positive");
    tokens = ep * ds;
  }
  if (tokens && steps) return UsageError("--tokens and --steps: give one, not both");
  if (!tokens && !steps) return UsageError("--tokens, --steps or --epochs with --dataset-tokens is required");
  if ((tokens && *tokens <= 0) || (steps && *steps <= 0)) return InvalidInput("--tokens/--steps: must be positive");
  run.tokens = tokens;
  run.steps = steps;
  if (!a.goodput.empty()) {
    DLCOST_ASSIGN_OR_RETURN(run.goodput, ParseCount(a.goodput, "--goodput"));
    if (!a.restart_min.empty() || !a.eval_fraction.empty()) {
      return UsageError("--goodput: give it or --restart-min/--eval-fraction (which model it), not both");
    }
  }
  if (!a.restart_min.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double m, ParseCount(a.restart_min, "--restart-min"));
    if (!(m >= 0) || m > 10080) return InvalidInput("--restart-min: must be between 0 and 10080 (one week)");
    run.overheads.restart_s = 60 * m;
  }
  if (!a.eval_fraction.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double f, ParseCount(a.eval_fraction, "--eval-fraction"));
    if (!(f >= 0) || f > 10) return InvalidInput("--eval-fraction: must be between 0 and 10");
    run.overheads.eval_fraction = f;
  }
  return run;
}

}  // namespace

Result<TrainResult> Train(const Session& session, const TrainRequest& a) {
  TrainResult r;
  DLCOST_ASSIGN_OR_RETURN(r.model, session.ResolveModel(a.model));
  DLCOST_ASSIGN_OR_RETURN(std::shared_ptr<const ErrorBandTable> table, session.ErrorBands(a.bands));
  DLCOST_ASSIGN_OR_RETURN(r.gpu, session.ResolveGpu(a.gpu));
  DLCOST_ASSIGN_OR_RETURN(r.setup, ParseSetup(a, r.model));
  r.finetune_batch_defaulted = r.setup.finetune != Finetune::kNone && a.global_batch.empty();
  DLCOST_ASSIGN_OR_RETURN(SystemSpec sys, session.ResolveSystem(r.gpu, a.system));
  DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile eff, session.Efficiency(a.calibration, r.gpu.id));
  DLCOST_ASSIGN_OR_RETURN(r.estimate, EstimateWithChosenLayout(r.model, sys, r.setup, eff));

  DLCOST_ASSIGN_OR_RETURN(r.run, ParseRunAmount(a));
  // One node of the run (or all of it when smaller) must sit in one priced instance.
  int node = static_cast<int>(std::min<int64_t>(r.setup.num_gpus, std::max(1, sys.gpus_per_node)));
  DLCOST_ASSIGN_OR_RETURN(r.cost_context, session.ResolveCost(r.gpu, a.cost, node));
  r.run.usd_per_gpu_hour = r.cost_context.usd_per_gpu_hour;
  r.run.pue = r.cost_context.pue;
  r.run.carbon_g_per_kwh = r.cost_context.carbon_g_per_kwh;
  r.run.gpu_power_w = r.cost_context.gpu_power_w.value_or(0);
  if (!a.host_power_w.empty()) {
    DLCOST_ASSIGN_OR_RETURN(r.run.host_power_w_per_gpu, ParseCount(a.host_power_w, "--host-power-w"));
  }
  DLCOST_ASSIGN_OR_RETURN(r.cost, ComputeRunCost(r.estimate, r.setup.num_gpus, r.gpu.tdp_w, r.run));
  DLCOST_ASSIGN_OR_RETURN(r.calibration_note, CalibrationNote(a.calibration, r.gpu.id));
  if (eff.run_time_factor != 1.0) {
    if (!r.calibration_note.empty()) r.calibration_note += "; ";
    r.calibration_note += fmt::format(
        "step time x{:.3f}: the ledger correction for {} in {}, fitted by dlcost ledger fit from {} of this team's runs "
        "(spread of ln(actual/estimated) {:.3f}; docs/ledger.md, 'Fit')",
        eff.run_time_factor, eff.run_time_factor_key, a.calibration, eff.run_time_factor_pairs, eff.run_time_factor_sd_log);
  }
  r.bands = BandsFor(table.get(), r.gpu, r.estimate.layout, r.setup.precision, r.estimate, r.cost);
  return r;
}

namespace {

// The part of the most-loaded GPU's memory that decides whether it fits: the largest one.
const char* LargestMemoryPart(const TrainingEstimate& e) {
  std::pair<double, const char*> parts[] = {{e.memory_weights_bytes, "weights"},
                                            {e.memory_grads_bytes, "gradients"},
                                            {e.memory_optimizer_bytes, "optimizer states"},
                                            {e.memory_activations_bytes, "activations"},
                                            {e.memory_overhead_bytes, "CUDA context and NCCL"}};
  const auto* best = &parts[0];
  for (const auto& p : parts) {
    if (p.first > best->first) best = &p;
  }
  return best->second;
}

// Days with two decimals, or three significant digits below a tenth of a day (a short fine-tune
// is not "0.00 days").
int DaysDigits(double seconds) { return seconds / kSecondsPerDay >= 0.1 ? 2 : -1; }

void AddTrainFields(const TrainResult& t, report::Report& r) {
  const TrainingEstimate& e = t.estimate;
  const Layout& L = e.layout;
  std::string unit = t.model.IsLanguageModel() ? "tokens" : "images";
  r.AddField("model", "model", t.model.id);
  r.AddField("gpu", "GPU", t.gpu.id);
  r.AddField("num_gpus", "GPUs", t.setup.num_gpus);
  r.AddField("layout", "layout", fmt::format("tp={} pp={} dp={} cp={} ep={} vpp={} zero={} sp={} recompute={}", L.tp, L.pp,
                                             L.dp, L.cp, L.ep, L.vpp, L.zero, L.seq_parallel ? 1 : 0,
                                             RecomputeName(L.recompute)));
  r.AddField("seq_len", "sequence length", t.setup.seq_len);
  r.AddField("micro_batch", "micro-batch (sequences)", L.micro_batch);
  r.AddField("global_batch", "global batch (sequences)", L.global_batch);
  r.AddField("microbatches_per_step", "micro-batches per step", L.microbatches);
  r.AddField("precision", "precision", std::string(DtypeName(t.setup.precision)));
  r.AddField("offload", "offloaded to host memory", OffloadName(t.setup.offload));
  r.AddField("chosen", "chosen by dlcost", e.chosen.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(e.chosen, " ")));
  r.AddField("fits", "fits in memory", e.fits);
  r.AddField("memory_total_gib", "memory per GPU (GiB)", e.memory_total_bytes / kGiB, 2);
  r.AddField("memory_capacity_gib", "GPU memory (GiB)", e.memory_capacity_bytes / kGiB, 1);
  r.AddField("memory_kept_free_gib", "kept free (--memory-headroom, GiB)", e.memory_headroom_bytes / kGiB, 1);
  r.AddField("memory_largest_part", "largest memory part", std::string(LargestMemoryPart(e)));
  r.AddField("time_step_s", "step time (s)", e.time_step_s, 4);
  AddBandFields(r, "time_step_s", t.bands.step_s);
  r.AddField("tokens_per_s", unit + " per second", e.tokens_per_s, 0);
  AddBandFields(r, "tokens_per_s", t.bands.tokens_per_s);
  r.AddField("tflops_per_gpu", "model TFLOP/s per GPU", e.tflops_per_gpu_model, 1);
  r.AddField("mfu_pct", "MFU (%)", 100 * e.mfu, 1);
  r.AddField("hfu_pct", "HFU (%)", 100 * e.hfu, 1);
  r.AddField("steps", "optimizer steps", t.cost.steps, 0);
  r.AddField("tokens", unit + " trained", t.cost.tokens);
  r.AddField("steady_wall_days", "steady-state wall time (days)", t.cost.steady_wall_s / kSecondsPerDay,
             DaysDigits(t.cost.steady_wall_s));
  r.AddField("steady_gpu_hours", "steady-state GPU-hours", t.cost.steady_gpu_hours);
  r.AddField("goodput", "goodput", t.cost.goodput.goodput, 3);
  r.AddField("wall_days", "wall time (days)", t.cost.wall_s / kSecondsPerDay, DaysDigits(t.cost.wall_s));
  AddBandFields(r, "wall_days", t.bands.wall_days);
  r.AddField("gpu_hours", "GPU-hours", t.cost.gpu_hours);
  AddBandFields(r, "gpu_hours", t.bands.gpu_hours);
  r.AddField("usd_per_gpu_hour", "$ per GPU-hour",
             t.run.usd_per_gpu_hour ? report::Value(*t.run.usd_per_gpu_hour) : report::Value(), 3);
  r.AddField("usd", "cost ($)", t.cost.usd ? report::Value(*t.cost.usd) : report::Value());
  AddBandFields(r, "usd", t.bands.usd);
  r.AddField("energy_kwh", "energy (kWh)", t.cost.energy_kwh);
  r.AddField("pue", "PUE", t.run.pue, 2);
  r.AddField("carbon_g_per_kwh", "grid gCO2e/kWh", t.run.carbon_g_per_kwh, 0);
  r.AddField("co2_kg", "CO2e (kg)", t.cost.co2_kg);
}

void AddTrainTables(const TrainingEstimate& e, bool t_offload_opt, report::Report& r) {
  size_t mem_index = r.tables.size();
  report::Table& mem = r.AddTable("memory", "Memory per GPU (most-loaded rank)",
                                  {{"part", "part"}, {"gib", "GiB", 2}, {"share_pct", "%", 1}});
  auto mem_row = [&](const char* name, double b) {
    mem.rows.push_back({std::string(name), b / kGiB, 100 * b / e.memory_total_bytes});
  };
  mem_row("weights", e.memory_weights_bytes);
  mem_row("gradients", e.memory_grads_bytes);
  mem_row("optimizer states", e.memory_optimizer_bytes);
  mem_row("activations", e.memory_activations_bytes);
  mem_row("CUDA context and NCCL", e.memory_overhead_bytes);
  if (e.memory_not_concurrent_bytes > 0) mem_row("not held at once (grads freed)", -e.memory_not_concurrent_bytes);
  mem_row("total", e.memory_total_bytes);
  report::Table& time = r.AddTable("step_time", "Step time breakdown", {{"part", "part"}, {"s", "seconds", 4}, {"share_pct", "%", 1}});
  auto time_row = [&](const char* name, double t) { time.rows.push_back({std::string(name), t, 100 * t / e.time_step_s}); };
  time_row("compute (incl. recompute)", e.time_compute_s);
  time_row("  of which recompute", e.time_recompute_s);
  time_row("tensor-parallel comm (exposed)", e.time_comm_tp_s);
  time_row("context-parallel comm (exposed)", e.time_comm_cp_s);
  time_row("expert-parallel comm (exposed)", e.time_comm_ep_s);
  time_row("pipeline p2p", e.time_comm_pp_s);
  time_row("pipeline bubble", e.time_bubble_s);
  time_row("data-parallel comm (exposed)", e.time_comm_dp_s);
  time_row(t_offload_opt ? "optimizer step (on the CPU)" : "optimizer step", e.time_optimizer_s);
  time_row("host copies (offload, exposed)", e.time_offload_s);
  if (e.time_ledger_correction_s != 0) time_row("ledger correction (ledger fit)", e.time_ledger_correction_s);
  time_row("total", e.time_step_s);
  AddPartsChart(r, r.tables[mem_index], 1, "memory", "Memory per GPU (most-loaded rank)", "per GPU", "GiB");
  AddPartsChart(r, r.tables.back(), 1, "step_time", "Where the step's time goes", "one step", "seconds");
}

}  // namespace

report::Report TrainReport(const TrainResult& t) {
  const TrainingEstimate& e = t.estimate;
  const CostContext& cc = t.cost_context;
  report::Report r;
  r.title = fmt::format("Training {} on {} x {}", t.model.id, t.setup.num_gpus, t.gpu.id);
  AddTrainFields(t, r);
  AddTrainTables(e, t.setup.offload.optimizer, r);
  r.notes.push_back("MFU counts model FLOPs (3 x forward, full attention matrix, no recompute) against the dense "
                    "peak at the training precision; HFU adds recomputed forward FLOPs.");
  for (const std::string& a : e.assumptions) r.notes.push_back(a);
  r.notes.push_back(fmt::format("memory outside PyTorch's allocator: {:.2f} GiB (CUDA context 0.27 GiB with lazy module "
                                "loading, pytorch/pytorch PR 86509; NCCL buffers 1.06 GB when the GPU communicates, "
                                "NVIDIA/nccl issue 1685); allocator fragmentation "
                                "is not counted: keep room with --memory-headroom, or set the whole term with --overhead-gib",
                                e.memory_overhead_bytes / kGiB));
  if (t.setup.offload.Any()) {
    r.notes.push_back("offload: host copies run over the GPU's PCIe link (PCIe 5.0 x16 on Hopper and Blackwell, 4.0 on "
                      "Ampere, Ada and CDNA, 3.0 before) at 25/31.5 of its bandwidth and overlap the step's compute; "
                      "an optimizer step on the CPU streams the same bytes per parameter as on the GPU at an assumed "
                      "51.2 GB/s of host memory bandwidth per GPU (two 8-channel DDR4-3200 sockets shared by 8 GPUs)");
  }
  if (e.memory_not_concurrent_bytes > 0) {
    r.notes.push_back(fmt::format("{} frees the gradients after every optimizer step (zero_grad sets them to None) and a "
                                  "step has one micro-batch: gradients and activations peak at opposite ends of the "
                                  "backward pass, so the smaller of the two ({:.2f} GiB) is not counted twice",
                                  FrameworkName(*t.setup.framework), e.memory_not_concurrent_bytes / kGiB));
  }
  r.notes.push_back(GoodputNote(t.cost.goodput, t.run.overheads));
  if (t.finetune_batch_defaulted) {
    r.notes.push_back(fmt::format("fine-tuning batch: {} sequences of {} tokens per optimizer step (about {}K tokens, a dlcost "
                                  "assumption shared with plan and budget; set it with --global-batch and --seq)",
                                  t.setup.global_batch.value_or(0), t.setup.seq_len, kFinetuneBatchTokens / 1024));
  }
  r.notes.push_back("steady-state figures are steps x step time, what a throughput benchmark measures; wall time and "
                    "GPU-hours add the goodput losses, what a whole run takes. A published run's GPU-hours may also "
                    "include ablations, long-context and annealing stages and evaluation runs that are not in --tokens: "
                    "compare it with the whole-run figure and say what it includes");
  r.notes.push_back(cc.notes.front());
  r.notes.push_back(fmt::format("energy = GPU-hours x {:.0f} W{} x PUE {:.2f} ({})",
                                t.run.gpu_power_w > 0 ? t.run.gpu_power_w : t.gpu.tdp_w,
                                t.run.gpu_power_w > 0 ? " (given)" : " (TDP)", t.run.pue, cc.pue_note));
  for (size_t i = 1; i < cc.notes.size(); ++i) r.notes.push_back(cc.notes[i]);
  if (!t.calibration_note.empty()) r.notes.push_back(t.calibration_note);
  r.notes.push_back(t.bands.time_note);
  if (t.bands.run_note != t.bands.time_note) r.notes.push_back(t.bands.run_note);
  return r;
}

}  // namespace dlcost::api
