// Latency under load: the continuous-batching scheduler simulated iteration by iteration.
// docs/serving.md, "Latency under load".
#include "perf/serving_sim.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <random>

namespace dlcost::perf {

std::vector<int64_t> IterationTable::Grid(int64_t max) {
  // 0, 1, 2, 3, 4, 6, 8, 12, 16, 24, ...: two points per octave, and max itself.
  std::vector<int64_t> g{0};
  for (int64_t v = 1; v < max; v *= 2) {
    g.push_back(v);
    if (v >= 2 && v + v / 2 < max) g.push_back(v + v / 2);
  }
  if (max > 0) g.push_back(max);
  std::sort(g.begin(), g.end());
  g.erase(std::unique(g.begin(), g.end()), g.end());
  return g;
}

IterationTable::IterationTable(const std::function<double(double b, double p)>& iter, int64_t max_b, int64_t max_p,
                               double ctx_ref, double kv_slope_s)
    : bs_(Grid(std::max<int64_t>(1, max_b))), ps_(Grid(std::max<int64_t>(1, max_p))), ctx_ref_(ctx_ref),
      slope_(std::max(0.0, kv_slope_s)) {
  t_.reserve(bs_.size() * ps_.size());
  for (int64_t b : bs_) {
    for (int64_t p : ps_) t_.push_back(iter(static_cast<double>(b), static_cast<double>(p)));
  }
}

namespace {

// The grid cell holding x, and x's position inside it (0..1); x beyond the grid clamps.
void Bracket(const std::vector<int64_t>& g, double x, size_t* lo, double* w) {
  if (x <= static_cast<double>(g.front())) {
    *lo = 0;
    *w = 0;
    return;
  }
  if (x >= static_cast<double>(g.back())) {
    *lo = g.size() >= 2 ? g.size() - 2 : 0;
    *w = g.size() >= 2 ? 1 : 0;
    return;
  }
  size_t hi = static_cast<size_t>(std::upper_bound(g.begin(), g.end(), static_cast<int64_t>(x)) - g.begin());
  hi = std::min(std::max<size_t>(hi, 1), g.size() - 1);
  *lo = hi - 1;
  double a = static_cast<double>(g[*lo]), b = static_cast<double>(g[hi]);
  *w = b > a ? (x - a) / (b - a) : 0;
}

}  // namespace

double IterationTable::Seconds(int64_t b, double ctx_sum, int64_t p) const {
  size_t bi = 0, pi = 0;
  double bw = 0, pw = 0;
  Bracket(bs_, static_cast<double>(b), &bi, &bw);
  Bracket(ps_, static_cast<double>(p), &pi, &pw);
  size_t np = ps_.size();
  size_t bj = std::min(bi + 1, bs_.size() - 1), pj = std::min(pi + 1, np - 1);
  double t00 = t_[bi * np + pi], t01 = t_[bi * np + pj], t10 = t_[bj * np + pi], t11 = t_[bj * np + pj];
  double t = (1 - bw) * ((1 - pw) * t00 + pw * t01) + bw * ((1 - pw) * t10 + pw * t11);
  // Cached keys and values read beyond the reference context (fewer when shorter).
  t += slope_ * (ctx_sum - static_cast<double>(b) * ctx_ref_);
  return std::max(t, t_.front());
}

namespace {

struct Live {
  int64_t idx = 0;
  double prompt_left = 0;  // prompt (and, after an eviction, earlier outputs) still to prefill
  double generated = 0;    // output tokens so far
  double ctx = 0;          // tokens in its KV cache
  double kv = 0;           // KV tokens it holds
  double chunk = 0;        // prompt tokens it prefills in this iteration
};

class Scheduler {
 public:
  Scheduler(const std::vector<LoadRequest>& reqs, const IterationTable& cost, const SchedulerLimits& lim, int64_t clients)
      : reqs_(reqs), cost_(cost), lim_(lim), first_token_(reqs.size(), -1.0), admitted_(reqs.size(), -1.0),
        resume_(reqs.size(), 0.0) {
    run_.outcomes.resize(reqs.size());
    run_.arrival_s.resize(reqs.size());
    for (size_t i = 0; i < reqs.size(); ++i) run_.arrival_s[i] = reqs[i].arrival_s;
    if (clients > 0) {
      // Closed loop: the first `clients` requests arrive at 0, each later one when an earlier
      // request ends (finished or refused).
      released_ = std::min(reqs.size(), static_cast<size_t>(clients));
      for (size_t i = 0; i < reqs.size(); ++i) run_.arrival_s[i] = i < released_ ? 0.0 : kNever;
    } else {
      released_ = reqs.size();
    }
    running_.reserve(static_cast<size_t>(std::max<int64_t>(1, std::min<int64_t>(lim.max_batch, 1 << 20))));
  }

  ReplicaRun Run() {
    const size_t n = reqs_.size();
    while (finished_ < n) {
      Arrive();
      if (running_.empty() && waiting_.empty()) {
        if (next_ >= n || run_.arrival_s[next_] == kNever) break;
        t_ = std::max(t_, run_.arrival_s[next_]);
        continue;
      }
      if (!lim_.reserve_full) EvictForDecode();
      int64_t b = 0, p = 0;
      double ctx_sum = 0;
      Schedule(&b, &ctx_sum, &p);
      if (b == 0 && p == 0) {
        // Nothing could run (the waiting requests do not fit beside the running ones, which
        // cannot happen while any is running): wait for the next arrival.
        if (next_ >= n || run_.arrival_s[next_] == kNever) break;
        t_ = std::max(t_, run_.arrival_s[next_]);
        continue;
      }
      double dt = cost_.Seconds(b, ctx_sum, p);
      t_ += dt;
      run_.busy_s += dt;
      run_.running_time_area += static_cast<double>(running_.size()) * dt;
      Advance();
    }
    return std::move(run_);
  }

 private:
  void Arrive() {
    while (next_ < reqs_.size() && run_.arrival_s[next_] <= t_) {
      waiting_.push_back(static_cast<int64_t>(next_++));
      if (next_ == reqs_.size()) run_.waiting_at_last_arrival = static_cast<int64_t>(waiting_.size());
    }
  }

  // Without full reservation every decoding sequence needs KV for its next tokens; while the
  // cache is short, the latest admitted sequence is evicted and waits again at the head.
  void EvictForDecode() {
    while (running_.size() > 1) {
      double need = 0;
      for (const Live& l : running_) {
        if (l.prompt_left <= 0) need += lim_.tokens_per_step;
      }
      if (kv_used_ + need <= lim_.kv_tokens) return;
      Live v = running_.back();
      running_.pop_back();
      kv_used_ -= v.kv;
      resume_[static_cast<size_t>(v.idx)] = v.generated;
      waiting_.push_front(v.idx);
      ++run_.preemptions;
    }
  }

  // Decodes first (one token each), then prompt chunks of admitted sequences, then admissions.
  void Schedule(int64_t* b, double* ctx_sum, int64_t* p) {
    double budget = static_cast<double>(lim_.token_budget);
    for (const Live& l : running_) {
      if (l.prompt_left <= 0) {
        ++*b;
        *ctx_sum += l.ctx;
      }
    }
    budget -= static_cast<double>(*b);
    double prompt = 0;
    for (Live& l : running_) {
      l.chunk = 0;
      if (l.prompt_left > 0 && budget > 0) {
        l.chunk = std::min(l.prompt_left, budget);
        budget -= l.chunk;
        prompt += l.chunk;
      }
    }
    while (budget > 0 && !waiting_.empty() && static_cast<int64_t>(running_.size()) < lim_.max_batch) {
      int64_t idx = waiting_.front();
      const LoadRequest& r = reqs_[static_cast<size_t>(idx)];
      double whole = static_cast<double>(r.input_len + r.output_len);
      if (whole > lim_.kv_tokens) {  // can never fit: rejected, as an engine refuses it
        waiting_.pop_front();
        RequestOutcome& o = run_.outcomes[static_cast<size_t>(idx)];
        o.rejected = true;
        ++finished_;
        Release();
        continue;
      }
      double resumed = resume_[static_cast<size_t>(idx)];
      Live l;
      l.idx = idx;
      l.prompt_left = static_cast<double>(r.input_len) + resumed;
      l.generated = resumed;
      l.kv = lim_.reserve_full ? whole : l.prompt_left;
      if (kv_used_ + l.kv > lim_.kv_tokens) break;
      waiting_.pop_front();
      if (admitted_[static_cast<size_t>(idx)] < 0) admitted_[static_cast<size_t>(idx)] = t_;
      l.chunk = std::min(l.prompt_left, budget);
      budget -= l.chunk;
      prompt += l.chunk;
      kv_used_ += l.kv;
      running_.push_back(l);
    }
    *p = static_cast<int64_t>(std::ceil(prompt));
  }

  // After an iteration ending at t_: decoded sequences gain their tokens, prompts that
  // completed emit the first token, finished requests leave and free their KV.
  void Advance() {
    size_t w = 0;
    for (size_t i = 0; i < running_.size(); ++i) {
      Live l = running_[i];
      const LoadRequest& r = reqs_[static_cast<size_t>(l.idx)];
      double out = static_cast<double>(r.output_len);
      bool finish = false;
      if (l.prompt_left <= 0) {
        l.generated += lim_.tokens_per_step;
        l.ctx += lim_.tokens_per_step;
        if (!lim_.reserve_full) {
          l.kv += lim_.tokens_per_step;
          kv_used_ += lim_.tokens_per_step;
        }
        finish = l.generated >= out - 1e-9;
      } else if (l.chunk > 0) {
        l.prompt_left -= l.chunk;
        l.ctx += l.chunk;
        if (l.prompt_left <= 1e-9) {
          l.prompt_left = 0;
          double& first = first_token_[static_cast<size_t>(l.idx)];
          if (first < 0) {
            first = t_;  // the pass that finishes the prompt also samples the first token
            l.generated = std::max(l.generated, 1.0);
          }
          finish = l.generated >= out - 1e-9;
        }
      }
      if (finish) {
        Finish(l);
      } else {
        running_[w++] = l;
      }
    }
    running_.resize(w);
  }

  void Finish(const Live& l) {
    size_t i = static_cast<size_t>(l.idx);
    const LoadRequest& r = reqs_[i];
    kv_used_ -= l.kv;
    RequestOutcome& o = run_.outcomes[i];
    o.done = true;
    double arrival = run_.arrival_s[i];
    o.ttft_s = first_token_[i] - arrival;
    o.e2e_s = t_ - arrival;
    o.queue_s = admitted_[i] - arrival;
    o.tpot_s = r.output_len > 1 ? (t_ - first_token_[i]) / static_cast<double>(r.output_len - 1) : 0;
    ++finished_;
    Release();
  }

  // Closed loop: the client of a request that ended sends the next one now.
  void Release() {
    if (released_ < reqs_.size()) run_.arrival_s[released_++] = t_;
  }

  static constexpr double kNever = std::numeric_limits<double>::infinity();

  const std::vector<LoadRequest>& reqs_;
  const IterationTable& cost_;
  SchedulerLimits lim_;
  std::vector<double> first_token_, admitted_, resume_;
  std::deque<int64_t> waiting_;
  std::vector<Live> running_;
  ReplicaRun run_;
  double t_ = 0;
  double kv_used_ = 0;
  size_t next_ = 0;
  size_t finished_ = 0;
  size_t released_ = 0;  // requests given an arrival time (closed loop: as clients free up)
};

}  // namespace

ReplicaRun SimulateReplica(const std::vector<LoadRequest>& reqs, const IterationTable& cost, const SchedulerLimits& lim,
                           int64_t clients) {
  Scheduler s(reqs, cost, lim, clients);
  return s.Run();
}

std::vector<LoadRequest> PoissonReplicaStream(double total_req_s, int64_t replicas, int64_t n, int64_t input_len,
                                              int64_t output_len, uint64_t seed) {
  std::mt19937_64 rng(seed);
  // Round-robin over R replicas: each sees every R-th arrival of the Poisson stream, so its
  // gaps are sums of R exponential gaps, Gamma(R, 1/rate) distributed.
  std::gamma_distribution<double> gap(static_cast<double>(std::max<int64_t>(1, replicas)), 1.0 / total_req_s);
  std::vector<LoadRequest> out(static_cast<size_t>(std::max<int64_t>(0, n)));
  double t = 0;
  for (LoadRequest& r : out) {
    t += gap(rng);
    r.arrival_s = t;
    r.input_len = input_len;
    r.output_len = output_len;
  }
  return out;
}

LatencyStats Percentiles(std::vector<double>& v) {
  LatencyStats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto rank = [&](double q) {
    size_t k = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, k > 0 ? k - 1 : 0)];
  };
  s.p50 = rank(0.50);
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  s.max = v.back();
  return s;
}

}  // namespace dlcost::perf
