// Charts as inline SVG for the HTML reports (docs/reports.md): axes, ticks, a legend and the
// marks, written as text with no script and no external reference.
#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "dlcost/report.h"
#include "report/escape.h"

namespace dlcost::report {
namespace {

// Okabe and Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
// deficiency. Blue first; yellow late (weak on white).
constexpr const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"};
constexpr size_t kColours = sizeof(kPalette) / sizeof(kPalette[0]);

// Geometry (SVG user units, about CSS pixels).
constexpr double kWidth = 720;
constexpr double kLeft = 84;     // room for the y tick labels and title
constexpr double kRight = 24;
constexpr double kTop = 20;
constexpr double kPlotHeight = 300;
constexpr double kAxisBelow = 58;  // x tick labels and title
constexpr double kLegendRow = 20;
constexpr double kCharWidth = 7;   // of the 12px labels, for the legend's flow

const char* Colour(size_t i) { return kPalette[i % kColours]; }

std::string Esc(const std::string& s) { return MarkupEscape(s); }

std::string N(double v) { return fmt::format("{:.1f}", v); }

// A tick label: three significant digits, thousands as k, M, G, T.
std::string TickLabel(double v) {
  double a = std::fabs(v);
  if (a == 0) return "0";
  static const char* kSuffix[] = {"", "k", "M", "G", "T"};
  int k = 0;
  while (a >= 1e3 && k < 4) {
    a /= 1e3;
    v /= 1e3;
    ++k;
  }
  // Three significant digits in fixed notation (1500, 0.25), trailing zeros dropped.
  int decimals = std::clamp(2 - static_cast<int>(std::floor(std::log10(a))), 0, 8);
  std::string t = fmt::format("{:.{}f}", v, decimals);
  if (t.find('.') != std::string::npos) {
    while (t.back() == '0') t.pop_back();
    if (t.back() == '.') t.pop_back();
  }
  return t + kSuffix[k];
}

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double px0 = 0, px1 = 1;  // pixel positions of lo and hi
  std::vector<double> ticks;
  double Map(double v) const {
    double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
    return px0 + t * (px1 - px0);
  }
  bool Drawable(double v) const { return std::isfinite(v) && (!log || v > 0); }
};

// Linear: 1, 2 or 5 times a power of ten, about five steps over the range, the range widened
// to whole steps.
void LinearTicks(Axis& a) {
  double span = a.hi - a.lo;
  double raw = span / 5;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (span / step <= 6) break;
  }
  a.lo = std::floor(a.lo / step) * step;
  a.hi = std::ceil(a.hi / step) * step;
  for (double t = a.lo; t <= a.hi + step / 2 && a.ticks.size() < 20; t += step) a.ticks.push_back(std::fabs(t) < step / 1e6 ? 0 : t);
}

// Log: whole decades, with 2 and 5 between them when the axis spans at most two decades.
void LogTicks(Axis& a) {
  double d0 = std::floor(std::log10(a.lo)), d1 = std::ceil(std::log10(a.hi));
  if (d1 <= d0) d1 = d0 + 1;
  a.lo = std::pow(10.0, d0);
  a.hi = std::pow(10.0, d1);
  bool fine = d1 - d0 <= 2;
  for (double d = d0; d <= d1 && a.ticks.size() < 40; ++d) {
    double base = std::pow(10.0, d);
    a.ticks.push_back(base);
    if (fine && d < d1) {
      a.ticks.push_back(2 * base);
      a.ticks.push_back(5 * base);
    }
  }
}

// An axis over `values` (those it can draw); `zero`: a linear axis starts at 0 when the data are
// all positive (bars, costs).
Axis MakeAxis(const std::vector<double>& values, bool log, bool zero, double px0, double px1) {
  Axis a;
  a.log = log;
  a.px0 = px0;
  a.px1 = px1;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values) {
    if (!a.Drawable(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!std::isfinite(lo)) {
    lo = log ? 1 : 0;
    hi = log ? 10 : 1;
  }
  if (!log && zero && lo > 0) lo = 0;
  if (hi <= lo) {
    double pad = log ? lo : std::max(1.0, std::fabs(lo) * 0.1);
    hi = lo + pad;
    if (!log && !zero) lo -= pad;
  }
  a.lo = lo;
  a.hi = hi;
  if (log) {
    LogTicks(a);
  } else {
    LinearTicks(a);
  }
  return a;
}

std::string Text(double x, double y, const std::string& s, const char* anchor, const char* extra = "") {
  return fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"{}\"{}>{}</text>", N(x), N(y), anchor, extra, Esc(s));
}

// Grid lines, tick labels and the axis titles of an XY plot.
std::string AxesSvg(const Axis& x, const Axis& y, const Chart& c) {
  std::string out = "<g class=\"axes\">";
  for (double t : y.ticks) {
    double py = y.Map(t);
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"grid\"/>", N(x.px0), N(py), N(x.px1), N(py));
    out += Text(x.px0 - 6, py + 4, TickLabel(t), "end");
  }
  for (double t : x.ticks) {
    double px = x.Map(t);
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"grid\"/>", N(px), N(y.px0), N(px), N(y.px1));
    out += Text(px, y.px0 + 18, TickLabel(t), "middle");
  }
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"frame\"/>", N(x.px0), N(y.px1),
                     N(x.px1 - x.px0), N(y.px0 - y.px1));
  if (!c.x_label.empty()) {
    out += Text((x.px0 + x.px1) / 2, y.px0 + 42, c.x_label + (c.log_x ? " (log scale)" : ""), "middle", " class=\"title\"");
  }
  if (!c.y_label.empty()) {
    double cy = (y.px0 + y.px1) / 2;
    out += fmt::format("<text x=\"16\" y=\"{}\" text-anchor=\"middle\" class=\"title\" transform=\"rotate(-90 16 {})\">{}</text>",
                       N(cy), N(cy), Esc(c.y_label + (c.log_y ? " (log scale)" : "")));
  }
  return out + "</g>";
}

// Swatches and names, flowing left to right from y0; returns the height used.
double LegendSvg(const std::vector<std::string>& names, double y0, std::string* out) {
  if (names.empty()) return 0;
  double x = kLeft, y = y0;
  *out += "<g class=\"legend\">";
  for (size_t i = 0; i < names.size(); ++i) {
    double w = 18 + kCharWidth * static_cast<double>(names[i].size()) + 16;
    if (x + w > kWidth - kRight && x > kLeft) {
      x = kLeft;
      y += kLegendRow;
    }
    *out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>", N(x), N(y), Colour(i));
    *out += Text(x + 18, y + 11, names[i], "start");
    x += w;
  }
  *out += "</g>";
  return y - y0 + kLegendRow;
}

std::string Open(const Chart& c, double height) {
  return fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {} {}\" width=\"{}\" "
                     "height=\"{}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
                     N(kWidth), N(height), N(kWidth), N(height), Esc(c.title), Esc(c.title));
}

std::string Empty(const Chart& c) {
  return Open(c, 60) + Text(kWidth / 2, 34, "nothing to draw", "middle") + "</svg>";
}

// The marks of one XY series: error bars, then points or a line.
std::string SeriesMarks(const Chart& c, size_t si, const Axis& x, const Axis& y) {
  const ChartSeries& s = c.series[si];
  std::string out = fmt::format("<g class=\"series\" fill=\"{}\" stroke=\"{}\">", Colour(si), Colour(si));
  size_t n = std::min(s.x.size(), s.y.size());
  auto has = [n](const std::vector<double>& v) { return v.size() == n; };
  std::vector<std::pair<double, double>> line;
  for (size_t i = 0; i < n; ++i) {
    if (!x.Drawable(s.x[i]) || !y.Drawable(s.y[i])) continue;
    double px = x.Map(s.x[i]), py = y.Map(s.y[i]);
    if (has(s.y_low) && has(s.y_high) && y.Drawable(s.y_low[i]) && y.Drawable(s.y_high[i])) {
      out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" class=\"err\"/>", N(px), N(y.Map(s.y_low[i])),
                         N(y.Map(s.y_high[i])));
    }
    if (has(s.x_low) && has(s.x_high) && x.Drawable(s.x_low[i]) && x.Drawable(s.x_high[i])) {
      out += fmt::format("<line x1=\"{1}\" y1=\"{0}\" x2=\"{2}\" y2=\"{0}\" class=\"err\"/>", N(py), N(x.Map(s.x_low[i])),
                         N(x.Map(s.x_high[i])));
    }
    bool lines = c.kind == ChartKind::kLines;
    if (lines) line.emplace_back(px, py);
    out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\"/>", N(px), N(py), lines ? "2.5" : "3.5");
    if (std::find(c.highlighted.begin(), c.highlighted.end(), std::pair{si, i}) != c.highlighted.end()) {
      out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"8\" class=\"ring\"/>", N(px), N(py));
    }
  }
  if (!line.empty()) {
    std::sort(line.begin(), line.end());
    out += "<polyline fill=\"none\" stroke-width=\"2\" points=\"";
    for (const auto& [px, py] : line) out += N(px) + "," + N(py) + " ";
    out += "\"/>";
  }
  return out + "</g>";
}

std::string XySvg(const Chart& c) {
  // The axes span the points that are drawn (and their error bars), nothing else.
  Axis px, py;
  px.log = c.log_x;
  py.log = c.log_y;
  std::vector<double> xs, ys;
  for (const ChartSeries& s : c.series) {
    size_t n = std::min(s.x.size(), s.y.size());
    for (size_t i = 0; i < n; ++i) {
      if (!px.Drawable(s.x[i]) || !py.Drawable(s.y[i])) continue;
      xs.push_back(s.x[i]);
      ys.push_back(s.y[i]);
      for (const auto* v : {&s.x_low, &s.x_high}) {
        if (v->size() == n && px.Drawable((*v)[i])) xs.push_back((*v)[i]);
      }
      for (const auto* v : {&s.y_low, &s.y_high}) {
        if (v->size() == n && py.Drawable((*v)[i])) ys.push_back((*v)[i]);
      }
    }
  }
  if (xs.empty()) return Empty(c);
  for (const ChartMarker& m : c.x_markers) xs.push_back(m.x);
  if (c.diagonal) {  // one range on both axes, so that y = x is the diagonal
    xs.insert(xs.end(), ys.begin(), ys.end());
    ys = xs;
  }
  double bottom = kTop + kPlotHeight;
  Axis x = MakeAxis(xs, c.log_x, c.kind == ChartKind::kLines, kLeft, kWidth - kRight);
  Axis y = MakeAxis(ys, c.log_y, !c.log_y, bottom, kTop);
  std::string body = AxesSvg(x, y, c);
  if (c.diagonal) {
    double lo = std::max(x.lo, y.lo), hi = std::min(x.hi, y.hi);
    body += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"diag\"/>", N(x.Map(lo)), N(y.Map(lo)),
                        N(x.Map(hi)), N(y.Map(hi)));
  }
  for (const ChartMarker& m : c.x_markers) {
    if (!x.Drawable(m.x)) continue;
    double px = x.Map(m.x);
    body += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" class=\"marker\"/>", N(px), N(kTop), N(bottom));
    body += Text(px + 4, kTop + 12, m.label, "start", " class=\"mlabel\"");
  }
  for (size_t si = 0; si < c.series.size(); ++si) body += SeriesMarks(c, si, x, y);
  std::vector<std::string> names;
  for (const ChartSeries& s : c.series) names.push_back(s.name);
  std::string legend;
  double lh = LegendSvg(names, bottom + kAxisBelow, &legend);
  return Open(c, bottom + kAxisBelow + lh + 4) + body + legend + "</svg>";
}

std::string BarsSvg(const Chart& c) {
  size_t bars = c.categories.size();
  if (bars == 0 || c.series.empty()) return Empty(c);
  std::vector<double> totals(bars, 0.0);
  for (const ChartSeries& s : c.series) {
    for (size_t b = 0; b < bars && b < s.y.size(); ++b) {
      if (std::isfinite(s.y[b]) && s.y[b] > 0) totals[b] += s.y[b];
    }
  }
  double label_w = 0;
  for (const std::string& cat : c.categories) label_w = std::max(label_w, kCharWidth * static_cast<double>(cat.size()));
  double left = std::max(kLeft, std::min(label_w + 16, kWidth / 3));
  constexpr double kBar = 26, kGap = 14;
  double bottom = kTop + static_cast<double>(bars) * (kBar + kGap);
  Axis x = MakeAxis(totals, false, true, left, kWidth - kRight);
  Axis y;
  y.px0 = bottom;
  y.px1 = kTop;
  Chart labels = c;
  labels.y_label.clear();
  std::string body = AxesSvg(x, y, labels);
  for (size_t b = 0; b < bars; ++b) {
    double top = kTop + kGap / 2 + static_cast<double>(b) * (kBar + kGap);
    body += Text(left - 8, top + kBar / 2 + 4, c.categories[b], "end");
    double at = 0;
    for (size_t si = 0; si < c.series.size(); ++si) {
      const ChartSeries& s = c.series[si];
      double v = b < s.y.size() && std::isfinite(s.y[b]) && s.y[b] > 0 ? s.y[b] : 0;
      if (v == 0) continue;
      double x0 = x.Map(at), x1 = x.Map(at + v);
      body += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}: {}</title></rect>",
                          N(x0), N(top), N(std::max(0.5, x1 - x0)), N(kBar), Colour(si), Esc(s.name), Esc(TickLabel(v)));
      at += v;
    }
  }
  std::vector<std::string> names;
  for (const ChartSeries& s : c.series) {
    // One bar: the legend gives each part's value too.
    names.push_back(bars == 1 && !s.y.empty() && std::isfinite(s.y[0]) ? fmt::format("{} {}", s.name, TickLabel(s.y[0])) : s.name);
  }
  std::string legend;
  double lh = names.size() > 1 ? LegendSvg(names, bottom + kAxisBelow, &legend) : 0;
  return Open(c, bottom + kAxisBelow + lh + 4) + body + legend + "</svg>";
}

}  // namespace

std::string RenderSvg(const Chart& c) {
  return c.kind == ChartKind::kStackedBars ? BarsSvg(c) : XySvg(c);
}

}  // namespace dlcost::report
