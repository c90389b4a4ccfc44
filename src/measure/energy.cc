// Energy counters: Intel/AMD RAPL through the Linux powercap interface, NVIDIA GPUs through
// NVML loaded at run time (no build dependency on the driver).
#include <dlfcn.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "dlcost/measure.h"

namespace dlcost::measure {
namespace {

namespace fs = std::filesystem;

bool ReadNumber(const fs::path& p, double* v) {
  std::ifstream in(p);
  if (!in) return false;
  long double x = 0;
  in >> x;
  if (!in) return false;
  *v = static_cast<double>(x);
  return true;
}

// Top-level RAPL zones ("intel-rapl:0", one per package) of the powercap class
// (Linux Documentation/power/powercap/powercap.rst): energy_uj is a wrapping microjoule
// counter, max_energy_range_uj its range.
class RaplMeter : public EnergyMeter {
 public:
  struct Zone {
    fs::path dir;
    std::string name;
    double range_uj = 0;
    double last_uj = 0;
    double total_uj = 0;
  };
  explicit RaplMeter(std::vector<Zone> zones) : zones_(std::move(zones)) {}
  std::string source() const override {
    std::string names;
    for (const Zone& z : zones_) names += (names.empty() ? "" : ", ") + z.name;
    return "rapl (" + names + ")";
  }
  std::optional<double> ReadJoules() override {
    double sum = 0;
    for (Zone& z : zones_) {
      double now = 0;
      if (!ReadNumber(z.dir / "energy_uj", &now)) return std::nullopt;
      double delta = now - z.last_uj;
      if (delta < 0) delta += z.range_uj;  // the counter wrapped
      z.total_uj += delta;
      z.last_uj = now;
      sum += z.total_uj;
    }
    return sum * 1e-6;
  }

 private:
  std::vector<Zone> zones_;
};

// The subset of the NVML C API used here (NVIDIA Management Library reference, nvml.h):
// nvmlReturn_t is an int (0 = NVML_SUCCESS), nvmlDevice_t an opaque pointer.
using NvmlInit = int (*)();
using NvmlShutdown = int (*)();
using NvmlHandleByIndex = int (*)(unsigned int, void**);
using NvmlTotalEnergy = int (*)(void*, unsigned long long*);  // millijoules since driver load
using NvmlDriverVersion = int (*)(char*, unsigned int);
using NvmlDeviceName = int (*)(void*, char*, unsigned int);

struct Nvml {
  void* lib = nullptr;
  NvmlInit init = nullptr;
  NvmlShutdown shutdown = nullptr;
  NvmlHandleByIndex handle = nullptr;
  NvmlTotalEnergy energy = nullptr;
  NvmlDriverVersion driver = nullptr;
  NvmlDeviceName name = nullptr;
  bool ok = false;
};

// Loads NVML once per process; later calls return the same (possibly failed) state.
Nvml& LoadNvml() {
  static Nvml n = [] {
    Nvml r;
    for (const char* so : {"libnvidia-ml.so.1", "libnvidia-ml.so"}) {
      r.lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
      if (r.lib != nullptr) break;
    }
    if (r.lib == nullptr) return r;
    r.init = reinterpret_cast<NvmlInit>(dlsym(r.lib, "nvmlInit_v2"));
    r.shutdown = reinterpret_cast<NvmlShutdown>(dlsym(r.lib, "nvmlShutdown"));
    r.handle = reinterpret_cast<NvmlHandleByIndex>(dlsym(r.lib, "nvmlDeviceGetHandleByIndex_v2"));
    r.energy = reinterpret_cast<NvmlTotalEnergy>(dlsym(r.lib, "nvmlDeviceGetTotalEnergyConsumption"));
    r.driver = reinterpret_cast<NvmlDriverVersion>(dlsym(r.lib, "nvmlSystemGetDriverVersion"));
    r.name = reinterpret_cast<NvmlDeviceName>(dlsym(r.lib, "nvmlDeviceGetName"));
    r.ok = r.init != nullptr && r.handle != nullptr && r.init() == 0;
    return r;
  }();
  return n;
}

class NvmlMeter : public EnergyMeter {
 public:
  NvmlMeter(void* device, std::string name) : device_(device), name_(std::move(name)) {}
  std::string source() const override { return "nvml total energy (" + name_ + ")"; }
  std::optional<double> ReadJoules() override {
    unsigned long long mj = 0;
    if (LoadNvml().energy(device_, &mj) != 0) return std::nullopt;
    return static_cast<double>(mj) * 1e-3;
  }

 private:
  void* device_;
  std::string name_;
};

}  // namespace

std::unique_ptr<EnergyMeter> OpenRapl(const std::string& powercap_root) {
  std::error_code ec;
  if (!fs::is_directory(powercap_root, ec)) return nullptr;
  std::vector<RaplMeter::Zone> zones;
  for (const auto& entry : fs::directory_iterator(powercap_root, ec)) {
    std::string base = entry.path().filename().string();
    // Top-level zones only: "intel-rapl:0" (sub-zones "intel-rapl:0:0" are inside them).
    size_t colon = base.find(':');
    if (colon == std::string::npos || base.find(':', colon + 1) != std::string::npos) continue;
    if (base.rfind("intel-rapl", 0) != 0 && base.rfind("amd-rapl", 0) != 0) continue;
    RaplMeter::Zone z;
    z.dir = entry.path();
    if (!ReadNumber(z.dir / "energy_uj", &z.last_uj)) continue;  // not readable (root only since Linux 5.10)
    ReadNumber(z.dir / "max_energy_range_uj", &z.range_uj);
    std::ifstream name(z.dir / "name");
    if (!(name >> z.name)) z.name = base;
    zones.push_back(z);
  }
  if (zones.empty()) return nullptr;
  std::sort(zones.begin(), zones.end(), [](const auto& a, const auto& b) { return a.dir < b.dir; });
  return std::make_unique<RaplMeter>(std::move(zones));
}

std::unique_ptr<EnergyMeter> OpenNvml(int index) {
  Nvml& n = LoadNvml();
  if (!n.ok || n.energy == nullptr || index < 0) return nullptr;
  void* dev = nullptr;
  if (n.handle(static_cast<unsigned int>(index), &dev) != 0) return nullptr;
  unsigned long long mj = 0;
  if (n.energy(dev, &mj) != 0) return nullptr;  // counter not supported (before Volta)
  std::string name = fmt::format("GPU {}", index);
  char buf[96] = {0};
  if (n.name != nullptr && n.name(dev, buf, sizeof(buf)) == 0) name = buf;
  return std::make_unique<NvmlMeter>(dev, name);
}

std::string NvmlDriverVersion() {
  Nvml& n = LoadNvml();
  if (!n.ok || n.driver == nullptr) return "";
  char buf[96] = {0};
  if (n.driver(buf, sizeof(buf)) != 0) return "";
  return buf;
}

}  // namespace dlcost::measure
