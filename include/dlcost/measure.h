// Measurement and calibration on real hardware: the torch-free half.
//
// `dlcost measure` runs real training and inference steps with libtorch (src/measure/torch_*,
// optional, behind the Runner interface below) and `dlcost calibrate` runs microbenchmarks;
// everything that does not need libtorch lives here so that it is built and tested everywhere:
// timing statistics, energy counters (RAPL, NVML through dlopen), the local CPU's description,
// fitting microbenchmarks into a calibration profile, reading (once, into CalibrationProfile)
// and writing profiles, the device model the estimator uses for a measured device, the sweep
// grid and its error summary. What a measurement produced and its record on disk:
// measure_record.h. The commands themselves: api_measure.h.
//
//   DLCOST_ASSIGN_OR_RETURN(nlohmann::json profile, measure::FitProfile(microbench, meta));
//   DLCOST_RETURN_IF_ERROR(measure::WriteProfile(profile, "profile.json"));
//   DLCOST_ASSIGN_OR_RETURN(measure::CalibrationProfile p, measure::LoadCalibrationProfile("profile.json"));
//   DLCOST_ASSIGN_OR_RETURN(measure::DeviceModel dm, measure::CpuDeviceModel(catalog_cpu, default_eff, &p, threads, cpu));
//   DLCOST_ASSIGN_OR_RETURN(TrainingEstimate e, measure::PredictTrain(cut_model, config, dm));
//
// Method, equations and the profile format: docs/measure.md.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/serving.h"
#include "dlcost/status.h"
#include "dlcost/training.h"

namespace dlcost {

enum class Device { kCpu, kCuda };

namespace measure {

const char* DeviceName(Device d);
// "cpu" or "cuda" (also "gpu"); anything else is InvalidInput naming --device.
Result<Device> ParseDevice(std::string_view text);

// ---------------------------------------------------------------------------------------------
// Timing statistics.

struct TimingStats {
  int n = 0;
  double median_s = 0;
  double mean_s = 0;
  double min_s = 0;
  double max_s = 0;
  double p25_s = 0;  // quartiles, linear interpolation between order statistics
  double p75_s = 0;
  double spread_pct = 0;  // interquartile range / median x 100
};
// Summary of `samples` (seconds); n = 0 when empty.
TimingStats Summarize(std::vector<double> samples);
// Median of `v` (0 when empty).
double Median(std::vector<double> v);

// Error of a prediction against a measurement, and the summary over a set of them.
double RelativeError(double predicted, double measured);  // (predicted - measured) / measured
struct ErrorSummary {
  int n = 0;
  double mape_pct = 0;     // mean |relative error| x 100
  double max_ape_pct = 0;  // largest |relative error| x 100
};
ErrorSummary SummarizeErrors(const std::vector<double>& relative_errors);

// ---------------------------------------------------------------------------------------------
// Energy counters.

// A cumulative energy counter of the device under test.
class EnergyMeter {
 public:
  virtual ~EnergyMeter() = default;
  virtual std::string source() const = 0;  // "rapl: package-0 ..." or "nvml: ..."
  // Joules since an arbitrary origin (wrap-around handled), nullopt when the read failed.
  virtual std::optional<double> ReadJoules() = 0;
};
// RAPL package counters under `powercap_root` (/sys/class/powercap), or null when none is
// readable (no such folder, no permission).
std::unique_ptr<EnergyMeter> OpenRapl(const std::string& powercap_root = "/sys/class/powercap");
// NVML total-energy counter of GPU `index`, loading libnvidia-ml at run time (dlopen); null
// when the library, the GPU or the counter is not there.
std::unique_ptr<EnergyMeter> OpenNvml(int index);
// NVIDIA driver version through NVML, or "" when NVML is not there.
std::string NvmlDriverVersion();

// ---------------------------------------------------------------------------------------------
// The local CPU.

struct LocalCpu {
  std::string model_name;
  int logical_cpus = 0;  // online CPUs
  int usable_cpus = 0;   // CPUs this process may run on (affinity mask)
  double mhz = 0;        // nominal clock from /proc/cpuinfo (0 when unknown)
  bool avx512f = false, avx2 = false, fma = false, avx512_bf16 = false, amx_bf16 = false;
  double memory_total_bytes = 0;
  double memory_available_bytes = 0;
};
// Reads /proc/cpuinfo, /proc/meminfo and the affinity mask.
LocalCpu ReadLocalCpu();
// Parses the text of /proc/cpuinfo and /proc/meminfo (for tests).
LocalCpu ParseLocalCpu(const std::string& cpuinfo, const std::string& meminfo, int usable_cpus);

// How much of the machine other processes used while something ran: all CPUs' busy time
// (/proc/stat) minus this process's CPU time (/proc/self/stat), over all CPUs' total time. On a
// shared machine this says whether a timing was disturbed.
class CpuInterference {
 public:
  void Start();
  // Percent of the machine's CPU capacity used by other processes since Start (0 when
  // /proc is not readable).
  double OtherPct() const;

 private:
  double busy_ = 0, total_ = 0, self_ = 0;
  bool ok_ = false;
};

// ---------------------------------------------------------------------------------------------
// What the runner measured.

struct StepSamples {
  std::vector<double> step_s;       // timed steps, in order
  double peak_memory_bytes = 0;     // see memory_method
  std::string memory_method;
  std::optional<double> energy_j;   // over all timed steps, when a counter was read
  std::string energy_source;
  double final_loss = 0;
  double other_cpu_pct = 0;         // CPU capacity other processes used during the timed steps
};

struct InferSamples {
  std::vector<double> prefill_s;      // one per repetition
  std::vector<double> decode_step_s;  // every decode step of every repetition
  double peak_memory_bytes = 0;
  std::string memory_method;
  std::optional<double> energy_j;     // over all timed repetitions
  std::string energy_source;
  double timed_s = 0;                 // wall time covered by energy_j
  double other_cpu_pct = 0;
};

// What the libtorch runner found when it started (src/measure/runner.h).
struct RunnerInfo {
  std::string torch_version;       // "1.13.0"
  std::string device_name;         // "cpu" or the CUDA device's name
  int threads = 0;                 // CPU cores the run uses (BLAS threads)
  int intra_op_threads = 0;        // libtorch intra-op (OpenMP) threads
  double device_memory_bytes = 0;  // memory a run may use (CPU: MemAvailable; CUDA: total)
  bool fused_attention = false;    // scaled_dot_product_attention (CUDA, libtorch >= 2.0)
  std::string attention_impl;
  std::string blas;                // BLAS library and kernel set ("OpenBLAS 0.3.21 ..., core SkylakeX")
  std::string parallel_info;
  bool cuda_build = false;
  std::vector<std::string> warnings;  // conditions that make timings unrepresentative
};

// A training run: `model` (already cut to the layers to run) trained on random tokens.
struct TrainRun {
  ModelSpec model;
  int64_t batch = 1;
  int64_t seq = 128;
  Dtype dtype = Dtype::kFp32;
  int warmup = 2;
  int steps = 5;
};

// An inference run: prefill `prompt` tokens for `batch` sequences, then decode `generate`
// tokens one at a time against a KV cache.
struct InferRun {
  ModelSpec model;
  int64_t batch = 1;
  int64_t prompt = 128;
  int64_t generate = 16;
  Dtype dtype = Dtype::kFp32;
  int warmup = 1;
  int reps = 3;
};

struct MicrobenchPlan;
struct MicrobenchData;

// Called with a short label before each stage of long work (may be empty).
using ProgressFn = std::function<void(const std::string&)>;

// The libtorch runner as torch-free code drives it. dlcost_measure_torch implements it
// (measure_runner.h, TorchRunner()); a program built without libtorch has none, and the
// measure commands then stop with Unavailable after checking their input.
class Runner {
 public:
  virtual ~Runner() = default;
  // Selects the device and the threads for every later call (InitRunner in measure_runner.h);
  // Unavailable when the device is not usable.
  virtual Result<RunnerInfo> Init(Device device, int threads, int intra_op_threads) = 0;
  // `run.warmup` untimed and `run.steps` timed training steps; `meter` (may be null) is read
  // around the timed steps.
  virtual Result<StepSamples> TrainSteps(const TrainRun& run, EnergyMeter* meter) = 0;
  // Prefill and decode repetitions of `run`, timed the same way.
  virtual Result<InferSamples> InferSteps(const InferRun& run, EnergyMeter* meter) = 0;
  // The calibration microbenchmarks of `plan`.
  virtual Result<MicrobenchData> Microbenchmarks(const MicrobenchPlan& plan, const ProgressFn& progress) = 0;
};

// ---------------------------------------------------------------------------------------------
// Microbenchmarks and the fit.

struct MicrobenchPlan {
  Device device = Device::kCpu;
  std::vector<Dtype> dtypes;
  bool quick = false;
};

// One GEMM shape timed as a linear layer trains it: forward Y = X W^T ([m x k] by [k x n]),
// input gradient dX = dY W, weight gradient dW = dY^T X.
struct GemmSample {
  Dtype dtype = Dtype::kFp32;
  int64_t m = 0, k = 0, n = 0;
  double fwd_s = 0, dgrad_s = 0, wgrad_s = 0;
};
// A memory-bound operation: `modelled_bytes` is the traffic the estimator charges for it.
struct MemorySample {
  std::string op;  // "copy", "layer_elementwise", "softmax", "cross_entropy"
  Dtype dtype = Dtype::kFp32;
  double modelled_bytes = 0;
  double seconds = 0;
};
// Unfused (or fused) attention, forward and backward, as the runner runs it.
struct AttentionSample {
  std::string block;  // the probe model's block style (BlockStyle): its heads and key/value heads
  Dtype dtype = Dtype::kFp32;
  int64_t batch = 0, heads = 0, seq = 0, head_dim = 0;
  bool causal = true;
  double fwd_s = 0, bwd_s = 0;
};
// Training steps of a tiny model (no measurable arithmetic): per-step and per-layer overheads.
struct OverheadSample {
  std::string block;  // "gelu", "swiglu", "moe"
  int64_t layers = 0;
  int64_t experts = 0;
  double step_s = 0;
};
// One AdamW step over `params` parameters (dtype: the training precision; mixed precision
// includes the fp32 master copy).
struct OptimizerSample {
  Dtype dtype = Dtype::kFp32;
  double params = 0;
  int64_t tensors = 0;
  double seconds = 0;
};

struct MicrobenchData {
  Device device = Device::kCpu;
  std::string device_name;
  int threads = 0;
  bool quick = false;
  bool fused_attention = false;  // the runner's attention (scaled_dot_product_attention)
  double memory_total_bytes = 0;
  double other_cpu_pct = 0;  // CPU capacity other processes used during the microbenchmarks
  double dispatch_s = 0;  // one tiny GEMM call: the framework's per-operator cost
  std::vector<GemmSample> gemm;
  std::vector<MemorySample> memory;
  std::vector<AttentionSample> attention;
  std::vector<OverheadSample> overhead;
  std::vector<OptimizerSample> optimizer;
};

// The microbenchmark plan: GEMM shapes, the tiny models whose steps measure overheads and the
// layer shape of the elementwise and attention microbenchmarks (docs/measure.md).
struct GemmShape {
  int64_t m = 0, k = 0, n = 0;
};
std::vector<GemmShape> GemmGrid(Device device, bool quick);
// Block styles with their own overheads and memory efficiency: "gelu" (GPT-2: LayerNorm,
// learned positions, biases, MHA), "gated" (Llama: RMSNorm, RoPE, GQA, SwiGLU) and "moe"
// (gated with routed experts).
std::string BlockStyle(const ModelSpec& m);
// A model with negligible arithmetic in `style`, for the overhead microbenchmark.
ModelSpec OverheadModel(const std::string& style, int64_t layers, int64_t experts);
// The model whose layer shape the elementwise and attention microbenchmarks use (`style` as
// above, gelu or gated), sized for `device`.
ModelSpec ProbeModel(const std::string& style, Device device);
struct ProbeShape {
  int64_t batch = 1, seq = 128;
};
std::vector<ProbeShape> ElementwiseShapes(Device device);  // the same in the quick and full plans
std::vector<ProbeShape> AttentionShapes(Device device, bool quick);

// The memory-bound traffic the estimator charges for one transformer layer's norms and
// elementwise operations (forward + backward) over `tokens` tokens, bytes, with act_bytes per
// element: read from the entries of the layer in the op graph of `m` (its norm ops and
// perf::LayerElementwiseOf), the same entries the runner's layer is built from. Turns the
// elementwise microbenchmark into a memory efficiency (docs/measure.md).
double ModelledLayerElementwiseBytes(const ModelSpec& m, double tokens, double act_bytes);
// The traffic the estimator charges for the cross-entropy over fp32 logits of `tokens` tokens
// and a `vocab`-wide LM head, forward + backward: the logits read, written and read again, each
// way (src/perf/training.cc, GroupCosts::logits_s), bytes.
double ModelledCrossEntropyBytes(int64_t tokens, int64_t vocab);

// Extra information written into a profile.
struct ProfileMeta {
  std::string id;           // profile id ("" = calibrated-<device>)
  std::string device_name;
  std::string created_utc;  // ISO 8601
  std::string torch_version;
  int threads = 0;
  int intra_op_threads = 0;
  double memory_total_bytes = 0;
  double power_w = 0;       // assumed device power (0: unknown)
  std::string power_source;
};

// Fits the microbenchmarks into a calibration profile (JSON in the format of
// data/efficiency/default.json plus the measured device and curves; docs/measure.md).
// InvalidInput when the data cannot support a fit (no GEMM samples, non-positive times).
Result<nlohmann::json> FitProfile(const MicrobenchData& data, const ProfileMeta& meta);

// The piecewise-linear curve through (x, y) points, x ascending: fitted from samples by the
// median of y in log-spaced x bins (at most `bins`), then made non-decreasing.
EfficiencyCurve FitCurve(std::vector<std::pair<double, double>> xy, int bins);

// Writes `text` to `path` through a temporary file in the same folder and a rename, so that
// `path` is either untouched or complete.
Status WriteFileAtomically(const std::string& path, const std::string& text, const char* flag);

// Validates `profile` (by reading it back as LoadCalibrationProfile does, device included) and
// writes it atomically to `path`.
Status WriteProfile(const nlohmann::json& profile, const std::string& path);

// ---------------------------------------------------------------------------------------------
// A calibration profile, read once.

// Figures measured by `dlcost calibrate` for the device itself.
struct MeasuredDevice {
  Device device = Device::kCpu;
  std::string name;
  int threads = 0;
  std::array<std::optional<double>, kNumDtypes> peak_flops{};  // FLOP/s, best GEMM shape
  double memory_bandwidth_bytes_s = 0;                         // copy bandwidth (read + write)
  double memory_bytes = 0;
  double power_w = 0;
};

// Figures a calibration profile measures per precision and block style (docs/measure.md).
struct CalibratedFigures {
  // memory_fraction by precision and block style ("gelu", "gated", "moe"); adamw bytes and the
  // loss fraction by precision; overheads by block style.
  std::map<std::string, std::map<std::string, double>> memory_fraction;
  std::map<std::string, double> adamw_bytes_per_param;
  std::map<std::string, double> loss_memory_fraction;  // cross-entropy over fp32 logits, by precision
  std::map<std::string, EfficiencyCurve> adamw_bytes_curve;  // bytes per parameter by parameters, by precision
  std::map<std::string, double> attention_time_factor;     // measured / modelled attention, by precision
  std::map<std::string, double> layer_host_overhead_s;
  std::map<std::string, double> step_overhead_s;
  double expert_overhead_s = 0;  // per routed expert and MoE layer, forward (backward twice)
};

// Everything a profile file holds, typed: the estimator's efficiency figures, the measured
// device and the per-precision and per-block figures.
struct CalibrationProfile {
  std::string path;
  // The top-level efficiency figures (LoadEfficiency with no GPU-specific override: a
  // calibration profile describes one device).
  EfficiencyProfile efficiency;
  std::optional<MeasuredDevice> device;  // the "device" section; absent in a plain efficiency profile
  CalibratedFigures figures;             // the "calibrated" and "overheads" sections (empty when absent)
};
// Reads the profile at `path`: InvalidInput naming the file and the field for anything it
// cannot read (a missing file, bad JSON, a field out of range, a malformed device section).
Result<CalibrationProfile> LoadCalibrationProfile(const std::string& path);
// The measured device of `p`, or InvalidInput naming --calibration when `p` is a plain
// efficiency profile (no "device" section, such as data/efficiency/default.json).
Result<MeasuredDevice> RequireMeasuredDevice(const CalibrationProfile& p);

// The accelerator a measured device stands for in the estimator.
Accelerator MeasuredAccelerator(const MeasuredDevice& d);

struct DeviceModel {
  Accelerator acc;
  EfficiencyProfile eff;
  CalibratedFigures figures;
  bool calibrated = false;
  std::string profile_path;
  double power_w = 0;  // for energy estimates when no counter is readable
  std::string power_source;
  std::vector<std::string> notes;  // where each figure came from
};

// The local CPU as an accelerator: `threads` cores (0: every usable CPU). With a calibration
// profile: its measured peaks, bandwidth and curves. Without: peaks from the CPU's vector units
// and clock, and the per-core bandwidth and power of `catalog_cpu` (the catalog's `cpu` entry;
// stated assumptions, docs/measure.md), with `default_eff` (the shipped default profile).
// InvalidInput naming --calibration when the profile was measured on a GPU.
Result<DeviceModel> CpuDeviceModel(const Accelerator& catalog_cpu, const EfficiencyProfile& default_eff,
                                   const CalibrationProfile* calibration, int threads, const LocalCpu& cpu);
// A CUDA GPU: the catalog entry `catalog_gpu` with `default_eff`, or, with a calibration
// profile, its measured peaks (memory size and power from the catalog entry when given).
// InvalidInput naming --gpu when neither is given, --calibration when the profile is a CPU's.
Result<DeviceModel> GpuDeviceModel(const std::optional<Accelerator>& catalog_gpu, const EfficiencyProfile& default_eff,
                                   const CalibrationProfile* calibration);
// The catalog id of a CUDA device name ("NVIDIA H100 80GB HBM3" -> h100-sxm-80gb), or "".
std::string MatchCatalogGpu(const HardwareCatalog& hw, const std::string& device_name);

// ---------------------------------------------------------------------------------------------
// Models and predictions.

// `model` cut to `layers` transformer layers (MoE: dense layers first, as in the model).
// InvalidInput for what the runner cannot build (MLA, non-language models) or bad counts.
Result<ModelSpec> CutModel(const ModelSpec& model, int64_t layers);

struct TrainConfig {
  int64_t batch = 1;
  int64_t seq = 128;
  Dtype dtype = Dtype::kFp32;
  bool fused_attention = false;  // the runner's attention (scaled_dot_product_attention)
};
// The estimator's step time and memory for one training step of `model` as the runner runs it:
// one device, micro-batch = global batch = `batch`, AdamW, no recompute, no dropout.
Result<TrainingEstimate> PredictTrain(const ModelSpec& model, const TrainConfig& c, const DeviceModel& dm);

// Memory the run needs, bytes (the estimator's memory model plus the runner's own buffers);
// Infeasible, naming both figures, when it exceeds `available_bytes`.
Status CheckFits(const TrainingEstimate& e, double available_bytes, const std::string& what);

struct InferConfig {
  int64_t batch = 1;
  int64_t prompt = 128;
  int64_t generate = 16;
  Dtype dtype = Dtype::kFp32;
};
// What an inference run holds in memory: the weights in the runner's precision and the KV
// cache of every sequence at its full length, bytes.
struct InferMemory {
  double weights_bytes = 0;
  double kv_cache_bytes = 0;
  double need_bytes = 0;  // both plus the 20% margin of CheckFits
};
Result<InferMemory> InferMemoryNeed(const ModelSpec& model, const InferConfig& c);
// The serving estimator's prediction for one static batch of `c` on the device of `dm` (prefill =
// its time to first token, decode = its decode step), or the estimator's error.
Result<ServingEstimate> PredictInfer(const ModelSpec& model, const InferConfig& c, const DeviceModel& dm);

// ---------------------------------------------------------------------------------------------
// The sweep.

struct SweepCase {
  std::string name;
  std::string regime;  // "compute-bound", "memory/overhead-bound", "attention-heavy", "moe"
  ModelSpec model;     // already cut to its layers
  int64_t batch = 1;
  int64_t seq = 128;
  Dtype dtype = Dtype::kFp32;
};
// The standard grid (>= 10 cases spanning compute- and memory-bound regimes) or, with `tiny`,
// three small cases for tests. CUDA grids use larger shapes.
std::vector<SweepCase> SweepGrid(Device device, Dtype dtype, bool tiny);

}  // namespace measure
}  // namespace dlcost
