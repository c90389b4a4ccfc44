// The record and the JSON of `audit dedup` and `audit merge`.
#include <fmt/format.h>

#include "api/audit_common.h"
#include "dlcost/api_audit.h"

namespace dlcost::api {
namespace {

using Json = nlohmann::ordered_json;

// Jaccard similarities at which the LSH candidate probability is listed.
const double kCurvePoints[] = {0.3, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0};

int64_t Removed(const audit::DedupResult& d) { return d.exact_duplicates + d.near_duplicates; }

int64_t NearPairs(const audit::DedupResult& d) {
  int64_t n = 0;
  for (const audit::DuplicatePair& p : d.pairs) n += p.exact ? 0 : 1;
  return n;
}

Json ClustersJson(const audit::DedupResult& d) {
  Json clusters = Json::array();
  for (const auto& c : d.clusters) {
    Json ids = Json::array();
    for (int64_t doc : c) ids.push_back(d.ids[doc]);
    clusters.push_back(ids);
  }
  return clusters;
}

Json PairsJson(const audit::DedupResult& d) {
  Json pairs = Json::array();
  for (const audit::DuplicatePair& p : d.pairs) {
    Json o;
    o["a"] = d.ids[p.a];
    o["b"] = d.ids[p.b];
    o["jaccard"] = p.jaccard;
    o["kind"] = p.exact ? "exact" : "near";
    pairs.push_back(o);
  }
  return pairs;
}

Json SummaryJson(const AuditDedupResult& r) {
  const audit::DedupResult& d = r.found;
  const audit::DedupOptions& opt = r.options;
  Json s;
  s["documents"] = d.documents;
  s["exact_duplicates"] = d.exact_duplicates;
  s["near_duplicates"] = d.near_duplicates;
  s["duplicates_removed"] = Removed(d);
  s["kept"] = d.documents - Removed(d);
  s["clusters"] = d.clusters.size();
  s["candidate_pairs"] = d.candidate_pairs;
  s["near_pairs"] = NearPairs(d);
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
  if (r.waste) {
    s["model"] = r.waste->model;
    s["gpu"] = r.waste->gpu;
    s["num_gpus"] = r.waste->num_gpus;
    s["wasted_gpu_hours"] = r.waste->gpu_hours;
    s["wasted_usd"] = r.waste->usd ? Json(*r.waste->usd) : Json(nullptr);
    s["wasted_energy_kwh"] = r.waste->energy_kwh;
    s["wasted_co2_kg"] = r.waste->co2_kg;
  }
  return s;
}

void AddDedupFields(const AuditDedupResult& res, report::Report& r) {
  const audit::DedupResult& d = res.found;
  r.AddField("documents", "documents", d.documents);
  r.AddField("records_skipped", "records skipped", d.input.skipped);
  r.AddField("exact_duplicates", "exact duplicates", d.exact_duplicates);
  r.AddField("near_duplicates", "near duplicates (beyond exact)", d.near_duplicates);
  r.AddField("duplicates_removed", "documents removed", Removed(d));
  r.AddField("kept", "documents kept", d.documents - Removed(d));
  r.AddField("clusters", "duplicate clusters", static_cast<int64_t>(d.clusters.size()));
  r.AddField("candidate_pairs", "LSH candidate pairs verified", d.candidate_pairs);
  r.AddField("near_pairs", "near-duplicate pairs (exact Jaccard)", NearPairs(d));
  r.AddField("lsh", "LSH bands x rows", fmt::format("{} x {} (recall at {} = {:.4f})", d.lsh.bands, d.lsh.rows,
                                                     res.options.threshold, d.lsh.recall_at_threshold));
  r.AddField("words_wasted", "duplicate words", d.words_wasted);
  r.AddField("tokens_wasted", "duplicate tokens (estimated)", d.tokens_wasted, 0);
  r.AddField("bytes_wasted", "duplicate bytes", d.bytes_wasted);
  r.AddField("wasted_share_pct", "share of tokens wasted (%)",
             d.words_total > 0 ? 100.0 * static_cast<double>(d.words_wasted) / static_cast<double>(d.words_total) : 0.0, 2);
  if (const auto& w = res.waste) {
    r.AddField("wasted_gpu_hours", fmt::format("GPU-hours to train on them ({})", w->model), w->gpu_hours, 1);
    r.AddField("wasted_usd", "cost ($)", w->usd ? report::Value(*w->usd) : report::Value(), 0);
    r.AddField("wasted_energy_kwh", "energy (kWh)", w->energy_kwh, 1);
    r.AddField("wasted_co2_kg", "CO2e (kg)", w->co2_kg, 1);
  }
}

void AddDedupTables(const audit::DedupResult& d, bool cut, report::Report& r) {
  report::Table& curve = r.AddTable("lsh_curve", "LSH candidate probability 1-(1-s^r)^b by Jaccard s",
                                    {{"jaccard", "Jaccard", 2}, {"candidate_probability", "P(candidate)", 4}});
  for (double x : kCurvePoints) curve.rows.push_back({x, audit::LshCandidateProbability(x, d.lsh.bands, d.lsh.rows)});
  report::Table& ct = r.AddTable("clusters", "Duplicate clusters (first document kept)",
                                 {{"cluster", "cluster"}, {"size", "size"}, {"kept_id", "kept"}, {"member_ids", "members"}});
  for (size_t c = 0; c < d.clusters.size(); ++c) {
    if (cut && c == kAuditListRows) break;
    ct.rows.push_back({static_cast<int64_t>(c), static_cast<int64_t>(d.clusters[c].size()), d.ids[d.clusters[c][0]],
                       ClusterMembers(d, d.clusters[c], cut)});
  }
  report::Table& pt = r.AddTable("pairs", "Verified pairs",
                                 {{"a", "a"}, {"b", "b"}, {"jaccard", "Jaccard", 3}, {"kind", "kind"}});
  for (const audit::DuplicatePair& p : d.pairs) {
    if (cut && pt.rows.size() == kAuditListRows) break;
    pt.rows.push_back({d.ids[p.a], d.ids[p.b], p.jaccard, std::string(p.exact ? "exact" : "near")});
  }
  AddSkippedTable(r, d.input, cut);
}

}  // namespace

report::Report AuditDedupReport(const AuditDedupResult& res, bool cut_lists) {
  const audit::DedupResult& d = res.found;
  const audit::DedupOptions& opt = res.options;
  report::Report r;
  r.title = fmt::format("Duplicates in {}", res.input);
  AddDedupFields(res, r);
  AddDedupTables(d, cut_lists, r);
  if (cut_lists && (d.clusters.size() > kAuditListRows || d.pairs.size() > kAuditListRows)) {
    r.notes.push_back(fmt::format("tables cut at {} rows; --format json or csv lists everything", kAuditListRows));
  }
  r.notes.push_back(fmt::format("near duplicates: Jaccard >= {} of {}-word shingle sets after normalisation; every LSH "
                                "candidate verified exactly (docs/audit.md)", opt.threshold, opt.ngram));
  r.notes.push_back(fmt::format("tokens = whitespace words x {:.3f} (OpenAI rule of thumb: a token is about 3/4 of a "
                                "word); set --tokens-per-word for your tokenizer", opt.tokens_per_word));
  if (res.waste) {
    for (const std::string& n : res.waste->notes) r.notes.push_back(n);
  }
  if (!res.waste_note.empty()) r.notes.push_back(res.waste_note);
  if (!res.write_deduplicated.empty()) {
    r.notes.push_back(fmt::format("kept documents written to {}", res.write_deduplicated));
  }
  return r;
}

std::string AuditDedupJson(const AuditDedupResult& r) {
  const audit::DedupResult& d = r.found;
  Json out;
  out["clusters"] = ClustersJson(d);
  out["pairs"] = PairsJson(d);
  out["summary"] = SummaryJson(r);
  Json curve = Json::array();
  for (double x : kCurvePoints) {
    Json p;
    p["jaccard"] = x;
    p["candidate_probability"] = audit::LshCandidateProbability(x, d.lsh.bands, d.lsh.rows);
    curve.push_back(p);
  }
  out["lsh_curve"] = curve;
  out["skipped"] = SkippedJson(d.input);
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace dlcost::api
