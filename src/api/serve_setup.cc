#include "dlcost/api_serve.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "dlcost/strings.h"
#include "dlcost/units.h"

namespace dlcost::api {

Result<SpecDecode> ParseSpecDecode(const std::string& text) {
  SpecDecode s;
  s.draft.clear();
  for (const std::string& part : Split(text, ',')) {
    std::string p(TrimView(part));
    size_t eq = p.find('=');
    if (eq == std::string::npos) {
      return InvalidInput(fmt::format("--spec-decode: '{}' is not key=value (draft=MODEL,k=4,accept=0.7)", p));
    }
    std::string key = ToLower(p.substr(0, eq)), val = p.substr(eq + 1);
    if (key == "draft") {
      s.draft = val;
    } else if (key == "k") {
      DLCOST_ASSIGN_OR_RETURN(int64_t k, ParsePositiveInt(val, "--spec-decode k"));
      if (k > 64) return InvalidInput("--spec-decode: k must be between 1 and 64");
      s.k = k;
    } else if (key == "accept") {
      char* end = nullptr;
      double a = std::strtod(val.c_str(), &end);
      if (val.empty() || end == nullptr || *end != '\0' || !std::isfinite(a) || a <= 0 || a >= 1) {
        return InvalidInput(fmt::format("--spec-decode: accept={} must be a number in (0, 1)", val));
      }
      s.accept = a;
    } else {
      return InvalidInput(fmt::format("--spec-decode: unknown key '{}' (draft, k, accept)", key));
    }
  }
  if (s.draft.empty()) return InvalidInput("--spec-decode: draft=MODEL is required (a zoo model, eagle, medusa or ngram)");
  return s;
}

namespace {

Result<std::optional<int64_t>> OptPositive(const std::string& text, const char* flag, int64_t max) {
  if (text.empty()) return std::optional<int64_t>();
  DLCOST_ASSIGN_OR_RETURN(int64_t v, ParsePositiveInt(text, flag));
  if (v > max) return InvalidInput(fmt::format("{}: at most {}", flag, max));
  return std::optional<int64_t>(v);
}

Result<int64_t> Length(const std::string& text, const char* flag) {
  DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(text, flag));
  if (v != std::floor(v)) return InvalidInput(fmt::format("{}: must be a whole number of tokens", flag));
  if (v > 10'000'000) return InvalidInput(fmt::format("{}: at most 10M tokens", flag));
  return static_cast<int64_t>(v);
}

Result<double> PositiveMs(const std::string& text, const char* flag) {
  DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(text, flag));
  if (v <= 0 || v > 1e7) return InvalidInput(fmt::format("{}: must be between 0 and 1e7 ms", flag));
  return v / 1000.0;
}

bool IsHeadDraft(const std::string& d) {
  std::string l = ToLower(d);
  return l == "eagle" || l == "medusa" || l == "ngram" || l == "prompt-lookup";
}

// The simulated load (--trace, --sim-requests, --seed, --skip-bad-rows) into `s`. A trace
// sets the offered rate to its requests over the span of their arrivals.
Status ParseLoad(const ServeRequest& f, ModelKind kind, ServingSetup& s) {
  DLCOST_ASSIGN_OR_RETURN(int64_t n, ParsePositiveInt(f.sim_requests, "--sim-requests"));
  // 2 million simulated requests take about 3 s; the percentiles settle long before that.
  if (n < 100 || n > 2'000'000) return InvalidInput("--sim-requests: must be between 100 and 2,000,000");
  s.sim_requests = n;
  DLCOST_ASSIGN_OR_RETURN(double seed, ParseCount(f.seed, "--seed"));
  if (seed != std::floor(seed) || seed > 1e15) return InvalidInput("--seed: must be a whole number up to 1e15");
  s.sim_seed = static_cast<uint64_t>(seed);
  if (f.skip_bad_rows && f.trace.empty()) return UsageError("--skip-bad-rows: needs --trace");
  if (f.trace.empty()) return Status::Ok();
  if (kind != ModelKind::kDecoder) return UsageError("--trace: only for language models");
  if (s.mode != ServingMode::kContinuous) return UsageError("--trace: needs --mode continuous");
  if (s.qps) return UsageError("--trace and --qps: give one (a trace sets its own rate)");
  if (s.concurrency) return UsageError("--trace and --concurrency: give one");
  DLCOST_ASSIGN_OR_RETURN(LoadTrace t, ReadLoadTrace(f.trace, f.skip_bad_rows));
  s.trace = std::move(t.requests);
  double span = s.trace.back().arrival_s - s.trace.front().arrival_s;
  if (s.trace.size() < 2 || span <= 0) {
    return InvalidInput(fmt::format("{}: needs at least two requests arriving at different times", f.trace));
  }
  s.qps = static_cast<double>(s.trace.size() - 1) / span;
  // The analytic figures (KV per sequence, steady state) use the trace's mean lengths.
  double in = 0, out = 0;
  for (const LoadRequest& r : s.trace) {
    in += static_cast<double>(r.input_len);
    out += static_cast<double>(r.output_len);
  }
  s.input_len = std::max<int64_t>(1, std::llround(in / static_cast<double>(s.trace.size())));
  s.output_len = std::max<int64_t>(1, std::llround(out / static_cast<double>(s.trace.size())));
  return Status::Ok();
}

// Layout, lengths, batching and load (--tp .. --qps) into `s`.
Status ParseServingSetup(const ServeRequest& f, ModelKind kind, ServingSetup& s) {
  DLCOST_ASSIGN_OR_RETURN(auto tp, OptPositive(f.tp, "--tp", 4096));
  DLCOST_ASSIGN_OR_RETURN(auto pp, OptPositive(f.pp, "--pp", 4096));
  DLCOST_ASSIGN_OR_RETURN(auto ep, OptPositive(f.ep, "--ep", 4096));
  s.tp = tp.value_or(1);
  s.pp = pp.value_or(1);
  s.ep = ep.value_or(1);
  DLCOST_ASSIGN_OR_RETURN(auto gpus, OptPositive(f.gpus, "--gpus", 1'000'000));
  s.num_gpus = gpus.value_or(0);
  DLCOST_ASSIGN_OR_RETURN(s.input_len, Length(f.input, "--input"));
  DLCOST_ASSIGN_OR_RETURN(s.output_len, Length(f.output, "--output"));
  std::string mode = ToLower(f.mode);
  if (mode == "continuous") s.mode = ServingMode::kContinuous;
  else if (mode == "static") s.mode = ServingMode::kStaticBatch;
  else if (mode == "single") s.mode = ServingMode::kSingleStream;
  else return InvalidInput(fmt::format("--mode: '{}' must be continuous, static or single", f.mode));
  if (kind == ModelKind::kDecoder && s.output_len == 0) {
    return InvalidInput("--output: must be at least 1 token (the first token comes out of the prefill)");
  }
  if (kind == ModelKind::kDecoder && s.input_len == 0 && s.mode != ServingMode::kSingleStream) {
    return InvalidInput("--input: must be at least 1 token for batched serving");
  }
  DLCOST_ASSIGN_OR_RETURN(s.batch, OptPositive(f.batch, "--batch", 1'000'000));
  DLCOST_ASSIGN_OR_RETURN(s.concurrency, OptPositive(f.concurrency, "--concurrency", 1'000'000));
  if (s.mode == ServingMode::kStaticBatch && !s.batch) return UsageError("--mode static: give --batch");
  if (!f.qps.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double q, ParseCount(f.qps, "--qps"));
    if (q <= 0 || q > 1e9) return InvalidInput("--qps: must be between 0 and 1e9 requests per second");
    if (s.mode != ServingMode::kContinuous) return UsageError("--qps: needs --mode continuous");
    if (s.concurrency) return UsageError("--qps and --concurrency: give one");
    s.qps = q;
  }
  return ParseLoad(f, kind, s);
}

// Number formats, sparsity, speculative decoding, targets and diffusion steps into c.setup.
Status ParseServingOptions(const Session& session, const ServeRequest& f, ServeContext& c) {
  ServingSetup& s = c.setup;
  DLCOST_ASSIGN_OR_RETURN(s.weights, ParseNumberFormat(f.weights, "--weights"));
  if (!f.activations.empty()) {
    DLCOST_ASSIGN_OR_RETURN(NumberFormat a, ParseNumberFormat(f.activations, "--activations"));
    if (a.block_quantized) return InvalidInput(fmt::format("--activations: {} is a weight-only format", a.name));
    s.activations = a;
  }
  if (!f.kv_cache.empty()) {
    DLCOST_ASSIGN_OR_RETURN(NumberFormat k, ParseNumberFormat(f.kv_cache, "--kv-cache"));
    s.kv_cache = k;
  }
  if (!f.sparsity.empty()) {
    if (f.sparsity != "2:4") return InvalidInput(fmt::format("--sparsity: '{}' is not supported (2:4)", f.sparsity));
    s.sparsity_2_4 = true;
  }
  if (!f.unstructured.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double u, ParseCount(f.unstructured, "--unstructured-sparsity"));
    if (u >= 1) return InvalidInput("--unstructured-sparsity: must be in [0, 1)");
    s.unstructured_sparsity = u;
    if (s.sparsity_2_4 && u > 0) return UsageError("--sparsity 2:4 and --unstructured-sparsity: give one");
  }
  s.sparse_kernel = f.sparse_kernel;
  if (!s.sparse_kernel.empty() && s.unstructured_sparsity == 0) {
    return UsageError("--sparse-kernel: needs --unstructured-sparsity");
  }
  if (!f.spec.empty()) {
    DLCOST_ASSIGN_OR_RETURN(SpecDecode sd, ParseSpecDecode(f.spec));
    s.spec = sd;
    if (!IsHeadDraft(sd.draft)) {
      DLCOST_ASSIGN_OR_RETURN(ModelSpec d, session.ResolveModel(sd.draft));
      if (d.kind != ModelKind::kDecoder) return InvalidInput(fmt::format("--spec-decode: draft {} is not a decoder", d.id));
      c.draft = d;
    }
  }
  if (!f.ttft_ms.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double t, PositiveMs(f.ttft_ms, "--ttft-ms"));
    s.ttft_target_s = t;
  }
  if (!f.tpot_ms.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double t, PositiveMs(f.tpot_ms, "--tpot-ms"));
    s.tpot_target_s = t;
  }
  if ((s.ttft_target_s || s.tpot_target_s) && s.mode != ServingMode::kContinuous) {
    return UsageError("--ttft-ms/--tpot-ms: need --mode continuous");
  }
  if (!f.moe_imbalance.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double v, ParseCount(f.moe_imbalance, "--moe-imbalance"));
    s.moe_imbalance = v;
  }
  if (f.dp_attention && s.tp < 2) return UsageError("--dp-attention: needs --tp 2 or more (it spreads sequences over the tensor-parallel GPUs)");
  s.dp_attention = f.dp_attention;
  DLCOST_ASSIGN_OR_RETURN(int64_t steps, ParsePositiveInt(f.steps, "--steps"));
  s.denoise_steps = steps;
  s.cfg = !f.no_cfg;
  return Status::Ok();
}

}  // namespace

Result<ServeContext> ResolveServe(const Session& session, const ServeRequest& f) {
  ServeContext c;
  if (f.model.empty()) return UsageError("--model is required");
  if (f.gpu.empty()) return UsageError("--gpu is required");
  DLCOST_ASSIGN_OR_RETURN(const HardwareCatalog* hw, session.Hardware());
  DLCOST_ASSIGN_OR_RETURN(c.model, session.ResolveModel(f.model));
  DLCOST_ASSIGN_OR_RETURN(c.gpu, hw->Resolve(f.gpu));
  c.catalog = hw->accelerators();
  DLCOST_ASSIGN_OR_RETURN(c.system, session.ResolveSystem(c.gpu, {}));
  DLCOST_ASSIGN_OR_RETURN(c.eff, session.Efficiency(f.calibration, c.gpu.id));
  DLCOST_ASSIGN_OR_RETURN(c.calibration_note, CalibrationNote(f.calibration, c.gpu.id));
  if (!c.calibration_note.empty()) {
    c.calibration_note += "; the serving estimator reads the profile's scalar efficiencies, not its GEMM curve";
  }
  DLCOST_ASSIGN_OR_RETURN(std::vector<EngineProfile> engines, LoadEngines(session.data_dir()));
  DLCOST_ASSIGN_OR_RETURN(c.engine, ResolveEngine(engines, f.engine));

  DLCOST_RETURN_IF_ERROR(ParseServingSetup(f, c.model.kind, c.setup));
  DLCOST_RETURN_IF_ERROR(ParseServingOptions(session, f, c));
  return c;
}

Result<ServingEstimate> RunServing(const ServeContext& c, const ServingSetup& s) {
  Result<ServingEstimate> e = EstimateServing(c.model, c.system, s, c.eff, c.engine, c.draft ? &*c.draft : nullptr);
  if (e.ok() || e.status().code() != StatusCode::kInvalidInput) return e;
  // The estimator records which input it could not serve; the hint lists the GPUs that can.
  const std::string& field = e.status().field();
  std::vector<std::string> ok;
  if (field == "--activations" && s.activations) {
    for (const Accelerator& a : c.catalog) {
      if (a.PeakFlops(s.activations->compute)) ok.push_back(a.id);
    }
  } else if (field == "--sparsity") {
    for (const Accelerator& a : c.catalog) {
      if (a.sparse_2_4) ok.push_back(a.id);
    }
  }
  if (ok.empty()) return e;
  return InvalidInput(fmt::format("{} (supported on: {})", e.status().message(), fmt::join(ok, ", "))).WithField(field);
}

}  // namespace dlcost::api
