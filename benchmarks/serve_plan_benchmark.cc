// Speed of the serving planner (docs/serving.md, "Serving planner"): Llama 3 70B at 5
// requests/s of 1,024 + 256 tokens over every shipped GPU and offer, with the simulation in the
// loop. Target: under 2 s on 2 cores.
//
//   build/benchmarks/serve_plan_benchmark
#include <benchmark/benchmark.h>

#include "dlcost/api_serve.h"

namespace {

void BM_ServePlan70B(benchmark::State& state) {
  dlcost::Result<dlcost::api::Session> session = dlcost::api::Session::Open(DLCOST_BENCH_DATA_DIR);
  if (!session.ok()) {
    state.SkipWithError(session.status().message().c_str());
    return;
  }
  dlcost::api::InferRequest req;
  req.serve.model = "llama-3-70b";
  req.serve.gpu = "any";
  req.serve.qps = "5";
  req.serve.input = "1024";
  req.serve.output = "256";
  req.serve.ttft_p99_ms = "2000";
  req.serve.tpot_ms = "60";
  int64_t simulated = 0, evaluated = 0;
  for (auto _ : state) {
    dlcost::Result<dlcost::api::ServePlanResult> r = dlcost::api::ServePlan(*session, req);
    if (!r.ok()) {
      state.SkipWithError(r.status().message().c_str());
      return;
    }
    simulated = r->simulated;
    evaluated = r->evaluated;
    benchmark::DoNotOptimize(r->plans.size());
  }
  state.counters["setups_priced"] = static_cast<double>(evaluated);
  state.counters["setups_simulated"] = static_cast<double>(simulated);
}
BENCHMARK(BM_ServePlan70B)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
