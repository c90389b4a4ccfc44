// `calibrate` as a library call (api_measure.h).
#include <algorithm>
#include <chrono>
#include <cstdio>

#include <fmt/format.h>

#include "api/measure_context.h"

namespace dlcost::api {
namespace {

using measure_detail::MeasureContext;

// --dtypes: a comma-separated list of the runner's precisions, duplicates dropped.
Result<std::vector<Dtype>> ParseDtypes(const std::string& text, Device device) {
  std::vector<Dtype> dtypes;
  std::string list = text.empty() ? (device == Device::kCuda ? "bf16,fp16,tf32" : "fp32,bf16") : text;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    Result<Dtype> d = measure_detail::RunnerDtype(item, device);
    if (!d.ok()) return d.status().WithContext("--dtypes");
    if (std::find(dtypes.begin(), dtypes.end(), *d) == dtypes.end()) dtypes.push_back(*d);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return dtypes;
}

// What the profile says about where and how it was measured.
measure::ProfileMeta Meta(const MeasureContext& c, const std::string& id) {
  measure::ProfileMeta meta;
  meta.id = id;
  meta.device_name = c.runner.device_name;
  meta.created_utc = measure::NowUtcIso();
  meta.torch_version = c.runner.torch_version;
  meta.threads = c.runner.threads;
  meta.intra_op_threads = c.runner.intra_op_threads;
  meta.memory_total_bytes = c.device == Device::kCpu ? c.cpu.memory_total_bytes : c.runner.device_memory_bytes;
  if (c.plain) {
    meta.power_w = c.plain->power_w;
    meta.power_source = c.plain->power_source;
  }
  return meta;
}

}  // namespace

Result<CalibrateResult> Calibrate(const Session& session, const CalibrateRequest& req, const MeasureEnv& env) {
  auto wall0 = std::chrono::steady_clock::now();
  MeasureDeviceRequest device = req.device;
  device.calibration.clear();
  device.dtype.clear();
  DLCOST_ASSIGN_OR_RETURN(MeasureContext c, measure_detail::PrepareMeasure(session, device, env));
  DLCOST_ASSIGN_OR_RETURN(std::vector<Dtype> dtypes, ParseDtypes(req.dtypes, c.device));
  // Fail on an unwritable --out now, not after minutes of measuring.
  DLCOST_RETURN_IF_ERROR(measure::WriteFileAtomically(req.out + ".probe", "", "--out"));
  std::remove((req.out + ".probe").c_str());
  DLCOST_RETURN_IF_ERROR(measure_detail::StartRunner(c));

  CalibrateResult r;
  measure::CalibrationRun& run = r.c;
  run.quick = req.quick;
  run.out_path = req.out;
  measure::MicrobenchPlan plan;
  plan.device = c.device;
  plan.dtypes = dtypes;
  plan.quick = req.quick;
  DLCOST_ASSIGN_OR_RETURN(run.data, c.env.runner->Microbenchmarks(plan, [&c](const std::string& s) {
    c.Progress("calibrate: " + s);
  }));
  DLCOST_ASSIGN_OR_RETURN(run.profile, measure::FitProfile(run.data, Meta(c, req.id)));
  DLCOST_RETURN_IF_ERROR(measure::WriteProfile(run.profile, req.out));
  run.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  r.run = measure_detail::RunInfo(c);
  DLCOST_ASSIGN_OR_RETURN(r.run.record_folder, measure_detail::Record(c, "calibrate", measure::CalibrationRecordJson(run)));
  return r;
}

report::Report CalibrateReport(const CalibrateResult& res) {
  const measure::CalibrationRun& c = res.c;
  const nlohmann::json& p = c.profile;
  report::Report r;
  r.title = fmt::format("Calibration of {} (threads {}){}", res.run.runner.device_name,
                        measure_detail::ThreadsText(res.run.runner), c.quick ? ", quick" : "");
  r.AddField("profile", "profile written", c.out_path);
  r.AddField("wall_s", "wall time (s)", c.wall_s, 1);
  r.AddField("memory_bandwidth_gb_s", "copy bandwidth (GB/s)", p["device"]["memory_bandwidth_gb_s"].get<double>(), 2);
  for (const auto& [dt, v] : p["device"]["peak_tflops"].items()) {
    r.AddField("peak_" + dt + "_tflops", "best GEMM " + dt + " (TFLOP/s)", v.get<double>(), 4);
  }
  r.AddField("memory_fraction", "memory-bound efficiency (gated block, first precision)", p["memory_fraction"].get<double>(), 3);
  r.AddField("layer_host_overhead_s", "per-layer overhead, forward (s)", p["layer_host_overhead_s"].get<double>(), 6);
  r.AddField("step_overhead_s", "per-step overhead (s)", p["step_overhead_s"].get<double>(), 6);
  report::Table& t = r.AddTable("gemm_curve", "GEMM efficiency by arithmetic intensity",
                                {{"dtype", "dtype"}, {"flops_per_element", "FLOPs/element", 1}, {"fraction", "fraction of peak", 3}});
  for (const auto& [dt, curve] : p["gemm_efficiency_curve"].items()) {
    for (size_t i = 0; i < curve["fraction"].size(); ++i) {
      t.rows.push_back({dt, curve["flops_per_element"][i].get<double>(), curve["fraction"][i].get<double>()});
    }
  }
  for (const std::string& n : measure_detail::RunNotes(res.run.runner)) r.notes.push_back(n);
  if (c.data.other_cpu_pct > measure_detail::kDisturbedPct) {
    r.notes.push_back(measure_detail::DisturbedNote(c.data.other_cpu_pct));
  }
  r.notes.push_back("use it with: dlcost measure sweep --device " + std::string(measure::DeviceName(c.data.device)) +
                    " --calibration " + c.out_path + " (or dlcost train --calibration)");
  return r;
}

}  // namespace dlcost::api
