// The JSON of measurements: records under --record and the sweep's printed JSON
// (measure_record.h). Key order is part of the format: ordered_json keeps insertion order.
#include <fmt/format.h>

#include "dlcost/measure_record.h"

namespace dlcost::measure {
namespace {

nlohmann::ordered_json ErrorSummaryJson(const ErrorSummary& s) {
  nlohmann::ordered_json j;
  j["n"] = s.n;
  j["mape_pct"] = s.mape_pct;
  j["max_ape_pct"] = s.max_ape_pct;
  return j;
}

// A sweep case as printed: configuration, measured and predicted step, error and disturbance.
nlohmann::ordered_json SweepCaseJson(const SweepMeasurement& m, const SweepCaseResult& c) {
  nlohmann::ordered_json o;
  o["config"] = SweepCaseConfig(c.config);
  o["measured_s"] = c.stats.median_s;
  o["predicted_s"] = c.predicted.time_step_s;
  o["rel_error"] = c.rel_error;
  o["spread_pct"] = c.stats.spread_pct;
  o["other_cpu_pct"] = c.best.other_cpu_pct;
  if (m.calibrated) {
    o["predicted_uncalibrated_s"] = c.predicted_uncalibrated.time_step_s;
    o["rel_error_uncalibrated"] = c.rel_error_uncalibrated;
  }
  return o;
}

}  // namespace

EnergyFigure EnergyPerUnit(const std::optional<double>& measured_j, const std::string& source, double units,
                           double seconds, const DeviceModel& dm) {
  if (measured_j && units > 0) return {*measured_j / units, "measured: " + source};
  std::string why = "RAPL is not readable here (/sys/class/powercap)";
  if (dm.acc.kind != "cpu") why = "NVML has no energy counter for this GPU";
  return {dm.power_w * seconds, fmt::format("estimated ({}): {:.0f} W x time; {}", why, dm.power_w, dm.power_source)};
}

nlohmann::ordered_json TimingStatsJson(const TimingStats& s) {
  nlohmann::ordered_json j;
  j["n"] = s.n;
  j["median_s"] = s.median_s;
  j["p25_s"] = s.p25_s;
  j["p75_s"] = s.p75_s;
  j["min_s"] = s.min_s;
  j["max_s"] = s.max_s;
  j["mean_s"] = s.mean_s;
  j["spread_pct"] = s.spread_pct;
  return j;
}

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

nlohmann::json SweepCaseConfig(const SweepCase& c) {
  nlohmann::json j;
  j["name"] = c.name;
  j["regime"] = c.regime;
  j["model"] = c.model.id;
  j["block"] = BlockStyle(c.model);
  j["hidden"] = c.model.hidden;
  j["layers"] = c.model.layers;
  j["heads"] = c.model.heads;
  j["kv_heads"] = c.model.kv_heads;
  j["ffn"] = c.model.moe ? c.model.moe->expert_ffn : c.model.ffn;
  if (c.model.moe) {
    j["experts"] = c.model.moe->experts;
    j["top_k"] = c.model.moe->top_k;
  }
  j["vocab"] = c.model.vocab;
  j["batch"] = c.batch;
  j["seq"] = c.seq;
  j["dtype"] = DtypeName(c.dtype);
  return j;
}

nlohmann::ordered_json TrainRecordJson(const TrainMeasurement& m) {
  nlohmann::ordered_json rec;
  rec["command"] = "measure train";
  rec["config"] = {{"model", m.model_id}, {"layers", m.layers}, {"batch", m.batch}, {"seq", m.seq},
                   {"dtype", DtypeName(m.dtype)}, {"warmup", m.warmup}, {"steps", m.steps}};
  rec["samples_s"] = m.samples.step_s;
  rec["stats"] = TimingStatsJson(m.stats);
  rec["predicted_s"] = m.predicted.time_step_s;
  rec["rel_error"] = m.rel_error;
  rec["profile"] = m.profile;
  rec["peak_memory_bytes"] = m.samples.peak_memory_bytes;
  rec["other_cpu_pct"] = m.samples.other_cpu_pct;
  rec["energy_j_per_step"] = m.energy.j;
  rec["energy_source"] = m.energy.how;
  return rec;
}

nlohmann::ordered_json InferRecordJson(const InferMeasurement& m) {
  nlohmann::ordered_json rec;
  rec["command"] = "measure infer";
  rec["config"] = {{"model", m.model_id}, {"layers", m.layers},     {"batch", m.batch},   {"prompt", m.prompt},
                   {"generate", m.generate}, {"dtype", DtypeName(m.dtype)}, {"warmup", m.warmup}, {"reps", m.reps}};
  rec["prefill_s"] = m.samples.prefill_s;
  rec["decode_step_s"] = m.samples.decode_step_s;
  rec["prefill"] = TimingStatsJson(m.prefill);
  rec["decode"] = TimingStatsJson(m.decode);
  if (m.predicted) {
    rec["predicted_prefill_s"] = m.predicted->ttft_s;
    rec["predicted_decode_s"] = m.predicted->decode_step_s;
  }
  rec["peak_memory_bytes"] = m.samples.peak_memory_bytes;
  rec["energy_source"] = m.energy.how;
  return rec;
}

nlohmann::ordered_json SweepJson(const SweepMeasurement& m) {
  nlohmann::ordered_json cases = nlohmann::ordered_json::array();
  for (const SweepCaseResult& c : m.cases) cases.push_back(SweepCaseJson(m, c));
  nlohmann::ordered_json out;
  out["cases"] = cases;
  out["summary"] = ErrorSummaryJson(m.summary);
  if (m.calibrated) out["summary_uncalibrated"] = ErrorSummaryJson(m.summary_uncalibrated);
  out["device"] = m.device_name;
  out["profile"] = m.profile;
  return out;
}

nlohmann::ordered_json SweepRecordJson(const SweepMeasurement& m) {
  nlohmann::ordered_json raw = nlohmann::ordered_json::array();
  for (const SweepCaseResult& c : m.cases) {
    nlohmann::ordered_json w = SweepCaseJson(m, c);
    nlohmann::ordered_json rounds = nlohmann::ordered_json::array();
    for (const SweepRound& r : c.rounds) {
      rounds.push_back({{"samples_s", r.samples_s},
                        {"median_s", r.median_s},
                        {"other_cpu_pct", r.other_cpu_pct},
                        {"peak_memory_bytes", r.peak_memory_bytes}});
    }
    w["rounds"] = rounds;
    w["predicted_memory_bytes"] = c.predicted.memory_total_bytes;
    w["predicted_breakdown_s"] = {{"compute", c.predicted.time_compute_s},
                                  {"optimizer", c.predicted.time_optimizer_s},
                                  {"step_overhead", c.predicted.time_step_overhead_s}};
    raw.push_back(w);
  }
  nlohmann::ordered_json rec;
  rec["command"] = "measure sweep";
  rec["grid"] = m.grid;
  rec["warmup"] = m.warmup;
  rec["steps"] = m.steps;
  rec["rounds"] = m.rounds;
  rec["cases"] = raw;
  rec["summary"] = ErrorSummaryJson(m.summary);
  if (m.calibrated) rec["summary_uncalibrated"] = ErrorSummaryJson(m.summary_uncalibrated);
  rec["profile"] = m.profile;
  return rec;
}

nlohmann::ordered_json CalibrationRecordJson(const CalibrationRun& c) {
  nlohmann::ordered_json rec;
  rec["command"] = c.quick ? "calibrate --quick" : "calibrate";
  rec["wall_s"] = c.wall_s;
  rec["microbenchmarks"] = MicrobenchToJson(c.data);
  rec["profile"] = c.profile;
  return rec;
}

Result<std::string> WriteRecord(const std::string& root, const std::string& kind, nlohmann::ordered_json body,
                                const RecordPlace& place) {
  std::string date = TodayUtc();
  DLCOST_ASSIGN_OR_RETURN(std::string dir, RecordFolder(root, place.device, place.runner.device_name, date));
  nlohmann::json env = CollectEnvironment(place.device, place.runner, place.cpu);
  // File names without ':' (not allowed on every file system the records may be copied to).
  std::string stamp = NowUtcIso();
  std::string clean;
  for (char ch : stamp) clean += (ch == ':' ? '-' : ch);
  body["environment"] = env;
  DLCOST_RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + kind + "-" + clean + ".json", body.dump(2) + "\n", "--record"));
  DLCOST_RETURN_IF_ERROR(WriteFileAtomically(dir + "/environment.json", env.dump(2) + "\n", "--record"));
  return dir;
}

}  // namespace dlcost::measure
