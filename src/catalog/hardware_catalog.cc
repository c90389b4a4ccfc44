#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "common/json_util.h"
#include "dlcost/strings.h"
#include "dlcost/hardware.h"
#include "dlcost/units.h"

namespace dlcost {
namespace fs = std::filesystem;

namespace {

constexpr const char* kDtypeNames[kNumDtypes] = {"fp64", "fp32", "tf32", "bf16", "fp16",
                                                 "fp8",  "int8", "int4", "fp4"};

Result<std::vector<std::string>> SortedJsonFiles(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return InvalidInput(fmt::format("{}: catalog folder not found", dir.string()));
  }
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".json") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<Accelerator> ParseAcceleratorJson(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) return InvalidInput(fmt::format("{}: expected a JSON object", where));
  JsonFields f(j, where);
  Accelerator a;
  DLCOST_ASSIGN_OR_RETURN(a.id, f.String("id"));
  DLCOST_ASSIGN_OR_RETURN(a.name, f.String("name"));
  a.vendor = f.OptString("vendor").value_or("");
  a.kind = f.OptString("kind").value_or("gpu");
  a.architecture = f.OptString("architecture").value_or("");
  DLCOST_ASSIGN_OR_RETURN(a.aliases, f.OptStringList("aliases"));
  a.release_date = f.OptString("release_date").value_or("");
  if (!f.Has("peak_dense_tflops") || !j.at("peak_dense_tflops").is_object()) {
    return InvalidInput(fmt::format("{}: missing object 'peak_dense_tflops'", where));
  }
  JsonFields peaks(j.at("peak_dense_tflops"), where + ": peak_dense_tflops");
  for (const auto& item : j.at("peak_dense_tflops").items()) {
    const std::string& key = item.key();  // not a structured binding: clang 14 cannot capture those in a lambda
    if (std::find_if(std::begin(kDtypeNames), std::end(kDtypeNames),
                     [&](const char* n) { return key == n; }) == std::end(kDtypeNames)) {
      return InvalidInput(fmt::format("{}: peak_dense_tflops: unknown dtype '{}'", where, key));
    }
  }
  bool any = false;
  for (int i = 0; i < kNumDtypes; ++i) {
    DLCOST_ASSIGN_OR_RETURN(a.peak_dense_tflops[i], peaks.OptNumber(kDtypeNames[i], false));
    any = any || a.peak_dense_tflops[i].has_value();
  }
  if (!any) return InvalidInput(fmt::format("{}: peak_dense_tflops has no entry", where));
  DLCOST_ASSIGN_OR_RETURN(a.sparse_2_4, f.OptBool("sparse_2_4", false));
  DLCOST_ASSIGN_OR_RETURN(a.memory_gib, f.PositiveNumber("memory_gib"));
  DLCOST_ASSIGN_OR_RETURN(a.memory_bandwidth_gb_s, f.PositiveNumber("memory_bandwidth_gb_s"));
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> tdp, f.OptNumber("tdp_w", false));
  a.tdp_w = tdp.value_or(0);  // 0: not published
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> peak_power, f.OptNumber("peak_power_w", false));
  a.peak_power_w = peak_power.value_or(0);
  if (a.peak_power_w > 0 && !(a.tdp_w > 0)) {
    return InvalidInput(fmt::format("{}: peak_power_w needs tdp_w (the power cap the part runs at)", where));
  }
  if (f.Has("intra_node")) {
    JsonFields in(j.at("intra_node"), where + ": intra_node");
    a.intra_network = in.OptString("network").value_or("");
    DLCOST_ASSIGN_OR_RETURN(std::optional<double> bw, in.OptNumber("bandwidth_gb_s"));
    a.intra_bandwidth_gb_s = bw.value_or(0);
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> node, f.OptPositiveInt("node_size"));
  a.node_size = static_cast<int>(std::min<int64_t>(node.value_or(1), 1 << 20));
  if (f.Has("inter_node")) {
    JsonFields out(j.at("inter_node"), where + ": inter_node");
    a.inter_network = out.OptString("network").value_or("");
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> nics, out.OptNonNegativeInt("nics_per_node"));
    a.nics_per_node = static_cast<int>(std::min<int64_t>(nics.value_or(0), 1024));
  }
  DLCOST_ASSIGN_OR_RETURN(a.sources, f.OptStringList("source"));
  if (a.sources.empty()) return InvalidInput(fmt::format("{}: missing field 'source'", where));
  a.as_of = f.OptString("as_of").value_or("");
  a.notes = f.OptString("notes").value_or("");
  return a;
}

Result<Network> ParseNetworkJson(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) return InvalidInput(fmt::format("{}: expected a JSON object", where));
  JsonFields f(j, where);
  Network n;
  DLCOST_ASSIGN_OR_RETURN(n.id, f.String("id"));
  n.name = f.OptString("name").value_or(n.id);
  DLCOST_ASSIGN_OR_RETURN(n.scope, f.String("scope"));
  if (n.scope != "intra_node" && n.scope != "inter_node") {
    return InvalidInput(fmt::format("{}: scope must be intra_node or inter_node", where));
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> bw, f.OptNumber("bandwidth_gb_s"));
  if (!bw) return InvalidInput(fmt::format("{}: missing field 'bandwidth_gb_s'", where));
  n.bandwidth_gb_s = *bw;
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> lat, f.OptNumber("latency_us"));
  n.latency_us = lat.value_or(0);
  DLCOST_ASSIGN_OR_RETURN(n.sources, f.OptStringList("source"));
  if (n.sources.empty()) return InvalidInput(fmt::format("{}: missing field 'source'", where));
  n.as_of = f.OptString("as_of").value_or("");
  n.notes = f.OptString("notes").value_or("");
  return n;
}

}  // namespace

const char* DtypeName(Dtype d) { return kDtypeNames[static_cast<int>(d)]; }

Result<Dtype> ParseDtype(std::string_view text, std::string_view field) {
  std::string t = ToLower(TrimView(text));
  if (t == "float16" || t == "half") t = "fp16";
  if (t == "bfloat16") t = "bf16";
  if (t == "float32" || t == "float") t = "fp32";
  if (t == "float8" || t == "fp8_e4m3" || t == "e4m3") t = "fp8";
  for (int i = 0; i < kNumDtypes; ++i) {
    if (t == kDtypeNames[i]) return static_cast<Dtype>(i);
  }
  return InvalidInput(fmt::format("{}: unknown dtype '{}' (use fp32, tf32, bf16, fp16, fp8, int8, int4, fp4)",
                                  field, text));
}

double DtypeBytes(Dtype d) {
  switch (d) {
    case Dtype::kFp64: return 8;
    case Dtype::kFp32: return 4;
    case Dtype::kTf32: return 4;
    case Dtype::kBf16: return 2;
    case Dtype::kFp16: return 2;
    case Dtype::kFp8: return 1;
    case Dtype::kInt8: return 1;
    case Dtype::kInt4: return 0.5;
    case Dtype::kFp4: return 0.5;
  }
  return 2;
}

double Accelerator::SustainedComputeFraction() const {
  // Dynamic power ~ C V^2 f with the voltage scaled in step with the clock (DVFS): power ~ f^3,
  // so a cap at P sustains about (P / P_peak)^(1/3) of the clock the peaks assume.
  if (peak_power_w > 0 && tdp_w > 0 && tdp_w < peak_power_w) return std::cbrt(tdp_w / peak_power_w);
  return 1.0;
}

std::optional<double> Accelerator::PeakFlops(Dtype d) const {
  const auto& v = peak_dense_tflops[static_cast<int>(d)];
  if (!v) return std::nullopt;
  return *v * kTera;
}

double Accelerator::MemoryBytes() const { return memory_gib * kGiB; }

Result<Accelerator> ParseAcceleratorFile(const std::string& path) {
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(path));
  return ParseAcceleratorJson(j, path);
}

Result<HardwareCatalog> HardwareCatalog::Load(const std::string& data_dir) {
  HardwareCatalog c;
  fs::path root = fs::path(data_dir) / "hardware";
  DLCOST_ASSIGN_OR_RETURN(auto net_files, SortedJsonFiles(root / "networks"));
  for (const std::string& p : net_files) {
    DLCOST_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(p));
    DLCOST_ASSIGN_OR_RETURN(Network n, ParseNetworkJson(j, p));
    c.networks_.push_back(std::move(n));
  }
  DLCOST_ASSIGN_OR_RETURN(auto acc_files, SortedJsonFiles(root / "accelerators"));
  std::set<std::string> names;
  for (const std::string& p : acc_files) {
    DLCOST_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(p));
    DLCOST_ASSIGN_OR_RETURN(Accelerator a, ParseAcceleratorJson(j, p));
    for (const std::string& n : [&] {
           std::vector<std::string> all = a.aliases;
           all.push_back(a.id);
           return all;
         }()) {
      if (!names.insert(ToLower(n)).second) {
        return InvalidInput(fmt::format("{}: id or alias '{}' is used twice in the catalog", p, n));
      }
    }
    for (const std::string* net : {&a.intra_network, &a.inter_network}) {
      if (net->empty()) continue;
      bool found = std::any_of(c.networks_.begin(), c.networks_.end(),
                               [&](const Network& n) { return n.id == *net; });
      if (!found) return InvalidInput(fmt::format("{}: unknown network '{}'", p, *net));
    }
    c.accelerators_.push_back(std::move(a));
  }
  if (c.accelerators_.empty()) {
    return InvalidInput(fmt::format("{}: no accelerator files", (root / "accelerators").string()));
  }
  return c;
}

std::vector<std::string> HardwareCatalog::Ids() const {
  std::vector<std::string> ids;
  for (const Accelerator& a : accelerators_) ids.push_back(a.id);
  return ids;
}

Result<Accelerator> HardwareCatalog::Resolve(std::string_view name_or_path) const {
  std::string q = ToLower(TrimView(name_or_path));
  if (q.empty()) return InvalidInput("--gpu: empty GPU name");
  for (const Accelerator& a : accelerators_) {
    if (ToLower(a.id) == q) return a;
    for (const std::string& al : a.aliases) {
      if (ToLower(al) == q) return a;
    }
  }
  std::string path(TrimView(name_or_path));
  std::error_code ec;
  if (path.size() > 5 && path.substr(path.size() - 5) == ".json" && fs::is_regular_file(path, ec)) {
    return ParseAcceleratorFile(path);
  }
  std::vector<std::string> known;
  for (const Accelerator& a : accelerators_) {
    known.push_back(a.id);
    known.insert(known.end(), a.aliases.begin(), a.aliases.end());
  }
  return NotFound(UnknownNameMessage("GPU", name_or_path, known));
}

Result<Network> HardwareCatalog::ResolveNetwork(std::string_view id) const {
  std::string q = ToLower(TrimView(id));
  std::vector<std::string> known;
  for (const Network& n : networks_) {
    if (ToLower(n.id) == q) return n;
    known.push_back(n.id);
  }
  return NotFound(UnknownNameMessage("network", id, known));
}

}  // namespace dlcost
