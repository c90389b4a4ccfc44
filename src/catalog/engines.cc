// Serving engine profiles: data/engines/*.json.
#include "dlcost/engines.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/json_util.h"
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
  size_t cut = n.find_first_of("@+");
  if (cut != std::string::npos) n = n.substr(0, cut);
  for (const EngineProfile& e : engines) {
    if (ToLower(e.id) == n) return e;
    for (const std::string& a : e.aliases) {
      if (ToLower(a) == n) return e;
    }
  }
  std::string ids;
  for (const EngineProfile& e : engines) ids += (ids.empty() ? "" : ", ") + e.id;
  return InvalidInput(fmt::format("--engine: unknown engine '{}' (known: {})", std::string(name), ids));
}

}  // namespace dlcost
