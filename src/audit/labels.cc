// Label audit: duplicate clusters whose labels disagree, class balance and floods.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "dlcost/audit.h"

namespace dlcost::audit {

Result<LabelAudit> AuditLabels(const InputSpec& in, const DedupOptions& dopt, const LabelOptions& lopt) {
  if (in.label_field.empty()) return UsageError("audit labels: --label-field is required");
  if (lopt.flood_min_size < 2) return InvalidInput("--flood-min-size: must be at least 2");
  if (!(lopt.flood_factor >= 1)) return InvalidInput("--flood-factor: must be at least 1");
  LabelAudit a;
  DLCOST_ASSIGN_OR_RETURN(a.dedup, Dedup(in, dopt));
  const DedupResult& d = a.dedup;

  // Class balance, most frequent first (then by label).
  std::map<std::string, int64_t> counts;
  for (const std::string& l : d.labels) ++counts[l];
  for (const auto& [label, n] : counts) {
    a.classes.push_back({label, n, static_cast<double>(n) / static_cast<double>(d.documents)});
  }
  std::stable_sort(a.classes.begin(), a.classes.end(),
                   [](const ClassCount& x, const ClassCount& y) { return x.count > y.count; });
  if (!a.classes.empty()) {
    a.imbalance_ratio = static_cast<double>(a.classes.front().count) / static_cast<double>(a.classes.back().count);
  }

  // Conflicts: clusters with more than one label.
  std::vector<int64_t> sizes;
  for (size_t c = 0; c < d.clusters.size(); ++c) {
    sizes.push_back(static_cast<int64_t>(d.clusters[c].size()));
    LabelConflict conflict;
    conflict.cluster = static_cast<int64_t>(c);
    for (int64_t doc : d.clusters[c]) ++conflict.label_counts[d.labels[doc]];
    if (conflict.label_counts.size() < 2) continue;
    int64_t best = -1;
    for (int64_t doc : d.clusters[c]) {  // the most frequent label; ties go to the earliest document
      int64_t n = conflict.label_counts[d.labels[doc]];
      if (n > best) {
        best = n;
        conflict.majority = d.labels[doc];
      }
    }
    a.conflicts.push_back(std::move(conflict));
  }

  // Floods: clusters at least max(flood_min_size, flood_factor x median cluster size).
  if (!sizes.empty()) {
    std::vector<int64_t> s = sizes;
    std::sort(s.begin(), s.end());
    size_t m = s.size() / 2;
    a.median_cluster_size = s.size() % 2 ? static_cast<double>(s[m]) : 0.5 * static_cast<double>(s[m - 1] + s[m]);
  }
  double fence = std::max(static_cast<double>(lopt.flood_min_size), lopt.flood_factor * a.median_cluster_size);
  a.flood_size = static_cast<int64_t>(std::ceil(fence));
  for (size_t c = 0; c < d.clusters.size(); ++c) {
    if (sizes[c] < a.flood_size) continue;
    std::map<std::string, int64_t> lc;
    for (int64_t doc : d.clusters[c]) ++lc[d.labels[doc]];
    std::string top;
    int64_t best = -1;
    for (const auto& [label, n] : lc) {
      if (n > best) {
        best = n;
        top = label;
      }
    }
    a.floods.push_back({static_cast<int64_t>(c), sizes[c], top});
  }
  return a;
}

}  // namespace dlcost::audit
