// Decision policy: policy.json and the ok / warn / rollback verdict with its reasons.
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "dlcost/drift.h"
#include "common/json_util.h"

namespace dlcost::drift {
namespace {

using nlohmann::json;

Status CheckKeys(const json& j, const std::string& where, std::initializer_list<const char*> allowed,
                 const std::string& path) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const char* a : allowed) ok = ok || it.key() == a;
    if (!ok) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return InvalidInput(fmt::format("{}: unknown field '{}{}' (known: {})", path, where, it.key(), list));
    }
  }
  return Status::Ok();
}

Result<std::optional<double>> Number(const json& j, const char* key, const std::string& where, double lo, double hi,
                                     const std::string& path) {
  if (!j.contains(key)) return std::optional<double>();
  const json& v = j.at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < lo || v.get<double>() > hi) {
    return InvalidInput(fmt::format("{}: '{}{}' must be a number from {} to {}", path, where, key, lo, hi));
  }
  return std::optional<double>(v.get<double>());
}

Result<DecisionLimits> ReadLimits(const json& j, const std::string& where, const std::string& path) {
  DecisionLimits l;
  if (!j.is_object()) return InvalidInput(fmt::format("{}: '{}' must be an object", path, where));
  DLCOST_RETURN_IF_ERROR(CheckKeys(j, where + ".", {"drift_share", "accuracy_drop", "mae_increase_frac"}, path));
  DLCOST_ASSIGN_OR_RETURN(l.drift_share, Number(j, "drift_share", where + ".", 0, 1, path));
  DLCOST_ASSIGN_OR_RETURN(l.accuracy_drop, Number(j, "accuracy_drop", where + ".", -1, 1, path));
  DLCOST_ASSIGN_OR_RETURN(l.mae_increase_frac, Number(j, "mae_increase_frac", where + ".", -1, 1e12, path));
  return l;
}

Status ReadDriftDefaults(const json& j, Policy* p, const std::string& path) {
  if (!j.is_object()) return InvalidInput(fmt::format("{}: 'drift' must be an object", path));
  DLCOST_RETURN_IF_ERROR(CheckKeys(j, "drift.",
                                   {"method", "p_value", "distance", "psi", "psi_bins", "small_reference_rows",
                                    "dataset_drift_share", "bonferroni"},
                                   path));
  if (j.contains("method")) {
    if (!j["method"].is_string()) return InvalidInput(fmt::format("{}: 'drift.method' must be a string", path));
    Result<Method> m = ParseMethod(j["method"].get<std::string>());
    if (!m.ok()) return InvalidInput(fmt::format("{}: drift.method: {}", path, m.status().message()));
    p->method = *m;
  }
  DLCOST_ASSIGN_OR_RETURN(auto pv, Number(j, "p_value", "drift.", 0, 1, path));
  DLCOST_ASSIGN_OR_RETURN(auto dist, Number(j, "distance", "drift.", 0, 1e12, path));
  DLCOST_ASSIGN_OR_RETURN(auto psi, Number(j, "psi", "drift.", 0, 1e12, path));
  DLCOST_ASSIGN_OR_RETURN(auto bins, Number(j, "psi_bins", "drift.", 2, 1000, path));
  DLCOST_ASSIGN_OR_RETURN(auto small, Number(j, "small_reference_rows", "drift.", 0, 1e15, path));
  DLCOST_ASSIGN_OR_RETURN(auto share, Number(j, "dataset_drift_share", "drift.", 0, 1, path));
  if (pv) p->p_value = *pv;
  if (dist) p->distance = *dist;
  if (psi) p->psi = *psi;
  if (bins) p->psi_bins = static_cast<int>(*bins);
  if (small) p->small_reference_rows = static_cast<int64_t>(*small);
  if (share) p->dataset_drift_share = *share;
  if (j.contains("bonferroni")) {
    if (!j["bonferroni"].is_boolean()) return InvalidInput(fmt::format("{}: 'drift.bonferroni' must be true or false", path));
    p->bonferroni = j["bonferroni"].get<bool>();
  }
  return Status::Ok();
}

Status ReadColumns(const json& j, Policy* p, const std::string& path) {
  if (!j.is_object()) return InvalidInput(fmt::format("{}: 'columns' must be an object keyed by column name", path));
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string where = "columns." + it.key() + ".";
    const json& c = it.value();
    if (!c.is_object()) return InvalidInput(fmt::format("{}: '{}' must be an object", path, "columns." + it.key()));
    DLCOST_RETURN_IF_ERROR(CheckKeys(c, where, {"test", "threshold"}, path));
    ColumnPolicy& cp = p->columns[it.key()];
    if (c.contains("test")) {
      if (!c["test"].is_string()) return InvalidInput(fmt::format("{}: '{}test' must be a string", path, where));
      Result<Method> m = ParseMethod(c["test"].get<std::string>());
      if (!m.ok()) return InvalidInput(fmt::format("{}: {}test: {}", path, where, m.status().message()));
      cp.method = *m;
    }
    DLCOST_ASSIGN_OR_RETURN(auto t, Number(c, "threshold", where, 0, 1e12, path));
    if (t) cp.threshold = *t;
  }
  return Status::Ok();
}

struct Perf {
  std::optional<double> value;
  int64_t rows = 0;
};

// Accuracy (categorical label and prediction) or mean absolute error (numeric) on the rows
// where both are present.
// True when every value present in the numeric column `c` is a whole number (class ids).
bool WholeNumbers(const Column& c) {
  for (double v : c.values) {
    if (!std::isnan(v) && v != std::floor(v)) return false;
  }
  return true;
}

// Whether the labels are scored by accuracy (else mean absolute error): categorical columns;
// numeric ones when the policy limits only the accuracy, or limits both and the labels and
// predictions are whole numbers (class ids such as 0/1).
bool ScoreByAccuracy(const DecisionPolicy& dp, const Column& label, const Column& pred) {
  if (label.type == ColumnType::kCategorical) return true;
  bool acc_limit = dp.warn.accuracy_drop || dp.rollback.accuracy_drop;
  bool mae_limit = dp.warn.mae_increase_frac || dp.rollback.mae_increase_frac;
  if (acc_limit && !mae_limit) return true;
  return acc_limit && mae_limit && WholeNumbers(label) && WholeNumbers(pred);
}

Perf Measure(const Column& label, const Column& pred, bool accuracy) {
  Perf out;
  const size_t n = accuracy && label.type == ColumnType::kCategorical ? label.codes.size() : label.values.size();
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    if (accuracy && label.type == ColumnType::kNumeric) {
      double a = label.values[i], b = pred.values[i];  // class ids held as numbers (0/1 labels)
      if (std::isnan(a) || std::isnan(b)) continue;
      sum += a == b;
    } else if (accuracy) {
      uint32_t a = label.codes[i], b = pred.codes[i];
      if (a == kMissingCode || b == kMissingCode) continue;
      sum += label.categories[a] == pred.categories[b];
    } else {
      double a = label.values[i], b = pred.values[i];
      if (std::isnan(a) || std::isnan(b)) continue;
      sum += std::fabs(a - b);
    }
    ++out.rows;
  }
  if (out.rows > 0) out.value = sum / static_cast<double>(out.rows);
  return out;
}

}  // namespace

Result<DecisionPolicy> ReadPolicyFile(const std::string& path, Policy* policy) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidInput(fmt::format("{}: cannot open the policy file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  json j = ParseJsonNoThrow<json>(ss.str());
  if (j.is_discarded()) return InvalidInput(fmt::format("{}: not valid JSON", path));
  if (!j.is_object()) return InvalidInput(fmt::format("{}: the policy must be a JSON object", path));
  DLCOST_RETURN_IF_ERROR(
      CheckKeys(j, "", {"label", "prediction", "warn", "rollback", "drift", "columns", "description"}, path));
  DecisionPolicy dp;
  for (const char* key : {"label", "prediction"}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_string()) return InvalidInput(fmt::format("{}: '{}' must be a column name", path, key));
    (std::string(key) == "label" ? dp.label : dp.prediction) = j[key].get<std::string>();
  }
  if (dp.label.empty() != dp.prediction.empty()) {
    return InvalidInput(fmt::format("{}: 'label' and 'prediction' go together", path));
  }
  if (j.contains("warn")) {
    DLCOST_ASSIGN_OR_RETURN(dp.warn, ReadLimits(j["warn"], "warn", path));
  }
  if (j.contains("rollback")) {
    DLCOST_ASSIGN_OR_RETURN(dp.rollback, ReadLimits(j["rollback"], "rollback", path));
  }
  if (j.contains("drift")) DLCOST_RETURN_IF_ERROR(ReadDriftDefaults(j["drift"], policy, path));
  if (j.contains("columns")) DLCOST_RETURN_IF_ERROR(ReadColumns(j["columns"], policy, path));
  return dp;
}

Decision Decide(const DecisionPolicy& dp, const DriftResult& result, const Frame& ref, const Frame& cur) {
  Decision d;
  int level = 0;
  auto raise = [&](int to, std::string reason) {
    level = std::max(level, to);
    d.reasons.push_back(std::move(reason));
  };
  const std::string share = fmt::format("{} of {} columns drifted (share {:.3g})", result.drifted, result.tested,
                                        result.drift_share);
  if (dp.rollback.drift_share && result.tested > 0 && result.drift_share >= *dp.rollback.drift_share) {
    raise(2, fmt::format("{} >= rollback limit {}", share, *dp.rollback.drift_share));
  } else if (dp.warn.drift_share && result.tested > 0 && result.drift_share >= *dp.warn.drift_share) {
    raise(1, fmt::format("{} >= warn limit {}", share, *dp.warn.drift_share));
  } else if (!dp.warn.drift_share && !dp.rollback.drift_share && result.dataset_drift) {
    raise(1, fmt::format("dataset drift: {}", share));
  }
  if (!dp.label.empty()) {
    const Column* rl = ref.Find(dp.label);
    const Column* rp = ref.Find(dp.prediction);
    const Column* cl = cur.Find(dp.label);
    const Column* cp = cur.Find(dp.prediction);
    if (!rl || !rp || !cl || !cp || !rl->problem.empty() || !rp->problem.empty() || !cl->problem.empty() ||
        !cp->problem.empty()) {
      d.reasons.push_back(fmt::format("performance not checked: '{}' and '{}' must be readable in both files",
                                      dp.label, dp.prediction));
    } else if (rl->type != rp->type || rl->type == ColumnType::kText) {
      d.reasons.push_back(fmt::format("performance not checked: '{}' ({}) and '{}' ({}) must both be categorical or "
                                      "both numeric", dp.label, ColumnTypeName(rl->type), dp.prediction,
                                      ColumnTypeName(rp->type)));
    } else {
      const bool acc = ScoreByAccuracy(dp, *rl, *rp) && (cl->type == ColumnType::kCategorical || ScoreByAccuracy(dp, *cl, *cp));
      Perf pr = Measure(*rl, *rp, acc), pc = Measure(*cl, *cp, acc);
      Performance perf;
      perf.metric = acc ? "accuracy" : "mae";
      perf.reference = pr.value;
      perf.current = pc.value;
      perf.rows_reference = pr.rows;
      perf.rows_current = pc.rows;
      d.performance = perf;
      if (!pr.value || !pc.value) {
        d.reasons.push_back(fmt::format("performance not checked: no row with both '{}' and '{}' in {}", dp.label,
                                        dp.prediction, !pr.value ? ref.path : cur.path));
      } else if (acc) {
        const double drop = *pr.value - *pc.value;
        const std::string what = fmt::format("accuracy {:.4g} -> {:.4g} (drop {:.4g})", *pr.value, *pc.value, drop);
        if (dp.rollback.accuracy_drop && drop >= *dp.rollback.accuracy_drop) {
          raise(2, fmt::format("{} >= rollback limit {}", what, *dp.rollback.accuracy_drop));
        } else if (dp.warn.accuracy_drop && drop >= *dp.warn.accuracy_drop) {
          raise(1, fmt::format("{} >= warn limit {}", what, *dp.warn.accuracy_drop));
        }
      } else if (*pr.value > 0) {
        const double inc = (*pc.value - *pr.value) / *pr.value;
        const std::string what = fmt::format("MAE {:.4g} -> {:.4g} (relative increase {:.3g})", *pr.value, *pc.value, inc);
        if (dp.rollback.mae_increase_frac && inc >= *dp.rollback.mae_increase_frac) {
          raise(2, fmt::format("{} >= rollback limit {}", what, *dp.rollback.mae_increase_frac));
        } else if (dp.warn.mae_increase_frac && inc >= *dp.warn.mae_increase_frac) {
          raise(1, fmt::format("{} >= warn limit {}", what, *dp.warn.mae_increase_frac));
        }
      } else {
        d.reasons.push_back("performance not checked: the reference MAE is 0");
      }
    }
  }
  d.verdict = level == 2 ? "rollback" : level == 1 ? "warn" : "ok";
  if (level == 0) d.reasons.insert(d.reasons.begin(), "no limit reached");
  return d;
}

}  // namespace dlcost::drift
