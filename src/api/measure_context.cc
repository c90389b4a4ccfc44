// The preparation every measure call shares (measure_context.h).
#include "api/measure_context.h"

#include <fmt/format.h>

#include "dlcost/units.h"

namespace dlcost::api::measure_detail {
namespace {

constexpr const char* kNoTorch =
    "dlcost was built without libtorch: install libtorch-dev libopenblas0-pthread and rebuild (on a CUDA machine: "
    "scripts/measure-gpu.sh)";

// The CPU's device models: uncalibrated always, calibrated with a profile.
Status CpuModels(MeasureContext& c) {
  DLCOST_ASSIGN_OR_RETURN(const HardwareCatalog* hw, c.session->Hardware());
  DLCOST_ASSIGN_OR_RETURN(Accelerator ref, hw->Resolve("cpu"));
  DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile eff, c.session->Efficiency("", "local-cpu"));
  DLCOST_ASSIGN_OR_RETURN(c.plain, measure::CpuDeviceModel(ref, eff, nullptr, c.threads, c.cpu));
  if (c.profile) {
    DLCOST_ASSIGN_OR_RETURN(c.calibrated, measure::CpuDeviceModel(ref, eff, &*c.profile, c.threads, c.cpu));
  }
  return Status::Ok();
}

// A GPU's device models from the catalog entry `gpu_id` ("" : not known yet) and the profile.
Status GpuModels(MeasureContext& c, const std::string& gpu_id) {
  std::optional<Accelerator> cat;
  EfficiencyProfile eff;
  if (!gpu_id.empty()) {
    DLCOST_ASSIGN_OR_RETURN(const HardwareCatalog* hw, c.session->Hardware());
    DLCOST_ASSIGN_OR_RETURN(Accelerator a, hw->Resolve(gpu_id));
    cat = a;
    DLCOST_ASSIGN_OR_RETURN(eff, c.session->Efficiency("", a.id));
    DLCOST_ASSIGN_OR_RETURN(c.plain, measure::GpuDeviceModel(cat, eff, nullptr));
  }
  if (c.profile) {
    DLCOST_ASSIGN_OR_RETURN(c.calibrated, measure::GpuDeviceModel(cat, eff, &*c.profile));
  }
  return Status::Ok();
}

}  // namespace

double MeasureContext::AvailableBytes() const {
  if (device == Device::kCpu) return cpu.memory_available_bytes;
  return runner_started ? runner.device_memory_bytes : 0;
}

Result<int64_t> IntFlag(const std::string& text, const char* flag, int64_t lo, int64_t hi, int64_t fallback) {
  if (text.empty()) return fallback;
  Result<int64_t> v = ParsePositiveInt(text, flag);
  if (!v.ok() && text == "0" && lo == 0) return int64_t{0};
  if (!v.ok()) return v.status();
  if (*v < lo || *v > hi) return InvalidInput(fmt::format("{}: must be between {} and {}", flag, lo, hi));
  return *v;
}

Result<Dtype> RunnerDtype(const std::string& text, Device device, const char* flag) {
  if (text.empty()) return device == Device::kCuda ? Dtype::kBf16 : Dtype::kFp32;
  DLCOST_ASSIGN_OR_RETURN(Dtype d, ParseDtype(text, flag));
  if (d != Dtype::kFp32 && d != Dtype::kTf32 && d != Dtype::kBf16 && d != Dtype::kFp16) {
    return InvalidInput(fmt::format("--dtype: the runner trains in fp32, tf32, bf16 or fp16, not {}", DtypeName(d)));
  }
  if (device == Device::kCpu && (d == Dtype::kFp16 || d == Dtype::kTf32)) {
    return InvalidInput(fmt::format("--dtype: {} is for CUDA devices; on the cpu use fp32 or bf16", DtypeName(d)));
  }
  return d;
}

Result<MeasureContext> PrepareMeasure(const Session& session, const MeasureDeviceRequest& req, const MeasureEnv& env) {
  MeasureContext c;
  c.session = &session;
  c.env = env;
  c.record_root = req.record;
  DLCOST_ASSIGN_OR_RETURN(c.device, measure::ParseDevice(req.device));
  DLCOST_ASSIGN_OR_RETURN(int64_t threads, IntFlag(req.threads, "--threads", 1, 4096, 0));
  c.threads = static_cast<int>(threads);
  DLCOST_ASSIGN_OR_RETURN(int64_t intra, IntFlag(req.intra_op_threads, "--intra-op-threads", 1, 4096, 0));
  c.intra_op_threads = static_cast<int>(intra);
  DLCOST_ASSIGN_OR_RETURN(c.dtype, RunnerDtype(req.dtype, c.device));
  c.cpu = measure::ReadLocalCpu();
  if (c.threads == 0) c.threads = c.cpu.usable_cpus;
  if (!req.calibration.empty()) {
    DLCOST_ASSIGN_OR_RETURN(c.profile, measure::LoadCalibrationProfile(req.calibration));
    DLCOST_RETURN_IF_ERROR(measure::RequireMeasuredDevice(*c.profile).status());
  }
  if (c.device == Device::kCpu) {
    DLCOST_RETURN_IF_ERROR(CpuModels(c));
  } else {
    DLCOST_RETURN_IF_ERROR(GpuModels(c, req.gpu));
  }
  return c;
}

Status StartRunner(MeasureContext& c) {
  if (c.env.runner == nullptr) return Unavailable(kNoTorch);
  DLCOST_ASSIGN_OR_RETURN(c.runner, c.env.runner->Init(c.device, c.threads, c.intra_op_threads));
  c.runner_started = true;
  if (c.device == Device::kCuda && !c.plain) {
    DLCOST_ASSIGN_OR_RETURN(const HardwareCatalog* hw, c.session->Hardware());
    std::string id = measure::MatchCatalogGpu(*hw, c.runner.device_name);
    if (id.empty()) {
      return InvalidInput(fmt::format("--gpu: the CUDA device '{}' is not in the catalog; name the closest entry with "
                                      "--gpu ID (dlcost gpus lists them)",
                                      c.runner.device_name));
    }
    DLCOST_RETURN_IF_ERROR(GpuModels(c, id));
  }
  return Status::Ok();
}

MeasureRunInfo RunInfo(const MeasureContext& c) {
  MeasureRunInfo info;
  info.runner = c.runner;
  info.calibrated = c.calibrated.has_value();
  if (c.plain || c.calibrated) info.device_notes = c.model().notes;
  return info;
}

Result<std::string> Record(const MeasureContext& c, const std::string& kind, nlohmann::ordered_json body) {
  if (c.record_root.empty()) return std::string();
  DLCOST_ASSIGN_OR_RETURN(std::string dir,
                          measure::WriteRecord(c.record_root, kind, std::move(body), {c.device, c.runner, c.cpu}));
  c.Progress("recorded in " + dir);
  return dir;
}

std::unique_ptr<measure::EnergyMeter> OpenMeter(const MeasureContext& c) {
  return c.device == Device::kCuda ? measure::OpenNvml(0) : measure::OpenRapl();
}

std::string ThreadsText(const measure::RunnerInfo& r) {
  return fmt::format("{} (BLAS), libtorch intra-op {}", r.threads, r.intra_op_threads);
}

std::string DisturbedNote(double other_pct) {
  return fmt::format("warning: other processes used {:.0f}% of the CPUs during the timed work: the timings are "
                     "probably slower and noisier than on a quiet machine",
                     other_pct);
}

std::vector<std::string> RunNotes(const measure::RunnerInfo& r) {
  std::vector<std::string> out;
  for (const std::string& w : r.warnings) out.push_back("warning: " + w);
  out.push_back("attention: " + r.attention_impl + "; BLAS: " + r.blas);
  return out;
}

}  // namespace dlcost::api::measure_detail
