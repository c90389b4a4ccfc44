// Latency under load (perf-internal): a continuous-batching engine's scheduler simulated
// iteration by iteration over a stream of requests, on an iteration-time table built from the
// replica's passes. EstimateDecoder (serving_decoder.cc) builds the table and the limits and
// summarises the runs. Equations and assumptions: docs/serving.md, "Latency under load".
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "dlcost/serving.h"

namespace dlcost::perf {

// Seconds of one engine iteration that decodes b sequences, whose cached contexts sum to
// ctx_sum tokens, and prefills p prompt tokens. Read from a grid of priced passes (b and p on
// roughly geometric grids, bilinear in between) plus the KV read beyond the grid's reference
// context, so that a lookup costs a few nanoseconds and allocates nothing.
class IterationTable {
 public:
  // `iter(b, p)`: seconds of an iteration decoding b sequences at ctx_ref cached tokens each
  // and prefilling p prompt tokens; `kv_slope_s`: seconds per further cached token read.
  IterationTable(const std::function<double(double b, double p)>& iter, int64_t max_b, int64_t max_p, double ctx_ref,
                 double kv_slope_s);
  double Seconds(int64_t b, double ctx_sum, int64_t p) const;

 private:
  static std::vector<int64_t> Grid(int64_t max);
  std::vector<int64_t> bs_, ps_;
  std::vector<double> t_;  // bs_.size() x ps_.size(), b major
  double ctx_ref_ = 0;
  double slope_ = 0;
};

// What the scheduler may put in one iteration and how much KV cache it has.
struct SchedulerLimits {
  int64_t max_batch = 256;     // sequences in one iteration (engine cap)
  int64_t token_budget = 8192; // tokens in one iteration: decodes first, then prompt chunks
  double kv_tokens = 0;        // KV-cache capacity, tokens of context
  bool reserve_full = true;    // a request reserves KV for prompt + all outputs when admitted
  double tokens_per_step = 1;  // tokens a decode iteration yields per sequence (speculation)
};

// What happened to one request; times in seconds from its arrival.
struct RequestOutcome {
  double ttft_s = 0;   // arrival to the end of the iteration that finished its prompt
  double tpot_s = 0;   // (last token - first token) / (outputs - 1); 0 for one output
  double e2e_s = 0;    // arrival to the last token
  double queue_s = 0;  // arrival to admission
  bool done = false;
  bool rejected = false;  // prompt + output alone exceed the KV cache
};

struct ReplicaRun {
  std::vector<RequestOutcome> outcomes;  // by index into the replica's requests
  std::vector<double> arrival_s;         // arrival of each request as simulated (closed loop: set by the run)
  double running_time_area = 0;          // sum over iterations of sequences x seconds
  double busy_s = 0;                     // seconds with an iteration running
  int64_t preemptions = 0;
  int64_t waiting_at_last_arrival = 0;   // queue length when the last request arrived
};

// Simulates one replica serving `reqs` (sorted by arrival): every iteration decodes one token
// (tokens_per_step) for each admitted sequence past its prompt, then gives the rest of the token
// budget to prompt chunks, first of admitted sequences, then of waiting requests admitted in
// arrival order while the batch cap and the KV cache allow. Without full reservation, a
// sequence that has no KV for its next token evicts the latest admitted one, which waits again
// at the head of the queue and recomputes its prompt and outputs (vLLM's recompute preemption).
// `clients` > 0: a closed loop of that many clients, as benchmark tools run a fixed concurrency:
// the first `clients` requests arrive at 0 and each later one when an earlier one ends (the
// requests' own arrival times are ignored); 0: the requests' arrival times (open loop).
ReplicaRun SimulateReplica(const std::vector<LoadRequest>& reqs, const IterationTable& cost, const SchedulerLimits& lim,
                           int64_t clients = 0);

// Requests of a Poisson stream of `total_req_s` routed round-robin over `replicas` replicas,
// as one replica sees them: `n` arrivals with Erlang(replicas) gaps, lengths fixed.
std::vector<LoadRequest> PoissonReplicaStream(double total_req_s, int64_t replicas, int64_t n, int64_t input_len,
                                              int64_t output_len, uint64_t seed);

// Percentiles (nearest rank) of `v`, which it sorts.
LatencyStats Percentiles(std::vector<double>& v);

}  // namespace dlcost::perf
