// Speed of the ledger (docs/ledger.md, "Speed"). Targets on 2 cores: importing 100,000
// CodeCarbon rows (parse, check, one transaction into a new SQLite file) under 5 s, and
// `ledger compare` over 100,000 pairs (read every entry back and pair them) under 2 s.
//
//   build/benchmarks/ledger_benchmark
#include <unistd.h>

#include <filesystem>
#include <string>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "dlcost/ledger.h"

namespace {

namespace fs = std::filesystem;
using namespace dlcost::ledger;

std::string CodeCarbonCsv(int rows) {
  std::string out =
      "timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,ram_power,cpu_energy,"
      "gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,region,cloud_provider,cloud_region,os,"
      "python_version,codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,"
      "tracking_mode,on_cloud,pue\n";
  for (int i = 0; i < rows; ++i) {
    out += fmt::format(
        "2026-{:02d}-{:02d}T{:02d}:00:00,bench,run-{:08d},{:.3f},{:.6f},5e-05,42.5,300.0,31.3,0.05,0.38,0.04,{:.6f},"
        "Canada,CAN,quebec,,,Linux-6.1-x86_64,3.11.4,2.4.2,32,AMD EPYC 7543 32-Core Processor,8,8 x NVIDIA H100 80GB "
        "HBM3,-71.2,46.8,1007.7,machine,N,1.0\n",
        1 + i % 12, 1 + i % 28, i % 24, i, 600.0 + i, 0.001 * i, 0.01 * i);
  }
  return out;
}

fs::path Scratch(const char* name) {
  fs::path p = fs::temp_directory_path() / fmt::format("dlcost_ledger_bench_{}_{}", getpid(), name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

void BM_ImportCodeCarbon(benchmark::State& state) {
  int rows = static_cast<int>(state.range(0));
  std::string csv = CodeCarbonCsv(rows);
  fs::path dir = Scratch("import");
  int round = 0;
  for (auto _ : state) {
    std::string path = (dir / fmt::format("l{}.db", round++)).string();
    auto batch = ParseCodeCarbonCsv(csv, "emissions.csv", {});
    auto db = Ledger::Open(path);
    if (!batch.ok() || !db.ok()) state.SkipWithError("import failed");
    auto n = db->Import(*batch);
    if (!n.ok() || n->added != rows) state.SkipWithError("rows lost");
  }
  state.SetItemsProcessed(state.iterations() * rows);
  fs::remove_all(dir);
}
BENCHMARK(BM_ImportCodeCarbon)->Arg(100000)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_Compare(benchmark::State& state) {
  int pairs = static_cast<int>(state.range(0));
  fs::path dir = Scratch("compare");
  std::string path = (dir / "l.db").string();
  {
    auto db = Ledger::Open(path);
    ImportBatch est, act;
    for (int i = 0; i < pairs; ++i) {
      Entry e;
      e.kind = Kind::kEstimate;
      e.run_name = fmt::format("run-{}", i);
      e.project = "bench";
      e.metrics.usd = 100.0 + i;
      est.entries.push_back(e);
      Entry a = e;
      a.kind = Kind::kActual;
      a.metrics.usd = 110.0 + i;
      a.source_key = fmt::format("bench:{}", i);
      act.entries.push_back(a);
    }
    if (!db.ok() || !db->Import(est).ok() || !db->Import(act).ok()) state.SkipWithError("setup failed");
  }
  for (auto _ : state) {
    auto db = Ledger::Open(path);
    auto entries = db->List({});
    auto links = db->Links();
    Comparison c = Compare(*entries, *links, "");
    if (static_cast<int>(c.pairs.size()) != pairs) state.SkipWithError("pairs lost");
    benchmark::DoNotOptimize(c.summary);
  }
  state.SetItemsProcessed(state.iterations() * pairs);
  fs::remove_all(dir);
}
BENCHMARK(BM_Compare)->Arg(100000)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
