#include "ledger/time.h"

#include <chrono>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "dlcost/ledger.h"

namespace dlcost::ledger {
namespace {

// Reads exactly `n` digits at `*p`.
bool Digits(std::string_view s, size_t* p, int n, int* out) {
  if (*p + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*p + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return true;
}

}  // namespace

std::optional<double> ParseIsoTime(std::string_view s) {
  size_t p = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  double frac = 0;
  if (!Digits(s, &p, 4, &y) || p >= s.size() || s[p++] != '-' || !Digits(s, &p, 2, &mo) || p >= s.size() ||
      s[p++] != '-' || !Digits(s, &p, 2, &d)) {
    return std::nullopt;
  }
  int offset_s = 0;
  if (p < s.size()) {
    if (s[p] != 'T' && s[p] != ' ') return std::nullopt;
    ++p;
    if (!Digits(s, &p, 2, &h) || p >= s.size() || s[p++] != ':' || !Digits(s, &p, 2, &mi)) return std::nullopt;
    if (p < s.size() && s[p] == ':') {
      ++p;
      if (!Digits(s, &p, 2, &sec)) return std::nullopt;
      if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
        ++p;
        double scale = 0.1;
        size_t start = p;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9' && p - start < 12) {
          frac += (s[p] - '0') * scale;
          scale /= 10;
          ++p;
        }
        if (p == start) return std::nullopt;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') ++p;  // beyond picoseconds
      }
    }
    if (p < s.size()) {
      if (s[p] == 'Z' && p + 1 == s.size()) {
        ++p;
      } else if (s[p] == '+' || s[p] == '-') {
        int sign = s[p] == '+' ? 1 : -1;
        ++p;
        int oh = 0, om = 0;
        if (!Digits(s, &p, 2, &oh)) return std::nullopt;
        if (p < s.size() && s[p] == ':') ++p;
        if (!Digits(s, &p, 2, &om) || oh > 23 || om > 59) return std::nullopt;
        offset_s = sign * (oh * 3600 + om * 60);
      }
    }
  }
  if (p != s.size()) return std::nullopt;
  using namespace std::chrono;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  double days = static_cast<double>(sys_days{ymd}.time_since_epoch().count());
  return days * 86400.0 + h * 3600.0 + mi * 60.0 + sec + frac - offset_s;
}

std::string FormatIsoTime(double unix_seconds) {
  using namespace std::chrono;
  // Years 0000 to 9999 only (what ParseIsoTime reads): anything else has no ISO 8601 form here.
  if (!std::isfinite(unix_seconds) || unix_seconds < -62167219200.0 || unix_seconds > 253402300799.0) return "";
  auto secs = static_cast<int64_t>(std::floor(unix_seconds));
  sys_days day{days{static_cast<int64_t>(std::floor(secs / 86400.0))}};
  int64_t rest = secs - static_cast<int64_t>(day.time_since_epoch().count()) * 86400;
  year_month_day ymd{day};
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), rest / 3600, (rest / 60) % 60,
                     rest % 60);
}

std::string NowUtc() {
  using namespace std::chrono;
  double now = duration<double>(system_clock::now().time_since_epoch()).count();
  return FormatIsoTime(now);
}

}  // namespace dlcost::ledger
