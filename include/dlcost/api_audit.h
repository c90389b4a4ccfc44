// `audit` as library calls: duplicates (in one process, as shards joined by a merge, or found
// by the caller, e.g. over MPI ranks), train/test leakage, label conflicts and manifests, each
// one call that returns a typed result and one function that makes the record the CLI prints
// (or, where the output is an exact JSON contract, renders that JSON). Method: docs/audit.md.
//
//   api::AuditDedupRequest req;
//   req.input = "corpus.jsonl.gz"; req.in.id_field = "id";
//   req.model = "llama-3-8b"; req.gpu = "h100"; req.cost.price = "2";  // optional pricing
//   DLCOST_ASSIGN_OR_RETURN(api::AuditDedupResult r, api::AuditDedup(&session, req));
//   r.found.exact_duplicates, r.found.tokens_wasted, r.waste->usd ...
//   std::string json = api::AuditDedupJson(r);
//   std::string text = report::Render(api::AuditDedupReport(r, true), report::Format::kTable);
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dlcost/api_session.h"
#include "dlcost/audit.h"
#include "dlcost/report.h"

namespace dlcost::api {

// Fields are the values of the CLI flags of the same name (`id_field` is --id-field). Numbers
// are typed as the CLI parses them: none of these flags takes a suffix such as "1T".

// How records are read (--input-format, --text-field, --id-field, --label-field,
// --max-record-bytes).
struct AuditInputFlags {
  std::string input_format = "auto";
  std::string text_field = "text";
  std::string id_field;
  std::string label_field;
  int64_t max_record_bytes = int64_t{16} << 20;
};

// Near-duplicate detection (--threshold, --ngram, --num-perm, --seed).
struct MinHashFlags {
  double threshold = 0.8;
  int ngram = 5;
  int num_perm = 256;
  uint64_t seed = 1;
};

// What a long audit reports while it runs; each callback may be empty.
struct AuditHooks {
  // Records read so far in `stage`, from time to time while an input is read.
  std::function<void(const char* stage, int64_t records)> progress;
  // Each warning as soon as it is known, before anything later can fail: skipped records, the
  // first ten of an input by name ("skipped FILE:LINE: REASON"), then their count.
  std::function<void(const std::string& warning)> warning;
};

struct AuditDedupRequest {
  std::string input;  // JSONL or CSV file (optionally .gz), or a folder of text files
  AuditInputFlags in;
  MinHashFlags minhash;
  double tokens_per_word = audit::kTokensPerWord;
  std::string write_deduplicated;  // write the kept records here; empty: do not
  // Pricing the wasted tokens: give model and gpu together, or neither.
  std::string model, gpu, calibration;
  int64_t gpus = 8;
  CostRequest cost;  // price, offer, region, PUE and power, as for `train`
  // --shard I/N --shard-out FILE: one slice's features for `audit merge` (AuditDedupShard).
  std::string shard, shard_out;
  AuditHooks hooks;
};

// What training on the wasted tokens costs: one epoch of them on `num_gpus` x `gpu`.
struct WastedTokenCost {
  std::string model, gpu;
  int64_t num_gpus = 0;
  double gpu_hours = 0;
  std::optional<double> usd;  // empty when no price is known
  double energy_kwh = 0;
  double co2_kg = 0;
  std::vector<std::string> notes;  // where the price comes from, and what was assumed
};

struct AuditDedupResult {
  std::string input;  // the path audited (for a merge: the path the shards name)
  audit::DedupOptions options;
  audit::DedupResult found;
  std::optional<WastedTokenCost> waste;  // set when priced
  std::string waste_note;          // why the tokens were not priced (the model does not fit), or empty
  std::string write_deduplicated;  // where the kept records were written, or empty
};

// A request checked and parsed: what to read and how (for callers that find the duplicates
// themselves, such as `audit dedup --mpi`).
struct AuditDedupInput {
  audit::InputSpec input;
  audit::DedupOptions options;  // options.progress is req.hooks.progress
};

// Checks the flags of `req` (UsageError naming them) and parses its input flags.
Result<AuditDedupInput> PrepareAuditDedup(const AuditDedupRequest& req);

// Finds the duplicates of req.input in this process, writes the kept records when asked and
// prices the wasted tokens when req.model is set, with the catalogs of `session` (which may be
// null when req.model is empty: then no data folder is read). A model that does not fit is no
// error: the result says why in waste_note. req.shard must be empty (AuditDedupShard).
Result<AuditDedupResult> AuditDedup(const Session* session, const AuditDedupRequest& req);

// What AuditDedup does once the duplicates of `in` are `found`: warns of skipped records,
// writes the kept records, prices the wasted tokens (`session` as for AuditDedup).
Result<AuditDedupResult> FinishAuditDedup(const Session* session, const AuditDedupRequest& req,
                                          const AuditDedupInput& in, audit::DedupResult found);

// The cost of one epoch of `tokens` on req.gpus x req.gpu training req.model with the layout
// `dlcost train` would choose, priced by req.cost. Infeasible when the model does not fit.
Result<WastedTokenCost> PriceWastedTokens(const Session& session, const AuditDedupRequest& req, double tokens);

struct AuditShardResult {
  audit::ShardSpec shard;
  int64_t documents = 0;  // documents written
  std::string shard_out;
};

// Writes the features of slice req.shard of req.input to req.shard_out (for AuditMerge).
// UsageError when a flag that applies to a whole run is given.
Result<AuditShardResult> AuditDedupShard(const AuditDedupRequest& req);

struct AuditMergeRequest {
  std::vector<std::string> shards;  // shard files, one per slice 0..N-1, in any order
  AuditHooks hooks;
};

// Joins the shard files into the result AuditDedup gives on the whole input (no pricing, no
// kept records written). InvalidInput naming the file on a mismatch or a missing slice.
Result<AuditDedupResult> AuditMerge(const AuditMergeRequest& req);

// The record `audit dedup` and `audit merge` print in every format but JSON. `cut_lists`:
// long tables stop at 50 rows, for formats people read (table, Markdown, HTML).
report::Report AuditDedupReport(const AuditDedupResult& r, bool cut_lists);
// The JSON `audit dedup --format json` prints (clusters, pairs, summary, LSH curve, skipped).
std::string AuditDedupJson(const AuditDedupResult& r);

struct AuditLeakageRequest {
  std::string train, test;  // JSONL, CSV or folder, optionally .gz
  AuditInputFlags in;
  MinHashFlags minhash;
  int contamination_ngram = 13;  // Brown et al. 2020 (GPT-3), appendix C
  // --fail-on PCT: the run fails (AuditLeakageResult::failed) when an item leaked and at least
  // this share of the test items, in percent, did; empty: never.
  std::optional<double> fail_on_pct;
  AuditHooks hooks;
};

struct AuditLeakageResult {
  std::string train, test;
  audit::LeakageOptions options;
  audit::LeakageResult found;
  std::optional<double> fail_on_pct;
  bool failed = false;  // leaked share >= fail_on_pct: `audit leakage` exits 5
};

// Finds test items duplicated in, or sharing an n-gram with, the training set.
Result<AuditLeakageResult> AuditLeakage(const AuditLeakageRequest& req);
// The record `audit leakage` prints (every leaked item; clean items cut when `cut_lists`).
report::Report AuditLeakageReport(const AuditLeakageResult& r, bool cut_lists);
// The JSON `audit leakage --format json` prints (items, summary, skipped).
std::string AuditLeakageJson(const AuditLeakageResult& r);

struct AuditLabelsRequest {
  std::string input;  // JSONL or CSV, optionally .gz
  AuditInputFlags in;  // in.label_field is required
  MinHashFlags minhash;
  int64_t flood_min_size = 10;
  double flood_factor = 10;
  AuditHooks hooks;
};

struct AuditLabelsResult {
  std::string input;
  audit::DedupOptions dedup_options;
  audit::LabelOptions label_options;
  audit::LabelAudit found;
};

// Duplicate clusters whose labels disagree, class balance and floods. UsageError without
// --label-field.
Result<AuditLabelsResult> AuditLabels(const AuditLabelsRequest& req);
// The record `audit labels` prints in every format.
report::Report AuditLabelsReport(const AuditLabelsResult& r, bool cut_lists);

struct AuditManifestRequest {
  std::string dir;     // the folder described or verified
  std::string verify;  // compare with this manifest file; empty: describe `dir`
  std::string out;     // --out: the manifest file being written, left out of the hashing
};

struct AuditManifestResult {
  std::string dir, verify;
  audit::Manifest manifest;  // of `dir` now
  int64_t total_bytes = 0;   // of every file in `manifest`
  // With --verify: the manifest read, and every file added, removed or changed since.
  audit::Manifest before;
  std::vector<audit::ManifestChange> changes;
  int64_t added = 0, removed = 0, changed = 0;
};

// Hashes every file under req.dir and, with req.verify, compares them with that manifest.
Result<AuditManifestResult> AuditManifest(const AuditManifestRequest& req);
// Ok unless --verify found a change: then InvalidInput naming the folder, the manifest and the counts.
Status AuditManifestVerdict(const AuditManifestResult& r);
// The record `audit manifest` prints: the files, or with --verify the changes.
report::Report AuditManifestReport(const AuditManifestResult& r);
// The manifest file (always JSON), or with --verify the JSON of the changes.
std::string AuditManifestJson(const AuditManifestResult& r);

}  // namespace dlcost::api
