// Folder manifests: SHA-256, size and SPDX license of every file; comparison for tampering.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/json_util.h"
#include "dlcost/strings.h"
#include "dlcost/audit.h"

namespace dlcost::audit {
namespace {

namespace fs = std::filesystem;

// Bytes of a file searched for an SPDX-License-Identifier line or license key phrases.
constexpr size_t kHeadBytes = 64 * 1024;

bool IsLicenseFile(const std::string& name) {
  std::string n = ToLower(name);
  for (const char* p : {"license", "licence", "copying", "unlicense"}) {
    if (n.rfind(p, 0) == 0) return true;
  }
  return false;
}

// Key phrases of license texts, matched on normalised text (docs/audit.md); the first rule whose
// phrases all occur wins, so more specific licenses come first. Phrases are quoted from the
// license texts published at spdx.org/licenses.
struct LicenseRule {
  const char* id;
  std::vector<const char*> phrases;
};
const std::vector<LicenseRule>& Rules() {
  static const std::vector<LicenseRule> rules = {
      {"AGPL-3.0-only", {"gnu affero general public license", "version 3"}},
      {"LGPL-3.0-only", {"gnu lesser general public license", "version 3"}},
      {"LGPL-2.1-only", {"gnu lesser general public license", "version 21"}},
      {"GPL-3.0-only", {"gnu general public license", "version 3"}},
      {"GPL-2.0-only", {"gnu general public license", "version 2"}},
      {"Apache-2.0", {"apache license", "version 20"}},
      {"MPL-2.0", {"mozilla public license version 20"}},
      {"BSL-1.0", {"boost software license", "version 10"}},
      {"Unlicense", {"this is free and unencumbered software released into the public domain"}},
      {"CC0-1.0", {"cc0 10 universal"}},
      {"CC-BY-SA-4.0", {"creative commons", "attributionsharealike 40 international"}},
      {"CC-BY-4.0", {"creative commons", "attribution 40 international"}},
      {"ISC", {"permission to use copy modify andor distribute this software for any purpose with or without fee is hereby granted"}},
      {"MIT", {"permission is hereby granted free of charge to any person obtaining a copy"}},
      {"BSD-3-Clause", {"redistribution and use in source and binary forms", "neither the name"}},
      {"BSD-2-Clause", {"redistribution and use in source and binary forms"}},
  };
  return rules;
}

}  // namespace

std::string DetectLicense(const std::string& file_name, std::string_view head) {
  static constexpr std::string_view kTag = "SPDX-License-Identifier:";
  size_t at = head.find(kTag);
  if (at != std::string_view::npos) {
    size_t start = at + kTag.size();
    size_t end = head.find_first_of("\r\n", start);
    std::string expr(TrimView(head.substr(start, end == std::string_view::npos ? end : end - start)));
    for (const char* closer : {"*/", "-->", "#}", "--}"}) {
      size_t c = expr.find(closer);
      if (c != std::string::npos) expr.erase(c);
    }
    expr = std::string(TrimView(expr));
    if (!expr.empty()) return expr;
  }
  if (!IsLicenseFile(file_name)) return "";
  std::string text = NormalizeText(head);
  for (const LicenseRule& r : Rules()) {
    bool all = std::all_of(r.phrases.begin(), r.phrases.end(),
                           [&](const char* p) { return text.find(p) != std::string::npos; });
    if (all) return r.id;
  }
  return "";
}

Result<Manifest> BuildManifest(const std::string& dir, const std::string& exclude_path) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return InvalidInput(fmt::format("{}: not a folder", dir));
  fs::path exclude = exclude_path.empty() ? fs::path() : fs::weakly_canonical(exclude_path, ec);
  Manifest m;
  std::vector<std::pair<std::string, fs::path>> files;
  fs::recursive_directory_iterator it(dir, ec);
  if (ec) return InvalidInput(fmt::format("{}: cannot read folder: {}", dir, ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return InvalidInput(fmt::format("{}: cannot read folder: {}", dir, ec.message()));
    std::error_code ec2;
    if (!it->is_regular_file(ec2)) continue;
    if (!exclude.empty() && fs::weakly_canonical(it->path(), ec2) == exclude) continue;
    files.emplace_back(fs::relative(it->path(), dir, ec2).generic_string(), it->path());
  }
  std::sort(files.begin(), files.end());
  std::vector<char> buf(1 << 20);
  for (const auto& [rel, p] : files) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return InvalidInput(fmt::format("{}: cannot read", p.string()));
    Sha256 sha;
    std::string head;
    int64_t size = 0;
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      std::streamsize n = in.gcount();
      if (n <= 0) break;
      sha.Update(buf.data(), static_cast<size_t>(n));
      if (head.size() < kHeadBytes) head.append(buf.data(), std::min<size_t>(static_cast<size_t>(n), kHeadBytes - head.size()));
      size += n;
    }
    if (in.bad()) return InvalidInput(fmt::format("{}: read error", p.string()));
    m.files.push_back({rel, size, sha.HexDigest(), DetectLicense(p.filename().string(), head)});
  }
  return m;
}

std::string ManifestToJson(const Manifest& m) {
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  int64_t bytes = 0;
  std::map<std::string, int64_t> licenses;
  for (const ManifestEntry& e : m.files) {
    nlohmann::ordered_json o;
    o["path"] = e.path;
    o["size_bytes"] = e.size_bytes;
    o["sha256"] = e.sha256;
    o["license"] = e.license.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(e.license);
    files.push_back(o);
    bytes += e.size_bytes;
    if (!e.license.empty()) ++licenses[e.license];
  }
  nlohmann::ordered_json out;
  out["files"] = files;
  nlohmann::ordered_json s;
  s["files"] = m.files.size();
  s["size_bytes"] = bytes;
  s["licenses"] = nlohmann::ordered_json::object();
  for (const auto& [id, n] : licenses) s["licenses"][id] = n;
  out["summary"] = s;
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<Manifest> ReadManifest(const std::string& path) {
  DLCOST_ASSIGN_OR_RETURN(nlohmann::json doc, ReadJsonFile(path));
  if (!doc.is_object() || !doc.contains("files") || !doc["files"].is_array()) {
    return InvalidInput(fmt::format("{}: not a dlcost manifest (no \"files\" array)", path));
  }
  Manifest m;
  for (size_t i = 0; i < doc["files"].size(); ++i) {
    const nlohmann::json& f = doc["files"][i];
    std::string where = fmt::format("{}: files[{}]", path, i);
    if (!f.is_object()) return InvalidInput(where + ": not an object");
    JsonFields j(f, where);
    ManifestEntry e;
    DLCOST_ASSIGN_OR_RETURN(e.path, j.String("path"));
    DLCOST_ASSIGN_OR_RETURN(e.sha256, j.String("sha256"));
    DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> size, j.OptNonNegativeInt("size_bytes"));
    if (!size) return InvalidInput(where + ": missing \"size_bytes\"");
    e.size_bytes = *size;
    e.license = j.OptString("license").value_or("");
    m.files.push_back(std::move(e));
  }
  std::sort(m.files.begin(), m.files.end(), [](const ManifestEntry& a, const ManifestEntry& b) { return a.path < b.path; });
  return m;
}

std::vector<ManifestChange> CompareManifests(const Manifest& before, const Manifest& after) {
  std::vector<ManifestChange> out;
  size_t i = 0, j = 0;
  const auto& a = before.files;
  const auto& b = after.files;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].path < b[j].path)) {
      out.push_back({a[i].path, "removed", a[i].sha256, "", a[i].size_bytes, -1});
      ++i;
    } else if (i == a.size() || b[j].path < a[i].path) {
      out.push_back({b[j].path, "added", "", b[j].sha256, -1, b[j].size_bytes});
      ++j;
    } else {
      if (a[i].sha256 != b[j].sha256 || a[i].size_bytes != b[j].size_bytes) {
        out.push_back({a[i].path, "changed", a[i].sha256, b[j].sha256, a[i].size_bytes, b[j].size_bytes});
      }
      ++i;
      ++j;
    }
  }
  return out;
}

}  // namespace dlcost::audit
