#include <cmath>

#include <fmt/format.h>

#include "api/bands.h"
#include "dlcost/api_plan.h"
#include "dlcost/op_graph.h"
#include "dlcost/units.h"

namespace dlcost::api {
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

// The search every budget question shares: cheapest plan on priced GPUs within the deadline.
Result<PlanRequest> BaseRequest(const Session& session, const BudgetRequest& a, double usd, int64_t seq) {
  DLCOST_ASSIGN_OR_RETURN(double gmax, ParseCount(a.gpus_max, "--gpus-max"));
  if (gmax < 1 || gmax > 1e6) return InvalidInput("--gpus-max: must be between 1 and 1,000,000");
  PlanRequest base;
  base.gpus_max = static_cast<int64_t>(gmax);
  base.setup.seq_len = seq;
  base.setup.overhead_bytes = -1;
  DLCOST_RETURN_IF_ERROR(ApplyOffloadFlag(a.offload, base));
  if (!a.memory_headroom.empty()) {
    DLCOST_ASSIGN_OR_RETURN(base.setup.memory_headroom_bytes,
                            ParseMemoryHeadroom(a.memory_headroom, "--memory-headroom"));
  }
  base.objective = Objective::kCost;
  base.top_k = 1;
  base.budget_usd = usd;
  return base;
}

Status AddContext(const Session& session, const BudgetRequest& a, PlanRequest& base) {
  if (!a.deadline.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseDurationSeconds(a.deadline, "--deadline"));
    base.deadline_s = v;
  }
  DLCOST_ASSIGN_OR_RETURN(const CarbonData* carbon, session.Carbon());
  DLCOST_ASSIGN_OR_RETURN(GridInfo grid, carbon->Lookup(a.region.empty() ? "WORLD" : a.region));
  base.run.carbon_g_per_kwh = grid.carbon_g_per_kwh;
  base.run.pue = grid.pue.value_or(carbon->DefaultPue("Unknown").first);
  DLCOST_ASSIGN_OR_RETURN(const PriceTable* prices, session.Prices());
  DLCOST_ASSIGN_OR_RETURN(std::vector<GpuCandidate> cands,
                          BuildCandidates(session, *prices, a.gpu, std::nullopt, a.calibration, 0));
  for (GpuCandidate& c : cands) {
    if (!c.offers.empty()) base.candidates.push_back(std::move(c));
  }
  if (base.candidates.empty()) return InvalidInput("--gpu: none of the GPUs has a price in the shipped table");
  base.progress = false;
  return Status::Ok();
}

// --finetune: the cheapest fine-tune of the named model on --tokens.
Status CheapestFinetune(const Session& session, const BudgetRequest& a, const PlanRequest& base, int64_t seq,
                        BudgetResult& out) {
  out.finetune = true;
  DLCOST_ASSIGN_OR_RETURN(out.model, session.ResolveModel(a.finetune));
  if (a.tokens.empty()) return UsageError("--tokens: required with --finetune");
  DLCOST_ASSIGN_OR_RETURN(out.tokens, ParseCount(a.tokens, "--tokens"));
  if (out.tokens <= 0) return InvalidInput("--tokens: must be positive");
  DLCOST_ASSIGN_OR_RETURN(out.method, ParseFinetune(a.method));
  PlanRequest req = base;
  req.model = out.model;
  req.setup.finetune = out.method;
  req.tokens = out.tokens;
  req.space.global_batch = DefaultFinetuneGlobalBatch(seq);  // shared with train and plan
  DLCOST_ASSIGN_OR_RETURN(PlanResult res, RunPlan(req));
  if (res.plans.empty()) {
    out.infeasible = res.binding;
    return Status::Ok();
  }
  out.plan = res.plans.front();
  out.layouts_evaluated = res.stats.evaluated;
  out.search_s = res.stats.elapsed_s;
  return Status::Ok();
}

// Largest compute-optimal model: iterate C <- C x budget / cost(C) on the cheapest plan
// (cost is close to proportional to compute), keeping the largest C whose plan fits the budget.
Status LargestModel(const PlanRequest& base, int64_t seq, BudgetResult& out) {
  const double tpp = out.tokens_per_param;
  double c_flops = 1e21;
  PlanRequest req = base;
  req.budget_usd.reset();  // find the cost of each size first; the budget is checked below
  for (int it = 0; it < 8; ++it) {
    double n = std::sqrt(c_flops / (6.0 * tpp));
    ModelSpec m = LlamaLike(n, seq);
    DLCOST_ASSIGN_OR_RETURN(perf::OpGraph gr, perf::BuildOpGraph(m, seq));
    double d = tpp * gr.TotalParams();
    req.model = m;
    req.tokens = d;
    DLCOST_ASSIGN_OR_RETURN(PlanResult res, RunPlan(req));
    if (res.plans.empty() || !res.plans.front().cost.usd) {
      c_flops /= 4;  // too large for any GPU set or deadline: shrink
      continue;
    }
    const Plan& p = res.plans.front();
    double cost = *p.cost.usd;
    double c_actual = 6.0 * gr.TotalParams() * d;
    if (cost <= out.usd && c_actual > out.compute_flops) {
      out.compute_flops = c_actual;
      out.plan = p;
      out.model = m;
    }
    double ratio = out.usd / cost;
    if (std::fabs(ratio - 1) < 0.02 && out.plan) break;
    c_flops = c_actual * std::min(ratio, 16.0) * 0.995;
  }
  if (!out.plan) {
    out.infeasible = fmt::format("no compute-optimal model can be trained for ${:.0f}{}", out.usd,
                                 base.deadline_s ? " within the deadline" : "");
    return Status::Ok();
  }
  DLCOST_ASSIGN_OR_RETURN(perf::OpGraph gr, perf::BuildOpGraph(out.model, seq));
  out.params = gr.TotalParams();
  out.tokens = tpp * out.params;
  return Status::Ok();
}

void AddPlanFields(const Plan& p, const EstimateBands& bands, report::Report& r) {
  const Layout& L = p.estimate.layout;
  r.AddField("gpu", "GPU", p.gpu);
  r.AddField("offer", "offer", p.offer ? fmt::format("{}:{} ({}) ${:.3f}/GPU-hour", p.offer->provider, p.offer->instance,
                                                     p.offer->region, p.offer->OnDemandUsdPerGpuHour())
                                       : std::string("-"));
  r.AddField("num_gpus", "GPUs", p.num_gpus);
  r.AddField("layout", "layout", fmt::format("tp={} pp={} dp={} cp={} vpp={} mb={} zero={} recompute={} {}", L.tp, L.pp,
                                             L.dp, L.cp, L.vpp, L.micro_batch, L.zero, RecomputeName(L.recompute),
                                             DtypeName(p.precision)));
  r.AddField("offload", "offloaded to host memory", OffloadName(p.offload));
  r.AddField("mfu_pct", "MFU (%)", 100 * p.estimate.mfu, 1);
  r.AddField("wall_days", "wall time (days)", p.cost.wall_s / kSecondsPerDay, p.cost.wall_s >= 0.1 * kSecondsPerDay ? 2 : -1);
  AddBandFields(r, "wall_days", bands.wall_days);
  r.AddField("gpu_hours", "GPU-hours", p.cost.gpu_hours);
  AddBandFields(r, "gpu_hours", bands.gpu_hours);
  r.AddField("usd", "cost ($)", p.cost.usd ? report::Value(*p.cost.usd) : report::Value());
  AddBandFields(r, "usd", bands.usd);
  r.AddField("energy_kwh", "energy (kWh)", p.cost.energy_kwh);
  r.AddField("co2_kg", "CO2e (kg)", p.cost.co2_kg);
}

}  // namespace

Result<BudgetResult> Budget(const Session& session, const BudgetRequest& a) {
  BudgetResult out;
  DLCOST_ASSIGN_OR_RETURN(out.usd, ParseCount(a.usd, "--usd"));
  if (out.usd <= 0) return InvalidInput("--usd: must be positive");
  DLCOST_ASSIGN_OR_RETURN(int64_t seq, ParsePositiveInt(a.seq, "--seq"));
  DLCOST_ASSIGN_OR_RETURN(PlanRequest base, BaseRequest(session, a, out.usd, seq));
  out.offload_searched = !base.space.offload.empty();
  out.tokens_per_param = kChinchillaTokensPerParam;
  if (!a.tokens_per_param.empty()) {
    DLCOST_ASSIGN_OR_RETURN(out.tokens_per_param, ParseCount(a.tokens_per_param, "--tokens-per-param"));
    if (out.tokens_per_param <= 0) return InvalidInput("--tokens-per-param: must be positive");
  }
  DLCOST_RETURN_IF_ERROR(AddContext(session, a, base));
  DLCOST_ASSIGN_OR_RETURN(std::shared_ptr<const ErrorBandTable> table, session.ErrorBands(a.bands));
  if (!a.finetune.empty()) {
    DLCOST_RETURN_IF_ERROR(CheapestFinetune(session, a, base, seq, out));
  } else {
    DLCOST_RETURN_IF_ERROR(LargestModel(base, seq, out));
  }
  if (out.plan) out.bands = PlanBands(table.get(), base.candidates, {*out.plan}).front();
  return out;
}

report::Report BudgetReport(const BudgetResult& x) {
  report::Report r;
  if (!x.plan) return r;
  if (x.offload_searched) {
    r.notes.push_back("--offload auto: plans keeping nothing, the optimizer, the activations, both, or the weights and "
                      "activations in host memory were searched (host copies and the CPU optimizer step as in train, "
                      "docs/training.md)");
  } else if (x.plan->offload.Any()) {
    r.notes.push_back(fmt::format("every plan keeps {} in host memory (--offload; host copies and the CPU optimizer step as "
                                  "in train, docs/training.md)", OffloadName(x.plan->offload)));
  }
  if (x.finetune) {
    r.title = fmt::format("Cheapest {} fine-tune of {} on {} tokens within ${:.0f}", FinetuneName(x.method), x.model.id,
                          HumanCount(x.tokens), x.usd);
    AddPlanFields(*x.plan, x.bands, r);
    r.notes.push_back(fmt::format("fine-tuning batch: {} sequences per step (about {}K tokens at --seq, a dlcost "
                                  "assumption shared with train and plan; dlcost train or plan --finetune --global-batch "
                                  "to price another)", x.plan->estimate.layout.global_batch, kFinetuneBatchTokens / 1024));
    r.notes.push_back(fmt::format("searched {} layouts in {:.2f} s", x.layouts_evaluated, x.search_s));
    if (!x.bands.run_note.empty()) r.notes.push_back(x.bands.run_note);
    return r;
  }
  const ModelSpec& m = x.model;
  r.title = fmt::format("Largest compute-optimal model for ${:.0f}", x.usd);
  r.AddField("params", "parameters", x.params, 0);
  r.AddField("params_b", "parameters (B)", x.params / 1e9, 2);
  r.AddField("tokens", "training tokens", x.tokens, 0);
  r.AddField("compute_flops", "compute (6ND FLOPs)", x.compute_flops);
  r.AddField("architecture", "architecture",
             fmt::format("hidden {} layers {} heads {} kv-heads {} ffn {} (SwiGLU) vocab {}", m.hidden, m.layers, m.heads,
                         m.kv_heads, m.ffn, m.vocab));
  AddPlanFields(*x.plan, x.bands, r);
  r.notes.push_back(fmt::format("compute-optimal allocation: {:.0f} tokens per parameter, C = 6ND (Hoffmann et al. 2022, "
                                "'Training Compute-Optimal Large Language Models', Table 3)", x.tokens_per_param));
  r.notes.push_back("architecture: Llama-style shape for that size (head dim 128, FFN 8/3 x hidden, one layer per 128 "
                    "of width; Touvron et al. 2023b) — an assumption, not a recommendation of a specific recipe");
  r.notes.push_back("prices: dated snapshot of public on-demand list prices; goodput modelled per plan from Llama 3's interruption rate, restarts and checkpoints (docs/training.md, 'Whole run')");
  if (!x.bands.run_note.empty()) r.notes.push_back(x.bands.run_note);
  return r;
}

}  // namespace dlcost::api
