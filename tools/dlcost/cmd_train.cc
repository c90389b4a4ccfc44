// dlcost train: per-GPU memory, step time and whole-run cost of a training job.
#include <cmath>

#include <fmt/format.h>

#include "cli_common.h"
#include "cost_flags.h"
#include "dlcost/carbon.h"
#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/plan.h"
#include "dlcost/prices.h"
#include "dlcost/training.h"
#include "dlcost/units.h"

namespace dlcost::cli {
namespace {

struct TrainArgs {
  std::string model, gpu, gpus, tokens, steps, seq, global_batch, micro_batch;
  std::string tp, pp, dp, cp, ep, vpp, zero, seq_parallel, recompute, precision = "bf16", optimizer = "adamw";
  std::string finetune = "none", lora_rank = "16";
  CostFlags cost;
  std::string goodput, host_power_w, gpus_per_node, internode_gbps;
  std::string calibration, overhead_gib, capacity_factor, epochs, dataset_tokens;
  bool no_flash = false;
};

Result<std::optional<int64_t>> OptInt(const std::string& text, const char* flag) {
  if (text.empty()) return std::optional<int64_t>();
  DLCOST_ASSIGN_OR_RETURN(int64_t v, ParsePositiveInt(text, flag));
  return std::optional<int64_t>(v);
}

Result<std::optional<double>> OptNum(const std::string& text, const char* flag) {
  if (text.empty()) return std::optional<double>();
  DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(text, flag));
  return std::optional<double>(v);
}

int RunTrain(const GlobalOptions& g, const TrainArgs& a) {
  auto fail = [](const Status& s) { return Fail(s); };
  Result<std::string> dir = DataDir(g);
  if (!dir.ok()) return fail(dir.status());
  Result<HardwareCatalog> hw = HardwareCatalog::Load(*dir);
  if (!hw.ok()) return fail(hw.status());
  Result<ModelCatalog> zoo = ModelCatalog::Load(*dir);
  if (!zoo.ok()) return fail(zoo.status());
  Result<ModelSpec> model = zoo->Resolve(a.model);
  if (!model.ok()) return fail(model.status());
  Result<Accelerator> gpu = hw->Resolve(a.gpu);
  if (!gpu.ok()) return fail(gpu.status());

  TrainingSetup s;
  Result<int64_t> n = ParsePositiveInt(a.gpus, "--gpus");
  if (!n.ok()) return fail(n.status());
  if (*n > 1000000) return fail(InvalidInput("--gpus: at most 1,000,000"));
  s.num_gpus = *n;
  int64_t default_seq = model->max_seq > 0 ? std::min<int64_t>(model->max_seq, 8192) : 2048;
  if (!a.seq.empty()) {
    Result<int64_t> seq = ParsePositiveInt(a.seq, "--seq");
    if (!seq.ok()) return fail(seq.status());
    if (*seq > (int64_t{1} << 24)) return fail(InvalidInput("--seq: at most 16M tokens"));
    s.seq_len = *seq;
  } else {
    s.seq_len = default_seq;
  }
  struct IntFlag {
    const std::string* text;
    const char* name;
    std::optional<int64_t>* dst;
  };
  IntFlag ints[] = {{&a.global_batch, "--global-batch", &s.global_batch}, {&a.micro_batch, "--micro-batch", &s.micro_batch},
                    {&a.tp, "--tp", &s.tp}, {&a.pp, "--pp", &s.pp}, {&a.dp, "--dp", &s.dp}, {&a.cp, "--cp", &s.cp},
                    {&a.ep, "--ep", &s.ep}, {&a.vpp, "--vpp", &s.vpp}};
  for (const IntFlag& f : ints) {
    Result<std::optional<int64_t>> v = OptInt(*f.text, f.name);
    if (!v.ok()) return fail(v.status());
    if (*v && **v > 100000000) return fail(InvalidInput(fmt::format("{}: value too large", f.name)));
    *f.dst = *v;
  }
  if (!a.zero.empty()) {
    if (a.zero != "0" && a.zero != "1" && a.zero != "2" && a.zero != "3") {
      return fail(InvalidInput(fmt::format("--zero: '{}' must be 0, 1, 2 or 3", a.zero)));
    }
    s.zero = a.zero[0] - '0';
  }
  if (!a.seq_parallel.empty()) {
    if (a.seq_parallel != "0" && a.seq_parallel != "1") return fail(InvalidInput("--seq-parallel: must be 0 or 1"));
    s.seq_parallel = a.seq_parallel == "1";
  }
  if (!a.recompute.empty()) {
    Result<Recompute> r = ParseRecompute(a.recompute);
    if (!r.ok()) return fail(r.status());
    s.recompute = *r;
  }
  Result<Dtype> prec = ParseDtype(a.precision, "--precision");
  if (!prec.ok()) return fail(prec.status());
  s.precision = *prec;
  Result<Optimizer> opt = ParseOptimizer(a.optimizer);
  if (!opt.ok()) return fail(opt.status());
  s.optimizer = *opt;
  Result<Finetune> ft = ParseFinetune(a.finetune);
  if (!ft.ok()) return fail(ft.status());
  s.finetune = *ft;
  Result<int64_t> rank = ParsePositiveInt(a.lora_rank, "--lora-rank");
  if (!rank.ok()) return fail(rank.status());
  s.lora_rank = *rank;
  s.flash_attention = !a.no_flash;
  s.overhead_bytes = -1;
  if (!a.capacity_factor.empty()) {
    Result<double> v = ParseCount(a.capacity_factor, "--moe-capacity-factor");
    if (!v.ok()) return fail(v.status());
    if (*v < 1 || *v > 16) return fail(InvalidInput("--moe-capacity-factor: must be between 1 and 16"));
    if (!model->moe) return fail(InvalidInput(fmt::format("--moe-capacity-factor: {} has no experts", model->id)));
    s.moe_capacity_factor = *v;
  }
  if (!a.overhead_gib.empty()) {
    Result<double> o = ParseCount(a.overhead_gib, "--overhead-gib");
    if (!o.ok()) return fail(o.status());
    s.overhead_bytes = *o * kGiB;
  }

  double gpn = 0, inter = 0;
  if (!a.gpus_per_node.empty()) {
    Result<int64_t> v = ParsePositiveInt(a.gpus_per_node, "--gpus-per-node");
    if (!v.ok()) return fail(v.status());
    gpn = static_cast<double>(*v);
  }
  if (!a.internode_gbps.empty()) {
    Result<double> v = ParseCount(a.internode_gbps, "--internode-gbps");
    if (!v.ok()) return fail(v.status());
    if (*v <= 0) return fail(InvalidInput("--internode-gbps: must be positive"));
    inter = *v;
  }
  Result<SystemSpec> sys = MakeSystem(*hw, *gpu, static_cast<int>(std::min(gpn, 4096.0)), inter);
  if (!sys.ok()) return fail(sys.status());
  std::string eff_path = a.calibration.empty() ? *dir + "/efficiency/default.json" : a.calibration;
  Result<EfficiencyProfile> eff = LoadEfficiency(eff_path, gpu->id);
  if (!eff.ok()) return fail(eff.status());

  Result<TrainingEstimate> est = EstimateWithChosenLayout(*model, *sys, s, *eff);
  if (!est.ok()) return fail(est.status());

  // Whole run.
  RunInputs run;
  Result<std::optional<double>> tokens = OptNum(a.tokens, "--tokens");
  if (!tokens.ok()) return fail(tokens.status());
  Result<std::optional<double>> steps = OptNum(a.steps, "--steps");
  if (!steps.ok()) return fail(steps.status());
  if (!a.epochs.empty() || !a.dataset_tokens.empty()) {
    if (a.epochs.empty() || a.dataset_tokens.empty()) {
      return fail(UsageError("--epochs and --dataset-tokens: give both"));
    }
    if (*tokens || *steps) return fail(UsageError("--epochs/--dataset-tokens: not with --tokens or --steps"));
    Result<double> ep = ParseCount(a.epochs, "--epochs");
    if (!ep.ok()) return fail(ep.status());
    Result<double> ds = ParseCount(a.dataset_tokens, "--dataset-tokens");
    if (!ds.ok()) return fail(ds.status());
    if (*ep <= 0 || *ds <= 0) return fail(InvalidInput("--epochs/--dataset-tokens: must be positive"));
    *tokens = *ep * *ds;
  }
  if (*tokens && *steps) return fail(UsageError("--tokens and --steps: give one, not both"));
  if (!*tokens && !*steps) return fail(UsageError("--tokens, --steps or --epochs with --dataset-tokens is required"));
  if ((*tokens && **tokens <= 0) || (*steps && **steps <= 0)) return fail(InvalidInput("--tokens/--steps: must be positive"));
  run.tokens = *tokens;
  run.steps = *steps;
  run.goodput = kDefaultGoodput;
  if (!a.goodput.empty()) {
    Result<double> v = ParseCount(a.goodput, "--goodput");
    if (!v.ok()) return fail(v.status());
    run.goodput = *v;
  }
  Result<CostContext> cc = ResolveCost(*dir, *gpu, a.cost);
  if (!cc.ok()) return fail(cc.status());
  run.usd_per_gpu_hour = cc->usd_per_gpu_hour;
  run.pue = cc->pue;
  run.carbon_g_per_kwh = cc->carbon_g_per_kwh;
  run.gpu_power_w = cc->gpu_power_w.value_or(0);
  if (!a.host_power_w.empty()) {
    Result<double> v = ParseCount(a.host_power_w, "--host-power-w");
    if (!v.ok()) return fail(v.status());
    run.host_power_w_per_gpu = *v;
  }
  Result<RunCost> cost = ComputeRunCost(*est, s.num_gpus, gpu->tdp_w, run);
  if (!cost.ok()) return fail(cost.status());

  const TrainingEstimate& e = *est;
  const Layout& L = e.layout;
  report::Report r;
  r.title = fmt::format("Training {} on {} x {}", model->id, s.num_gpus, gpu->id);
  std::string unit = model->IsLanguageModel() ? "tokens" : "images";
  r.AddField("model", "model", model->id);
  r.AddField("gpu", "GPU", gpu->id);
  r.AddField("num_gpus", "GPUs", s.num_gpus);
  r.AddField("layout", "layout", fmt::format("tp={} pp={} dp={} cp={} ep={} vpp={} zero={} sp={} recompute={}", L.tp, L.pp,
                                             L.dp, L.cp, L.ep, L.vpp, L.zero, L.seq_parallel ? 1 : 0,
                                             RecomputeName(L.recompute)));
  r.AddField("seq_len", "sequence length", s.seq_len);
  r.AddField("micro_batch", "micro-batch (sequences)", L.micro_batch);
  r.AddField("global_batch", "global batch (sequences)", L.global_batch);
  r.AddField("microbatches_per_step", "micro-batches per step", L.microbatches);
  r.AddField("precision", "precision", std::string(DtypeName(s.precision)));
  r.AddField("chosen", "chosen by dlcost", e.chosen.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(e.chosen, " ")));
  r.AddField("fits", "fits in memory", e.fits);
  r.AddField("memory_total_gib", "memory per GPU (GiB)", e.memory_total_bytes / kGiB, 2);
  r.AddField("memory_capacity_gib", "GPU memory (GiB)", e.memory_capacity_bytes / kGiB, 1);
  r.AddField("time_step_s", "step time (s)", e.time_step_s, 4);
  r.AddField("tokens_per_s", unit + " per second", e.tokens_per_s, 0);
  r.AddField("tflops_per_gpu", "model TFLOP/s per GPU", e.tflops_per_gpu_model, 1);
  r.AddField("mfu_pct", "MFU (%)", 100 * e.mfu, 1);
  r.AddField("hfu_pct", "HFU (%)", 100 * e.hfu, 1);
  r.AddField("steps", "optimizer steps", cost->steps, 0);
  r.AddField("tokens", unit + " trained", cost->tokens);
  r.AddField("goodput", "goodput", run.goodput, 2);
  r.AddField("wall_days", "wall time (days)", cost->wall_s / kSecondsPerDay, 2);
  r.AddField("gpu_hours", "GPU-hours", cost->gpu_hours, 0);
  r.AddField("usd_per_gpu_hour", "$ per GPU-hour", run.usd_per_gpu_hour ? report::Value(*run.usd_per_gpu_hour) : report::Value(), 3);
  r.AddField("usd", "cost ($)", cost->usd ? report::Value(*cost->usd) : report::Value(), 0);
  r.AddField("energy_kwh", "energy (kWh)", cost->energy_kwh, 0);
  r.AddField("pue", "PUE", run.pue, 2);
  r.AddField("carbon_g_per_kwh", "grid gCO2e/kWh", run.carbon_g_per_kwh, 0);
  r.AddField("co2_kg", "CO2e (kg)", cost->co2_kg, 0);
  report::Table& mem = r.AddTable("memory", "Memory per GPU (most-loaded rank)",
                                  {{"part", "part"}, {"gib", "GiB", 2}, {"share_pct", "%", 1}});
  auto mem_row = [&](const char* name, double b) {
    mem.rows.push_back({std::string(name), b / kGiB, 100 * b / e.memory_total_bytes});
  };
  mem_row("weights", e.memory_weights_bytes);
  mem_row("gradients", e.memory_grads_bytes);
  mem_row("optimizer states", e.memory_optimizer_bytes);
  mem_row("activations", e.memory_activations_bytes);
  mem_row("framework overhead (assumed)", e.memory_overhead_bytes);
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
  time_row("optimizer step", e.time_optimizer_s);
  time_row("total", e.time_step_s);
  r.notes.push_back("MFU counts model FLOPs (3 x forward, full attention matrix, no recompute) against the dense "
                    "peak at the training precision; HFU adds recomputed forward FLOPs.");
  for (const std::string& s2 : e.assumptions) r.notes.push_back(s2);
  r.notes.push_back(fmt::format("framework overhead {:.1f} GiB is an assumption (CUDA context, NCCL buffers, allocator); "
                                "set it with --overhead-gib", e.memory_overhead_bytes / kGiB));
  r.notes.push_back(fmt::format("goodput {:.2f}: default from Llama 3 (>90% effective training time; Dubey et al. 2024)",
                                run.goodput));
  r.notes.push_back(cc->notes.front());
  r.notes.push_back(fmt::format("energy = GPU-hours x {:.0f} W{} x PUE {:.2f} ({})",
                                run.gpu_power_w > 0 ? run.gpu_power_w : gpu->tdp_w,
                                run.gpu_power_w > 0 ? " (given)" : " (TDP)", run.pue, cc->pue_note));
  for (size_t i = 1; i < cc->notes.size(); ++i) r.notes.push_back(cc->notes[i]);
  if (std::string cal = CalibrationNote(a.calibration, gpu->id); !cal.empty()) r.notes.push_back(cal);
  int code = Emit(r, g);
  if (code != 0) return code;
  if (!e.fits) {
    std::fprintf(stderr, "dlcost: does not fit: %.2f GiB needed per GPU, %.1f GiB available (short by %.2f GiB)\n",
                 e.memory_total_bytes / kGiB, e.memory_capacity_bytes / kGiB,
                 (e.memory_total_bytes - e.memory_capacity_bytes) / kGiB);
    return 3;
  }
  return 0;
}

}  // namespace

void RegisterTrain(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("train", "Estimate memory, step time and whole-run cost of training a model");
  auto a = std::make_shared<TrainArgs>();
  cmd->add_option("--model", a->model, "Zoo id, model JSON or Hugging Face config.json")->required();
  cmd->add_option("--gpu", a->gpu, "GPU id or alias (dlcost gpus)")->required();
  cmd->add_option("--gpus", a->gpus, "Number of GPUs")->required();
  cmd->add_option("--tokens", a->tokens, "Tokens (or images) to train on, e.g. 1T, 500B");
  cmd->add_option("--steps", a->steps, "Optimizer steps (instead of --tokens)");
  cmd->add_option("--epochs", a->epochs, "Passes over the dataset (with --dataset-tokens, instead of --tokens)");
  cmd->add_option("--dataset-tokens", a->dataset_tokens, "Dataset size in tokens (or images) for --epochs");
  cmd->add_option("--moe-capacity-factor", a->capacity_factor, "Expert slots per routed token (default 1: dropless)");
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
  AddCostOptions(cmd, &a->cost);
  cmd->add_option("--goodput", a->goodput, "Share of wall time spent training (default 0.9)");
  cmd->add_option("--host-power-w", a->host_power_w, "Host power per GPU in W (default 0)");
  cmd->add_option("--gpus-per-node", a->gpus_per_node, "GPUs per node (default: catalog node size)");
  cmd->add_option("--internode-gbps", a->internode_gbps, "Network bandwidth per node, Gbit/s (default: catalog NICs)");
  cmd->add_option("--overhead-gib", a->overhead_gib, "Framework memory overhead per GPU in GiB (default 2)");
  cmd->add_option("--calibration", a->calibration, "Efficiency profile JSON (default: data/efficiency/default.json)");
  cmd->add_flag("--no-flash", a->no_flash, "Model unfused attention (stores the s x s scores)");
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a] { *exit_code = RunTrain(g, *a); });
}

}  // namespace dlcost::cli
