// Timing statistics and prediction errors.
#include <algorithm>
#include <cmath>

#include "dlcost/measure.h"

namespace dlcost::measure {
namespace {

// Quantile q of sorted `v` with linear interpolation between order statistics (the default
// "type 7" estimator of Hyndman & Fan 1996, used by R and NumPy).
double Quantile(const std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, v.size() - 1);
  double w = pos - static_cast<double>(lo);
  return v[lo] + w * (v[hi] - v[lo]);
}

}  // namespace

const char* DeviceName(Device d) { return d == Device::kCuda ? "cuda" : "cpu"; }

Result<Device> ParseDevice(std::string_view text) {
  std::string t(text);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (t == "cpu") return Device::kCpu;
  if (t == "cuda" || t == "gpu" || t == "cuda:0") return Device::kCuda;
  return InvalidInput("--device: unknown device '" + std::string(text) + "' (cpu, cuda)");
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return Quantile(v, 0.5);
}

TimingStats Summarize(std::vector<double> samples) {
  TimingStats s;
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.n = static_cast<int>(samples.size());
  s.min_s = samples.front();
  s.max_s = samples.back();
  double sum = 0;
  for (double x : samples) sum += x;
  s.mean_s = sum / static_cast<double>(s.n);
  s.median_s = Quantile(samples, 0.5);
  s.p25_s = Quantile(samples, 0.25);
  s.p75_s = Quantile(samples, 0.75);
  s.spread_pct = s.median_s > 0 ? 100.0 * (s.p75_s - s.p25_s) / s.median_s : 0;
  return s;
}

double RelativeError(double predicted, double measured) {
  if (!(measured > 0) || !std::isfinite(predicted)) return std::nan("");
  return (predicted - measured) / measured;
}

ErrorSummary SummarizeErrors(const std::vector<double>& relative_errors) {
  ErrorSummary s;
  double sum = 0;
  for (double e : relative_errors) {
    if (!std::isfinite(e)) continue;
    ++s.n;
    sum += std::fabs(e);
    s.max_ape_pct = std::max(s.max_ape_pct, 100.0 * std::fabs(e));
  }
  s.mape_pct = s.n > 0 ? 100.0 * sum / s.n : 0;
  return s;
}

}  // namespace dlcost::measure
