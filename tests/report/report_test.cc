// The report printers: JSON, CSV, Markdown, HTML and the human table render one Report.
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/csv.h"
#include "dlcost/report.h"

namespace dlcost::report {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A report with awkward strings: commas, quotes, pipes, markup, a newline, NaN and nulls.
Report Awkward() {
  Report r;
  r.title = "Offers | cheap";
  r.AddField("gpu", "GPU", std::string("h100-sxm-80gb"));
  r.AddField("count_gpus", "GPUs", int64_t{8});
  r.AddField("price_usd_per_hour", "price ($/h)", 55.04, 2);
  r.AddField("spot_usd_per_hour", "spot ($/h)", kNaN);
  r.AddField("tdp_w", "TDP (W)", Value());
  r.AddField("sparse", "2:4 sparsity", true);
  Table& t = r.AddTable("offers", "Offers",
                        {{"provider", "provider"}, {"instance", "instance"}, {"usd_per_gpu_hour", "$/GPU-h", 3},
                         {"gpu_count", "GPUs"}, {"spot_usd_per_gpu_hour", "spot $/GPU-h", 3}});
  t.rows.push_back({std::string("aws"), std::string("p5.48xlarge"), 6.88, int64_t{8}, Value()});
  t.rows.push_back({std::string("lambda, inc."), std::string("8x \"H100\" | SXM"), 3.99, int64_t{8}, kNaN});
  t.rows.push_back({std::string("<b>&co</b>"), std::string("two\nlines"), kInf, int64_t{1}, 1.5});
  r.notes.push_back("prices change | check first");
  return r;
}

TEST(ReportJson, ValidAndKeepsColumnKeys) {
  std::string text = Render(Awkward(), Format::kJson);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << text;
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["gpu"], "h100-sxm-80gb");
  EXPECT_TRUE(j["count_gpus"].is_number_integer());
  EXPECT_EQ(j["count_gpus"], 8);
  EXPECT_DOUBLE_EQ(j["price_usd_per_hour"].get<double>(), 55.04);  // full precision, not 2 digits
  EXPECT_TRUE(j["spot_usd_per_hour"].is_null());
  EXPECT_TRUE(j["tdp_w"].is_null());
  EXPECT_EQ(j["sparse"], true);
  ASSERT_TRUE(j["offers"].is_array());
  ASSERT_EQ(j["offers"].size(), 3u);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j["offers"][0].items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"provider", "instance", "usd_per_gpu_hour", "gpu_count",
                                            "spot_usd_per_gpu_hour"}));
  EXPECT_EQ(j["offers"][1]["provider"], "lambda, inc.");
  EXPECT_EQ(j["offers"][1]["instance"], "8x \"H100\" | SXM");
  EXPECT_TRUE(j["offers"][1]["spot_usd_per_gpu_hour"].is_null());  // NaN
  EXPECT_TRUE(j["offers"][2]["usd_per_gpu_hour"].is_null());       // infinity
  EXPECT_EQ(j["offers"][2]["instance"], "two\nlines");
  EXPECT_DOUBLE_EQ(j["offers"][2]["spot_usd_per_gpu_hour"].get<double>(), 1.5);
  ASSERT_TRUE(j["notes"].is_array());
  EXPECT_EQ(j["notes"][0], "prices change | check first");
  // Fields come first, in the order they were added.
  EXPECT_EQ(j.begin().key(), "gpu");
}

TEST(ReportJson, ShortRowsFillWithNull) {
  Report r;
  Table& t = r.AddTable("t", "", {{"a", "a"}, {"b", "b"}});
  t.rows.push_back({int64_t{1}});
  nlohmann::json j = nlohmann::json::parse(Render(r, Format::kJson));
  EXPECT_EQ(j["t"][0]["a"], 1);
  EXPECT_TRUE(j["t"][0].contains("b"));
  EXPECT_TRUE(j["t"][0]["b"].is_null());
}

TEST(ReportJson, InvalidUtf8InAStringStillGivesJson) {
  // Text from a user's CSV file need not be UTF-8; printing it must not abort.
  Report r;
  r.AddField("instance", "instance", std::string("caf\xe9"));
  std::string text;
  ASSERT_NO_THROW(text = Render(r, Format::kJson));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << text;
  EXPECT_TRUE(j["instance"].is_string());
}

TEST(ReportCsv, QuotesCommasQuotesAndNewlines) {
  std::string text = Render(Awkward(), Format::kCsv);
  EXPECT_TRUE(Contains(text, "\"lambda, inc.\"")) << text;
  EXPECT_TRUE(Contains(text, "\"8x \"\"H100\"\" | SXM\"")) << text;
  EXPECT_TRUE(Contains(text, "\"two\nlines\"")) << text;
  EXPECT_TRUE(Contains(text, "key,value\n")) << text;
  EXPECT_TRUE(Contains(text, "price_usd_per_hour,55.04\n")) << text;
  EXPECT_TRUE(Contains(text, "spot_usd_per_hour,\n")) << text;  // NaN: empty
  EXPECT_TRUE(Contains(text, "sparse,true\n")) << text;

  // The table block reads back with our own CSV reader, column keys as the header.
  size_t table_start = text.find("provider,instance,");
  ASSERT_NE(table_start, std::string::npos) << text;
  Result<CsvTable> t = CsvTable::Parse(text.substr(table_start), "out.csv");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->header(), (std::vector<std::string>{"provider", "instance", "usd_per_gpu_hour", "gpu_count",
                                                  "spot_usd_per_gpu_hour"}));
  ASSERT_EQ(t->rows().size(), 3u);
  EXPECT_EQ(t->rows()[0].fields[2], "6.88");
  EXPECT_EQ(t->rows()[0].fields[4], "");
  EXPECT_EQ(t->rows()[1].fields[0], "lambda, inc.");
  EXPECT_EQ(t->rows()[1].fields[1], "8x \"H100\" | SXM");
  EXPECT_EQ(t->rows()[1].fields[4], "");  // NaN
  EXPECT_EQ(t->rows()[2].fields[1], "two\nlines");
  EXPECT_EQ(t->rows()[2].fields[2], "");  // infinity
}

TEST(ReportCsv, OneTableWithoutFieldsIsAPlainCsvFile) {
  Report r;
  r.title = "ignored in CSV";
  Table& t = r.AddTable("gpus", "GPUs", {{"id", "id"}, {"bf16_tflops", "BF16", 1}});
  t.rows.push_back({std::string("h100-sxm-80gb"), 989.4});
  t.rows.push_back({std::string("a100-sxm-80gb"), 312.0});
  EXPECT_EQ(Render(r, Format::kCsv), "id,bf16_tflops\nh100-sxm-80gb,989.4\na100-sxm-80gb,312\n");
}

TEST(ReportMarkdown, EscapesPipes) {
  std::string text = Render(Awkward(), Format::kMarkdown);
  EXPECT_TRUE(Contains(text, "## Offers \\| cheap\n")) << text;
  EXPECT_TRUE(Contains(text, "| 8x \"H100\" \\| SXM |")) << text;
  EXPECT_TRUE(Contains(text, "| two lines |")) << text;  // a newline would break the row
  EXPECT_TRUE(Contains(text, "- prices change \\| check first")) << text;
  EXPECT_TRUE(Contains(text, "| spot ($/h) | - |")) << text;  // NaN
  EXPECT_TRUE(Contains(text, "| price ($/h) | 55.04 |")) << text;
  // Every table line has as many unescaped pipes as the header.
  for (const std::string& line : Lines(text)) {
    if (line.empty() || line[0] != '|') continue;
    int pipes = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '|' && (i == 0 || line[i - 1] != '\\')) ++pipes;
    }
    EXPECT_TRUE(pipes == 3 || pipes == 6) << line;  // fields table: 2 columns; offers: 5
  }
}

TEST(ReportHtml, EscapesMarkup) {
  std::string text = Render(Awkward(), Format::kHtml);
  EXPECT_TRUE(Contains(text, "&lt;b&gt;&amp;co&lt;/b&gt;")) << text;
  EXPECT_FALSE(Contains(text, "<b>&co</b>")) << text;
  EXPECT_TRUE(Contains(text, "8x &quot;H100&quot; | SXM")) << text;
  EXPECT_TRUE(Contains(text, "<td>-</td>")) << text;
  EXPECT_EQ(text.rfind("</html>\n"), text.size() - 8);
}

TEST(ReportTable, AlignsColumnsAndShowsNaNAsDash) {
  Report r;
  r.title = "Title";
  r.AddField("a", "short", int64_t{1});
  r.AddField("b", "a longer label", kNaN);
  Table& t = r.AddTable("t", "Things", {{"name", "name"}, {"value", "value", 2}, {"n", "n"}});
  t.rows.push_back({std::string("a"), 1.5, int64_t{3}});
  t.rows.push_back({std::string("longer name"), 1234.25, int64_t{12345}});
  t.rows.push_back({std::string("nan"), kNaN, Value()});
  r.notes.push_back("a note");
  const std::string expected =
      "Title\n"
      "\n"
      "  short           1\n"
      "  a longer label  -\n"
      "\n"
      "Things\n"
      "  name           value      n\n"
      "  -----------  -------  -----\n"
      "  a               1.50      3\n"
      "  longer name  1234.25  12345\n"
      "  nan                -      -\n"
      "\n"
      "Notes:\n"
      "  - a note\n";
  EXPECT_EQ(Render(r, Format::kTable), expected);
}

TEST(ReportTable, NoTrailingBlanksAndUtf8Width) {
  Report r;
  r.AddField("empty", "empty value", std::string());
  Table& t = r.AddTable("t", "", {{"name", "name"}, {"unit", "unit"}});
  t.rows.push_back({std::string("µs"), std::string("")});
  t.rows.push_back({std::string("abc"), std::string("x")});
  std::string text = Render(r, Format::kTable);
  std::vector<std::string> lines = Lines(text);
  for (const std::string& line : lines) {
    EXPECT_TRUE(line.empty() || line.back() != ' ') << "[" << line << "]";
  }
  // "µs" is two characters wide, not three bytes: the next column starts where it does for "abc".
  std::string mu, abc;
  for (const std::string& line : lines) {
    if (Contains(line, "µs")) mu = line;
    if (Contains(line, "abc")) abc = line;
  }
  EXPECT_EQ(mu, "  µs");
  EXPECT_EQ(abc, "  abc   x");
}

TEST(ReportTable, EndsWithOneNewline) {
  Report r;
  r.title = "Only a title";
  std::string text = Render(r, Format::kTable);
  EXPECT_EQ(text, "Only a title\n");
  for (Format f : {Format::kJson, Format::kCsv, Format::kMarkdown, Format::kHtml, Format::kTable}) {
    std::string s = Render(Awkward(), f);
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.back(), '\n');
    EXPECT_FALSE(s.size() >= 2 && s[s.size() - 2] == '\n' && f == Format::kTable);
  }
}

TEST(ReportFormat, ParseFormat) {
  EXPECT_EQ(*ParseFormat("table"), Format::kTable);
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_EQ(*ParseFormat("csv"), Format::kCsv);
  EXPECT_EQ(*ParseFormat("markdown"), Format::kMarkdown);
  EXPECT_EQ(*ParseFormat("md"), Format::kMarkdown);
  EXPECT_EQ(*ParseFormat("html"), Format::kHtml);
  Result<Format> xml = ParseFormat("xml");
  ASSERT_FALSE(xml.ok());
  EXPECT_EQ(xml.status().code(), StatusCode::kUsage);
  EXPECT_TRUE(Contains(xml.status().message(), "xml"));
  EXPECT_TRUE(Contains(xml.status().message(), "--format"));
}

TEST(ReportFormat, FormatValue) {
  EXPECT_EQ(FormatValue(Value(), -1), "-");
  EXPECT_EQ(FormatValue(kNaN, 2), "-");
  EXPECT_EQ(FormatValue(-kInf, -1), "-");
  EXPECT_EQ(FormatValue(std::string("x"), 3), "x");
  EXPECT_EQ(FormatValue(int64_t{-42}, 2), "-42");
  EXPECT_EQ(FormatValue(true, -1), "yes");
  EXPECT_EQ(FormatValue(false, -1), "no");
  EXPECT_EQ(FormatValue(2.5, 3), "2.500");
  EXPECT_EQ(FormatValue(1.23456, -1), "1.23");   // 3 significant digits
  EXPECT_EQ(FormatValue(123.456, -1), "123");    // no exponent below 1e7
  EXPECT_EQ(FormatValue(1.72e10, -1), "17.2 billion");
  EXPECT_EQ(FormatValue(2e9, -1), "2.00 billion");
  EXPECT_EQ(FormatValue(8.030261248e9, -1), "8.03 billion");
  EXPECT_EQ(FormatValue(-1.5e7, -1), "-15.0 million");
  EXPECT_EQ(FormatValue(3.2e13, -1), "32.0 trillion");
  EXPECT_EQ(FormatValue(4.5e18, -1), "4.5e+18");
  EXPECT_EQ(FormatValue(0.0, -1), "0");
  EXPECT_EQ(FormatValue(0.0001234, -1), "0.000123");
}

}  // namespace
}  // namespace dlcost::report

namespace dlcost::report {
namespace {

size_t Count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

// What no report may hold: a script, or anything that would make the browser fetch.
void ExpectSelfContained(const std::string& html) {
  EXPECT_FALSE(Contains(html, "<script")) << "a script";
  EXPECT_FALSE(Contains(html, "src=")) << "an external source";
  EXPECT_FALSE(Contains(html, "href=")) << "a link";
  EXPECT_FALSE(Contains(html, "url(")) << "a CSS fetch";
  EXPECT_FALSE(Contains(html, "@import")) << "a CSS import";
}

TEST(ReportSvg, ScatterLeavesOutWhatALogAxisCannotDraw) {
  Chart c;
  c.key = "pvm";
  c.title = "Predicted <vs> measured";
  c.kind = ChartKind::kScatter;
  c.log_x = c.log_y = true;
  c.diagonal = true;
  c.x_label = "measured";
  c.series.push_back({"time & more", {1, 10, 1e6, -5, kNaN, 1e9}, {2, 9, 1.2e6, 4, 3, kInf}, {}, {}, {}, {}});
  std::string svg = RenderSvg(c);
  EXPECT_EQ(Count(svg, "<circle"), 3u) << svg;  // -5 (log), NaN and inf are left out
  EXPECT_FALSE(Contains(svg, ">1G<")) << svg;   // and do not stretch the axes (1e9's point is not drawn)
  EXPECT_FALSE(Contains(svg, "nan")) << svg;
  EXPECT_FALSE(Contains(svg, "inf")) << svg;
  EXPECT_TRUE(Contains(svg, "Predicted &lt;vs&gt; measured")) << svg;
  EXPECT_TRUE(Contains(svg, "time &amp; more")) << svg;
  EXPECT_TRUE(Contains(svg, "class=\"diag\"")) << svg;
  EXPECT_TRUE(Contains(svg, ">1M<")) << svg;  // decade ticks up to 1e6 with SI suffixes
  EXPECT_TRUE(Contains(svg, "(log scale)")) << svg;
}

TEST(ReportSvg, ErrorBarsMarkersAndRings) {
  Chart c;
  c.kind = ChartKind::kLines;
  c.series.push_back({"baseline", {0, 1, 2}, {10, 20, 30}, {}, {}, {8, 18, 28}, {12, 22, 32}});
  c.series.push_back({"fp8", {0, 1, 2}, {15, 21, 27}, {}, {}, {}, {}});
  c.x_markers.push_back({2, "fp8 breaks even"});
  c.highlighted.push_back({1, 2});
  std::string svg = RenderSvg(c);
  EXPECT_EQ(Count(svg, "<polyline"), 2u) << svg;
  EXPECT_EQ(Count(svg, "class=\"err\""), 3u) << svg;
  EXPECT_EQ(Count(svg, "class=\"ring\""), 1u) << svg;
  EXPECT_TRUE(Contains(svg, "fp8 breaks even")) << svg;
  EXPECT_EQ(Count(svg, "<rect x=") - Count(svg, "class=\"frame\""), 2u) << svg;  // legend swatches
}

TEST(ReportSvg, StackedBarsSumTheirPositiveParts) {
  Chart c;
  c.kind = ChartKind::kStackedBars;
  c.x_label = "GiB";
  c.categories = {"per GPU"};
  c.series.push_back({"weights", {}, {15}, {}, {}, {}, {}});
  c.series.push_back({"activations", {}, {38}, {}, {}, {}, {}});
  c.series.push_back({"freed", {}, {-4}, {}, {}, {}, {}});  // not drawn
  std::string svg = RenderSvg(c);
  EXPECT_EQ(Count(svg, "<title>weights: 15</title>"), 1u) << svg;
  EXPECT_EQ(Count(svg, "<title>activations: 38</title>"), 1u) << svg;
  EXPECT_FALSE(Contains(svg, "<title>freed")) << svg;
  EXPECT_TRUE(Contains(svg, ">60<")) << svg;  // the axis reaches past the 53 GiB total
  EXPECT_TRUE(Contains(svg, "weights 15")) << svg;  // one bar: the legend gives the values
}

TEST(ReportSvg, NothingToDrawIsSaid) {
  Chart c;
  c.log_x = true;
  c.series.push_back({"s", {-1, 0}, {1, 2}, {}, {}, {}, {}});
  EXPECT_TRUE(Contains(RenderSvg(c), "nothing to draw"));
  Chart bars;
  bars.kind = ChartKind::kStackedBars;
  EXPECT_TRUE(Contains(RenderSvg(bars), "nothing to draw"));
}

TEST(ReportHtml, ChartsAreInlineAndTheLargestStaysSmall) {
  Report r;
  r.title = "Plans";
  r.AddField("n", "plans", int64_t{1000});
  Chart& c = r.AddChart("pareto", "Cost against time", ChartKind::kScatter);
  ChartSeries s{"front", {}, {}, {}, {}, {}, {}};
  for (int i = 0; i < 1000; ++i) {
    double d = 1 + i * 0.01;
    s.x.push_back(d);
    s.y.push_back(1000 / d);
    s.x_low.push_back(d * 0.8);
    s.x_high.push_back(d * 1.2);
    s.y_low.push_back(800 / d);
    s.y_high.push_back(1200 / d);
  }
  c.series.push_back(std::move(s));
  std::string html = Render(r, Format::kHtml);
  EXPECT_TRUE(Contains(html, "<figure id=\"chart-pareto\"><figcaption>Cost against time</figcaption><svg")) << html.substr(0, 2000);
  EXPECT_EQ(Count(html, "<circle"), 1000u);
  EXPECT_LT(html.size(), 300u * 1024u);  // docs/reports.md: under 300 KB for 1,000 points
  ExpectSelfContained(html);
  // The other formats carry the numbers, not the drawing.
  for (Format f : {Format::kJson, Format::kCsv, Format::kMarkdown, Format::kTable}) {
    EXPECT_FALSE(Contains(Render(r, f), "<svg")) << static_cast<int>(f);
  }
}

}  // namespace
}  // namespace dlcost::report
