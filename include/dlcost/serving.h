// The serving estimator: memory, latency, throughput and cost of serving a model.
//
//   ServingSetup s;                          // 1 GPU, 512 in / 256 out, engine picks the batch
//   s.weights = *ParseNumberFormat("fp8", "--weights");
//   DLCOST_ASSIGN_OR_RETURN(ServingEstimate e, EstimateServing(model, system, s, eff, engine));
//   e.ttft_s, e.tpot_s, e.output_tok_s, e.max_concurrency ...
//
// Language models: prefill (compute-bound GEMMs and attention over the prompt) and decode
// (weights and KV cache read every step) priced op by op on the same op graph as training,
// with continuous batching in steady state. Vision and diffusion models: images per second.
// Equations and sources: docs/serving.md. The inputs have their own headers: the number formats
// (number_format.h), the engine profiles (engines.h), the system (system.h) and the efficiency
// profile (efficiency.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dlcost/efficiency.h"
#include "dlcost/engines.h"
#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/number_format.h"
#include "dlcost/status.h"
#include "dlcost/system.h"

namespace dlcost {

// Speculative decoding: a draft proposes k tokens that the target verifies in one pass.
struct SpecDecode {
  std::string draft;    // draft model id or file; "eagle", "medusa", "ngram" for head/lookup drafts
  int64_t k = 4;        // tokens drafted per verify step
  double accept = 0.7;  // probability that a drafted token is accepted (i.i.d., Leviathan et al. 2023)
};

// One request of an offered load: when it arrives (seconds from the start of the load) and
// its prompt and output lengths in tokens.
struct LoadRequest {
  double arrival_s = 0;
  int64_t input_len = 0;
  int64_t output_len = 0;
};

// Percentiles of a latency over the simulated requests, seconds.
struct LatencyStats {
  double p50 = 0, p90 = 0, p99 = 0, mean = 0, max = 0;
};

// Latency under load: the engine's scheduler simulated request by request (docs/serving.md,
// "Latency under load").
struct LoadSimulation {
  std::string arrivals;              // "poisson", "trace" or "closed loop"
  int64_t clients = 0;               // closed loop: clients per replica, each sending its next request when one ends
  int64_t requests = 0;              // measured (after the warm-up)
  int64_t warmup = 0;                // first requests left out of the statistics
  double offered_req_s = 0;          // all replicas
  double completed_req_s = 0;        // all replicas, over the measured window
  double output_tok_s = 0;           // all replicas, over the measured window
  LatencyStats ttft_s, tpot_s, e2e_s, queue_s;
  double mean_running = 0;           // sequences in an iteration, time-weighted, per replica
  int64_t preemptions = 0;           // sequences evicted when the KV cache ran out (recomputed)
  bool overloaded = false;           // completions fall behind arrivals: latency grows with the run
  std::optional<double> slo_attainment;   // share of requests meeting the TTFT and TPOT targets
  std::optional<double> slo_goodput_req_s;  // requests/s meeting them, all replicas
};

enum class ServingMode {
  kContinuous,    // continuous batching at a concurrency (engine picks it when none is given)
  kStaticBatch,   // one fixed batch: prefill all, then decode all
  kSingleStream,  // one request at a time
};

// The serving job: parallelism, request shape, scheduling, number formats, sparsity and targets.
struct ServingSetup {
  int64_t num_gpus = 0;  // all replicas together; 0 = tp x pp x ep
  int64_t tp = 1, pp = 1, ep = 1;
  int64_t input_len = 512;
  int64_t output_len = 256;
  ServingMode mode = ServingMode::kContinuous;
  std::optional<int64_t> batch;        // static batch, or the engine's batch cap
  std::optional<int64_t> concurrency;  // requests in flight per replica
  std::optional<double> qps;           // offered requests per second (all replicas)
  NumberFormat weights;
  std::optional<NumberFormat> activations;  // empty: chosen from the weights and the GPU
  std::optional<NumberFormat> kv_cache;     // empty: the activation type (fp16 below 8 bits)
  bool sparsity_2_4 = false;
  double unstructured_sparsity = 0;  // share of zero weights
  std::string sparse_kernel;         // named kernel for unstructured sparsity (loads sparse, computes dense)
  std::optional<SpecDecode> spec;
  std::optional<double> ttft_target_s, tpot_target_s;
  // Latency under load: simulated when qps is given (Poisson arrivals, sim_requests of them,
  // drawn with sim_seed) or when trace holds requests (replayed; lengths from the trace).
  std::vector<LoadRequest> trace;
  int64_t sim_requests = 20000;
  uint64_t sim_seed = 1;
  bool simulate = true;  // false: the analytic figures only (the serving planner's screening)
  double moe_imbalance = 1.0;        // tokens of the busiest expert / mean (1: balanced)
  // Data-parallel attention (SGLang --enable-dp-attention): each GPU of the tensor-parallel
  // group runs the attention block for its own sequences with the whole attention weights and
  // caches only their KV; the MLP or experts run over the gathered tokens as before.
  bool dp_attention = false;
  // Vision and diffusion models.
  int64_t denoise_steps = 50;
  bool cfg = true;                   // classifier-free guidance doubles the denoiser batch
};

// One serving estimate: memory per GPU, latency, throughput, and what bound the concurrency.
struct ServingEstimate {
  std::string unit = "token";  // "token" (decoders), "image" (vision, diffusion), "sequence" (encoders)
  std::vector<std::string> assumptions;
  std::vector<std::string> chosen;
  std::string weight_format, act_format, kv_format;
  // The engine's iteration-time factor the passes ran with (docs/serving.md, "Engine factors").
  double engine_factor = 1;

  // Memory per GPU, bytes.
  double weights_bytes = 0;
  double kv_bytes_per_token = 0;  // one token of context, this GPU's share, all its layers
  double kv_bytes_per_sequence = 0;
  double workspace_bytes = 0;
  double capacity_bytes = 0;
  double kv_budget_bytes = 0;
  int64_t max_concurrency = 0;  // sequences that fit (per replica), before the engine cap
  int64_t concurrency = 0;      // sequences in flight per replica, as modelled
  int64_t queued = 0;           // requests the clients keep in flight beyond what runs (per replica)
  double queue_wait_s = 0;      // their wait before prefill, included in ttft_s (closed loop)
  bool fits = true;

  // Latency (p50 as modelled: no queueing), seconds.
  double ttft_s = 0;
  double tpot_s = 0;
  double request_latency_s = 0;
  double prefill_s = 0;  // one request's prompt alone
  double decode_step_s = 0;

  // Throughput, all replicas together.
  int64_t replicas = 1;
  int64_t gpus_per_replica = 1;
  int64_t num_gpus = 1;
  double output_tok_s = 0;
  double total_tok_s = 0;
  double prompt_tok_s = 0;  // prefill tokens/s when only prefill runs
  double gen_tok_s = 0;     // decode tokens/s when only decode runs
  double req_s = 0;
  double prefill_share = 0;  // share of GPU time spent on prompts

  // Speculative decoding.
  double spec_tokens_per_step = 0;
  double spec_speedup = 0;

  // Load: GPUs needed for the offered QPS at this operating point.
  std::optional<double> qps;
  std::optional<int64_t> gpus_needed;
  bool meets_targets = true;
  std::string binding;  // what limits the concurrency: "memory", "engine cap", "ttft", "tpot", "given"
  std::optional<LoadSimulation> load;  // latency under load (qps or trace given)

  // Images (vision and diffusion models) or sequences (encoders): items per second and the
  // latency of one batch.
  double images_per_s = 0;
  double image_latency_s = 0;
};

// Prices the output of EstimateServing.
struct ServingCost {
  std::optional<double> usd_per_m_input;
  std::optional<double> usd_per_m_output;
  std::optional<double> usd_per_k_images;  // per 1,000 images (or encoder sequences)
  std::optional<double> usd_per_hour;
  double kwh_per_m_tokens = 0;  // per million tokens (input + output)
  double co2_kg_per_m_tokens = 0;
  double kwh_per_k_images = 0;
  double co2_kg_per_k_images = 0;
};
// Prices `e` at `usd_per_gpu_hour` (none: no dollar figures), `gpu_power_w` per GPU times
// `pue`, and `carbon_g_per_kwh`; GPU time is split between prompt and output tokens by the
// share of iteration time each causes.
ServingCost PriceServing(const ServingEstimate& e, std::optional<double> usd_per_gpu_hour, double gpu_power_w,
                         double pue, double carbon_g_per_kwh);

// Estimates serving `model` on `sys`. `draft` is the draft model when s.spec names one.
// InvalidInput names the flag of a setup that cannot be served; Infeasible when the model (or
// the requested batch, concurrency or latency targets) does not fit or cannot be met.
Result<ServingEstimate> EstimateServing(const ModelSpec& model, const SystemSpec& sys, const ServingSetup& s,
                                        const EfficiencyProfile& eff, const EngineProfile& engine,
                                        const ModelSpec* draft = nullptr);

}  // namespace dlcost
