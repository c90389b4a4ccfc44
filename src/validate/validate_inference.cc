// Inference validator: predicts each row of inference_cases.csv with the serving estimator.
#include <algorithm>
#include <cmath>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "common/csv.h"
#include "dlcost/strings.h"
#include "dlcost/serving.h"
#include "dlcost/units.h"
#include "dlcost/validate.h"
#include "dlcost/error_bands.h"
#include "validate/case_row.h"

namespace dlcost {
namespace {

const char* kInferenceMetrics[] = {"output_tok_s", "total_tok_s", "ttft_ms", "tpot_ms",
                                   "req_s",        "prompt_tok_s", "gen_tok_s"};

// Prompt and output lengths assumed when a row leaves them empty (a dataset is named instead).
constexpr int64_t kDefaultInput = 512;
constexpr int64_t kDefaultOutput = 256;

// Speculative decoding defaults by kind, for rows that name the kind but not k or the
// acceptance rate. Stated dlcost assumptions, not measurements of the rows:
// EAGLE drafts 5 tokens deep; 0.8 per-token acceptance gives 3.7 tokens per verify step, in the
// 3-4 range of accepted lengths the EAGLE paper reports on MT-bench (Li et al. 2024).
SpecDecode DefaultSpec(const std::string& kind) {
  SpecDecode s;
  s.draft = kind;
  if (kind == "eagle") {
    s.k = 5;
    s.accept = 0.8;
  } else if (kind == "medusa") {
    s.k = 4;
    s.accept = 0.7;
  } else if (kind == "ngram") {
    s.k = 4;
    s.accept = 0.5;
  } else {
    s.k = 4;
    s.accept = 0.7;
  }
  return s;
}

// The accelerator of a row. "cpu" rows name the CPU in the note: a catalog CPU whose name or
// alias appears there is used; a CPU the catalog lacks is not guessed.
Result<Accelerator> RowAccelerator(const HardwareCatalog& hw, const std::string& gpu, const std::string& note) {
  if (ToLower(gpu) == "cpu") {
    std::string n = ToLower(note);
    for (const Accelerator& a : hw.accelerators()) {
      if (a.kind != "cpu" || a.id == "cpu") continue;
      std::vector<std::string> names = a.aliases;
      names.push_back(a.name);
      for (const std::string& x : names) {
        if (!x.empty() && n.find(ToLower(x)) != std::string::npos) return a;
      }
    }
    return NotFound("the CPU named in the note is not in the catalog (the generic 'cpu' entry is a 2-socket server)");
  }
  return hw.Resolve(gpu);
}

// The weight, activation and KV-cache formats of the row (fp16 weights when not given).
Status FormatsFromRow(const CaseRow& row, ServingSetup& s, std::vector<std::string>& chosen) {
  std::string wd = row.Get("weight_dtype");
  Result<NumberFormat> w = ParseNumberFormat(wd.empty() ? "fp16" : wd, "weight_dtype");
  if (wd.empty()) chosen.push_back("weights=fp16");
  if (!w.ok()) return w.status();
  s.weights = *w;
  for (auto [col, dst] : {std::pair<const char*, std::optional<NumberFormat>*>{"act_dtype", &s.activations},
                          {"kv_dtype", &s.kv_cache}}) {
    std::string v = row.Get(col);
    if (v.empty()) continue;
    Result<NumberFormat> f = ParseNumberFormat(v, col);
    if (!f.ok()) return InvalidInput("unknown act_dtype or kv_dtype");
    *dst = *f;
  }
  return Status::Ok();
}

// The batching mode of the row's scenario: fixed_batch is a static batch, single_stream one
// request at a time, the rest (offline, server, max_throughput, interactive) continuous batching.
Status ScenarioFromRow(const std::string& scenario, std::optional<int64_t> batch, std::optional<int64_t> conc,
                       ServingSetup& s) {
  if (scenario == "fixed_batch") {
    s.mode = ServingMode::kStaticBatch;
    s.batch = batch.value_or(1);
  } else if (scenario == "single_stream") {
    s.mode = ServingMode::kSingleStream;
  } else {
    s.mode = ServingMode::kContinuous;
    s.batch = batch;
    s.concurrency = conc;
    if (scenario == "interactive" && !conc) s.concurrency = 1;
    if (s.output_len == 0) return InvalidInput("prefill-only row in a continuous-batching scenario");
  }
  return Status::Ok();
}

// Requests simulated for a row offered at a request rate: enough for stable medians (the
// first 10% are warm-up), few enough that the validator stays fast.
constexpr int64_t kRowSimRequests = 4000;

// A `server` row's offered request rate (request_rate column; "inf" or empty: unlimited, the
// engine's own concurrency). A finite rate is simulated as Poisson arrivals.
Status RequestRateFromRow(const CaseRow& row, ServingSetup& s, std::vector<std::string>& chosen) {
  std::string v = ToLower(row.Get("request_rate"));
  if (v.empty() || v == "inf") return Status::Ok();
  if (row.Get("scenario") != "server") return Status::Ok();
  Result<std::optional<double>> rate = row.Num("request_rate");
  if (!rate.ok() || !*rate || !(**rate > 0) || **rate > 1e6) return InvalidInput("request_rate is not a positive number or inf");
  if (s.mode != ServingMode::kContinuous || s.concurrency) return Status::Ok();
  s.qps = **rate;
  chosen.push_back(fmt::format("poisson {} req/s simulated", **rate));
  return Status::Ok();
}

// The row's layout, lengths, number formats, scenario and speculative decoding as a serving
// setup; `chosen` gets what dlcost filled in. An error is the reason to skip the case.
Result<ServingSetup> SetupFromRow(const CaseRow& row, const std::string& note, std::vector<std::string>& chosen) {
  ServingSetup s;
  bool bad = false;
  auto get_int = [&](const char* col) -> std::optional<int64_t> {
    Result<std::optional<int64_t>> v = row.Int(col);
    if (!v.ok()) {
      bad = true;
      return std::nullopt;
    }
    return *v;
  };
  // input_len/output_len may be 0: read them as non-negative.
  auto get_len = [&](const char* col, int64_t def) -> int64_t {
    std::string v = row.Get(col);
    if (v.empty()) {
      chosen.push_back(fmt::format("{}={}", col, def));
      return def;
    }
    if (v == "0") return 0;
    Result<int64_t> x = ParsePositiveInt(v, col);
    if (!x.ok()) {
      bad = true;
      return 0;
    }
    return *x;
  };
  s.tp = get_int("tp").value_or(1);
  s.pp = get_int("pp").value_or(1);
  s.ep = get_int("ep").value_or(1);
  s.num_gpus = get_int("num_gpus").value_or(0);
  s.sim_requests = kRowSimRequests;
  s.input_len = get_len("input_len", kDefaultInput);
  s.output_len = get_len("output_len", kDefaultOutput);
  std::optional<int64_t> batch = get_int("batch");
  std::optional<int64_t> conc = get_int("concurrency");
  if (bad) return InvalidInput("a size field is not a positive integer");
  DLCOST_RETURN_IF_ERROR(FormatsFromRow(row, s, chosen));
  DLCOST_RETURN_IF_ERROR(ScenarioFromRow(row.Get("scenario"), batch, conc, s));
  DLCOST_RETURN_IF_ERROR(RequestRateFromRow(row, s, chosen));
  if (std::string dp = ToLower(row.Get("dp_attention")); !dp.empty()) {
    if (dp != "true" && dp != "false") {
      return InvalidInput(fmt::format("dp_attention: '{}' is not true or false", ForMessage(row.Get("dp_attention"))));
    }
    s.dp_attention = dp == "true" && s.tp > 1;
  }
  std::smatch mt;
  static const std::regex spec_re(R"(spec=([a-z]+))");
  if (std::regex_search(note, mt, spec_re)) {
    s.spec = DefaultSpec(mt[1]);
    chosen.push_back(fmt::format("spec={} k={} accept={}", s.spec->draft, s.spec->k, s.spec->accept));
    if (s.spec->draft == "draft") return InvalidInput("spec=draft without a named draft model");
  }
  s.sparsity_2_4 = note.find("sparsity=2:4") != std::string::npos;
  return s;
}

// The estimate's figure for an inference metric; 0 when the metric is not defined for it.
// Under a simulated load, latencies are the simulated median (p99 when the note says the
// figure is a p99) and throughputs the simulated completions.
double PredictServingMetric(const std::string& m, const ServingEstimate& e, const std::string& note) {
  if (e.load) {
    bool p99 = note.find("p99") != std::string::npos;
    const LoadSimulation& l = *e.load;
    if (m == "ttft_ms") return (p99 ? l.ttft_s.p99 : l.ttft_s.p50) * 1e3;
    if (m == "tpot_ms") return (p99 ? l.tpot_s.p99 : l.tpot_s.p50) * 1e3;
    if (m == "output_tok_s") return l.output_tok_s;
    if (m == "req_s") return l.completed_req_s;
    if (m == "total_tok_s" && l.completed_req_s > 0) return l.output_tok_s * e.total_tok_s / e.output_tok_s;
  }
  if (m == "output_tok_s") return e.output_tok_s;
  if (m == "total_tok_s") return e.total_tok_s;
  if (m == "ttft_ms") return e.ttft_s * 1e3;
  if (m == "tpot_ms") return e.tpot_s * 1e3;
  if (m == "req_s") return e.req_s;
  if (m == "prompt_tok_s") return e.prompt_tok_s;
  if (m == "gen_tok_s") return e.gen_tok_s;
  return 0;
}

// How a pass over the cases sets the engines' iteration-time factors.
enum class FactorMode {
  kKernelModel,  // 1 for every engine: the residuals the factors are fitted on
  kShipped,      // the engine profiles' own
  kLoso,         // refitted without the case's own source
};

// What the fit needs to know of a predicted case beyond the report: its fit group (engine,
// GPU generation, epoch), whether its figure came from a simulated request rate (not proportional to
// the pass time), and whether the model is a mixture of experts (whose kernel-model errors are
// not the engine's: left out of the fit).
struct CaseEngine {
  std::string engine;
  bool simulated = false;
  bool moe = false;
  std::string source;
  double shipped = 1;  // the engine profile's factor for the case
};

// The group a case's engine factor is fitted in: engine, GPU generation and version epoch
// ("vllm/cdna3/0.6.0"); "generic" (unnamed or unknown engines) is never fitted.
std::string EngineFitKey(const EngineProfile& e, const Accelerator& gpu) {
  if (e.id == "generic") return "generic";
  return fmt::format("{}/{}/{}", e.id, GpuGeneration(gpu), EngineEpoch(e, e.version));
}

// ln(predicted speed / measured speed): rates as they are, times inverted.
double SpeedResidual(const ValidationCase& c) { return -BandResidual(c); }

// Fits the engines' iteration-time factors on the kernel-model residuals of `base`, and refits
// them without one source on demand (docs/serving.md, "Engine factors").
class EngineFactorFitter {
 public:
  EngineFactorFitter(const ValidationReport& base, const std::map<int64_t, CaseEngine>& engines) {
    for (const ValidationCase& c : base.cases) {
      auto it = engines.find(c.line);
      if (c.status != "ok" || !c.predicted || it == engines.end() || it->second.simulated || it->second.moe) continue;
      if (it->second.engine == "generic") continue;  // unnamed or unknown engines keep the kernel model
      points_[it->second.engine].push_back({&c.source, SpeedResidual(c)});
    }
  }

  // The factor of `engine` from every source but `without` (empty: all); 1 when fewer than
  // kEngineFitMinCases cases or fewer than kEngineFitMinSources sources remain.
  double Factor(const std::string& engine, const std::string& without, int* cases = nullptr, int* sources = nullptr) {
    auto key = std::make_pair(engine, without);
    auto hit = cache_.find(key);
    if (hit != cache_.end() && !cases && !sources) return hit->second;
    std::vector<double> r;
    std::set<std::string> srcs;
    auto it = points_.find(engine);
    if (it != points_.end()) {
      for (const Point& p : it->second) {
        if (!without.empty() && *p.source == without) continue;
        r.push_back(p.residual);
        srcs.insert(*p.source);
      }
    }
    if (cases) *cases = static_cast<int>(r.size());
    if (sources) *sources = static_cast<int>(srcs.size());
    bool enough = static_cast<int>(r.size()) >= kEngineFitMinCases && static_cast<int>(srcs.size()) >= kEngineFitMinSources;
    double f = enough ? std::exp(Quantile(r, 0.5)) : 1.0;
    cache_[key] = f;
    return f;
  }

  std::vector<std::string> Engines() const {
    std::vector<std::string> out;
    for (const auto& [e, pts] : points_) out.push_back(e);
    return out;
  }

 private:
  struct Point {
    const std::string* source;
    double residual;
  };
  std::map<std::string, std::vector<Point>> points_;
  std::map<std::pair<std::string, std::string>, double> cache_;
};

// For each element of `to`, `copy` from the element of `from` with the same key.
template <class T, class Key, class Copy>
void CopyFromMatching(std::vector<T>& to, const std::vector<T>& from, Key key, Copy copy) {
  for (T& t : to) {
    for (const T& f : from) {
      if (key(f) == key(t)) copy(t, f);
    }
  }
}

// Cases an earlier pass predicted with the factor this pass would use, by CSV line: copied, not
// predicted again.
using ReusedCases = std::map<int64_t, const ValidationCase*>;

Result<ValidationReport> PredictInferenceCases(const std::string& csv_path, const ValidationCatalogs& cat,
                                               EfficiencyCache& effs, FactorMode mode, EngineFactorFitter* fitter,
                                               std::map<int64_t, CaseEngine>* case_engines,
                                               const ReusedCases* reuse = nullptr) {
  const HardwareCatalog& hw = cat.hw;
  const std::vector<EngineProfile>& engines = cat.engines;
  const ModelCatalog& zoo = cat.zoo;
  std::vector<std::string> metrics(std::begin(kInferenceMetrics), std::end(kInferenceMetrics));
  metrics.push_back("speedup");
  // The inference schema's columns (validation/published/README.md, inference_cases.csv).
  static const std::vector<std::string> kColumns = {
      "case_id", "source", "model", "params_b", "active_params_b", "layers", "hidden", "heads", "kv_heads", "ffn",
      "vocab", "experts", "top_k", "gpu", "num_gpus", "tp", "pp", "ep", "weight_dtype", "act_dtype", "kv_dtype",
      "input_len", "output_len", "batch", "concurrency", "scenario", "engine", "metric", "value", "note",
      // Optional columns (validation/published/README.md, "Optional serving columns").
      "ffn_act", "engine_version", "dataset", "request_rate", "dp_attention"};
  return RunCases(csv_path, kColumns, metrics, [&](const CaseRow& row, ValidationCase& vc) -> Status {
    if (reuse) {
      auto it = reuse->find(vc.line);
      if (it != reuse->end()) {
        vc.predicted = it->second->predicted;
        vc.reason = it->second->reason;
        vc.chosen = it->second->chosen;
        vc.regime = it->second->regime;
        return Status::Ok();
      }
    }
    if (vc.metric == "speedup") return Skip(vc, "speedup: the baseline is described in words only");
    std::string note = row.Get("note");
    Result<Accelerator> gpu = RowAccelerator(hw, row.Get("gpu"), note);
    if (!gpu.ok()) return Skip(vc, gpu.status().message());
    Result<ModelSpec> model = ModelFromRow(row, &zoo);
    if (!model.ok()) return Skip(vc, model.status().message());
    std::vector<std::string> chosen;
    Result<EngineProfile> engine = ResolveEngine(engines, row.Get("engine"));
    if (!engine.ok()) {
      engine = ResolveEngine(engines, "generic");
      chosen.push_back("engine=generic");
    }
    if (!engine.ok()) return engine.status();
    std::string fit_key = EngineFitKey(*engine, *gpu);
    double shipped = IterationTimeFactor(*engine, *gpu);
    if (mode == FactorMode::kKernelModel) engine->iteration_time_factor = 1;
    if (mode == FactorMode::kLoso && fitter) engine->iteration_time_factor = fitter->Factor(fit_key, vc.source);
    Result<SystemSpec> sys = MakeSystem(hw, *gpu, 0, 0);
    if (!sys.ok()) return Skip(vc, sys.status().message());
    DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile eff, effs.Get(gpu->id));
    Result<ServingSetup> s = SetupFromRow(row, note, chosen);
    if (!s.ok()) return Skip(vc, s.status().message());
    if (case_engines) {
      (*case_engines)[vc.line] = {fit_key, s->qps.has_value() || !s->trace.empty(), model->moe.has_value(), vc.source,
                                  shipped};
    }
    Result<ServingEstimate> est = EstimateServing(*model, *sys, *s, eff, *engine);
    if (!est.ok()) return Skip(vc, est.status().message());
    const ServingEstimate& e = *est;
    chosen.insert(chosen.end(), e.chosen.begin(), e.chosen.end());
    vc.chosen = fmt::format("{}", fmt::join(chosen, " "));
    double pred = PredictServingMetric(vc.metric, e, note);
    if (!(pred > 0)) return Skip(vc, fmt::format("{} is not defined for this row's lengths", vc.metric));
    vc.predicted = pred;
    vc.regime = {MetricFamily(vc.metric), GpuGeneration(*gpu), ServingParallelism(s->tp, s->pp, s->ep),
                 ServingPrecision(s->weights.bits)};
    return Status::Ok();
  });
}

}  // namespace

Result<ValidationReport> ValidateInference(const std::string& csv_path, const std::string& data_dir,
                                           const std::string& eff_path, const ValidationOptions& opts) {
  std::optional<ValidationCatalogs> loaded;
  DLCOST_ASSIGN_OR_RETURN(const ValidationCatalogs* catalogs, CatalogsOf(opts, data_dir, &loaded));
  EfficiencyCache effs(eff_path);
  DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile base_eff, LoadEfficiency(eff_path, ""));
  // Up to three passes (docs/serving.md, "Engine factors"): the kernel model alone, to fit the
  // engines' factors; the shipped factors, for the cases and in-sample figures; the factors
  // refitted without each case's own source, for the leave-one-source-out figures and band
  // coverage. A later pass predicts again only the cases whose factor differs from an earlier one's.
  std::map<int64_t, CaseEngine> case_engines;
  DLCOST_ASSIGN_OR_RETURN(ValidationReport kernel,
                          PredictInferenceCases(csv_path, *catalogs, effs, FactorMode::kKernelModel, nullptr, &case_engines));
  EngineFactorFitter fitter(kernel, case_engines);
  // A case whose shipped factor is 1 is the kernel pass's; one whose refitted factor equals its
  // shipped one (or 1) is the shipped (or kernel) pass's. Only the others are predicted again.
  std::set<int64_t> shipped_differs, loso_differs;
  std::map<int64_t, bool> loso_is_kernel;
  std::map<std::string, double> shipped_by_group;
  for (const auto& [line, c] : case_engines) {
    shipped_by_group[c.engine] = c.shipped;
    double loso_factor = c.engine == "generic" ? 1.0 : fitter.Factor(c.engine, c.source);
    if (c.shipped != 1) shipped_differs.insert(line);
    if (loso_factor != c.shipped) {
      if (loso_factor == 1) loso_is_kernel[line] = true;
      else loso_differs.insert(line);
    }
  }
  auto reuse_all_but = [](const ValidationReport& from, const std::set<int64_t>& differ) {
    ReusedCases r;
    for (const ValidationCase& c : from.cases) {
      if (!differ.count(c.line)) r[c.line] = &c;
    }
    return r;
  };
  ValidationReport rep = kernel;
  if (!shipped_differs.empty()) {
    ReusedCases same = reuse_all_but(kernel, shipped_differs);
    DLCOST_ASSIGN_OR_RETURN(rep, PredictInferenceCases(csv_path, *catalogs, effs, FactorMode::kShipped, nullptr, nullptr, &same));
  }
  ValidationReport loso = rep;
  if (!loso_differs.empty() || !loso_is_kernel.empty()) {
    ReusedCases same = reuse_all_but(rep, loso_differs);
    for (const ValidationCase& c : kernel.cases) {
      if (loso_is_kernel.count(c.line)) same[c.line] = &c;
    }
    DLCOST_ASSIGN_OR_RETURN(loso, PredictInferenceCases(csv_path, *catalogs, effs, FactorMode::kLoso, &fitter, nullptr, &same));
  }
  AddErrorBands(&rep);
  AddErrorGroups(&rep, base_eff.fit_sources);
  AddErrorBands(&loso);
  AddErrorGroups(&loso, base_eff.fit_sources);
  CopyFromMatching(rep.families, loso.families, [](const FamilyError& x) { return x.family; },
                   [](FamilyError& to, const FamilyError& from) {
                     to.loso_n = from.loso_n;
                     to.loso_mape_pct = from.loso_mape_pct;
                     to.loso_median_ape_pct = from.loso_median_ape_pct;
                   });
  CopyFromMatching(rep.band_families, loso.band_families, [](const BandFamilySummary& x) { return x.family; },
                   [](BandFamilySummary& to, const BandFamilySummary& from) {
                     to.banded_loso = from.banded_loso;
                     to.loso_coverage_pct = from.loso_coverage_pct;
                     to.loso_median_halfwidth_pct = from.loso_median_halfwidth_pct;
                   });
  CopyFromMatching(rep.summary, loso.summary, [](const MetricSummary& x) { return x.metric; },
                   [](MetricSummary& to, const MetricSummary& from) {
                     to.banded = from.banded;
                     to.band_coverage_pct = from.band_coverage_pct;
                     to.band_median_halfwidth_pct = from.band_median_halfwidth_pct;
                   });
  for (const std::string& key : fitter.Engines()) {
    EngineFactorFit f;
    f.engine = key;
    f.fitted = fitter.Factor(key, "", &f.cases, &f.sources);
    f.shipped = shipped_by_group[key];  // every fitted group has cases
    rep.engine_factors.push_back(f);
  }
  return rep;
}

}  // namespace dlcost
