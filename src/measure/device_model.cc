// The device model of a measured device (measure.h): the local CPU from its vector units or a
// calibration profile, a CUDA GPU from the catalog or a profile.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "dlcost/measure.h"
#include "dlcost/units.h"

namespace dlcost::measure {
namespace {

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

}  // namespace

Result<DeviceModel> CpuDeviceModel(const Accelerator& catalog_cpu, const EfficiencyProfile& default_eff,
                                   const CalibrationProfile* calibration, int threads, const LocalCpu& cpu) {
  DeviceModel dm;
  int n = threads > 0 ? threads : std::max(1, cpu.usable_cpus);
  const Accelerator& ref = catalog_cpu;
  double per_core_w = ref.tdp_w / kCatalogCpuCores;
  if (calibration != nullptr) {
    DLCOST_ASSIGN_OR_RETURN(MeasuredDevice md, RequireMeasuredDevice(*calibration));
    if (md.device != Device::kCpu) {
      return InvalidInput(fmt::format("--calibration: {} was measured on {} ({}), not on the cpu", calibration->path,
                                      DeviceName(md.device), md.name));
    }
    dm.eff = calibration->efficiency;
    dm.figures = calibration->figures;
    dm.acc = MeasuredAccelerator(md);
    dm.calibrated = true;
    dm.profile_path = calibration->path;
    dm.notes.push_back(
        fmt::format("device figures measured by dlcost calibrate ({}): profile {}", md.name, calibration->path));
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
    dm.eff = default_eff;
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

Result<DeviceModel> GpuDeviceModel(const std::optional<Accelerator>& catalog_gpu, const EfficiencyProfile& default_eff,
                                   const CalibrationProfile* calibration) {
  DeviceModel dm;
  const std::optional<Accelerator>& cat = catalog_gpu;
  if (calibration != nullptr) {
    DLCOST_ASSIGN_OR_RETURN(MeasuredDevice md, RequireMeasuredDevice(*calibration));
    if (md.device != Device::kCuda) {
      return InvalidInput(
          fmt::format("--calibration: {} was measured on the cpu, not on a CUDA GPU", calibration->path));
    }
    dm.acc = MeasuredAccelerator(md);
    if (cat) {
      dm.acc.tdp_w = cat->tdp_w;
      dm.acc.memory_gib = cat->memory_gib;
    }
    dm.eff = calibration->efficiency;
    dm.figures = calibration->figures;
    dm.calibrated = true;
    dm.profile_path = calibration->path;
    dm.notes.push_back(
        fmt::format("device figures measured by dlcost calibrate ({}): profile {}", md.name, calibration->path));
  } else {
    if (!cat) return InvalidInput("--gpu: the CUDA device is not in the catalog; name its catalog id with --gpu");
    dm.acc = *cat;
    dm.eff = default_eff;
    dm.notes.push_back(fmt::format("uncalibrated: catalog peaks of {} and the default efficiency profile", cat->id));
  }
  dm.power_w = dm.acc.tdp_w;
  dm.power_source = fmt::format("catalog TDP of {} ({:.0f} W)", cat ? cat->id : dm.acc.name, dm.acc.tdp_w);
  return dm;
}

}  // namespace dlcost::measure
