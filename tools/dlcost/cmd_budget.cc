// dlcost budget: the largest compute-optimal model a budget buys, and the plan that trains it;
// or, with --finetune, the cheapest way to fine-tune a given model.
#include <unistd.h>

#include <cmath>

#include <fmt/format.h>

#include "cli_common.h"
#include "plan_candidates.h"
#include "dlcost/strings.h"
#include "dlcost/carbon.h"
#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/op_graph.h"
#include "dlcost/plan.h"
#include "dlcost/prices.h"
#include "dlcost/units.h"

namespace dlcost::cli {
namespace {

// Hoffmann et al. 2022 ("Training Compute-Optimal Large Language Models", Sec. 3 and Table 3):
// parameters and tokens grow in equal proportion with compute; the fitted allocations come to
// about 20 tokens per parameter (e.g. 70B parameters on 1.4T tokens), with C = 6 N D.
constexpr double kChinchillaTokensPerParam = 20.0;

// A Llama-style dense decoder of about `params` parameters: head dimension 128, SwiGLU FFN of
// 8/3 x hidden rounded up to a multiple of 256, about one layer per 128 of width (the aspect of
// Llama-2 7B/13B: 4096/32, 5120/40), 32,000-token vocabulary, untied embeddings (Touvron et al.
// 2023b, Table 1). The result is an ordinary zoo-schema model, printed with the plan.
ModelSpec LlamaLike(double params, int64_t seq) {
  ModelSpec best;
  double best_err = 1e300;
  for (int64_t h = 512; h <= 32768; h += 128) {
    ModelSpec m;
    m.kind = ModelKind::kDecoder;
    m.hidden = h;
    m.layers = std::max<int64_t>(2, (h + 64) / 128);
    m.heads = h / 128;
    m.kv_heads = m.heads >= 32 ? 8 : m.heads;  // GQA with 8 KV heads for the larger sizes
    m.head_dim = 128;
    m.ffn = ((8 * h / 3) + 255) / 256 * 256;
    m.ffn_act = FfnAct::kSwiglu;
    m.vocab = 32000;
    m.max_seq = seq;
    m.position = PositionKind::kRope;
    m.norm = NormKind::kRmsNorm;
    Result<perf::OpGraph> g = perf::BuildOpGraph(m, seq);
    if (!g.ok()) continue;
    double err = std::fabs(std::log(g->TotalParams() / params));
    if (err < best_err) {
      best_err = err;
      best = m;
    }
  }
  best.id = fmt::format("llama-like-{}", HumanCount(params, 2));
  best.name = best.id;
  best.family = "llama-like";
  best.origin = "dlcost budget";
  return best;
}

struct BudgetArgs {
  std::string usd, deadline, gpu = "any", gpus_max = "4096", seq = "4096", finetune, tokens, method = "lora";
  std::string tokens_per_param, region, calibration;
};

int RunBudget(const GlobalOptions& g, const BudgetArgs& a) {
  Result<std::string> dir = DataDir(g);
  if (!dir.ok()) return Fail(dir.status());
  Result<HardwareCatalog> hw = HardwareCatalog::Load(*dir);
  if (!hw.ok()) return Fail(hw.status());
  Result<ModelCatalog> zoo = ModelCatalog::Load(*dir);
  if (!zoo.ok()) return Fail(zoo.status());
  Result<double> usd = ParseCount(a.usd, "--usd");
  if (!usd.ok()) return Fail(usd.status());
  if (*usd <= 0) return Fail(InvalidInput("--usd: must be positive"));
  Result<int64_t> seq = ParsePositiveInt(a.seq, "--seq");
  if (!seq.ok()) return Fail(seq.status());
  Result<double> gmax = ParseCount(a.gpus_max, "--gpus-max");
  if (!gmax.ok()) return Fail(gmax.status());
  if (*gmax < 1 || *gmax > 1e6) return Fail(InvalidInput("--gpus-max: must be between 1 and 1,000,000"));
  double tpp = kChinchillaTokensPerParam;
  if (!a.tokens_per_param.empty()) {
    Result<double> v = ParseCount(a.tokens_per_param, "--tokens-per-param");
    if (!v.ok()) return Fail(v.status());
    if (*v <= 0) return Fail(InvalidInput("--tokens-per-param: must be positive"));
    tpp = *v;
  }

  PlanRequest base;
  base.gpus_max = static_cast<int64_t>(*gmax);
  base.setup.seq_len = *seq;
  base.setup.overhead_bytes = -1;
  base.objective = Objective::kCost;
  base.top_k = 1;
  base.budget_usd = *usd;
  base.run.goodput = kDefaultGoodput;
  if (!a.deadline.empty()) {
    Result<double> v = ParseDurationSeconds(a.deadline, "--deadline");
    if (!v.ok()) return Fail(v.status());
    base.deadline_s = *v;
  }
  Result<CarbonData> carbon = CarbonData::Load(*dir);
  if (!carbon.ok()) return Fail(carbon.status());
  Result<GridInfo> grid = carbon->Lookup(a.region.empty() ? "WORLD" : a.region);
  if (!grid.ok()) return Fail(grid.status());
  base.run.carbon_g_per_kwh = grid->carbon_g_per_kwh;
  base.run.pue = grid->pue.value_or(carbon->DefaultPue("Unknown").first);
  Result<PriceTable> prices = PriceTable::LoadShipped(*dir);
  if (!prices.ok()) return Fail(prices.status());
  Result<std::vector<GpuCandidate>> cands =
      BuildCandidates(*hw, *prices, a.gpu, std::nullopt,
                      a.calibration.empty() ? *dir + "/efficiency/default.json" : a.calibration, 0);
  if (!cands.ok()) return Fail(cands.status());
  for (GpuCandidate& c : *cands) {
    if (!c.offers.empty()) base.candidates.push_back(std::move(c));
  }
  if (base.candidates.empty()) return Fail(InvalidInput("--gpu: none of the GPUs has a price in the shipped table"));
  base.progress = false;

  report::Report r;
  auto add_plan = [&](const Plan& p) {
    const Layout& L = p.estimate.layout;
    r.AddField("gpu", "GPU", p.gpu);
    r.AddField("offer", "offer", p.offer ? fmt::format("{}:{} ({}) ${:.3f}/GPU-hour", p.offer->provider, p.offer->instance,
                                                       p.offer->region, p.offer->OnDemandUsdPerGpuHour())
                                         : std::string("-"));
    r.AddField("num_gpus", "GPUs", p.num_gpus);
    r.AddField("layout", "layout", fmt::format("tp={} pp={} dp={} cp={} vpp={} mb={} zero={} recompute={} {}", L.tp, L.pp,
                                               L.dp, L.cp, L.vpp, L.micro_batch, L.zero, RecomputeName(L.recompute),
                                               DtypeName(p.precision)));
    r.AddField("mfu_pct", "MFU (%)", 100 * p.estimate.mfu, 1);
    r.AddField("wall_days", "wall time (days)", p.cost.wall_s / kSecondsPerDay, 2);
    r.AddField("gpu_hours", "GPU-hours", p.cost.gpu_hours, 0);
    r.AddField("usd", "cost ($)", p.cost.usd ? report::Value(*p.cost.usd) : report::Value(), 0);
    r.AddField("energy_kwh", "energy (kWh)", p.cost.energy_kwh, 0);
    r.AddField("co2_kg", "CO2e (kg)", p.cost.co2_kg, 0);
  };

  if (!a.finetune.empty()) {
    Result<ModelSpec> model = zoo->Resolve(a.finetune);
    if (!model.ok()) return Fail(model.status());
    if (a.tokens.empty()) return Fail(UsageError("--tokens: required with --finetune"));
    Result<double> tokens = ParseCount(a.tokens, "--tokens");
    if (!tokens.ok()) return Fail(tokens.status());
    if (*tokens <= 0) return Fail(InvalidInput("--tokens: must be positive"));
    Result<Finetune> method = ParseFinetune(a.method);
    if (!method.ok()) return Fail(method.status());
    PlanRequest req = base;
    req.model = *model;
    req.setup.finetune = *method;
    req.tokens = *tokens;
    req.space.global_batch = std::max<int64_t>(1, 262144 / *seq);  // fine-tuning batch: 256k tokens
    Result<PlanResult> res = RunPlan(req);
    if (!res.ok()) return Fail(res.status());
    r.title = fmt::format("Cheapest {} fine-tune of {} on {} tokens within ${:.0f}", FinetuneName(*method), model->id,
                          HumanCount(*tokens), *usd);
    if (res->plans.empty()) {
      std::fprintf(stderr, "dlcost: infeasible: %s\n", res->binding.c_str());
      return 3;
    }
    add_plan(res->plans.front());
    r.notes.push_back("fine-tuning batch 256k tokens per step (an assumption; dlcost plan --global-batch to change it)");
    r.notes.push_back(fmt::format("searched {} layouts in {:.2f} s", res->stats.evaluated, res->stats.elapsed_s));
    return Emit(r, g);
  }

  // Largest compute-optimal model: iterate C <- C x budget / cost(C) on the cheapest plan
  // (cost is close to proportional to compute), keeping the largest C whose plan fits the budget.
  double c_flops = 1e21;
  std::optional<Plan> best_plan;
  ModelSpec best_model;
  double best_c = 0;
  PlanRequest req = base;
  req.budget_usd.reset();  // find the cost of each size first; the budget is checked below
  for (int it = 0; it < 8; ++it) {
    double n = std::sqrt(c_flops / (6.0 * tpp));
    ModelSpec m = LlamaLike(n, *seq);
    Result<perf::OpGraph> gr = perf::BuildOpGraph(m, *seq);
    if (!gr.ok()) return Fail(gr.status());
    double d = tpp * gr->TotalParams();
    req.model = m;
    req.tokens = d;
    Result<PlanResult> res = RunPlan(req);
    if (!res.ok()) return Fail(res.status());
    if (res->plans.empty() || !res->plans.front().cost.usd) {
      c_flops /= 4;  // too large for any GPU set or deadline: shrink
      continue;
    }
    const Plan& p = res->plans.front();
    double cost = *p.cost.usd;
    double c_actual = 6.0 * gr->TotalParams() * d;
    if (cost <= *usd && c_actual > best_c) {
      best_c = c_actual;
      best_plan = p;
      best_model = m;
    }
    double ratio = *usd / cost;
    if (std::fabs(ratio - 1) < 0.02 && best_plan) break;
    c_flops = c_actual * std::min(ratio, 16.0) * 0.995;
  }
  if (!best_plan) {
    std::fprintf(stderr, "dlcost: infeasible: no compute-optimal model can be trained for $%.0f%s\n", *usd,
                 base.deadline_s ? " within the deadline" : "");
    return 3;
  }
  Result<perf::OpGraph> gr = perf::BuildOpGraph(best_model, *seq);
  if (!gr.ok()) return Fail(gr.status());
  r.title = fmt::format("Largest compute-optimal model for ${:.0f}", *usd);
  r.AddField("params", "parameters", gr->TotalParams(), 0);
  r.AddField("params_b", "parameters (B)", gr->TotalParams() / 1e9, 2);
  r.AddField("tokens", "training tokens", tpp * gr->TotalParams(), 0);
  r.AddField("compute_flops", "compute (6ND FLOPs)", best_c);
  r.AddField("architecture", "architecture",
             fmt::format("hidden {} layers {} heads {} kv-heads {} ffn {} (SwiGLU) vocab {}", best_model.hidden,
                         best_model.layers, best_model.heads, best_model.kv_heads, best_model.ffn, best_model.vocab));
  add_plan(*best_plan);
  r.notes.push_back(fmt::format("compute-optimal allocation: {:.0f} tokens per parameter, C = 6ND (Hoffmann et al. 2022, "
                                "'Training Compute-Optimal Large Language Models', Table 3)", tpp));
  r.notes.push_back("architecture: Llama-style shape for that size (head dim 128, FFN 8/3 x hidden, one layer per 128 "
                    "of width; Touvron et al. 2023b) — an assumption, not a recommendation of a specific recipe");
  r.notes.push_back("prices: dated snapshot of public on-demand list prices; goodput 0.9 (Dubey et al. 2024)");
  return Emit(r, g);
}

}  // namespace

void RegisterBudget(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("budget", "What a budget buys: the largest compute-optimal model, or the cheapest fine-tune");
  auto a = std::make_shared<BudgetArgs>();
  cmd->add_option("--usd", a->usd, "Budget in US dollars")->required();
  cmd->add_option("--deadline", a->deadline, "Wall-clock limit, e.g. 14d");
  cmd->add_option("--gpu", a->gpu, "GPU ids, comma-separated, or 'any'")->capture_default_str();
  cmd->add_option("--gpus-max", a->gpus_max, "Largest GPU count")->capture_default_str();
  cmd->add_option("--seq", a->seq, "Sequence length")->capture_default_str();
  cmd->add_option("--tokens-per-param", a->tokens_per_param, "Compute-optimal tokens per parameter (default 20)");
  cmd->add_option("--finetune", a->finetune, "Fine-tune this model instead (zoo id or file)");
  cmd->add_option("--tokens", a->tokens, "Fine-tuning tokens (with --finetune)");
  cmd->add_option("--method", a->method, "lora, qlora or full (with --finetune)")->capture_default_str();
  cmd->add_option("--region", a->region, "Grid region for CO2");
  cmd->add_option("--calibration", a->calibration, "Efficiency profile JSON (default: data/efficiency/default.json)");
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a] { *exit_code = RunBudget(g, *a); });
}

}  // namespace dlcost::cli
