// Tests of dedup over slices (src/audit/dedup_slices.h), the steps `audit dedup --mpi` runs on
// its ranks, here all in one process: every slice's data goes through its byte encoding as it
// would between ranks, and the result must equal one-process Dedup exactly. The run under
// mpirun itself is tests/audit_mpi/run.sh.
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "audit/dedup_slices.h"
#include "audit/internal.h"
#include "dlcost/audit.h"
#include "temp_dir.h"

namespace dlcost::audit {
namespace {

using testing_util::TempDir;

// What the ranks of dedup_mpi.cc compute, for `n` slices in this process.
Result<DedupResult> DedupInSlices(const InputSpec& in, const DedupOptions& opt, int64_t n) {
  DLCOST_ASSIGN_OR_RETURN(LshParams lsh, ChooseLsh(opt.threshold, opt.num_perm));
  std::vector<SliceDocs> slices;
  for (int64_t i = 0; i < n; ++i) {
    DLCOST_ASSIGN_OR_RETURN(SliceDocs s, ComputeSlice(in, opt, lsh, ShardSpec{i, n}));
    DLCOST_ASSIGN_OR_RETURN(SliceDocs sent, DecodeSlice(EncodeSlice(s, opt, lsh), opt, lsh));
    slices.push_back(std::move(sent));
  }
  DedupWork w;
  DedupResult r;
  DLCOST_RETURN_IF_ERROR(MergeSlices(slices, lsh, &w, &r));
  std::vector<char> needed;
  DLCOST_RETURN_IF_ERROR(FindCandidates(w, in.path, &r, &needed));
  std::vector<int64_t> records = NeededRecords(needed, r);
  std::unordered_map<int64_t, std::vector<uint64_t>> sets;
  for (int64_t i = 0; i < n; ++i) {
    DLCOST_ASSIGN_OR_RETURN(std::string bytes, SliceShingles(in, opt, ShardSpec{i, n}, records));
    DLCOST_RETURN_IF_ERROR(AddShingleSets(bytes, r, &sets));
  }
  EXPECT_EQ(sets.size(), records.size());
  ClusterDedup(w, opt, sets, &r);
  return r;
}

void ExpectSame(const DedupResult& one, const DedupResult& r, const std::string& what) {
  EXPECT_EQ(r.documents, one.documents) << what;
  EXPECT_EQ(r.ids, one.ids) << what;
  EXPECT_EQ(r.record_numbers, one.record_numbers) << what;
  EXPECT_EQ(r.clusters, one.clusters) << what;
  ASSERT_EQ(r.pairs.size(), one.pairs.size()) << what;
  for (size_t k = 0; k < r.pairs.size(); ++k) {
    EXPECT_EQ(r.pairs[k].a, one.pairs[k].a) << what;
    EXPECT_EQ(r.pairs[k].b, one.pairs[k].b) << what;
    EXPECT_EQ(r.pairs[k].jaccard, one.pairs[k].jaccard) << what;
    EXPECT_EQ(r.pairs[k].exact, one.pairs[k].exact) << what;
  }
  EXPECT_EQ(r.removed, one.removed) << what;
  EXPECT_EQ(r.exact_duplicates, one.exact_duplicates) << what;
  EXPECT_EQ(r.near_duplicates, one.near_duplicates) << what;
  EXPECT_EQ(r.candidate_pairs, one.candidate_pairs) << what;
  EXPECT_EQ(r.words_total, one.words_total) << what;
  EXPECT_EQ(r.words_wasted, one.words_wasted) << what;
  EXPECT_EQ(r.bytes_total, one.bytes_total) << what;
  EXPECT_EQ(r.bytes_wasted, one.bytes_wasted) << what;
  EXPECT_EQ(r.tokens_wasted, one.tokens_wasted) << what;
  EXPECT_EQ(r.lsh.bands, one.lsh.bands) << what;
  EXPECT_EQ(r.lsh.rows, one.lsh.rows) << what;
  const InputStats &a = one.input, &b = r.input;
  EXPECT_EQ(b.records, a.records) << what;
  EXPECT_EQ(b.valid, a.valid) << what;
  EXPECT_EQ(b.skipped, a.skipped) << what;
  EXPECT_EQ(b.skipped_by_reason, a.skipped_by_reason) << what;
  EXPECT_EQ(b.csv_header, a.csv_header) << what;
  ASSERT_EQ(b.skipped_list.size(), a.skipped_list.size()) << what;
  for (size_t k = 0; k < a.skipped_list.size(); ++k) {
    EXPECT_EQ(DescribeSkipped(b.skipped_list[k]), DescribeSkipped(a.skipped_list[k])) << what << " entry " << k;
  }
}

void ExpectSlicesEqualOneProcess(const InputSpec& in, const DedupOptions& opt, std::vector<int64_t> counts) {
  Result<DedupResult> one = Dedup(in, opt);
  ASSERT_TRUE(one.ok()) << one.status().message();
  for (int64_t n : counts) {
    Result<DedupResult> r = DedupInSlices(in, opt, n);
    ASSERT_TRUE(r.ok()) << n << " slices: " << r.status().message();
    ExpectSame(*one, *r, std::to_string(n) + " slices of " + in.path);
  }
}

std::string Words(std::mt19937_64& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? " w" : "w") + std::to_string(rng() % 20000);
  return s;
}

// Families of near variants and exact copies (after normalisation), and more bad records than
// the skipped list holds, so that the merged list must be cut at the same place.
std::string PlantedJsonl(int families, int bad_every) {
  std::mt19937_64 rng(5);
  std::string jsonl;
  int line = 0;
  for (int f = 0; f < families; ++f) {
    std::string base = Words(rng, 40);
    for (int v = 0; v < 4; ++v) {
      std::string text = base;
      if (v == 1) text = "W" + base.substr(1) + " !";
      if (v >= 2) text.replace(text.rfind(' ') + 1, std::string::npos, "v" + std::to_string(v));
      jsonl += "{\"id\":\"f" + std::to_string(f) + "v" + std::to_string(v) + "\",\"text\":\"" + text + "\"}\n";
      if (++line % bad_every == 0) jsonl += (line % 2 ? "{\"id\":\"x\"}\n" : "not json\n");
    }
    jsonl += "{\"id\":\"u" + std::to_string(f) + "\",\"text\":\"" + Words(rng, 25) + "\"}\n";
  }
  return jsonl;
}

TEST(AuditSlices, JsonlEqualsOneProcess) {
  TempDir tmp;
  InputSpec in;
  in.path = tmp.Write("c.jsonl", PlantedJsonl(700, 2));  // 1,400 bad records: more than listed
  in.id_field = "id";
  DedupOptions opt;
  opt.seed = 3;
  Result<DedupResult> one = Dedup(in, opt);
  ASSERT_TRUE(one.ok());
  ASSERT_GT(one->input.skipped, static_cast<int64_t>(kMaxSkippedListed));
  ASSERT_GT(one->near_duplicates, 0);
  ASSERT_GT(one->exact_duplicates, 0);
  ExpectSlicesEqualOneProcess(in, opt, {1, 2, 3, 5, 8});
}

TEST(AuditSlices, BrokenGzipIsListedOnce) {
  TempDir tmp;
  std::string content = PlantedJsonl(60, 7);
  std::string full = tmp.path().string() + "/full.jsonl.gz";
  gzFile f = gzopen(full.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
  gzclose(f);
  std::ifstream raw(full, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(raw)), std::istreambuf_iterator<char>());
  InputSpec in;
  in.path = tmp.Write("cut.jsonl.gz", bytes.substr(0, bytes.size() / 2));
  in.id_field = "id";
  DedupOptions opt;
  Result<DedupResult> one = Dedup(in, opt);
  ASSERT_TRUE(one.ok()) << one.status().message();
  ASSERT_EQ(one->input.skipped_by_reason.count("broken gzip stream"), 1u);
  ExpectSlicesEqualOneProcess(in, opt, {1, 2, 3, 4});
}

TEST(AuditSlices, CsvAndFolderEqualOneProcess) {
  TempDir tmp;
  std::mt19937_64 rng(9);
  std::string csv = "id,text,label\n";
  for (int f = 0; f < 30; ++f) {
    std::string base = Words(rng, 30);
    csv += "c" + std::to_string(f) + ",\"" + base + "\",a\n";
    csv += "d" + std::to_string(f) + ",\"" + base + ",\nmore\",b\n";  // quoted, over two lines
    if (f % 4 == 0) csv += "e" + std::to_string(f) + ",,a\n";     // empty text
  }
  InputSpec in;
  in.path = tmp.Write("c.csv", csv);
  in.id_field = "id";
  DedupOptions opt;
  opt.threshold = 0.7;
  ExpectSlicesEqualOneProcess(in, opt, {1, 2, 3});

  std::filesystem::create_directories(tmp.path() / "docs");
  std::string base = Words(rng, 50);
  for (int i = 0; i < 12; ++i) tmp.Write("docs/" + std::to_string(i) + ".txt", i % 3 ? Words(rng, 50) : base);
  tmp.Write("docs/bad.txt", "bad \xFF byte");
  InputSpec dir;
  dir.path = tmp.path().string() + "/docs";
  ExpectSlicesEqualOneProcess(dir, DedupOptions(), {1, 2, 3, 5});
}

TEST(AuditSlices, BadSliceDataIsAnError) {
  TempDir tmp;
  InputSpec in;
  in.path = tmp.Write("c.jsonl", PlantedJsonl(20, 5));
  in.id_field = "id";
  DedupOptions opt;
  LshParams lsh = *ChooseLsh(opt.threshold, opt.num_perm);
  Result<SliceDocs> s0 = ComputeSlice(in, opt, lsh, ShardSpec{0, 2});
  Result<SliceDocs> s1 = ComputeSlice(in, opt, lsh, ShardSpec{1, 2});
  ASSERT_TRUE(s0.ok() && s1.ok());
  std::string bytes = EncodeSlice(*s0, opt, lsh);

  DedupOptions other = opt;
  other.seed = 2;
  Result<SliceDocs> wrong_seed = DecodeSlice(bytes, other, lsh);
  ASSERT_FALSE(wrong_seed.ok());
  EXPECT_NE(wrong_seed.status().message().find("--seed 1 (here 2)"), std::string::npos)
      << wrong_seed.status().message();
  for (size_t cut : {size_t{0}, size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_FALSE(DecodeSlice(std::string_view(bytes).substr(0, cut), opt, lsh).ok()) << cut;
  }
  EXPECT_FALSE(DecodeSlice(bytes + "x", opt, lsh).ok());
  EXPECT_FALSE(AddShingleSets("not shingles", DedupResult(), nullptr).ok());
  EXPECT_EQ(ComputeSlice(in, opt, lsh, ShardSpec{2, 2}).status().code(), StatusCode::kUsage);

  DedupWork w;
  DedupResult r;
  std::vector<SliceDocs> swapped = {*s1, *s0};
  EXPECT_FALSE(MergeSlices(swapped, lsh, &w, &r).ok());
  std::vector<SliceDocs> other_input = {*s0, *s1};
  other_input[1].records_split += 1;
  Status st = MergeSlices(other_input, lsh, &w, &r);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not the same input"), std::string::npos) << st.message();

  // No usable record: the same message as one process.
  InputSpec none;
  none.path = tmp.Write("none.jsonl", "{\"text\":\"\"}\nnot json\n");
  Result<DedupResult> one = Dedup(none, opt);
  Result<DedupResult> sliced = DedupInSlices(none, opt, 2);
  ASSERT_FALSE(one.ok());
  ASSERT_FALSE(sliced.ok());
  EXPECT_EQ(sliced.status().message(), one.status().message());
}

}  // namespace
}  // namespace dlcost::audit
