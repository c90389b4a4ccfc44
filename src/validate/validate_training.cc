#include "dlcost/validate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <regex>

#include <fmt/format.h>

#include "common/csv.h"
#include "validate/case_row.h"
#include "dlcost/strings.h"
#include "dlcost/model.h"
#include "dlcost/plan.h"
#include "dlcost/training.h"
#include "dlcost/units.h"

namespace dlcost {
namespace {

const char* kMetrics[] = {"sec_per_iter", "tflops_per_gpu", "mfu_pct", "hfu_pct", "gpu_hours", "mem_gib_per_gpu",
                          "mwh", "days", "tokens_per_sec_per_gpu", "usd"};

// The training schema's columns (validation/published/README.md, training_cases.csv), the
// last eleven optional: framework, attention kernel, overlap, uneven pipeline, fine-tuning, the
// optimizer, what is kept in host memory and torch.compile.
const std::vector<std::string>& TrainingColumns() {
  static const std::vector<std::string> kColumns = {
      "case_id", "source", "model", "arch", "params_b", "layers", "hidden", "heads", "kv_heads", "ffn", "ffn_act",
      "vocab", "seq_len", "experts", "top_k", "gpu", "num_gpus", "gpus_per_node", "internode_gbps", "tp", "pp", "dp",
      "ep", "cp", "vpp", "micro_batch", "global_batch", "zero", "seq_parallel", "recompute", "precision", "tokens",
      "metric", "value", "note", "framework", "attention_kernel", "overlap", "pp_layers", "finetune", "lora_rank",
      "lora_targets", "optimizer", "optimizer_in_backward", "offload", "compile"};
  return kColumns;
}

// "$14/h per 8-GPU node" or "$2.5 per GPU-hour" in a note: USD per GPU-hour.
std::optional<double> PriceFromNote(const std::string& note) {
  std::smatch mt;
  static const std::regex per_node(R"(\$\s*([0-9]+(?:\.[0-9]+)?)\s*/\s*h(?:our)?\s+per\s+([0-9]+)\s*-?\s*GPU\s+node)",
                                   std::regex::icase);
  if (std::regex_search(note, mt, per_node)) return std::stod(mt[1]) / std::stod(mt[2]);
  static const std::regex per_gpu(R"(\$\s*([0-9]+(?:\.[0-9]+)?)\s*(?:/|per)\s*GPU[- ]?h(?:ou)?r)", std::regex::icase);
  if (std::regex_search(note, mt, per_gpu)) return std::stod(mt[1]);
  return std::nullopt;
}

// Energy convention stated in a note: "(400 W x PUE 1.1)".
void EnergyFromNote(const std::string& note, RunInputs* run) {
  std::smatch mt;
  static const std::regex watts(R"(([0-9]+(?:\.[0-9]+)?)\s*W\b)");
  static const std::regex pue(R"(PUE\s*([0-9]+(?:\.[0-9]+)?))", std::regex::icase);
  if (std::regex_search(note, mt, watts)) run->gpu_power_w = std::stod(mt[1]);
  if (std::regex_search(note, mt, pue)) run->pue = std::stod(mt[1]);
}

std::string ChosenText(const TrainingEstimate& e, const std::vector<std::string>& extra) {
  std::vector<std::string> all = extra;
  all.insert(all.end(), e.chosen.begin(), e.chosen.end());
  return fmt::format("{}", fmt::join(all, " "));
}

// The row's layout, batch, precision and recompute fields over the defaults; an error is the
// reason to skip the case. `num_gpus` is empty when the row leaves it to dlcost.
Result<TrainingSetup> SetupFromRow(const CaseRow& row, const ModelSpec& model, const ValidationOptions& opts,
                                   std::optional<int64_t>* num_gpus) {
  TrainingSetup s;
  s.seq_len = model.max_seq;
  s.overhead_bytes = -1;
  s.flash_attention = opts.flash_attention;
  bool bad = false;
  auto set_int = [&](const char* col, std::optional<int64_t>* dst) {
    Result<std::optional<int64_t>> v = row.Int(col);
    if (!v.ok()) bad = true;
    else *dst = *v;
  };
  set_int("num_gpus", num_gpus);
  set_int("tp", &s.tp);
  set_int("pp", &s.pp);
  set_int("dp", &s.dp);
  set_int("ep", &s.ep);
  set_int("cp", &s.cp);
  set_int("vpp", &s.vpp);
  set_int("micro_batch", &s.micro_batch);
  set_int("global_batch", &s.global_batch);
  if (bad) return InvalidInput("a layout field is not a positive integer");
  std::string zero = row.Get("zero");
  if (!zero.empty()) {
    if (zero.size() != 1 || zero[0] < '0' || zero[0] > '3') return InvalidInput("zero must be 0-3");
    s.zero = zero[0] - '0';
  }
  std::string sp = row.Get("seq_parallel");
  if (!sp.empty()) s.seq_parallel = sp == "1";
  std::string rc = row.Get("recompute");
  if (!rc.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.recompute, ParseRecompute(rc));
  }
  std::string prec = row.Get("precision");
  if (!prec.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.precision, ParseDtype(prec, "precision"));
  }
  return s;
}

// The optional columns that describe the software (framework, attention_kernel, overlap), the
// fine-tuning (finetune, lora_rank, lora_targets) and hybrid sharding (the note's
// "hsdp shard=N"). A value outside a column's set is an error naming the line and the column:
// the whole run stops, as for any malformed input.
Status SoftwareFromRow(const CaseRow& row, TrainingSetup& s) {
  auto where = [&](const char* col) { return fmt::format("line {}: {}", row.r->line, col); };
  if (std::string v = row.Get("framework"); !v.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.framework, ParseFramework(v, where("framework")));
  }
  if (std::string v = row.Get("attention_kernel"); !v.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.attention_kernel, ParseAttentionKernel(v, where("attention_kernel")));
  }
  if (std::string v = row.Get("overlap"); !v.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.overlap, ParseOverlap(v, where("overlap")));
  }
  if (std::string v = row.Get("finetune"); !v.empty()) {
    Result<Finetune> f = ParseFinetune(v);
    if (!f.ok()) return InvalidInput(fmt::format("{}: unknown value '{}' (none, full, lora, qlora)", where("finetune"), ForMessage(v)));
    s.finetune = *f;
  }
  DLCOST_ASSIGN_OR_RETURN(std::optional<int64_t> rank, row.Int("lora_rank"));
  if (rank) s.lora_rank = *rank;
  if (std::string v = row.Get("lora_targets"); !v.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.lora_targets, ParseLoraTargets(v, where("lora_targets")));
  }
  if (std::string v = row.Get("optimizer"); !v.empty()) {
    Result<Optimizer> o = ParseOptimizer(v);
    if (!o.ok()) {
      return InvalidInput(fmt::format("{}: unknown value '{}' (adamw, sgd, adafactor, adam8bit)", where("optimizer"), ForMessage(v)));
    }
    s.optimizer = *o;
  }
  if (std::string v = row.Get("optimizer_in_backward"); !v.empty()) {
    if (v != "0" && v != "1") return InvalidInput(fmt::format("{}: '{}' must be 0 or 1", where("optimizer_in_backward"), ForMessage(v)));
    s.optimizer_in_backward = v == "1";
  }
  if (std::string v = row.Get("compile"); !v.empty()) {
    if (v != "0" && v != "1") return InvalidInput(fmt::format("{}: '{}' must be 0 or 1", where("compile"), ForMessage(v)));
    s.compiled = v == "1";
  }
  if (std::string v = row.Get("offload"); !v.empty()) {
    DLCOST_ASSIGN_OR_RETURN(s.offload, ParseOffload(v, where("offload")));
  }
  if (s.optimizer_in_backward && s.offload.optimizer) {
    return InvalidInput(fmt::format("{}: an optimizer in the backward pass contradicts offload '{}'",
                                    where("optimizer_in_backward"), OffloadName(s.offload)));
  }
  std::smatch mt;
  static const std::regex hsdp(R"(hsdp\s+shard\s*=\s*([0-9]{1,6}))", std::regex::icase);
  std::string note = row.Get("note");
  if (std::regex_search(note, mt, hsdp)) s.shard_group = std::stoll(mt[1]);
  return Status::Ok();
}

// Uneven pipeline stages (pp_layers, "7+8+...+7"): positive counts joined with '+'; the sum
// and the count against the layout are checked with the layout (--pp-layers' rules).
Status PipelineLayersFromRow(const CaseRow& row, TrainingSetup& s) {
  std::string v = row.Get("pp_layers");
  if (v.empty()) return Status::Ok();
  for (const std::string& p : Split(v, '+')) {
    Result<int64_t> n = ParsePositiveInt(std::string(TrimView(p)), "pp_layers");
    if (!n.ok() || *n > 100000) {
      return InvalidInput(fmt::format("line {}: pp_layers: '{}' is not a '+'-joined list of positive layer counts",
                                      row.r->line, ForMessage(v)));
    }
    s.pp_layers.push_back(*n);
  }
  return Status::Ok();
}

// The software columns read by SoftwareFromRow into the row's setup `s`, with the checks that
// need the model (a LoRA rank above the hidden size) and the explicit pipeline split.
Status MergeSoftware(const TrainingSetup& software, const ModelSpec& model, const CaseRow& row, TrainingSetup& s) {
  s.framework = software.framework;
  s.attention_kernel = software.attention_kernel;
  s.overlap = software.overlap;
  s.finetune = software.finetune;
  s.lora_rank = software.lora_rank;
  s.lora_targets = software.lora_targets;
  s.optimizer = software.optimizer;
  s.optimizer_in_backward = software.optimizer_in_backward;
  s.offload = software.offload;
  s.compiled = software.compiled;
  s.shard_group = software.shard_group;
  if (!s.recompute && s.framework) s.recompute = FrameworkDefaultRecompute(*s.framework);
  if (s.finetune != Finetune::kNone && s.finetune != Finetune::kFull && s.lora_rank > model.hidden) {
    return InvalidInput(fmt::format("line {}: lora_rank: {} is above the hidden size {}", row.r->line, s.lora_rank,
                                    model.hidden));
  }
  return PipelineLayersFromRow(row, s);
}

// The estimate of the row's run. Without a GPU count, the count (a multiple of the node, up to
// 4096) with the fewest GPU-hours among those that fit; `s.num_gpus` is set to the count used
// and `extra` says it was chosen.
Result<TrainingEstimate> EstimateRow(const ModelSpec& model, const SystemSpec& sys, const EfficiencyProfile& eff,
                                     std::optional<int64_t> num_gpus, TrainingSetup& s, std::vector<std::string>& extra) {
  if (num_gpus) {
    s.num_gpus = *num_gpus;
    return EstimateWithChosenLayout(model, sys, s, eff);
  }
  std::optional<TrainingEstimate> best;
  int64_t best_n = 0;
  for (int64_t cand = std::max(1, sys.gpus_per_node); cand <= 4096; cand *= 2) {
    s.num_gpus = cand;
    Result<TrainingEstimate> r2 = EstimateWithChosenLayout(model, sys, s, eff);
    if (!r2.ok() || !r2->fits) continue;
    if (!best || r2->time_step_s * cand < best->time_step_s * best_n) {
      best = *r2;
      best_n = cand;
    }
  }
  if (!best) return Infeasible("no GPU count up to 4096 fits");
  s.num_gpus = best_n;
  extra.push_back(fmt::format("num_gpus={}", best_n));
  return *best;
}

// --compare-planner: the authors' layout beside the planner's fastest for the same model, GPUs
// and batch (the authors' own values join the searched sets, so theirs is one of the candidates).
void ComparePlanner(const ModelSpec& model, const SystemSpec& sys, const EfficiencyProfile& eff, const TrainingSetup& s,
                    const TrainingEstimate& e, ValidationCase& vc) {
  TrainingSetup free = s;
  free.tp.reset();
  free.pp.reset();
  free.dp.reset();
  free.vpp.reset();
  free.micro_batch.reset();
  free.zero.reset();
  free.recompute.reset();
  free.seq_parallel.reset();
  LayoutSpace also;
  also.tp = {e.layout.tp};
  also.pp = {e.layout.pp};
  also.vpp = {e.layout.vpp};
  also.micro_batch = {e.layout.micro_batch};
  also.zero = {e.layout.zero};
  also.recompute = {e.layout.recompute};
  Result<TrainingEvaluator> ev = TrainingEvaluator::Create(model, sys, free, eff);
  Result<TrainingEstimate> best = ev.ok() ? FastestLayout(*ev, free, &also) : Result<TrainingEstimate>(ev.status());
  if (!best.ok() || !best->fits) return;
  vc.authors_step_s = e.time_step_s;
  vc.planner_step_s = best->time_step_s;
  const Layout& B = best->layout;
  vc.planner_layout = fmt::format("tp={} pp={} dp={} vpp={} mb={} zero={} recompute={}", B.tp, B.pp, B.dp, B.vpp,
                                  B.micro_batch, B.zero, RecomputeName(B.recompute));
}

// The whole-run metrics (gpu_hours, days, mwh, usd) from the estimate and the row's tokens; an
// error is the reason to skip the case.
Result<double> PredictWholeRun(const CaseRow& row, const std::string& metric, const std::string& note,
                               const TrainingEstimate& e, int64_t num_gpus, double tdp_w) {
  Result<std::optional<double>> tokens = row.Num("tokens");
  if (!tokens.ok() || !*tokens) return InvalidInput("whole-run metric without tokens");
  RunInputs run;
  run.tokens = **tokens;
  run.pue = 1.0;
  if (metric == "mwh") EnergyFromNote(note, &run);
  if (metric == "usd") {
    run.usd_per_gpu_hour = PriceFromNote(note);
    if (!run.usd_per_gpu_hour) return InvalidInput("usd case without a price dlcost can read in the note");
  }
  DLCOST_ASSIGN_OR_RETURN(RunCost cost, ComputeRunCost(e, num_gpus, tdp_w, run));
  if (metric == "gpu_hours") return cost.gpu_hours;
  if (metric == "days") return cost.wall_s / kSecondsPerDay;
  if (metric == "mwh") return cost.energy_kwh / 1000.0;
  if (metric == "usd" && cost.usd) return *cost.usd;
  return InvalidInput(fmt::format("metric '{}' is not predicted", ForMessage(metric)));
}

// The estimate's figure for the row's metric, in the metric's unit. A total memory figure is
// compared with everything dlcost counts, overhead included; the model_states / activations
// parts (the note's part= marker) exclude it.
Result<double> PredictMetric(const CaseRow& row, const std::string& mt, const TrainingEstimate& e, int64_t num_gpus,
                             double tdp_w) {
  const std::string note = row.Get("note");
  if (mt == "sec_per_iter") return e.time_step_s;
  if (mt == "tflops_per_gpu") {
    return note.find("flops=hardware") != std::string::npos ? e.tflops_per_gpu_hardware : e.tflops_per_gpu_model;
  }
  if (mt == "mfu_pct") return 100 * e.mfu;
  if (mt == "hfu_pct") return 100 * e.hfu;
  if (mt == "tokens_per_sec_per_gpu") return e.tokens_per_s / num_gpus;
  if (mt == "mem_gib_per_gpu") {
    if (note.find("part=model_states") != std::string::npos) {
      return (e.memory_weights_bytes + e.memory_grads_bytes + e.memory_optimizer_bytes) / kGiB;
    }
    if (note.find("part=activations") != std::string::npos) return e.memory_activations_bytes / kGiB;
    return e.memory_total_bytes / kGiB;
  }
  return PredictWholeRun(row, mt, note, e, num_gpus, tdp_w);
}

}  // namespace

Result<ValidationReport> ValidateTraining(const std::string& csv_path, const std::string& data_dir,
                                          const std::string& eff_path, const ValidationOptions& opts) {
  std::optional<ValidationCatalogs> loaded;
  DLCOST_ASSIGN_OR_RETURN(const ValidationCatalogs* catalogs, CatalogsOf(opts, data_dir, &loaded));
  const ValidationCatalogs& cat = *catalogs;
  const HardwareCatalog& hw = cat.hw;
  const ModelCatalog& zoo = cat.zoo;
  std::vector<std::string> metrics(std::begin(kMetrics), std::end(kMetrics));
  EfficiencyCache effs(eff_path);
  Result<ValidationReport> rep = RunCases(csv_path, TrainingColumns(), metrics, [&](const CaseRow& row, ValidationCase& vc) -> Status {
    TrainingSetup software;
    DLCOST_RETURN_IF_ERROR(SoftwareFromRow(row, software));
    Result<Accelerator> gpu = hw.Resolve(row.Get("gpu"));
    if (!gpu.ok()) return Skip(vc, gpu.status().message());
    Result<ModelSpec> model = ModelFromRow(row, &zoo);
    if (!model.ok()) return Skip(vc, model.status().message());
    Result<std::optional<int64_t>> gpn = row.Int("gpus_per_node");
    Result<std::optional<double>> inter = row.Num("internode_gbps");
    if (!gpn.ok() || !inter.ok()) return Skip(vc, "bad gpus_per_node or internode_gbps");
    Result<SystemSpec> sys = MakeSystem(hw, *gpu, static_cast<int>(gpn->value_or(0)), inter->value_or(0));
    if (!sys.ok()) return Skip(vc, sys.status().message());
    Result<EfficiencyProfile> eff = effs.Get(gpu->id);
    if (!eff.ok()) return eff.status();
    std::optional<int64_t> num_gpus;
    Result<TrainingSetup> setup = SetupFromRow(row, *model, opts, &num_gpus);
    if (!setup.ok()) return Skip(vc, setup.status().message());
    TrainingSetup& s = *setup;
    DLCOST_RETURN_IF_ERROR(MergeSoftware(software, *model, row, s));
    std::vector<std::string> extra;
    if (row.Get("seq_len").empty()) {
      // As `dlcost train` without --seq: the model's context, at most 8,192 tokens.
      s.seq_len = DefaultSeqLen(model->max_seq, s.finetune != Finetune::kNone);
      extra.push_back(fmt::format("seq_len={}", s.seq_len));
    }
    Result<TrainingEstimate> est = EstimateRow(*model, *sys, *eff, num_gpus, s, extra);
    if (!est.ok()) return Skip(vc, est.status().message());
    const TrainingEstimate& e = *est;
    vc.chosen = ChosenText(e, extra);
    vc.method = s.finetune == Finetune::kNone ? "pre-training" : FinetuneName(s.finetune);
    const Layout& lay = e.layout;
    vc.regime = {MetricFamily(vc.metric), GpuGeneration(*gpu),
                 ParallelismFamily(lay.tp, lay.pp, lay.cp, lay.ep, lay.zero), PrecisionClass(s.precision)};
    if (!e.fits && vc.metric != "mem_gib_per_gpu") {
      return Skip(vc, fmt::format("configuration does not fit in memory ({:.1f} GiB needed)", e.memory_total_bytes / kGiB));
    }
    if (opts.compare_planner && s.tp && s.pp && e.fits) ComparePlanner(*model, *sys, *eff, s, e, vc);
    Result<double> pred = PredictMetric(row, vc.metric, e, s.num_gpus, gpu->tdp_w);
    if (!pred.ok()) return Skip(vc, pred.status().message());
    vc.predicted = *pred;
    return Status::Ok();
  });
  if (rep.ok()) {
    AddErrorBands(&*rep);
    DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile base, LoadEfficiency(eff_path, ""));
    AddErrorGroups(&*rep, base.fit_sources);
  }
  return rep;
}

void SummarizeValidation(ValidationReport* report) {
  ValidationReport& rep = *report;
  rep.summary.clear();
  std::map<std::string, MetricSummary> by;
  std::map<std::string, std::vector<double>> apes;
  for (const ValidationCase& c : rep.cases) {
    MetricSummary& m = by[c.metric];
    m.metric = c.metric;
    ++m.n;
    if (c.status != "ok") {
      ++m.skipped;
      continue;
    }
    ++m.predicted;
    double ape = 100 * std::fabs(*c.rel_error);
    apes[c.metric].push_back(ape);
    m.mape_pct += ape;
    m.bias_pct += 100 * *c.rel_error;
    if (ape >= m.max_ape_pct) {
      m.max_ape_pct = ape;
      m.max_case = c.case_id;
    }
  }
  for (auto& [name, m] : by) {
    if (m.predicted > 0) {
      m.mape_pct /= m.predicted;
      m.bias_pct /= m.predicted;
      std::vector<double>& v = apes[name];
      std::sort(v.begin(), v.end());
      size_t k = v.size();
      m.median_ape_pct = k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
    }
    rep.summary.push_back(m);
  }
}

}  // namespace dlcost
