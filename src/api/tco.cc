#include <cmath>

#include <fmt/format.h>

#include "dlcost/api_serve.h"
#include "dlcost/plan.h"
#include "dlcost/units.h"

namespace dlcost::api {
namespace {

// EAGLE draft heads train "within 1-2 days" on 8 RTX 3090 GPUs (SafeAILab/EAGLE README):
// 2 days x 8 GPUs, priced at the serving GPU's rate (an upper bound).
constexpr double kEagleTrainGpuHours = 2 * 24 * 8;
// Post-training quantization calibration: a stated dlcost assumption of one GPU-hour.
constexpr double kPtqGpuHours = 1.0;

// The price of training the served model: --train-usd as given, or the training estimator on
// --train-gpus x --train-gpu for --train-tokens.
Status PriceTraining(const Session& session, const TcoRequest& a, const ServeContext& c, TcoResult& out) {
  if (!a.train_usd.empty()) {
    DLCOST_ASSIGN_OR_RETURN(out.training_usd, ParseCount(a.train_usd, "--train-usd"));
    out.training_basis = "as given";
    return Status::Ok();
  }
  if (a.train_tokens.empty()) return UsageError("--train-tokens or --train-usd is required");
  DLCOST_ASSIGN_OR_RETURN(Accelerator tg, session.ResolveGpu(a.train_gpu.empty() ? c.gpu.id : a.train_gpu));
  DLCOST_ASSIGN_OR_RETURN(int64_t n, ParsePositiveInt(a.train_gpus, "--train-gpus"));
  if (n > 1000000) return InvalidInput("--train-gpus: at most 1,000,000");
  DLCOST_ASSIGN_OR_RETURN(double tokens, ParseCount(a.train_tokens, "--train-tokens"));
  if (tokens <= 0) return InvalidInput("--train-tokens: must be positive");
  DLCOST_ASSIGN_OR_RETURN(SystemSpec sys, session.ResolveSystem(tg, {}));
  DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile eff, session.Efficiency(a.serve.calibration, tg.id));
  TrainingSetup ts;
  ts.num_gpus = n;
  ts.seq_len = DefaultSeqLen(c.model.max_seq, false);
  ts.overhead_bytes = -1;
  DLCOST_ASSIGN_OR_RETURN(TrainingEstimate te, EstimateWithChosenLayout(c.model, sys, ts, eff));
  if (!te.fits) return Infeasible(fmt::format("training {} does not fit on {} x {}; raise --train-gpus", c.model.id, n, tg.id));
  RunInputs run;
  run.tokens = tokens;
  if (!a.train_price.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double p, ParseCount(a.train_price, "--train-price-usd-per-gpu-hour"));
    run.usd_per_gpu_hour = p;
  } else {
    DLCOST_ASSIGN_OR_RETURN(const PriceTable* prices, session.Prices());
    std::vector<Offer> offers = prices->ForGpu(tg.id);
    if (offers.empty()) {
      return InvalidInput(fmt::format("--train-price-usd-per-gpu-hour: no shipped offer for {}; give a price", tg.id));
    }
    run.usd_per_gpu_hour = offers.front().OnDemandUsdPerGpuHour();
  }
  DLCOST_ASSIGN_OR_RETURN(RunCost rc, ComputeRunCost(te, n, tg.tdp_w, run));
  out.training_usd = *rc.usd;
  out.training_gpu_hours = rc.gpu_hours;
  out.training_basis = fmt::format("{} tokens on {} x {} at ${:.3f}/GPU-hour: {:.0f} GPU-hours, {:.1f} days", HumanCount(tokens),
                                   n, tg.id, *run.usd_per_gpu_hour, rc.gpu_hours, rc.wall_s / kSecondsPerDay);
  return Status::Ok();
}

// The baseline and the serving optimizations tco weighs, each with its one-off cost.
std::vector<TcoOption> TcoOptions(const ServingSetup& base, double price, double training_usd) {
  auto fmt_of = [](const char* n) { return *ParseNumberFormat(n, "tco"); };
  std::vector<TcoOption> options;
  options.push_back({"baseline", base, 0, "", {}, {}, ""});
  TcoOption o{"fp8 weights and activations", base, kPtqGpuHours * price, "1 GPU-hour of post-training calibration (assumption)", {}, {}, ""};
  o.setup.weights = fmt_of("fp8");
  o.setup.activations = fmt_of("fp8");
  options.push_back(o);
  TcoOption q{"int4 weight-only", base, kPtqGpuHours * price, "1 GPU-hour of post-training calibration (assumption)", {}, {}, ""};
  q.setup.weights = fmt_of("int4");
  q.setup.activations.reset();
  options.push_back(q);
  TcoOption k{"fp8 KV cache", base, 0, "none (per-tensor scales)", {}, {}, ""};
  k.setup.kv_cache = fmt_of("fp8");
  options.push_back(k);
  TcoOption s{"2:4 sparsity", base, training_usd,
              "retraining to recover accuracy, as long as the original training (Mishra et al. 2021 recipe)", {}, {}, ""};
  s.setup.sparsity_2_4 = true;
  options.push_back(s);
  TcoOption e{"speculative decoding (EAGLE head)", base, kEagleTrainGpuHours * price,
              "EAGLE head training, 2 days on 8 GPUs (SafeAILab/EAGLE README), at this GPU's price", {}, {}, ""};
  e.setup.spec = base.spec.value_or(SpecDecode{"eagle", 5, 0.8});
  options.push_back(e);
  return options;
}

}  // namespace

Result<TcoResult> Tco(const Session& session, const TcoRequest& a) {
  if (a.serve.qps.empty()) return UsageError("--qps (average requests per second in the first month) is required");
  DLCOST_ASSIGN_OR_RETURN(ServeContext c, ResolveServe(session, a.serve));
  TcoResult out;
  out.model = c.model;
  out.gpu = c.gpu;
  DLCOST_ASSIGN_OR_RETURN(out.cost, session.ResolveCost(c.gpu, a.cost,
                                                        static_cast<int>(std::min<int64_t>(c.setup.tp * c.setup.pp * c.setup.ep, 4096))));
  if (!out.cost.usd_per_gpu_hour) return InvalidInput("--price-usd-per-gpu-hour: no shipped offer for this GPU; give a price");
  out.usd_per_gpu_hour = *out.cost.usd_per_gpu_hour;
  DLCOST_ASSIGN_OR_RETURN(out.months, ParsePositiveInt(a.months, "--months"));
  if (out.months > 120) return InvalidInput("--months: at most 120");
  DLCOST_ASSIGN_OR_RETURN(out.growth_pct, ParseCount(a.growth_pct, "--growth-pct"));
  if (out.growth_pct > 100) return InvalidInput("--growth-pct: at most 100% per month");
  DLCOST_RETURN_IF_ERROR(PriceTraining(session, a, c, out));

  // Serving: GPUs needed each month for that month's load, for the baseline and each option.
  out.qps_first_month = *c.setup.qps;
  out.options = TcoOptions(c.setup, out.usd_per_gpu_hour, out.training_usd);
  for (int64_t m = 0; m < out.months; ++m) {
    double qps = *c.setup.qps * std::pow(1 + out.growth_pct / 100.0, static_cast<double>(m));
    out.qps_by_month.push_back(qps);
    for (size_t i = 0; i < out.options.size(); ++i) {
      TcoOption& o = out.options[i];
      if (!o.error.empty()) continue;
      ServingSetup s = o.setup;
      s.qps = qps;
      s.num_gpus = 0;
      Result<ServingEstimate> e = RunServing(c, s);
      if (!e.ok()) {
        if (i == 0) return e.status();
        o.error = e.status().message();
        o.usd.clear();
        o.gpus.clear();
        continue;
      }
      int64_t gpus = e->gpus_needed.value_or(e->num_gpus);
      o.gpus.push_back(gpus);
      o.usd.push_back(static_cast<double>(gpus) * out.usd_per_gpu_hour * kHoursPerMonth);
    }
  }
  return out;
}

namespace {

void AddOptionRows(const TcoResult& x, report::Table& ot) {
  const TcoOption& base = x.options.front();
  for (size_t i = 1; i < x.options.size(); ++i) {
    const TcoOption& o = x.options[i];
    if (!o.error.empty()) {
      ot.rows.push_back({o.name, report::Value(), report::Value(), report::Value(), report::Value(), report::Value(), o.error});
      continue;
    }
    double total = 0, saved = 0;
    report::Value be;
    for (size_t m = 0; m < o.usd.size(); ++m) {
      total += o.usd[m];
      saved += base.usd[m] - o.usd[m];
      if (std::holds_alternative<std::monostate>(be) && saved >= o.one_off_usd && saved > 0) {
        be = static_cast<int64_t>(m + 1);
      }
    }
    if (std::holds_alternative<std::monostate>(be)) be = std::string("not within the period");
    ot.rows.push_back({o.name, o.one_off_usd, o.gpus.front(), total, saved - o.one_off_usd, be, o.one_off_basis});
  }
}

// Cumulative cost by month, training included, for the baseline and each optimization that
// applies (its one-off cost in month 0); break-even months marked.
void AddTcoChart(const TcoResult& x, const report::Table& options, report::Report& r) {
  report::Chart& c = r.AddChart("tco", "Cumulative cost: training, then serving month by month", report::ChartKind::kLines);
  c.x_label = "month";
  c.y_label = "cumulative cost (USD)";
  for (size_t i = 0; i < x.options.size(); ++i) {
    const TcoOption& o = x.options[i];
    if (!o.error.empty()) continue;
    report::ChartSeries s{i == 0 ? "baseline" : o.name, {0}, {x.training_usd + (i == 0 ? 0 : o.one_off_usd)}, {}, {}, {}, {}};
    for (size_t m = 0; m < o.usd.size(); ++m) {
      s.x.push_back(static_cast<double>(m + 1));
      s.y.push_back(s.y.back() + o.usd[m]);
    }
    c.series.push_back(std::move(s));
  }
  for (const std::vector<report::Value>& row : options.rows) {
    if (row.size() > 5 && std::holds_alternative<int64_t>(row[5]) && std::holds_alternative<std::string>(row[0])) {
      c.x_markers.push_back({static_cast<double>(std::get<int64_t>(row[5])), std::get<std::string>(row[0]) + " breaks even"});
    }
  }
}

}  // namespace

report::Report TcoReport(const TcoResult& x) {
  const TcoOption& base = x.options.front();
  report::Report r;
  r.title = fmt::format("Total cost of ownership of {} over {} months", x.model.id, x.months);
  double serve_total = 0;
  for (double v : base.usd) serve_total += v;
  r.AddField("model", "model", x.model.id);
  r.AddField("serving_gpu", "serving GPU", x.gpu.id);
  r.AddField("qps_first_month", "requests/s (first month)", x.qps_first_month, 3);
  r.AddField("growth_pct_per_month", "traffic growth per month (%)", x.growth_pct, 1);
  r.AddField("training_usd", "training ($)", x.training_usd, 0);
  r.AddField("training_basis", "training basis", x.training_basis);
  r.AddField("serving_usd", "serving over the period, baseline ($)", serve_total, 0);
  r.AddField("training_share_pct", "training share of the total (%)", 100 * x.training_usd / (x.training_usd + serve_total), 1);
  // The whole period's figures, as the cost ledger keeps them (tco --record).
  r.AddField("usd", "total over the period, baseline ($)", x.training_usd + serve_total, 0);
  double serve_gpu_hours = 0;
  for (int64_t g : base.gpus) serve_gpu_hours += static_cast<double>(g) * kHoursPerMonth;
  r.AddField("serving_gpu_hours", "serving GPU-hours over the period, baseline", serve_gpu_hours, 0);
  if (x.training_gpu_hours) {
    r.AddField("gpu_hours", "GPU-hours over the period (training + serving)", *x.training_gpu_hours + serve_gpu_hours, 0);
  }
  report::Table& mt = r.AddTable("months", "Month by month (baseline serving)",
                                 {{"month", "month"}, {"qps", "requests/s", 2}, {"gpus", "serving GPUs"},
                                  {"serving_usd", "serving $", 0}, {"cumulative_usd", "cumulative $ (training + serving)", 0}});
  double cum = x.training_usd;
  for (int64_t m = 0; m < x.months; ++m) {
    size_t i = static_cast<size_t>(m);
    cum += base.usd[i];
    mt.rows.push_back({m + 1, x.qps_by_month[i], base.gpus[i], base.usd[i], cum});
  }
  report::Table& ot = r.AddTable("optimizations", "Serving optimizations: one-off cost and break-even",
                                 {{"option", "option"}, {"one_off_usd", "one-off $", 0}, {"month1_gpus", "GPUs (month 1)"},
                                  {"period_serving_usd", "serving $ over the period", 0}, {"net_saving_usd", "net saving $", 0},
                                  {"break_even_month", "break-even month"}, {"basis", "one-off basis / status"}});
  AddOptionRows(x, ot);
  AddTcoChart(x, ot, r);
  r.notes.push_back(fmt::format("serving GPUs are whole replicas sized for each month's average load at ${:.3f}/GPU-hour, {} h per month",
                                x.usd_per_gpu_hour, kHoursPerMonth));
  r.notes.push_back("break-even month: first month whose cumulative serving saving covers the one-off cost");
  for (const std::string& s : x.cost.notes) r.notes.push_back(s);
  return r;
}

}  // namespace dlcost::api
