// dlcost infer: memory, latency, throughput and cost of serving a model; --compare prices the
// usual optimizations against the given setup.
#include <cstdio>

#include "cli_common.h"
#include "cost_flags.h"
#include "dlcost/api_serve.h"
#include "record_flags.h"
#include "serve_flags.h"

namespace dlcost::cli {
namespace {

struct InferArgs {
  api::InferRequest req;
  bool compare = false;
  RecordOptions rec;
};

// The serving planner (--gpu any or a list): plans cheapest first, exit 3 when none meets the
// targets.
int RunServePlan(const GlobalOptions& g, const api::Session& session, const InferArgs& a) {
  if (a.compare) return Fail(UsageError("--compare: needs one --gpu"));
  Result<api::ServePlanResult> r = api::ServePlan(session, a.req);
  if (!r.ok()) return Fail(r.status());
  int code = g.format == "json" ? EmitText(api::ServePlanJson(*r), g) : Emit(api::ServePlanReport(*r), g);
  if (code != 0) return code;
  if (r->plans.empty()) {
    std::fprintf(stderr, "dlcost: infeasible: %s\n", r->binding.c_str());
    return 3;
  }
  return 0;
}

int RunInfer(const GlobalOptions& g, const InferArgs& a) {
  if (Status st = CheckRecordOptions(a.rec); !st.ok()) return Fail(st);
  Result<api::Session> session = OpenSession(g);
  if (!session.ok()) return Fail(session.status());
  if (a.rec.record && (api::IsServePlanGpu(a.req.serve.gpu) || a.compare)) {
    return Fail(UsageError("--record: records one serving setup (one --gpu, without --compare)"));
  }
  if (api::IsServePlanGpu(a.req.serve.gpu)) return RunServePlan(g, *session, a);
  if (a.compare) {
    Result<api::InferCompareResult> r = api::InferCompare(*session, a.req);
    if (!r.ok()) return Fail(r.status());
    return Emit(api::InferCompareReport(*r), g);
  }
  Result<api::InferResult> r = api::Infer(*session, a.req);
  if (!r.ok()) return Fail(r.status());
  report::Report rep = api::InferReport(*r);
  const ServingEstimate& e = r->estimate;
  // A setup that cannot carry the offered load is not recorded (it exits 3 below).
  int code = e.qps && !e.meets_targets ? Emit(rep, g)
                                       : EmitRecorded(g, a.rec, "infer", report::Render(rep, report::Format::kJson), &rep);
  if (code == 0 && e.qps && !e.meets_targets) {
    if (e.gpus_needed && *e.gpus_needed > e.num_gpus) {
      std::fprintf(stderr, "dlcost: the given %lld GPUs cannot carry %.3f requests/s; %lld are needed\n",
                   static_cast<long long>(e.num_gpus), *e.qps, static_cast<long long>(*e.gpus_needed));
    } else if (e.load) {
      std::fprintf(stderr,
                   "dlcost: overloaded: %lld GPUs complete %.3f of the %.3f requests/s offered in the simulation and the "
                   "queue keeps growing (TTFT p99 %.0f ms); add GPUs with --gpus\n",
                   static_cast<long long>(e.num_gpus), e.load->completed_req_s, *e.qps, e.load->ttft_s.p99 * 1e3);
    }
    return 3;
  }
  return code;
}

}  // namespace

void RegisterInfer(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* cmd = app.add_subcommand("infer", "Estimate memory, latency, throughput and cost of serving a model");
  auto a = std::make_shared<InferArgs>();
  AddServeOptions(cmd, &a->req.serve, true);
  AddCostOptions(cmd, &a->req.cost);
  cmd->add_option("--ttft-p99-ms", a->req.serve.ttft_p99_ms, "Planner (--gpu any or a list): p99 time-to-first-token target under the load");
  cmd->add_option("--e2e-p99-ms", a->req.serve.e2e_p99_ms, "Planner: p99 request-latency target under the load");
  cmd->add_option("--top", a->req.top, "Planner: how many plans to print (default 5)");
  cmd->add_flag("--compare", a->compare, "Run the setup across fp8, int4, fp8 KV, 2:4, speculative decoding and batch sizes");
  AddRecordOptions(cmd, &a->rec);
  AddOutputOptions(cmd, g);
  cmd->callback([&g, exit_code, a] { *exit_code = RunInfer(g, *a); });
}

}  // namespace dlcost::cli
