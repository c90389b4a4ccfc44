#include "dlcost/strings.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace dlcost {

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::vector<std::string> NearestNames(std::string_view query, const std::vector<std::string>& known,
                                      size_t max) {
  // No catalog name is this long; a longer query (a stray CSV cell, say) gets no suggestion
  // rather than an edit-distance table of its length times every name's.
  constexpr size_t kMaxQuery = 256;
  if (query.size() > kMaxQuery) return {};
  std::string q = ToLower(query);
  std::vector<std::pair<size_t, std::string>> scored;
  const size_t limit = std::max<size_t>(2, q.size() / 3);
  for (const std::string& name : known) {
    std::string n = ToLower(name);
    // A name containing the query (or the reverse) is a strong hint: "h100" -> "h100-sxm-80gb".
    bool contains = !q.empty() && (n.find(q) != std::string::npos || q.find(n) != std::string::npos);
    size_t gap = q.size() > n.size() ? q.size() - n.size() : n.size() - q.size();
    if (!contains && gap > limit) continue;  // the distance is at least the length difference
    size_t d = contains ? 0 : EditDistance(q, n);
    if (d <= limit) scored.emplace_back(d, name);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (const auto& [d, name] : scored) {
    if (out.size() >= max) break;
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

std::string UnknownNameMessage(std::string_view what, std::string_view query,
                               const std::vector<std::string>& known) {
  std::vector<std::string> near = NearestNames(query, known);
  if (near.empty()) return fmt::format("unknown {} '{}'", what, ForMessage(query));
  return fmt::format("unknown {} '{}' (did you mean {}?)", what, ForMessage(query), fmt::join(near, ", "));
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < n && (at(k) & 0xC0) == 0x80; };
  while (i < n) {
    unsigned char c = at(i);
    if (c < 0x80) {
      ++i;
    } else if (c >= 0xC2 && c <= 0xDF) {
      if (!cont(i + 1)) return false;
      i += 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      if (!cont(i + 1) || !cont(i + 2)) return false;
      unsigned char c1 = at(i + 1);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)) return false;  // overlong, surrogate
      i += 3;
    } else if (c >= 0xF0 && c <= 0xF4) {
      if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return false;
      unsigned char c1 = at(i + 1);
      if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return false;  // overlong, > U+10FFFF
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

std::string ForMessage(std::string_view s, size_t max) {
  std::string out;
  size_t i = 0;
  while (i < s.size() && out.size() < max) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    // The length of a well-formed UTF-8 sequence starting here (0: not one).
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    if (!ok) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
  }
  if (i < s.size()) out += "...";
  return out;
}

}  // namespace dlcost
