#include "dlcost/validate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>

#include <fmt/format.h>

#include "common/csv.h"
#include "validate/case_row.h"
#include "dlcost/strings.h"
#include "dlcost/carbon.h"
#include "dlcost/model.h"
#include "dlcost/plan.h"
#include "dlcost/training.h"
#include "dlcost/units.h"

namespace dlcost {
namespace {

const char* kMetrics[] = {"sec_per_iter", "tflops_per_gpu", "mfu_pct", "hfu_pct", "gpu_hours", "mem_gib_per_gpu",
                          "mwh", "days", "tokens_per_sec_per_gpu", "usd"};

// "$14/h per 8-GPU node" or "$2.5 per GPU-hour" in a note: USD per GPU-hour.
std::optional<double> PriceFromNote(const std::string& note) {
  std::smatch mt;
  static const std::regex per_node(R"(\$\s*([0-9]+(?:\.[0-9]+)?)\s*/\s*h(?:our)?\s+per\s+([0-9]+)\s*-?\s*GPU\s+node)",
                                   std::regex::icase);
  if (std::regex_search(note, mt, per_node)) return std::stod(mt[1]) / std::stod(mt[2]);
  static const std::regex per_gpu(R"(\$\s*([0-9]+(?:\.[0-9]+)?)\s*(?:/|per)\s*GPU[- ]?h(?:ou)?r)", std::regex::icase);
  if (std::regex_search(note, mt, per_gpu)) return std::stod(mt[1]);
  return std::nullopt;
}

// Energy convention stated in a note: "(400 W x PUE 1.1)".
void EnergyFromNote(const std::string& note, RunInputs* run) {
  std::smatch mt;
  static const std::regex watts(R"(([0-9]+(?:\.[0-9]+)?)\s*W\b)");
  static const std::regex pue(R"(PUE\s*([0-9]+(?:\.[0-9]+)?))", std::regex::icase);
  if (std::regex_search(note, mt, watts)) run->gpu_power_w = std::stod(mt[1]);
  if (std::regex_search(note, mt, pue)) run->pue = std::stod(mt[1]);
}

std::string ChosenText(const TrainingEstimate& e, const std::vector<std::string>& extra) {
  std::vector<std::string> all = extra;
  all.insert(all.end(), e.chosen.begin(), e.chosen.end());
  return fmt::format("{}", fmt::join(all, " "));
}

}  // namespace

Result<ValidationReport> ValidateTraining(const std::string& csv_path, const std::string& data_dir,
                                          const std::string& eff_path, const ValidationOptions& opts) {
  DLCOST_ASSIGN_OR_RETURN(HardwareCatalog hw, HardwareCatalog::Load(data_dir));
  DLCOST_ASSIGN_OR_RETURN(CarbonData carbon, CarbonData::Load(data_dir));
  std::vector<std::string> metrics(std::begin(kMetrics), std::end(kMetrics));
  Result<ValidationReport> rep = RunCases(csv_path, metrics, [&](const CaseRow& row, ValidationCase& vc) -> Status {
    Result<Accelerator> gpu = hw.Resolve(row.Get("gpu"));
    if (!gpu.ok()) {
      return Skip(vc, gpu.status().message());
    }
    Result<ModelSpec> model = ModelFromRow(row);
    if (!model.ok()) {
      return Skip(vc, model.status().message());
    }
    std::string note = row.Get("note");
    std::vector<std::string> extra;
    Result<std::optional<int64_t>> gpn = row.Int("gpus_per_node");
    Result<std::optional<double>> inter = row.Num("internode_gbps");
    if (!gpn.ok() || !inter.ok()) {
      return Skip(vc, "bad gpus_per_node or internode_gbps");
    }
    Result<SystemSpec> sys = MakeSystem(hw, *gpu, static_cast<int>(gpn->value_or(0)), inter->value_or(0));
    if (!sys.ok()) {
      return Skip(vc, sys.status().message());
    }
    Result<EfficiencyProfile> eff = LoadEfficiency(eff_path, gpu->id);
    if (!eff.ok()) return eff.status();
    TrainingSetup s;
    s.seq_len = model->max_seq;
    s.overhead_bytes = -1;
    s.flash_attention = opts.flash_attention;
    bool bad = false;
    auto set_int = [&](const char* col, std::optional<int64_t>* dst) {
      Result<std::optional<int64_t>> v = row.Int(col);
      if (!v.ok()) bad = true;
      else *dst = *v;
    };
    std::optional<int64_t> n;
    set_int("num_gpus", &n);
    set_int("tp", &s.tp);
    set_int("pp", &s.pp);
    set_int("dp", &s.dp);
    set_int("ep", &s.ep);
    set_int("cp", &s.cp);
    set_int("vpp", &s.vpp);
    set_int("micro_batch", &s.micro_batch);
    set_int("global_batch", &s.global_batch);
    if (bad) {
      return Skip(vc, "a layout field is not a positive integer");
    }
    std::string zero = row.Get("zero");
    if (!zero.empty()) {
      if (zero.size() != 1 || zero[0] < '0' || zero[0] > '3') {
        return Skip(vc, "zero must be 0-3");
      }
      s.zero = zero[0] - '0';
    }
    std::string sp = row.Get("seq_parallel");
    if (!sp.empty()) s.seq_parallel = sp == "1";
    std::string rc = row.Get("recompute");
    if (!rc.empty()) {
      Result<Recompute> x = ParseRecompute(rc);
      if (!x.ok()) {
        return Skip(vc, x.status().message());
      }
      s.recompute = *x;
    }
    std::string prec = row.Get("precision");
    if (!prec.empty()) {
      Result<Dtype> d = ParseDtype(prec, "precision");
      if (!d.ok()) {
        return Skip(vc, d.status().message());
      }
      s.precision = *d;
    }
    // A total memory figure is compared with everything dlcost counts, overhead included;
    // the model_states / activations parts exclude it.
    Result<TrainingEstimate> est = Status(StatusCode::kInternal, "not run");
    if (n) {
      s.num_gpus = *n;
      est = EstimateWithChosenLayout(*model, *sys, s, *eff);
    } else {
      // Unknown GPU count: the count (a multiple of the node) with the fewest GPU-hours.
      std::optional<TrainingEstimate> best;
      int64_t best_n = 0;
      for (int64_t cand = std::max(1, sys->gpus_per_node); cand <= 4096; cand *= 2) {
        s.num_gpus = cand;
        Result<TrainingEstimate> r2 = EstimateWithChosenLayout(*model, *sys, s, *eff);
        if (!r2.ok() || !r2->fits) continue;
        if (!best || r2->time_step_s * cand < best->time_step_s * best_n) {
          best = *r2;
          best_n = cand;
        }
      }
      if (best) {
        est = *best;
        s.num_gpus = best_n;
        extra.push_back(fmt::format("num_gpus={}", best_n));
      } else {
        est = Infeasible("no GPU count up to 4096 fits");
      }
    }
    if (!est.ok()) {
      return Skip(vc, est.status().message());
    }
    vc.chosen = ChosenText(*est, extra);
    const Layout& lay = est->layout;
    vc.regime = {MetricFamily(vc.metric), GpuGeneration(*gpu),
                 ParallelismFamily(lay.tp, lay.pp, lay.cp, lay.ep, lay.zero), PrecisionClass(s.precision)};
    if (!est->fits && vc.metric != "mem_gib_per_gpu") {
      return Skip(vc, fmt::format("configuration does not fit in memory ({:.1f} GiB needed)", est->memory_total_bytes / kGiB));
    }
    const TrainingEstimate& e = *est;
    if (opts.compare_planner && s.tp && s.pp && est->fits) {
      TrainingSetup free = s;
      free.tp.reset();
      free.pp.reset();
      free.dp.reset();
      free.vpp.reset();
      free.micro_batch.reset();
      free.zero.reset();
      free.recompute.reset();
      free.seq_parallel.reset();
      // The authors' own values join the searched sets, so their layout is one of the candidates.
      LayoutSpace also;
      also.tp = {e.layout.tp};
      also.pp = {e.layout.pp};
      also.vpp = {e.layout.vpp};
      also.micro_batch = {e.layout.micro_batch};
      also.zero = {e.layout.zero};
      also.recompute = {e.layout.recompute};
      Result<TrainingEvaluator> ev = TrainingEvaluator::Create(*model, *sys, free, *eff);
      Result<TrainingEstimate> best = ev.ok() ? FastestLayout(*ev, free, &also) : Result<TrainingEstimate>(ev.status());
      if (best.ok() && best->fits) {
        vc.authors_step_s = e.time_step_s;
        vc.planner_step_s = best->time_step_s;
        const Layout& B = best->layout;
        vc.planner_layout = fmt::format("tp={} pp={} dp={} vpp={} mb={} zero={} recompute={}", B.tp, B.pp, B.dp, B.vpp,
                                        B.micro_batch, B.zero, RecomputeName(B.recompute));
      }
    }
    double pred = 0;
    const std::string& mt = vc.metric;
    if (mt == "sec_per_iter") pred = e.time_step_s;
    else if (mt == "tflops_per_gpu") pred = note.find("flops=hardware") != std::string::npos ? e.tflops_per_gpu_hardware : e.tflops_per_gpu_model;
    else if (mt == "mfu_pct") pred = 100 * e.mfu;
    else if (mt == "hfu_pct") pred = 100 * e.hfu;
    else if (mt == "tokens_per_sec_per_gpu") pred = e.tokens_per_s / s.num_gpus;
    else if (mt == "mem_gib_per_gpu") {
      if (note.find("part=model_states") != std::string::npos) {
        pred = (e.memory_weights_bytes + e.memory_grads_bytes + e.memory_optimizer_bytes) / kGiB;
      } else if (note.find("part=activations") != std::string::npos) {
        pred = e.memory_activations_bytes / kGiB;
      } else {
        pred = e.memory_total_bytes / kGiB;
      }
    } else {
      Result<std::optional<double>> tokens = row.Num("tokens");
      if (!tokens.ok() || !*tokens) {
        return Skip(vc, "whole-run metric without tokens");
      }
      RunInputs run;
      run.tokens = **tokens;
      run.goodput = kDefaultGoodput;
      run.pue = 1.0;
      if (mt == "mwh") EnergyFromNote(note, &run);
      if (mt == "usd") {
        run.usd_per_gpu_hour = PriceFromNote(note);
        if (!run.usd_per_gpu_hour) {
          return Skip(vc, "usd case without a price dlcost can read in the note");
        }
      }
      Result<RunCost> cost = ComputeRunCost(e, s.num_gpus, gpu->tdp_w, run);
      if (!cost.ok()) {
        return Skip(vc, cost.status().message());
      }
      if (mt == "gpu_hours") pred = cost->gpu_hours;
      else if (mt == "days") pred = cost->wall_s / kSecondsPerDay;
      else if (mt == "mwh") pred = cost->energy_kwh / 1000.0;
      else if (mt == "usd") pred = *cost->usd;
    }
    vc.predicted = pred;
    return Status::Ok();
  });
  if (rep.ok()) AddErrorBands(&*rep);
  return rep;
}

void SummarizeValidation(ValidationReport* report) {
  ValidationReport& rep = *report;
  rep.summary.clear();
  std::map<std::string, MetricSummary> by;
  std::map<std::string, std::vector<double>> apes;
  for (const ValidationCase& c : rep.cases) {
    MetricSummary& m = by[c.metric];
    m.metric = c.metric;
    ++m.n;
    if (c.status != "ok") {
      ++m.skipped;
      continue;
    }
    ++m.predicted;
    double ape = 100 * std::fabs(*c.rel_error);
    apes[c.metric].push_back(ape);
    m.mape_pct += ape;
    m.bias_pct += 100 * *c.rel_error;
    if (ape >= m.max_ape_pct) {
      m.max_ape_pct = ape;
      m.max_case = c.case_id;
    }
  }
  for (auto& [name, m] : by) {
    if (m.predicted > 0) {
      m.mape_pct /= m.predicted;
      m.bias_pct /= m.predicted;
      std::vector<double>& v = apes[name];
      std::sort(v.begin(), v.end());
      size_t k = v.size();
      m.median_ape_pct = k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
    }
    rep.summary.push_back(m);
  }
}

}  // namespace dlcost
