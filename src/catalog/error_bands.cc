// Band tables (data/bands/*.json): regime keys, the typed loader and the writer's text.
#include "dlcost/error_bands.h"

#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/json_util.h"
#include "dlcost/strings.h"

namespace dlcost {
namespace {

struct MetricInfo {
  const char* metric;
  const char* family;
  bool rate;
};

// The validator's training metrics (docs/training.md, "Validator").
constexpr MetricInfo kMetricInfo[] = {
    {"sec_per_iter", kTimeFamily, false},    {"tflops_per_gpu", kTimeFamily, true},
    {"mfu_pct", kTimeFamily, true},          {"hfu_pct", kTimeFamily, true},
    {"tokens_per_sec_per_gpu", kTimeFamily, true}, {"mem_gib_per_gpu", kMemoryFamily, false},
    {"gpu_hours", kWholeRunFamily, false},   {"days", kWholeRunFamily, false},
    {"mwh", kWholeRunFamily, false},         {"usd", kWholeRunFamily, false},
    // The serving validator's metrics (docs/serving.md, "Error bands").
    {"output_tok_s", kServingRateFamily, true}, {"total_tok_s", kServingRateFamily, true},
    {"req_s", kServingRateFamily, true},      {"prompt_tok_s", kServingRateFamily, true},
    {"gen_tok_s", kServingRateFamily, true},  {"ttft_ms", kServingLatencyFamily, false},
    {"tpot_ms", kServingLatencyFamily, false},
};

const MetricInfo* FindMetric(std::string_view metric) {
  for (const MetricInfo& m : kMetricInfo) {
    if (metric == m.metric) return &m;
  }
  return nullptr;
}

bool KnownFamily(std::string_view f) {
  return f == kTimeFamily || f == kMemoryFamily || f == kWholeRunFamily || f == kServingRateFamily ||
         f == kServingLatencyFamily;
}

Result<BandQuantiles> ParseQuantiles(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) return InvalidInput(fmt::format("{}: expected a JSON object", where));
  JsonFields f(j, where);
  BandQuantiles q;
  for (auto [key, dst] : {std::pair<const char*, double*>{"q10", &q.q10}, {"q90", &q.q90}}) {
    if (!f.Has(key)) return InvalidInput(fmt::format("{}: missing field '{}'", where, key));
    if (!j.at(key).is_number() || !std::isfinite(j.at(key).get<double>()) || std::fabs(j.at(key).get<double>()) > 10) {
      return InvalidInput(fmt::format("{}: field '{}' must be a log residual between -10 and 10", where, key));
    }
    *dst = j.at(key).get<double>();
  }
  if (q.q10 > q.q90) return InvalidInput(fmt::format("{}: field 'q10' is above 'q90'", where));
  DLCOST_ASSIGN_OR_RETURN(q.n, f.PositiveInt("n"));
  DLCOST_ASSIGN_OR_RETURN(q.sources, f.PositiveInt("sources"));
  if (q.sources > q.n) return InvalidInput(fmt::format("{}: field 'sources' exceeds 'n'", where));
  return q;
}

}  // namespace

std::string MetricFamily(std::string_view metric) {
  const MetricInfo* m = FindMetric(metric);
  return m ? m->family : "";
}

bool IsRateMetric(std::string_view metric) {
  const MetricInfo* m = FindMetric(metric);
  return m && m->rate;
}

std::string GpuGeneration(const Accelerator& gpu) {
  if (!gpu.architecture.empty()) return ToLower(gpu.architecture);
  return ToLower(gpu.id.substr(0, gpu.id.find('-')));
}

const char* ParallelismFamily(int64_t tp, int64_t pp, int64_t cp, int64_t ep, int64_t zero) {
  if (ep > 1) return "expert_parallel";  // MoE runs: their errors are not those of dense ones
  if (tp > 1 || pp > 1 || cp > 1) return "tensor_pipeline";
  return zero >= 3 ? "zero3_fsdp" : "data_parallel";
}

const char* ServingParallelism(int64_t tp, int64_t pp, int64_t ep) {
  if (ep > 1) return "expert_parallel";
  if (tp > 1 || pp > 1) return "tensor_pipeline";
  return "single_gpu";
}

std::string ServingPrecision(double weight_bits) {
  if (weight_bits > 8.5) return "w16";
  if (weight_bits > 4.5) return "w8";
  return "w4";
}

std::string PrecisionClass(Dtype precision) {
  switch (precision) {
    case Dtype::kBf16:
    case Dtype::kFp16: return "bf16_fp16";
    case Dtype::kFp32:
    case Dtype::kTf32: return "fp32_tf32";
    default: return DtypeName(precision);
  }
}

std::vector<std::string> BandRegime::Keys() const {
  std::vector<std::string> keys;
  std::string key;
  for (const std::string* part : {&family, &generation, &parallelism, &precision}) {
    if (part->empty()) break;
    key += (key.empty() ? "" : "/") + *part;
    keys.push_back(key);
  }
  return keys;
}

Band ApplyBand(double estimate, const BandQuantiles& q, bool rate) {
  if (rate) return {estimate * std::exp(q.q10), estimate * std::exp(q.q90)};
  return {estimate / std::exp(q.q90), estimate / std::exp(q.q10)};
}

std::optional<BandMatch> ErrorBandTable::Find(const BandRegime& regime) const {
  std::vector<std::string> keys = regime.Keys();
  for (size_t i = keys.size(); i-- > 0;) {
    auto it = regimes.find(keys[i]);
    if (it != regimes.end()) return BandMatch{keys[i], it->second, i + 1 == keys.size()};
  }
  return std::nullopt;
}

Result<ErrorBandTable> ErrorBandTable::Parse(const nlohmann::json& doc, const std::string& where) {
  if (!doc.is_object()) return InvalidInput(fmt::format("{}: expected a JSON object", where));
  JsonFields f(doc, where);
  ErrorBandTable t;
  DLCOST_ASSIGN_OR_RETURN(t.source, f.String("source"));
  DLCOST_ASSIGN_OR_RETURN(t.method, f.String("method"));
  DLCOST_ASSIGN_OR_RETURN(t.min_residuals, f.PositiveInt("min_residuals"));
  if (!f.Has("regimes") || !doc.at("regimes").is_object()) {
    return InvalidInput(fmt::format("{}: missing object 'regimes'", where));
  }
  for (const auto& [key, value] : doc.at("regimes").items()) {
    std::vector<std::string> parts = Split(key, '/');
    bool empty_part = false;
    for (const std::string& part : parts) empty_part = empty_part || part.empty();
    if (parts.empty() || parts.size() > 4 || empty_part || !KnownFamily(parts.front())) {
      return InvalidInput(fmt::format("{}: regimes: key '{}' must be FAMILY[/GENERATION[/PARALLELISM[/PRECISION]]] "
                                      "with FAMILY one of time, memory, whole_run", where, key));
    }
    DLCOST_ASSIGN_OR_RETURN(BandQuantiles q, ParseQuantiles(value, fmt::format("{}: regimes: {}", where, key)));
    if (q.n < t.min_residuals) {
      return InvalidInput(fmt::format("{}: regimes: {}: field 'n' is below min_residuals ({})", where, key, t.min_residuals));
    }
    t.regimes[key] = q;
  }
  if (f.Has("loso_coverage_pct")) {
    const nlohmann::json& cov = doc.at("loso_coverage_pct");
    if (!cov.is_object()) return InvalidInput(fmt::format("{}: field 'loso_coverage_pct' must be an object", where));
    for (const auto& [family, value] : cov.items()) {
      if (!KnownFamily(family)) {
        return InvalidInput(fmt::format("{}: loso_coverage_pct: '{}' is not a metric family (time, memory, whole_run)",
                                        where, family));
      }
      if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0 ||
          value.get<double>() > 100) {
        return InvalidInput(fmt::format("{}: loso_coverage_pct: {}: must be a number from 0 to 100", where, family));
      }
      t.loso_coverage_pct[family] = value.get<double>();
    }
  }
  return t;
}

Result<ErrorBandTable> ErrorBandTable::Load(const std::string& path) {
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json doc, ReadJsonFile(path));
  return Parse(doc, path);
}

std::string ErrorBandTable::ToJsonText() const {
  nlohmann::ordered_json j;
  j["source"] = source;
  j["method"] = method;
  j["min_residuals"] = min_residuals;
  nlohmann::ordered_json reg = nlohmann::ordered_json::object();
  for (const auto& [key, q] : regimes) {
    nlohmann::ordered_json o;
    o["q10"] = q.q10;
    o["q90"] = q.q90;
    o["n"] = q.n;
    o["sources"] = q.sources;
    reg[key] = o;
  }
  j["regimes"] = reg;
  if (!loso_coverage_pct.empty()) {
    nlohmann::ordered_json cov = nlohmann::ordered_json::object();
    for (const auto& [family, pct] : loso_coverage_pct) cov[family] = pct;
    j["loso_coverage_pct"] = cov;
  }
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string ShippedBandTablePath(const std::string& data_dir) { return data_dir + "/bands/training.json"; }

std::string ShippedServingBandTablePath(const std::string& data_dir) { return data_dir + "/bands/serving.json"; }

}  // namespace dlcost
