// Smoke test of dlcost calibrate and dlcost measure on this machine's CPU (built only with
// libtorch). Checks exit codes, the JSON shape and that every figure is finite and positive;
// never a timing threshold (the machine may be shared and noisy).
//
//   measure_smoke --dlcost build/dlcost --source-dir .
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

int failures = 0;

void Check(bool ok, const std::string& what) {
  if (!ok) {
    std::cerr << "FAIL: " << what << "\n";
    ++failures;
  }
}

bool Positive(const nlohmann::json& j, const std::string& key) {
  return j.contains(key) && j[key].is_number() && std::isfinite(j[key].get<double>()) && j[key].get<double>() > 0;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `args` with stdout and stderr captured; returns the exit code.
int Run(const std::string& dlcost, const std::string& source, const std::filesystem::path& tmp, const std::string& name,
        const std::string& args) {
  std::string cmd = Quote(dlcost) + " --data-dir " + Quote(source + "/data") + " " + args + " > " +
                    Quote((tmp / (name + ".out")).string()) + " 2> " + Quote((tmp / (name + ".err")).string());
  int rc = std::system(cmd.c_str());
  int code = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
  if (code != 0) {
    std::cerr << "command: " << cmd << "\nexit " << code << "\nstderr:\n" << Slurp(tmp / (name + ".err")) << "\n";
  }
  return code;
}

nlohmann::json Json(const std::filesystem::path& p, const std::string& what) {
  nlohmann::json j = nlohmann::json::parse(Slurp(p), nullptr, false);
  Check(!j.is_discarded(), what + ": output is JSON");
  return j.is_discarded() ? nlohmann::json::object() : j;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dlcost, source;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--dlcost") dlcost = argv[i + 1];
    if (a == "--source-dir") source = argv[i + 1];
  }
  if (dlcost.empty() || source.empty()) {
    std::cerr << "usage: measure_smoke --dlcost PATH --source-dir DIR\n";
    return 2;
  }
  std::filesystem::path tmp = std::filesystem::temp_directory_path() / ("dlcost_measure_smoke_" + std::to_string(getpid()));
  std::filesystem::create_directories(tmp);
  std::string profile = (tmp / "profile.json").string();

  // 1. calibrate --quick writes a complete profile.
  Check(Run(dlcost, source, tmp, "calibrate", "calibrate --device cpu --quick --out " + Quote(profile) + " --format json") == 0,
        "calibrate exits 0");
  nlohmann::json p = Json(profile, "profile");
  Check(p.contains("device") && p["device"].value("kind", "") == "cpu", "profile device kind is cpu");
  if (p.contains("device")) {
    Check(Positive(p["device"], "memory_bandwidth_gb_s"), "profile bandwidth positive");
    Check(p["device"].contains("peak_tflops") && Positive(p["device"]["peak_tflops"], "fp32"), "profile fp32 peak positive");
  }
  Check(p.contains("gemm_efficiency_curve") && p["gemm_efficiency_curve"].contains("fp32"), "profile has an fp32 curve");
  Check(Positive(p, "memory_fraction"), "profile memory fraction positive");
  Check(Positive(p, "attention_time_factor"), "profile attention factor positive");
  Check(p.contains("adamw_bytes_per_param_curve") && p["adamw_bytes_per_param_curve"].contains("params") &&
            p["adamw_bytes_per_param_curve"]["params"].size() == 3,
        "profile has an AdamW curve over 3 parameter counts");
  for (const auto& e : std::filesystem::directory_iterator(tmp)) {
    Check(e.path().filename().string().find(".tmp-") == std::string::npos, "no temporary file left behind");
  }

  // 2. The tiny sweep, calibrated: the documented JSON shape, finite positive figures.
  Check(Run(dlcost, source, tmp, "sweep",
            "measure sweep --device cpu --grid tiny --steps 2 --warmup 1 --rounds 1 --calibration " + Quote(profile) +
                " --format json") == 0,
        "sweep exits 0");
  nlohmann::json s = Json(tmp / "sweep.out", "sweep");
  Check(s.contains("cases") && s["cases"].is_array() && s["cases"].size() == 3, "sweep has 3 cases");
  for (const nlohmann::json& c : s.value("cases", nlohmann::json::array())) {
    Check(c.contains("config") && c["config"].is_object(), "case has a config");
    Check(Positive(c, "measured_s"), "case measured_s positive");
    Check(Positive(c, "predicted_s"), "case predicted_s positive");
    Check(c.contains("rel_error") && c["rel_error"].is_number() && std::isfinite(c["rel_error"].get<double>()),
          "case rel_error finite");
  }
  Check(s.contains("summary") && s["summary"].value("n", 0) == 3, "summary n = 3");
  if (s.contains("summary")) {
    Check(s["summary"].contains("mape_pct") && std::isfinite(s["summary"]["mape_pct"].get<double>()), "summary MAPE finite");
    Check(s["summary"].contains("max_ape_pct") &&
              s["summary"]["max_ape_pct"].get<double>() >= s["summary"]["mape_pct"].get<double>(),
          "max APE >= MAPE");
  }

  // 3. measure train and infer on a one-layer model; train accepts the calibrate output.
  Check(Run(dlcost, source, tmp, "train_measure",
            "measure train --model gpt2 --layers 1 --seq 16 --steps 2 --warmup 1 --calibration " + Quote(profile) +
                " --format json") == 0,
        "measure train exits 0");
  nlohmann::json t = Json(tmp / "train_measure.out", "measure train");
  for (const char* k : {"measured_median_s", "predicted_s", "predicted_uncalibrated_s", "achieved_tflops",
                        "energy_j_per_step"}) {
    Check(Positive(t, k), std::string("measure train ") + k + " positive");
  }
  // OpenBLAS's generic SSE3 kernels on a CPU with AVX2: dlcost-measure restarts with the CPU's
  // kernel set unless the user chose one.
  std::string flags = Slurp("/proc/cpuinfo");
  std::string notes = t.contains("notes") ? t["notes"].dump() : "";
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr && flags.find(" avx2") != std::string::npos &&
      notes.find("kernel set:") != std::string::npos) {
    Check(notes.find("kernel set: Prescott") == std::string::npos, "OpenBLAS runs the CPU's own kernels");
  }
  Check(Run(dlcost, source, tmp, "infer_measure",
            "measure infer --model gpt2 --layers 1 --prompt 16 --generate 4 --reps 1 --warmup 0 --format json") == 0,
        "measure infer exits 0");
  nlohmann::json inf = Json(tmp / "infer_measure.out", "measure infer");
  Check(Positive(inf, "prefill_median_s") && Positive(inf, "decode_median_s"), "measure infer times positive");
  Check(Run(dlcost, source, tmp, "train", "train --model gpt2 --gpu h100 --gpus 8 --steps 10 --calibration " +
                                              Quote(profile) + " --format json") == 0,
        "dlcost train accepts a calibrate profile");

  std::error_code ec;
  if (failures == 0) std::filesystem::remove_all(tmp, ec);
  std::cerr << (failures == 0 ? "measure smoke: ok\n" : "measure smoke: failures (outputs kept in " + tmp.string() + ")\n");
  return failures == 0 ? 0 : 1;
}
