#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "api/bands.h"
#include "dlcost/api_serve.h"
#include "dlcost/units.h"

namespace dlcost::api {
namespace {

double PowerW(const ServeContext& c, const CostContext& cc) { return cc.gpu_power_w.value_or(c.gpu.tdp_w); }

// The shipped serving band table's bands for `e` (docs/serving.md, "Error bands"); none, with
// notes saying so, when the data folder has no table.
Result<ServingBands> ServingBandsFor(const Session& session, const ServeContext& c, const ServingEstimate& e) {
  ServingBands b;
  std::string file = ShippedServingBandTablePath(session.data_dir());
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    b.rate_note = "no 80% error bands: the data folder has no bands/serving.json";
    b.latency_note = b.rate_note;
    return b;
  }
  DLCOST_ASSIGN_OR_RETURN(ErrorBandTable table, ErrorBandTable::Load(file));
  const ServingSetup& s = c.setup;
  BandRegime regime{kServingRateFamily, GpuGeneration(c.gpu), ServingParallelism(s.tp, s.pp, s.ep),
                    ServingPrecision(s.weights.bits)};
  if (std::optional<BandMatch> m = BandLookup(table, regime, "throughput", &b.rate_note)) {
    b.output_tok_s = ApplyBand(e.output_tok_s, m->q, true);
    b.req_s = ApplyBand(e.req_s, m->q, true);
  }
  regime.family = kServingLatencyFamily;
  if (std::optional<BandMatch> m = BandLookup(table, regime, "TTFT and TPOT", &b.latency_note)) {
    b.ttft_ms = ApplyBand(e.ttft_s * 1e3, m->q, false);
    b.tpot_ms = ApplyBand(e.tpot_s * 1e3, m->q, false);
  }
  return b;
}

// Latency under load, as simulated (docs/serving.md, "Latency under load").
void AddLoadFields(const LoadSimulation& l, report::Report& r) {
  r.AddField("sim_arrivals", "simulated arrivals", l.arrivals);
  r.AddField("sim_requests", "simulated requests (measured)", l.requests);
  r.AddField("ttft_ms_p50", "TTFT p50 under load (ms)", l.ttft_s.p50 * 1e3, 1);
  r.AddField("ttft_ms_p90", "TTFT p90 under load (ms)", l.ttft_s.p90 * 1e3, 1);
  r.AddField("ttft_ms_p99", "TTFT p99 under load (ms)", l.ttft_s.p99 * 1e3, 1);
  r.AddField("tpot_ms_p50", "TPOT p50 under load (ms)", l.tpot_s.p50 * 1e3, 2);
  r.AddField("tpot_ms_p90", "TPOT p90 under load (ms)", l.tpot_s.p90 * 1e3, 2);
  r.AddField("tpot_ms_p99", "TPOT p99 under load (ms)", l.tpot_s.p99 * 1e3, 2);
  r.AddField("e2e_s_p50", "request latency p50 under load (s)", l.e2e_s.p50, 3);
  r.AddField("e2e_s_p99", "request latency p99 under load (s)", l.e2e_s.p99, 3);
  r.AddField("queue_ms_p99", "queueing before admission p99 (ms)", l.queue_s.p99 * 1e3, 1);
  r.AddField("sim_completed_req_s", "completed requests/s (simulated)", l.completed_req_s, 3);
  r.AddField("sim_output_tok_s", "output tokens/s (simulated)", l.output_tok_s, 1);
  r.AddField("sim_mean_running", "sequences per iteration (simulated mean)", l.mean_running, 1);
  r.AddField("sim_preemptions", "preemptions (KV cache full)", l.preemptions);
  r.AddField("overloaded", "overloaded (queue keeps growing)", l.overloaded);
  if (l.slo_attainment) {
    r.AddField("slo_attainment_pct", "requests meeting the TTFT/TPOT targets (%)", 100 * *l.slo_attainment, 1);
    r.AddField("slo_goodput_req_s", "goodput: requests/s meeting the targets", *l.slo_goodput_req_s, 3);
  }
}

void AddEstimateFields(report::Report& r, const ServeContext& c, const ServingEstimate& e, const ServingCost& k,
                       const ServingBands* bands = nullptr) {
  ServingBands none;
  const ServingBands& b = bands ? *bands : none;
  r.AddField("model", "model", c.model.id);
  r.AddField("gpu", "GPU", c.gpu.id);
  r.AddField("num_gpus", "GPUs", e.num_gpus);
  r.AddField("replicas", "replicas", e.replicas);
  r.AddField("layout", "per replica",
             fmt::format("tp={} pp={} ep={}{}", c.setup.tp, c.setup.pp, c.setup.ep, c.setup.dp_attention ? " dp-attention" : ""));
  r.AddField("engine", "engine profile", c.engine.id);
  r.AddField("engine_factor", "engine factor", e.engine_factor, 3);
  r.AddField("formats", "weights / activations / KV", fmt::format("{} / {} / {}", e.weight_format, e.act_format, e.kv_format));
  r.AddField("chosen", "chosen by dlcost", e.chosen.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(e.chosen, "; ")));
  r.AddField("weights_gib", "weights per GPU (GiB)", e.weights_bytes / kGiB, 2);
  r.AddField("workspace_gib", "workspace per GPU (GiB)", e.workspace_bytes / kGiB, 2);
  r.AddField("capacity_gib", "GPU memory (GiB)", e.capacity_bytes / kGiB, 1);
  if (e.unit != "token") {
    // Images (vision, diffusion) or sequences (encoders).
    const std::string u = e.unit + "s";
    r.AddField("batch", fmt::format("batch ({})", u), e.concurrency);
    r.AddField("batch_latency_s", "latency per batch (s)", e.image_latency_s, 3);
    r.AddField(u + "_per_s", u + " per second", e.images_per_s, 2);
    if (e.unit == "sequence") r.AddField("prompt_tok_s", "tokens per second", e.prompt_tok_s, 1);
    r.AddField("usd_per_k_" + u, "$ per 1,000 " + u, k.usd_per_k_images ? report::Value(*k.usd_per_k_images) : report::Value(), 4);
    r.AddField("kwh_per_k_" + u, "kWh per 1,000 " + u, k.kwh_per_k_images, 4);
    r.AddField("co2_kg_per_k_" + u, "CO2e kg per 1,000 " + u, k.co2_kg_per_k_images, 4);
    return;
  }
  r.AddField("input_len", "prompt tokens", c.setup.input_len);
  r.AddField("output_len", "output tokens", c.setup.output_len);
  r.AddField("kv_kib_per_token", "KV cache per token per GPU (KiB)", e.kv_bytes_per_token / kKiB, 1);
  r.AddField("kv_mib_per_sequence", "KV cache per sequence (MiB)", e.kv_bytes_per_sequence / kMiB, 1);
  r.AddField("kv_budget_gib", "KV cache budget per GPU (GiB)", e.kv_budget_bytes / kGiB, 2);
  r.AddField("max_concurrency", "sequences that fit per replica", e.max_concurrency);
  r.AddField("concurrency", "sequences in flight per replica", e.concurrency);
  r.AddField("binding", "concurrency set by", e.binding);
  if (e.queued > 0) {
    r.AddField("queued", "requests queued per replica (clients beyond what runs)", e.queued);
    r.AddField("queue_wait_ms", "queue wait before prefill (in TTFT), ms", e.queue_wait_s * 1e3, 1);
  }
  r.AddField("ttft_ms", "TTFT (ms, p50 as modelled)", e.ttft_s * 1e3, 2);
  AddBandFields(r, "ttft_ms", b.ttft_ms);
  r.AddField("tpot_ms", "TPOT (ms, p50 as modelled)", e.tpot_s * 1e3, 3);
  AddBandFields(r, "tpot_ms", b.tpot_ms);
  r.AddField("request_latency_s", "request latency (s)", e.request_latency_s, 3);
  r.AddField("output_tok_s", "output tokens/s (all replicas)", e.output_tok_s, 1);
  AddBandFields(r, "output_tok_s", b.output_tok_s);
  r.AddField("total_tok_s", "total tokens/s (all replicas)", e.total_tok_s, 1);
  r.AddField("req_s", "requests/s", e.req_s, 3);
  AddBandFields(r, "req_s", b.req_s);
  r.AddField("prompt_tok_s", "prefill-only tokens/s", e.prompt_tok_s, 1);
  r.AddField("gen_tok_s", "decode-only tokens/s", e.gen_tok_s, 1);
  if (c.setup.spec) {
    r.AddField("spec_tokens_per_step", "tokens per verify step", e.spec_tokens_per_step, 2);
    r.AddField("spec_speedup", "speed-up from speculation (TPOT)", e.spec_speedup, 2);
  }
  if (e.qps) {
    r.AddField("qps", "offered requests/s", *e.qps, 3);
    r.AddField("gpus_needed", "GPUs needed for the load", e.gpus_needed ? report::Value(*e.gpus_needed) : report::Value());
    r.AddField("meets_load", "given GPUs carry the load", e.meets_targets);
  }
  if (e.load) AddLoadFields(*e.load, r);
  r.AddField("usd_per_hour", "$ per hour (all GPUs)", k.usd_per_hour ? report::Value(*k.usd_per_hour) : report::Value(), 2);
  r.AddField("usd_per_m_input", "$ per 1M input tokens", k.usd_per_m_input ? report::Value(*k.usd_per_m_input) : report::Value(), 4);
  r.AddField("usd_per_m_output", "$ per 1M output tokens", k.usd_per_m_output ? report::Value(*k.usd_per_m_output) : report::Value(), 4);
  r.AddField("kwh_per_m_tokens", "kWh per 1M tokens", k.kwh_per_m_tokens, 4);
  r.AddField("co2_kg_per_m_tokens", "CO2e kg per 1M tokens", k.co2_kg_per_m_tokens, 4);
}

struct Variant {
  std::string name;
  ServingSetup setup;
};

// The usual optimizations of the baseline `c`; `base_concurrency`: the sequences in flight the
// baseline runs at, which speculative decoding at load is compared at.
std::vector<Variant> CompareVariants(const ServeContext& c, int64_t base_concurrency) {
  const ServingSetup& b = c.setup;
  std::vector<Variant> v{{"baseline (as given)", b}};
  auto fmt_of = [](const char* n) { return *ParseNumberFormat(n, "--compare"); };
  if (c.model.kind != ModelKind::kDecoder) {
    for (const char* w : {"fp8", "int8"}) {
      Variant x{fmt::format("{} weights and activations", w), b};
      x.setup.weights = fmt_of(w);
      x.setup.activations = fmt_of(w);
      v.push_back(x);
    }
    Variant sp{"2:4 sparsity", b};
    sp.setup.sparsity_2_4 = true;
    v.push_back(sp);
    for (int64_t batch : {1, 8, 64}) {
      Variant x{fmt::format("batch {}", batch), b};
      x.setup.batch = batch;
      v.push_back(x);
    }
    return v;
  }
  Variant fp8{"fp8 weights and activations", b};
  fp8.setup.weights = fmt_of("fp8");
  fp8.setup.activations = fmt_of("fp8");
  v.push_back(fp8);
  Variant int4{"int4 weight-only (group 128)", b};
  int4.setup.weights = fmt_of("int4");
  int4.setup.activations.reset();
  v.push_back(int4);
  Variant kv{"fp8 KV cache", b};
  kv.setup.kv_cache = fmt_of("fp8");
  v.push_back(kv);
  Variant sp{"2:4 sparsity", b};
  sp.setup.sparsity_2_4 = true;
  v.push_back(sp);
  SpecDecode sd = b.spec.value_or(SpecDecode{"eagle", 5, 0.8});
  for (int64_t conc : {int64_t{1}, int64_t{0}}) {
    bool same_load = conc != 1 && (b.qps || b.mode != ServingMode::kContinuous);
    Variant x{conc == 1 ? fmt::format("speculative ({}, k={}, accept={}) at 1 request", sd.draft, sd.k, sd.accept)
              : same_load ? fmt::format("speculative ({}, k={}, accept={}) at the baseline's load", sd.draft, sd.k, sd.accept)
                          : fmt::format("speculative ({}, k={}, accept={}) at the baseline's concurrency ({})", sd.draft,
                                        sd.k, sd.accept, base_concurrency),
              b};
    x.setup.spec = sd;
    if (conc == 1) {
      x.setup.concurrency = 1;
      x.setup.qps.reset();
    } else if (!same_load && base_concurrency > 0) {
      x.setup.concurrency = base_concurrency;  // same sequences in flight: the comparison users ask for
    }
    v.push_back(x);
  }
  if (b.mode == ServingMode::kContinuous) {
    for (int64_t conc : {1, 8, 64}) {
      Variant x{fmt::format("concurrency {}", conc), b};
      x.setup.concurrency = conc;
      x.setup.qps.reset();
      x.setup.spec.reset();
      v.push_back(x);
    }
  }
  return v;
}

}  // namespace

Result<InferResult> Infer(const Session& session, const InferRequest& req) {
  InferResult r;
  DLCOST_ASSIGN_OR_RETURN(r.context, ResolveServe(session, req.serve));
  // One replica (tp x pp x ep GPUs) must sit in one priced instance.
  const ServingSetup& s = r.context.setup;
  DLCOST_ASSIGN_OR_RETURN(r.cost, session.ResolveCost(r.context.gpu, req.cost, static_cast<int>(std::min<int64_t>(s.tp * s.pp * s.ep, 4096))));
  DLCOST_ASSIGN_OR_RETURN(r.estimate, RunServing(r.context, r.context.setup));
  r.gpu_power_w = PowerW(r.context, r.cost);
  r.price = PriceServing(r.estimate, r.cost.usd_per_gpu_hour, r.gpu_power_w, r.cost.pue, r.cost.carbon_g_per_kwh);
  if (r.estimate.unit == "token") {
    DLCOST_ASSIGN_OR_RETURN(r.bands, ServingBandsFor(session, r.context, r.estimate));
  }
  return r;
}

report::Report InferReport(const InferResult& x) {
  const ServeContext& c = x.context;
  const ServingEstimate& e = x.estimate;
  const CostContext& cc = x.cost;
  report::Report r;
  r.title = fmt::format("Serving {} on {} x {}", c.model.id, e.num_gpus, c.gpu.id);
  AddEstimateFields(r, c, e, x.price, &x.bands);
  r.notes.push_back(e.queued > 0
                        ? "p50 latencies as modelled: TTFT is the queue wait of the requests beyond what runs (see below) "
                          "plus the iteration that carries the prompt; the simulated figures under load follow."
                        : "p50 latencies as modelled: no queueing delay; TTFT is the iteration that carries the prompt"
                          "; the simulated figures under load (when shown) include queueing.");
  for (const std::string& s : e.assumptions) r.notes.push_back(s);
  if (!x.bands.rate_note.empty()) r.notes.push_back(x.bands.rate_note);
  if (!x.bands.latency_note.empty() && x.bands.latency_note != x.bands.rate_note) r.notes.push_back(x.bands.latency_note);
  for (const std::string& s : cc.notes) r.notes.push_back(s);
  if (!c.calibration_note.empty()) r.notes.push_back(c.calibration_note);
  r.notes.push_back(fmt::format("energy: {:.0f} W per GPU{} x PUE {:.2f} ({})", x.gpu_power_w,
                                cc.gpu_power_w ? " (given)" : " (TDP, an upper bound)", cc.pue, cc.pue_note));
  return r;
}

Result<InferCompareResult> InferCompare(const Session& session, const InferRequest& req) {
  InferCompareResult out;
  DLCOST_ASSIGN_OR_RETURN(out.base, Infer(session, req));
  const InferResult& b = out.base;
  for (Variant& v : CompareVariants(b.context, b.estimate.concurrency)) {
    ServeVariant sv{std::move(v.name), std::move(v.setup), std::nullopt, std::nullopt, ""};
    Result<ServingEstimate> e = RunServing(b.context, sv.setup);
    if (!e.ok()) {
      sv.error = e.status().message();
    } else {
      sv.price = PriceServing(*e, b.cost.usd_per_gpu_hour, b.gpu_power_w, b.cost.pue, b.cost.carbon_g_per_kwh);
      sv.estimate = std::move(e).value();
    }
    out.variants.push_back(std::move(sv));
  }
  return out;
}

report::Report InferCompareReport(const InferCompareResult& x) {
  const ServeContext& c = x.base.context;
  const ServingEstimate& base = x.base.estimate;
  bool image = base.unit != "token";
  report::Report r;
  r.title = fmt::format("Serving optimizations for {} on {} x {}", c.model.id, base.num_gpus, c.gpu.id);
  r.AddField("model", "model", c.model.id);
  r.AddField("gpu", "GPU", c.gpu.id);
  r.AddField("engine", "engine profile", c.engine.id);
  report::Table& t = r.AddTable(
      "variants", "Each optimization alone, against the baseline",
      image ? std::vector<report::Column>{{"variant", "variant"}, {base.unit + "s_per_s", base.unit + "s/s", 2},
                                          {"latency_s", "latency s", 3}, {"usd_per_k_" + base.unit + "s", "$/1k " + base.unit + "s", 4},
                                          {"saving_pct", "saving %", 1}, {"status", "status"}}
            : std::vector<report::Column>{{"variant", "variant"}, {"concurrency", "concurrency"}, {"output_tok_s", "output tok/s", 1},
                                          {"ttft_ms", "TTFT ms", 1}, {"tpot_ms", "TPOT ms", 2},
                                          {"usd_per_m_output", "$/1M output", 4}, {"saving_pct", "saving %", 1}, {"status", "status"}});
  for (const ServeVariant& v : x.variants) {
    if (!v.estimate) {
      if (image) t.rows.push_back({v.name, report::Value(), report::Value(), report::Value(), report::Value(), v.error});
      else t.rows.push_back({v.name, report::Value(), report::Value(), report::Value(), report::Value(), report::Value(), report::Value(), v.error});
      continue;
    }
    const ServingEstimate& e = *v.estimate;
    const ServingCost& k = *v.price;
    if (image) {
      double saving = 100 * (1 - base.images_per_s / e.images_per_s);
      t.rows.push_back({v.name, e.images_per_s, e.image_latency_s,
                        k.usd_per_k_images ? report::Value(*k.usd_per_k_images) : report::Value(), saving, std::string("ok")});
    } else {
      // Saving in GPU time per output token (the dollar saving at any price).
      double saving = 100 * (1 - (base.output_tok_s / base.num_gpus) / (e.output_tok_s / e.num_gpus));
      t.rows.push_back({v.name, e.concurrency, e.output_tok_s, e.ttft_s * 1e3, e.tpot_s * 1e3,
                        k.usd_per_m_output ? report::Value(*k.usd_per_m_output) : report::Value(), saving, std::string("ok")});
    }
  }
  r.notes.push_back(fmt::format("saving % = GPU time per {} saved against the baseline; negative is a loss.",
                                image ? base.unit : std::string("output token")));
  if (!image) {
    r.notes.push_back("speculative decoding gains most at low load; at full load the verify passes over k+1 tokens per sequence "
                      "turn compute-bound and the gain shrinks or turns into a loss.");
  }
  if (!x.base.price.usd_per_hour) r.notes.push_back("no price: pass --price-usd-per-gpu-hour or --offer for dollar columns");
  for (const std::string& s : x.base.cost.notes) r.notes.push_back(s);
  return r;
}

}  // namespace dlcost::api
