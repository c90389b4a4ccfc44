// The validator's error bands: leave-one-source-out quantiles of log residuals by regime
// (docs/training.md, "Error bands").
#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "dlcost/strings.h"
#include "dlcost/validate.h"

namespace dlcost {
namespace {

// A predicted case with a regime, as the band computation sees it.
struct Residual {
  size_t index;  // into report.cases
  const std::string* source;
  std::vector<std::string> keys;  // coarse to fine
  double r;
};

std::vector<Residual> Residuals(const ValidationReport& rep) {
  std::vector<Residual> out;
  for (size_t i = 0; i < rep.cases.size(); ++i) {
    const ValidationCase& c = rep.cases[i];
    if (c.status != "ok" || !c.predicted || c.regime.family.empty() || !(*c.predicted > 0)) continue;
    out.push_back({i, &c.source, c.regime.Keys(), BandResidual(c)});
  }
  return out;
}

bool HasKey(const Residual& x, const std::string& key) {
  return std::find(x.keys.begin(), x.keys.end(), key) != x.keys.end();
}

// The residuals pooled for `self`: at its finest key with at least `min` of them, from other
// sources only when `loso`. Empty when not even the family has enough.
std::vector<double> Pool(const std::vector<Residual>& all, const Residual& self, bool loso, int min,
                         std::string* key_used) {
  for (size_t k = self.keys.size(); k-- > 0;) {
    std::vector<double> pool;
    for (const Residual& x : all) {
      if (loso && *x.source == *self.source) continue;
      if (HasKey(x, self.keys[k])) pool.push_back(x.r);
    }
    if (static_cast<int>(pool.size()) >= min) {
      *key_used = self.keys[k];
      return pool;
    }
  }
  return {};
}

double Median(std::vector<double> v) { return Quantile(std::move(v), 0.5); }

struct Tally {
  int banded = 0;
  int inside = 0;
  std::vector<double> halfwidth_pct;
  void Add(const ValidationCase& c, const Band& b) {
    ++banded;
    inside += c.measured >= b.low && c.measured <= b.high;
    halfwidth_pct.push_back(100 * (b.high - b.low) / 2 / *c.predicted);
  }
  std::optional<double> Coverage() const {
    return banded ? std::optional<double>(100.0 * inside / banded) : std::nullopt;
  }
  std::optional<double> Halfwidth() const {
    return banded ? std::optional<double>(Median(halfwidth_pct)) : std::nullopt;
  }
};

BandQuantiles QuantilesOf(const std::vector<double>& pool) {
  BandQuantiles q;
  q.q10 = Quantile(pool, 0.1);
  q.q90 = Quantile(pool, 0.9);
  q.n = static_cast<int64_t>(pool.size());
  return q;
}

}  // namespace

std::string NormalizeSource(std::string_view source) {
  std::string s(TrimView(source.substr(0, source.find(';'))));
  std::smatch m;
  static const std::regex repo(R"(^([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)(@[0-9A-Za-z]+)?:)");
  if (std::regex_search(s, m, repo)) return ToLower(m[1].str());
  size_t etal = s.find(" et al");
  if (etal == std::string::npos) {
    // One publication's tables, sections, figures and revisions are one source: the text before
    // the first part that names one ("Blog 'Title' (2025), 'Throughput' table" -> "blog 'title' (2025)").
    std::string l = ToLower(s);
    size_t cut = l.size();
    for (const char* part : {", '", ", \"", ", table", ", section", ", figure", ", fig.", ", revision", " (linked"}) {
      size_t at = l.find(part);
      if (at != std::string::npos && at > 0) cut = std::min(cut, at);
    }
    return std::string(TrimView(l.substr(0, cut)));
  }
  static const std::regex year(R"(\b(19|20)[0-9]{2}\b)");
  static const std::regex venue_year(R"('([0-9]{2})\b)");
  std::string y;
  if (std::regex_search(s, m, year)) y = m[0].str();
  else if (std::regex_search(s, m, venue_year)) y = "20" + m[1].str();
  return ToLower(fmt::format("{} et al. {}", s.substr(0, etal), y));
}

double Quantile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  double h = (values.size() - 1) * std::clamp(p, 0.0, 1.0);
  size_t lo = static_cast<size_t>(std::floor(h));
  size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (h - lo) * (values[hi] - values[lo]);
}

double BandResidual(const ValidationCase& c) {
  double r = std::log(*c.predicted / c.measured);
  return IsRateMetric(c.metric) ? -r : r;
}

void AddErrorBands(ValidationReport* report, int min_residuals) {
  ValidationReport& rep = *report;
  std::vector<Residual> all = Residuals(rep);
  std::map<std::string, Tally> by_metric, loso_family, in_family;
  std::map<std::string, int> family_predicted;
  for (const Residual& self : all) {
    ValidationCase& c = rep.cases[self.index];
    bool rate = IsRateMetric(c.metric);
    ++family_predicted[c.regime.family];
    std::string key;
    std::vector<double> pool = Pool(all, self, true, min_residuals, &key);
    if (!pool.empty()) {
      Band b = ApplyBand(*c.predicted, QuantilesOf(pool), rate);
      c.predicted_low = b.low;
      c.predicted_high = b.high;
      c.band_key = key;
      by_metric[c.metric].Add(c, b);
      loso_family[c.regime.family].Add(c, b);
    }
    std::vector<double> own = Pool(all, self, false, min_residuals, &key);
    if (!own.empty()) in_family[c.regime.family].Add(c, ApplyBand(*c.predicted, QuantilesOf(own), rate));
  }
  for (MetricSummary& m : rep.summary) {
    auto it = by_metric.find(m.metric);
    if (it == by_metric.end()) continue;
    m.banded = it->second.banded;
    m.band_coverage_pct = it->second.Coverage();
    m.band_median_halfwidth_pct = it->second.Halfwidth();
  }
  rep.band_families.clear();
  for (const char* f : {kTimeFamily, kMemoryFamily, kWholeRunFamily, kServingRateFamily, kServingLatencyFamily}) {
    if (!family_predicted.count(f)) continue;
    BandFamilySummary s;
    s.family = f;
    s.predicted = family_predicted[f];
    s.banded_loso = loso_family[f].banded;
    s.loso_coverage_pct = loso_family[f].Coverage();
    s.loso_median_halfwidth_pct = loso_family[f].Halfwidth();
    s.banded_in_sample = in_family[f].banded;
    s.in_sample_coverage_pct = in_family[f].Coverage();
    s.in_sample_median_halfwidth_pct = in_family[f].Halfwidth();
    rep.band_families.push_back(s);
  }
}

ErrorBandTable BandTableFromReport(const ValidationReport& report, const std::string& source, int min_residuals) {
  ErrorBandTable t;
  t.source = source;
  t.min_residuals = min_residuals;
  t.method = fmt::format(
      "10th and 90th percentiles (linear interpolation, type 7) of r = ln(predicted/measured), negated for rates "
      "(TFLOP/s, MFU, HFU, tokens/s), of every predicted case per regime key with at least {} residuals "
      "(docs/training.md, 'Error bands')",
      min_residuals);
  std::vector<Residual> all = Residuals(report);
  std::map<std::string, std::vector<double>> pools;
  std::map<std::string, std::set<std::string>> sources;
  for (const Residual& x : all) {
    for (const std::string& k : x.keys) {
      pools[k].push_back(x.r);
      sources[k].insert(*x.source);
    }
  }
  for (const auto& [key, pool] : pools) {
    if (static_cast<int>(pool.size()) < min_residuals) continue;
    BandQuantiles q = QuantilesOf(pool);
    q.sources = static_cast<int64_t>(sources[key].size());
    t.regimes[key] = q;
  }
  for (const BandFamilySummary& fam : report.band_families) {
    if (fam.loso_coverage_pct) t.loso_coverage_pct[fam.family] = *fam.loso_coverage_pct;
  }
  return t;
}

}  // namespace dlcost
