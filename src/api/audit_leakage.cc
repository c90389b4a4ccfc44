// audit leakage: test items duplicated in, or sharing an n-gram with, the training set.
#include <fmt/format.h>

#include "api/audit_common.h"
#include "dlcost/api_audit.h"

namespace dlcost::api {
namespace {

using Json = nlohmann::ordered_json;

// The skipped records of both inputs, train first, as one list.
audit::InputStats BothInputs(const audit::LeakageResult& L) {
  audit::InputStats both = L.train_input;
  for (const auto& k : L.test_input.skipped_list) both.skipped_list.push_back(k);
  for (const auto& [k, n] : L.test_input.skipped_by_reason) both.skipped_by_reason[k] += n;
  both.skipped += L.test_input.skipped;
  return both;
}

}  // namespace

Result<AuditLeakageResult> AuditLeakage(const AuditLeakageRequest& req) {
  if (req.fail_on_pct && !(*req.fail_on_pct >= 0 && *req.fail_on_pct <= 100)) {
    return InvalidInput("--fail-on: must be a percentage between 0 and 100").WithField("--fail-on");
  }
  DLCOST_ASSIGN_OR_RETURN(audit::InputSpec train, MakeInputSpec(req.train, req.in));
  DLCOST_ASSIGN_OR_RETURN(audit::InputSpec test, MakeInputSpec(req.test, req.in));
  AuditLeakageResult r;
  r.train = req.train;
  r.test = req.test;
  r.options.threshold = req.minhash.threshold;
  r.options.ngram = req.minhash.ngram;
  r.options.num_perm = req.minhash.num_perm;
  r.options.seed = req.minhash.seed;
  r.options.contamination_ngram = req.contamination_ngram;
  r.options.progress = req.hooks.progress;
  DLCOST_ASSIGN_OR_RETURN(r.found, audit::FindLeakage(train, test, r.options));
  WarnSkipped(req.hooks, r.found.train_input);
  WarnSkipped(req.hooks, r.found.test_input);
  r.fail_on_pct = req.fail_on_pct;
  // At least one leaked item and at least the given share: --fail-on 0 fails on any leak.
  r.failed = req.fail_on_pct && r.found.leaked > 0 && 100 * r.found.contaminated_share >= *req.fail_on_pct;
  return r;
}

report::Report AuditLeakageReport(const AuditLeakageResult& res, bool cut_lists) {
  const audit::LeakageResult& L = res.found;
  const audit::LeakageOptions& opt = res.options;
  report::Report r;
  r.title = fmt::format("Leakage of {} into {}", res.test, res.train);
  r.AddField("test_items", "test items", static_cast<int64_t>(L.items.size()));
  r.AddField("train_documents", "training documents", L.train_documents);
  r.AddField("leaked", "leaked test items", L.leaked);
  r.AddField("contaminated_share_pct", "contaminated share (%)", 100 * L.contaminated_share, 2);
  r.AddField("exact", "exact duplicates in train", L.exact);
  r.AddField("near", fmt::format("near duplicates in train (Jaccard >= {})", opt.threshold), L.near);
  r.AddField("ngram", fmt::format("{}-gram overlap only", opt.contamination_ngram), L.ngram);
  r.AddField("records_skipped", "records skipped (train + test)", L.train_input.skipped + L.test_input.skipped);
  if (res.fail_on_pct) {
    r.AddField("fail_on_pct", "fails at a leaked share of (%)", *res.fail_on_pct, 2);
    r.AddField("failed", "failed (exit 5)", res.failed);
  }
  report::Table& t = r.AddTable("items", "Test items",
                                {{"id", "id"}, {"leaked", "leaked"}, {"kind", "kind"}, {"train_id", "train id"},
                                 {"overlap", "overlap", 3}, {"ngrams", "n-grams"}, {"ngrams_in_train", "in train"}});
  size_t shown_clean = 0;
  for (const audit::LeakageItem& it : L.items) {
    if (cut_lists && !it.leaked && shown_clean++ >= kAuditListRows) continue;  // leaked items always listed
    t.rows.push_back({it.id, it.leaked, it.leaked ? report::Value(it.kind) : report::Value(),
                      it.leaked ? report::Value(it.train_id) : report::Value(), it.overlap, it.ngrams, it.ngrams_in_train});
  }
  AddSkippedTable(r, BothInputs(L), cut_lists);
  r.notes.push_back(fmt::format("contamination: a test item is dirty when any of its {}-word n-grams (after "
                                "normalisation) appears in the training set (Brown et al. 2020, GPT-3, appendix C); "
                                "overlap = share of its n-grams found (exact: 1, near: Jaccard)",
                                opt.contamination_ngram));
  if (cut_lists && shown_clean > kAuditListRows) r.notes.push_back("clean items cut; --format json lists every item");
  return r;
}

std::string AuditLeakageJson(const AuditLeakageResult& res) {
  const audit::LeakageResult& L = res.found;
  const audit::LeakageOptions& opt = res.options;
  Json items = Json::array();
  for (const audit::LeakageItem& it : L.items) {
    Json o;
    o["id"] = it.id;
    o["leaked"] = it.leaked;
    o["kind"] = it.leaked ? Json(it.kind) : Json(nullptr);
    o["train_id"] = it.leaked ? Json(it.train_id) : Json(nullptr);
    o["overlap"] = it.overlap;
    items.push_back(o);
  }
  Json s;
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
  if (res.fail_on_pct) {
    s["fail_on_pct"] = *res.fail_on_pct;
    s["failed"] = res.failed;
  }
  Json out;
  out["items"] = items;
  out["summary"] = s;
  Json skipped = SkippedJson(L.train_input);
  for (const auto& k : SkippedJson(L.test_input)) skipped.push_back(k);
  out["skipped"] = skipped;
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace dlcost::api
