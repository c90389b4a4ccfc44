// The validator's error per source, per regime and per metric family, with the
// leave-one-source-out figures beside the in-sample ones (docs/training.md, "Validation").
#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "dlcost/validate.h"

namespace dlcost {
namespace {

// Absolute and signed errors (in %) of the cases of one group.
struct Errors {
  std::vector<double> ape, signed_pct;
  void Add(double rel) {
    ape.push_back(100 * std::fabs(rel));
    signed_pct.push_back(100 * rel);
  }
};

double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

ErrorGroup Group(std::string key, std::string family, const Errors& e) {
  ErrorGroup g;
  g.key = std::move(key);
  g.family = std::move(family);
  g.n = static_cast<int>(e.ape.size());
  g.mape_pct = Mean(e.ape);
  g.median_ape_pct = Quantile(e.ape, 0.5);
  g.bias_pct = Mean(e.signed_pct);
  return g;
}

}  // namespace

void AddErrorGroups(ValidationReport* report, const std::vector<std::string>& fit_sources) {
  ValidationReport& rep = *report;
  rep.fit_sources = fit_sources;
  std::map<std::pair<std::string, std::string>, Errors> by_source;
  std::map<std::string, Errors> by_regime, all, loso;
  std::map<std::pair<std::string, std::string>, Errors> by_method;
  for (const ValidationCase& c : rep.cases) {
    if (c.status != "ok" || !c.rel_error || c.regime.family.empty()) continue;
    const std::string& fam = c.regime.family;
    by_source[{fam, c.source}].Add(*c.rel_error);
    std::vector<std::string> keys = c.regime.Keys();
    if (!keys.empty()) by_regime[keys.back()].Add(*c.rel_error);
    all[fam].Add(*c.rel_error);
    bool fitted = std::find(fit_sources.begin(), fit_sources.end(), c.source) != fit_sources.end();
    if (!fitted) loso[fam].Add(*c.rel_error);
    if (!fitted && !c.method.empty()) by_method[{fam, c.method}].Add(*c.rel_error);
  }
  rep.by_method.clear();
  for (const auto& [key, e] : by_method) rep.by_method.push_back(Group(key.second, key.first, e));
  rep.by_source.clear();
  for (const auto& [key, e] : by_source) {
    ErrorGroup g = Group(key.second, key.first, e);
    g.fit_source = std::find(fit_sources.begin(), fit_sources.end(), key.second) != fit_sources.end();
    rep.by_source.push_back(std::move(g));
  }
  rep.by_regime.clear();
  for (const auto& [key, e] : by_regime) rep.by_regime.push_back(Group(key, key.substr(0, key.find('/')), e));
  rep.families.clear();
  for (const auto& [fam, e] : all) {
    FamilyError f;
    f.family = fam;
    f.n = static_cast<int>(e.ape.size());
    f.mape_pct = Mean(e.ape);
    f.median_ape_pct = Quantile(e.ape, 0.5);
    auto it = loso.find(fam);
    if (it != loso.end()) {
      f.loso_n = static_cast<int>(it->second.ape.size());
      f.loso_mape_pct = Mean(it->second.ape);
      f.loso_median_ape_pct = Quantile(it->second.ape, 0.5);
    }
    rep.families.push_back(f);
  }
}

}  // namespace dlcost
