#include "api/bands.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "dlcost/api_bands.h"
#include "dlcost/units.h"

namespace dlcost::api {

std::optional<BandMatch> BandLookup(const ErrorBandTable& table, const BandRegime& regime, const char* what,
                                    std::string* note) {
  std::string full = regime.Keys().back();
  std::optional<BandMatch> m = table.Find(regime);
  if (!m) {
    *note = fmt::format("no 80% band for {}: the band table has no '{}' entry", what, regime.family);
  } else if (m->finest) {
    *note = fmt::format("80% band of {}: residuals of published cases of regime {} (n={}, {} sources; "
                        "docs/training.md, 'Error bands')", what, full, m->q.n, m->q.sources);
  } else {
    *note = fmt::format("80% band of {}: regime {} has no band in the table (fewer than {} published residuals); "
                        "the band of {} (n={}, {} sources) is used (docs/training.md, 'Error bands')",
                        what, full, table.min_residuals, m->key, m->q.n, m->q.sources);
  }
  // How far the band can be trusted: what the validator saw on sources the band had not seen.
  if (m) {
    auto cov = table.loso_coverage_pct.find(regime.family);
    *note += cov == table.loso_coverage_pct.end()
                 ? fmt::format("; not checked on unseen sources (no case had {} residuals from other sources)", table.min_residuals)
                 : fmt::format("; built without each case's own source, such bands held {:.0f}% of the published {} "
                               "cases (80% intended)", cov->second, regime.family);
  }
  return m;
}

EstimateBands BandsFor(const ErrorBandTable* table, const Accelerator& gpu, const Layout& layout, Dtype precision,
                       const TrainingEstimate& e, const RunCost& cost) {
  EstimateBands out;
  if (!table) {
    out.time_note = "no 80% error bands: the data folder has no bands/training.json";
    out.run_note = out.time_note;
    return out;
  }
  BandRegime regime{kTimeFamily, GpuGeneration(gpu),
                    ParallelismFamily(layout.tp, layout.pp, layout.cp, layout.ep, layout.zero), PrecisionClass(precision)};
  if (std::optional<BandMatch> m = BandLookup(*table, regime, "step time and throughput", &out.time_note)) {
    out.time_key = m->key;
    out.step_s = ApplyBand(e.time_step_s, m->q, false);
    out.tokens_per_s = ApplyBand(e.tokens_per_s, m->q, true);
  }
  regime.family = kWholeRunFamily;
  if (std::optional<BandMatch> m = BandLookup(*table, regime, "GPU-hours, wall time and cost", &out.run_note)) {
    out.run_key = m->key;
    out.gpu_hours = ApplyBand(cost.gpu_hours, m->q, false);
    out.wall_days = ApplyBand(cost.wall_s / kSecondsPerDay, m->q, false);
    if (cost.usd) out.usd = ApplyBand(*cost.usd, m->q, false);
  }
  return out;
}

namespace {

// Three significant digits, trailing zeros kept ("20.0", not "20"), whole numbers from 100 up.
std::string BandNumber(double x) {
  double a = std::fabs(x);
  if (a >= 100) return fmt::format("{:.0f}", x);
  if (a >= 1e-3) return fmt::format("{:#.3g}", x);
  return fmt::format("{:.3g}", x);
}

}  // namespace

std::string BandText(const Band& b) { return BandNumber(b.low) + "-" + BandNumber(b.high); }

void AddBandFields(report::Report& r, const std::string& key, const std::optional<Band>& b) {
  if (!b) return;
  r.AddField(key + "_low", key + " 80% band low", b->low, -1, report::Shown::kMachine);
  r.AddField(key + "_high", key + " 80% band high", b->high, -1, report::Shown::kMachine);
  r.AddField(key + "_band", "  80% band", BandText(*b), -1, report::Shown::kHuman);
}

std::vector<EstimateBands> PlanBands(const ErrorBandTable* table, const std::vector<GpuCandidate>& candidates,
                                     const std::vector<Plan>& plans) {
  std::vector<EstimateBands> out;
  for (const Plan& p : plans) {
    const Accelerator* gpu = nullptr;
    for (const GpuCandidate& c : candidates) {
      if (c.system.gpu.id == p.gpu) gpu = &c.system.gpu;
    }
    Accelerator unknown;
    unknown.id = p.gpu;
    out.push_back(BandsFor(table, gpu ? *gpu : unknown, p.estimate.layout, p.precision, p.estimate, p.cost));
  }
  return out;
}

std::vector<std::string> RunBandNotes(const std::vector<EstimateBands>& bands) {
  std::vector<std::string> notes;
  for (const EstimateBands& b : bands) {
    if (std::find(notes.begin(), notes.end(), b.run_note) == notes.end()) notes.push_back(b.run_note);
  }
  return notes;
}

}  // namespace dlcost::api
