// Speed of the latency-under-load simulation (docs/serving.md, "Latency under load"): simulated
// requests per second on one core. Target: >= 100,000 (a search can keep it in the loop).
//
//   build/benchmarks/serving_sim_benchmark
#include <vector>

#include <benchmark/benchmark.h>

#include "perf/serving_sim.h"

namespace {

using dlcost::LoadRequest;
using dlcost::perf::IterationTable;
using dlcost::perf::ReplicaRun;
using dlcost::perf::SchedulerLimits;

// An 8B model on one H100-class GPU: 6 ms per iteration plus 30 us per decoded sequence and
// 20 us per prompt token; 1,024-token prompts, 256-token outputs at `qps`.
void BM_SimulateReplica(benchmark::State& state) {
  IterationTable table([](double b, double p) { return 6e-3 + 3e-5 * b + 2e-5 * p; }, 256, 8192, 1152, 1e-9);
  SchedulerLimits lim;
  lim.max_batch = 256;
  lim.token_budget = 8192;
  lim.kv_tokens = 400000;
  lim.reserve_full = state.range(1) != 0;
  double qps = static_cast<double>(state.range(0));
  std::vector<LoadRequest> reqs = dlcost::perf::PoissonReplicaStream(qps, 1, 100000, 1024, 256, 1);
  for (auto _ : state) {
    ReplicaRun run = dlcost::perf::SimulateReplica(reqs, table, lim);
    benchmark::DoNotOptimize(run.busy_s);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(reqs.size()));
}
// Light, busy (near the ~25 req/s this table carries) and overloaded; reserving KV or not.
BENCHMARK(BM_SimulateReplica)->Args({5, 1})->Args({20, 1})->Args({20, 0})->Args({40, 1})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
