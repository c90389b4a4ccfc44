// dlcost audit dedup|merge|leakage|labels|manifest: duplicates (in one process, over MPI ranks,
// or in shards joined by merge), train/test leakage and contamination, label conflicts,
// manifests. The work is in include/dlcost/api_audit.h; method and sources: docs/audit.md.
#include <unistd.h>

#include <cstdio>
#include <utility>

#include "cli_common.h"
#include "cost_flags.h"
#include "dlcost/api_audit.h"
#ifdef DLCOST_WITH_MPI
#include "dlcost/audit_mpi.h"
#endif

namespace dlcost::cli {
namespace {

bool progress_shown = false;  // a progress line is on stderr and must be cleared

void EndProgress() {
  if (progress_shown) std::fprintf(stderr, "\r\033[K");
  progress_shown = false;
}

// Progress only on a terminal; warnings (skipped records) as soon as the library knows them.
api::AuditHooks Hooks() {
  api::AuditHooks h;
  if (isatty(fileno(stderr))) {
    h.progress = [](const char* stage, int64_t n) {
      progress_shown = true;
      std::fprintf(stderr, "\rdlcost audit: %s: %lld records", stage, static_cast<long long>(n));
    };
  }
  h.warning = [](const std::string& w) {
    EndProgress();
    std::fprintf(stderr, "dlcost: warning: %s\n", w.c_str());
  };
  return h;
}

// Formats people read get long tables cut.
bool Human(const GlobalOptions& g) { return g.format != "json" && g.format != "csv"; }

int EmitDedup(const GlobalOptions& g, const Result<api::AuditDedupResult>& r) {
  EndProgress();
  if (!r.ok()) return Fail(r.status());
  if (g.format == "json") return EmitText(api::AuditDedupJson(*r), g);
  return Emit(api::AuditDedupReport(*r, Human(g)), g);
}

// Calls `fn` with the catalogs when --model asks to price the wasted tokens, else with null:
// without --model no data folder is read.
template <typename Fn>
int WithPricingSession(const GlobalOptions& g, const api::AuditDedupRequest& a, Fn fn) {
  if (a.model.empty()) return fn(nullptr);
  Result<api::Session> s = OpenSession(g);
  return s.ok() ? fn(&*s) : Fail(s.status());
}

#ifdef DLCOST_WITH_MPI
// `audit dedup --mpi` on every rank of the job (docs/audit.md, "MPI"). Rank 0 prints what a
// one-process run prints; the other ranks print nothing but an error they hit themselves. Every
// rank exits with the same code.
int RunDedupMpi(const GlobalOptions& g, const api::AuditDedupRequest& a) {
  audit::MpiWorld world;
  const bool root = world.rank() == 0;
  // Argument errors are the same on every rank: rank 0 alone reports them.
  auto fail_everywhere = [root](const Status& s) { return root ? Fail(s) : ExitCodeFor(s); };
  Result<api::AuditDedupInput> in = api::PrepareAuditDedup(a);
  if (!in.ok()) return fail_everywhere(in.status());
  if (!a.shard.empty()) {
    return fail_everywhere(UsageError("--mpi and --shard: give one (--mpi splits the records over the MPI ranks itself)"));
  }
  if (!root) in->options.progress = nullptr;
  bool mine = false;
  Result<audit::DedupResult> found = audit::DedupMpi(world, in->input, in->options, &mine);
  EndProgress();
  if (!found.ok()) return mine ? Fail(found.status()) : ExitCodeFor(found.status());
  int code = !root ? 0 : WithPricingSession(g, a, [&](const api::Session* s) {
    return EmitDedup(g, api::FinishAuditDedup(s, a, *in, std::move(*found)));
  });
  return world.BroadcastFromRoot(code);
}
#else
int RunDedupMpi(const GlobalOptions&, const api::AuditDedupRequest&) {
  return Fail(Unavailable("audit dedup --mpi: this dlcost was built without MPI (install libopenmpi-dev and "
                          "openmpi-bin, then rebuild)"));
}
#endif

int RunDedup(const GlobalOptions& g, api::AuditDedupRequest& a, bool mpi) {
  a.hooks = Hooks();
  if (mpi) return RunDedupMpi(g, a);
  if (a.shard.empty()) {
    return WithPricingSession(g, a, [&](const api::Session* s) { return EmitDedup(g, api::AuditDedup(s, a)); });
  }
  Result<api::AuditShardResult> r = api::AuditDedupShard(a);
  EndProgress();
  if (!r.ok()) return Fail(r.status());
  std::printf("dlcost: shard %lld/%lld: %lld documents written to %s\n", static_cast<long long>(r->shard.index),
              static_cast<long long>(r->shard.count), static_cast<long long>(r->documents), r->shard_out.c_str());
  return 0;
}

// `audit leakage --fail-on`: the exit code of a check that found a problem (as drift's 5).
constexpr int kExitCheckFailed = 5;

int RunLeakage(const GlobalOptions& g, api::AuditLeakageRequest& a) {
  a.hooks = Hooks();
  Result<api::AuditLeakageResult> r = api::AuditLeakage(a);
  EndProgress();
  if (!r.ok()) return Fail(r.status());
  int rc = g.format == "json" ? EmitText(api::AuditLeakageJson(*r), g) : Emit(api::AuditLeakageReport(*r, Human(g)), g);
  return rc == 0 && r->failed ? kExitCheckFailed : rc;
}

int RunLabels(const GlobalOptions& g, api::AuditLabelsRequest& a) {
  a.hooks = Hooks();
  Result<api::AuditLabelsResult> r = api::AuditLabels(a);
  EndProgress();
  return r.ok() ? Emit(api::AuditLabelsReport(*r, Human(g)), g) : Fail(r.status());
}

int RunManifest(const GlobalOptions& g, api::AuditManifestRequest& a) {
  a.out = g.out;
  Result<api::AuditManifestResult> r = api::AuditManifest(a);
  if (!r.ok()) return Fail(r.status());
  if (a.verify.empty() && !g.out.empty()) {  // the manifest file is always JSON; a summary goes to stdout
    if (Status st = WriteOut(g, api::AuditManifestJson(*r)); !st.ok()) return Fail(st);
    std::printf("dlcost: manifest of %zu files (%lld bytes) written to %s\n", r->manifest.files.size(),
                static_cast<long long>(r->total_bytes), g.out.c_str());
    return 0;
  }
  int code = g.format == "json" ? EmitText(api::AuditManifestJson(*r), g) : Emit(api::AuditManifestReport(*r), g);
  if (code != 0) return code;
  Status verdict = api::AuditManifestVerdict(*r);
  return verdict.ok() ? 0 : Fail(verdict);
}

void AddInputOptions(CLI::App* cmd, api::AuditInputFlags& a) {
  cmd->add_option("--input-format", a.input_format, "auto (by extension; a folder), jsonl, csv, dir")->capture_default_str();
  cmd->add_option("--text-field", a.text_field, "JSON key or CSV column holding the text")->capture_default_str();
  cmd->add_option("--id-field", a.id_field, "JSON key or CSV column holding the id (default: record number)");
  cmd->add_option("--label-field", a.label_field, "JSON key or CSV column holding the label");
  cmd->add_option("--max-record-bytes", a.max_record_bytes, "Skip records larger than this")->capture_default_str();
}

void AddMinHashOptions(CLI::App* cmd, api::MinHashFlags& a) {
  cmd->add_option("--threshold", a.threshold, "Jaccard similarity of word n-gram sets, in (0, 1]")->capture_default_str();
  cmd->add_option("--ngram", a.ngram, "Words per shingle")->capture_default_str();
  cmd->add_option("--num-perm", a.num_perm, "MinHash permutations")->capture_default_str();
  cmd->add_option("--seed", a.seed, "Seed of the MinHash permutations")->capture_default_str();
}

void RegisterDedup(CLI::App* audit, GlobalOptions& g, int* exit_code) {
  auto* dedup = audit->add_subcommand("dedup", "Exact and near-duplicate documents, and what they cost to train on");
  auto f = std::make_shared<std::pair<api::AuditDedupRequest, bool>>();  // the request and --mpi
  api::AuditDedupRequest& a = f->first;
  dedup->add_option("input", a.input, "JSONL or CSV file (optionally .gz), or a folder of text files")->required();
  AddInputOptions(dedup, a.in);
  AddMinHashOptions(dedup, a.minhash);
  dedup->add_option("--tokens-per-word", a.tokens_per_word, "Tokens per whitespace word (default 4/3)");
  dedup->add_option("--write-deduplicated", a.write_deduplicated, "Write the kept records to this file");
  dedup->add_option("--model", a.model, "Price the wasted tokens: model (zoo id or JSON)");
  dedup->add_option("--gpu", a.gpu, "Price the wasted tokens: GPU id");
  dedup->add_option("--gpus", a.gpus, "Price the wasted tokens: number of GPUs")->capture_default_str();
  dedup->add_option("--calibration", a.calibration, "Price the wasted tokens: efficiency profile JSON");
  AddCostOptions(dedup, &a.cost);  // --price-usd-per-gpu-hour, --offer, --region, --pue, --gpu-power-w
  dedup->add_flag("--mpi", f->second, "Split the work over the ranks of `mpirun -n N` (needs a build with MPI)");
  dedup->add_option("--shard", a.shard, "I/N: handle only records with record number % N == I; needs --shard-out");
  dedup->add_option("--shard-out", a.shard_out, "Write this slice's signatures and shingle sets here (for audit merge)");
  AddOutputOptions(dedup, g);
  dedup->callback([&g, exit_code, f] { *exit_code = RunDedup(g, f->first, f->second); });
}

}  // namespace

void RegisterAudit(CLI::App& app, GlobalOptions& g, int* exit_code) {
  auto* audit = app.add_subcommand("audit", "Audit data: duplicates, train/test leakage, label conflicts, manifests");
  audit->require_subcommand(1);
  RegisterDedup(audit, g, exit_code);

  auto* merge = audit->add_subcommand("merge", "Join `audit dedup --shard` files into the report of the whole input");
  auto ma = std::make_shared<api::AuditMergeRequest>();
  merge->add_option("shards", ma->shards, "Shard files, one per slice 0..N-1, in any order")->required();
  AddOutputOptions(merge, g);
  merge->callback([&g, exit_code, ma] {
    ma->hooks = Hooks();
    *exit_code = EmitDedup(g, api::AuditMerge(*ma));
  });

  auto* leak = audit->add_subcommand("leakage", "Test items duplicated in, or overlapping with, the training set");
  auto la = std::make_shared<api::AuditLeakageRequest>();
  leak->add_option("--train", la->train, "Training set (JSONL, CSV, folder; optionally .gz)")->required();
  leak->add_option("--test", la->test, "Test set (JSONL, CSV, folder; optionally .gz)")->required();
  AddInputOptions(leak, la->in);
  AddMinHashOptions(leak, la->minhash);
  leak->add_option("--contamination-ngram", la->contamination_ngram, "Words per contamination n-gram (GPT-3: 13)")
      ->capture_default_str();
  TypedAs<double>(leak->add_option("--fail-on", la->fail_on_pct,
                                   "Exit 5 when at least this percentage of the test items leaked (for CI; e.g. 0 fails on any)"));
  AddOutputOptions(leak, g);
  leak->callback([&g, exit_code, la] { *exit_code = RunLeakage(g, *la); });

  auto* labels = audit->add_subcommand("labels", "Duplicate groups with disagreeing labels, class balance, floods");
  auto ba = std::make_shared<api::AuditLabelsRequest>();
  labels->add_option("input", ba->input, "JSONL or CSV file (optionally .gz)")->required();
  AddInputOptions(labels, ba->in);
  AddMinHashOptions(labels, ba->minhash);
  labels->add_option("--flood-min-size", ba->flood_min_size, "Smallest cluster that can be a flood")->capture_default_str();
  labels->add_option("--flood-factor", ba->flood_factor, "Flood: at least this many times the median cluster size")
      ->capture_default_str();
  AddOutputOptions(labels, g);
  labels->callback([&g, exit_code, ba] { *exit_code = RunLabels(g, *ba); });

  auto* manifest = audit->add_subcommand("manifest", "SHA-256, size and license of every file; --verify finds tampering");
  auto mf = std::make_shared<api::AuditManifestRequest>();
  manifest->add_option("dir", mf->dir, "Folder to describe or verify")->required();
  manifest->add_option("--verify", mf->verify, "Compare with this manifest; exit 1 on any added, removed or changed file");
  AddOutputOptions(manifest, g);
  manifest->callback([&g, exit_code, mf] { *exit_code = RunManifest(g, *mf); });
}

}  // namespace dlcost::cli
