// Efficiency profiles: the fractions of datasheet peaks that kernels and links reach on a GPU,
// read once from data/efficiency/*.json or from a profile written by `dlcost calibrate`.
//
//   DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile eff, LoadEfficiency(data_dir + "/efficiency/default.json",
//                                                                  "h100-sxm-80gb"));
//   eff.gemm_max_fraction                       // 0.8: GEMMs reach 80% of the peak FLOP/s
//   eff.gemm_curve[int(Dtype::kBf16)].At(512)   // a calibrated curve, by arithmetic intensity
//
// Each shipped figure carries its source beside it in data/efficiency/default.json; the fields
// `dlcost calibrate` writes: docs/measure.md, "Profile format".
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "dlcost/hardware.h"
#include "dlcost/status.h"

namespace dlcost {

// An efficiency measured as a function of a size: y (a fraction of peak) at x, piecewise linear
// in log x between the points and constant beyond the ends. Empty: not measured.
struct EfficiencyCurve {
  std::vector<double> x;  // ascending, > 0
  std::vector<double> y;  // efficiency curves: in (0, 1]
  bool empty() const { return x.empty(); }
  // y at `v` (log-linear between points, the end value beyond them); 0 for an empty curve.
  double At(double v) const;
};

// A curve from the JSON object `c` with ascending positive `x_key` values and `y_key` values in
// (0, y_max]; InvalidInput naming `where` and the field otherwise.
Result<EfficiencyCurve> ParseCurveJson(const nlohmann::json& c, const std::string& where, const char* x_key,
                                       const char* y_key, double y_max);

// Efficiency figures (fractions of datasheet peaks) from data/efficiency/*.json or a
// calibration profile.
struct EfficiencyProfile {
  std::string id = "default";
  double gemm_max_fraction = 0.8;
  double gemm_max_fraction_fp8 = 0;  // 0: same as gemm_max_fraction
  double attention_max_fraction = 0.6;
  double memory_fraction = 0.8;
  double kernel_overhead_s = 4e-6;
  double intra_node_fraction = 0.69;
  double inter_node_fraction = 0.85;
  double pcie_fraction = 0.75;
  // Host time to dispatch one transformer layer's forward pass (framework, autograd, kernel
  // launches). A layer's time is max(GPU work, host dispatch): small layers become host-bound.
  double layer_host_overhead_s = 0;

  // Written by `dlcost calibrate` (docs/measure.md); inactive unless a profile sets them.
  // GEMM efficiency by arithmetic intensity (FLOPs per element moved, 2mkn / (mk + kn + mn)),
  // per precision; a precision with a curve uses it instead of gemm_max_fraction.
  std::array<EfficiencyCurve, kNumDtypes> gemm_curve;
  // Weight streaming as decoding runs it (one row times the weights), per precision: the rate
  // as a fraction of the device's memory bandwidth by the weights' working set in bytes (above 1
  // where the caches hold them). The serving estimator charges matrix-vector weight reads with it.
  std::array<EfficiencyCurve, kNumDtypes> weight_stream_curve;
  // The host is the device (a CPU): framework dispatch time adds to the compute time instead of
  // hiding under it (layer time = work + host, not max(work, host)).
  bool host_overhead_serial = false;
  double step_overhead_s = 0;        // per optimizer step: loss, gradient reset, optimizer dispatch
  double adamw_bytes_per_param = 0;  // AdamW traffic per parameter; 0: the fused-kernel figure
  // Fraction of bandwidth the cross-entropy over fp32 logits reaches; 0: memory_fraction.
  double loss_memory_fraction = 0;
  // AdamW traffic per parameter by the optimizer parameters one device holds (x: parameters,
  // y: bytes per parameter, interpolated in log x): the cost per parameter grows as the
  // optimizer state outgrows the caches. When set it replaces adamw_bytes_per_param.
  EfficiencyCurve adamw_bytes_curve;
  // Measured attention time (forward + backward) over the modelled one: the estimator's
  // attention term is multiplied by it (fused and unfused alike).
  double attention_time_factor = 1.0;

  // Fused attention's fraction of peak by kernel name ("flash2", "flash3", "cudnn", "sdpa", ...)
  // on this GPU; a kernel absent here runs at attention_max_fraction.
  std::map<std::string, double> attention_kernel_fraction;
  // The same kernels' backward pass, where it was measured apart from the forward pass; a kernel
  // absent here runs its backward at its forward fraction.
  std::map<std::string, double> attention_kernel_backward_fraction;
  // The backward fraction the estimator uses (resolved from the map above for the kernel that
  // runs; 0: the forward fraction, attention_max_fraction).
  double attention_backward_fraction = 0;
  // Share by which compute slows while a collective runs beside it: the collective's kernels
  // occupy that share of the streaming multiprocessors (NCCL's CTAs over the GPU's SMs).
  double comm_compute_slowdown = 0.25;
  // Sources (as NormalizeSource names them) whose measurements fitted a figure of this profile:
  // the validator reports their cases apart from the leave-one-source-out figures.
  std::vector<std::string> fit_sources;
  // A correction `dlcost ledger fit` learnt from this team's runs on this GPU (docs/ledger.md,
  // "Fit"): the modelled step time is multiplied by it (1: none). Read from the profile's
  // "ledger_corrections" entry for the GPU.
  double run_time_factor = 1.0;
  int64_t run_time_factor_pairs = 0;
  double run_time_factor_sd_log = 0;
  std::string run_time_factor_key;  // the GPU (or cluster) it was fitted for
};

// Reads the profile at `path`, with the overrides of its "per_gpu" entry for `gpu_id` applied;
// InvalidInput naming the file and the field when a value is missing its range.
Result<EfficiencyProfile> LoadEfficiency(const std::string& path, const std::string& gpu_id);

// Arithmetic intensity of an [m x k] by [k x n] GEMM in FLOPs per element moved:
// 2mkn / (mk + kn + mn); the abscissa of EfficiencyProfile::gemm_curve. Inline: the training
// estimator calls it for every GEMM of every layout the planner evaluates.
inline double GemmIntensity(double m, double k, double n) {
  double moved = m * k + k * n + m * n;
  return moved > 0 ? 2.0 * m * k * n / moved : 0.0;
}

}  // namespace dlcost
