// Speed of building a model's op graph and summing it (the inner step of every estimate).
#include <benchmark/benchmark.h>

#include "dlcost/model.h"
#include "dlcost/op_graph.h"

namespace {

void BM_BuildOpGraph(benchmark::State& state, const char* id) {
  auto zoo = dlcost::ModelCatalog::Load(DLCOST_BENCH_DATA_DIR);
  if (!zoo.ok()) {
    state.SkipWithError(zoo.status().message().c_str());
    return;
  }
  auto m = zoo->Resolve(id);
  if (!m.ok()) {
    state.SkipWithError(m.status().message().c_str());
    return;
  }
  for (auto _ : state) {
    auto g = dlcost::perf::BuildOpGraph(*m, 4096);
    benchmark::DoNotOptimize(g->TrainFlopsPerUnit());
  }
}
BENCHMARK_CAPTURE(BM_BuildOpGraph, llama_3_70b, "llama-3-70b");
BENCHMARK_CAPTURE(BM_BuildOpGraph, deepseek_v3, "deepseek-v3");
BENCHMARK_CAPTURE(BM_BuildOpGraph, sd_unet, "sd-1.5-unet");

}  // namespace

BENCHMARK_MAIN();
