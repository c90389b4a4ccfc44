#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "api/bands.h"
#include "dlcost/api_plan.h"
#include "dlcost/strings.h"
#include "dlcost/units.h"

namespace dlcost::api {
namespace {

// The training job, the layout space and the amount to train (--seq .. --steps).
Status ParseJob(const PlanSearchRequest& a, const ModelSpec& model, PlanRequest& req) {
  req.model = model;
  req.setup.overhead_bytes = -1;
  if (!a.memory_headroom.empty()) {
    DLCOST_ASSIGN_OR_RETURN(req.setup.memory_headroom_bytes, ParseMemoryHeadroom(a.memory_headroom, "--memory-headroom"));
  }
  req.setup.flash_attention = !a.no_flash;
  bool finetune = !a.finetune.empty() && a.finetune != "none";
  req.setup.seq_len = DefaultSeqLen(model.max_seq, finetune);
  if (!a.seq.empty()) {
    DLCOST_ASSIGN_OR_RETURN(req.setup.seq_len, ParsePositiveInt(a.seq, "--seq"));
    if (req.setup.seq_len > (int64_t{1} << 24)) return InvalidInput("--seq: at most 16M tokens");
  }
  DLCOST_ASSIGN_OR_RETURN(req.setup.optimizer, ParseOptimizer(a.optimizer));
  DLCOST_ASSIGN_OR_RETURN(req.setup.finetune, ParseFinetune(a.finetune));
  DLCOST_ASSIGN_OR_RETURN(req.setup.lora_rank, ParsePositiveInt(a.lora_rank, "--lora-rank"));
  DLCOST_RETURN_IF_ERROR(ApplyOffloadFlag(a.offload, req));
  if (!a.framework.empty()) {
    DLCOST_ASSIGN_OR_RETURN(req.setup.framework, ParseFramework(a.framework, "--framework"));
  }
  if (!a.precision.empty()) {
    for (const std::string& p : Split(a.precision, ',')) {
      DLCOST_ASSIGN_OR_RETURN(Dtype d, ParseDtype(p, "--precision"));
      req.space.precision.push_back(d);
    }
  }
  if (!a.global_batch.empty()) {
    DLCOST_ASSIGN_OR_RETURN(req.space.global_batch, ParsePositiveInt(a.global_batch, "--global-batch"));
  } else if (req.setup.finetune != Finetune::kNone) {
    req.space.global_batch = DefaultFinetuneGlobalBatch(req.setup.seq_len);
  }
  if (!a.tokens.empty() && !a.steps.empty()) return UsageError("--tokens and --steps: give one, not both");
  if (a.tokens.empty() && a.steps.empty()) return UsageError("--tokens or --steps is required");
  if (!a.tokens.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(a.tokens, "--tokens"));
    if (v <= 0) return InvalidInput("--tokens: must be positive");
    req.tokens = v;
  } else {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(a.steps, "--steps"));
    if (v <= 0) return InvalidInput("--steps: must be positive");
    req.steps = v;
  }
  return Status::Ok();
}

// GPU counts, constraints, objective and search settings (--gpus-max .. --threads).
Status ParseSearch(const PlanSearchRequest& a, PlanRequest& req) {
  DLCOST_ASSIGN_OR_RETURN(double gmax, ParseCount(a.gpus_max, "--gpus-max"));
  if (gmax < 1 || gmax > 1e6) return InvalidInput("--gpus-max: must be between 1 and 1,000,000");
  req.gpus_max = static_cast<int64_t>(gmax);
  if (!a.gpus.empty()) {
    for (const std::string& part : Split(a.gpus, ',')) {
      DLCOST_ASSIGN_OR_RETURN(int64_t v, ParsePositiveInt(part, "--gpus"));
      if (v > 1000000) return InvalidInput("--gpus: at most 1,000,000");
      req.space.num_gpus.push_back(v);
      req.gpus_max = std::max(req.gpus_max, v);
    }
  }
  if (!a.deadline.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseDurationSeconds(a.deadline, "--deadline"));
    req.deadline_s = v;
  }
  if (!a.budget.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(a.budget, "--budget-usd"));
    if (v <= 0) return InvalidInput("--budget-usd: must be positive");
    req.budget_usd = v;
  }
  DLCOST_ASSIGN_OR_RETURN(req.objective, ParseObjective(a.objective));
  DLCOST_ASSIGN_OR_RETURN(int64_t top, ParsePositiveInt(a.top, "--top"));
  req.top_k = static_cast<int>(std::min<int64_t>(top, 1000));
  DLCOST_ASSIGN_OR_RETURN(double th, ParseCount(a.threads, "--threads"));
  req.threads = static_cast<int>(std::min(th, 256.0));
  req.progress = a.progress;
  return Status::Ok();
}

// Goodput, PUE, grid and power (--goodput, --region, --pue, --gpu-power-w).
Status ParseRunContext(const Session& session, const PlanSearchRequest& a, PlanRequest& req, GridInfo& grid) {
  if (!a.goodput.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(a.goodput, "--goodput"));
    if (v <= 0 || v > 1) return InvalidInput("--goodput: must be in (0, 1]");
    req.run.goodput = v;
  }
  DLCOST_ASSIGN_OR_RETURN(const CarbonData* carbon, session.Carbon());
  DLCOST_ASSIGN_OR_RETURN(grid, carbon->Lookup(a.region.empty() ? "WORLD" : a.region));
  req.run.carbon_g_per_kwh = grid.carbon_g_per_kwh;
  req.run.pue = grid.pue.value_or(carbon->DefaultPue("Unknown").first);
  if (!a.pue.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(a.pue, "--pue"));
    if (v < 1 || v > 5) return InvalidInput("--pue: must be between 1 and 5");
    req.run.pue = v;
  }
  if (!a.gpu_power_w.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(a.gpu_power_w, "--gpu-power-w"));
    if (v <= 0) return InvalidInput("--gpu-power-w: must be positive");
    req.run.gpu_power_w = v;
  }
  return Status::Ok();
}

// The bands of plan `i`, or none when `bands` does not reach it (a result built without them).
const EstimateBands& BandsAt(const std::vector<EstimateBands>& bands, size_t i) {
  static const EstimateBands kNone;
  return i < bands.size() ? bands[i] : kNone;
}

nlohmann::ordered_json BandEnd(const std::optional<Band>& b, bool high) {
  return b ? nlohmann::ordered_json(high ? b->high : b->low) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json PlanEntryJson(const Plan& p, int rank, const EstimateBands& bands) {
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
  o["offload"] = OffloadName(p.offload);
  o["memory_gib"] = e.memory_total_bytes / kGiB;
  o["memory_headroom_gib"] = (e.memory_capacity_bytes - e.memory_total_bytes) / kGiB;
  o["step_s"] = e.time_step_s;
  o["mfu"] = e.mfu;
  o["wall_days"] = p.cost.wall_s / kSecondsPerDay;
  o["wall_days_low"] = BandEnd(bands.wall_days, false);
  o["wall_days_high"] = BandEnd(bands.wall_days, true);
  o["gpu_hours"] = p.cost.gpu_hours;
  o["usd"] = p.cost.usd ? nlohmann::ordered_json(*p.cost.usd) : nlohmann::ordered_json(nullptr);
  o["usd_low"] = BandEnd(bands.usd, false);
  o["usd_high"] = BandEnd(bands.usd, true);
  o["energy_kwh"] = p.cost.energy_kwh;
  o["co2_kg"] = p.cost.co2_kg;
  return o;
}

void PlanTable(report::Report& r, const std::string& key, const std::string& title, const std::vector<Plan>& plans,
               const std::vector<EstimateBands>& bands) {
  report::Table& t = r.AddTable(key, title,
                                {{"rank", "#"}, {"gpu", "GPU"}, {"offer", "offer"}, {"num_gpus", "GPUs"},
                                 {"layout", "tp/pp/dp/cp/ep/vpp mb zero rc prec"}, {"global_batch", "batch"},
                                 {"memory_gib", "mem GiB", 1},
                                 {"headroom_gib", "free GiB", 1}, {"step_s", "step s", 3}, {"mfu_pct", "MFU %", 1},
                                 {"wall_days", "days", 1}, {"gpu_hours", "GPU-h", 0}, {"usd", "$", 0},
                                 {"energy_kwh", "kWh", 0}, {"co2_kg", "CO2 kg", 0},
                                 {"wall_days_band", "days 80% band"}, {"usd_band", "$ 80% band"}});
  int rank = 0;
  for (const Plan& p : plans) {
    const EstimateBands& b = BandsAt(bands, static_cast<size_t>(rank));
    const Layout& L = p.estimate.layout;
    std::string offer = p.offer ? fmt::format("{}:{} ${:.2f}", p.offer->provider, p.offer->instance,
                                              p.offer->OnDemandUsdPerGpuHour())
                                : std::string("-");
    t.rows.push_back({static_cast<int64_t>(++rank), p.gpu, offer, p.num_gpus,
                      fmt::format("{}/{}/{}/{}/{}/{} {} {} {} {}{}", L.tp, L.pp, L.dp, L.cp, L.ep, L.vpp, L.micro_batch,
                                  L.zero, RecomputeName(L.recompute), DtypeName(p.precision),
                                  p.offload.Any() ? " off:" + OffloadName(p.offload) : std::string()),
                      L.global_batch, p.estimate.memory_total_bytes / kGiB,
                      (p.estimate.memory_capacity_bytes - p.estimate.memory_total_bytes) / kGiB, p.estimate.time_step_s,
                      100 * p.estimate.mfu, p.cost.wall_s / kSecondsPerDay, p.cost.gpu_hours,
                      p.cost.usd ? report::Value(*p.cost.usd) : report::Value(), p.cost.energy_kwh, p.cost.co2_kg,
                      b.wall_days ? BandText(*b.wall_days) : std::string("-"),
                      b.usd ? BandText(*b.usd) : std::string("-")});
  }
}

// The Pareto front as cost against wall days, each plan with its 80% bands; the best plan (the
// objective's choice) ringed where it is on the front, else drawn as its own point.
void AddParetoChart(const PlanSearchResult& x, report::Report& r) {
  report::Chart& c = r.AddChart("pareto", "Cost against time: the Pareto front", report::ChartKind::kScatter);
  c.x_label = "wall-clock days";
  c.y_label = "cost (USD)";
  report::ChartSeries front{"Pareto front (80% bands)", {}, {}, {}, {}, {}, {}};
  auto add = [](report::ChartSeries& s, const Plan& p, const EstimateBands& b) {
    if (!p.cost.usd) return false;
    s.x.push_back(p.cost.wall_s / kSecondsPerDay);
    s.y.push_back(*p.cost.usd);
    s.x_low.push_back(b.wall_days ? b.wall_days->low : s.x.back());
    s.x_high.push_back(b.wall_days ? b.wall_days->high : s.x.back());
    s.y_low.push_back(b.usd ? b.usd->low : s.y.back());
    s.y_high.push_back(b.usd ? b.usd->high : s.y.back());
    return true;
  };
  const std::vector<Plan>& front_plans = x.result.pareto;
  const Plan* best = x.result.plans.empty() ? nullptr : &x.result.plans.front();
  for (size_t i = 0; i < front_plans.size(); ++i) {
    size_t point = front.x.size();  // plans without a price are not drawn
    if (!add(front, front_plans[i], BandsAt(x.pareto_bands, i))) continue;
    if (best && c.highlighted.empty() && front_plans[i].cost.wall_s == best->cost.wall_s &&
        front_plans[i].cost.usd == best->cost.usd) {
      c.highlighted.push_back({0, point});
      front.name += "; ringed: the best plan";
    }
  }
  c.series.push_back(std::move(front));
  if (!best || !c.highlighted.empty()) return;
  const Plan& chosen_plan = *best;
  report::ChartSeries chosen{"the best plan", {}, {}, {}, {}, {}, {}};
  if (add(chosen, chosen_plan, BandsAt(x.plan_bands, 0))) {
    c.series.push_back(std::move(chosen));
    c.highlighted.push_back({1, 0});
  }
}

}  // namespace

Result<PlanSearchResult> PlanSearch(const Session& session, const PlanSearchRequest& a) {
  PlanSearchResult out;
  DLCOST_ASSIGN_OR_RETURN(out.model, session.ResolveModel(a.model));
  PlanRequest& req = out.request;
  DLCOST_RETURN_IF_ERROR(ParseJob(a, out.model, req));
  DLCOST_RETURN_IF_ERROR(ParseSearch(a, req));
  DLCOST_RETURN_IF_ERROR(ParseRunContext(session, a, req, out.grid));
  DLCOST_ASSIGN_OR_RETURN(std::shared_ptr<const ErrorBandTable> table, session.ErrorBands(a.bands));

  // Candidates: GPU types and their offers.
  VmsImportReport imported;
  std::optional<PriceTable> vms;
  const PriceTable* prices = nullptr;
  if (a.vms.empty()) {
    DLCOST_ASSIGN_OR_RETURN(prices, session.Prices());
  } else {
    DLCOST_ASSIGN_OR_RETURN(vms, PriceTable::ImportVmsCsv(a.vms, "", &imported));
    prices = &*vms;
  }
  std::optional<double> flat_price;
  if (!a.price.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(a.price, "--price-usd-per-gpu-hour"));
    if (v <= 0) return InvalidInput("--price-usd-per-gpu-hour: must be positive");
    flat_price = v;
  }
  out.prices_given = !a.vms.empty() || flat_price;
  DLCOST_ASSIGN_OR_RETURN(req.candidates, BuildCandidates(session, *prices, a.gpu, flat_price, a.calibration, req.run.gpu_power_w));
  DLCOST_ASSIGN_OR_RETURN(out.result, RunPlan(req));
  out.plan_bands = PlanBands(table.get(), req.candidates, out.result.plans);
  out.pareto_bands = PlanBands(table.get(), req.candidates, out.result.pareto);
  return out;
}

std::string PlanJson(const PlanSearchResult& r) {
  const PlanResult& pr = r.result;
  nlohmann::ordered_json j;
  j["plans"] = nlohmann::ordered_json::array();
  int i = 0;
  for (const Plan& p : pr.plans) {
    j["plans"].push_back(PlanEntryJson(p, i + 1, BandsAt(r.plan_bands, i)));
    ++i;
  }
  j["pareto"] = nlohmann::ordered_json::array();
  i = 0;
  for (const Plan& p : pr.pareto) {
    j["pareto"].push_back(PlanEntryJson(p, i + 1, BandsAt(r.pareto_bands, i)));
    ++i;
  }
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
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

report::Report PlanReport(const PlanSearchResult& x, bool pareto, bool stats) {
  const PlanResult& pr = x.result;
  report::Report r;
  r.title = fmt::format("Plans for {} ({} objective)", x.model.id, ObjectiveName(x.request.objective));
  PlanTable(r, "plans", "Best plans", pr.plans, x.plan_bands);
  if (pareto) PlanTable(r, "pareto", "Cost vs time Pareto front (cheapest first)", pr.pareto, x.pareto_bands);
  if (stats) {
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
  r.notes.push_back("layout column: tp/pp/dp/cp/ep/vpp, micro-batch, ZeRO stage, recompute, precision (and off: what the "
                    "plan keeps in host memory); batch: sequences per "
                    "optimizer step (--global-batch, or about 4M tokens rounded to a multiple of dp x micro-batch, so it "
                    "can differ between GPU counts).");
  if (!x.request.space.offload.empty()) {
    r.notes.push_back("--offload auto: plans keeping nothing, the optimizer, the activations, both, or the weights and "
                      "activations in host memory were searched (host copies and the CPU optimizer step as in train, "
                      "docs/training.md)");
  } else if (x.request.setup.offload.Any()) {
    r.notes.push_back(fmt::format("every plan keeps {} in host memory (--offload; host copies and the CPU optimizer step as "
                                  "in train, docs/training.md)", OffloadName(x.request.setup.offload)));
  }
  r.notes.push_back(!x.prices_given ? "prices: dated snapshot of public on-demand list prices (dlcost prices)"
                                    : "prices: as given");
  r.notes.push_back(fmt::format("goodput {}, PUE {:.2f}, grid {} {:.0f} gCO2e/kWh; model and assumptions: docs/training.md",
                                x.request.run.goodput ? fmt::format("{:.2f} (given)", *x.request.run.goodput)
                                                      : std::string("modelled per plan (interruptions, restarts, checkpoints; "
                                                                    "docs/training.md, 'Whole run')"),
                                x.request.run.pue, x.grid.location, x.grid.carbon_g_per_kwh));
  if (pareto) AddParetoChart(x, r);
  std::vector<EstimateBands> shown = x.plan_bands;
  if (pareto) shown.insert(shown.end(), x.pareto_bands.begin(), x.pareto_bands.end());
  for (const std::string& n : RunBandNotes(shown)) r.notes.push_back(n);
  return r;
}

}  // namespace dlcost::api
