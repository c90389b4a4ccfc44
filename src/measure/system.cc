// The local machine: CPU and memory description, the environment record of a measurement and
// the folder it is recorded in.
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "dlcost/strings.h"
#include "dlcost/measure_record.h"

namespace dlcost::measure {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The value after "key<spaces>:" on the first line that starts with key.
std::string Field(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string k(TrimView(std::string_view(line).substr(0, colon)));
    if (k != key) continue;
    return std::string(TrimView(std::string_view(line).substr(colon + 1)));
  }
  return "";
}

std::string UtcFormat(const char* fmt) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), fmt, &tm);
  return buf;
}

// Busy and total ticks of all CPUs from the first line of /proc/stat (proc(5): user nice
// system idle iowait irq softirq steal ...; idle and iowait are not busy).
bool ReadCpuTicks(double* busy, double* total) {
  std::ifstream in("/proc/stat");
  std::string cpu;
  if (!(in >> cpu) || cpu != "cpu") return false;
  double v[8] = {0};
  for (double& x : v) {
    if (!(in >> x)) return false;
  }
  *total = 0;
  for (double x : v) *total += x;
  *busy = *total - v[3] - v[4];
  return true;
}

// This process's user + system ticks (fields 14 and 15 of /proc/self/stat, proc(5)).
bool ReadSelfTicks(double* ticks) {
  std::string s = ReadAll("/proc/self/stat");
  size_t close = s.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return false;
  std::istringstream in(s.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15; ++i) {
    if (!(in >> field)) return false;
    if (i == 14) utime = std::atof(field.c_str());
    if (i == 15) stime = std::atof(field.c_str());
  }
  *ticks = utime + stime;
  return true;
}

}  // namespace

void CpuInterference::Start() { ok_ = ReadCpuTicks(&busy_, &total_) && ReadSelfTicks(&self_); }

double CpuInterference::OtherPct() const {
  double busy = 0, total = 0, self = 0;
  if (!ok_ || !ReadCpuTicks(&busy, &total) || !ReadSelfTicks(&self)) return 0;
  double d_total = total - total_;
  if (d_total <= 0) return 0;
  double other = (busy - busy_) - (self - self_);
  return std::max(0.0, std::min(100.0, 100.0 * other / d_total));
}

LocalCpu ParseLocalCpu(const std::string& cpuinfo, const std::string& meminfo, int usable_cpus) {
  LocalCpu c;
  c.model_name = Field(cpuinfo, "model name");
  std::istringstream in(cpuinfo);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("processor", 0) == 0) ++c.logical_cpus;
  }
  std::string mhz = Field(cpuinfo, "cpu MHz");
  if (!mhz.empty()) c.mhz = std::atof(mhz.c_str());
  std::string flags = " " + Field(cpuinfo, "flags") + " ";
  auto has = [&](const char* f) { return flags.find(std::string(" ") + f + " ") != std::string::npos; };
  c.avx512f = has("avx512f");
  c.avx2 = has("avx2");
  c.fma = has("fma");
  c.avx512_bf16 = has("avx512_bf16");
  c.amx_bf16 = has("amx_bf16");
  auto kb = [&](const char* key) {
    std::string v = Field(meminfo, key);
    return v.empty() ? 0.0 : std::atof(v.c_str()) * 1024.0;
  };
  c.memory_total_bytes = kb("MemTotal");
  c.memory_available_bytes = kb("MemAvailable");
  c.usable_cpus = usable_cpus > 0 ? usable_cpus : std::max(1, c.logical_cpus);
  if (c.logical_cpus == 0) c.logical_cpus = c.usable_cpus;
  return c;
}

LocalCpu ReadLocalCpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  int usable = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
  return ParseLocalCpu(ReadAll("/proc/cpuinfo"), ReadAll("/proc/meminfo"), usable);
}

std::string TodayUtc() { return UtcFormat("%Y-%m-%d"); }
std::string NowUtcIso() { return UtcFormat("%Y-%m-%dT%H:%M:%SZ"); }

nlohmann::json CollectEnvironment(Device device, const RunnerInfo& runner, const LocalCpu& cpu) {
  nlohmann::json env;
  env["recorded_utc"] = NowUtcIso();
  env["device"] = DeviceName(device);
  env["device_name"] = runner.device_name;
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) env["hostname"] = host;
  struct utsname u;
  if (uname(&u) == 0) env["kernel"] = fmt::format("{} {} {}", u.sysname, u.release, u.machine);
  std::string os = ReadAll("/etc/os-release");
  std::string pretty = Field(os, "PRETTY_NAME");
  if (pretty.size() >= 2 && pretty.front() == '"') pretty = pretty.substr(1, pretty.size() - 2);
  env["os"] = pretty;
  env["debian_version"] = FirstLine("/etc/debian_version");
  env["cpu"] = {{"model_name", cpu.model_name},
                {"logical_cpus", cpu.logical_cpus},
                {"usable_cpus", cpu.usable_cpus},
                {"mhz", cpu.mhz},
                {"avx512f", cpu.avx512f},
                {"avx2", cpu.avx2},
                {"avx512_bf16", cpu.avx512_bf16},
                {"amx_bf16", cpu.amx_bf16}};
  env["memory_total_bytes"] = cpu.memory_total_bytes;
  env["memory_available_bytes"] = cpu.memory_available_bytes;
  env["threads"] = runner.threads;
  env["intra_op_threads"] = runner.intra_op_threads;
  env["loadavg"] = FirstLine("/proc/loadavg");
  env["warnings"] = runner.warnings;
  env["libtorch_version"] = runner.torch_version;
  env["libtorch_cuda"] = runner.cuda_build;
  env["attention"] = runner.attention_impl;
  env["blas"] = runner.blas;
  std::error_code ec;
  fs::path blas_link = fs::read_symlink("/etc/alternatives/libblas.so.3-x86_64-linux-gnu", ec);
  env["blas_alternative"] = ec ? "" : blas_link.string();
  env["parallel_info"] = runner.parallel_info;
  std::string driver = NvmlDriverVersion();
  env["nvidia_driver"] = driver;
  nlohmann::json vars = nlohmann::json::object();
  for (const char* v : {"OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
                        "CUDA_VISIBLE_DEVICES", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"}) {
    if (const char* val = std::getenv(v); val != nullptr) vars[v] = val;
  }
  env["environment_variables"] = vars;
  env["dlcost_version"] = "0.1.0";
  return env;
}

Result<std::string> RecordFolder(const std::string& root, Device device, const std::string& device_name,
                                 const std::string& date) {
  std::string label = "cpu";
  if (device == Device::kCuda) {
    label.clear();
    for (char ch : device_name) {
      unsigned char c = static_cast<unsigned char>(ch);
      char out = std::isalnum(c) ? static_cast<char>(std::tolower(c)) : '-';
      if (out == '-' && (label.empty() || label.back() == '-')) continue;
      label += out;
    }
    while (!label.empty() && label.back() == '-') label.pop_back();
    if (label.empty()) label = "cuda";
  }
  fs::path dir = fs::path(root) / label / date;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return InvalidInput(fmt::format("--record: cannot create '{}': {}", dir.string(), ec.message()));
  return dir.string();
}

}  // namespace dlcost::measure
