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

nlohmann::json MicrobenchToJson(const MicrobenchData& d) {
  nlohmann::json j;
  j["device"] = DeviceName(d.device);
  j["device_name"] = d.device_name;
  j["threads"] = d.threads;
  j["quick"] = d.quick;
  j["fused_attention"] = d.fused_attention;
  j["memory_total_bytes"] = d.memory_total_bytes;
  j["dispatch_s"] = d.dispatch_s;
  j["other_cpu_pct"] = d.other_cpu_pct;
  j["gemm"] = nlohmann::json::array();
  for (const GemmSample& g : d.gemm) {
    j["gemm"].push_back({{"dtype", DtypeName(g.dtype)}, {"m", g.m}, {"k", g.k}, {"n", g.n}, {"fwd_s", g.fwd_s},
                         {"dgrad_s", g.dgrad_s}, {"wgrad_s", g.wgrad_s}});
  }
  j["memory"] = nlohmann::json::array();
  for (const MemorySample& m : d.memory) {
    j["memory"].push_back({{"op", m.op}, {"dtype", DtypeName(m.dtype)}, {"modelled_bytes", m.modelled_bytes},
                           {"seconds", m.seconds}});
  }
  j["attention"] = nlohmann::json::array();
  for (const AttentionSample& a : d.attention) {
    j["attention"].push_back({{"block", a.block}, {"dtype", DtypeName(a.dtype)}, {"batch", a.batch},
                              {"heads", a.heads}, {"seq", a.seq}, {"head_dim", a.head_dim}, {"causal", a.causal},
                              {"fwd_s", a.fwd_s}, {"bwd_s", a.bwd_s}});
  }
  j["overhead"] = nlohmann::json::array();
  for (const OverheadSample& o : d.overhead) {
    j["overhead"].push_back({{"block", o.block}, {"layers", o.layers}, {"experts", o.experts}, {"step_s", o.step_s}});
  }
  j["optimizer"] = nlohmann::json::array();
  for (const OptimizerSample& o : d.optimizer) {
    j["optimizer"].push_back({{"dtype", DtypeName(o.dtype)}, {"params", o.params}, {"tensors", o.tensors},
                              {"seconds", o.seconds}});
  }
  return j;
}

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
  // The estimator's memory-bound charge for one transformer layer (src/perf/training.cc,
  // CostGroup): each norm moves 2 x act_bytes per element forward; the elementwise group
  // (activation function, RoPE on q and k, two residual adds) moves act_bytes x (FFN
  // intermediate elements + 2 (h_q + h_kv) + 6h) per token; backward moves twice the forward.
  double h = static_cast<double>(m.hidden);
  double hq = static_cast<double>(m.heads * m.head_dim);
  double hkv = static_cast<double>(m.kv_heads * m.head_dim);
  double mult = m.ffn_act == FfnAct::kGelu ? 2.0 : 3.0;
  double ffn_elems = m.moe ? mult * (m.moe->top_k * m.moe->expert_ffn + m.moe->shared_experts * m.moe->shared_expert_ffn)
                           : mult * static_cast<double>(m.ffn);
  double norms = static_cast<double>(m.norms_per_layer) * 2 * act_bytes * h;
  double elem = act_bytes * (ffn_elems + (m.position == PositionKind::kRope ? 2 * (hq + hkv) : 0) + 6 * h);
  return 3.0 * tokens * (norms + elem);
}

Result<nlohmann::json> FitProfile(const MicrobenchData& data, const ProfileMeta& meta) {
  if (data.gemm.empty()) return InvalidInput("calibrate: no GEMM samples to fit");
  nlohmann::json quality;
  // Device bandwidth: the median copy rate (bytes read + written per second).
  std::vector<double> copy;
  for (const MemorySample& s : data.memory) {
    if (s.op == "copy" && s.seconds > 0) copy.push_back(s.modelled_bytes / s.seconds);
  }
  if (copy.empty()) return InvalidInput("calibrate: no memory-bandwidth samples to fit");
  double bw = Median(copy);

  MeasuredDevice md;
  md.device = data.device;
  md.name = data.device_name;
  md.threads = data.threads;
  md.memory_bandwidth_bytes_s = bw;
  md.memory_bytes = data.memory_total_bytes > 0 ? data.memory_total_bytes : meta.memory_total_bytes;
  md.power_w = meta.power_w;
  if (!(md.memory_bytes > 0)) return InvalidInput("calibrate: the device memory size is unknown");

  // GEMMs: peak = best training-triplet throughput; curve = efficiency by intensity.
  std::vector<Dtype> dtypes;
  for (const GemmSample& g : data.gemm) {
    if (std::find(dtypes.begin(), dtypes.end(), g.dtype) == dtypes.end()) dtypes.push_back(g.dtype);
  }
  EfficiencyProfile eff;
  eff.id = meta.id.empty() ? fmt::format("calibrated-{}", DeviceName(data.device)) : meta.id;
  eff.kernel_overhead_s = 0;
  eff.host_overhead_serial = data.device == Device::kCpu;
  nlohmann::json curves = nlohmann::json::object();
  nlohmann::json peaks = nlohmann::json::object();
  int bins = data.quick ? 8 : 12;
  for (Dtype dt : dtypes) {
    std::vector<std::pair<double, double>> xy;
    double best = 0;
    std::vector<std::pair<double, double>> rate;  // (intensity, FLOP/s)
    for (const GemmSample& g : data.gemm) {
      if (g.dtype != dt) continue;
      double t = g.fwd_s + g.dgrad_s + g.wgrad_s;
      // The framework's per-call cost is charged per layer and step (overheads below), so it is
      // taken out of the GEMM times; never more than half of a time.
      double net = std::max(t - 3 * data.dispatch_s, 0.5 * t);
      if (!(net > 0)) return InvalidInput("calibrate: a GEMM sample has no positive time");
      double flops = 3 * 2.0 * static_cast<double>(g.m) * g.k * g.n;
      rate.push_back({GemmIntensity(g.m, g.k, g.n), flops / net});
      best = std::max(best, flops / net);
    }
    for (const auto& [x, r] : rate) xy.push_back({x, r / best});
    EfficiencyCurve c = FitCurve(xy, bins);
    eff.gemm_curve[static_cast<int>(dt)] = c;
    md.peak_flops[static_cast<int>(dt)] = best;
    curves[DtypeName(dt)] = CurveJson(c);
    peaks[DtypeName(dt)] = std::round(best / kTera * 1e6) / 1e6;
    std::vector<double> errs;
    for (const auto& [x, r] : rate) errs.push_back(RelativeError(best * c.At(x), r));
    quality["gemm_curve_mape_pct"][DtypeName(dt)] = SummarizeErrors(errs).mape_pct;
  }
  Dtype main = dtypes.front();
  eff.gemm_max_fraction = eff.gemm_curve[static_cast<int>(main)].y.back();

  // Memory-bound work per precision and block style: modelled bytes / (time x bandwidth).
  CalibratedFigures fig;
  nlohmann::json calibrated = nlohmann::json::object();
  for (Dtype dt : dtypes) {
    std::string key = DtypeName(dt);
    std::map<std::string, std::vector<double>> by_style;
    std::vector<double> ce;
    for (const MemorySample& s : data.memory) {
      if (s.dtype != dt || !(s.seconds > 0)) continue;
      double frac = s.modelled_bytes / (s.seconds * bw);
      if (s.op.rfind("layer_elementwise:", 0) == 0) by_style[s.op.substr(18)].push_back(frac);
      if (s.op == "cross_entropy") ce.push_back(frac);
    }
    nlohmann::json mf = nlohmann::json::object();
    for (auto& [style, v] : by_style) {
      double f = Clamp(Median(v), kMinFraction, 1.0);
      fig.memory_fraction[key][style] = f;
      mf[style] = std::round(f * 10000) / 10000;
    }
    if (!mf.empty()) calibrated[key]["memory_fraction"] = mf;
    if (!ce.empty()) {
      // The estimator's loss bytes (3 x 4 bytes per logit, forward and backward) over the
      // measured cross-entropy time and the copy bandwidth.
      double f = Clamp(Median(ce), kMinFraction, 1.0);
      fig.loss_memory_fraction[key] = f;
      calibrated[key]["loss_memory_fraction"] = std::round(f * 10000) / 10000;
    }
    // AdamW: bytes per parameter the estimator must charge (at the memory fraction of the gated
    // block) so that MemSeconds reproduces the measured step, by the parameters stepped.
    std::map<double, std::vector<double>> adamw;
    for (const OptimizerSample& o : data.optimizer) {
      if (o.dtype == dt && o.params > 0 && o.seconds > 0) {
        double f = fig.memory_fraction[key].count("gated") ? fig.memory_fraction[key]["gated"] : 1.0;
        adamw[o.params].push_back(o.seconds * bw * f / o.params);
      }
    }
    if (!adamw.empty()) {
      EfficiencyCurve curve;
      std::vector<double> ys, ws;
      for (auto& [params, v] : adamw) {
        curve.x.push_back(params);
        ys.push_back(Median(v));
        ws.push_back(static_cast<double>(v.size()));
      }
      // Non-decreasing: a larger optimizer state never fits the caches better.
      ys = Isotonic(ys, ws);
      for (double y : ys) curve.y.push_back(Clamp(y, 1, 10000));
      fig.adamw_bytes_per_param[key] = curve.y.back();
      fig.adamw_bytes_curve[key] = curve;
      calibrated[key]["adamw_bytes_per_param"] = std::round(curve.y.back() * 100) / 100;
      calibrated[key]["adamw_bytes_per_param_curve"] = BytesCurveJson(curve);
    }
  }
  std::string main_key = DtypeName(main);
  eff.memory_fraction = fig.memory_fraction[main_key].count("gated") ? fig.memory_fraction[main_key]["gated"] : 0.8;
  eff.adamw_bytes_per_param = fig.adamw_bytes_per_param.count(main_key) ? fig.adamw_bytes_per_param[main_key] : 0;
  eff.loss_memory_fraction = fig.loss_memory_fraction.count(main_key) ? fig.loss_memory_fraction[main_key] : 0;
  if (fig.adamw_bytes_curve.count(main_key)) eff.adamw_bytes_curve = fig.adamw_bytes_curve[main_key];

  // Overheads: step times of tiny models minus what the fitted model predicts for their work,
  // regressed on the layer count: slope = 3 x layer overhead (forward once, backward twice),
  // intercept = per-step overhead.
  DeviceModel dm;
  dm.acc = MeasuredAccelerator(md);
  dm.eff = eff;
  dm.eff.layer_host_overhead_s = 0;
  dm.eff.step_overhead_s = 0;
  dm.figures = fig;
  dm.calibrated = true;
  // Attention: measured forward + backward time over the estimator's attention term for the same
  // shapes (the probe model's heads, one layer), per precision; ratio of sums, so that the
  // longest sequences, where attention matters, weigh most.
  for (Dtype dt : dtypes) {
    double measured = 0, modelled = 0;
    for (const AttentionSample& a : data.attention) {
      if (a.dtype != dt || a.block.empty() || !(a.fwd_s + a.bwd_s > 0)) continue;
      TrainConfig tc;
      tc.batch = a.batch;
      tc.seq = a.seq;
      tc.dtype = dt;
      tc.fused_attention = data.fused_attention;
      Result<TrainingEstimate> e = PredictTrain(ProbeModel(a.block, data.device), tc, dm);
      if (!e.ok()) return e.status();
      measured += a.fwd_s + a.bwd_s;
      modelled += e->time_attention_s;
    }
    if (measured > 0 && modelled > 0) {
      double f = Clamp(measured / modelled, 0.1, 10);
      fig.attention_time_factor[DtypeName(dt)] = f;
      calibrated[DtypeName(dt)]["attention_time_factor"] = std::round(f * 10000) / 10000;
    }
  }
  dm.figures = fig;
  eff.attention_time_factor = fig.attention_time_factor.count(main_key) ? fig.attention_time_factor[main_key] : 1.0;

  std::map<std::string, std::vector<double>> ox, oy;
  std::map<int64_t, std::vector<double>> moe_x, moe_y;
  for (const OverheadSample& o : data.overhead) {
    ModelSpec m = OverheadModel(o.block, o.layers, o.experts);
    TrainConfig tc;
    tc.batch = 1;
    tc.seq = 16;
    tc.dtype = main;
    tc.fused_attention = data.fused_attention;
    Result<TrainingEstimate> e = PredictTrain(m, tc, dm);
    if (!e.ok()) return e.status();
    double residual = o.step_s - e->time_step_s;
    if (o.block == "moe") {
      moe_x[o.experts].push_back(static_cast<double>(o.layers));
      moe_y[o.experts].push_back(residual);
    } else {
      ox[o.block].push_back(static_cast<double>(o.layers));
      oy[o.block].push_back(residual);
    }
  }
  nlohmann::json layer_oh = nlohmann::json::object(), step_oh = nlohmann::json::object();
  for (auto& [style, xs] : ox) {
    LinearFit f = FitLine(xs, oy[style]);
    fig.layer_host_overhead_s[style] = Clamp(f.slope / 3.0, 0, 0.1);
    fig.step_overhead_s[style] = Clamp(f.intercept, 0, 10);
    layer_oh[style] = fig.layer_host_overhead_s[style];
    step_oh[style] = fig.step_overhead_s[style];
  }
  // MoE: per-layer slope grows with the experts a layer loops over; against the gated block.
  double gated_slope = 3.0 * (fig.layer_host_overhead_s.count("gated") ? fig.layer_host_overhead_s["gated"] : 0);
  std::vector<double> ex, ey;
  for (auto& [experts, xs] : moe_x) {
    LinearFit f = FitLine(xs, moe_y[experts]);
    ex.push_back(static_cast<double>(experts));
    ey.push_back(f.slope - gated_slope);
  }
  if (!ex.empty()) {
    double per_expert = 0;
    if (ex.size() >= 2) {
      per_expert = FitLine(ex, ey).slope;
    } else {
      per_expert = ey.front() / ex.front();
    }
    fig.expert_overhead_s = Clamp(per_expert / 3.0, 0, 0.1);
  }
  eff.layer_host_overhead_s = fig.layer_host_overhead_s.count("gated") ? fig.layer_host_overhead_s["gated"] : 0;
  eff.step_overhead_s = fig.step_overhead_s.count("gated") ? fig.step_overhead_s["gated"] : 0;

  nlohmann::json p;
  p["id"] = eff.id;
  p["description"] = fmt::format(
      "Measured by dlcost calibrate{} on {} with {} threads (libtorch {}). Efficiencies are fractions of the measured "
      "peaks in 'device'; fitted from microbenchmarks only (docs/measure.md).",
      data.quick ? " --quick" : "", data.device_name, data.threads, meta.torch_version);
  p["as_of"] = meta.created_utc.substr(0, 10);
  p["format"] = "dlcost-calibration-1";
  p["created_utc"] = meta.created_utc;
  p["quick"] = data.quick;
  nlohmann::json dev;
  dev["kind"] = DeviceName(data.device);
  dev["name"] = data.device_name;
  dev["threads"] = data.threads;
  if (meta.intra_op_threads > 0) dev["intra_op_threads"] = meta.intra_op_threads;
  dev["peak_tflops"] = peaks;
  dev["peak_tflops_source"] = "best GEMM training throughput (forward + both backward GEMMs) over the measured shapes";
  dev["memory_bandwidth_gb_s"] = std::round(bw / kGB * 1000) / 1000;
  dev["memory_bandwidth_gb_s_source"] = "median copy rate (bytes read + written) of a tensor larger than the caches";
  dev["memory_gib"] = std::round(md.memory_bytes / kGiB * 1000) / 1000;
  if (meta.power_w > 0) {
    dev["power_w"] = meta.power_w;
    dev["power_w_source"] = meta.power_source;
  }
  p["device"] = dev;
  p["gemm_max_fraction"] = std::round(eff.gemm_max_fraction * 10000) / 10000;
  p["gemm_max_fraction_source"] = "the top of the measured GEMM curve of the first precision; used where no curve applies";
  p["gemm_efficiency_curve"] = curves;
  p["gemm_efficiency_curve_source"] =
      "median efficiency (forward + input-gradient + weight-gradient GEMM time against the peak) in log-spaced bins "
      "of arithmetic intensity, made non-decreasing";
  p["memory_fraction"] = std::round(eff.memory_fraction * 10000) / 10000;
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
  if (eff.adamw_bytes_per_param > 0) {
    p["adamw_bytes_per_param"] = std::round(eff.adamw_bytes_per_param * 100) / 100;
    p["adamw_bytes_per_param_source"] =
        "measured AdamW step time x bandwidth x memory_fraction / parameters, for the largest parameter set";
  }
  if (!eff.adamw_bytes_curve.empty()) {
    p["adamw_bytes_per_param_curve"] = BytesCurveJson(eff.adamw_bytes_curve);
    p["adamw_bytes_per_param_curve_source"] =
        "the same, for AdamW steps over 4-tensor parameter sets of several sizes (the optimizer state in and beyond "
        "the caches), made non-decreasing; the estimator interpolates it in log(parameters per device)";
  }
  p["attention_time_factor"] = std::round(eff.attention_time_factor * 10000) / 10000;
  p["attention_time_factor_source"] =
      "measured attention time (forward + backward, the runner's kernel) over the estimator's attention term for the "
      "same shapes; per precision in 'calibrated'";
  if (eff.loss_memory_fraction > 0) {
    p["loss_memory_fraction"] = std::round(eff.loss_memory_fraction * 10000) / 10000;
    p["loss_memory_fraction_source"] =
        "the estimator's cross-entropy bytes (fp32 logits read, written and read again, forward and backward) over the "
        "measured cross-entropy time and the copy bandwidth; per precision in 'calibrated'";
  }
  p["calibrated"] = calibrated;
  nlohmann::json oh;
  oh["layer_host_overhead_s"] = layer_oh;
  oh["step_overhead_s"] = step_oh;
  oh["expert_overhead_s"] = fig.expert_overhead_s;
  p["overheads"] = oh;
  quality["dispatch_s"] = data.dispatch_s;
  quality["other_cpu_pct"] = data.other_cpu_pct;
  p["fit_quality"] = quality;
  return p;
}

}  // namespace dlcost::measure
