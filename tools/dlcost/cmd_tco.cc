// dlcost tco: training vs serving cost over a model's life, month by month, and the break-even
// month of each serving optimization.
#include <cmath>

#include <fmt/format.h>

#include "cli_common.h"
#include "cost_flags.h"
#include "dlcost/prices.h"
#include "dlcost/units.h"
#include "serve_flags.h"

namespace dlcost::cli {
namespace {

// Hours in an average month (8,760 h / 12).
constexpr double kHoursPerMonth = 730.0;
// EAGLE draft heads train "within 1-2 days" on 8 RTX 3090 GPUs (SafeAILab/EAGLE README):
// 2 days x 8 GPUs, priced at the serving GPU's rate (an upper bound).
constexpr double kEagleTrainGpuHours = 2 * 24 * 8;
// Post-training quantization calibration: a stated dlcost assumption of one GPU-hour.
constexpr double kPtqGpuHours = 1.0;

struct TcoArgs {
  ServeFlags serve;
  api::CostRequest cost;
  std::string months = "12", growth = "0";
  std::string train_gpu, train_gpus = "64", train_tokens, train_usd, train_price;
};

struct Option {
  std::string name;
  ServingSetup setup;
  double one_off_usd = 0;
  std::string one_off_basis;
};

int RunTco(const GlobalOptions& g, const TcoArgs& a) {
  Result<std::string> dir = DataDir(g);
  if (!dir.ok()) return Fail(dir.status());
  if (a.serve.qps.empty()) return Fail(UsageError("--qps (average requests per second in the first month) is required"));
  Result<ServeContext> c = ResolveServe(*dir, a.serve);
  if (!c.ok()) return Fail(c.status());
  Result<api::CostContext> cc = [&]() -> Result<api::CostContext> {
    DLCOST_ASSIGN_OR_RETURN(api::Session s, api::Session::Open(*dir));
    return s.ResolveCost(c->gpu, a.cost);
  }();
  if (!cc.ok()) return Fail(cc.status());
  if (!cc->usd_per_gpu_hour) return Fail(InvalidInput("--price-usd-per-gpu-hour: no shipped offer for this GPU; give a price"));
  double price = *cc->usd_per_gpu_hour;
  Result<int64_t> months = ParsePositiveInt(a.months, "--months");
  if (!months.ok()) return Fail(months.status());
  if (*months > 120) return Fail(InvalidInput("--months: at most 120"));
  Result<double> growth = ParseCount(a.growth, "--growth-pct");
  if (!growth.ok()) return Fail(growth.status());
  if (*growth > 100) return Fail(InvalidInput("--growth-pct: at most 100% per month"));

  // Training: a given amount, or the training estimator on the named GPUs.
  double train_usd = 0;
  std::string train_basis;
  if (!a.train_usd.empty()) {
    Result<double> v = ParseCount(a.train_usd, "--train-usd");
    if (!v.ok()) return Fail(v.status());
    train_usd = *v;
    train_basis = "as given";
  } else {
    if (a.train_tokens.empty()) return Fail(UsageError("--train-tokens or --train-usd is required"));
    Result<HardwareCatalog> hw = HardwareCatalog::Load(*dir);
    if (!hw.ok()) return Fail(hw.status());
    Result<Accelerator> tg = hw->Resolve(a.train_gpu.empty() ? c->gpu.id : a.train_gpu);
    if (!tg.ok()) return Fail(tg.status());
    Result<int64_t> n = ParsePositiveInt(a.train_gpus, "--train-gpus");
    if (!n.ok()) return Fail(n.status());
    if (*n > 1000000) return Fail(InvalidInput("--train-gpus: at most 1,000,000"));
    Result<double> tokens = ParseCount(a.train_tokens, "--train-tokens");
    if (!tokens.ok()) return Fail(tokens.status());
    if (*tokens <= 0) return Fail(InvalidInput("--train-tokens: must be positive"));
    Result<SystemSpec> sys = MakeSystem(*hw, *tg, 0, 0);
    if (!sys.ok()) return Fail(sys.status());
    std::string eff_path = a.serve.calibration.empty() ? *dir + "/efficiency/default.json" : a.serve.calibration;
    Result<EfficiencyProfile> eff = LoadEfficiency(eff_path, tg->id);
    if (!eff.ok()) return Fail(eff.status());
    TrainingSetup ts;
    ts.num_gpus = *n;
    ts.seq_len = c->model.max_seq > 0 ? std::min<int64_t>(c->model.max_seq, 8192) : 2048;
    ts.overhead_bytes = -1;
    Result<TrainingEstimate> te = EstimateWithChosenLayout(c->model, *sys, ts, *eff);
    if (!te.ok()) return Fail(te.status());
    if (!te->fits) return Fail(Infeasible(fmt::format("training {} does not fit on {} x {}; raise --train-gpus", c->model.id, *n, tg->id)));
    RunInputs run;
    run.tokens = *tokens;
    if (!a.train_price.empty()) {
      Result<double> p = ParseCount(a.train_price, "--train-price-usd-per-gpu-hour");
      if (!p.ok()) return Fail(p.status());
      run.usd_per_gpu_hour = *p;
    } else {
      Result<PriceTable> prices = PriceTable::LoadShipped(*dir);
      if (!prices.ok()) return Fail(prices.status());
      std::vector<Offer> offers = prices->ForGpu(tg->id);
      if (offers.empty()) return Fail(InvalidInput(fmt::format("--train-price-usd-per-gpu-hour: no shipped offer for {}; give a price", tg->id)));
      run.usd_per_gpu_hour = offers.front().OnDemandUsdPerGpuHour();
    }
    Result<RunCost> rc = ComputeRunCost(*te, *n, tg->tdp_w, run);
    if (!rc.ok()) return Fail(rc.status());
    train_usd = *rc->usd;
    train_basis = fmt::format("{} tokens on {} x {} at ${:.3f}/GPU-hour: {:.0f} GPU-hours, {:.1f} days", HumanCount(*tokens), *n,
                              tg->id, *run.usd_per_gpu_hour, rc->gpu_hours, rc->wall_s / kSecondsPerDay);
  }

  // Serving: GPUs needed each month for that month's load, for the baseline and each option.
  auto fmt_of = [](const char* n) { return *ParseNumberFormat(n, "tco"); };
  std::vector<Option> options;
  options.push_back({"baseline", c->setup, 0, ""});
  {
    Option o{"fp8 weights and activations", c->setup, kPtqGpuHours * price, "1 GPU-hour of post-training calibration (assumption)"};
    o.setup.weights = fmt_of("fp8");
    o.setup.activations = fmt_of("fp8");
    options.push_back(o);
    Option q{"int4 weight-only", c->setup, kPtqGpuHours * price, "1 GPU-hour of post-training calibration (assumption)"};
    q.setup.weights = fmt_of("int4");
    q.setup.activations.reset();
    options.push_back(q);
    Option k{"fp8 KV cache", c->setup, 0, "none (per-tensor scales)"};
    k.setup.kv_cache = fmt_of("fp8");
    options.push_back(k);
    Option s{"2:4 sparsity", c->setup, train_usd, "retraining to recover accuracy, as long as the original training (Mishra et al. 2021 recipe)"};
    s.setup.sparsity_2_4 = true;
    options.push_back(s);
    Option e{"speculative decoding (EAGLE head)", c->setup, kEagleTrainGpuHours * price,
             "EAGLE head training, 2 days on 8 GPUs (SafeAILab/EAGLE README), at this GPU's price"};
    e.setup.spec = c->setup.spec.value_or(SpecDecode{"eagle", 5, 0.8});
    options.push_back(e);
  }
  struct Monthly {
    std::vector<double> usd;
    std::vector<int64_t> gpus;
    std::string error;
  };
  std::vector<Monthly> per(options.size());
  std::vector<double> qps_by_month;
  for (int64_t m = 0; m < *months; ++m) {
    double qps = *c->setup.qps * std::pow(1 + *growth / 100.0, static_cast<double>(m));
    qps_by_month.push_back(qps);
    for (size_t i = 0; i < options.size(); ++i) {
      if (!per[i].error.empty()) continue;
      ServingSetup s = options[i].setup;
      s.qps = qps;
      s.num_gpus = 0;
      Result<ServingEstimate> e = RunServing(*c, s);
      if (!e.ok()) {
        if (i == 0) return Fail(e.status());
        per[i].error = e.status().message();
        continue;
      }
      int64_t gpus = e->gpus_needed.value_or(e->num_gpus);
      per[i].gpus.push_back(gpus);
      per[i].usd.push_back(static_cast<double>(gpus) * price * kHoursPerMonth);
    }
  }
  report::Report r;
  r.title = fmt::format("Total cost of ownership of {} over {} months", c->model.id, *months);
  double serve_total = 0;
  for (double v : per[0].usd) serve_total += v;
  r.AddField("model", "model", c->model.id);
  r.AddField("serving_gpu", "serving GPU", c->gpu.id);
  r.AddField("qps_first_month", "requests/s (first month)", *c->setup.qps, 3);
  r.AddField("growth_pct_per_month", "traffic growth per month (%)", *growth, 1);
  r.AddField("training_usd", "training ($)", train_usd, 0);
  r.AddField("training_basis", "training basis", train_basis);
  r.AddField("serving_usd", "serving over the period, baseline ($)", serve_total, 0);
  r.AddField("training_share_pct", "training share of the total (%)", 100 * train_usd / (train_usd + serve_total), 1);
  report::Table& mt = r.AddTable("months", "Month by month (baseline serving)",
                                 {{"month", "month"}, {"qps", "requests/s", 2}, {"gpus", "serving GPUs"},
                                  {"serving_usd", "serving $", 0}, {"cumulative_usd", "cumulative $ (training + serving)", 0}});
  double cum = train_usd;
  for (int64_t m = 0; m < *months; ++m) {
    cum += per[0].usd[static_cast<size_t>(m)];
    mt.rows.push_back({m + 1, qps_by_month[static_cast<size_t>(m)], per[0].gpus[static_cast<size_t>(m)],
                       per[0].usd[static_cast<size_t>(m)], cum});
  }
  report::Table& ot = r.AddTable("optimizations", "Serving optimizations: one-off cost and break-even",
                                 {{"option", "option"}, {"one_off_usd", "one-off $", 0}, {"month1_gpus", "GPUs (month 1)"},
                                  {"period_serving_usd", "serving $ over the period", 0}, {"net_saving_usd", "net saving $", 0},
                                  {"break_even_month", "break-even month"}, {"basis", "one-off basis / status"}});
  for (size_t i = 1; i < options.size(); ++i) {
    if (!per[i].error.empty()) {
      ot.rows.push_back({options[i].name, report::Value(), report::Value(), report::Value(), report::Value(), report::Value(),
                         per[i].error});
      continue;
    }
    double total = 0, saved = 0;
    report::Value be;
    for (size_t m = 0; m < per[i].usd.size(); ++m) {
      total += per[i].usd[m];
      saved += per[0].usd[m] - per[i].usd[m];
      if (std::holds_alternative<std::monostate>(be) && saved >= options[i].one_off_usd && saved > 0) {
        be = static_cast<int64_t>(m + 1);
      }
    }
    if (std::holds_alternative<std::monostate>(be)) be = std::string("not within the period");
    ot.rows.push_back({options[i].name, options[i].one_off_usd, per[i].gpus.front(), total,
                       saved - options[i].one_off_usd, be, options[i].one_off_basis});
  }
  r.notes.push_back(fmt::format("serving GPUs are whole replicas sized for each month's average load at ${:.3f}/GPU-hour, {} h per month",
                                price, kHoursPerMonth));
  r.notes.push_back("break-even month: first month whose cumulative serving saving covers the one-off cost");
  for (const std::string& s : cc->notes) r.notes.push_back(s);
  return Emit(r, g);
}

}  // namespace

void RegisterTco(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("tco", "Training vs serving cost over months, and when each serving optimization pays off");
  auto a = std::make_shared<TcoArgs>();
  AddServeOptions(cmd, &a->serve, true);
  AddCostOptions(cmd, &a->cost);
  cmd->add_option("--months", a->months, "Months of serving")->capture_default_str();
  cmd->add_option("--growth-pct", a->growth, "Traffic growth per month, %")->capture_default_str();
  cmd->add_option("--train-tokens", a->train_tokens, "Tokens the model is trained on (training estimator)");
  cmd->add_option("--train-gpu", a->train_gpu, "Training GPU (default: the serving GPU)");
  cmd->add_option("--train-gpus", a->train_gpus, "Training GPUs")->capture_default_str();
  cmd->add_option("--train-price-usd-per-gpu-hour", a->train_price, "Training price (default: cheapest shipped offer)");
  cmd->add_option("--train-usd", a->train_usd, "Known training cost in USD (instead of --train-tokens)");
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a] { *exit_code = RunTco(g, *a); });
}

}  // namespace dlcost::cli
