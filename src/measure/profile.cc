// Calibration profiles on disk, the device model of a measured device, and predictions of the
// runner's steps with the training estimator.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "common/json_util.h"
#include "dlcost/measure.h"
#include "dlcost/units.h"

namespace dlcost::measure {
namespace {

namespace fs = std::filesystem;

// The catalog's `cpu` entry is 2 x Xeon Platinum 8358 with 32 cores each (Intel ARK, cited in
// data/hardware/accelerators/cpu.json): its bandwidth and power are shared by 64 cores.
constexpr double kCatalogCpuCores = 64;
// FLOPs per cycle and core of one fused multiply-add unit: 2 per lane (multiply and add).
// Lanes of fp32: 16 for AVX-512, 8 for AVX2, 4 for SSE. Server cores with AVX-512 and all
// AVX2 cores since Haswell issue 2 FMAs per cycle (Intel 64 and IA-32 Architectures
// Optimization Reference Manual, "Intel Microarchitecture Code Name Skylake Server" and
// "Haswell" chapters); the catalog's cpu entry uses the same count.
constexpr double kFmaUnits = 2;
// AVX512_BF16's VDPBF16PS does two bf16 products per fp32 lane (Intel Architecture Instruction
// Set Extensions Programming Reference, "VDPBF16PS"): twice the fp32 rate. AMX-BF16 tiles do
// 1,024 bf16 FLOPs per cycle and core (Intel, "Accelerate AI Workloads with Intel AMX", 2023).
constexpr double kAmxBf16FlopsPerCycle = 1024;

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

// Per-block values for `style`, falling back to "gated" (MoE blocks are gated blocks with
// experts) and then to `fallback`.
double ForStyle(const std::map<std::string, double>& m, const std::string& style, double fallback) {
  auto it = m.find(style);
  if (it != m.end()) return it->second;
  it = m.find("gated");
  return it != m.end() ? it->second : fallback;
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
  Result<EfficiencyProfile> e = LoadEfficiency(check, "");
  Result<MeasuredDevice> d = LoadMeasuredDevice(check);
  Result<CalibratedFigures> f = LoadCalibratedFigures(check);
  std::remove(check.c_str());
  for (const Status& st : {e.status(), d.status(), f.status()}) {
    if (!st.ok()) return Status(StatusCode::kInternal, "calibrate produced a profile it cannot read: " + st.message());
  }
  return WriteFileAtomically(path, profile.dump(2) + "\n", "--out");
}

Result<MeasuredDevice> LoadMeasuredDevice(const std::string& path) {
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(path));
  if (!j.is_object()) return InvalidInput(fmt::format("{}: expected a JSON object", path));
  if (!j.contains("device")) {
    return NotFound(fmt::format("{}: no 'device' section (not a profile written by dlcost calibrate)", path));
  }
  const nlohmann::json& dj = j["device"];
  std::string where = path + ": device";
  if (!dj.is_object()) return InvalidInput(where + ": must be an object");
  JsonFields f(dj, where);
  MeasuredDevice d;
  DLCOST_ASSIGN_OR_RETURN(std::string kind, f.String("kind"));
  Result<Device> dev = ParseDevice(kind);
  if (!dev.ok()) return InvalidInput(fmt::format("{}: kind '{}' must be cpu or cuda", where, kind));
  d.device = *dev;
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

Result<CalibratedFigures> LoadCalibratedFigures(const std::string& path) {
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(path));
  CalibratedFigures c;
  if (!j.is_object()) return InvalidInput(fmt::format("{}: expected a JSON object", path));
  if (j.contains("calibrated")) {
    const nlohmann::json& cal = j["calibrated"];
    if (!cal.is_object()) return InvalidInput(path + ": calibrated: must be an object");
    for (const auto& [dt, v] : cal.items()) {
      std::string where = path + ": calibrated." + dt;
      DLCOST_ASSIGN_OR_RETURN(Dtype d, ParseDtype(dt, where));
      if (!v.is_object()) return InvalidInput(where + ": must be an object");
      std::string key = DtypeName(d);
      if (v.contains("memory_fraction")) {
        DLCOST_ASSIGN_OR_RETURN(c.memory_fraction[key], NumberMap(v["memory_fraction"], where + ".memory_fraction", 1e-4, 1));
      }
      if (v.contains("adamw_bytes_per_param")) {
        const nlohmann::json& a = v["adamw_bytes_per_param"];
        if (!a.is_number() || !(a.get<double>() > 0) || a.get<double>() > 10000) {
          return InvalidInput(where + ".adamw_bytes_per_param: must be in (0, 10000]");
        }
        c.adamw_bytes_per_param[key] = a.get<double>();
      }
      if (v.contains("adamw_bytes_per_param_curve")) {
        DLCOST_ASSIGN_OR_RETURN(c.adamw_bytes_curve[key],
                                ParseCurveJson(v["adamw_bytes_per_param_curve"], where + ".adamw_bytes_per_param_curve",
                                               "params", "bytes_per_param", 10000));
      }
      if (v.contains("attention_time_factor")) {
        const nlohmann::json& a = v["attention_time_factor"];
        if (!a.is_number() || !(a.get<double>() >= 0.1) || a.get<double>() > 10) {
          return InvalidInput(where + ".attention_time_factor: must be between 0.1 and 10");
        }
        c.attention_time_factor[key] = a.get<double>();
      }
      if (v.contains("loss_memory_fraction")) {
        const nlohmann::json& a = v["loss_memory_fraction"];
        if (!a.is_number() || !(a.get<double>() > 0) || a.get<double>() > 1) {
          return InvalidInput(where + ".loss_memory_fraction: must be in (0, 1]");
        }
        c.loss_memory_fraction[key] = a.get<double>();
      }
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
      const nlohmann::json& e = o["expert_overhead_s"];
      if (!e.is_number() || e.get<double>() < 0 || e.get<double>() > 0.1) {
        return InvalidInput(where + ".expert_overhead_s: must be between 0 and 0.1 s");
      }
      c.expert_overhead_s = e.get<double>();
    }
  }
  return c;
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

Result<DeviceModel> CpuDeviceModel(const std::string& data_dir, const std::string& calibration, int threads,
                                   const LocalCpu& cpu) {
  DeviceModel dm;
  int n = threads > 0 ? threads : std::max(1, cpu.usable_cpus);
  DLCOST_ASSIGN_OR_RETURN(HardwareCatalog hw, HardwareCatalog::Load(data_dir));
  DLCOST_ASSIGN_OR_RETURN(Accelerator ref, hw.Resolve("cpu"));
  double per_core_w = ref.tdp_w / kCatalogCpuCores;
  if (!calibration.empty()) {
    DLCOST_ASSIGN_OR_RETURN(MeasuredDevice md, LoadMeasuredDevice(calibration));
    if (md.device != Device::kCpu) {
      return InvalidInput(fmt::format("--calibration: {} was measured on {} ({}), not on the cpu", calibration,
                                      DeviceName(md.device), md.name));
    }
    DLCOST_ASSIGN_OR_RETURN(dm.eff, LoadEfficiency(calibration, "local-cpu"));
    DLCOST_ASSIGN_OR_RETURN(dm.figures, LoadCalibratedFigures(calibration));
    dm.acc = MeasuredAccelerator(md);
    dm.calibrated = true;
    dm.profile_path = calibration;
    dm.notes.push_back(fmt::format("device figures measured by dlcost calibrate ({}): profile {}", md.name, calibration));
    if (md.threads > 0 && md.threads != n) {
      dm.notes.push_back(fmt::format("the profile was measured with {} threads, this run uses {}", md.threads, n));
    }
    dm.power_w = md.power_w > 0 ? md.power_w : per_core_w * n;
  } else {
    double ghz = cpu.mhz > 0 ? cpu.mhz / 1000.0 : 2.6;  // 2.6 GHz: the catalog cpu entry's base clock
    double lanes = cpu.avx512f ? 16 : (cpu.avx2 && cpu.fma ? 8 : 4);
    double fp32 = n * ghz * 1e9 * kFmaUnits * lanes * 2;
    double bf16 = cpu.amx_bf16 ? n * ghz * 1e9 * kAmxBf16FlopsPerCycle : (cpu.avx512_bf16 ? 2 * fp32 : fp32);
    Accelerator a;
    a.id = "local-cpu";
    a.name = cpu.model_name.empty() ? "local CPU" : cpu.model_name;
    a.kind = "cpu";
    a.peak_dense_tflops[static_cast<int>(Dtype::kFp32)] = fp32 / kTera;
    a.peak_dense_tflops[static_cast<int>(Dtype::kBf16)] = bf16 / kTera;
    a.peak_dense_tflops[static_cast<int>(Dtype::kFp16)] = fp32 / kTera;
    a.memory_gib = cpu.memory_total_bytes / kGiB;
    a.memory_bandwidth_gb_s = ref.memory_bandwidth_gb_s / kCatalogCpuCores * n;
    a.tdp_w = per_core_w * n;
    a.node_size = 1;
    a.sources = {"assumed: see docs/measure.md, 'Before calibration'"};
    dm.acc = a;
    DLCOST_ASSIGN_OR_RETURN(dm.eff, LoadEfficiency(data_dir + "/efficiency/default.json", "local-cpu"));
    dm.notes.push_back(fmt::format(
        "uncalibrated: assumed peak {:.0f} GFLOP/s fp32 ({} cores x {:.2f} GHz x {} FLOP/cycle from the CPU's vector "
        "units), {:.1f} GB/s ({} cores x the per-core bandwidth of the catalog's cpu entry), default efficiency "
        "profile; run dlcost calibrate for measured figures",
        fp32 / 1e9, n, ghz, kFmaUnits * lanes * 2, a.memory_bandwidth_gb_s, n));
    dm.power_w = per_core_w * n;
  }
  dm.power_source = fmt::format("assumed {:.1f} W per core: the catalog cpu entry's {:.0f} W TDP over {:.0f} cores",
                                per_core_w, ref.tdp_w, kCatalogCpuCores);
  return dm;
}

std::string MatchCatalogGpu(const HardwareCatalog& hw, const std::string& device_name) {
  std::string name;
  for (char c : device_name) name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // The CUDA name carries the model and (for some) the memory: "NVIDIA H100 80GB HBM3",
  // "NVIDIA A100-SXM4-40GB", "NVIDIA GeForce RTX 4090".
  struct Rule {
    const char* needle;
    const char* also;  // "" or a second substring
    const char* id;
  };
  static const Rule kRules[] = {
      {"h200", "", "h200-sxm-141gb"},       {"gh200", "", "gh200"},           {"h800", "", "h800-sxm-80gb"},
      {"h100", "pcie", "h100-pcie-80gb"},   {"h100", "", "h100-sxm-80gb"},    {"a100", "pcie", "a100-pcie-80gb"},
      {"a100", "40gb", "a100-sxm-40gb"},    {"a100", "", "a100-sxm-80gb"},    {"b200", "", "b200"},
      {"l40s", "", "l40s"},                 {"l4", "", "l4"},                 {"a10g", "", "a10g"},
      {"t4", "", "t4"},                     {"v100", "32gb", "v100-sxm-32gb"}, {"v100", "", "v100-sxm-16gb"},
      {"4090", "", "rtx-4090"},             {"4080", "", "rtx-4080"},         {"1080 ti", "", "gtx-1080ti"},
  };
  for (const Rule& r : kRules) {
    if (name.find(r.needle) == std::string::npos) continue;
    if (*r.also != '\0' && name.find(r.also) == std::string::npos) continue;
    if (hw.Resolve(r.id).ok()) return r.id;
  }
  return "";
}

Result<DeviceModel> GpuDeviceModel(const std::string& data_dir, const std::string& calibration,
                                   const std::string& gpu_id) {
  DeviceModel dm;
  DLCOST_ASSIGN_OR_RETURN(HardwareCatalog hw, HardwareCatalog::Load(data_dir));
  std::optional<Accelerator> cat;
  if (!gpu_id.empty()) {
    DLCOST_ASSIGN_OR_RETURN(Accelerator a, hw.Resolve(gpu_id));
    cat = a;
  }
  if (!calibration.empty()) {
    DLCOST_ASSIGN_OR_RETURN(MeasuredDevice md, LoadMeasuredDevice(calibration));
    if (md.device != Device::kCuda) {
      return InvalidInput(fmt::format("--calibration: {} was measured on the cpu, not on a CUDA GPU", calibration));
    }
    dm.acc = MeasuredAccelerator(md);
    if (cat) {
      dm.acc.tdp_w = cat->tdp_w;
      dm.acc.memory_gib = cat->memory_gib;
    }
    DLCOST_ASSIGN_OR_RETURN(dm.eff, LoadEfficiency(calibration, cat ? cat->id : "local-gpu"));
    DLCOST_ASSIGN_OR_RETURN(dm.figures, LoadCalibratedFigures(calibration));
    dm.calibrated = true;
    dm.profile_path = calibration;
    dm.notes.push_back(fmt::format("device figures measured by dlcost calibrate ({}): profile {}", md.name, calibration));
  } else {
    if (!cat) return InvalidInput("--gpu: the CUDA device is not in the catalog; name its catalog id with --gpu");
    dm.acc = *cat;
    DLCOST_ASSIGN_OR_RETURN(dm.eff, LoadEfficiency(data_dir + "/efficiency/default.json", cat->id));
    dm.notes.push_back(fmt::format("uncalibrated: catalog peaks of {} and the default efficiency profile", cat->id));
  }
  dm.power_w = dm.acc.tdp_w;
  dm.power_source = fmt::format("catalog TDP of {} ({:.0f} W)", cat ? cat->id : dm.acc.name, dm.acc.tdp_w);
  return dm;
}

Result<TrainingEstimate> PredictTrain(const ModelSpec& model, const TrainConfig& c, const DeviceModel& dm) {
  SystemSpec sys;
  sys.gpu = dm.acc;
  sys.intra = Network{"none", "none", "intra_node", 0, 0, {}, "", ""};
  sys.gpus_per_node = 1;
  sys.inter_node_gbps = 100;
  TrainingSetup s;
  s.num_gpus = 1;
  s.seq_len = c.seq;
  s.global_batch = c.batch;
  s.micro_batch = c.batch;
  s.tp = s.pp = s.dp = s.cp = s.ep = s.vpp = 1;
  s.zero = 0;
  s.seq_parallel = false;
  s.recompute = Recompute::kNone;
  s.precision = c.dtype;
  s.optimizer = Optimizer::kAdamW;
  s.flash_attention = c.fused_attention;
  s.dropout = false;
  // The runner's gradients are in the parameters' precision and cast to fp32 one at a time
  // (Trainer); the memory model's 4-byte main gradients stay as the conservative default.
  s.overhead_bytes = dm.acc.kind == "cpu" ? 0 : -1;  // CPU: no device context to reserve
  EfficiencyProfile eff = dm.eff;
  if (dm.calibrated) {
    const CalibratedFigures& f = dm.figures;
    std::string style = BlockStyle(model);
    std::string dt = DtypeName(c.dtype == Dtype::kTf32 ? Dtype::kFp32 : c.dtype);
    if (auto it = f.memory_fraction.find(dt); it != f.memory_fraction.end()) {
      eff.memory_fraction = ForStyle(it->second, style, eff.memory_fraction);
    }
    if (auto it = f.adamw_bytes_per_param.find(dt); it != f.adamw_bytes_per_param.end()) {
      eff.adamw_bytes_per_param = it->second;
    }
    if (auto it = f.loss_memory_fraction.find(dt); it != f.loss_memory_fraction.end()) {
      eff.loss_memory_fraction = it->second;
    }
    if (auto it = f.adamw_bytes_curve.find(dt); it != f.adamw_bytes_curve.end()) eff.adamw_bytes_curve = it->second;
    if (auto it = f.attention_time_factor.find(dt); it != f.attention_time_factor.end()) {
      eff.attention_time_factor = it->second;
    }
    eff.layer_host_overhead_s = ForStyle(f.layer_host_overhead_s, style, eff.layer_host_overhead_s);
    eff.step_overhead_s = ForStyle(f.step_overhead_s, style, eff.step_overhead_s);
    if (model.moe) eff.layer_host_overhead_s += f.expert_overhead_s * static_cast<double>(model.moe->experts);
  }
  return EstimateTraining(model, sys, s, eff);
}

Status CheckFits(const TrainingEstimate& e, double available_bytes, const std::string& what) {
  // 20% margin for eager-mode temporaries and allocator slack beyond the estimator's memory
  // model (a dlcost assumption, compared with measured peaks in the recorded sweeps).
  constexpr double kMargin = 1.2;
  double need = e.memory_total_bytes * kMargin;
  if (available_bytes > 0 && need > available_bytes) {
    return Infeasible(fmt::format(
        "{}: needs about {:.1f} GiB (weights {:.1f}, gradients {:.1f}, optimizer {:.1f}, activations {:.1f} GiB, plus "
        "20% margin) but the device has {:.1f} GiB available; not attempted (use fewer --layers, a smaller --batch or "
        "--seq)",
        what, need / kGiB, e.memory_weights_bytes / kGiB, e.memory_grads_bytes / kGiB, e.memory_optimizer_bytes / kGiB,
        e.memory_activations_bytes / kGiB, available_bytes / kGiB));
  }
  return Status::Ok();
}

}  // namespace dlcost::measure
