// The torch-free half of dlcost measure / calibrate: statistics, energy counters, the fit,
// profiles on disk, the device model, predictions and the sweep grid (docs/measure.md).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dlcost/measure.h"
#include "dlcost/measure_record.h"
#include "dlcost/model.h"
#include "dlcost/serving.h"
#include "dlcost/op_graph.h"
#include "dlcost/units.h"
#include "temp_dir.h"

namespace dlcost::measure {
namespace {

using testing_util::TempDir;

const std::string kData = DLCOST_TEST_DATA_DIR;

// The local CPU's device model on 2 threads, with the profile at `calibration` when not empty.
Result<DeviceModel> LocalCpuModel(const std::string& calibration, const LocalCpu& cpu) {
  DLCOST_ASSIGN_OR_RETURN(HardwareCatalog hw, HardwareCatalog::Load(kData));
  DLCOST_ASSIGN_OR_RETURN(Accelerator ref, hw.Resolve("cpu"));
  DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile eff, LoadEfficiency(kData + "/efficiency/default.json", "local-cpu"));
  if (calibration.empty()) return CpuDeviceModel(ref, eff, nullptr, 2, cpu);
  DLCOST_ASSIGN_OR_RETURN(CalibrationProfile p, LoadCalibrationProfile(calibration));
  return CpuDeviceModel(ref, eff, &p, 2, cpu);
}

TEST(MeasureStats, ParseDevice) {
  EXPECT_EQ(*ParseDevice("cpu"), Device::kCpu);
  EXPECT_EQ(*ParseDevice("CUDA"), Device::kCuda);
  EXPECT_EQ(*ParseDevice("gpu"), Device::kCuda);
  Result<Device> bad = ParseDevice("tpu");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown device 'tpu'"), std::string::npos);
}

TEST(MeasureStats, SummarizeQuartilesAndSpread) {
  TimingStats s = Summarize({5, 1, 4, 2, 3});
  EXPECT_EQ(s.n, 5);
  EXPECT_DOUBLE_EQ(s.median_s, 3);
  EXPECT_DOUBLE_EQ(s.p25_s, 2);
  EXPECT_DOUBLE_EQ(s.p75_s, 4);
  EXPECT_DOUBLE_EQ(s.min_s, 1);
  EXPECT_DOUBLE_EQ(s.max_s, 5);
  EXPECT_DOUBLE_EQ(s.mean_s, 3);
  EXPECT_NEAR(s.spread_pct, 100.0 * 2 / 3, 1e-9);
  TimingStats even = Summarize({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(even.median_s, 2.5);
  EXPECT_DOUBLE_EQ(even.p25_s, 1.75);
  EXPECT_EQ(Summarize({}).n, 0);
  EXPECT_DOUBLE_EQ(Median({}), 0);
}

TEST(MeasureStats, Errors) {
  EXPECT_NEAR(RelativeError(1.1, 1.0), 0.1, 1e-12);
  EXPECT_TRUE(std::isnan(RelativeError(1, 0)));
  ErrorSummary s = SummarizeErrors({0.1, -0.2, std::nan(""), 0.0});
  EXPECT_EQ(s.n, 3);
  EXPECT_NEAR(s.mape_pct, 10.0, 1e-9);
  EXPECT_NEAR(s.max_ape_pct, 20.0, 1e-9);
}

TEST(MeasureCurve, AtInterpolatesInLogAndClamps) {
  EfficiencyCurve c;
  c.x = {10, 1000};
  c.y = {0.2, 0.8};
  EXPECT_DOUBLE_EQ(c.At(1), 0.2);
  EXPECT_DOUBLE_EQ(c.At(5000), 0.8);
  EXPECT_NEAR(c.At(100), 0.5, 1e-12);  // halfway in log x
  EXPECT_DOUBLE_EQ(EfficiencyCurve{}.At(3), 0);
}

TEST(MeasureCurve, GemmIntensity) {
  EXPECT_NEAR(GemmIntensity(1024, 1024, 1024), 2.0 * 1024 / 3, 1e-9);
  // Decoding: one row, a weight-bound GEMM moves ~kn elements for 2kn FLOPs.
  EXPECT_NEAR(GemmIntensity(1, 4096, 4096), 2.0, 1e-3);
  EXPECT_DOUBLE_EQ(GemmIntensity(0, 0, 0), 0);
}

TEST(MeasureCurve, FitRecoversAMonotoneCurve) {
  std::vector<std::pair<double, double>> xy;
  for (double x = 2; x < 2000; x *= 1.3) {
    double y = std::min(1.0, 0.1 + 0.3 * std::log10(x));
    xy.push_back({x, y * (1 + 0.02 * std::sin(x))});  // a little noise
  }
  xy.push_back({-1, 0.5});  // ignored
  xy.push_back({5, std::nan("")});
  EfficiencyCurve c = FitCurve(xy, 8);
  ASSERT_GE(c.x.size(), 6u);
  ASSERT_LE(c.x.size(), 8u);
  for (size_t i = 1; i < c.x.size(); ++i) {
    EXPECT_GT(c.x[i], c.x[i - 1]);
    EXPECT_GE(c.y[i], c.y[i - 1]);  // non-decreasing
  }
  for (double x : {10.0, 100.0, 1000.0}) {
    EXPECT_NEAR(c.At(x), std::min(1.0, 0.1 + 0.3 * std::log10(x)), 0.06) << x;
  }
  EXPECT_TRUE(FitCurve({}, 8).empty());
}

TEST(MeasureCurve, FitPoolsViolators) {
  EfficiencyCurve c = FitCurve({{1, 0.5}, {10, 0.3}, {100, 0.9}}, 3);
  ASSERT_EQ(c.y.size(), 3u);
  EXPECT_NEAR(c.y[0], 0.4, 1e-12);
  EXPECT_NEAR(c.y[1], 0.4, 1e-12);
  EXPECT_NEAR(c.y[2], 0.9, 1e-12);
}

ModelSpec SmallGated() {
  ModelSpec m = ProbeModel("gated", Device::kCpu);
  return m;
}

TEST(MeasureFit, ModelledLayerBytesByHand) {
  ModelSpec m = SmallGated();  // h 512, 8 heads of 64, 2 kv heads, ffn 1408, RoPE, SwiGLU
  double t = 100, a = 4;
  double norms = 2 * 2 * a * 512;
  double elem = a * (3 * 1408 + 2 * (512 + 128) + 6 * 512);
  EXPECT_DOUBLE_EQ(ModelledLayerElementwiseBytes(m, t, a), 3 * t * (norms + elem));
}

TEST(MeasureFit, ModelledLayerBytesReadTheOpGraphEntries) {
  // The fit's charge is the estimator's: the layer's norm entries plus perf::LayerElementwiseOf,
  // the function CostGroup charges; an extra norm entry (4 norms per layer) adds its traffic.
  for (const char* style : {"gelu", "gated"}) {
    ModelSpec m = ProbeModel(style, Device::kCpu);
    Result<perf::OpGraph> g = perf::BuildOpGraph(m, 128);
    ASSERT_TRUE(g.ok());
    const perf::LayerGroup& layer = g->groups[1];
    ASSERT_EQ(layer.name, "decoder_layer");
    perf::LayerElementwise ew = perf::LayerElementwiseOf(m, layer, 1.0);
    double norms = 0;
    for (const perf::Op& op : layer.ops) norms += op.kind == perf::OpKind::kNorm ? 2 * 2.0 * op.act_out_elems : 0;
    EXPECT_DOUBLE_EQ(ModelledLayerElementwiseBytes(m, 10, 2),
                     3 * 10 * (norms + 2 * (ew.ffn_elems + ew.rope_elems + ew.residual_elems)));
    ModelSpec four = m;
    four.norms_per_layer = 4;
    EXPECT_DOUBLE_EQ(ModelledLayerElementwiseBytes(four, 10, 2) - ModelledLayerElementwiseBytes(m, 10, 2),
                     3 * 10 * 2 * (2 * 2.0 * m.hidden));
  }
  EXPECT_DOUBLE_EQ(ModelledCrossEntropyBytes(1024, 32000), 2 * 3 * 4.0 * 1024 * 32000);
}

// Microbenchmarks of an invented device whose true figures are known, generated with the same
// equations the fit inverts: the fit must give them back.
struct Truth {
  double peak = 100e9;
  double bw = 20e9;
  double mem_frac = 0.4;
  double loss_frac = 0.1;
  double dispatch = 5e-6;
  double layer_oh = 300e-6;
  double step_oh = 2e-3;
  double expert_oh = 20e-6;
  double Eta(double x) const { return std::min(1.0, 0.25 + 0.3 * std::log10(x)); }
};

MicrobenchData Synthetic(const Truth& t) {
  MicrobenchData d;
  d.device = Device::kCpu;
  d.device_name = "synthetic";
  d.threads = 2;
  d.memory_total_bytes = 16 * kGiB;
  d.dispatch_s = t.dispatch;
  for (const GemmShape& s : GemmGrid(Device::kCpu, false)) {
    double f = 2.0 * s.m * s.k * s.n;
    double each = f / (t.peak * t.Eta(GemmIntensity(s.m, s.k, s.n))) + t.dispatch;
    d.gemm.push_back({Dtype::kFp32, s.m, s.k, s.n, each, each, each});
  }
  d.memory.push_back({"copy", Dtype::kFp32, 1e9, 1e9 / t.bw});
  // Weight streaming: twice the copy rate inside the caches, 0.6 and 0.4 of it beyond; the
  // 256 MB point (0.45, faster than the 32 MB one) is a violator the fit pools.
  for (auto [bytes, frac] : std::vector<std::pair<double, double>>{{4e6, 2.0}, {32e6, 0.4}, {256e6, 0.5}, {1e9, 0.3}}) {
    d.memory.push_back({"weight_stream", Dtype::kFp32, bytes, bytes / (t.bw * frac)});
  }
  for (const char* style : {"gelu", "gated"}) {
    double bytes = ModelledLayerElementwiseBytes(ProbeModel(style, Device::kCpu), 512, 4);
    d.memory.push_back({std::string("layer_elementwise:") + style, Dtype::kFp32, bytes, bytes / (t.bw * t.mem_frac)});
  }
  // AdamW at three parameter counts: 32, 48 and 64 bytes per parameter (in cache to beyond).
  d.optimizer.push_back({Dtype::kFp32, 1e6, 4, 1e6 * 32 / (t.bw * t.mem_frac)});
  d.optimizer.push_back({Dtype::kFp32, 4e6, 4, 4e6 * 48 / (t.bw * t.mem_frac)});
  d.optimizer.push_back({Dtype::kFp32, 16e6, 4, 16e6 * 64 / (t.bw * t.mem_frac)});
  double ce_bytes = 2 * 3 * 4.0 * 1024 * 32000;  // fp32 logits, forward + backward
  d.memory.push_back({"cross_entropy", Dtype::kFp32, ce_bytes, ce_bytes / (t.bw * t.loss_frac)});
  return d;
}

TEST(MeasureFit, RecoversAKnownDevice) {
  Truth t;
  MicrobenchData d = Synthetic(t);
  // Overhead samples: the fitted model's own prediction of each tiny model plus known overheads.
  // Generated in two passes: first fit without them to get the model, then add them.
  ProfileMeta meta;
  meta.created_utc = "2026-01-01T00:00:00Z";
  meta.torch_version = "test";
  Result<nlohmann::json> first = FitProfile(d, meta);
  ASSERT_TRUE(first.ok()) << first.status().message();
  TempDir tmp;
  std::string p1 = tmp.path() / "first.json";
  ASSERT_TRUE(WriteProfile(*first, p1).ok());
  LocalCpu cpu;
  cpu.usable_cpus = 2;
  cpu.memory_total_bytes = 16 * kGiB;
  Result<DeviceModel> dm = LocalCpuModel(p1, cpu);
  ASSERT_TRUE(dm.ok()) << dm.status().message();
  // Attention samples at a known multiple of the fitted model's attention term.
  constexpr double kAttentionFactor = 1.7;
  for (const char* style : {"gelu", "gated"}) {
    for (const ProbeShape& shape : AttentionShapes(Device::kCpu, false)) {
      TrainConfig tc{shape.batch, shape.seq, Dtype::kFp32, false};
      Result<TrainingEstimate> e = PredictTrain(ProbeModel(style, Device::kCpu), tc, *dm);
      ASSERT_TRUE(e.ok()) << e.status().message();
      ASSERT_GT(e->time_attention_s, 0);
      AttentionSample a;
      a.block = style;
      a.batch = shape.batch;
      a.seq = shape.seq;
      a.fwd_s = kAttentionFactor * e->time_attention_s / 3;
      a.bwd_s = 2 * a.fwd_s;
      d.attention.push_back(a);
    }
  }
  // The tiny models' work as the final fit models it: with the attention factor.
  dm->figures.attention_time_factor["fp32"] = kAttentionFactor;
  for (const char* style : {"gelu", "gated", "moe"}) {
    for (int64_t layers : {1, 2, 4}) {
      ModelSpec m = OverheadModel(style, layers, 4);
      TrainConfig tc{1, 16, Dtype::kFp32, false};
      Result<TrainingEstimate> e = PredictTrain(m, tc, *dm);
      ASSERT_TRUE(e.ok()) << e.status().message();
      double per_layer = t.layer_oh + (std::string(style) == "moe" ? 4 * t.expert_oh : 0);
      d.overhead.push_back({style, layers, std::string(style) == "moe" ? 4 : 0,
                            e->time_step_s + t.step_oh + 3 * per_layer * static_cast<double>(layers)});
    }
  }
  Result<nlohmann::json> p = FitProfile(d, meta);
  ASSERT_TRUE(p.ok()) << p.status().message();
  const nlohmann::json& j = *p;
  EXPECT_NEAR(j["device"]["peak_tflops"]["fp32"].get<double>(), t.peak / kTera, 0.02 * t.peak / kTera);
  EXPECT_NEAR(j["device"]["memory_bandwidth_gb_s"].get<double>(), t.bw / kGB, 1e-6);
  EXPECT_NEAR(j["memory_fraction"].get<double>(), t.mem_frac, 1e-3);
  EXPECT_NEAR(j["calibrated"]["fp32"]["memory_fraction"]["gelu"].get<double>(), t.mem_frac, 1e-3);
  EXPECT_NEAR(j["calibrated"]["fp32"]["adamw_bytes_per_param"].get<double>(), 64, 0.1);
  EXPECT_EQ(j["adamw_bytes_per_param_curve"]["params"], nlohmann::json({1e6, 4e6, 16e6}));
  EXPECT_EQ(j["adamw_bytes_per_param_curve"]["bytes_per_param"], nlohmann::json({32.0, 48.0, 64.0}));
  EXPECT_NEAR(j["calibrated"]["fp32"]["attention_time_factor"].get<double>(), kAttentionFactor, 1e-3);
  EXPECT_NEAR(j["attention_time_factor"].get<double>(), kAttentionFactor, 1e-3);
  EXPECT_NEAR(j["calibrated"]["fp32"]["loss_memory_fraction"].get<double>(), t.loss_frac, 1e-3);
  EXPECT_NEAR(j["loss_memory_fraction"].get<double>(), t.loss_frac, 1e-3);
  EXPECT_NEAR(j["layer_host_overhead_s"].get<double>(), t.layer_oh, 1e-6);
  EXPECT_NEAR(j["step_overhead_s"].get<double>(), t.step_oh, 1e-6);
  EXPECT_NEAR(j["overheads"]["layer_host_overhead_s"]["gelu"].get<double>(), t.layer_oh, 1e-6);
  EXPECT_NEAR(j["overheads"]["expert_overhead_s"].get<double>(), t.expert_oh, 1e-6);
  EXPECT_TRUE(j["host_overhead_serial"].get<bool>());
  // Weight streaming, non-increasing in the working set: the 32 MB and 256 MB points pooled.
  EXPECT_EQ(j["weight_stream_curve"]["fp32"]["working_set_bytes"], nlohmann::json({4e6, 32e6, 256e6, 1e9}));
  EXPECT_EQ(j["weight_stream_curve"]["fp32"]["bandwidth_fraction"], nlohmann::json({2.0, 0.45, 0.45, 0.3}));
  // The curve reproduces the GEMM times it was fitted to.
  EXPECT_LT(j["fit_quality"]["gemm_curve_mape_pct"]["fp32"].get<double>(), 10.0);
}

TEST(MeasureFit, RejectsEmptyData) {
  MicrobenchData d;
  EXPECT_FALSE(FitProfile(d, ProfileMeta{}).ok());
  d.gemm.push_back({Dtype::kFp32, 64, 64, 64, 1e-5, 1e-5, 1e-5});
  EXPECT_FALSE(FitProfile(d, ProfileMeta{}).ok());  // no bandwidth sample
}

nlohmann::json FittedProfile() {
  Truth t;
  MicrobenchData d = Synthetic(t);
  ProfileMeta meta;
  meta.created_utc = "2026-01-01T00:00:00Z";
  return *FitProfile(d, meta);
}

TEST(MeasureProfile, RoundTripThroughDisk) {
  TempDir tmp;
  std::string path = (tmp.path() / "p.json").string();
  ASSERT_TRUE(WriteProfile(FittedProfile(), path).ok());
  Result<EfficiencyProfile> e = LoadEfficiency(path, "");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_FALSE(e->gemm_curve[static_cast<int>(Dtype::kFp32)].empty());
  EXPECT_TRUE(e->gemm_curve[static_cast<int>(Dtype::kBf16)].empty());
  EXPECT_TRUE(e->host_overhead_serial);
  EXPECT_GT(e->adamw_bytes_per_param, 0);
  Result<CalibrationProfile> p = LoadCalibrationProfile(path);
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_TRUE(p->device.has_value());
  EXPECT_EQ(p->device->device, Device::kCpu);
  EXPECT_NEAR(*p->device->peak_flops[static_cast<int>(Dtype::kFp32)], 100e9, 2e9);
  EXPECT_EQ(p->figures.memory_fraction.at("fp32").size(), 2u);
  // The typed profile holds the estimator's own reading of the file.
  EXPECT_EQ(p->efficiency.adamw_bytes_per_param, e->adamw_bytes_per_param);
  EXPECT_EQ(p->efficiency.gemm_curve[static_cast<int>(Dtype::kFp32)].y,
            e->gemm_curve[static_cast<int>(Dtype::kFp32)].y);
  // Nothing but the profile is left in the folder.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(MeasureProfile, DefaultProfileStillLoadsWithoutCalibration) {
  Result<EfficiencyProfile> e = LoadEfficiency(kData + "/efficiency/default.json", "h100-sxm-80gb");
  ASSERT_TRUE(e.ok()) << e.status().message();
  for (const EfficiencyCurve& c : e->gemm_curve) EXPECT_TRUE(c.empty());
  EXPECT_FALSE(e->host_overhead_serial);
  EXPECT_EQ(e->step_overhead_s, 0);
  Result<CalibrationProfile> p = LoadCalibrationProfile(kData + "/efficiency/default.json");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_FALSE(p->device.has_value());
  Result<MeasuredDevice> md = RequireMeasuredDevice(*p);
  ASSERT_FALSE(md.ok());
  EXPECT_EQ(md.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(md.status().message().find("--calibration: "), std::string::npos);
  EXPECT_NE(md.status().message().find("no 'device' section"), std::string::npos);
}

// The message of loading `j` (written to `name` in `tmp`) as a profile; "" when it loads.
std::string LoadError(TempDir& tmp, const std::string& name, const nlohmann::json& j) {
  Result<CalibrationProfile> p = LoadCalibrationProfile(tmp.Write(name, j.dump()));
  return p.ok() ? "" : p.status().message();
}

TEST(MeasureProfile, BadFilesAreClearErrors) {
  TempDir tmp;
  Result<CalibrationProfile> missing = LoadCalibrationProfile((tmp.path() / "nope.json").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot open"), std::string::npos);
  std::string corrupt = tmp.Write("c.json", "{\"device\": {\"kind\": \"cpu\"");
  EXPECT_NE(LoadCalibrationProfile(corrupt).status().message().find("invalid JSON"), std::string::npos);
  nlohmann::json p = FittedProfile();
  p["gemm_efficiency_curve"]["fp32"]["flops_per_element"] = {10, 5};
  p["gemm_efficiency_curve"]["fp32"]["fraction"] = {0.5, 0.6};
  EXPECT_NE(LoadError(tmp, "d.json", p).find("ascending"), std::string::npos);
  // Every section fails loudly, naming the file and the field.
  nlohmann::json q = FittedProfile();
  q["device"]["peak_tflops"]["fp32"] = -1;
  EXPECT_NE(LoadError(tmp, "q.json", q).find("q.json: device.peak_tflops.fp32: must be a positive number"),
            std::string::npos);
  nlohmann::json n = FittedProfile();
  n["device"]["name"] = 5;
  EXPECT_NE(LoadError(tmp, "n.json", n).find("device: name must be a string"), std::string::npos);
  nlohmann::json r = FittedProfile();
  r["calibrated"]["fp32"]["memory_fraction"]["gated"] = 3;
  EXPECT_NE(LoadError(tmp, "r.json", r).find("calibrated.fp32.memory_fraction.gated"), std::string::npos);
  nlohmann::json a = FittedProfile();
  a["attention_time_factor"] = 50;
  EXPECT_NE(LoadError(tmp, "a.json", a).find("attention_time_factor"), std::string::npos);
  nlohmann::json b = FittedProfile();
  b["calibrated"]["fp32"]["adamw_bytes_per_param_curve"]["params"] = {4e6, 1e6, 16e6};
  EXPECT_NE(LoadError(tmp, "b.json", b).find("adamw_bytes_per_param_curve"), std::string::npos);
  nlohmann::json c = FittedProfile();
  c["adamw_bytes_per_param_curve"]["bytes_per_param"] = {32, "x", 64};
  EXPECT_NE(LoadError(tmp, "c2.json", c), "");
  nlohmann::json o = FittedProfile();
  o["overheads"]["expert_overhead_s"] = 1;
  EXPECT_NE(LoadError(tmp, "o.json", o).find("overheads.expert_overhead_s: must be between 0 and 0.1 s"),
            std::string::npos);
}

TEST(MeasureProfile, AtomicWriteLeavesOldFileOnFailure) {
  TempDir tmp;
  std::string path = tmp.Write("keep.json", "old");
  ASSERT_TRUE(WriteFileAtomically(path, "new", "--out").ok());
  std::ifstream in(path);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "new");
  Status bad = WriteFileAtomically((tmp.path() / "no/such/dir/p.json").string(), "x", "--out");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("--out: cannot write"), std::string::npos);
}

TEST(MeasureDevice, UncalibratedCpuUsesStatedAssumptions) {
  LocalCpu cpu = ParseLocalCpu("processor : 0\nmodel name : Test CPU\ncpu MHz : 2000.000\nflags : fpu avx2 fma avx512f\n"
                               "processor : 1\n",
                               "MemTotal: 16777216 kB\nMemAvailable: 8388608 kB\n", 2);
  EXPECT_EQ(cpu.logical_cpus, 2);
  EXPECT_TRUE(cpu.avx512f);
  EXPECT_FALSE(cpu.avx512_bf16);
  EXPECT_DOUBLE_EQ(cpu.memory_total_bytes, 16 * kGiB);
  Result<DeviceModel> dm = LocalCpuModel("", cpu);
  ASSERT_TRUE(dm.ok()) << dm.status().message();
  // 2 cores x 2 GHz x (2 FMA units x 16 lanes x 2) = 256 GFLOP/s; bf16 at the fp32 rate.
  EXPECT_NEAR(dm->acc.PeakFlops(Dtype::kFp32).value(), 256e9, 1);
  EXPECT_NEAR(dm->acc.PeakFlops(Dtype::kBf16).value(), 256e9, 1);
  EXPECT_NEAR(dm->acc.memory_bandwidth_gb_s, 409.6 / 64 * 2, 1e-9);
  EXPECT_FALSE(dm->calibrated);
  EXPECT_GT(dm->power_w, 0);
}

TEST(MeasureDevice, CalibratedProfileMustMatchTheDevice) {
  TempDir tmp;
  std::string path = (tmp.path() / "p.json").string();
  nlohmann::json p = FittedProfile();
  p["device"]["kind"] = "cuda";
  ASSERT_TRUE(WriteProfile(p, path).ok());
  LocalCpu cpu;
  cpu.usable_cpus = 2;
  Result<DeviceModel> dm = LocalCpuModel(path, cpu);
  ASSERT_FALSE(dm.ok());
  EXPECT_NE(dm.status().message().find("not on the cpu"), std::string::npos);
}

TEST(MeasureDevice, MatchCatalogGpuNames) {
  Result<HardwareCatalog> hw = HardwareCatalog::Load(kData);
  ASSERT_TRUE(hw.ok());
  EXPECT_EQ(MatchCatalogGpu(*hw, "NVIDIA H100 80GB HBM3"), "h100-sxm-80gb");
  EXPECT_EQ(MatchCatalogGpu(*hw, "NVIDIA H100 PCIe"), "h100-pcie-80gb");
  EXPECT_EQ(MatchCatalogGpu(*hw, "NVIDIA A100-SXM4-40GB"), "a100-sxm-40gb");
  EXPECT_EQ(MatchCatalogGpu(*hw, "NVIDIA GeForce RTX 4090"), "rtx-4090");
  EXPECT_EQ(MatchCatalogGpu(*hw, "Some Other Accelerator"), "");
}

TEST(MeasurePredict, CalibratedFiguresDrivePredictions) {
  TempDir tmp;
  std::string path = (tmp.path() / "p.json").string();
  ASSERT_TRUE(WriteProfile(FittedProfile(), path).ok());
  LocalCpu cpu;
  cpu.usable_cpus = 2;
  cpu.memory_total_bytes = 16 * kGiB;
  Result<DeviceModel> dm = LocalCpuModel(path, cpu);
  ASSERT_TRUE(dm.ok()) << dm.status().message();
  for (const SweepCase& c : SweepGrid(Device::kCpu, Dtype::kFp32, false)) {
    Result<TrainingEstimate> e = PredictTrain(c.model, {c.batch, c.seq, c.dtype, false}, *dm);
    ASSERT_TRUE(e.ok()) << c.name << ": " << e.status().message();
    EXPECT_GT(e->time_step_s, 0) << c.name;
    EXPECT_TRUE(std::isfinite(e->time_step_s)) << c.name;
    EXPECT_GT(e->memory_total_bytes, 0) << c.name;
  }
  // Halving the measured curve doubles the GEMM part of a compute-bound step.
  ModelSpec m = SweepGrid(Device::kCpu, Dtype::kFp32, false)[2].model;
  DeviceModel slow = *dm;
  for (double& y : slow.eff.gemm_curve[static_cast<int>(Dtype::kFp32)].y) y /= 2;
  TrainConfig tc{4, 128, Dtype::kFp32, false};
  double fast_s = PredictTrain(m, tc, *dm)->time_compute_s;
  double slow_s = PredictTrain(m, tc, slow)->time_compute_s;
  EXPECT_GT(slow_s, 1.5 * fast_s);

  // The measured loss fraction prices the cross-entropy: 2 passes x 3 x 4 bytes per fp32 logit
  // over bandwidth x fraction, so halving the fraction adds exactly that time once more.
  ASSERT_TRUE(dm->figures.loss_memory_fraction.count("fp32"));
  double f = dm->figures.loss_memory_fraction.at("fp32");
  DeviceModel half = *dm;
  half.figures.loss_memory_fraction["fp32"] = f / 2;
  double logits = 4.0 * 128 * static_cast<double>(m.vocab);
  double bw = dm->acc.memory_bandwidth_gb_s * kGB;
  double added = PredictTrain(m, tc, half)->time_step_s - PredictTrain(m, tc, *dm)->time_step_s;
  EXPECT_NEAR(added, 2 * 3 * 4 * logits / (bw * f), 1e-9);

  // The AdamW curve prices the optimizer at the model's own parameter count: a model whose
  // state fits the caches pays fewer bytes per parameter than one beyond them.
  ASSERT_TRUE(dm->figures.adamw_bytes_curve.count("fp32"));
  DeviceModel curve = *dm;
  curve.figures.adamw_bytes_curve["fp32"] = EfficiencyCurve{{1e6, 1e9}, {10, 100}};
  double gated_f = dm->figures.memory_fraction.at("fp32").at("gated");
  for (const SweepCase& c : SweepGrid(Device::kCpu, Dtype::kFp32, false)) {
    if (c.model.moe || c.model.ffn_act == FfnAct::kGelu) continue;
    Result<TrainingEstimate> e = PredictTrain(c.model, {c.batch, c.seq, c.dtype, false}, curve);
    ASSERT_TRUE(e.ok());
    Result<perf::OpGraph> g = perf::BuildOpGraph(c.model, c.seq);
    ASSERT_TRUE(g.ok());
    double params = g->TrainableParams();
    double bytes = 10 + 90 * std::log(params / 1e6) / std::log(1e3);
    EXPECT_NEAR(e->time_optimizer_s, params * bytes / (bw * gated_f), 1e-9) << c.name;
  }

  // The attention factor scales the attention term and nothing else.
  // (The synthetic profile has no attention samples: its factor is the default 1.)
  EXPECT_FALSE(dm->figures.attention_time_factor.count("fp32"));
  DeviceModel twice = *dm;
  twice.figures.attention_time_factor["fp32"] = 2;
  TrainConfig long_seq{1, 1024, Dtype::kFp32, false};
  Result<TrainingEstimate> base = PredictTrain(m, long_seq, *dm);
  Result<TrainingEstimate> doubled = PredictTrain(m, long_seq, twice);
  ASSERT_TRUE(base.ok() && doubled.ok());
  EXPECT_GT(base->time_attention_s, 0);
  EXPECT_NEAR(doubled->time_attention_s, 2 * base->time_attention_s, 1e-12);
  EXPECT_NEAR(doubled->time_step_s - base->time_step_s, base->time_attention_s, 1e-9);
}

TEST(MeasurePredict, WeightStreamingCurvePricesDecodeByTheWeightsWorkingSet) {
  TempDir tmp;
  std::string path = (tmp.path() / "p.json").string();
  ASSERT_TRUE(WriteProfile(FittedProfile(), path).ok());
  LocalCpu cpu;
  cpu.usable_cpus = 2;
  cpu.memory_total_bytes = 16 * kGiB;
  Result<DeviceModel> dm = LocalCpuModel(path, cpu);
  ASSERT_TRUE(dm.ok()) << dm.status().message();
  ASSERT_FALSE(dm->eff.weight_stream_curve[static_cast<int>(Dtype::kFp32)].empty());
  Result<ModelSpec> m = ModelCatalog::Load(DLCOST_TEST_DATA_DIR)->Resolve("llama-3-8b");
  ASSERT_TRUE(m.ok());
  ModelSpec two = *m;
  two.layers = 2;
  InferConfig c;
  DeviceModel lo = *dm, hi = *dm;
  lo.eff.weight_stream_curve[static_cast<int>(Dtype::kFp32)] = EfficiencyCurve{{1e6, 1e12}, {0.25, 0.25}};
  hi.eff.weight_stream_curve[static_cast<int>(Dtype::kFp32)] = EfficiencyCurve{{1e6, 1e12}, {0.5, 0.5}};
  Result<ServingEstimate> slow = PredictInfer(two, c, lo);
  Result<ServingEstimate> fast = PredictInfer(two, c, hi);
  ASSERT_TRUE(slow.ok() && fast.ok()) << slow.status().message();
  // Batch 1 reads every weight once per step (the embedding table is gathered, not read):
  // halving the rate adds the weights' bytes once more at the slow rate's half.
  double bw = dm->acc.memory_bandwidth_gb_s * kGB;
  double streamed = (fast->weights_bytes - 4.0 * two.vocab * two.hidden) / (0.5 * bw);
  EXPECT_NEAR(slow->decode_step_s - fast->decode_step_s, streamed, 0.02 * streamed);
  // A curve that falls with the working set: a small model streams at the in-cache rate.
  DeviceModel falls = *dm;
  falls.eff.weight_stream_curve[static_cast<int>(Dtype::kFp32)] = EfficiencyCurve{{1e6, 1e12}, {2.0, 0.25}};
  EXPECT_LT(PredictInfer(two, c, falls)->decode_step_s, slow->decode_step_s);
}

TEST(MeasurePredict, CheckFitsSaysWhatItNeeds) {
  TrainingEstimate e;
  e.memory_total_bytes = 100 * kGiB;
  Status s = CheckFits(e, 10 * kGiB, "measure train x");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInfeasible);
  EXPECT_NE(s.message().find("needs about 120.0 GiB"), std::string::npos);
  EXPECT_TRUE(CheckFits(e, 1000 * kGiB, "x").ok());
}

TEST(MeasurePlan, CutModelRules) {
  Result<ModelCatalog> zoo = ModelCatalog::Load(kData);
  ASSERT_TRUE(zoo.ok());
  Result<ModelSpec> mix = CutModel(*zoo->Resolve("mixtral-8x7b"), 2);
  ASSERT_TRUE(mix.ok());
  EXPECT_EQ(mix->layers, 2);
  EXPECT_EQ(BlockStyle(*mix), "moe");
  EXPECT_EQ(BlockStyle(*zoo->Resolve("gpt2")), "gelu");
  EXPECT_FALSE(CutModel(*zoo->Resolve("gpt2"), 13).ok());
  EXPECT_FALSE(CutModel(*zoo->Resolve("gpt2"), 0).ok());
  Result<ModelSpec> mla = CutModel(*zoo->Resolve("deepseek-v3"), 1);
  ASSERT_FALSE(mla.ok());
  EXPECT_NE(mla.status().message().find("latent attention"), std::string::npos);
  EXPECT_FALSE(CutModel(*zoo->Resolve("resnet-50"), 1).ok());
}

TEST(MeasurePlan, SweepGridSpansRegimes) {
  std::vector<SweepCase> g = SweepGrid(Device::kCpu, Dtype::kFp32, false);
  EXPECT_GE(g.size(), 10u);
  std::set<std::string> names, regimes, blocks;
  for (const SweepCase& c : g) {
    names.insert(c.name);
    regimes.insert(c.regime.substr(0, c.regime.find(' ')));
    blocks.insert(BlockStyle(c.model));
    nlohmann::json cfg = SweepCaseConfig(c);
    EXPECT_EQ(cfg["batch"], c.batch);
    EXPECT_EQ(cfg["seq"], c.seq);
  }
  EXPECT_EQ(names.size(), g.size());
  EXPECT_GE(regimes.size(), 3u);
  EXPECT_EQ(blocks.size(), 3u);
  EXPECT_EQ(SweepGrid(Device::kCpu, Dtype::kFp32, true).size(), 3u);
  EXPECT_GE(SweepGrid(Device::kCuda, Dtype::kBf16, false).size(), 10u);
}

TEST(MeasureEnergy, RaplCountersWithWrapAround) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() / "intel-rapl:0");
  std::filesystem::create_directories(tmp.path() / "intel-rapl:0:0");  // a sub-zone: ignored
  tmp.Write("intel-rapl:0/energy_uj", "900000\n");
  tmp.Write("intel-rapl:0/max_energy_range_uj", "1000000\n");
  tmp.Write("intel-rapl:0/name", "package-0\n");
  tmp.Write("intel-rapl:0:0/energy_uj", "5\n");
  std::unique_ptr<EnergyMeter> m = OpenRapl(tmp.path().string());
  ASSERT_NE(m, nullptr);
  EXPECT_NE(m->source().find("package-0"), std::string::npos);
  std::optional<double> a = m->ReadJoules();
  tmp.Write("intel-rapl:0/energy_uj", "100000\n");  // wrapped: +200000 uJ
  std::optional<double> b = m->ReadJoules();
  ASSERT_TRUE(a && b);
  EXPECT_NEAR(*b - *a, 0.2, 1e-9);
  EXPECT_EQ(OpenRapl((tmp.path() / "none").string()), nullptr);
}

TEST(MeasureStats, CpuInterferenceIsAPercentage) {
  CpuInterference others;
  EXPECT_EQ(others.OtherPct(), 0);  // not started
  others.Start();
  volatile double x = 0;
  for (int i = 0; i < 20000000; ++i) x = x + 1e-9 * i;  // some work of our own
  double pct = others.OtherPct();
  EXPECT_GE(pct, 0);
  EXPECT_LE(pct, 100);
}

TEST(MeasureEnergy, NvmlAbsentIsNotAnError) {
  // This machine may or may not have the NVIDIA driver; either way nothing crashes.
  std::unique_ptr<EnergyMeter> m = OpenNvml(0);
  if (m) {
    EXPECT_TRUE(m->ReadJoules().has_value());
  }
  (void)NvmlDriverVersion();
  EXPECT_EQ(OpenNvml(-1), nullptr);
}

TEST(MeasureRecord, TrainAndSweepJsonKeepTheirKeysInOrder) {
  TrainMeasurement m;
  m.model_id = "gpt2";
  m.layers = 1;
  m.batch = 2;
  m.seq = 16;
  m.warmup = 1;
  m.steps = 2;
  m.samples.step_s = {0.2, 0.1};
  m.stats = Summarize(m.samples.step_s);
  m.predicted.time_step_s = 0.12;
  m.rel_error = RelativeError(0.12, m.stats.median_s);
  m.profile = "uncalibrated";
  m.energy = {3.5, "measured: rapl (package-0)"};
  nlohmann::ordered_json t = TrainRecordJson(m);
  std::vector<std::string> keys;
  for (const auto& [k, v] : t.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"command", "config", "samples_s", "stats", "predicted_s", "rel_error",
                                            "profile", "peak_memory_bytes", "other_cpu_pct", "energy_j_per_step",
                                            "energy_source"}));
  EXPECT_EQ(t["config"].begin().key(), "model");
  EXPECT_EQ(t["stats"]["median_s"], m.stats.median_s);

  SweepMeasurement s;
  s.grid = "tiny";
  s.rounds = 1;
  s.profile = "uncalibrated";
  SweepCaseResult c;
  c.config = SweepGrid(Device::kCpu, Dtype::kFp32, true).front();
  c.best.step_s = {0.01};
  c.stats = Summarize(c.best.step_s);
  c.rounds.push_back({c.best.step_s, 0.01, 0, 0});
  s.cases.push_back(c);
  nlohmann::ordered_json out = SweepJson(s);
  EXPECT_FALSE(out.contains("summary_uncalibrated"));
  EXPECT_FALSE(out["cases"][0].contains("predicted_uncalibrated_s"));
  s.calibrated = true;
  out = SweepJson(s);
  EXPECT_TRUE(out.contains("summary_uncalibrated"));
  EXPECT_TRUE(out["cases"][0].contains("rel_error_uncalibrated"));
  nlohmann::ordered_json rec = SweepRecordJson(s);
  EXPECT_EQ(rec["command"], "measure sweep");
  EXPECT_EQ(rec["cases"][0]["rounds"].size(), 1u);
  EXPECT_TRUE(rec["cases"][0].contains("predicted_breakdown_s"));
}

TEST(MeasureRecord, WritesTheRecordAndTheEnvironment) {
  TempDir tmp;
  RecordPlace place;
  place.runner.device_name = "cpu";
  Result<std::string> dir = WriteRecord(tmp.path().string(), "train", {{"command", "measure train"}}, place);
  ASSERT_TRUE(dir.ok()) << dir.status().message();
  int records = 0, environments = 0;
  for (const auto& e : std::filesystem::directory_iterator(*dir)) {
    std::string name = e.path().filename().string();
    records += name.rfind("train-", 0) == 0 && name.find(':') == std::string::npos ? 1 : 0;
    environments += name == "environment.json" ? 1 : 0;
  }
  EXPECT_EQ(records, 1);
  EXPECT_EQ(environments, 1);
}

TEST(MeasureRecord, FolderPerDeviceAndDate) {
  TempDir tmp;
  Result<std::string> cpu = RecordFolder(tmp.path().string(), Device::kCpu, "cpu", "2026-01-02");
  ASSERT_TRUE(cpu.ok());
  EXPECT_TRUE(std::filesystem::is_directory(tmp.path() / "cpu" / "2026-01-02"));
  Result<std::string> gpu = RecordFolder(tmp.path().string(), Device::kCuda, "NVIDIA H100 80GB HBM3", "2026-01-02");
  ASSERT_TRUE(gpu.ok());
  EXPECT_TRUE(std::filesystem::is_directory(tmp.path() / "nvidia-h100-80gb-hbm3" / "2026-01-02"));
  EXPECT_EQ(TodayUtc().size(), 10u);
  RunnerInfo info;
  info.device_name = "cpu";
  nlohmann::json env = CollectEnvironment(Device::kCpu, info, ReadLocalCpu());
  EXPECT_EQ(env["device"], "cpu");
  EXPECT_TRUE(env.contains("kernel"));
}

}  // namespace
}  // namespace dlcost::measure
