// Layouts evaluated per second per core by the planner's inner loop, on a realistic space:
// Llama-3-70B on up to 4,096 H100s, every layout dimension searched (the figure the planner
// target of >= 1,000,000 layouts/s per core refers to).
#include <benchmark/benchmark.h>

#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/plan.h"
#include "dlcost/training.h"

namespace {

void BM_PlanLlama3_70bOnH100(benchmark::State& state) {
  auto hw = dlcost::HardwareCatalog::Load(DLCOST_BENCH_DATA_DIR);
  auto zoo = dlcost::ModelCatalog::Load(DLCOST_BENCH_DATA_DIR);
  if (!hw.ok() || !zoo.ok()) {
    state.SkipWithError("cannot load the catalogs");
    return;
  }
  auto model = zoo->Resolve("llama-3-70b");
  auto gpu = hw->Resolve("h100-sxm-80gb");
  auto sys = dlcost::MakeSystem(*hw, *gpu, 0, 0);
  auto eff = dlcost::LoadEfficiency(std::string(DLCOST_BENCH_DATA_DIR) + "/efficiency/default.json", gpu->id);
  if (!model.ok() || !gpu.ok() || !sys.ok() || !eff.ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  dlcost::PlanRequest req;
  req.model = *model;
  req.setup.seq_len = 8192;
  req.setup.overhead_bytes = -1;
  req.tokens = 15e12;
  req.gpus_max = 4096;
  req.threads = 1;
  req.objective = dlcost::Objective::kTime;
  dlcost::GpuCandidate c;
  c.system = *sys;
  c.efficiency = *eff;
  req.candidates.push_back(c);
  int64_t evaluated = 0;
  for (auto _ : state) {
    auto r = dlcost::RunPlan(req);
    if (!r.ok()) {
      state.SkipWithError(r.status().message().c_str());
      return;
    }
    evaluated += r->stats.evaluated;
    benchmark::DoNotOptimize(r->plans.data());
  }
  state.counters["layouts_per_s"] = benchmark::Counter(static_cast<double>(evaluated), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PlanLlama3_70bOnH100)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
BENCHMARK_MAIN();
