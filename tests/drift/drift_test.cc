#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "dlcost/drift.h"
#include "drift/stats.h"

namespace dlcost::drift {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("dlcost_drift_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) const {
    std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// ---- statistics against hand-computed and tabulated values ----

TEST(DriftStats, KsStatisticByHand) {
  // F_a - F_b at 1, 2, 2.5, 3, 3.5, 4: .25, .5, .3, .55, .35, .6 -> D = 0.6.
  std::vector<double> a = {1, 2, 3, 4}, b = {2.5, 3.5, 5, 6, 7};
  EXPECT_DOUBLE_EQ(KsStatistic(a, b), 0.6);
  EXPECT_DOUBLE_EQ(KsStatistic(a, a), 0.0);
  std::vector<double> c = {6, 7, 8};
  EXPECT_DOUBLE_EQ(KsStatistic(a, c), 1.0);
  // Ties across samples are stepped together.
  std::vector<double> t1 = {1, 1, 2}, t2 = {1, 2, 2};
  EXPECT_NEAR(KsStatistic(t1, t2), 1.0 / 3, 1e-15);
}

TEST(DriftStats, KolmogorovDistributionTable) {
  // Tabulated Kolmogorov CDF K(x) = 1 - Q(x): K(0.5) = 0.036055, K(1.0) = 0.730000,
  // K(1.5) = 0.977782, K(2.0) = 0.999329 (Smirnov 1948, Ann. Math. Stat. 19:279, table 1).
  EXPECT_NEAR(KolmogorovQ(0.5), 1 - 0.036055, 2e-6);
  EXPECT_NEAR(KolmogorovQ(1.0), 1 - 0.730000, 2e-6);
  EXPECT_NEAR(KolmogorovQ(1.5), 1 - 0.977782, 2e-6);
  EXPECT_NEAR(KolmogorovQ(2.0), 1 - 0.999329, 2e-6);
  // The asymptotic 5% and 1% critical values 1.3581 and 1.6276.
  EXPECT_NEAR(KolmogorovQ(1.358099), 0.05, 1e-5);
  EXPECT_NEAR(KolmogorovQ(1.627624), 0.01, 1e-5);
  // Both series agree where they meet.
  EXPECT_NEAR(KolmogorovQ(1.1799999), KolmogorovQ(1.1800001), 1e-6);
}

TEST(DriftStats, KsPValueUsesStephensCorrection) {
  // n = 4, m = 5: ne = 20/9, lambda = (sqrt(ne) + 0.12 + 0.11/sqrt(ne)) * 0.6.
  const double s = std::sqrt(20.0 / 9.0);
  EXPECT_DOUBLE_EQ(KsPValue(0.6, 4, 5), KolmogorovQ((s + 0.12 + 0.11 / s) * 0.6));
  EXPECT_NEAR(KsPValue(0.6, 4, 5), 0.2584, 5e-4);
  EXPECT_DOUBLE_EQ(KsPValue(0.0, 10, 10), 1.0);
}

TEST(DriftStats, WassersteinByHand) {
  EXPECT_DOUBLE_EQ(Wasserstein1(std::vector<double>{0, 1, 3}, std::vector<double>{5, 6, 8}), 5.0);
  EXPECT_DOUBLE_EQ(Wasserstein1(std::vector<double>{0, 1}, std::vector<double>{0, 2}), 0.5);
  EXPECT_DOUBLE_EQ(Wasserstein1(std::vector<double>{1, 2, 3}, std::vector<double>{1, 2, 3}), 0.0);
}

TEST(DriftStats, PsiOfKnownHistogram) {
  // (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5) = 0.25 ln 3.
  std::vector<int64_t> ref = {50, 50}, cur = {25, 75};
  EXPECT_NEAR(Psi(ref, cur), 0.25 * std::log(3.0), 1e-12);
  EXPECT_DOUBLE_EQ(Psi(ref, ref), 0.0);
  // Empty bins are floored, not infinite.
  std::vector<int64_t> r2 = {100, 0}, c2 = {50, 50};
  EXPECT_NEAR(Psi(r2, c2), (0.5 - 1) * std::log(0.5) + (0.5 - 1e-4) * std::log(0.5 / 1e-4), 1e-12);
}

TEST(DriftStats, QuantileEdgesAndBins) {
  std::vector<double> s;
  for (int i = 1; i <= 100; ++i) s.push_back(i);
  std::vector<double> e = QuantileEdges(s, 10);
  ASSERT_EQ(e.size(), 9u);
  EXPECT_DOUBLE_EQ(e[0], 10.9);  // 1 + 0.1 * 99
  std::vector<int64_t> c = BinCounts(s, e);
  ASSERT_EQ(c.size(), 10u);
  for (int64_t x : c) EXPECT_EQ(x, 10);
  // A constant reference gives one bin.
  std::vector<double> k(50, 3.0);
  EXPECT_TRUE(QuantileEdges(k, 10).empty());
}

TEST(DriftStats, IncompleteGammaAndChiSquareTable) {
  EXPECT_NEAR(RegularizedGammaQ(1, 2.5), std::exp(-2.5), 1e-14);
  EXPECT_NEAR(RegularizedGammaQ(0.5, 0.7), std::erfc(std::sqrt(0.7)), 1e-14);
  EXPECT_NEAR(RegularizedGammaQ(0.5, 9), std::erfc(3.0), 1e-16);
  // Chi-square 5% critical values: df 1: 3.841459, df 2: 5.991465, df 10: 18.307038.
  EXPECT_NEAR(RegularizedGammaQ(0.5, 3.841459 / 2), 0.05, 1e-7);
  EXPECT_NEAR(RegularizedGammaQ(1.0, 5.991465 / 2), 0.05, 1e-7);
  EXPECT_NEAR(RegularizedGammaQ(5.0, 18.307038 / 2), 0.05, 1e-7);
  // Many degrees of freedom (a chi-square over 2,000,000 categories) and odd arguments.
  EXPECT_NEAR(RegularizedGammaQ(1e6, 1e6), 0.5, 1e-3);
  EXPECT_EQ(RegularizedGammaQ(0, 1), 1);
  EXPECT_EQ(RegularizedGammaQ(1, std::nan("")), 1);
  EXPECT_EQ(RegularizedGammaQ(1, INFINITY), 0);
}

TEST(DriftStats, ChiSquareOfKnownTable) {
  // Rows (10, 20) and (30, 40): expected (12, 18) and (28, 42);
  // chi2 = 4/12 + 4/18 + 4/28 + 4/42, df 1, p = erfc(sqrt(chi2 / 2)).
  std::vector<int64_t> ref = {10, 20}, cur = {30, 40};
  ChiSquare x = ChiSquareHomogeneity(ref, cur);
  const double chi2 = 4.0 / 12 + 4.0 / 18 + 4.0 / 28 + 4.0 / 42;
  EXPECT_NEAR(x.statistic, chi2, 1e-12);
  EXPECT_EQ(x.df, 1);
  EXPECT_NEAR(x.p_value, std::erfc(std::sqrt(chi2 / 2)), 1e-12);
  // A category seen on one side only still counts (new category).
  std::vector<int64_t> r3 = {50, 50, 0}, c3 = {40, 40, 20};
  EXPECT_EQ(ChiSquareHomogeneity(r3, c3).df, 2);
  EXPECT_LT(ChiSquareHomogeneity(r3, c3).p_value, 1e-4);
}

TEST(DriftStats, JensenShannonByHand) {
  std::vector<int64_t> a = {1, 0}, b = {0, 1};
  EXPECT_NEAR(JensenShannonDistance(a, b), std::sqrt(std::log(2.0)), 1e-15);
  EXPECT_DOUBLE_EQ(JensenShannonDistance(a, a), 0.0);
  // (1/3, 1/3, 1/3, 0) against (0.3, 0.3, 0.3, 0.1).
  std::vector<int64_t> p = {10, 10, 10, 0}, q = {3, 3, 3, 1};
  const double m1 = (1.0 / 3 + 0.3) / 2;
  const double js = 0.5 * (3 * (1.0 / 3) * std::log((1.0 / 3) / m1)) +
                    0.5 * (3 * 0.3 * std::log(0.3 / m1) + 0.1 * std::log(0.1 / 0.05));
  EXPECT_NEAR(JensenShannonDistance(p, q), std::sqrt(js), 1e-12);
}

TEST(DriftStats, RadixSortMatchesStdSort) {
  std::mt19937_64 rng(7);
  std::vector<double> v;
  for (int i = 0; i < 5000; ++i) {
    double x = static_cast<double>(static_cast<int64_t>(rng() % 2000001) - 1000000) / 997.0;
    v.push_back(i % 17 == 0 ? -x * 1e300 / 1e300 : x);
  }
  v.push_back(0.0);
  v.push_back(-1e308);
  v.push_back(1e308);
  std::vector<double> w = v;
  SortValues(v);
  std::sort(w.begin(), w.end());
  EXPECT_EQ(v, w);
}

// ---- generated data with planted drift ----

double Uniform(std::mt19937_64& rng) { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; }
double Normal(std::mt19937_64& rng) {
  double u = Uniform(rng), v = Uniform(rng);
  return std::sqrt(-2 * std::log(u)) * std::cos(2 * 3.14159265358979323846 * v);
}

// 40 numeric and 10 categorical columns; with `plant`: num_0 mean + 0.3 sd, num_1 variance
// doubled, cat_0 a new category in 10% of rows, cat_1 the category mix reversed.
std::string Generate(int rows, uint64_t seed, bool plant) {
  std::mt19937_64 rng(seed);
  const int n_num = 40, n_cat = 10;
  std::string out;
  for (int c = 0; c < n_num; ++c) out += "num_" + std::to_string(c) + ",";
  for (int c = 0; c < n_cat; ++c) out += "cat_" + std::to_string(c) + (c + 1 < n_cat ? "," : "\n");
  const char* names[] = {"a", "b", "c", "d", "e", "new"};
  const double base[5] = {0.4, 0.25, 0.15, 0.12, 0.08}, rev[5] = {0.08, 0.12, 0.15, 0.25, 0.4};
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < n_num; ++c) {
      double mean = c % 7, sd = 1 + c % 3;
      if (plant && c == 0) mean += 0.3 * sd;
      if (plant && c == 1) sd *= std::sqrt(2.0);
      out += std::to_string(mean + sd * Normal(rng)) + ",";
    }
    for (int c = 0; c < n_cat; ++c) {
      int k = 4;
      double u = Uniform(rng), acc = 0;
      const double* sh = plant && c == 1 ? rev : base;
      for (int i = 0; i < 5; ++i) {
        acc += sh[i];
        if (u < acc) {
          k = i;
          break;
        }
      }
      if (plant && c == 0 && Uniform(rng) < 0.1) k = 5;
      out += names[k];
      out += c + 1 < n_cat ? "," : "\n";
    }
  }
  return out;
}

struct Detection {
  std::set<std::string> flagged;
  int clean = 0;
  int clean_flagged = 0;
};

Detection Detect(int ref_rows, int cur_rows, const Policy& policy, bool expect_all_planted = true) {
  TempDir dir;
  std::string rp = dir.Write("ref.csv", Generate(ref_rows, 11, false));
  std::string cp = dir.Write("cur.csv", Generate(cur_rows, 12, true));
  ReadOptions ro;
  Result<Frame> ref = ReadFrame(rp, ro, nullptr);
  EXPECT_TRUE(ref.ok()) << ref.status().message();
  Result<Frame> cur = ReadFrame(cp, ro, &*ref);
  EXPECT_TRUE(cur.ok()) << cur.status().message();
  Reference prepared = Reference::Prepare(*ref, 2);
  DriftResult r = Compare(prepared, *cur, policy, nullptr, 2);
  Detection d;
  const std::set<std::string> planted = {"num_0", "num_1", "cat_0", "cat_1"};
  for (const ColumnResult& c : r.columns) {
    EXPECT_TRUE(c.tested) << c.name << ": " << c.note;
    if (c.drift) d.flagged.insert(c.name);
    if (!planted.count(c.name)) {
      ++d.clean;
      d.clean_flagged += c.drift;
    }
  }
  if (expect_all_planted) {
    for (const std::string& p : planted) EXPECT_TRUE(d.flagged.count(p)) << p << " not flagged";
  }
  return d;
}

TEST(DriftPlanted, LargeReferenceDistances) {
  // 5,000 rows: Wasserstein (normed) and Jensen-Shannon at 0.1.
  Detection d = Detect(5000, 5000, Policy{});
  EXPECT_EQ(d.clean, 46);
  EXPECT_LE(d.clean_flagged, 2) << "more than 5% of clean columns flagged";  // 5% of 46 = 2.3
  std::printf("[planted, 5000 rows] flagged %zu columns, clean flagged %d of %d\n", d.flagged.size(), d.clean_flagged,
              d.clean);
}

TEST(DriftPlanted, SmallReferencePValues) {
  // 1,000 rows: KS and chi-square at p < 0.05, Bonferroni over the 50 tests.
  Policy p;
  p.bonferroni = true;
  Detection d = Detect(1000, 1000, p);
  EXPECT_LE(d.clean_flagged, 2) << "more than 5% of clean columns flagged";
  std::printf("[planted, 1000 rows, Bonferroni] flagged %zu columns, clean flagged %d of %d\n", d.flagged.size(),
              d.clean_flagged, d.clean);
}

TEST(DriftPlanted, PsiFlagsCategoryChanges) {
  // PSI on deciles of a 0.3 sd mean shift is about 0.09, under the 0.1 band (docs/drift.md):
  // only the category changes are certain to reach it.
  Policy p;
  p.method = Method::kPsi;
  Detection d = Detect(5000, 5000, p, false);
  EXPECT_TRUE(d.flagged.count("cat_0"));
  EXPECT_TRUE(d.flagged.count("cat_1"));
  EXPECT_LE(d.clean_flagged, 2);
  std::printf("[planted, 5000 rows, PSI] flagged:");
  for (const std::string& n : d.flagged) std::printf(" %s", n.c_str());
  std::printf("\n");
}

// ---- bad input, reported per column ----

TEST(DriftBadInput, RaggedRowsAreLeftOutAndCounted) {
  TempDir dir;
  std::string p = dir.Write("r.csv", "a,b\n1,x\n2\n3,y,9\n4,z\n");
  Result<Frame> f = ReadFrame(p, ReadOptions{}, nullptr);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->rows, 2);
  EXPECT_EQ(f->skipped_rows, 2);
  EXPECT_NE(f->skipped_detail.find("line 3 has 1 fields"), std::string::npos) << f->skipped_detail;
  EXPECT_EQ(f->row_lines, (std::vector<int64_t>{2, 5}));
  EXPECT_EQ(f->Find("a")->values, (std::vector<double>{1, 4}));
}

TEST(DriftBadInput, TextInNumericColumnNamesFileColumnLine) {
  TempDir dir;
  std::string rp = dir.Write("ref.csv", "x,y\n1,2\n2,3\n3,4\n");
  std::string cp = dir.Write("cur.csv", "x,y\n1,2\n2,oops\n3,4\n5,bad\n");
  ReadOptions ro;
  Result<Frame> ref = ReadFrame(rp, ro, nullptr);
  ASSERT_TRUE(ref.ok());
  Result<Frame> cur = ReadFrame(cp, ro, &*ref);
  ASSERT_TRUE(cur.ok());
  const Column* y = cur->Find("y");
  ASSERT_NE(y, nullptr);
  EXPECT_EQ(y->bad_cells, 2);
  EXPECT_NE(y->problem.find("cur.csv: column 'y': line 3: 'oops' is not a finite number (2 such cells)"),
            std::string::npos)
      << y->problem;
  Reference prepared = Reference::Prepare(*ref, 2);
  DriftResult r = Compare(prepared, *cur, Policy{}, nullptr, 2);
  ASSERT_EQ(r.columns.size(), 2u);
  EXPECT_TRUE(r.columns[0].tested);
  EXPECT_FALSE(r.columns[1].tested);
  EXPECT_EQ(r.columns[1].note, y->problem);
  EXPECT_EQ(r.tested, 1);
}

TEST(DriftBadInput, EmptyMissingAndAllMissingColumns) {
  TempDir dir;
  std::string rp = dir.Write("ref.csv", "a,b,c\n1,,u\n2,,v\n3,NA,u\n");
  std::string cp = dir.Write("cur.csv", "a,b,c\n1,5,u\n2,6,v\n");
  std::string ep = dir.Write("empty.csv", "a,b,c\n");
  ReadOptions ro;
  Result<Frame> ref = ReadFrame(rp, ro, nullptr);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->Find("b")->missing, 3);
  Reference prepared = Reference::Prepare(*ref, 2);

  Result<Frame> cur = ReadFrame(cp, ro, &*ref);
  ASSERT_TRUE(cur.ok());
  DriftResult r = Compare(prepared, *cur, Policy{}, nullptr, 2);
  ASSERT_EQ(r.columns.size(), 3u);
  EXPECT_TRUE(r.columns[0].tested);
  EXPECT_NE(r.columns[1].note.find("all values missing in"), std::string::npos) << r.columns[1].note;
  EXPECT_TRUE(r.columns[2].tested);
  EXPECT_EQ(r.columns[2].type, ColumnType::kCategorical);

  Result<Frame> empty = ReadFrame(ep, ro, &*ref);
  ASSERT_TRUE(empty.ok());
  DriftResult e = Compare(prepared, *empty, Policy{}, nullptr, 2);
  EXPECT_EQ(e.tested, 0);
  EXPECT_FALSE(e.dataset_drift);
  EXPECT_NE(e.columns[0].note.find("has no rows"), std::string::npos) << e.columns[0].note;

  // A column missing from the current file, and an empty window.
  std::string cp2 = dir.Write("cur2.csv", "a\n1\n2\n");
  Result<Frame> cur2 = ReadFrame(cp2, ro, &*ref);
  ASSERT_TRUE(cur2.ok());
  DriftResult m = Compare(prepared, *cur2, Policy{}, nullptr, 2);
  EXPECT_NE(m.columns[2].note.find("column 'c' is missing from"), std::string::npos) << m.columns[2].note;
  std::vector<int64_t> none;
  DriftResult w = Compare(prepared, *cur2, Policy{}, &none, 2);
  EXPECT_EQ(w.columns[0].note, "empty window");
}

TEST(DriftBadInput, UnreadableFilesAreErrors) {
  TempDir dir;
  Result<Frame> f = ReadFrame("/nonexistent/dir/ref.csv", ReadOptions{}, nullptr);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidInput);
  EXPECT_NE(f.status().message().find("/nonexistent/dir/ref.csv"), std::string::npos);
  std::string e = dir.Write("empty.csv", "");
  EXPECT_FALSE(ReadFrame(e, ReadOptions{}, nullptr).ok());
  std::string dup = dir.Write("dup.csv", "a,b,a\n1,2,3\n");
  Result<Frame> d = ReadFrame(dup, ReadOptions{}, nullptr);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("column 'a' appears twice"), std::string::npos);
  std::string j = dir.Write("bad.jsonl", "not json\n{also not\n");
  EXPECT_FALSE(ReadFrame(j, ReadOptions{}, nullptr).ok());
}

TEST(DriftReader, QuotedCsvAndJsonl) {
  TempDir dir;
  std::string cp = dir.Write("q.csv", "name,\"val\"\n\"x, y\",1.5\n\"multi\nline\",\"2\"\nplain, 3 \n");
  Result<Frame> f = ReadFrame(cp, ReadOptions{}, nullptr);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->rows, 3);
  EXPECT_EQ(f->Find("name")->type, ColumnType::kCategorical);
  EXPECT_EQ(f->Find("name")->categories[0], "x, y");
  EXPECT_EQ(f->Find("val")->values, (std::vector<double>{1.5, 2, 3}));
  EXPECT_EQ(f->row_lines, (std::vector<int64_t>{2, 3, 5}));

  std::string jp = dir.Write("t.jsonl", "{\"x\": 1, \"c\": \"a\"}\n{\"x\": null, \"c\": \"b\", \"late\": 2}\n\n{\"x\": 3}\n");
  Result<Frame> j = ReadFrame(jp, ReadOptions{}, nullptr);
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_EQ(j->rows, 3);
  EXPECT_EQ(j->columns[0].name, "x");
  EXPECT_EQ(j->Find("x")->type, ColumnType::kNumeric);
  EXPECT_EQ(j->Find("x")->missing, 1);
  EXPECT_EQ(j->Find("c")->type, ColumnType::kCategorical);
  EXPECT_EQ(j->Find("c")->missing, 1);
  EXPECT_EQ(j->Find("late")->missing, 2);
  EXPECT_EQ(j->row_lines, (std::vector<int64_t>{1, 2, 4}));
}

TEST(DriftReader, TwoThreadsGiveTheSameFrame) {
  TempDir dir;
  std::string p = dir.Write("big.csv", Generate(30000, 5, true));  // > 2 MiB: split in two ranges
  ReadOptions one;
  one.threads = 1;
  ReadOptions two;
  two.threads = 2;
  Result<Frame> a = ReadFrame(p, one, nullptr);
  Result<Frame> b = ReadFrame(p, two, nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->rows, 30000);
  EXPECT_EQ(a->row_lines, b->row_lines);
  for (size_t c = 0; c < a->columns.size(); ++c) {
    EXPECT_EQ(a->columns[c].values, b->columns[c].values);
    EXPECT_EQ(a->columns[c].codes, b->columns[c].codes);
    EXPECT_EQ(a->columns[c].categories, b->columns[c].categories);
  }
}

// ---- determinism, windows, MMD, policy ----

TEST(DriftDeterminism, SameInputsSameNumbers) {
  TempDir dir;
  std::string rp = dir.Write("ref.csv", Generate(3000, 1, false));
  std::string cp = dir.Write("cur.csv", Generate(3000, 2, true));
  std::vector<DriftResult> runs;
  std::vector<MmdResult> mmd;
  for (int threads : {1, 2, 2}) {
    ReadOptions ro;
    ro.threads = threads;
    Result<Frame> ref = ReadFrame(rp, ro, nullptr);
    Result<Frame> cur = ReadFrame(cp, ro, &*ref);
    ASSERT_TRUE(ref.ok() && cur.ok());
    Reference prepared = Reference::Prepare(*ref, threads);
    Policy p;
    p.method = threads == 1 ? Method::kAuto : Method::kAuto;
    runs.push_back(Compare(prepared, *cur, p, nullptr, threads));
    MmdOptions mo;
    mo.sample_rows = 200;
    mo.permutations = 50;
    mmd.push_back(MmdTest(prepared, *cur, {"num_0", "num_1", "num_2"}, nullptr, mo));
  }
  for (size_t k = 1; k < runs.size(); ++k) {
    ASSERT_EQ(runs[k].columns.size(), runs[0].columns.size());
    for (size_t c = 0; c < runs[0].columns.size(); ++c) {
      EXPECT_EQ(runs[k].columns[c].statistic, runs[0].columns[c].statistic);  // bit-identical
      EXPECT_EQ(runs[k].columns[c].drift, runs[0].columns[c].drift);
    }
    EXPECT_EQ(mmd[k].statistic, mmd[0].statistic);
    EXPECT_EQ(mmd[k].p_value, mmd[0].p_value);
  }
  ASSERT_TRUE(mmd[0].ok);
  EXPECT_TRUE(mmd[0].drift);  // num_0 shifted, num_1 wider
}

TEST(DriftWindows, TimestampsAndSplit) {
  EXPECT_EQ(*ParseTimestampSeconds("2024-01-01"), 1704067200);
  EXPECT_EQ(*ParseTimestampSeconds("2024-01-01T01:02:03Z"), 1704067200 + 3723);
  EXPECT_EQ(*ParseTimestampSeconds("2024-01-01 02:00:00+02:00"), 1704067200);
  EXPECT_EQ(*ParseTimestampSeconds("1704067200"), 1704067200);
  EXPECT_EQ(*ParseTimestampSeconds("2000-03-01T00:00:00.5Z"), 951868800);
  EXPECT_FALSE(ParseTimestampSeconds("yesterday").ok());
  EXPECT_FALSE(ParseTimestampSeconds("2024-13-01").ok());
  EXPECT_EQ(FormatUtc(1704067200 + 3723), "2024-01-01T01:02:03Z");
  // Days a month does not have, and instants outside years 0000-9999, are errors.
  EXPECT_FALSE(ParseTimestampSeconds("2023-02-29").ok());
  EXPECT_FALSE(ParseTimestampSeconds("2024-04-31T00:00:00Z").ok());
  EXPECT_EQ(*ParseTimestampSeconds("2024-02-29"), 1709164800);
  EXPECT_FALSE(ParseTimestampSeconds("1e13").ok());
  EXPECT_EQ(*ParseTimestampSeconds("253402300799"), 253402300799);
  EXPECT_EQ(FormatUtc(253402300799), "9999-12-31T23:59:59Z");
  EXPECT_EQ(FormatUtc(-62167219200), "0000-01-01T00:00:00Z");
  EXPECT_EQ(FormatUtc(-1), "1969-12-31T23:59:59Z");

  TempDir dir;
  std::string p = dir.Write("w.csv", "ts,x\n2024-01-01T01:00:00Z,1\n2024-01-01T05:00:00Z,2\n,3\n2024-01-03T00:00:00Z,4\n");
  Result<Frame> f = ReadFrame(p, ReadOptions{}, nullptr);
  ASSERT_TRUE(f.ok());
  int64_t no_ts = 0;
  Result<std::vector<Window>> w = SplitWindows(*f, "ts", 86400, &no_ts);
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_EQ(w->size(), 3u);  // the empty day between is a window too
  EXPECT_EQ((*w)[0].rows, (std::vector<int64_t>{0, 1}));
  EXPECT_TRUE((*w)[1].rows.empty());
  EXPECT_EQ((*w)[2].rows, (std::vector<int64_t>{3}));
  EXPECT_EQ(no_ts, 1);
  std::string bad = dir.Write("b.csv", "ts,x\n2024-01-01,1\nlater,2\n");
  Result<Frame> fb = ReadFrame(bad, ReadOptions{}, nullptr);
  ASSERT_TRUE(fb.ok());
  Result<std::vector<Window>> wb = SplitWindows(*fb, "ts", 86400, &no_ts);
  ASSERT_FALSE(wb.ok());
  EXPECT_NE(wb.status().message().find("column 'ts': line 3"), std::string::npos) << wb.status().message();
}

TEST(DriftWindows, ReferenceChunkThresholds) {
  TempDir dir;
  std::string rp = dir.Write("ref.csv", Generate(4000, 3, false));
  std::string cp = dir.Write("cur.csv", Generate(1000, 4, true));
  Result<Frame> ref = ReadFrame(rp, ReadOptions{}, nullptr);
  Result<Frame> cur = ReadFrame(cp, ReadOptions{}, &*ref);
  ASSERT_TRUE(ref.ok() && cur.ok());
  Reference prepared = Reference::Prepare(*ref, 2);
  std::vector<std::vector<int64_t>> chunks(10);
  for (int64_t i = 0; i < ref->rows; ++i) chunks[static_cast<size_t>(i * 10 / ref->rows)].push_back(i);
  ChunkThresholds t = ReferenceChunkThresholds(prepared, Policy{}, chunks, 2);
  ASSERT_EQ(t.size(), 50u);
  EXPECT_EQ(t["cat_0"].first, Method::kJensenShannon);
  EXPECT_GT(t["num_0"].second, 0);
  DriftResult r = Compare(prepared, *cur, Policy{}, nullptr, 2, &t);
  for (const ColumnResult& c : r.columns) {
    if (c.name == "num_0" || c.name == "num_1" || c.name == "cat_0" || c.name == "cat_1") {
      EXPECT_TRUE(c.drift) << c.name;
    }
  }
}

TEST(DriftPolicy, FileAndDecision) {
  TempDir dir;
  std::string pp = dir.Write("p.json", R"({"label": "y", "prediction": "yhat",
    "warn": {"drift_share": 0.2, "accuracy_drop": 0.05},
    "rollback": {"drift_share": 0.9, "accuracy_drop": 0.2},
    "drift": {"p_value": 0.01, "bonferroni": true},
    "columns": {"x": {"test": "psi", "threshold": 0.2}}})");
  Policy policy;
  Result<DecisionPolicy> dp = ReadPolicyFile(pp, &policy);
  ASSERT_TRUE(dp.ok()) << dp.status().message();
  EXPECT_EQ(policy.p_value, 0.01);
  EXPECT_TRUE(policy.bonferroni);
  EXPECT_EQ(*policy.columns["x"].method, Method::kPsi);
  EXPECT_EQ(*policy.columns["x"].threshold, 0.2);

  std::string rp = dir.Write("ref.csv", "x,y,yhat\n1,a,a\n2,b,b\n3,a,a\n4,b,b\n");
  std::string cp = dir.Write("cur.csv", "x,y,yhat\n1,a,b\n2,b,b\n3,a,b\n4,b,b\n");
  Result<Frame> ref = ReadFrame(rp, ReadOptions{}, nullptr);
  Result<Frame> cur = ReadFrame(cp, ReadOptions{}, &*ref);
  ASSERT_TRUE(ref.ok() && cur.ok());
  Reference prepared = Reference::Prepare(*ref, 2);
  DriftResult r = Compare(prepared, *cur, policy, nullptr, 2);
  Decision d = Decide(*dp, r, *ref, *cur);
  ASSERT_TRUE(d.performance.has_value());
  EXPECT_EQ(d.performance->metric, "accuracy");
  EXPECT_DOUBLE_EQ(*d.performance->reference, 1.0);
  EXPECT_DOUBLE_EQ(*d.performance->current, 0.5);
  EXPECT_EQ(d.verdict, "rollback");  // accuracy drop 0.5 >= 0.2

  std::string bad = dir.Write("bad.json", R"({"warn": {"drift_shar": 0.2}})");
  Result<DecisionPolicy> b = ReadPolicyFile(bad, &policy);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("unknown field 'warn.drift_shar'"), std::string::npos);
}

}  // namespace
}  // namespace dlcost::drift
