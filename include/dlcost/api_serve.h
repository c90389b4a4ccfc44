// `infer` and `tco` as library calls: serving memory, latency, throughput and cost of a model,
// the usual optimizations priced against a setup, and training vs serving over months
// (docs/serving.md).
//
//   api::InferRequest req;
//   req.serve.model = "llama-3-8b"; req.serve.gpu = "h100"; req.serve.qps = "20";
//   DLCOST_ASSIGN_OR_RETURN(api::InferResult r, api::Infer(session, req));
//   r.estimate.tpot_s, r.price.usd_per_m_output ...
//   std::string text = report::Render(api::InferReport(r), report::Format::kTable);
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dlcost/api_session.h"
#include "dlcost/error_bands.h"
#include "dlcost/report.h"
#include "dlcost/serving.h"

namespace dlcost::api {

// The serving inputs shared by infer and tco; every field is the text of the CLI flag of the
// same name (`kv_cache` is --kv-cache, `spec` is --spec-decode, `unstructured` is
// --unstructured-sparsity); empty means "not given".
struct ServeRequest {
  std::string model, gpu, gpus, tp = "1", pp = "1", ep = "1";
  std::string input = "512", output = "256";
  std::string batch, concurrency, qps, mode = "continuous";
  std::string weights = "fp16", activations, kv_cache;
  std::string sparsity, unstructured, sparse_kernel;
  std::string spec;
  std::string ttft_ms, tpot_ms;
  std::string engine, calibration, moe_imbalance;
  std::string steps = "50";
  std::string trace, sim_requests = "20000", seed = "1";  // --trace, --sim-requests, --seed
  std::string ttft_p99_ms, e2e_p99_ms;                    // serving-planner targets
  bool no_cfg = false;
  bool skip_bad_rows = false;  // --skip-bad-rows: bad trace rows are counted, not fatal
  bool dp_attention = false;   // --dp-attention
};

// A request trace (`infer --trace`): its requests sorted by arrival, and the rows skipped.
struct LoadTrace {
  std::vector<LoadRequest> requests;
  int64_t skipped = 0;
  std::string first_skipped;  // "file:line: why" of the first skipped row
};

// Parses a trace: CSV with a header naming arrival_s, input_len and output_len (other columns
// ignored), or JSON Lines of objects with those keys (a text starting with '{'). A bad row
// (missing, negative or non-integer length, non-finite or unsorted time) is an InvalidInput
// naming `name`, the line and the field, or with `skip_bad_rows` is counted in `skipped`.
Result<LoadTrace> ParseLoadTrace(std::string_view text, const std::string& name, bool skip_bad_rows);
Result<LoadTrace> ReadLoadTrace(const std::string& path, bool skip_bad_rows);

// Everything EstimateServing needs, resolved from a ServeRequest and the catalogs.
struct ServeContext {
  ModelSpec model;
  std::optional<ModelSpec> draft;
  Accelerator gpu;
  SystemSpec system;
  EfficiencyProfile eff;
  EngineProfile engine;
  ServingSetup setup;
  std::vector<Accelerator> catalog;  // for "supported on" hints
  std::string calibration_note;      // CalibrationNote of --calibration (empty without one)
};

Result<ServeContext> ResolveServe(const Session& session, const ServeRequest& f);

// Runs EstimateServing; an unsupported number format or sparsity error gets the list of
// catalog GPUs that support it appended.
Result<ServingEstimate> RunServing(const ServeContext& c, const ServingSetup& s);

// "draft=MODEL,k=4,accept=0.7" (draft may be eagle, medusa or ngram).
Result<SpecDecode> ParseSpecDecode(const std::string& text);

struct InferRequest {
  ServeRequest serve;
  CostRequest cost;
  std::string top;  // --top: plans the serving planner prints
};

// One setup the serving planner found: GPU type and offer, GPUs, tensor parallelism, replicas,
// number formats, price and the latency simulated under the load.
struct ServePlanEntry {
  std::string gpu, offer, region;
  int64_t gpus = 0, tp = 1, replicas = 1;
  std::string weights, kv_cache;
  double usd_per_hour = 0;
  double usd_per_1m_output_tokens = 0;
  double ttft_ms_p99 = 0, tpot_ms_p50 = 0, e2e_s_p99 = 0;
  bool overloaded = false;
  bool simulated = false;
};

struct ServePlanResult {
  ModelSpec model;
  double qps = 0;
  std::vector<ServePlanEntry> plans;   // meeting the targets, cheapest first
  std::vector<ServePlanEntry> pareto;  // of plans: none cheaper and faster at p99 TTFT
  int64_t evaluated = 0;               // setups priced analytically
  int64_t simulated = 0;               // simulations run
  double elapsed_s = 0;
  std::string binding;                 // no plan: the constraint that binds and the best reached
};

// `infer --gpu any` (or a list of GPUs): the cheapest setups that carry --qps within
// --ttft-p99-ms, --tpot-ms (p50) and --e2e-p99-ms (docs/serving.md, "Serving planner").
// UsageError without --qps; no plan is not an error: `binding` says why.
Result<ServePlanResult> ServePlan(const Session& session, const InferRequest& req);
std::string ServePlanJson(const ServePlanResult& r);
report::Report ServePlanReport(const ServePlanResult& r);
// True when `gpu` (--gpu) asks for the serving planner: "any" or a comma-separated list.
bool IsServePlanGpu(const std::string& gpu);

// The 80% error bands of a serving estimate (data/bands/serving.json, written by `dlcost
// validate inference --write-bands`): rates from the serving_rate family, TTFT and TPOT from
// serving_latency, for the estimate's GPU generation, parallelism and weight bits. An empty
// optional: no band (the note says why).
struct ServingBands {
  std::optional<Band> output_tok_s, req_s, ttft_ms, tpot_ms;
  std::string rate_note, latency_note;
};

struct InferResult {
  ServeContext context;
  CostContext cost;
  ServingEstimate estimate;
  ServingCost price;
  double gpu_power_w = 0;  // given, or the catalog TDP
  ServingBands bands;
};

// Estimates serving `req.serve`, priced under `req.cost`.
Result<InferResult> Infer(const Session& session, const InferRequest& req);
report::Report InferReport(const InferResult& r);

// One optimization of the baseline and what it gives (or why it does not apply).
struct ServeVariant {
  std::string name;
  ServingSetup setup;
  std::optional<ServingEstimate> estimate;  // empty: `error` says why
  std::optional<ServingCost> price;
  std::string error;
};

struct InferCompareResult {
  InferResult base;
  std::vector<ServeVariant> variants;  // the baseline first
};

// Each usual optimization (fp8, int4, fp8 KV, 2:4, speculative decoding, batch sizes) alone
// against the baseline of `req`; the baseline must be valid, a variant may fail.
Result<InferCompareResult> InferCompare(const Session& session, const InferRequest& req);
report::Report InferCompareReport(const InferCompareResult& r);

// `tco`: the flags beyond the serving ones, as text.
struct TcoRequest {
  ServeRequest serve;
  CostRequest cost;
  std::string months = "12", growth_pct = "0";
  std::string train_gpu, train_gpus = "64", train_tokens, train_usd, train_price;
};

// A serving option over the months: its one-off cost and the GPUs and dollars of each month.
struct TcoOption {
  std::string name;
  ServingSetup setup;
  double one_off_usd = 0;
  std::string one_off_basis;
  std::vector<double> usd;     // per month
  std::vector<int64_t> gpus;   // per month
  std::string error;           // why the option does not apply (then usd and gpus are empty)
};

struct TcoResult {
  ModelSpec model;
  Accelerator gpu;
  CostContext cost;
  double usd_per_gpu_hour = 0;
  int64_t months = 0;
  double growth_pct = 0;
  double training_usd = 0;
  std::optional<double> training_gpu_hours;  // when the training estimator priced it (not --train-usd)
  std::string training_basis;
  std::vector<double> qps_by_month;
  std::vector<TcoOption> options;  // the baseline first
  double qps_first_month = 0;
};

// Training vs serving over `months`: the baseline's GPUs each month at that month's load, and
// the break-even month of each optimization. The baseline must be valid (its error is returned).
Result<TcoResult> Tco(const Session& session, const TcoRequest& req);
report::Report TcoReport(const TcoResult& r);

// Hours in an average month (8,760 h / 12).
inline constexpr double kHoursPerMonth = 730.0;

}  // namespace dlcost::api
