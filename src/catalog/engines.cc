// Serving engine profiles: data/engines/*.json.
#include "dlcost/engines.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/json_util.h"
#include "dlcost/error_bands.h"
#include "dlcost/strings.h"
#include "dlcost/units.h"

namespace dlcost {

namespace fs = std::filesystem;

namespace {

// One engine profile file; InvalidInput naming the file and the field when it is malformed.
Result<EngineProfile> ParseEngineFile(const std::string& p) {
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(p));
  if (!j.is_object()) return InvalidInput(fmt::format("{}: expected a JSON object", p));
  JsonFields f(j, p);
  EngineProfile e;
  DLCOST_ASSIGN_OR_RETURN(e.id, f.String("id"));
  e.name = f.OptString("name").value_or(e.id);
  DLCOST_ASSIGN_OR_RETURN(e.aliases, f.OptStringList("aliases"));
  DLCOST_ASSIGN_OR_RETURN(e.continuous_batching, f.OptBool("continuous_batching", true));
  DLCOST_ASSIGN_OR_RETURN(e.reserve_full_sequence, f.OptBool("reserve_full_sequence", true));
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> frac, f.OptNumber("kv_memory_fraction", false));
  if (frac) {
    if (*frac > 1) return InvalidInput(fmt::format("{}: kv_memory_fraction must be in (0, 1]", p));
    e.kv_memory_fraction = *frac;
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> mb, f.OptPositiveInt("max_batch"));
  if (mb) e.max_batch = *mb;
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> mt, f.OptPositiveInt("max_num_tokens"));
  if (mt) e.max_num_tokens = *mt;
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> so, f.OptNumber("step_overhead_s"));
  if (so) e.step_overhead_s = *so;
  DLCOST_ASSIGN_OR_RETURN(e.version_epochs, f.OptStringList("version_epochs"));
  for (size_t i = 1; i < e.version_epochs.size(); ++i) {
    if (CompareVersions(e.version_epochs[i - 1], e.version_epochs[i]) >= 0) {
      return InvalidInput(fmt::format("{}: version_epochs must be in ascending order", p));
    }
  }
  if (j.contains("iteration_time_factors")) {
    const nlohmann::json& list = j["iteration_time_factors"];
    if (!list.is_array()) return InvalidInput(fmt::format("{}: field 'iteration_time_factors' must be a list", p));
    for (size_t i = 0; i < list.size(); ++i) {
      std::string where = fmt::format("{}: iteration_time_factors[{}]", p, i);
      if (!list[i].is_object()) return InvalidInput(where + ": expected an object");
      JsonFields g(list[i], where);
      EngineFactor x;
      DLCOST_ASSIGN_OR_RETURN(x.architecture, g.String("architecture"));
      x.from_version = g.OptString("from_version").value_or("");
      if (!x.from_version.empty() &&
          std::find(e.version_epochs.begin(), e.version_epochs.end(), x.from_version) == e.version_epochs.end()) {
        return InvalidInput(where + ": from_version must be one of version_epochs");
      }
      DLCOST_ASSIGN_OR_RETURN(x.factor, g.PositiveNumber("factor"));
      if (x.factor < 0.1 || x.factor > 10) return InvalidInput(where + ": factor must be between 0.1 and 10");
      DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> n, g.OptPositiveInt("cases"));
      DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> m, g.OptPositiveInt("sources"));
      x.cases = n.value_or(0);
      x.sources = m.value_or(0);
      e.factors.push_back(std::move(x));
    }
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<double> ws, f.OptNumber("workspace_gib"));
  if (ws) e.workspace_bytes = *ws * kGiB;
  DLCOST_ASSIGN_OR_RETURN(e.sources, f.OptStringList("sources"));
  e.notes = f.OptString("notes").value_or("");
  return e;
}

}  // namespace

Result<std::vector<EngineProfile>> LoadEngines(const std::string& data_dir) {
  fs::path root = fs::path(data_dir) / "engines";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return InvalidInput(fmt::format("{}: engine profiles folder not found", root.string()));
  std::vector<std::string> files;
  for (const fs::directory_entry& e : fs::directory_iterator(root, ec)) {
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<EngineProfile> out;
  for (const std::string& p : files) {
    DLCOST_ASSIGN_OR_RETURN(EngineProfile e, ParseEngineFile(p));
    out.push_back(std::move(e));
  }
  if (out.empty()) return InvalidInput(fmt::format("{}: no engine profiles", root.string()));
  return out;
}

Result<EngineProfile> ResolveEngine(const std::vector<EngineProfile>& engines, std::string_view name) {
  std::string n = ToLower(std::string(TrimView(name)));
  if (n.empty()) n = "generic";
  std::string version;
  size_t at = n.find('@');
  if (at != std::string::npos) {
    version = n.substr(at + 1);
    version = version.substr(0, version.find('+'));
  }
  size_t cut = n.find_first_of("@+");
  if (cut != std::string::npos) n = n.substr(0, cut);
  for (const EngineProfile& e : engines) {
    bool match = ToLower(e.id) == n;
    for (const std::string& a : e.aliases) match = match || ToLower(a) == n;
    if (match) {
      EngineProfile out = e;
      out.version = version;
      return out;
    }
  }
  std::string ids;
  for (const EngineProfile& e : engines) ids += (ids.empty() ? "" : ", ") + e.id;
  return InvalidInput(fmt::format("--engine: unknown engine '{}' (known: {})", std::string(name), ids));
}

int CompareVersions(std::string_view a, std::string_view b) {
  std::vector<std::string> x = Split(std::string(a), '.'), y = Split(std::string(b), '.');
  for (size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
    std::string p = i < x.size() ? x[i] : "0", q = i < y.size() ? y[i] : "0";
    // Leading digits numerically ("6" < "10"), the rest ("post1", "rc2") as text.
    size_t dp = p.find_first_not_of("0123456789"), dq = q.find_first_not_of("0123456789");
    std::string np = p.substr(0, dp), nq = q.substr(0, dq);
    np.erase(0, std::min(np.find_first_not_of('0'), np.size()));
    nq.erase(0, std::min(nq.find_first_not_of('0'), nq.size()));
    if (np.size() != nq.size()) return np.size() < nq.size() ? -1 : 1;
    if (np != nq) return np < nq ? -1 : 1;
    std::string rp = dp == std::string::npos ? "" : p.substr(dp), rq = dq == std::string::npos ? "" : q.substr(dq);
    if (rp != rq) return rp < rq ? -1 : 1;
  }
  return 0;
}

std::string EngineEpoch(const EngineProfile& e, std::string_view version) {
  if (e.version_epochs.empty()) return "";
  std::string v(TrimView(version));
  if (v.empty() || v.find_first_of("0123456789") != 0) return e.version_epochs.back();
  std::string epoch;
  for (const std::string& from : e.version_epochs) {
    if (CompareVersions(from, v) <= 0) epoch = from;
  }
  return epoch;
}

const EngineFactor* FindEngineFactor(const EngineProfile& e, const Accelerator& gpu) {
  std::string arch = GpuGeneration(gpu);
  std::string epoch = EngineEpoch(e, e.version);
  for (const EngineFactor& f : e.factors) {
    if (f.architecture == arch && f.from_version == epoch) return &f;
  }
  return nullptr;
}

double IterationTimeFactor(const EngineProfile& e, const Accelerator& gpu) {
  if (e.iteration_time_factor > 0) return e.iteration_time_factor;
  const EngineFactor* f = FindEngineFactor(e, gpu);
  return f ? f->factor : 1;
}

}  // namespace dlcost
