#include "ledger/importer_util.h"

#include <openssl/evp.h>

#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "dlcost/strings.h"

namespace dlcost::ledger {

std::string Digest(const std::string& text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < len && i < 16; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

std::string RowKey(const std::string& importer, const Entry& e) {
  auto num = [](std::optional<double> v) { return v ? fmt::format("{:.17g}", *v) : std::string(); };
  std::string canon = fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}", importer, e.project, e.run_name, e.gpu,
                                  e.num_gpus ? std::to_string(*e.num_gpus) : std::string(), e.start, e.end);
  const Metrics& m = e.metrics;
  for (auto v : {m.wall_s, m.gpu_hours, m.energy_kwh, m.usd, m.co2_kg, m.tokens, m.tokens_per_s}) canon += "\x1f" + num(v);
  return importer + ":" + Digest(canon);
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      *out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

std::optional<double> ParseNonNegativeNumber(std::string_view s) {
  s = TrimView(s);
  if (s.empty()) return std::nullopt;
  if (s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

std::map<std::string, std::string> ParseFlatYaml(std::string_view text) {
  std::map<std::string, std::string> out;
  for (const std::string& raw : Split(text, '\n')) {
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == ' ' || line[0] == '\t' || line[0] == '-' || line[0] == '#') continue;
    size_t colon = line.find(": ");
    if (colon == std::string_view::npos) {
      if (!line.empty() && line.back() == ':') out[std::string(line.substr(0, line.size() - 1))] = "";
      continue;
    }
    std::string_view value = TrimView(line.substr(colon + 2));
    if (value.size() >= 2 && ((value.front() == '\'' && value.back() == '\'') || (value.front() == '"' && value.back() == '"'))) {
      value = value.substr(1, value.size() - 2);
    }
    out[std::string(line.substr(0, colon))] = std::string(value);
  }
  return out;
}

}  // namespace dlcost::ledger
