// The libtorch runner (measure_runner.h): device set-up, timed training and inference steps.
#include "dlcost/measure_runner.h"

#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "measure/torch_model.h"

#ifdef DLCOST_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace dlcost::measure {
namespace {

using Clock = std::chrono::steady_clock;

struct RunnerState {
  bool initialised = false;
  Device device = Device::kCpu;
  torch::Device torch_device = torch::kCPU;
  RunnerInfo info;
};
RunnerState& State() {
  static RunnerState s;
  return s;
}

// A /proc/self/status field in bytes (the kernel reports kB), or -1.
double ProcStatusBytes(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  std::string prefix = std::string(key) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      std::istringstream ss(line.substr(prefix.size()));
      double kb = 0;
      ss >> kb;
      return kb * 1024.0;
    }
  }
  return -1;
}

// Resets the peak resident set size (VmHWM) to the current one: writing "5" to clear_refs
// (Linux 4.0+, Documentation/filesystems/proc.rst, "/proc/pid/clear_refs").
bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// Peak-memory bookkeeping around a run.
class PeakMemory {
 public:
  explicit PeakMemory(const torch::Device& d) : device_(d) {
    if (!device_.is_cuda()) {
      malloc_trim(0);  // give freed heap pages back so the baseline is the live set
      baseline_ = ProcStatusBytes("VmRSS");
    }
  }
  void ResetPeak() {
#ifdef DLCOST_TORCH_CUDA
    if (device_.is_cuda()) {
      c10::cuda::CUDACachingAllocator::resetPeakStats(device_.index() < 0 ? 0 : device_.index());
      return;
    }
#endif
    reset_ok_ = ResetPeakRss();
  }
  // Bytes above the baseline at the peak since construction (or since ResetPeak, which keeps
  // the model and optimizer state in the figure since they are live at that point).
  double PeakBytes(std::string* method) const {
#ifdef DLCOST_TORCH_CUDA
    if (device_.is_cuda()) {
      auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index() < 0 ? 0 : device_.index());
      *method = "CUDA caching allocator: peak allocated bytes over the timed steps";
      return static_cast<double>(stats.allocated_bytes[0].peak);  // index 0: all pools
    }
#endif
    double hwm = ProcStatusBytes("VmHWM");
    *method = reset_ok_ ? "process peak RSS (VmHWM, reset before the timed steps) minus the RSS before the model was built"
                        : "process peak RSS (VmHWM, not resettable here) minus the RSS before the model was built";
    return std::max(0.0, hwm - baseline_);
  }

 private:
  torch::Device device_;
  double baseline_ = 0;
  bool reset_ok_ = false;
};

std::string BlasDescription() {
  using StrFn = char* (*)();
  auto config = reinterpret_cast<StrFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  auto core = reinterpret_cast<StrFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (config != nullptr) {
    const char* chosen = std::getenv("DLCOST_CHOSE_OPENBLAS_CORETYPE");
    return fmt::format("{} (kernel set: {}{})", config(), core != nullptr ? core() : "unknown",
                       chosen != nullptr ? ", chosen by dlcost for this CPU; OPENBLAS_CORETYPE overrides it" : "");
  }
#ifdef DLCOST_TORCH_CUDA
  if (State().device == Device::kCuda) return "cuBLAS (through libtorch)";
#endif
  return "libblas.so.3 (not OpenBLAS, or not exporting openblas_get_config)";
}

void SetBlasThreads(int threads) {
  using SetFn = void (*)(int);
  auto set = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set != nullptr) set(threads);
}

// OpenBLAS's threading model: 0 sequential, 1 its own pthreads pool, 2 OpenMP (OpenBLAS
// documentation, "openblas_get_parallel"); -1 when the BLAS is not OpenBLAS.
int OpenBlasParallel() {
  using IntFn = int (*)();
  auto get = reinterpret_cast<IntFn>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
  return get != nullptr ? get() : -1;
}

std::string OpenBlasCore() {
  using StrFn = char* (*)();
  auto core = reinterpret_cast<StrFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return core != nullptr ? core() : "";
}

// The kernel set for this CPU when OpenBLAS runs `core` and a better one exists, else "".
std::string BetterBlasKernelsFor(const std::string& core) {
  if (core != "Prescott") return "";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
  if (__builtin_cpu_supports("avx2")) return "Haswell";
  return "";
}

int UsableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

Status FromException(const std::exception& e, const std::string& what) {
  std::string msg = e.what();
  // c10::Error messages carry a C++ backtrace after the first line: keep the first line.
  size_t nl = msg.find('\n');
  if (nl != std::string::npos) msg = msg.substr(0, nl);
  if (msg.find("out of memory") != std::string::npos || msg.find("not enough memory") != std::string::npos ||
      msg.find("DefaultCPUAllocator: can't allocate") != std::string::npos) {
    return Infeasible(fmt::format("{}: the device ran out of memory ({})", what, msg));
  }
  return Status(StatusCode::kInternal, fmt::format("{}: libtorch error: {}", what, msg));
}

}  // namespace

std::string BetterBlasKernels() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return "";
  return BetterBlasKernelsFor(OpenBlasCore());
}

const torch::Device& RunnerDevice() { return State().torch_device; }
const RunnerInfo& RunnerDescription() { return State().info; }

Result<RunnerInfo> InitRunner(Device device, int threads, int intra_op_threads) {
  RunnerState& st = State();
  try {
    RunnerInfo info;
    info.torch_version = TORCH_VERSION;
#ifdef DLCOST_TORCH_CUDA
    info.cuda_build = true;
#endif
    int usable = UsableCpus();
    // Keep freed memory in the process heap for the next step (glibc mallopt: no mmap for large
    // blocks, no trimming below 1 GiB), as PyTorch's CUDA caching allocator does on GPUs and
    // jemalloc/tcmalloc do when preloaded for CPU training: otherwise every step maps, faults in
    // and zeroes its large tensors afresh, a cost that belongs to the allocator, not the model.
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    info.threads = threads > 0 ? threads : usable;
    bool blas_pool = OpenBlasParallel() == 1;
    info.intra_op_threads = intra_op_threads > 0 ? intra_op_threads : (blas_pool && device == Device::kCpu ? 1 : info.threads);
    at::set_num_threads(info.intra_op_threads);
    SetBlasThreads(info.threads);
    if (OpenBlasCore() == "Prescott" && !BetterBlasKernelsFor("Prescott").empty()) {
      // Only when OPENBLAS_CORETYPE pins the generic kernels: dlcost-measure otherwise restarts
      // itself with the CPU's kernel set (BetterBlasKernels).
      info.warnings.push_back(fmt::format(
          "OPENBLAS_CORETYPE=Prescott: OpenBLAS runs its generic SSE3 kernels; fp32 GEMMs run several times below "
          "this CPU's vector units ({} kernels). Measurements and calibration stay consistent with each other",
          BetterBlasKernelsFor("Prescott")));
    }
    if (device == Device::kCuda) {
      if (!info.cuda_build) {
        return Unavailable("--device cuda: this dlcost was built against a libtorch without CUDA (see "
                           "scripts/measure-gpu.sh)");
      }
      if (!torch::cuda::is_available()) return Unavailable("--device cuda: no CUDA device is visible");
#ifdef DLCOST_TORCH_CUDA
      const cudaDeviceProp* prop = at::cuda::getDeviceProperties(0);
      info.device_name = prop->name;
      info.device_memory_bytes = static_cast<double>(prop->totalGlobalMem);
#endif
      st.torch_device = torch::Device(torch::kCUDA, 0);
#if TORCH_VERSION_MAJOR >= 2
      info.fused_attention = true;
#endif
    } else {
      info.device_name = "cpu";
      st.torch_device = torch::kCPU;
    }
    info.attention_impl = info.fused_attention ? "scaled_dot_product_attention (fused)"
                                               : "unfused: matmul, causal mask, softmax, matmul";
    st.device = device;
    info.blas = BlasDescription();
    std::string par = at::get_parallel_info();
    size_t cut = par.find("Environment variables");
    info.parallel_info = par.substr(0, cut);
    st.info = info;
    st.initialised = true;
    return info;
  } catch (const std::exception& e) {
    return FromException(e, "--device");
  }
}

Result<StepSamples> RunTrainSteps(const TrainRun& run, EnergyMeter* meter) {
  RunnerState& st = State();
  if (!st.initialised) return Status(StatusCode::kInternal, "RunTrainSteps before InitRunner");
  try {
    torch::manual_seed(0);
    bool tf32 = run.dtype == Dtype::kTf32;
    at::globalContext().setAllowTF32CuBLAS(tf32);
    at::globalContext().setAllowTF32CuDNN(tf32);
    PeakMemory mem(st.torch_device);
    StepSamples out;
    {
      TorchModel model = TorchModel::Build(run.model, run.seq, TorchDtype(run.dtype), st.torch_device,
                                           st.info.fused_attention);
      Trainer trainer(&model, run.batch, run.seq);
      for (int i = 0; i < run.warmup; ++i) trainer.Step();
      mem.ResetPeak();
      std::optional<double> e0 = meter ? meter->ReadJoules() : std::nullopt;
      CpuInterference others;
      others.Start();
      for (int i = 0; i < run.steps; ++i) {
        auto t0 = Clock::now();
        out.final_loss = trainer.Step();
        out.step_s.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      }
      out.other_cpu_pct = others.OtherPct();
      std::optional<double> e1 = meter ? meter->ReadJoules() : std::nullopt;
      if (e0 && e1 && *e1 >= *e0) {
        out.energy_j = *e1 - *e0;
        out.energy_source = meter->source();
      }
      out.peak_memory_bytes = mem.PeakBytes(&out.memory_method);
    }
    malloc_trim(0);
    return out;
  } catch (const std::bad_alloc&) {
    return Infeasible("measure train: the host ran out of memory");
  } catch (const std::exception& e) {
    return FromException(e, "measure train");
  }
}

Result<InferSamples> RunInferSteps(const InferRun& run, EnergyMeter* meter) {
  RunnerState& st = State();
  if (!st.initialised) return Status(StatusCode::kInternal, "RunInferSteps before InitRunner");
  try {
    torch::manual_seed(0);
    at::globalContext().setAllowTF32CuBLAS(run.dtype == Dtype::kTf32);
    PeakMemory mem(st.torch_device);
    InferSamples out;
    {
      int64_t capacity = run.prompt + run.generate;
      TorchModel model = TorchModel::Build(run.model, capacity, TorchDtype(run.dtype), st.torch_device,
                                           st.info.fused_attention);
      torch::NoGradGuard no_grad;
      auto ids = torch::TensorOptions().dtype(torch::kLong).device(st.torch_device);
      torch::Tensor prompt = torch::randint(0, run.model.vocab, {run.batch, run.prompt}, ids);
      KvCache cache = model.NewCache(run.batch, capacity);
      auto one = [&](bool timed) {
        cache.length = 0;
        auto t0 = Clock::now();
        torch::Tensor next = model.Forward(prompt, &cache).argmax(-1, true);
        Sync(st.torch_device);
        auto t1 = Clock::now();
        if (timed) out.prefill_s.push_back(std::chrono::duration<double>(t1 - t0).count());
        for (int64_t g = 0; g < run.generate; ++g) {
          auto d0 = Clock::now();
          next = model.Forward(next, &cache).argmax(-1, true);
          Sync(st.torch_device);
          if (timed) out.decode_step_s.push_back(std::chrono::duration<double>(Clock::now() - d0).count());
        }
      };
      for (int i = 0; i < run.warmup; ++i) one(false);
      mem.ResetPeak();
      std::optional<double> e0 = meter ? meter->ReadJoules() : std::nullopt;
      CpuInterference others;
      others.Start();
      auto w0 = Clock::now();
      for (int i = 0; i < run.reps; ++i) one(true);
      out.other_cpu_pct = others.OtherPct();
      out.timed_s = std::chrono::duration<double>(Clock::now() - w0).count();
      std::optional<double> e1 = meter ? meter->ReadJoules() : std::nullopt;
      if (e0 && e1 && *e1 >= *e0) {
        out.energy_j = *e1 - *e0;
        out.energy_source = meter->source();
      }
      out.peak_memory_bytes = mem.PeakBytes(&out.memory_method);
    }
    malloc_trim(0);
    return out;
  } catch (const std::bad_alloc&) {
    return Infeasible("measure infer: the host ran out of memory");
  } catch (const std::exception& e) {
    return FromException(e, "measure infer");
  }
}

namespace {

class TorchRunnerImpl : public Runner {
 public:
  Result<RunnerInfo> Init(Device device, int threads, int intra_op_threads) override {
    return InitRunner(device, threads, intra_op_threads);
  }
  Result<StepSamples> TrainSteps(const TrainRun& run, EnergyMeter* meter) override { return RunTrainSteps(run, meter); }
  Result<InferSamples> InferSteps(const InferRun& run, EnergyMeter* meter) override { return RunInferSteps(run, meter); }
  Result<MicrobenchData> Microbenchmarks(const MicrobenchPlan& plan, const ProgressFn& progress) override {
    return RunMicrobenchmarks(plan, progress);
  }
};

}  // namespace

Runner& TorchRunner() {
  static TorchRunnerImpl runner;
  return runner;
}

}  // namespace dlcost::measure
