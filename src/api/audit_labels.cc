// audit labels: duplicate clusters whose labels disagree, class balance and floods.
#include <fmt/format.h>

#include "api/audit_common.h"
#include "dlcost/api_audit.h"

namespace dlcost::api {

Result<AuditLabelsResult> AuditLabels(const AuditLabelsRequest& req) {
  if (req.in.label_field.empty()) return UsageError("audit labels: --label-field is required");
  DLCOST_ASSIGN_OR_RETURN(audit::InputSpec spec, MakeInputSpec(req.input, req.in));
  AuditLabelsResult r;
  r.input = req.input;
  r.dedup_options = MakeDedupOptions(req.minhash, req.hooks);
  r.label_options.flood_min_size = req.flood_min_size;
  r.label_options.flood_factor = req.flood_factor;
  DLCOST_ASSIGN_OR_RETURN(r.found, audit::AuditLabels(spec, r.dedup_options, r.label_options));
  WarnSkipped(req.hooks, r.found.dedup.input);
  return r;
}

namespace {

void AddLabelFields(const audit::LabelAudit& L, report::Report& r) {
  const audit::DedupResult& d = L.dedup;
  int64_t docs_in_conflict = 0;
  for (const auto& c : L.conflicts) docs_in_conflict += static_cast<int64_t>(d.clusters[c.cluster].size());
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
}

void AddLabelTables(const audit::LabelAudit& L, bool cut, report::Report& r) {
  const audit::DedupResult& d = L.dedup;
  report::Table& ct = r.AddTable("classes", "Class balance", {{"label", "label"}, {"count", "documents"}, {"share_pct", "%", 2}});
  for (const audit::ClassCount& c : L.classes) ct.rows.push_back({c.label, c.count, 100 * c.share});
  report::Table& kt = r.AddTable("conflicts", "Duplicate clusters whose labels disagree",
                                 {{"cluster", "cluster"}, {"size", "size"}, {"labels", "labels"}, {"majority", "majority"},
                                  {"member_ids", "members"}});
  for (const audit::LabelConflict& c : L.conflicts) {
    if (cut && kt.rows.size() == kAuditListRows) break;
    std::string labels;
    for (const auto& [l, n] : c.label_counts) labels += fmt::format("{}{}:{}", labels.empty() ? "" : " ", l, n);
    const auto& cl = d.clusters[c.cluster];
    kt.rows.push_back({c.cluster, static_cast<int64_t>(cl.size()), labels, c.majority, ClusterMembers(d, cl, cut)});
  }
  report::Table& ft = r.AddTable("floods", "Floods (unusually large duplicate clusters)",
                                 {{"cluster", "cluster"}, {"size", "size"}, {"kept_id", "kept"}, {"top_label", "top label"}});
  for (const audit::Flood& f : L.floods) {
    ft.rows.push_back({f.cluster, f.size, d.ids[d.clusters[f.cluster][0]], f.top_label});
  }
  AddSkippedTable(r, d.input, cut);
}

}  // namespace

report::Report AuditLabelsReport(const AuditLabelsResult& res, bool cut_lists) {
  report::Report r;
  r.title = fmt::format("Labels of {}", res.input);
  AddLabelFields(res.found, r);
  AddLabelTables(res.found, cut_lists, r);
  r.notes.push_back(fmt::format("flood rule: a duplicate cluster of at least max({}, {} x median cluster size) "
                                "documents (docs/audit.md)", res.label_options.flood_min_size,
                                res.label_options.flood_factor));
  r.notes.push_back(fmt::format("clusters: exact and near duplicates (Jaccard >= {} of {}-word shingles)",
                                res.dedup_options.threshold, res.dedup_options.ngram));
  return r;
}

}  // namespace dlcost::api
