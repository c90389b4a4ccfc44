// Fitting the calibration microbenchmarks into a profile. Equations: docs/measure.md, "Fit".
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "dlcost/measure.h"
#include "dlcost/op_graph.h"
#include "dlcost/units.h"

namespace dlcost::measure {
namespace {

constexpr double kMinFraction = 1e-4;

double Clamp(double v, double lo, double hi) { return std::max(lo, std::min(hi, v)); }

// Pool-adjacent-violators: the non-decreasing sequence closest (weighted least squares) to y.
std::vector<double> Isotonic(const std::vector<double>& y, const std::vector<double>& w) {
  struct Block {
    double sum, weight;
    size_t len;
  };
  std::vector<Block> st;
  for (size_t i = 0; i < y.size(); ++i) {
    st.push_back({y[i] * w[i], w[i], 1});
    while (st.size() > 1 && st[st.size() - 2].sum / st[st.size() - 2].weight > st.back().sum / st.back().weight) {
      Block b = st.back();
      st.pop_back();
      st.back().sum += b.sum;
      st.back().weight += b.weight;
      st.back().len += b.len;
    }
  }
  std::vector<double> out;
  for (const Block& b : st) out.insert(out.end(), b.len, b.sum / b.weight);
  return out;
}

struct LinearFit {
  double intercept = 0, slope = 0;
};
// Least squares y = a + b x (b = 0 with fewer than two distinct x).
LinearFit FitLine(const std::vector<double>& x, const std::vector<double>& y) {
  LinearFit f;
  size_t n = x.size();
  if (n == 0) return f;
  double mx = 0, my = 0;
  for (size_t i = 0; i < n; ++i) {
    mx += x[i];
    my += y[i];
  }
  mx /= static_cast<double>(n);
  my /= static_cast<double>(n);
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxx += (x[i] - mx) * (x[i] - mx);
    sxy += (x[i] - mx) * (y[i] - my);
  }
  f.slope = sxx > 0 ? sxy / sxx : 0;
  f.intercept = my - f.slope * mx;
  return f;
}

nlohmann::json CurveJson(const EfficiencyCurve& c) {
  nlohmann::json j;
  std::vector<double> x, y;
  for (size_t i = 0; i < c.x.size(); ++i) {
    x.push_back(std::round(c.x[i] * 1000) / 1000);
    y.push_back(std::round(c.y[i] * 10000) / 10000);
  }
  j["flops_per_element"] = x;
  j["fraction"] = y;
  return j;
}

nlohmann::json BytesCurveJson(const EfficiencyCurve& c) {
  nlohmann::json j;
  std::vector<double> x, y;
  for (size_t i = 0; i < c.x.size(); ++i) {
    x.push_back(c.x[i]);
    y.push_back(std::round(c.y[i] * 100) / 100);
  }
  j["params"] = x;
  j["bytes_per_param"] = y;
  return j;
}

}  // namespace

EfficiencyCurve FitCurve(std::vector<std::pair<double, double>> xy, int bins) {
  EfficiencyCurve c;
  xy.erase(std::remove_if(xy.begin(), xy.end(),
                          [](const auto& p) {
                            return !(p.first > 0) || !(p.second > 0) || !std::isfinite(p.first) ||
                                   !std::isfinite(p.second);
                          }),
           xy.end());
  if (xy.empty() || bins < 1) return c;
  std::sort(xy.begin(), xy.end());
  double lo = std::log(xy.front().first), hi = std::log(xy.back().first);
  double width = hi > lo ? (hi - lo) / bins : 1.0;
  std::vector<double> xs, ys, ws;
  size_t i = 0;
  for (int b = 0; b < bins && i < xy.size(); ++b) {
    double edge = b == bins - 1 ? hi + 1 : lo + width * (b + 1);
    std::vector<double> bx, by;
    while (i < xy.size() && std::log(xy[i].first) < edge) {
      bx.push_back(std::log(xy[i].first));
      by.push_back(xy[i].second);
      ++i;
    }
    if (bx.empty()) continue;
    double mean_log_x = 0;
    for (double v : bx) mean_log_x += v;
    xs.push_back(std::exp(mean_log_x / static_cast<double>(bx.size())));
    ys.push_back(Median(by));
    ws.push_back(static_cast<double>(bx.size()));
  }
  ys = Isotonic(ys, ws);
  for (size_t k = 0; k < xs.size(); ++k) {
    c.x.push_back(xs[k]);
    c.y.push_back(Clamp(ys[k], kMinFraction, 1.0));
  }
  return c;
}

double ModelledLayerElementwiseBytes(const ModelSpec& m, double tokens, double act_bytes) {
  // The estimator's memory-bound charge for one transformer layer (src/perf/training_layer_cost.cc,
  // AddElementwise), read from the layer's entries: each norm op moves 2 x act_bytes per output
  // element forward, the layer's elementwise work (perf::LayerElementwiseOf) act_bytes per
  // element; backward moves twice the forward.
  Result<perf::OpGraph> graph = perf::BuildOpGraph(m, 0);
  if (!graph.ok()) return 0;
  for (const perf::LayerGroup& layer : graph->groups) {
    if (layer.name != "decoder_layer" && layer.name != "encoder_layer" && layer.name != "dense_layer" &&
        layer.name != "moe_layer") {
      continue;
    }
    double norms = 0;
    for (const perf::Op& op : layer.ops) {
      if (op.kind == perf::OpKind::kNorm) norms += 2 * act_bytes * op.act_out_elems;
    }
    perf::LayerElementwise ew = perf::LayerElementwiseOf(m, layer, 1.0);
    double elem = act_bytes * (ew.ffn_elems + ew.rope_elems + ew.residual_elems);
    return 3.0 * tokens * (norms + elem);
  }
  return 0;
}

double ModelledCrossEntropyBytes(int64_t tokens, int64_t vocab) {
  // fp32 logits (4 bytes) read, written and read again by the loss, forward and backward.
  return 2 * 3 * 4.0 * static_cast<double>(tokens * vocab);
}

namespace {

// What the fit has found so far; each step below adds to it.
struct FitState {
  FitState(const MicrobenchData& d, const ProfileMeta& m) : data(d), meta(m) {}

  const MicrobenchData& data;
  const ProfileMeta& meta;
  std::vector<Dtype> dtypes;  // in the order of the GEMM samples; the first is the main precision
  double bw = 0;              // copy bandwidth, bytes/s
  MeasuredDevice md;
  EfficiencyProfile eff;
  CalibratedFigures fig;
  nlohmann::json curves = nlohmann::json::object();
  nlohmann::json weight_stream = nlohmann::json::object();
  nlohmann::json peaks = nlohmann::json::object();
  nlohmann::json calibrated = nlohmann::json::object();
  nlohmann::json layer_oh = nlohmann::json::object();
  nlohmann::json step_oh = nlohmann::json::object();
  nlohmann::json quality;

  Dtype main() const { return dtypes.front(); }
  std::string main_key() const { return DtypeName(main()); }
};

double Round(double v, double scale) { return std::round(v * scale) / scale; }

// Decode's weight streaming: per precision, the rate of one row times a weight matrix (weight
// bytes / time) over the copy bandwidth, by the weights' size, made non-increasing in the size
// (a larger working set never streams faster). Precisions without samples get no curve.
void FitWeightStreaming(FitState& s) {
  std::map<Dtype, std::vector<std::pair<double, double>>> pts;
  for (const MemorySample& m : s.data.memory) {
    if (m.op == "weight_stream" && m.seconds > 0 && m.modelled_bytes > 0) {
      pts[m.dtype].push_back({m.modelled_bytes, m.modelled_bytes / m.seconds / s.bw});
    }
  }
  for (auto& [dt, xy] : pts) {
    std::sort(xy.begin(), xy.end());
    std::vector<double> neg, w;
    for (const auto& p : xy) {
      neg.push_back(-p.second);
      w.push_back(1.0);
    }
    std::vector<double> iso = Isotonic(neg, w);
    EfficiencyCurve c;
    nlohmann::json j;
    std::vector<double> xs, ys;
    for (size_t i = 0; i < xy.size(); ++i) {
      if (!c.x.empty() && xy[i].first <= c.x.back()) continue;
      c.x.push_back(xy[i].first);
      c.y.push_back(Clamp(-iso[i], kMinFraction, 100.0));
      xs.push_back(std::round(xy[i].first));
      ys.push_back(Round(c.y.back(), 10000));
    }
    j["working_set_bytes"] = xs;
    j["bandwidth_fraction"] = ys;
    s.weight_stream[DtypeName(dt)] = j;
    s.eff.weight_stream_curve[static_cast<int>(dt)] = c;
  }
}

// The device: bandwidth from the median copy rate (bytes read + written per second), memory.
Status FitDevice(FitState& s) {
  if (s.data.gemm.empty()) return InvalidInput("calibrate: no GEMM samples to fit");
  std::vector<double> copy;
  for (const MemorySample& m : s.data.memory) {
    if (m.op == "copy" && m.seconds > 0) copy.push_back(m.modelled_bytes / m.seconds);
  }
  if (copy.empty()) return InvalidInput("calibrate: no memory-bandwidth samples to fit");
  s.bw = Median(copy);
  s.md.device = s.data.device;
  s.md.name = s.data.device_name;
  s.md.threads = s.data.threads;
  s.md.memory_bandwidth_bytes_s = s.bw;
  s.md.memory_bytes = s.data.memory_total_bytes > 0 ? s.data.memory_total_bytes : s.meta.memory_total_bytes;
  s.md.power_w = s.meta.power_w;
  if (!(s.md.memory_bytes > 0)) return InvalidInput("calibrate: the device memory size is unknown");
  return Status::Ok();
}

// GEMMs, per precision: peak = the best training-triplet throughput; curve = efficiency by
// arithmetic intensity.
Status FitGemmCurves(FitState& s) {
  for (const GemmSample& g : s.data.gemm) {
    if (std::find(s.dtypes.begin(), s.dtypes.end(), g.dtype) == s.dtypes.end()) s.dtypes.push_back(g.dtype);
  }
  s.eff.id = s.meta.id.empty() ? fmt::format("calibrated-{}", DeviceName(s.data.device)) : s.meta.id;
  s.eff.kernel_overhead_s = 0;
  s.eff.host_overhead_serial = s.data.device == Device::kCpu;
  int bins = s.data.quick ? 8 : 12;
  for (Dtype dt : s.dtypes) {
    double best = 0;
    std::vector<std::pair<double, double>> rate;  // (intensity, FLOP/s)
    for (const GemmSample& g : s.data.gemm) {
      if (g.dtype != dt) continue;
      double t = g.fwd_s + g.dgrad_s + g.wgrad_s;
      // The framework's per-call cost is charged per layer and step (overheads below), so it is
      // taken out of the GEMM times; never more than half of a time.
      double net = std::max(t - 3 * s.data.dispatch_s, 0.5 * t);
      if (!(net > 0)) return InvalidInput("calibrate: a GEMM sample has no positive time");
      double flops = 3 * 2.0 * static_cast<double>(g.m) * g.k * g.n;
      rate.push_back({GemmIntensity(g.m, g.k, g.n), flops / net});
      best = std::max(best, flops / net);
    }
    std::vector<std::pair<double, double>> xy;
    for (const auto& [x, r] : rate) xy.push_back({x, r / best});
    EfficiencyCurve c = FitCurve(xy, bins);
    s.eff.gemm_curve[static_cast<int>(dt)] = c;
    s.md.peak_flops[static_cast<int>(dt)] = best;
    s.curves[DtypeName(dt)] = CurveJson(c);
    s.peaks[DtypeName(dt)] = Round(best / kTera, 1e6);
    std::vector<double> errs;
    for (const auto& [x, r] : rate) errs.push_back(RelativeError(best * c.At(x), r));
    s.quality["gemm_curve_mape_pct"][DtypeName(dt)] = SummarizeErrors(errs).mape_pct;
  }
  s.eff.gemm_max_fraction = s.eff.gemm_curve[static_cast<int>(s.main())].y.back();
  return Status::Ok();
}

// Memory-bound work per precision and block style: modelled bytes / (time x bandwidth), for the
// layer's elementwise operators and the cross-entropy.
void FitMemoryFractions(FitState& s) {
  for (Dtype dt : s.dtypes) {
    std::string key = DtypeName(dt);
    std::map<std::string, std::vector<double>> by_style;
    std::vector<double> ce;
    for (const MemorySample& m : s.data.memory) {
      if (m.dtype != dt || !(m.seconds > 0)) continue;
      double frac = m.modelled_bytes / (m.seconds * s.bw);
      if (m.op.rfind("layer_elementwise:", 0) == 0) by_style[m.op.substr(18)].push_back(frac);
      if (m.op == "cross_entropy") ce.push_back(frac);
    }
    nlohmann::json mf = nlohmann::json::object();
    for (auto& [style, v] : by_style) {
      double f = Clamp(Median(v), kMinFraction, 1.0);
      s.fig.memory_fraction[key][style] = f;
      mf[style] = Round(f, 10000);
    }
    if (!mf.empty()) s.calibrated[key]["memory_fraction"] = mf;
    if (!ce.empty()) {
      double f = Clamp(Median(ce), kMinFraction, 1.0);
      s.fig.loss_memory_fraction[key] = f;
      s.calibrated[key]["loss_memory_fraction"] = Round(f, 10000);
    }
  }
}

// AdamW, per precision: the bytes per parameter the estimator must charge (at the memory fraction
// of the gated block) so that its memory time reproduces the measured step, by the parameters
// stepped, made non-decreasing: a larger optimizer state never fits the caches better.
void FitAdamw(FitState& s) {
  for (Dtype dt : s.dtypes) {
    std::string key = DtypeName(dt);
    std::map<double, std::vector<double>> adamw;
    for (const OptimizerSample& o : s.data.optimizer) {
      if (o.dtype == dt && o.params > 0 && o.seconds > 0) {
        double f = s.fig.memory_fraction[key].count("gated") ? s.fig.memory_fraction[key]["gated"] : 1.0;
        adamw[o.params].push_back(o.seconds * s.bw * f / o.params);
      }
    }
    if (adamw.empty()) continue;
    EfficiencyCurve curve;
    std::vector<double> ys, ws;
    for (auto& [params, v] : adamw) {
      curve.x.push_back(params);
      ys.push_back(Median(v));
      ws.push_back(static_cast<double>(v.size()));
    }
    ys = Isotonic(ys, ws);
    for (double y : ys) curve.y.push_back(Clamp(y, 1, 10000));
    s.fig.adamw_bytes_per_param[key] = curve.y.back();
    s.fig.adamw_bytes_curve[key] = curve;
    s.calibrated[key]["adamw_bytes_per_param"] = Round(curve.y.back(), 100);
    s.calibrated[key]["adamw_bytes_per_param_curve"] = BytesCurveJson(curve);
  }
}

// The profile's top-level figures: those of the main precision (the gated block's memory fraction).
void SetMainFigures(FitState& s) {
  std::string k = s.main_key();
  CalibratedFigures& f = s.fig;
  s.eff.memory_fraction = f.memory_fraction[k].count("gated") ? f.memory_fraction[k]["gated"] : 0.8;
  s.eff.adamw_bytes_per_param = f.adamw_bytes_per_param.count(k) ? f.adamw_bytes_per_param[k] : 0;
  s.eff.loss_memory_fraction = f.loss_memory_fraction.count(k) ? f.loss_memory_fraction[k] : 0;
  if (f.adamw_bytes_curve.count(k)) s.eff.adamw_bytes_curve = f.adamw_bytes_curve[k];
}

// The device model fitted so far, without overheads: what the overhead and attention fits
// subtract from their measurements.
DeviceModel FittedDeviceModel(const FitState& s) {
  DeviceModel dm;
  dm.acc = MeasuredAccelerator(s.md);
  dm.eff = s.eff;
  dm.eff.layer_host_overhead_s = 0;
  dm.eff.step_overhead_s = 0;
  dm.figures = s.fig;
  dm.calibrated = true;
  return dm;
}

// Attention, per precision: measured forward + backward time over the estimator's time for the
// same op-graph entry (the probe model has one layer, so one attention entry, and
// time_attention_s is that entry's); ratio of sums, so that the longest sequences, where
// attention matters, weigh most.
Status FitAttentionFactors(FitState& s, const DeviceModel& dm) {
  for (Dtype dt : s.dtypes) {
    double measured = 0, modelled = 0;
    for (const AttentionSample& a : s.data.attention) {
      if (a.dtype != dt || a.block.empty() || !(a.fwd_s + a.bwd_s > 0)) continue;
      TrainConfig tc;
      tc.batch = a.batch;
      tc.seq = a.seq;
      tc.dtype = dt;
      tc.fused_attention = s.data.fused_attention;
      DLCOST_ASSIGN_OR_RETURN(TrainingEstimate e, PredictTrain(ProbeModel(a.block, s.data.device), tc, dm));
      measured += a.fwd_s + a.bwd_s;
      modelled += e.time_attention_s;
    }
    if (measured > 0 && modelled > 0) {
      double f = Clamp(measured / modelled, 0.1, 10);
      s.fig.attention_time_factor[DtypeName(dt)] = f;
      s.calibrated[DtypeName(dt)]["attention_time_factor"] = Round(f, 10000);
    }
  }
  const auto& factors = s.fig.attention_time_factor;
  s.eff.attention_time_factor = factors.count(s.main_key()) ? factors.at(s.main_key()) : 1.0;
  return Status::Ok();
}

// Overheads: step times of tiny models minus what the fitted model predicts for their work,
// regressed on the layer count: slope = 3 x layer overhead (forward once, backward twice),
// intercept = per-step overhead. MoE: the per-layer slope grows with the experts a layer loops
// over, against the gated block's.
Status FitOverheads(FitState& s, const DeviceModel& dm) {
  std::map<std::string, std::vector<double>> ox, oy;
  std::map<int64_t, std::vector<double>> moe_x, moe_y;
  for (const OverheadSample& o : s.data.overhead) {
    TrainConfig tc;
    tc.batch = 1;
    tc.seq = 16;
    tc.dtype = s.main();
    tc.fused_attention = s.data.fused_attention;
    DLCOST_ASSIGN_OR_RETURN(TrainingEstimate e, PredictTrain(OverheadModel(o.block, o.layers, o.experts), tc, dm));
    double residual = o.step_s - e.time_step_s;
    bool moe = o.block == "moe";
    (moe ? moe_x[o.experts] : ox[o.block]).push_back(static_cast<double>(o.layers));
    (moe ? moe_y[o.experts] : oy[o.block]).push_back(residual);
  }
  CalibratedFigures& f = s.fig;
  for (auto& [style, xs] : ox) {
    LinearFit line = FitLine(xs, oy[style]);
    f.layer_host_overhead_s[style] = Clamp(line.slope / 3.0, 0, 0.1);
    f.step_overhead_s[style] = Clamp(line.intercept, 0, 10);
    s.layer_oh[style] = f.layer_host_overhead_s[style];
    s.step_oh[style] = f.step_overhead_s[style];
  }
  double gated_slope = 3.0 * (f.layer_host_overhead_s.count("gated") ? f.layer_host_overhead_s["gated"] : 0);
  std::vector<double> ex, ey;
  for (auto& [experts, xs] : moe_x) {
    ex.push_back(static_cast<double>(experts));
    ey.push_back(FitLine(xs, moe_y[experts]).slope - gated_slope);
  }
  if (!ex.empty()) {
    double per_expert = ex.size() >= 2 ? FitLine(ex, ey).slope : ey.front() / ex.front();
    f.expert_overhead_s = Clamp(per_expert / 3.0, 0, 0.1);
  }
  s.eff.layer_host_overhead_s = f.layer_host_overhead_s.count("gated") ? f.layer_host_overhead_s["gated"] : 0;
  s.eff.step_overhead_s = f.step_overhead_s.count("gated") ? f.step_overhead_s["gated"] : 0;
  return Status::Ok();
}

// The profile's "device" section.
nlohmann::json DeviceJson(const FitState& s) {
  nlohmann::json dev;
  dev["kind"] = DeviceName(s.data.device);
  dev["name"] = s.data.device_name;
  dev["threads"] = s.data.threads;
  if (s.meta.intra_op_threads > 0) dev["intra_op_threads"] = s.meta.intra_op_threads;
  dev["peak_tflops"] = s.peaks;
  dev["peak_tflops_source"] = "best GEMM training throughput (forward + both backward GEMMs) over the measured shapes";
  dev["memory_bandwidth_gb_s"] = Round(s.bw / kGB, 1000);
  dev["memory_bandwidth_gb_s_source"] = "median copy rate (bytes read + written) of a tensor larger than the caches";
  dev["memory_gib"] = Round(s.md.memory_bytes / kGiB, 1000);
  if (s.meta.power_w > 0) {
    dev["power_w"] = s.meta.power_w;
    dev["power_w_source"] = s.meta.power_source;
  }
  return dev;
}

// The optional memory-bound figures of the main precision, with their sources.
void AddMemoryFigures(const EfficiencyProfile& eff, nlohmann::json& p) {
  if (eff.adamw_bytes_per_param > 0) {
    p["adamw_bytes_per_param"] = Round(eff.adamw_bytes_per_param, 100);
    p["adamw_bytes_per_param_source"] =
        "measured AdamW step time x bandwidth x memory_fraction / parameters, for the largest parameter set";
  }
  if (!eff.adamw_bytes_curve.empty()) {
    p["adamw_bytes_per_param_curve"] = BytesCurveJson(eff.adamw_bytes_curve);
    p["adamw_bytes_per_param_curve_source"] =
        "the same, for AdamW steps over 4-tensor parameter sets of several sizes (the optimizer state in and beyond "
        "the caches), made non-decreasing; the estimator interpolates it in log(parameters per device)";
  }
  p["attention_time_factor"] = Round(eff.attention_time_factor, 10000);
  p["attention_time_factor_source"] =
      "measured attention time (forward + backward, the runner's kernel) over the estimator's attention term for the "
      "same shapes; per precision in 'calibrated'";
  if (eff.loss_memory_fraction > 0) {
    p["loss_memory_fraction"] = Round(eff.loss_memory_fraction, 10000);
    p["loss_memory_fraction_source"] =
        "the estimator's cross-entropy bytes (fp32 logits read, written and read again, forward and backward) over the "
        "measured cross-entropy time and the copy bandwidth; per precision in 'calibrated'";
  }
}

// The profile file: the format of data/efficiency/default.json plus the measured device, curves
// and per-precision figures, each with its source (docs/measure.md, "Profile format").
nlohmann::json ProfileJson(const FitState& s) {
  const EfficiencyProfile& eff = s.eff;
  nlohmann::json p;
  p["id"] = eff.id;
  p["description"] = fmt::format(
      "Measured by dlcost calibrate{} on {} with {} threads (libtorch {}). Efficiencies are fractions of the measured "
      "peaks in 'device'; fitted from microbenchmarks only (docs/measure.md).",
      s.data.quick ? " --quick" : "", s.data.device_name, s.data.threads, s.meta.torch_version);
  p["as_of"] = s.meta.created_utc.substr(0, 10);
  p["format"] = "dlcost-calibration-1";
  p["created_utc"] = s.meta.created_utc;
  p["quick"] = s.data.quick;
  p["device"] = DeviceJson(s);
  p["gemm_max_fraction"] = Round(eff.gemm_max_fraction, 10000);
  p["gemm_max_fraction_source"] = "the top of the measured GEMM curve of the first precision; used where no curve applies";
  p["gemm_efficiency_curve"] = s.curves;
  p["gemm_efficiency_curve_source"] =
      "median efficiency (forward + input-gradient + weight-gradient GEMM time against the peak) in log-spaced bins "
      "of arithmetic intensity, made non-decreasing";
  if (!s.weight_stream.empty()) {
    p["weight_stream_curve"] = s.weight_stream;
    p["weight_stream_curve_source"] =
        "one row times a weight matrix (forward only, as decoding runs it) for weight sets from 4 MB to beyond the "
        "caches: weight bytes over time, as a fraction of the copy bandwidth, by the weights' size, made "
        "non-increasing; the serving estimator charges decode's weight reads with it (docs/serving.md)";
  }
  p["memory_fraction"] = Round(eff.memory_fraction, 10000);
  p["memory_fraction_source"] =
      "the estimator's bytes for a layer's norms, RoPE, activation and residual adds over the measured time of those "
      "operators (forward + backward) and the copy bandwidth; per precision and block in 'calibrated'";
  p["kernel_overhead_s"] = 0.0;
  p["kernel_overhead_s_source"] = "per-operator cost is inside layer_host_overhead_s and step_overhead_s";
  p["layer_host_overhead_s"] = eff.layer_host_overhead_s;
  p["layer_host_overhead_s_source"] =
      "slope over the layer count of tiny-model training steps minus their predicted work, divided by 3 (forward once, "
      "backward twice); per block in 'overheads'";
  p["host_overhead_serial"] = eff.host_overhead_serial;
  p["step_overhead_s"] = eff.step_overhead_s;
  p["step_overhead_s_source"] = "intercept of the same regression";
  AddMemoryFigures(eff, p);
  p["calibrated"] = s.calibrated;
  nlohmann::json oh;
  oh["layer_host_overhead_s"] = s.layer_oh;
  oh["step_overhead_s"] = s.step_oh;
  oh["expert_overhead_s"] = s.fig.expert_overhead_s;
  p["overheads"] = oh;
  nlohmann::json quality = s.quality;
  quality["dispatch_s"] = s.data.dispatch_s;
  quality["other_cpu_pct"] = s.data.other_cpu_pct;
  p["fit_quality"] = quality;
  return p;
}

}  // namespace

Result<nlohmann::json> FitProfile(const MicrobenchData& data, const ProfileMeta& meta) {
  FitState s(data, meta);
  DLCOST_RETURN_IF_ERROR(FitDevice(s));
  DLCOST_RETURN_IF_ERROR(FitGemmCurves(s));
  FitWeightStreaming(s);
  FitMemoryFractions(s);
  FitAdamw(s);
  SetMainFigures(s);
  DeviceModel dm = FittedDeviceModel(s);
  DLCOST_RETURN_IF_ERROR(FitAttentionFactors(s, dm));
  dm.figures = s.fig;
  DLCOST_RETURN_IF_ERROR(FitOverheads(s, dm));
  return ProfileJson(s);
}

}  // namespace dlcost::measure
