// dlcost audit dedup|merge|leakage|labels|manifest: duplicates (in one process, or in
// shards joined by merge), train/test leakage and contamination, label conflicts, manifests.
// Method and sources: docs/audit.md.
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "dlcost/audit.h"
#ifdef DLCOST_WITH_MPI
#include "dlcost/audit_mpi.h"
#endif
#include "dlcost/carbon.h"
#include "dlcost/hardware.h"
#include "dlcost/model.h"
#include "dlcost/plan.h"
#include "dlcost/prices.h"
#include "dlcost/training.h"
#include "dlcost/units.h"

namespace dlcost::cli {
namespace {

// Rows shown in human formats for long lists; JSON and CSV list everything.
constexpr size_t kHumanRows = 50;
// Skipped records named on stderr one per line before the rest are only counted.
constexpr size_t kSkippedOnStderr = 10;

struct InputArgs {
  std::string input_format = "auto";
  std::string text_field = "text";
  std::string id_field;
  std::string label_field;
  int64_t max_record_bytes = int64_t{16} << 20;
};

struct MinHashArgs {
  double threshold = 0.8;
  int ngram = 5;
  int num_perm = 256;
  uint64_t seed = 1;
};

struct DedupArgs {
  std::string input;
  InputArgs in;
  MinHashArgs mh;
  double tokens_per_word = audit::kTokensPerWord;
  std::string write_dedup;
  std::string model, gpu, price, calibration;
  int64_t gpus = 8;
  bool mpi = false;
  std::string shard;      // "I/N": write this slice's features to shard_out instead of a report
  std::string shard_out;
};

struct MergeArgs {
  std::vector<std::string> shards;
};

struct LeakageArgs {
  std::string train, test;
  InputArgs in;
  MinHashArgs mh;
  int contamination_ngram = 13;
};

struct LabelsArgs {
  std::string input;
  InputArgs in;
  MinHashArgs mh;
  int64_t flood_min_size = 10;
  double flood_factor = 10;
};

Result<audit::InputSpec> MakeSpec(const std::string& path, const InputArgs& a) {
  audit::InputSpec s;
  s.path = path;
  DLCOST_ASSIGN_OR_RETURN(s.format, audit::ParseInputFormat(a.input_format));
  s.text_field = a.text_field;
  s.id_field = a.id_field;
  s.label_field = a.label_field;
  s.max_record_bytes = a.max_record_bytes;
  return s;
}

void AddInputOptions(CLI::App* cmd, InputArgs& a) {
  cmd->add_option("--input-format", a.input_format, "auto (by extension; a folder), jsonl, csv, dir")->capture_default_str();
  cmd->add_option("--text-field", a.text_field, "JSON key or CSV column holding the text")->capture_default_str();
  cmd->add_option("--id-field", a.id_field, "JSON key or CSV column holding the id (default: record number)");
  cmd->add_option("--label-field", a.label_field, "JSON key or CSV column holding the label");
  cmd->add_option("--max-record-bytes", a.max_record_bytes, "Skip records larger than this")->capture_default_str();
}

void AddMinHashOptions(CLI::App* cmd, MinHashArgs& a) {
  cmd->add_option("--threshold", a.threshold, "Jaccard similarity of word n-gram sets, in (0, 1]")->capture_default_str();
  cmd->add_option("--ngram", a.ngram, "Words per shingle")->capture_default_str();
  cmd->add_option("--num-perm", a.num_perm, "MinHash permutations")->capture_default_str();
  cmd->add_option("--seed", a.seed, "Seed of the MinHash permutations")->capture_default_str();
}

// Progress on stderr, only when it is a terminal.
std::function<void(const char*, int64_t)> ProgressFn() {
  if (!isatty(fileno(stderr))) return nullptr;
  return [](const char* stage, int64_t n) { std::fprintf(stderr, "\rdlcost audit: %s: %lld records", stage, static_cast<long long>(n)); };
}
void EndProgress() {
  if (isatty(fileno(stderr))) std::fprintf(stderr, "\r\033[K");
}

void WarnSkipped(const audit::InputStats& s) {
  size_t shown = 0;
  for (const audit::SkippedRecord& k : s.skipped_list) {
    if (shown++ == kSkippedOnStderr) break;
    std::fprintf(stderr, "dlcost: warning: skipped %s\n", audit::DescribeSkipped(k).c_str());
  }
  if (s.skipped > static_cast<int64_t>(kSkippedOnStderr)) {
    std::fprintf(stderr, "dlcost: warning: %lld records skipped in all (listed in the report)\n",
                 static_cast<long long>(s.skipped));
  }
}

void AddSkippedTable(report::Report& r, const audit::InputStats& s, bool human) {
  if (s.skipped == 0) return;
  report::Table& t = r.AddTable("skipped", "Skipped records", {{"file", "file"}, {"line", "line"}, {"reason", "reason"}});
  for (const audit::SkippedRecord& k : s.skipped_list) {
    if (human && t.rows.size() == kHumanRows) break;
    t.rows.push_back({k.file, k.line, k.reason});
  }
  for (const auto& [reason, n] : s.skipped_by_reason) r.notes.push_back(fmt::format("skipped: {} x {}", n, reason));
}

nlohmann::ordered_json SkippedJson(const audit::InputStats& s) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const audit::SkippedRecord& k : s.skipped_list) {
    nlohmann::ordered_json o;
    o["file"] = k.file;
    o["line"] = k.line;
    o["reason"] = k.reason;
    arr.push_back(o);
  }
  return arr;
}

int EmitJson(const nlohmann::ordered_json& j, const GlobalOptions& g) { return EmitText(j.dump(2) + "\n", g); }

bool Human(const GlobalOptions& g) { return g.format != "json" && g.format != "csv"; }

const double kCurvePoints[] = {0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0};

// What training on the wasted tokens costs on the given model and GPUs.
struct WasteCost {
  std::string model, gpu;
  int64_t num_gpus = 0;
  double gpu_hours = 0;
  std::optional<double> usd;
  double energy_kwh = 0;
  double co2_kg = 0;
  std::vector<std::string> notes;
};

Result<WasteCost> PriceWastedTokens(const GlobalOptions& g, const DedupArgs& a, double tokens) {
  WasteCost w;
  DLCOST_ASSIGN_OR_RETURN(std::string dir, DataDir(g));
  DLCOST_ASSIGN_OR_RETURN(HardwareCatalog hw, HardwareCatalog::Load(dir));
  DLCOST_ASSIGN_OR_RETURN(ModelCatalog zoo, ModelCatalog::Load(dir));
  DLCOST_ASSIGN_OR_RETURN(ModelSpec model, zoo.Resolve(a.model));
  DLCOST_ASSIGN_OR_RETURN(Accelerator gpu, hw.Resolve(a.gpu));
  if (a.gpus < 1 || a.gpus > 1000000) return InvalidInput("--gpus: must be in 1..1,000,000");
  TrainingSetup s;
  s.num_gpus = a.gpus;
  s.seq_len = model.max_seq > 0 ? std::min<int64_t>(model.max_seq, 8192) : 2048;  // as `dlcost train`
  s.overhead_bytes = -1;
  DLCOST_ASSIGN_OR_RETURN(SystemSpec sys, MakeSystem(hw, gpu, 0, 0));
  std::string eff_path = a.calibration.empty() ? dir + "/efficiency/default.json" : a.calibration;
  DLCOST_ASSIGN_OR_RETURN(EfficiencyProfile eff, LoadEfficiency(eff_path, gpu.id));
  DLCOST_ASSIGN_OR_RETURN(TrainingEstimate est, EstimateWithChosenLayout(model, sys, s, eff));
  if (!est.fits) {
    return Infeasible(fmt::format("--model {} does not fit on {} x {}; wasted-token cost not computed", model.id,
                                  a.gpus, gpu.id));
  }
  w.model = model.id;
  w.gpu = gpu.id;
  w.num_gpus = a.gpus;
  if (tokens <= 0) return w;
  RunInputs run;
  run.tokens = tokens;
  run.goodput = kDefaultGoodput;
  if (!a.price.empty()) {
    DLCOST_ASSIGN_OR_RETURN(double p, ParseCount(a.price, "--price-usd-per-gpu-hour"));
    run.usd_per_gpu_hour = p;
    w.notes.push_back(fmt::format("price: ${:.3f}/GPU-hour as given", p));
  } else {
    DLCOST_ASSIGN_OR_RETURN(PriceTable prices, PriceTable::LoadShipped(dir));
    std::vector<Offer> offers = prices.ForGpu(gpu.id);
    if (!offers.empty()) {
      run.usd_per_gpu_hour = offers.front().OnDemandUsdPerGpuHour();
      w.notes.push_back(fmt::format("price: cheapest shipped offer {}:{} ${:.3f}/GPU-hour on demand, list price as of {}",
                                    offers.front().provider, offers.front().instance, *run.usd_per_gpu_hour,
                                    offers.front().as_of));
    }
  }
  DLCOST_ASSIGN_OR_RETURN(CarbonData carbon, CarbonData::Load(dir));
  DLCOST_ASSIGN_OR_RETURN(GridInfo grid, carbon.Lookup("WORLD"));
  run.carbon_g_per_kwh = grid.carbon_g_per_kwh;
  run.pue = grid.pue.value_or(carbon.DefaultPue("Unknown").first);
  DLCOST_ASSIGN_OR_RETURN(RunCost cost, ComputeRunCost(est, a.gpus, gpu.tdp_w, run));
  w.gpu_hours = cost.gpu_hours;
  w.usd = cost.usd;
  w.energy_kwh = cost.energy_kwh;
  w.co2_kg = cost.co2_kg;
  w.notes.push_back(fmt::format("wasted-token cost: one epoch of the duplicate tokens on {} x {} training {} "
                                "(layout chosen as by `dlcost train`; goodput {:.2f}; WORLD grid carbon)",
                                a.gpus, gpu.id, model.id, kDefaultGoodput));
  return w;
}

// Writes one slice's shard file (`--shard I/N --shard-out FILE`) and a one-line summary.
int RunDedupShard(const audit::InputSpec& spec, const audit::DedupOptions& opt, const DedupArgs& a) {
  if (a.shard_out.empty()) return Fail(UsageError("--shard: give --shard-out FILE for the shard file"));
  if (!a.write_dedup.empty() || !a.model.empty()) {
    return Fail(UsageError("--shard: --write-deduplicated, --model and --gpu apply to a whole run, not to a shard"));
  }
  Result<audit::ShardSpec> shard = audit::ParseShard(a.shard);
  if (!shard.ok()) return Fail(shard.status());
  Result<int64_t> docs = audit::WriteDedupShard(spec, opt, *shard, a.shard_out);
  EndProgress();
  if (!docs.ok()) return Fail(docs.status());
  std::printf("dlcost: shard %lld/%lld: %lld documents written to %s\n", static_cast<long long>(shard->index),
              static_cast<long long>(shard->count), static_cast<long long>(*docs), a.shard_out.c_str());
  return 0;
}

// Prints the dedup report of `d` (one process or merged shards) in the chosen format.
int EmitDedup(const GlobalOptions& g, const DedupArgs& a, const audit::DedupOptions& opt, const audit::DedupResult& d,
              const std::optional<WasteCost>& waste, const std::string& waste_note) {
  const int64_t removed = d.exact_duplicates + d.near_duplicates;
  int64_t near_pairs = 0;
  for (const audit::DuplicatePair& p : d.pairs) near_pairs += p.exact ? 0 : 1;

  if (g.format == "json") {
    nlohmann::ordered_json out;
    nlohmann::ordered_json clusters = nlohmann::ordered_json::array();
    for (const auto& c : d.clusters) {
      nlohmann::ordered_json ids = nlohmann::ordered_json::array();
      for (int64_t doc : c) ids.push_back(d.ids[doc]);
      clusters.push_back(ids);
    }
    nlohmann::ordered_json pairs = nlohmann::ordered_json::array();
    for (const audit::DuplicatePair& p : d.pairs) {
      nlohmann::ordered_json o;
      o["a"] = d.ids[p.a];
      o["b"] = d.ids[p.b];
      o["jaccard"] = p.jaccard;
      o["kind"] = p.exact ? "exact" : "near";
      pairs.push_back(o);
    }
    nlohmann::ordered_json s;
    s["documents"] = d.documents;
    s["exact_duplicates"] = d.exact_duplicates;
    s["near_duplicates"] = d.near_duplicates;
    s["duplicates_removed"] = removed;
    s["kept"] = d.documents - removed;
    s["clusters"] = d.clusters.size();
    s["candidate_pairs"] = d.candidate_pairs;
    s["near_pairs"] = near_pairs;
    s["records_skipped"] = d.input.skipped;
    s["threshold"] = opt.threshold;
    s["ngram"] = opt.ngram;
    s["num_perm"] = opt.num_perm;
    s["seed"] = opt.seed;
    s["lsh_bands"] = d.lsh.bands;
    s["lsh_rows"] = d.lsh.rows;
    s["lsh_recall_at_threshold"] = d.lsh.recall_at_threshold;
    s["words_total"] = d.words_total;
    s["words_wasted"] = d.words_wasted;
    s["tokens_per_word"] = opt.tokens_per_word;
    s["tokens_wasted"] = d.tokens_wasted;
    s["bytes_total"] = d.bytes_total;
    s["bytes_wasted"] = d.bytes_wasted;
    if (waste) {
      s["model"] = waste->model;
      s["gpu"] = waste->gpu;
      s["num_gpus"] = waste->num_gpus;
      s["wasted_gpu_hours"] = waste->gpu_hours;
      s["wasted_usd"] = waste->usd ? nlohmann::ordered_json(*waste->usd) : nlohmann::ordered_json(nullptr);
      s["wasted_energy_kwh"] = waste->energy_kwh;
      s["wasted_co2_kg"] = waste->co2_kg;
    }
    out["clusters"] = clusters;
    out["pairs"] = pairs;
    out["summary"] = s;
    nlohmann::ordered_json curve = nlohmann::ordered_json::array();
    for (double x : kCurvePoints) {
      nlohmann::ordered_json p;
      p["jaccard"] = x;
      p["candidate_probability"] = audit::LshCandidateProbability(x, d.lsh.bands, d.lsh.rows);
      curve.push_back(p);
    }
    out["lsh_curve"] = curve;
    out["skipped"] = SkippedJson(d.input);
    return EmitJson(out, g);
  }

  const bool human = Human(g);
  report::Report r;
  r.title = fmt::format("Duplicates in {}", a.input);
  r.AddField("documents", "documents", d.documents);
  r.AddField("records_skipped", "records skipped", d.input.skipped);
  r.AddField("exact_duplicates", "exact duplicates", d.exact_duplicates);
  r.AddField("near_duplicates", "near duplicates (beyond exact)", d.near_duplicates);
  r.AddField("duplicates_removed", "documents removed", removed);
  r.AddField("kept", "documents kept", d.documents - removed);
  r.AddField("clusters", "duplicate clusters", static_cast<int64_t>(d.clusters.size()));
  r.AddField("candidate_pairs", "LSH candidate pairs verified", d.candidate_pairs);
  r.AddField("near_pairs", "near-duplicate pairs (exact Jaccard)", near_pairs);
  r.AddField("lsh", "LSH bands x rows", fmt::format("{} x {} (recall at {} = {:.4f})", d.lsh.bands, d.lsh.rows,
                                                     opt.threshold, d.lsh.recall_at_threshold));
  r.AddField("words_wasted", "duplicate words", d.words_wasted);
  r.AddField("tokens_wasted", "duplicate tokens (estimated)", d.tokens_wasted, 0);
  r.AddField("bytes_wasted", "duplicate bytes", d.bytes_wasted);
  r.AddField("wasted_share_pct", "share of tokens wasted (%)",
             d.words_total > 0 ? 100.0 * static_cast<double>(d.words_wasted) / static_cast<double>(d.words_total) : 0.0, 2);
  if (waste) {
    r.AddField("wasted_gpu_hours", fmt::format("GPU-hours to train on them ({})", waste->model), waste->gpu_hours, 1);
    r.AddField("wasted_usd", "cost ($)", waste->usd ? report::Value(*waste->usd) : report::Value(), 0);
    r.AddField("wasted_energy_kwh", "energy (kWh)", waste->energy_kwh, 1);
    r.AddField("wasted_co2_kg", "CO2e (kg)", waste->co2_kg, 1);
  }
  report::Table& curve = r.AddTable("lsh_curve", "LSH candidate probability 1-(1-s^r)^b by Jaccard s",
                                    {{"jaccard", "Jaccard", 2}, {"candidate_probability", "P(candidate)", 4}});
  for (double x : kCurvePoints) curve.rows.push_back({x, audit::LshCandidateProbability(x, d.lsh.bands, d.lsh.rows)});
  report::Table& ct = r.AddTable("clusters", "Duplicate clusters (first document kept)",
                                 {{"cluster", "cluster"}, {"size", "size"}, {"kept_id", "kept"}, {"member_ids", "members"}});
  for (size_t c = 0; c < d.clusters.size(); ++c) {
    if (human && c == kHumanRows) break;
    std::string members;
    for (size_t i = 0; i < d.clusters[c].size(); ++i) {
      if (human && i == 10) {
        members += fmt::format(" ... (+{})", d.clusters[c].size() - 10);
        break;
      }
      members += (i ? " " : "") + d.ids[d.clusters[c][i]];
    }
    ct.rows.push_back({static_cast<int64_t>(c), static_cast<int64_t>(d.clusters[c].size()), d.ids[d.clusters[c][0]], members});
  }
  report::Table& pt = r.AddTable("pairs", "Verified pairs",
                                 {{"a", "a"}, {"b", "b"}, {"jaccard", "Jaccard", 3}, {"kind", "kind"}});
  for (const audit::DuplicatePair& p : d.pairs) {
    if (human && pt.rows.size() == kHumanRows) break;
    pt.rows.push_back({d.ids[p.a], d.ids[p.b], p.jaccard, std::string(p.exact ? "exact" : "near")});
  }
  AddSkippedTable(r, d.input, human);
  if (human && (d.clusters.size() > kHumanRows || d.pairs.size() > kHumanRows)) {
    r.notes.push_back(fmt::format("tables cut at {} rows; --format json or csv lists everything", kHumanRows));
  }
  r.notes.push_back(fmt::format("near duplicates: Jaccard >= {} of {}-word shingle sets after normalisation; every LSH "
                                "candidate verified exactly (docs/audit.md)", opt.threshold, opt.ngram));
  r.notes.push_back(fmt::format("tokens = whitespace words x {:.3f} (OpenAI rule of thumb: a token is about 3/4 of a "
                                "word); set --tokens-per-word for your tokenizer", opt.tokens_per_word));
  if (waste) {
    for (const std::string& n : waste->notes) r.notes.push_back(n);
  }
  if (!waste_note.empty()) r.notes.push_back(waste_note);
  if (!a.write_dedup.empty()) r.notes.push_back(fmt::format("kept documents written to {}", a.write_dedup));
  return Emit(r, g);
}

// Everything after the duplicates are found: warnings, --write-deduplicated, pricing, report.
int ReportDedup(const GlobalOptions& g, const DedupArgs& a, const audit::InputSpec& spec,
                const audit::DedupOptions& opt, const audit::DedupResult& d) {
  WarnSkipped(d.input);
  if (!a.write_dedup.empty()) {
    Status st = audit::WriteDeduplicated(spec, d, a.write_dedup);
    if (!st.ok()) return Fail(st);
  }
  std::optional<WasteCost> waste;
  std::string waste_note;
  if (!a.model.empty()) {
    Result<WasteCost> w = PriceWastedTokens(g, a, d.tokens_wasted);
    if (!w.ok()) {
      if (w.status().code() != StatusCode::kInfeasible) return Fail(w.status());
      waste_note = w.status().message();
    } else {
      waste = *w;
    }
  }
  return EmitDedup(g, a, opt, d, waste, waste_note);
}

// The checks and options every form of `audit dedup` shares.
Status CheckDedupArgs(const DedupArgs& a) {
  if (a.model.empty() != a.gpu.empty()) return UsageError("--model and --gpu: give both to price the wasted tokens");
  if (!a.calibration.empty() && a.model.empty()) {
    return UsageError("--calibration: it prices the wasted tokens; give it with --model and --gpu");
  }
  if (a.shard.empty() && !a.shard_out.empty()) return UsageError("--shard-out: give --shard I/N too");
  if (a.mpi && !a.shard.empty()) {
    return UsageError("--mpi and --shard: give one (--mpi splits the records over the MPI ranks itself)");
  }
  return Status::Ok();
}

audit::DedupOptions MakeDedupOptions(const DedupArgs& a) {
  audit::DedupOptions opt;
  opt.threshold = a.mh.threshold;
  opt.ngram = a.mh.ngram;
  opt.num_perm = a.mh.num_perm;
  opt.seed = a.mh.seed;
  opt.tokens_per_word = a.tokens_per_word;
  opt.progress = ProgressFn();
  return opt;
}

#ifdef DLCOST_WITH_MPI
// `audit dedup --mpi` on every rank of the job (docs/audit.md, "MPI"). Rank 0 prints what a
// one-process run prints; the other ranks print nothing but an error they hit themselves. Every
// rank exits with the same code.
int RunDedupMpi(const GlobalOptions& g, const DedupArgs& a) {
  audit::MpiWorld world;
  const bool root = world.rank() == 0;
  // Argument errors are the same on every rank: rank 0 alone reports them.
  auto fail_everywhere = [root](const Status& s) { return root ? Fail(s) : ExitCodeFor(s); };
  if (Status st = CheckDedupArgs(a); !st.ok()) return fail_everywhere(st);
  Result<audit::InputSpec> spec = MakeSpec(a.input, a.in);
  if (!spec.ok()) return fail_everywhere(spec.status());
  audit::DedupOptions opt = MakeDedupOptions(a);
  if (!root) opt.progress = nullptr;
  bool mine = false;
  Result<audit::DedupResult> res = audit::DedupMpi(world, *spec, opt, &mine);
  if (root) EndProgress();
  if (!res.ok()) return mine ? Fail(res.status()) : ExitCodeFor(res.status());
  int code = root ? ReportDedup(g, a, *spec, opt, *res) : 0;
  return world.BroadcastFromRoot(code);
}
#else
int RunDedupMpi(const GlobalOptions&, const DedupArgs&) {
  return Fail(Unavailable("audit dedup --mpi: this dlcost was built without MPI (install libopenmpi-dev and "
                          "openmpi-bin, then rebuild)"));
}
#endif

int RunDedup(const GlobalOptions& g, const DedupArgs& a) {
  if (a.mpi) return RunDedupMpi(g, a);
  if (Status st = CheckDedupArgs(a); !st.ok()) return Fail(st);
  Result<audit::InputSpec> spec = MakeSpec(a.input, a.in);
  if (!spec.ok()) return Fail(spec.status());
  audit::DedupOptions opt = MakeDedupOptions(a);
  if (!a.shard.empty()) return RunDedupShard(*spec, opt, a);
  Result<audit::DedupResult> res = audit::Dedup(*spec, opt);
  EndProgress();
  if (!res.ok()) return Fail(res.status());
  return ReportDedup(g, a, *spec, opt, *res);
}

// Joins shard files into the report `audit dedup` gives on the whole input.
int RunMerge(const GlobalOptions& g, const MergeArgs& m) {
  Result<audit::MergedDedup> res = audit::MergeDedupShards(m.shards);
  if (!res.ok()) return Fail(res.status());
  WarnSkipped(res->result.input);
  DedupArgs a;
  a.input = res->input;
  return EmitDedup(g, a, res->options, res->result, std::nullopt, "");
}

int RunLeakage(const GlobalOptions& g, const LeakageArgs& a) {
  Result<audit::InputSpec> train = MakeSpec(a.train, a.in);
  if (!train.ok()) return Fail(train.status());
  Result<audit::InputSpec> test = MakeSpec(a.test, a.in);
  if (!test.ok()) return Fail(test.status());
  audit::LeakageOptions opt;
  opt.threshold = a.mh.threshold;
  opt.ngram = a.mh.ngram;
  opt.num_perm = a.mh.num_perm;
  opt.seed = a.mh.seed;
  opt.contamination_ngram = a.contamination_ngram;
  opt.progress = ProgressFn();
  Result<audit::LeakageResult> res = audit::FindLeakage(*train, *test, opt);
  EndProgress();
  if (!res.ok()) return Fail(res.status());
  const audit::LeakageResult& L = *res;
  WarnSkipped(L.train_input);
  WarnSkipped(L.test_input);
  if (g.format == "json") {
    nlohmann::ordered_json items = nlohmann::ordered_json::array();
    for (const audit::LeakageItem& it : L.items) {
      nlohmann::ordered_json o;
      o["id"] = it.id;
      o["leaked"] = it.leaked;
      o["kind"] = it.leaked ? nlohmann::ordered_json(it.kind) : nlohmann::ordered_json(nullptr);
      o["train_id"] = it.leaked ? nlohmann::ordered_json(it.train_id) : nlohmann::ordered_json(nullptr);
      o["overlap"] = it.overlap;
      items.push_back(o);
    }
    nlohmann::ordered_json s;
    s["test_items"] = L.items.size();
    s["leaked"] = L.leaked;
    s["contaminated_share"] = L.contaminated_share;
    s["exact"] = L.exact;
    s["near"] = L.near;
    s["ngram"] = L.ngram;
    s["train_documents"] = L.train_documents;
    s["train_records_skipped"] = L.train_input.skipped;
    s["test_records_skipped"] = L.test_input.skipped;
    s["threshold"] = opt.threshold;
    s["ngram_size"] = opt.ngram;
    s["contamination_ngram"] = opt.contamination_ngram;
    s["num_perm"] = opt.num_perm;
    s["seed"] = opt.seed;
    s["lsh_bands"] = L.lsh.bands;
    s["lsh_rows"] = L.lsh.rows;
    nlohmann::ordered_json out;
    out["items"] = items;
    out["summary"] = s;
    nlohmann::ordered_json skipped = SkippedJson(L.train_input);
    for (const auto& k : SkippedJson(L.test_input)) skipped.push_back(k);
    out["skipped"] = skipped;
    return EmitJson(out, g);
  }
  const bool human = Human(g);
  report::Report r;
  r.title = fmt::format("Leakage of {} into {}", a.test, a.train);
  r.AddField("test_items", "test items", static_cast<int64_t>(L.items.size()));
  r.AddField("train_documents", "training documents", L.train_documents);
  r.AddField("leaked", "leaked test items", L.leaked);
  r.AddField("contaminated_share_pct", "contaminated share (%)", 100 * L.contaminated_share, 2);
  r.AddField("exact", "exact duplicates in train", L.exact);
  r.AddField("near", fmt::format("near duplicates in train (Jaccard >= {})", opt.threshold), L.near);
  r.AddField("ngram", fmt::format("{}-gram overlap only", opt.contamination_ngram), L.ngram);
  r.AddField("records_skipped", "records skipped (train + test)", L.train_input.skipped + L.test_input.skipped);
  report::Table& t = r.AddTable("items", "Test items",
                                {{"id", "id"}, {"leaked", "leaked"}, {"kind", "kind"}, {"train_id", "train id"},
                                 {"overlap", "overlap", 3}, {"ngrams", "n-grams"}, {"ngrams_in_train", "in train"}});
  size_t shown_clean = 0;
  for (const audit::LeakageItem& it : L.items) {
    if (human && !it.leaked && shown_clean++ >= kHumanRows) continue;  // leaked items always listed
    t.rows.push_back({it.id, it.leaked, it.leaked ? report::Value(it.kind) : report::Value(),
                      it.leaked ? report::Value(it.train_id) : report::Value(), it.overlap, it.ngrams, it.ngrams_in_train});
  }
  audit::InputStats both = L.train_input;
  for (const auto& k : L.test_input.skipped_list) both.skipped_list.push_back(k);
  for (const auto& [k, n] : L.test_input.skipped_by_reason) both.skipped_by_reason[k] += n;
  both.skipped += L.test_input.skipped;
  AddSkippedTable(r, both, human);
  r.notes.push_back(fmt::format("contamination: a test item is dirty when any of its {}-word n-grams (after "
                                "normalisation) appears in the training set (Brown et al. 2020, GPT-3, appendix C); "
                                "overlap = share of its n-grams found (exact: 1, near: Jaccard)",
                                opt.contamination_ngram));
  if (human && shown_clean > kHumanRows) r.notes.push_back("clean items cut; --format json lists every item");
  return Emit(r, g);
}

int RunLabels(const GlobalOptions& g, const LabelsArgs& a) {
  if (a.in.label_field.empty()) return Fail(UsageError("audit labels: --label-field is required"));
  Result<audit::InputSpec> spec = MakeSpec(a.input, a.in);
  if (!spec.ok()) return Fail(spec.status());
  audit::DedupOptions opt;
  opt.threshold = a.mh.threshold;
  opt.ngram = a.mh.ngram;
  opt.num_perm = a.mh.num_perm;
  opt.seed = a.mh.seed;
  opt.progress = ProgressFn();
  audit::LabelOptions lopt;
  lopt.flood_min_size = a.flood_min_size;
  lopt.flood_factor = a.flood_factor;
  Result<audit::LabelAudit> res = audit::AuditLabels(*spec, opt, lopt);
  EndProgress();
  if (!res.ok()) return Fail(res.status());
  const audit::LabelAudit& L = *res;
  const audit::DedupResult& d = L.dedup;
  WarnSkipped(d.input);
  const bool human = Human(g);
  int64_t docs_in_conflict = 0;
  for (const auto& c : L.conflicts) docs_in_conflict += static_cast<int64_t>(d.clusters[c.cluster].size());
  report::Report r;
  r.title = fmt::format("Labels of {}", a.input);
  r.AddField("documents", "documents", d.documents);
  r.AddField("records_skipped", "records skipped", d.input.skipped);
  r.AddField("class_count", "classes", static_cast<int64_t>(L.classes.size()));
  r.AddField("imbalance_ratio", "largest / smallest class", L.imbalance_ratio, 2);
  r.AddField("clusters", "duplicate clusters", static_cast<int64_t>(d.clusters.size()));
  r.AddField("conflicting_clusters", "clusters with disagreeing labels", static_cast<int64_t>(L.conflicts.size()));
  r.AddField("documents_in_conflicts", "documents in them", docs_in_conflict);
  r.AddField("median_cluster_size", "median cluster size", L.median_cluster_size, 1);
  r.AddField("flood_size", "flood: clusters of at least", L.flood_size);
  r.AddField("flood_count", "floods", static_cast<int64_t>(L.floods.size()));
  report::Table& ct = r.AddTable("classes", "Class balance", {{"label", "label"}, {"count", "documents"}, {"share_pct", "%", 2}});
  for (const audit::ClassCount& c : L.classes) ct.rows.push_back({c.label, c.count, 100 * c.share});
  report::Table& kt = r.AddTable("conflicts", "Duplicate clusters whose labels disagree",
                                 {{"cluster", "cluster"}, {"size", "size"}, {"labels", "labels"}, {"majority", "majority"},
                                  {"member_ids", "members"}});
  for (const audit::LabelConflict& c : L.conflicts) {
    if (human && kt.rows.size() == kHumanRows) break;
    std::string labels, members;
    for (const auto& [l, n] : c.label_counts) labels += fmt::format("{}{}:{}", labels.empty() ? "" : " ", l, n);
    const auto& cl = d.clusters[c.cluster];
    for (size_t i = 0; i < cl.size(); ++i) {
      if (human && i == 10) {
        members += fmt::format(" ... (+{})", cl.size() - 10);
        break;
      }
      members += (i ? " " : "") + d.ids[cl[i]];
    }
    kt.rows.push_back({c.cluster, static_cast<int64_t>(cl.size()), labels, c.majority, members});
  }
  report::Table& ft = r.AddTable("floods", "Floods (unusually large duplicate clusters)",
                                 {{"cluster", "cluster"}, {"size", "size"}, {"kept_id", "kept"}, {"top_label", "top label"}});
  for (const audit::Flood& f : L.floods) {
    ft.rows.push_back({f.cluster, f.size, d.ids[d.clusters[f.cluster][0]], f.top_label});
  }
  AddSkippedTable(r, d.input, human);
  r.notes.push_back(fmt::format("flood rule: a duplicate cluster of at least max({}, {} x median cluster size) "
                                "documents (docs/audit.md)", lopt.flood_min_size, lopt.flood_factor));
  r.notes.push_back(fmt::format("clusters: exact and near duplicates (Jaccard >= {} of {}-word shingles)", opt.threshold,
                                opt.ngram));
  return Emit(r, g);
}

struct ManifestArgs {
  std::string dir;
  std::string verify;
};

int RunManifest(const GlobalOptions& g, const ManifestArgs& a) {
  Result<audit::Manifest> m = audit::BuildManifest(a.dir, a.verify.empty() ? g.out : a.verify);
  if (!m.ok()) return Fail(m.status());
  if (a.verify.empty()) {
    if (!g.out.empty()) {  // the manifest file is always JSON; a summary goes to stdout
      if (Status st = WriteTextFile(g.out, audit::ManifestToJson(*m), "--out"); !st.ok()) return Fail(st);
      int64_t bytes = 0;
      for (const auto& e : m->files) bytes += e.size_bytes;
      std::printf("dlcost: manifest of %zu files (%lld bytes) written to %s\n", m->files.size(),
                  static_cast<long long>(bytes), g.out.c_str());
      return 0;
    }
    if (g.format == "json") {
      std::string text = audit::ManifestToJson(*m);
      std::fwrite(text.data(), 1, text.size(), stdout);
      return 0;
    }
    report::Report r;
    r.title = fmt::format("Manifest of {}", a.dir);
    r.AddField("files", "files", static_cast<int64_t>(m->files.size()));
    report::Table& t = r.AddTable("entries", "Files", {{"path", "path"}, {"size_bytes", "bytes"}, {"sha256", "SHA-256"},
                                                       {"license", "license (SPDX)"}});
    for (const auto& e : m->files) {
      t.rows.push_back({e.path, e.size_bytes, e.sha256, e.license.empty() ? report::Value() : report::Value(e.license)});
    }
    r.notes.push_back("license: SPDX-License-Identifier lines, or key phrases of LICENSE/COPYING files (docs/audit.md)");
    return Emit(r, g);
  }
  Result<audit::Manifest> before = audit::ReadManifest(a.verify);
  if (!before.ok()) return Fail(before.status());
  std::vector<audit::ManifestChange> changes = audit::CompareManifests(*before, *m);
  int64_t added = 0, removed = 0, changed = 0;
  for (const auto& c : changes) {
    added += c.what == "added";
    removed += c.what == "removed";
    changed += c.what == "changed";
  }
  int code = 0;
  if (g.format == "json") {
    nlohmann::ordered_json out;
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const auto& c : changes) {
      nlohmann::ordered_json o;
      o["path"] = c.path;
      o["change"] = c.what;
      o["sha256_before"] = c.sha256_before.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.sha256_before);
      o["sha256_after"] = c.sha256_after.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.sha256_after);
      o["size_bytes_before"] = c.size_before < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.size_before);
      o["size_bytes_after"] = c.size_after < 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.size_after);
      arr.push_back(o);
    }
    out["changes"] = arr;
    nlohmann::ordered_json s;
    s["files_expected"] = before->files.size();
    s["files_found"] = m->files.size();
    s["added"] = added;
    s["removed"] = removed;
    s["changed"] = changed;
    s["ok"] = changes.empty();
    out["summary"] = s;
    code = EmitJson(out, g);
  } else {
    report::Report r;
    r.title = fmt::format("Verification of {} against {}", a.dir, a.verify);
    r.AddField("files_expected", "files in the manifest", static_cast<int64_t>(before->files.size()));
    r.AddField("files_found", "files found", static_cast<int64_t>(m->files.size()));
    r.AddField("added", "added", added);
    r.AddField("removed", "removed", removed);
    r.AddField("changed", "changed", changed);
    report::Table& t = r.AddTable("changes", "Changes", {{"path", "path"}, {"change", "change"},
                                                         {"sha256_before", "SHA-256 before"}, {"sha256_after", "SHA-256 after"}});
    for (const auto& c : changes) t.rows.push_back({c.path, c.what, c.sha256_before, c.sha256_after});
    code = Emit(r, g);
  }
  if (code != 0) return code;
  if (!changes.empty()) {
    return Fail(InvalidInput(fmt::format("{}: does not match {}: {} added, {} removed, {} changed", a.dir, a.verify,
                                         added, removed, changed)));
  }
  return 0;
}

}  // namespace

void RegisterAudit(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* audit = app.add_subcommand("audit", "Audit data: duplicates, train/test leakage, label conflicts, manifests");
  audit->require_subcommand(1);

  auto* dedup = audit->add_subcommand("dedup", "Exact and near-duplicate documents, and what they cost to train on");
  auto da = std::make_shared<DedupArgs>();
  dedup->add_option("input", da->input, "JSONL or CSV file (optionally .gz), or a folder of text files")->required();
  AddInputOptions(dedup, da->in);
  AddMinHashOptions(dedup, da->mh);
  dedup->add_option("--tokens-per-word", da->tokens_per_word, "Tokens per whitespace word (default 4/3)");
  dedup->add_option("--write-deduplicated", da->write_dedup, "Write the kept records to this file");
  dedup->add_option("--model", da->model, "Price the wasted tokens: model (zoo id or JSON)");
  dedup->add_option("--gpu", da->gpu, "Price the wasted tokens: GPU id");
  dedup->add_option("--gpus", da->gpus, "Price the wasted tokens: number of GPUs")->capture_default_str();
  dedup->add_option("--calibration", da->calibration, "Price the wasted tokens: efficiency profile JSON");
  dedup->add_option("--price-usd-per-gpu-hour", da->price, "Price per GPU-hour (default: cheapest shipped offer)");
  dedup->add_flag("--mpi", da->mpi, "Split the work over the ranks of `mpirun -n N` (needs a build with MPI)");
  dedup->add_option("--shard", da->shard, "I/N: handle only records with record number % N == I; needs --shard-out");
  dedup->add_option("--shard-out", da->shard_out, "Write this slice's signatures and shingle sets here (for audit merge)");
  AddOutputOptions(dedup, g);
  dedup->callback([&g, exit_code, da] { *exit_code = RunDedup(g, *da); });

  auto* merge = audit->add_subcommand("merge", "Join `audit dedup --shard` files into the report of the whole input");
  auto ma_shards = std::make_shared<MergeArgs>();
  merge->add_option("shards", ma_shards->shards, "Shard files, one per slice 0..N-1, in any order")->required();
  AddOutputOptions(merge, g);
  merge->callback([&g, exit_code, ma_shards] { *exit_code = RunMerge(g, *ma_shards); });

  auto* leak = audit->add_subcommand("leakage", "Test items duplicated in, or overlapping with, the training set");
  auto la = std::make_shared<LeakageArgs>();
  leak->add_option("--train", la->train, "Training set (JSONL, CSV, folder; optionally .gz)")->required();
  leak->add_option("--test", la->test, "Test set (JSONL, CSV, folder; optionally .gz)")->required();
  AddInputOptions(leak, la->in);
  AddMinHashOptions(leak, la->mh);
  leak->add_option("--contamination-ngram", la->contamination_ngram, "Words per contamination n-gram (GPT-3: 13)")
      ->capture_default_str();
  AddOutputOptions(leak, g);
  leak->callback([&g, exit_code, la] { *exit_code = RunLeakage(g, *la); });

  auto* labels = audit->add_subcommand("labels", "Duplicate groups with disagreeing labels, class balance, floods");
  auto ba = std::make_shared<LabelsArgs>();
  labels->add_option("input", ba->input, "JSONL or CSV file (optionally .gz)")->required();
  AddInputOptions(labels, ba->in);
  AddMinHashOptions(labels, ba->mh);
  labels->add_option("--flood-min-size", ba->flood_min_size, "Smallest cluster that can be a flood")->capture_default_str();
  labels->add_option("--flood-factor", ba->flood_factor, "Flood: at least this many times the median cluster size")
      ->capture_default_str();
  AddOutputOptions(labels, g);
  labels->callback([&g, exit_code, ba] { *exit_code = RunLabels(g, *ba); });

  auto* manifest = audit->add_subcommand("manifest", "SHA-256, size and license of every file; --verify finds tampering");
  auto ma = std::make_shared<ManifestArgs>();
  manifest->add_option("dir", ma->dir, "Folder to describe or verify")->required();
  manifest->add_option("--verify", ma->verify, "Compare with this manifest; exit 1 on any added, removed or changed file");
  AddOutputOptions(manifest, g);
  manifest->callback([&g, exit_code, ma] { *exit_code = RunManifest(g, *ma); });
}

}  // namespace dlcost::cli
