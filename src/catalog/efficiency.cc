// Efficiency profiles: data/efficiency/*.json and the profiles `dlcost calibrate` writes.
#include "dlcost/efficiency.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/json_util.h"
#include "dlcost/strings.h"

namespace dlcost {

double EfficiencyCurve::At(double v) const {
  if (x.empty()) return 0;
  if (v <= x.front()) return y.front();
  if (v >= x.back()) return y.back();
  size_t i = static_cast<size_t>(std::upper_bound(x.begin(), x.end(), v) - x.begin());
  double a = std::log(x[i - 1]), b = std::log(x[i]);
  double w = b > a ? (std::log(v) - a) / (b - a) : 0.0;
  return y[i - 1] + w * (y[i] - y[i - 1]);
}

Result<EfficiencyCurve> ParseCurveJson(const nlohmann::json& c, const std::string& where, const char* x_key,
                                       const char* y_key, double y_max) {
  if (!c.is_object() || !c.contains(x_key) || !c.contains(y_key) || !c[x_key].is_array() || !c[y_key].is_array()) {
    return InvalidInput(fmt::format("{}: needs arrays '{}' and '{}'", where, x_key, y_key));
  }
  EfficiencyCurve curve;
  const nlohmann::json& xs = c[x_key];
  const nlohmann::json& ys = c[y_key];
  if (xs.empty() || xs.size() != ys.size() || xs.size() > 1000) {
    return InvalidInput(fmt::format("{}: '{}' and '{}' must have the same length, 1 to 1000", where, x_key, y_key));
  }
  for (size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].is_number() || !ys[i].is_number()) return InvalidInput(where + ": points must be numbers");
    double x = xs[i].get<double>(), y = ys[i].get<double>();
    if (!std::isfinite(x) || x <= 0 || (i > 0 && x <= curve.x.back())) {
      return InvalidInput(fmt::format("{}: '{}' must be positive and strictly ascending", where, x_key));
    }
    if (!std::isfinite(y) || y <= 0 || y > y_max) {
      return InvalidInput(fmt::format("{}: '{}' values must be in (0, {:g}]", where, y_key, y_max));
    }
    curve.x.push_back(x);
    curve.y.push_back(y);
  }
  return curve;
}

namespace {

// The fields `dlcost calibrate` adds to a profile (docs/measure.md, "Profile format").
Status LoadCalibratedFields(const nlohmann::json& j, const std::string& path, EfficiencyProfile& e) {
  JsonFields f(j, path);
  if (f.Has("gemm_efficiency_curve")) {
    const nlohmann::json& curves = j.at("gemm_efficiency_curve");
    if (!curves.is_object()) return InvalidInput(fmt::format("{}: gemm_efficiency_curve must be an object", path));
    for (const auto& [key, c] : curves.items()) {
      std::string where = fmt::format("{}: gemm_efficiency_curve.{}", path, key);
      DLCOST_ASSIGN_OR_RETURN(Dtype d, ParseDtype(key, where));
      DLCOST_ASSIGN_OR_RETURN(EfficiencyCurve curve, ParseCurveJson(c, where, "flops_per_element", "fraction", 1.0));
      e.gemm_curve[static_cast<int>(d)] = std::move(curve);
    }
  }
  if (f.Has("weight_stream_curve")) {
    const nlohmann::json& curves = j.at("weight_stream_curve");
    if (!curves.is_object()) return InvalidInput(fmt::format("{}: weight_stream_curve must be an object", path));
    for (const auto& [key, c] : curves.items()) {
      std::string where = fmt::format("{}: weight_stream_curve.{}", path, key);
      DLCOST_ASSIGN_OR_RETURN(Dtype d, ParseDtype(key, where));
      DLCOST_ASSIGN_OR_RETURN(EfficiencyCurve curve,
                              ParseCurveJson(c, where, "working_set_bytes", "bandwidth_fraction", 100.0));
      e.weight_stream_curve[static_cast<int>(d)] = std::move(curve);
    }
  }
  DLCOST_ASSIGN_OR_RETURN(e.host_overhead_serial, f.OptBool("host_overhead_serial", e.host_overhead_serial));
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> step, f.OptNumber("step_overhead_s"));
  if (step) {
    if (*step < 0 || *step > 10) return InvalidInput(path + ": field 'step_overhead_s' must be between 0 and 10 s");
    e.step_overhead_s = *step;
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> adamw, f.OptNumber("adamw_bytes_per_param"));
  if (adamw) {
    if (*adamw <= 0 || *adamw > 10000) {
      return InvalidInput(path + ": field 'adamw_bytes_per_param' must be in (0, 10000]");
    }
    e.adamw_bytes_per_param = *adamw;
  }
  if (f.Has("adamw_bytes_per_param_curve")) {
    DLCOST_ASSIGN_OR_RETURN(e.adamw_bytes_curve,
                            ParseCurveJson(j.at("adamw_bytes_per_param_curve"), path + ": adamw_bytes_per_param_curve",
                                           "params", "bytes_per_param", 10000));
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> attn, f.OptNumber("attention_time_factor"));
  if (attn) {
    if (!(*attn >= 0.1) || *attn > 10) {
      return InvalidInput(path + ": field 'attention_time_factor' must be between 0.1 and 10");
    }
    e.attention_time_factor = *attn;
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> loss, f.OptNumber("loss_memory_fraction"));
  if (loss) {
    if (!(*loss > 0) || *loss > 1) return InvalidInput(path + ": field 'loss_memory_fraction' must be in (0, 1]");
    e.loss_memory_fraction = *loss;
  }
  return Status::Ok();
}

// `field`: {"flash2": 0.35, ..., "source": "..."}: fractions in (0, 1] by kernel name
// (attention_kernel_fraction, attention_kernel_backward_fraction).
Status LoadKernelFractions(const nlohmann::json& j, const std::string& where, const char* field,
                           std::map<std::string, double>& out) {
  if (!j.contains(field)) return Status::Ok();
  const nlohmann::json& k = j.at(field);
  if (!k.is_object()) return InvalidInput(fmt::format("{}: field '{}' must be an object", where, field));
  for (const auto& [name, value] : k.items()) {
    if (name == "source") continue;
    if (!value.is_number() || !(value.get<double>() > 0) || value.get<double>() > 1) {
      return InvalidInput(fmt::format("{}: {}.{} must be a number in (0, 1]", where, field, ForMessage(name)));
    }
    out[name] = value.get<double>();
  }
  return Status::Ok();
}

Status LoadKernelFractions(const nlohmann::json& j, const std::string& where, EfficiencyProfile& e) {
  DLCOST_RETURN_IF_ERROR(LoadKernelFractions(j, where, "attention_kernel_fraction", e.attention_kernel_fraction));
  return LoadKernelFractions(j, where, "attention_kernel_backward_fraction", e.attention_kernel_backward_fraction);
}

}  // namespace

Result<EfficiencyProfile> LoadEfficiency(const std::string& path, const std::string& gpu_id) {
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(path));
  if (!j.is_object()) return InvalidInput(fmt::format("{}: expected a JSON object", path));
  EfficiencyProfile e;
  JsonFields f(j, path);
  e.id = f.OptString("id").value_or(path);
  struct Key {
    const char* name;
    double* dst;
  };
  auto apply = [&](const JsonFields& src) -> Status {
    Key keys[] = {{"gemm_max_fraction", &e.gemm_max_fraction},
                  {"gemm_max_fraction_fp8", &e.gemm_max_fraction_fp8},
                  {"attention_max_fraction", &e.attention_max_fraction},
                  {"memory_fraction", &e.memory_fraction},
                  {"kernel_overhead_s", &e.kernel_overhead_s},
                  {"intra_node_fraction", &e.intra_node_fraction},
                  {"inter_node_fraction", &e.inter_node_fraction},
                  {"pcie_fraction", &e.pcie_fraction},
                  {"layer_host_overhead_s", &e.layer_host_overhead_s},
                  {"comm_compute_slowdown", &e.comm_compute_slowdown}};
    for (const Key& k : keys) {
      DLCOST_ASSIGN_OR_RETURN(std::optional<double> v, src.OptNumber(k.name));
      if (!v) continue;
      bool seconds = std::string(k.name) == "kernel_overhead_s" || std::string(k.name) == "layer_host_overhead_s";
      if (!seconds && (*v <= 0 || *v > 1)) {
        return InvalidInput(fmt::format("{}: field '{}' must be in (0, 1]", src.where(), k.name));
      }
      if (seconds && (*v < 0 || *v > 1e-1)) {
        return InvalidInput(fmt::format("{}: field '{}' must be between 0 and 0.1 s", src.where(), k.name));
      }
      *k.dst = *v;
    }
    return Status::Ok();
  };
  DLCOST_RETURN_IF_ERROR(apply(f));
  DLCOST_RETURN_IF_ERROR(LoadCalibratedFields(j, path, e));
  DLCOST_RETURN_IF_ERROR(LoadKernelFractions(j, path, e));
  DLCOST_ASSIGN_OR_RETURN(e.fit_sources, f.OptStringList("fit_sources"));
  if (f.Has("per_gpu") && j["per_gpu"].is_object() && j["per_gpu"].contains(gpu_id)) {
    std::string where = path + ": per_gpu." + gpu_id;
    DLCOST_RETURN_IF_ERROR(apply(JsonFields(j["per_gpu"][gpu_id], where)));
    DLCOST_RETURN_IF_ERROR(LoadKernelFractions(j["per_gpu"][gpu_id], where, e));
  }
  // `dlcost ledger fit`'s corrections, one per GPU (docs/ledger.md, "Fit").
  if (f.Has("ledger_corrections")) {
    const nlohmann::json& lc = j["ledger_corrections"];
    if (!lc.is_object()) return InvalidInput(fmt::format("{}: 'ledger_corrections' must be an object of GPUs", path));
    if (lc.contains(gpu_id)) {
      JsonFields g(lc[gpu_id], path + ": ledger_corrections." + gpu_id);
      DLCOST_ASSIGN_OR_RETURN(double factor, g.PositiveNumber("time_factor"));
      if (!(factor >= 0.05 && factor <= 20)) {
        return InvalidInput(fmt::format("{}: ledger_corrections.{}.time_factor must be between 0.05 and 20", path, gpu_id));
      }
      DLCOST_ASSIGN_OR_RETURN(std::optional<double> pairs, g.OptNumber("pairs"));
      DLCOST_ASSIGN_OR_RETURN(std::optional<double> sd, g.OptNumber("sd_log"));
      if ((pairs && (*pairs < 0 || *pairs > 1e12)) || (sd && (*sd < 0 || *sd > 10))) {
        return InvalidInput(fmt::format("{}: ledger_corrections.{}: pairs or sd_log out of range", path, gpu_id));
      }
      e.run_time_factor = factor;
      e.run_time_factor_pairs = pairs ? static_cast<int64_t>(*pairs) : 0;
      e.run_time_factor_sd_log = sd.value_or(0);
      e.run_time_factor_key = gpu_id;
    }
  }
  return e;
}

}  // namespace dlcost
