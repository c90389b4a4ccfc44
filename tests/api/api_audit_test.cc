// Tests of the audit calls of the library (include/dlcost/api_audit.h) where they promise more
// than the CLI's golden cases show: warnings before a later error, no catalogs without
// --model, a merge equal to one process, the manifest verdict.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dlcost/api_audit.h"

namespace dlcost::api {
namespace {

const std::string kCorpus = std::string(DLCOST_TEST_FIXTURES) + "/audit/corpus.jsonl";

AuditDedupRequest CorpusRequest(std::vector<std::string>* warnings) {
  AuditDedupRequest req;
  req.input = kCorpus;
  req.in.id_field = "id";
  req.hooks.warning = [warnings](const std::string& w) { warnings->push_back(w); };
  return req;
}

TEST(ApiAudit, DedupWithoutModelNeedsNoSession) {
  std::vector<std::string> warnings;
  Result<AuditDedupResult> r = AuditDedup(nullptr, CorpusRequest(&warnings));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->found.documents, 5);
  EXPECT_FALSE(r->waste);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("corpus.jsonl:3: missing field 'text'"), std::string::npos);
}

TEST(ApiAudit, WarningsComeBeforeAPricingError) {
  Result<Session> session = Session::Open(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(session.ok()) << session.status().message();
  std::vector<std::string> warnings;
  AuditDedupRequest req = CorpusRequest(&warnings);
  req.model = "no-such-model";
  req.gpu = "h100-sxm-80gb";
  Result<AuditDedupResult> r = AuditDedup(&*session, req);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(warnings.size(), 2u);
}

TEST(ApiAudit, PricesWastedTokensThroughTheSession) {
  Result<Session> session = Session::Open(DLCOST_TEST_DATA_DIR);
  ASSERT_TRUE(session.ok()) << session.status().message();
  std::vector<std::string> warnings;
  AuditDedupRequest req = CorpusRequest(&warnings);
  req.model = "llama-3-8b";
  req.gpu = "h100-sxm-80gb";
  req.cost.price = "2";
  Result<AuditDedupResult> r = AuditDedup(&*session, req);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(r->waste && r->waste->usd);
  EXPECT_DOUBLE_EQ(*r->waste->usd, 2 * r->waste->gpu_hours);
  EXPECT_EQ(AuditDedup(nullptr, req).status().code(), StatusCode::kUsage);
}

TEST(ApiAudit, MergedShardsFindWhatOneProcessFinds) {
  std::vector<std::string> warnings;
  Result<AuditDedupResult> one = AuditDedup(nullptr, CorpusRequest(&warnings));
  ASSERT_TRUE(one.ok());
  const std::string shards = std::string(DLCOST_TEST_FIXTURES) + "/audit/shards/";
  Result<AuditDedupResult> merged = AuditMerge({{shards + "corpus_0of2.jsonl", shards + "corpus_1of2.jsonl"}, {}});
  ASSERT_TRUE(merged.ok()) << merged.status().message();
  EXPECT_EQ(merged->found.ids, one->found.ids);
  EXPECT_EQ(merged->found.clusters, one->found.clusters);
  EXPECT_EQ(merged->found.pairs.size(), one->found.pairs.size());
  EXPECT_EQ(merged->found.tokens_wasted, one->found.tokens_wasted);
  EXPECT_EQ(merged->found.input.skipped, one->found.input.skipped);
}

TEST(ApiAudit, ManifestVerdictNamesTheChanges) {
  const std::string dir = std::string(DLCOST_TEST_FIXTURES) + "/audit/";
  Result<AuditManifestResult> ok = AuditManifest({dir + "tree", dir + "tree_manifest.json", ""});
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_TRUE(AuditManifestVerdict(*ok).ok());
  Result<AuditManifestResult> bad = AuditManifest({dir + "tree", dir + "tree_manifest_tampered.json", ""});
  ASSERT_TRUE(bad.ok()) << bad.status().message();
  Status verdict = AuditManifestVerdict(*bad);
  EXPECT_EQ(verdict.code(), StatusCode::kInvalidInput);
  EXPECT_NE(verdict.message().find("does not match"), std::string::npos);
}

}  // namespace
}  // namespace dlcost::api
