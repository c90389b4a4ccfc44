// `measure sweep` as a library call (api_measure.h).
#include <algorithm>

#include <fmt/format.h>

#include "api/measure_context.h"

namespace dlcost::api {
namespace {

using measure_detail::MeasureContext;

// A case is settled once its two fastest rounds agree within this much (percent).
constexpr double kSettledPct = 5;

// Predictions first: a case that does not fit stops the sweep before anything runs.
Status PredictCases(const MeasureContext& c, measure::SweepMeasurement& m) {
  for (measure::SweepCaseResult& k : m.cases) {
    measure::TrainConfig tc{k.config.batch, k.config.seq, k.config.dtype, c.runner.fused_attention};
    DLCOST_ASSIGN_OR_RETURN(k.predicted, measure::PredictTrain(k.config.model, tc, c.model()));
    DLCOST_RETURN_IF_ERROR(measure::CheckFits(k.predicted, c.AvailableBytes(), "measure sweep " + k.config.name));
    DLCOST_ASSIGN_OR_RETURN(k.predicted_uncalibrated, measure::PredictTrain(k.config.model, tc, *c.plain));
  }
  return Status::Ok();
}

bool Settled(const std::vector<measure::SweepRound>& rounds) {
  if (rounds.size() < 2) return false;
  std::vector<double> m;
  for (const measure::SweepRound& r : rounds) m.push_back(r.median_s);
  std::sort(m.begin(), m.end());
  return (m[1] - m[0]) / m[0] * 100 <= kSettledPct;
}

// Rounds over the grid, so that a case's rounds are a minute or more apart; per case the round
// with the lowest median counts (other processes, and other tenants of a virtual machine's
// cores, can only slow a step down). Later rounds run the unsettled cases only.
Status RunRounds(const MeasureContext& c, measure::SweepMeasurement& m) {
  std::unique_ptr<measure::EnergyMeter> meter = measure_detail::OpenMeter(c);
  for (int round = 0; round < m.rounds; ++round) {
    for (size_t i = 0; i < m.cases.size(); ++i) {
      measure::SweepCaseResult& k = m.cases[i];
      if (Settled(k.rounds)) continue;
      c.Progress(fmt::format("sweep round {}/{}, case {}/{}: {}", round + 1, m.rounds, i + 1, m.cases.size(),
                             k.config.name));
      measure::TrainRun run{k.config.model, k.config.batch, k.config.seq, k.config.dtype, m.warmup, m.steps};
      DLCOST_ASSIGN_OR_RETURN(measure::StepSamples s, c.env.runner->TrainSteps(run, meter.get()));
      k.rounds.push_back({s.step_s, measure::Summarize(s.step_s).median_s, s.other_cpu_pct, s.peak_memory_bytes});
      if (k.rounds.size() == 1 || measure::Median(s.step_s) < measure::Median(k.best.step_s)) k.best = s;
    }
  }
  return Status::Ok();
}

// Errors against each case's fastest round, and their summaries.
void Summarize(measure::SweepMeasurement& m) {
  std::vector<double> errs, errs_plain;
  for (measure::SweepCaseResult& k : m.cases) {
    k.stats = measure::Summarize(k.best.step_s);
    k.rel_error = measure::RelativeError(k.predicted.time_step_s, k.stats.median_s);
    k.rel_error_uncalibrated = measure::RelativeError(k.predicted_uncalibrated.time_step_s, k.stats.median_s);
    errs.push_back(k.rel_error);
    errs_plain.push_back(k.rel_error_uncalibrated);
    m.worst_other_cpu_pct = std::max(m.worst_other_cpu_pct, k.best.other_cpu_pct);
    m.unsettled += Settled(k.rounds) || m.rounds < 2 ? 0 : 1;
  }
  m.summary = measure::SummarizeErrors(errs);
  m.summary_uncalibrated = measure::SummarizeErrors(errs_plain);
}

}  // namespace

Result<MeasureSweepResult> MeasureSweep(const Session& session, const MeasureSweepRequest& req, const MeasureEnv& env,
                                        const std::function<Status()>& ready) {
  DLCOST_ASSIGN_OR_RETURN(MeasureContext c, measure_detail::PrepareMeasure(session, req.device, env));
  if (req.grid != "standard" && req.grid != "tiny") {
    return InvalidInput(fmt::format("--grid: unknown grid '{}' (standard, tiny)", req.grid));
  }
  using measure_detail::IntFlag;
  Result<int64_t> steps = IntFlag(req.steps, "--steps", 1, 100000, 5);
  Result<int64_t> warmup = IntFlag(req.warmup, "--warmup", 0, 100000, 2);
  Result<int64_t> rounds = IntFlag(req.rounds, "--rounds", 1, 100, 5);
  for (const Status& st : {steps.status(), warmup.status(), rounds.status()}) DLCOST_RETURN_IF_ERROR(st);
  if (ready) DLCOST_RETURN_IF_ERROR(ready());
  DLCOST_RETURN_IF_ERROR(measure_detail::StartRunner(c));
  MeasureSweepResult r;
  measure::SweepMeasurement& m = r.m;
  m.grid = req.grid;
  m.steps = static_cast<int>(*steps);
  m.warmup = static_cast<int>(*warmup);
  m.rounds = static_cast<int>(*rounds);
  m.device_name = c.runner.device_name;
  m.calibrated = c.calibrated.has_value();
  m.profile = c.calibrated ? c.calibrated->profile_path : "uncalibrated";
  for (const measure::SweepCase& k : measure::SweepGrid(c.device, c.dtype, req.grid == "tiny")) {
    m.cases.push_back({});
    m.cases.back().config = k;
  }
  DLCOST_RETURN_IF_ERROR(PredictCases(c, m));
  DLCOST_RETURN_IF_ERROR(RunRounds(c, m));
  Summarize(m);
  r.run = measure_detail::RunInfo(c);
  DLCOST_ASSIGN_OR_RETURN(r.run.record_folder, measure_detail::Record(c, "sweep", measure::SweepRecordJson(m)));
  return r;
}

std::string MeasureSweepJson(const MeasureSweepResult& r) { return measure::SweepJson(r.m).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"; }

report::Report MeasureSweepReport(const MeasureSweepResult& res) {
  const measure::SweepMeasurement& m = res.m;
  report::Report r;
  r.title = fmt::format("Sweep on {}: measured vs predicted training steps", m.device_name);
  report::Table& t = r.AddTable("cases", "Cases",
                                {{"name", "case"}, {"regime", "regime"}, {"measured_s", "measured s", 4},
                                 {"spread_pct", "spread %", 1}, {"other_cpu_pct", "others' CPU %", 0},
                                 {"predicted_s", "predicted s", 4},
                                 {"rel_error_pct", "error %", 1}, {"predicted_uncalibrated_s", "uncalibrated s", 4},
                                 {"rel_error_uncalibrated_pct", "uncal. error %", 1}});
  for (const measure::SweepCaseResult& k : m.cases) {
    t.rows.push_back({k.config.name, k.config.regime, k.stats.median_s, k.stats.spread_pct, k.best.other_cpu_pct,
                      k.predicted.time_step_s, 100 * k.rel_error, k.predicted_uncalibrated.time_step_s,
                      100 * k.rel_error_uncalibrated});
  }
  r.AddField("n", "cases", static_cast<int64_t>(m.summary.n));
  r.AddField("mape_pct", m.calibrated ? "MAPE, calibrated (%)" : "MAPE (%)", m.summary.mape_pct, 1);
  r.AddField("max_ape_pct", "max APE (%)", m.summary.max_ape_pct, 1);
  if (m.calibrated) {
    r.AddField("mape_uncalibrated_pct", "MAPE, uncalibrated (%)", m.summary_uncalibrated.mape_pct, 1);
    r.AddField("max_ape_uncalibrated_pct", "max APE, uncalibrated (%)", m.summary_uncalibrated.max_ape_pct, 1);
  }
  for (const std::string& n : res.run.device_notes) r.notes.push_back(n);
  for (const std::string& n : measure_detail::RunNotes(res.run.runner)) r.notes.push_back(n);
  if (m.worst_other_cpu_pct > measure_detail::kDisturbedPct) {
    r.notes.push_back(measure_detail::DisturbedNote(m.worst_other_cpu_pct) + " (worst case)");
  }
  r.notes.push_back("rel_error = (predicted - measured) / measured; measured = the median of a case's timed steps in "
                    "its fastest round over the grid (rounds until the two fastest agree within 5%)");
  if (m.unsettled > 0) {
    r.notes.push_back(fmt::format("warning: {} case(s) did not settle in {} rounds: the machine's speed varied during "
                                  "the sweep",
                                  m.unsettled, m.rounds));
  }
  return r;
}

}  // namespace dlcost::api
