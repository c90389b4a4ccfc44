// dlcost plan: the cheapest (or fastest, lowest-energy, lowest-CO2) way to train a model.
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "plan_candidates.h"
#include "dlcost/strings.h"
#include "dlcost/carbon.h"
#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/plan.h"
#include "dlcost/prices.h"
#include "dlcost/units.h"

namespace dlcost::cli {
namespace {

struct PlanArgs {
  std::string model, tokens, steps, gpu = "any", gpus_max = "4096", deadline, budget, objective = "cost";
  std::string top = "5", threads = "0", seq, global_batch, vms, price, region, pue, goodput, gpu_power_w;
  std::string gpus, precision, optimizer = "adamw", finetune = "none", lora_rank = "16", calibration;
  bool pareto = false, stats = false, no_flash = false;
};

nlohmann::ordered_json PlanJson(const Plan& p, int rank) {
  const TrainingEstimate& e = p.estimate;
  const Layout& L = e.layout;
  nlohmann::ordered_json o;
  o["rank"] = rank;
  o["gpu"] = p.gpu;
  o["provider"] = p.offer ? nlohmann::ordered_json(p.offer->provider) : nlohmann::ordered_json(nullptr);
  o["instance"] = p.offer ? nlohmann::ordered_json(p.offer->instance) : nlohmann::ordered_json(nullptr);
  o["region"] = p.offer ? nlohmann::ordered_json(p.offer->region) : nlohmann::ordered_json(nullptr);
  o["usd_per_gpu_hour"] = p.offer ? nlohmann::ordered_json(p.offer->OnDemandUsdPerGpuHour()) : nlohmann::ordered_json(nullptr);
  o["num_gpus"] = p.num_gpus;
  o["tp"] = L.tp;
  o["pp"] = L.pp;
  o["dp"] = L.dp;
  o["cp"] = L.cp;
  o["ep"] = L.ep;
  o["vpp"] = L.vpp;
  o["micro_batch"] = L.micro_batch;
  o["global_batch"] = L.global_batch;
  o["zero"] = L.zero;
  o["seq_parallel"] = L.seq_parallel;
  o["recompute"] = RecomputeName(L.recompute);
  o["precision"] = DtypeName(p.precision);
  o["memory_gib"] = e.memory_total_bytes / kGiB;
  o["memory_headroom_gib"] = (e.memory_capacity_bytes - e.memory_total_bytes) / kGiB;
  o["step_s"] = e.time_step_s;
  o["mfu"] = e.mfu;
  o["wall_days"] = p.cost.wall_s / kSecondsPerDay;
  o["gpu_hours"] = p.cost.gpu_hours;
  o["usd"] = p.cost.usd ? nlohmann::ordered_json(*p.cost.usd) : nlohmann::ordered_json(nullptr);
  o["energy_kwh"] = p.cost.energy_kwh;
  o["co2_kg"] = p.cost.co2_kg;
  return o;
}

void PlanTable(report::Report& r, const std::string& key, const std::string& title, const std::vector<Plan>& plans) {
  report::Table& t = r.AddTable(key, title,
                                {{"rank", "#"}, {"gpu", "GPU"}, {"offer", "offer"}, {"num_gpus", "GPUs"},
                                 {"layout", "tp/pp/dp/cp/ep/vpp mb zero rc prec"}, {"memory_gib", "mem GiB", 1},
                                 {"headroom_gib", "free GiB", 1}, {"step_s", "step s", 3}, {"mfu_pct", "MFU %", 1},
                                 {"wall_days", "days", 1}, {"gpu_hours", "GPU-h", 0}, {"usd", "$", 0},
                                 {"energy_kwh", "kWh", 0}, {"co2_kg", "CO2 kg", 0}});
  int rank = 0;
  for (const Plan& p : plans) {
    const Layout& L = p.estimate.layout;
    std::string offer = p.offer ? fmt::format("{}:{} ${:.2f}", p.offer->provider, p.offer->instance,
                                              p.offer->OnDemandUsdPerGpuHour())
                                : std::string("-");
    t.rows.push_back({static_cast<int64_t>(++rank), p.gpu, offer, p.num_gpus,
                      fmt::format("{}/{}/{}/{}/{}/{} {} {} {} {}", L.tp, L.pp, L.dp, L.cp, L.ep, L.vpp, L.micro_batch,
                                  L.zero, RecomputeName(L.recompute), DtypeName(p.precision)),
                      p.estimate.memory_total_bytes / kGiB,
                      (p.estimate.memory_capacity_bytes - p.estimate.memory_total_bytes) / kGiB, p.estimate.time_step_s,
                      100 * p.estimate.mfu, p.cost.wall_s / kSecondsPerDay, p.cost.gpu_hours,
                      p.cost.usd ? report::Value(*p.cost.usd) : report::Value(), p.cost.energy_kwh, p.cost.co2_kg});
  }
}

int RunPlanCommand(const GlobalOptions& g, const PlanArgs& a) {
  Result<std::string> dir = DataDir(g);
  if (!dir.ok()) return Fail(dir.status());
  Result<HardwareCatalog> hw = HardwareCatalog::Load(*dir);
  if (!hw.ok()) return Fail(hw.status());
  Result<ModelCatalog> zoo = ModelCatalog::Load(*dir);
  if (!zoo.ok()) return Fail(zoo.status());
  Result<ModelSpec> model = zoo->Resolve(a.model);
  if (!model.ok()) return Fail(model.status());

  PlanRequest req;
  req.model = *model;
  req.setup.overhead_bytes = -1;
  req.setup.flash_attention = !a.no_flash;
  int64_t default_seq = model->max_seq > 0 ? std::min<int64_t>(model->max_seq, 8192) : 2048;
  req.setup.seq_len = default_seq;
  if (!a.seq.empty()) {
    Result<int64_t> v = ParsePositiveInt(a.seq, "--seq");
    if (!v.ok()) return Fail(v.status());
    if (*v > (int64_t{1} << 24)) return Fail(InvalidInput("--seq: at most 16M tokens"));
    req.setup.seq_len = *v;
  }
  Result<Optimizer> opt = ParseOptimizer(a.optimizer);
  if (!opt.ok()) return Fail(opt.status());
  req.setup.optimizer = *opt;
  Result<Finetune> ft = ParseFinetune(a.finetune);
  if (!ft.ok()) return Fail(ft.status());
  req.setup.finetune = *ft;
  Result<int64_t> rank = ParsePositiveInt(a.lora_rank, "--lora-rank");
  if (!rank.ok()) return Fail(rank.status());
  req.setup.lora_rank = *rank;
  if (!a.precision.empty()) {
    for (const std::string& p : Split(a.precision, ',')) {
      Result<Dtype> d = ParseDtype(p, "--precision");
      if (!d.ok()) return Fail(d.status());
      req.space.precision.push_back(*d);
    }
  }
  if (!a.global_batch.empty()) {
    Result<int64_t> v = ParsePositiveInt(a.global_batch, "--global-batch");
    if (!v.ok()) return Fail(v.status());
    req.space.global_batch = *v;
  }
  if (!a.tokens.empty() && !a.steps.empty()) return Fail(UsageError("--tokens and --steps: give one, not both"));
  if (a.tokens.empty() && a.steps.empty()) return Fail(UsageError("--tokens or --steps is required"));
  if (!a.tokens.empty()) {
    Result<double> v = ParseCount(a.tokens, "--tokens");
    if (!v.ok()) return Fail(v.status());
    if (*v <= 0) return Fail(InvalidInput("--tokens: must be positive"));
    req.tokens = *v;
  } else {
    Result<double> v = ParseCount(a.steps, "--steps");
    if (!v.ok()) return Fail(v.status());
    if (*v <= 0) return Fail(InvalidInput("--steps: must be positive"));
    req.steps = *v;
  }
  Result<double> gmax = ParseCount(a.gpus_max, "--gpus-max");
  if (!gmax.ok()) return Fail(gmax.status());
  if (*gmax < 1 || *gmax > 1e6) return Fail(InvalidInput("--gpus-max: must be between 1 and 1,000,000"));
  req.gpus_max = static_cast<int64_t>(*gmax);
  if (!a.gpus.empty()) {
    for (const std::string& part : Split(a.gpus, ',')) {
      Result<int64_t> v = ParsePositiveInt(part, "--gpus");
      if (!v.ok()) return Fail(v.status());
      if (*v > 1000000) return Fail(InvalidInput("--gpus: at most 1,000,000"));
      req.space.num_gpus.push_back(*v);
      req.gpus_max = std::max(req.gpus_max, *v);
    }
  }
  if (!a.deadline.empty()) {
    Result<double> v = ParseDurationSeconds(a.deadline, "--deadline");
    if (!v.ok()) return Fail(v.status());
    req.deadline_s = *v;
  }
  if (!a.budget.empty()) {
    Result<double> v = ParseCount(a.budget, "--budget-usd");
    if (!v.ok()) return Fail(v.status());
    if (*v <= 0) return Fail(InvalidInput("--budget-usd: must be positive"));
    req.budget_usd = *v;
  }
  Result<Objective> obj = ParseObjective(a.objective);
  if (!obj.ok()) return Fail(obj.status());
  req.objective = *obj;
  Result<int64_t> top = ParsePositiveInt(a.top, "--top");
  if (!top.ok()) return Fail(top.status());
  req.top_k = static_cast<int>(std::min<int64_t>(*top, 1000));
  Result<double> th = ParseCount(a.threads, "--threads");
  if (!th.ok()) return Fail(th.status());
  req.threads = static_cast<int>(std::min(*th, 256.0));
  req.progress = isatty(fileno(stderr)) != 0;

  // Run context: goodput, PUE, grid.
  req.run.goodput = kDefaultGoodput;
  if (!a.goodput.empty()) {
    Result<double> v = ParseCount(a.goodput, "--goodput");
    if (!v.ok()) return Fail(v.status());
    if (*v <= 0 || *v > 1) return Fail(InvalidInput("--goodput: must be in (0, 1]"));
    req.run.goodput = *v;
  }
  Result<CarbonData> carbon = CarbonData::Load(*dir);
  if (!carbon.ok()) return Fail(carbon.status());
  Result<GridInfo> grid = carbon->Lookup(a.region.empty() ? "WORLD" : a.region);
  if (!grid.ok()) return Fail(grid.status());
  req.run.carbon_g_per_kwh = grid->carbon_g_per_kwh;
  req.run.pue = grid->pue.value_or(carbon->DefaultPue("Unknown").first);
  if (!a.pue.empty()) {
    Result<double> v = ParseCount(a.pue, "--pue");
    if (!v.ok()) return Fail(v.status());
    if (*v < 1 || *v > 5) return Fail(InvalidInput("--pue: must be between 1 and 5"));
    req.run.pue = *v;
  }
  if (!a.gpu_power_w.empty()) {
    Result<double> v = ParseCount(a.gpu_power_w, "--gpu-power-w");
    if (!v.ok()) return Fail(v.status());
    if (*v <= 0) return Fail(InvalidInput("--gpu-power-w: must be positive"));
    req.run.gpu_power_w = *v;
  }

  // Candidates: GPU types and their offers.
  VmsImportReport imported;
  Result<PriceTable> prices = a.vms.empty() ? PriceTable::LoadShipped(*dir) : PriceTable::ImportVmsCsv(a.vms, "", &imported);
  if (!prices.ok()) return Fail(prices.status());
  std::optional<double> flat_price;
  if (!a.price.empty()) {
    Result<double> v = ParseCount(a.price, "--price-usd-per-gpu-hour");
    if (!v.ok()) return Fail(v.status());
    if (*v <= 0) return Fail(InvalidInput("--price-usd-per-gpu-hour: must be positive"));
    flat_price = *v;
  }
  std::string eff_path = a.calibration.empty() ? *dir + "/efficiency/default.json" : a.calibration;
  Result<std::vector<GpuCandidate>> cands = BuildCandidates(*hw, *prices, a.gpu, flat_price, eff_path, req.run.gpu_power_w);
  if (!cands.ok()) return Fail(cands.status());
  req.candidates = std::move(cands).value();

  Result<PlanResult> res = RunPlan(req);
  if (!res.ok()) return Fail(res.status());
  const PlanResult& pr = *res;
  if (g.format == "json") {
    nlohmann::ordered_json j;
    j["plans"] = nlohmann::ordered_json::array();
    int i = 0;
    for (const Plan& p : pr.plans) j["plans"].push_back(PlanJson(p, ++i));
    j["pareto"] = nlohmann::ordered_json::array();
    i = 0;
    for (const Plan& p : pr.pareto) j["pareto"].push_back(PlanJson(p, ++i));
    nlohmann::ordered_json st;
    st["evaluated"] = pr.stats.evaluated;
    st["feasible"] = pr.stats.feasible;
    st["elapsed_s"] = pr.stats.elapsed_s;
    st["threads"] = pr.stats.threads;
    st["pruned"] = pr.stats.pruned;
    st["rejected"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : pr.stats.rejected) st["rejected"][k] = v;
    j["stats"] = st;
    if (!pr.binding.empty()) j["binding"] = pr.binding;
    if (int rc = EmitText(j.dump(2) + "\n", g); rc != 0) return rc;
  } else {
    report::Report r;
    r.title = fmt::format("Plans for {} ({} objective)", model->id, ObjectiveName(req.objective));
    PlanTable(r, "plans", "Best plans", pr.plans);
    if (a.pareto) PlanTable(r, "pareto", "Cost vs time Pareto front (cheapest first)", pr.pareto);
    if (a.stats || g.format == "table") {
      r.AddField("evaluated", "layouts evaluated", pr.stats.evaluated);
      r.AddField("feasible", "feasible (layout x offer)", pr.stats.feasible);
      r.AddField("pruned", "pruned by divisibility", pr.stats.pruned);
      r.AddField("elapsed_s", "search time (s)", pr.stats.elapsed_s, 3);
      r.AddField("threads", "threads", static_cast<int64_t>(pr.stats.threads));
      r.AddField("layouts_per_s_per_thread", "layouts/s per thread",
                 pr.stats.evaluated / std::max(1e-9, pr.stats.elapsed_s) / pr.stats.threads, 0);
      std::string rej;
      for (const auto& [k, v] : pr.stats.rejected) rej += fmt::format("{}{}={}", rej.empty() ? "" : " ", k, v);
      r.AddField("rejected", "rejected", rej.empty() ? std::string("none") : rej);
    }
    r.notes.push_back("layout column: tp/pp/dp/cp/ep/vpp, micro-batch, ZeRO stage, recompute, precision.");
    r.notes.push_back(a.vms.empty() && !flat_price ? "prices: dated snapshot of public on-demand list prices (dlcost prices)"
                                                  : "prices: as given");
    r.notes.push_back(fmt::format("goodput {:.2f}, PUE {:.2f}, grid {} {:.0f} gCO2e/kWh; model and assumptions: docs/training.md",
                                  req.run.goodput, req.run.pue, grid->location, grid->carbon_g_per_kwh));
    int code = Emit(r, g);
    if (code != 0) return code;
  }
  if (pr.plans.empty()) {
    std::fprintf(stderr, "dlcost: infeasible: %s\n", pr.binding.c_str());
    return 3;
  }
  return 0;
}

}  // namespace

void RegisterPlan(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("plan", "Search GPUs, offers, GPU counts and layouts for the best way to train");
  auto a = std::make_shared<PlanArgs>();
  cmd->add_option("--model", a->model, "Zoo id, model JSON or Hugging Face config.json")->required();
  cmd->add_option("--tokens", a->tokens, "Tokens to train on, e.g. 15T");
  cmd->add_option("--steps", a->steps, "Optimizer steps (instead of --tokens)");
  cmd->add_option("--gpu", a->gpu, "GPU ids, comma-separated, or 'any' (default)")->capture_default_str();
  cmd->add_option("--gpus-max", a->gpus_max, "Largest GPU count to consider")->capture_default_str();
  cmd->add_option("--gpus", a->gpus, "Only these GPU counts, comma-separated (default: powers of two and 3 x powers of two)");
  cmd->add_option("--deadline", a->deadline, "Wall-clock limit, e.g. 30d, 12h (hard constraint)");
  cmd->add_option("--budget-usd", a->budget, "Dollar limit (hard constraint)");
  cmd->add_option("--objective", a->objective, "cost, time, energy or co2")->capture_default_str();
  cmd->add_option("--top", a->top, "How many plans to print")->capture_default_str();
  cmd->add_flag("--pareto", a->pareto, "Also print the cost vs time Pareto front");
  cmd->add_flag("--stats", a->stats, "Print search statistics");
  cmd->add_option("--threads", a->threads, "Worker threads (0: all cores)")->capture_default_str();
  cmd->add_option("--seq", a->seq, "Sequence length");
  cmd->add_option("--global-batch", a->global_batch, "Fix the sequences per step (default: ~4M tokens)");
  cmd->add_option("--precision", a->precision, "Allowed precisions, e.g. bf16,fp8 (default: bf16; fp8 on GPUs that have it when listed)");
  cmd->add_option("--optimizer", a->optimizer, "adamw, sgd, adafactor, adam8bit")->capture_default_str();
  cmd->add_option("--finetune", a->finetune, "none, full, lora, qlora")->capture_default_str();
  cmd->add_option("--lora-rank", a->lora_rank, "LoRA rank")->capture_default_str();
  cmd->add_option("--vms", a->vms, "SkyPilot-style vms.csv with the offers to consider");
  cmd->add_option("--price-usd-per-gpu-hour", a->price, "One price for every GPU type");
  cmd->add_option("--region", a->region, "Grid region for CO2 (default WORLD)");
  cmd->add_option("--pue", a->pue, "Data-centre PUE");
  cmd->add_option("--goodput", a->goodput, "Share of wall time spent training (default 0.9)");
  cmd->add_option("--gpu-power-w", a->gpu_power_w, "Average board power per GPU (default: TDP)");
  cmd->add_option("--calibration", a->calibration, "Efficiency profile JSON");
  cmd->add_flag("--no-flash", a->no_flash, "Model unfused attention");
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a] { *exit_code = RunPlanCommand(g, *a); });
}

}  // namespace dlcost::cli
