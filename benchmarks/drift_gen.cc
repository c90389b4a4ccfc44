// drift_gen: writes a synthetic CSV for the drift benchmark and tests.
//
//   drift_gen --rows 1000000 --cols 50 --seed 1 [--plant] [--timestamp] > table.csv
//
// 80% of the columns are numeric (num_i ~ Normal(i mod 7, 1 + i mod 3)), 20% categorical
// (cat_i over 5 categories with shares 0.4/0.25/0.15/0.12/0.08). --plant adds drift to four
// known columns: num_0 mean + 0.3 sd, num_1 variance doubled, cat_0 a new category (10% of
// rows), cat_1 the category mix reversed. --timestamp adds a "ts" column, one row per second
// from 2024-01-01T00:00:00Z. Platform independent: mt19937_64 and our own transforms.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

double Uniform(std::mt19937_64& rng) { return (static_cast<double>(rng() >> 11) + 0.5) * 0x1.0p-53; }

// Box-Muller transform (Box and Muller 1958), one value per call.
double Normal(std::mt19937_64& rng) {
  double u = Uniform(rng), v = Uniform(rng);
  return std::sqrt(-2 * std::log(u)) * std::cos(2 * 3.14159265358979323846 * v);
}

int Pick(std::mt19937_64& rng, const double* shares, int k) {
  double u = Uniform(rng), acc = 0;
  for (int i = 0; i < k; ++i) {
    acc += shares[i];
    if (u < acc) return i;
  }
  return k - 1;
}

}  // namespace

int main(int argc, char** argv) {
  long long rows = 1000, cols = 10;
  unsigned long long seed = 1;
  bool plant = false, timestamp = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rows" && i + 1 < argc) rows = std::atoll(argv[++i]);
    else if (a == "--cols" && i + 1 < argc) cols = std::atoll(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--plant") plant = true;
    else if (a == "--timestamp") timestamp = true;
    else {
      std::fprintf(stderr, "usage: drift_gen --rows N --cols C --seed S [--plant] [--timestamp]\n");
      return 2;
    }
  }
  if (rows < 0 || cols < 2) {
    std::fprintf(stderr, "drift_gen: --rows must be >= 0 and --cols >= 2\n");
    return 2;
  }
  const long long n_cat = cols / 5, n_num = cols - n_cat;
  std::string out;
  if (timestamp) out += "ts,";
  for (long long c = 0; c < n_num; ++c) out += "num_" + std::to_string(c) + ",";
  for (long long c = 0; c < n_cat; ++c) out += "cat_" + std::to_string(c) + (c + 1 < n_cat ? "," : "");
  if (out.back() == ',') out.pop_back();
  out += '\n';
  static const char* kNames[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"};
  const double base[5] = {0.4, 0.25, 0.15, 0.12, 0.08};
  const double reversed[5] = {0.08, 0.12, 0.15, 0.25, 0.4};
  std::mt19937_64 rng(seed);
  char buf[64];
  for (long long r = 0; r < rows; ++r) {
    if (timestamp) out += std::to_string(1704067200LL + r) + ",";
    for (long long c = 0; c < n_num; ++c) {
      double mean = static_cast<double>(c % 7), sd = 1.0 + static_cast<double>(c % 3);
      if (plant && c == 0) mean += 0.3 * sd;
      if (plant && c == 1) sd *= std::sqrt(2.0);
      double v = mean + sd * Normal(rng);
      auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 4);
      out.append(buf, res.ptr);
      out += ',';
    }
    for (long long c = 0; c < n_cat; ++c) {
      int k;
      if (plant && c == 0 && Uniform(rng) < 0.1) k = 5;
      else k = Pick(rng, plant && c == 1 ? reversed : base, 5);
      out += kNames[k];
      out += c + 1 < n_cat ? ',' : '\n';
    }
    if (n_cat == 0) out.back() = '\n';
    if (out.size() > (1 << 22)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}
