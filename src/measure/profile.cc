// Calibration profiles on disk: written atomically and read back once into a typed
// CalibrationProfile (measure.h; format in docs/measure.md, "Profile format").
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "common/json_util.h"
#include "dlcost/measure.h"
#include "dlcost/training.h"
#include "dlcost/units.h"

namespace dlcost::measure {
namespace {

namespace fs = std::filesystem;

Result<std::map<std::string, double>> NumberMap(const nlohmann::json& j, const std::string& where, double lo,
                                                double hi) {
  std::map<std::string, double> out;
  if (!j.is_object()) return InvalidInput(where + ": must be an object");
  for (const auto& [k, v] : j.items()) {
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < lo || v.get<double>() > hi) {
      return InvalidInput(fmt::format("{}.{}: must be a number between {} and {}", where, k, lo, hi));
    }
    out[k] = v.get<double>();
  }
  return out;
}

}  // namespace

Status WriteFileAtomically(const std::string& path, const std::string& text, const char* flag) {
  if (path.empty()) return InvalidInput(fmt::format("{}: empty file name", flag));
  std::string tmp = fmt::format("{}.tmp-{}", path, static_cast<long>(getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return InvalidInput(fmt::format("{}: cannot write '{}'", flag, path));
    out << text;
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      return InvalidInput(fmt::format("{}: error writing '{}'", flag, path));
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    return InvalidInput(fmt::format("{}: cannot replace '{}': {}", flag, path, ec.message()));
  }
  return Status::Ok();
}

Status WriteProfile(const nlohmann::json& profile, const std::string& path) {
  // Validate by loading a private copy, so that a profile dlcost could not read back is never
  // written.
  std::string check = fmt::format("{}.check-{}", path, static_cast<long>(getpid()));
  DLCOST_RETURN_IF_ERROR(WriteFileAtomically(check, profile.dump(2) + "\n", "--out"));
  Result<CalibrationProfile> back = LoadCalibrationProfile(check);
  std::remove(check.c_str());
  Status st = back.ok() ? RequireMeasuredDevice(*back).status() : back.status();
  if (!st.ok()) return Status(StatusCode::kInternal, "calibrate produced a profile it cannot read: " + st.message());
  return WriteFileAtomically(path, profile.dump(2) + "\n", "--out");
}

namespace {

// The "device" section `dj` of the profile at `path`.
Result<MeasuredDevice> ParseMeasuredDevice(const nlohmann::json& dj, const std::string& path) {
  std::string where = path + ": device";
  if (!dj.is_object()) return InvalidInput(where + ": must be an object");
  JsonFields f(dj, where);
  MeasuredDevice d;
  DLCOST_ASSIGN_OR_RETURN(std::string kind, f.String("kind"));
  Result<Device> dev = ParseDevice(kind);
  if (!dev.ok()) return InvalidInput(fmt::format("{}: kind '{}' must be cpu or cuda", where, kind));
  d.device = *dev;
  if (f.Has("name") && !dj["name"].is_string()) return InvalidInput(where + ": name must be a string");
  d.name = f.OptString("name").value_or(kind);
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> threads, f.OptPositiveInt("threads"));
  d.threads = static_cast<int>(threads.value_or(0));
  if (!f.Has("peak_tflops") || !dj["peak_tflops"].is_object() || dj["peak_tflops"].empty()) {
    return InvalidInput(where + ": missing object 'peak_tflops'");
  }
  for (const auto& [k, v] : dj["peak_tflops"].items()) {
    DLCOST_ASSIGN_OR_RETURN(Dtype dt, ParseDtype(k, where + ".peak_tflops"));
    if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>())) {
      return InvalidInput(fmt::format("{}.peak_tflops.{}: must be a positive number", where, k));
    }
    d.peak_flops[static_cast<int>(dt)] = v.get<double>() * kTera;
  }
  DLCOST_ASSIGN_OR_RETURN(double bw, f.PositiveNumber("memory_bandwidth_gb_s"));
  d.memory_bandwidth_bytes_s = bw * kGB;
  DLCOST_ASSIGN_OR_RETURN(double mem, f.PositiveNumber("memory_gib"));
  d.memory_bytes = mem * kGiB;
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> power, f.OptNumber("power_w"));
  d.power_w = power.value_or(0);
  if (d.power_w < 0) return InvalidInput(where + ": power_w must not be negative");
  return d;
}

// A number of `v` in [lo, hi] (lo excluded when `open_low`), or InvalidInput naming `where`.
Result<double> BoundedNumber(const nlohmann::json& v, const std::string& where, double lo, double hi, bool open_low,
                             const char* range) {
  bool low_ok = v.is_number() && (open_low ? v.get<double>() > lo : v.get<double>() >= lo);
  if (!low_ok || v.get<double>() > hi) return InvalidInput(fmt::format("{}: must be {}", where, range));
  return v.get<double>();
}

// One precision's entry `v` of the "calibrated" section, into `c` under `key`.
Status ParseCalibratedPrecision(const nlohmann::json& v, const std::string& where, const std::string& key,
                                CalibratedFigures& c) {
  if (!v.is_object()) return InvalidInput(where + ": must be an object");
  if (v.contains("memory_fraction")) {
    DLCOST_ASSIGN_OR_RETURN(c.memory_fraction[key], NumberMap(v["memory_fraction"], where + ".memory_fraction", 1e-4, 1));
  }
  if (v.contains("adamw_bytes_per_param")) {
    DLCOST_ASSIGN_OR_RETURN(c.adamw_bytes_per_param[key], BoundedNumber(v["adamw_bytes_per_param"],
                                                                         where + ".adamw_bytes_per_param", 0, 10000,
                                                                         true, "in (0, 10000]"));
  }
  if (v.contains("adamw_bytes_per_param_curve")) {
    DLCOST_ASSIGN_OR_RETURN(c.adamw_bytes_curve[key],
                            ParseCurveJson(v["adamw_bytes_per_param_curve"], where + ".adamw_bytes_per_param_curve",
                                           "params", "bytes_per_param", 10000));
  }
  if (v.contains("attention_time_factor")) {
    DLCOST_ASSIGN_OR_RETURN(c.attention_time_factor[key], BoundedNumber(v["attention_time_factor"],
                                                                         where + ".attention_time_factor", 0.1, 10,
                                                                         false, "between 0.1 and 10"));
  }
  if (v.contains("loss_memory_fraction")) {
    DLCOST_ASSIGN_OR_RETURN(c.loss_memory_fraction[key], BoundedNumber(v["loss_memory_fraction"],
                                                                        where + ".loss_memory_fraction", 0, 1, true,
                                                                        "in (0, 1]"));
  }
  return Status::Ok();
}

// The "calibrated" (per precision) and "overheads" (per block) sections of `j`.
Result<CalibratedFigures> ParseCalibratedFigures(const nlohmann::json& j, const std::string& path) {
  CalibratedFigures c;
  if (j.contains("calibrated")) {
    const nlohmann::json& cal = j["calibrated"];
    if (!cal.is_object()) return InvalidInput(path + ": calibrated: must be an object");
    for (const auto& [dt, v] : cal.items()) {
      std::string where = path + ": calibrated." + dt;
      DLCOST_ASSIGN_OR_RETURN(Dtype d, ParseDtype(dt, where));
      DLCOST_RETURN_IF_ERROR(ParseCalibratedPrecision(v, where, DtypeName(d), c));
    }
  }
  if (j.contains("overheads")) {
    const nlohmann::json& o = j["overheads"];
    std::string where = path + ": overheads";
    if (!o.is_object()) return InvalidInput(where + ": must be an object");
    if (o.contains("layer_host_overhead_s")) {
      DLCOST_ASSIGN_OR_RETURN(c.layer_host_overhead_s, NumberMap(o["layer_host_overhead_s"], where + ".layer_host_overhead_s", 0, 0.1));
    }
    if (o.contains("step_overhead_s")) {
      DLCOST_ASSIGN_OR_RETURN(c.step_overhead_s, NumberMap(o["step_overhead_s"], where + ".step_overhead_s", 0, 10));
    }
    if (o.contains("expert_overhead_s")) {
      DLCOST_ASSIGN_OR_RETURN(c.expert_overhead_s, BoundedNumber(o["expert_overhead_s"], where + ".expert_overhead_s",
                                                                 0, 0.1, false, "between 0 and 0.1 s"));
    }
  }
  return c;
}

}  // namespace

Result<CalibrationProfile> LoadCalibrationProfile(const std::string& path) {
  CalibrationProfile p;
  p.path = path;
  // The estimator's own reading first: its errors (missing file, bad JSON, efficiency fields)
  // are the ones every estimating command gives for the same file.
  DLCOST_ASSIGN_OR_RETURN(p.efficiency, LoadEfficiency(path, ""));
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(path));
  if (!j.is_object()) return InvalidInput(fmt::format("{}: expected a JSON object", path));
  if (j.contains("device")) {
    DLCOST_ASSIGN_OR_RETURN(MeasuredDevice d, ParseMeasuredDevice(j["device"], path));
    p.device = d;
  }
  DLCOST_ASSIGN_OR_RETURN(p.figures, ParseCalibratedFigures(j, path));
  return p;
}

Result<MeasuredDevice> RequireMeasuredDevice(const CalibrationProfile& p) {
  if (!p.device) {
    return InvalidInput(fmt::format("--calibration: {}: no 'device' section (not a profile written by dlcost calibrate)",
                                    p.path));
  }
  return *p.device;
}

Accelerator MeasuredAccelerator(const MeasuredDevice& d) {
  Accelerator a;
  a.id = d.device == Device::kCpu ? "local-cpu" : "local-gpu";
  a.name = d.name;
  a.vendor = "";
  a.kind = d.device == Device::kCpu ? "cpu" : "gpu";
  for (int i = 0; i < kNumDtypes; ++i) {
    if (d.peak_flops[i]) a.peak_dense_tflops[i] = *d.peak_flops[i] / kTera;
  }
  a.memory_gib = d.memory_bytes / kGiB;
  a.memory_bandwidth_gb_s = d.memory_bandwidth_bytes_s / kGB;
  a.tdp_w = d.power_w;
  a.node_size = 1;
  a.sources = {"measured by dlcost calibrate"};
  return a;
}

}  // namespace dlcost::measure
