// Tests of the data audit: input streaming, normalisation, MinHash/LSH, dedup (with recall and
// precision on a planted corpus), leakage and labels.
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <unordered_map>

#include <gtest/gtest.h>
#include <utf8proc.h>

#include "audit/internal.h"
#include "dlcost/audit.h"
#include "temp_dir.h"

namespace dlcost::audit {
namespace {

using testing_util::TempDir;

std::string WriteGz(const std::string& path, const std::string& content) {
  gzFile f = gzopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr);
  gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
  gzclose(f);
  return path;
}

std::vector<Record> ReadAll(const InputSpec& in, InputStats* st, Status* status = nullptr) {
  std::vector<Record> out;
  Status s = ReadRecords(in, [&](Record& r) { out.push_back(r); return Status::Ok(); }, st);
  if (status) *status = s;
  else EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

TEST(AuditNormalize, LowercasesStripsPunctuationCollapsesSpace) {
  EXPECT_EQ(NormalizeText("  Hello,   World!\n\tIt's  OK. "), "hello world its ok");
  // Full case folding: ÉCOLE Straße -> école strasse (ß folds to ss).
  EXPECT_EQ(NormalizeText("\xC3\x89" "COLE Stra\xC3\x9F" "e"), "\xC3\xA9" "cole strasse");
  // NFKC: a decomposed é (e + U+0301) composes; the ﬁ ligature, fullwidth letters and a
  // superscript two become their plain forms.
  EXPECT_EQ(NormalizeText("e\xCC\x81t\xC3\xA9"), "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(NormalizeText("\xEF\xAC\x81le \xEF\xBC\xA1\xEF\xBC\xA2 x\xC2\xB2"), "file ab x2");
  // Unicode categories: a zero-width space and a right-to-left mark (Cf) vanish inside a word,
  // a guillemet (Pi) and a euro sign (Sc) are dropped, an ideographic space (Zs) separates.
  EXPECT_EQ(NormalizeText("ab\xE2\x80\x8B" "c\xE2\x80\x8F" "d \xC2\xAB" "x\xE2\x82\xAC\xE3\x80\x80y"), "abcd x y");
  // Invalid UTF-8 bytes stay, as word characters, between folded runs.
  EXPECT_EQ(NormalizeText("\xC3\x89\xFF\xC3\x89"), "\xC3\xA9\xFF\xC3\xA9");
  EXPECT_EQ(NormalizeText("a\xC2\xA0" "b\xE2\x80\x94" "c"), "a bc");  // no-break space; em dash dropped
  EXPECT_EQ(NormalizeText("\xCE\x91\xCE\x92 \xD0\x90\xD0\x91"), "\xCE\xB1\xCE\xB2 \xD0\xB0\xD0\xB1");  // ΑΒ АБ
  EXPECT_EQ(NormalizeText("!!! ..."), "");
}

// The shortcut NormalizeText takes around utf8proc must give what utf8proc gives: every code
// point FoldInert accepts maps to itself, alone and after a letter it could compose with.
TEST(AuditNormalize, FoldInertCodePointsAreFixedPointsOfNfkcCasefold) {
  auto options = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
  auto fold = [&](const std::string& in) {
    utf8proc_uint8_t* out = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(in.data()),
                                      static_cast<utf8proc_ssize_t>(in.size()), &out, options);
    std::string r = n >= 0 ? std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n)) : "<error>";
    std::free(out);
    return r;
  };
  int inert = 0, wrong = 0;
  for (uint32_t cp = 0x80; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (!FoldInert(cp)) continue;
    ++inert;
    utf8proc_uint8_t buf[4];
    std::string c(reinterpret_cast<char*>(buf), static_cast<size_t>(utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf)));
    if (fold(c) != c || fold("e" + c) != "e" + c) {
      if (++wrong <= 5) ADD_FAILURE() << "U+" << std::hex << cp << " is not left as it is";
    }
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(inert, 100000);  // most of the assigned code points (CJK, lowercase letters) take the shortcut
}

TEST(AuditNormalize, WordHashesMatchNormalisedWords) {
  std::vector<uint64_t> a, b;
  WordHashes("The  CAT, sat!", &a);
  WordHashes("the cat sat", &b);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_TRUE(ContentKeyOf(a) == ContentKeyOf(b));
  WordHashes("the cat sat down", &b);
  EXPECT_FALSE(ContentKeyOf(a) == ContentKeyOf(b));
}

TEST(AuditText, Utf8Validation) {
  EXPECT_TRUE(ValidUtf8("plain ascii"));
  EXPECT_TRUE(ValidUtf8("caf\xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_FALSE(ValidUtf8("bad \xC3"));
  EXPECT_FALSE(ValidUtf8("overlong \xC0\xAF"));
  EXPECT_FALSE(ValidUtf8("surrogate \xED\xA0\x80"));
  EXPECT_FALSE(ValidUtf8("latin1 \xE9t\xE9"));
}

TEST(AuditText, ShinglesAndJaccard) {
  std::vector<uint64_t> w, s1, s2;
  WordHashes("a b c d e f", &w);
  Shingles(w, 5, &s1);
  EXPECT_EQ(s1.size(), 2u);
  WordHashes("a b c d e g", &w);
  Shingles(w, 5, &s2);
  EXPECT_DOUBLE_EQ(Jaccard(s1, s2), 1.0 / 3.0);
  WordHashes("short text", &w);
  Shingles(w, 5, &s1);
  EXPECT_EQ(s1.size(), 1u);  // fewer words than n: one shingle
  EXPECT_DOUBLE_EQ(Jaccard({}, {}), 1.0);
  EXPECT_EQ(CountWords("  two\twords \n"), 2);
}

TEST(AuditLsh, ChoiceReachesRecallAtThreshold) {
  for (double t : {0.5, 0.7, 0.8, 0.9, 0.95}) {
    Result<LshParams> p = ChooseLsh(t, 256);
    ASSERT_TRUE(p.ok()) << p.status().message();
    EXPECT_GE(p->recall_at_threshold, 0.99) << t;
    EXPECT_LE(p->bands * p->rows, 256) << t;
    EXPECT_NEAR(LshCandidateProbability(t, p->bands, p->rows), p->recall_at_threshold, 1e-12);
    // No other choice within the budget has a smaller false-candidate area at the same recall.
    for (int r = 1; r <= 256; ++r) {
      for (int b = 1; b * r <= 256; ++b) {
        if (LshCandidateProbability(t, b, r) < 0.99) continue;
        EXPECT_LE(LshCandidateProbability(0.5 * t, p->bands, p->rows), LshCandidateProbability(0.5 * t, b, r) + 1e-9)
            << "t=" << t << " b=" << b << " r=" << r;
        break;
      }
    }
  }
  Result<LshParams> p = ChooseLsh(0.8, 256);
  EXPECT_EQ(p->rows, 8);
  EXPECT_EQ(p->bands, 26);
  EXPECT_FALSE(ChooseLsh(0.0, 256).ok());
  EXPECT_FALSE(ChooseLsh(1.5, 256).ok());
  EXPECT_FALSE(ChooseLsh(0.02, 16).ok());  // cannot reach 0.99 recall with 16 permutations
}

TEST(AuditMinHash, DeterministicAndEstimatesJaccard) {
  MinHasher a(256, 7), b(256, 7), c(256, 8);
  std::vector<uint64_t> s1, s2;
  for (uint64_t i = 0; i < 200; ++i) s1.push_back(i * 0x9e3779b97f4a7c15ULL + 1);
  s2 = s1;
  for (int i = 0; i < 40; ++i) s2[i] = 0xdead0000u + i;  // J = 160 / 240 = 2/3
  std::vector<uint32_t> x(256), y(256), z(256);
  a.Sign(s1.data(), s1.size(), x.data());
  b.Sign(s1.data(), s1.size(), y.data());
  c.Sign(s1.data(), s1.size(), z.data());
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
  a.Sign(s2.data(), s2.size(), y.data());
  int equal = 0;
  for (int i = 0; i < 256; ++i) equal += x[i] == y[i];
  EXPECT_NEAR(equal / 256.0, 2.0 / 3.0, 0.1);
  a.Sign(nullptr, 0, y.data());
  EXPECT_EQ(y[0], 0xffffffffu);
}

TEST(AuditReader, JsonlBadRecordsAreSkippedByLine) {
  TempDir tmp;
  std::string huge(2000, 'x');
  std::string path = tmp.Write("in.jsonl",
                               "{\"id\":\"a\",\"text\":\"hello world\"}\n"
                               "not json\n"
                               "{\"id\":\"b\"}\n"
                               "{\"id\":\"c\",\"text\":\"caf\xE9\"}\n"
                               "\n"
                               "{\"id\":\"d\",\"text\":\"   \"}\n"
                               "{\"id\":\"e\",\"text\":\"" + huge + "\"}\n"
                               "{\"id\":7,\"text\":\"number id\",\"label\":1}\r\n"
                               "{\"text\":\"no id\"}\n");
  InputSpec in;
  in.path = path;
  in.id_field = "id";
  in.max_record_bytes = 1000;
  InputStats st;
  std::vector<Record> recs = ReadAll(in, &st);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].id, "a");
  EXPECT_EQ(recs[1].id, "7");
  EXPECT_EQ(recs[1].line, 8);
  EXPECT_EQ(recs[1].number, 7);
  EXPECT_EQ(st.skipped, 7);
  EXPECT_EQ(st.records, 9);
  ASSERT_EQ(st.skipped_list.size(), 7u);
  EXPECT_EQ(st.skipped_list[0].line, 2);
  EXPECT_EQ(st.skipped_list[0].reason, "not a JSON object");
  EXPECT_EQ(st.skipped_list[1].reason, "missing field 'text'");
  EXPECT_EQ(st.skipped_list[2].reason, "invalid UTF-8");
  EXPECT_EQ(st.skipped_list[3].reason, "empty line");
  EXPECT_EQ(st.skipped_list[4].reason, "empty text");
  EXPECT_EQ(st.skipped_list[5].reason, "record larger than 1000 bytes");
  EXPECT_EQ(st.skipped_list[6].reason, "missing field 'id'");
  EXPECT_EQ(DescribeSkipped(st.skipped_list[0]), path + ":2: not a JSON object");
}

TEST(AuditReader, CsvQuotedMultilineAndGzip) {
  TempDir tmp;
  std::string csv = "id,text,label\n1,\"hello, world\",x\n2,\"two\nlines \"\"quoted\"\"\",y\n3,,z\n4,short\n";
  std::string path = WriteGz(tmp.path().string() + "/in.csv.gz", csv);
  InputSpec in;
  in.path = path;
  in.id_field = "id";
  in.label_field = "label";
  InputStats st;
  std::vector<Record> recs = ReadAll(in, &st);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].text, "hello, world");
  EXPECT_EQ(recs[0].label.value_or(""), "x");
  EXPECT_EQ(recs[1].text, "two\nlines \"quoted\"");
  EXPECT_EQ(recs[1].line, 3);
  EXPECT_EQ(st.skipped, 2);
  EXPECT_EQ(st.skipped_list[0].line, 5);
  EXPECT_EQ(st.skipped_list[0].reason, "empty text");
  EXPECT_EQ(st.skipped_list[1].reason, "missing field 'label'");
  EXPECT_EQ(st.csv_header, "id,text,label");

  in.text_field = "body";
  Status s;
  ReadAll(in, &st, &s);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no column 'body'"), std::string::npos);
}

TEST(AuditReader, BrokenGzipKeepsTheRecordsBefore) {
  TempDir tmp;
  std::string content;
  for (int i = 0; i < 5000; ++i) content += "{\"text\":\"record number " + std::to_string(i) + " with some words\"}\n";
  std::string full = WriteGz(tmp.path().string() + "/full.jsonl.gz", content);
  std::ifstream f(full, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::string cut = tmp.Write("cut.jsonl.gz", bytes.substr(0, bytes.size() / 2));
  InputSpec in;
  in.path = cut;
  InputStats st;
  std::vector<Record> recs = ReadAll(in, &st);
  EXPECT_GT(recs.size(), 0u);
  EXPECT_LT(recs.size(), 5000u);
  ASSERT_GE(st.skipped, 1);
  EXPECT_NE(st.skipped_list.back().reason.find("broken gzip stream"), std::string::npos);
}

TEST(AuditReader, FolderOfTextFiles) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() / "docs" / "sub");
  tmp.Write("docs/b.txt", "second file");
  tmp.Write("docs/a.txt", "first file");
  tmp.Write("docs/sub/c.txt", "bad \xFF byte");
  WriteGz(tmp.path().string() + "/docs/d.txt.gz", "compressed file");
  InputSpec in;
  in.path = tmp.path().string() + "/docs";
  InputStats st;
  std::vector<Record> recs = ReadAll(in, &st);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].id, "a.txt");
  EXPECT_EQ(recs[1].id, "b.txt");
  EXPECT_EQ(recs[2].id, "d.txt.gz");
  EXPECT_EQ(recs[2].text, "compressed file");
  EXPECT_EQ(st.skipped, 1);
  EXPECT_EQ(st.skipped_list[0].reason, "invalid UTF-8");
}

TEST(AuditReader, MissingInput) {
  InputSpec in;
  in.path = "/nonexistent/file.jsonl";
  InputStats st;
  Status s;
  ReadAll(in, &st, &s);
  EXPECT_FALSE(s.ok());
  in.path = "/";
  in.format = InputFormat::kCsv;
  ReadAll(in, &st, &s);
  EXPECT_FALSE(s.ok());
}

std::string Words(std::mt19937_64& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += "w" + std::to_string(rng() % 20000);
  }
  return s;
}

TEST(AuditDedup, ExactAndNearClustersAndWriteDeduplicated) {
  TempDir tmp;
  std::mt19937_64 rng(3);
  std::string base = Words(rng, 100);
  std::string near = base;
  near.replace(near.rfind(' ') + 1, std::string::npos, "changed");  // last word changed: J = 95/97
  std::string other = Words(rng, 100);
  std::string jsonl = "{\"id\":\"x0\",\"text\":\"" + base + "\"}\n" +
                      "{\"id\":\"x1\",\"text\":\"" + other + "\"}\n" +
                      "{\"id\":\"x2\",\"text\":\"" + base + "!!\"}\n" +  // exact after normalisation
                      "{\"id\":\"x3\",\"text\":\"" + near + "\"}\n" +
                      "{\"id\":\"x4\"}\n";
  std::string path = tmp.Write("c.jsonl", jsonl);
  InputSpec in;
  in.path = path;
  in.id_field = "id";
  DedupOptions opt;
  Result<DedupResult> r = Dedup(in, opt);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->documents, 4);
  EXPECT_EQ(r->input.skipped, 1);
  EXPECT_EQ(r->exact_duplicates, 1);
  EXPECT_EQ(r->near_duplicates, 1);
  ASSERT_EQ(r->clusters.size(), 1u);
  EXPECT_EQ(r->clusters[0], (std::vector<int64_t>{0, 2, 3}));
  ASSERT_EQ(r->pairs.size(), 2u);
  EXPECT_TRUE(r->pairs[0].exact);
  EXPECT_EQ(r->pairs[0].b, 2);
  EXPECT_FALSE(r->pairs[1].exact);
  EXPECT_EQ(r->pairs[1].b, 3);
  EXPECT_NEAR(r->pairs[1].jaccard, 95.0 / 97.0, 1e-12);
  EXPECT_EQ(r->words_wasted, 200);
  EXPECT_NEAR(r->tokens_wasted, 200 * kTokensPerWord, 1e-9);

  std::string out = tmp.path().string() + "/kept.jsonl";
  ASSERT_TRUE(WriteDeduplicated(in, *r, out).ok());
  InputSpec back;
  back.path = out;
  back.id_field = "id";
  InputStats st;
  std::vector<Record> kept = ReadAll(back, &st);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[0].id, "x0");
  EXPECT_EQ(kept[1].id, "x1");

  // A .gz name is written gzip-compressed (the reader takes both); the input itself, by any
  // name, is refused and left whole; a full disk is an error, not a short file.
  std::string gz = tmp.path().string() + "/kept.jsonl.gz";
  ASSERT_TRUE(WriteDeduplicated(in, *r, gz).ok());
  std::ifstream raw(gz, std::ios::binary);
  char magic[2] = {0, 0};
  raw.read(magic, 2);
  EXPECT_EQ(static_cast<unsigned char>(magic[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(magic[1]), 0x8b);
  back.path = gz;
  EXPECT_EQ(ReadAll(back, &st).size(), 2u);
  std::filesystem::create_symlink(path, tmp.path() / "link.jsonl");
  Status self = WriteDeduplicated(in, *r, (tmp.path() / "link.jsonl").string());
  EXPECT_EQ(self.code(), StatusCode::kInvalidInput);
  EXPECT_NE(self.message().find("is the input of this run"), std::string::npos);
  EXPECT_EQ(std::filesystem::file_size(path), jsonl.size());
  if (std::filesystem::exists("/dev/full")) {
    Status full = WriteDeduplicated(in, *r, "/dev/full");
    EXPECT_NE(full.message().find("error writing '/dev/full'"), std::string::npos) << full.message();
  }

  // Same seed, same result; bad options are errors.
  Result<DedupResult> again = Dedup(in, opt);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->clusters, r->clusters);
  opt.ngram = 0;
  EXPECT_FALSE(Dedup(in, opt).ok());
  opt.ngram = 5;
  opt.threshold = 1.5;
  EXPECT_FALSE(Dedup(in, opt).ok());

  std::string empty = tmp.Write("empty.jsonl", "{\"text\":\"\"}\n");
  in.path = empty;
  in.id_field.clear();
  opt.threshold = 0.8;
  Result<DedupResult> none = Dedup(in, opt);
  EXPECT_FALSE(none.ok());
}

// Planted near duplicates of known similarity: every family is a random base document and
// variants with 1-10 words replaced; families share no 5-gram. Ground truth is the exact
// Jaccard of every pair inside a family.
TEST(AuditDedup, RecallAndPrecisionOnPlantedCorpus) {
  TempDir tmp;
  std::mt19937_64 rng(20240601);
  const int families = 600, variants = 4, words = 200;
  std::string jsonl;
  std::vector<std::vector<std::string>> fam_texts(families);
  std::vector<std::string> all_ids;
  for (int f = 0; f < families; ++f) {
    std::vector<std::string> base;
    for (int i = 0; i < words; ++i) base.push_back("w" + std::to_string(rng() % 50000));
    for (int v = 0; v <= variants; ++v) {
      std::vector<std::string> doc = base;
      if (v > 0) {
        int changes = 1 + static_cast<int>(rng() % 10);
        for (int c = 0; c < changes; ++c) doc[rng() % words] = "z" + std::to_string(rng() % 1000000);
      }
      std::string text;
      for (const std::string& w : doc) text += (text.empty() ? "" : " ") + w;
      fam_texts[f].push_back(text);
      std::string id = "f" + std::to_string(f) + "v" + std::to_string(v);
      all_ids.push_back(id);
      jsonl += "{\"id\":\"" + id + "\",\"text\":\"" + text + "\"}\n";
    }
  }
  InputSpec in;
  in.path = tmp.Write("planted.jsonl", jsonl);
  in.id_field = "id";
  DedupOptions opt;
  opt.seed = 42;
  Result<DedupResult> r = Dedup(in, opt);
  ASSERT_TRUE(r.ok()) << r.status().message();

  std::set<std::pair<std::string, std::string>> truth, found;
  std::vector<uint64_t> w, sa, sb;
  int64_t near_threshold = 0;
  for (int f = 0; f < families; ++f) {
    for (int a = 0; a <= variants; ++a) {
      for (int b = a + 1; b <= variants; ++b) {
        WordHashes(fam_texts[f][a], &w);
        Shingles(w, 5, &sa);
        WordHashes(fam_texts[f][b], &w);
        Shingles(w, 5, &sb);
        double j = Jaccard(sa, sb);
        if (j >= 0.8 && j < 1.0) truth.insert({"f" + std::to_string(f) + "v" + std::to_string(a),
                                               "f" + std::to_string(f) + "v" + std::to_string(b)});
        if (j >= 0.8 && j < 0.85) ++near_threshold;
      }
    }
  }
  for (const DuplicatePair& p : r->pairs) {
    if (!p.exact) found.insert({r->ids[p.a], r->ids[p.b]});
  }
  int64_t hit = 0;
  for (const auto& p : found) hit += truth.count(p);
  double recall = static_cast<double>(hit) / static_cast<double>(truth.size());
  double precision = found.empty() ? 1.0 : static_cast<double>(hit) / static_cast<double>(found.size());
  std::cout << "planted corpus: " << truth.size() << " true pairs at Jaccard >= 0.8 (" << near_threshold
            << " in [0.8, 0.85)), " << found.size() << " reported, recall " << recall << ", precision " << precision
            << ", LSH b=" << r->lsh.bands << " r=" << r->lsh.rows << ", candidates " << r->candidate_pairs << "\n";
  EXPECT_GT(truth.size(), 1000u);
  EXPECT_GT(near_threshold, 100);
  EXPECT_GE(recall, 0.99);
  EXPECT_GE(precision, 0.99);
}

// Dedup in one process and as N shards + merge must give the same documents, clusters, pairs
// (with their Jaccard) and counts: families of near variants, exact copies (after
// normalisation) and bad records spread over every slice.
TEST(AuditShard, MergeEqualsOneProcess) {
  TempDir tmp;
  std::mt19937_64 rng(7);
  std::string jsonl;
  for (int f = 0; f < 40; ++f) {
    std::string base = Words(rng, 60);
    for (int v = 0; v < 4; ++v) {
      std::string text = base;
      if (v == 1) text = base + "!";  // exact after normalisation
      if (v >= 2) text.replace(text.rfind(' ') + 1, std::string::npos, "v" + std::to_string(v));  // near
      jsonl += "{\"id\":\"f" + std::to_string(f) + "v" + std::to_string(v) + "\",\"text\":\"" + text + "\"}\n";
    }
    if (f % 7 == 0) jsonl += "{\"id\":\"bad\"}\n";  // skipped, but still a record number
    jsonl += "{\"id\":\"u" + std::to_string(f) + "\",\"text\":\"" + Words(rng, 30) + "\"}\n";
  }
  InputSpec in;
  in.path = tmp.Write("c.jsonl", jsonl);
  in.id_field = "id";
  DedupOptions opt;
  opt.seed = 11;
  Result<DedupResult> one = Dedup(in, opt);
  ASSERT_TRUE(one.ok()) << one.status().message();
  ASSERT_EQ(one->clusters.size(), 40u);
  ASSERT_GT(one->near_duplicates, 0);

  for (int64_t n : {1, 2, 3, 5}) {
    std::vector<std::string> files;
    int64_t docs = 0;
    for (int64_t i = n - 1; i >= 0; --i) {  // any order
      files.push_back(tmp.path().string() + "/s" + std::to_string(i) + "of" + std::to_string(n) + ".jsonl");
      Result<int64_t> w = WriteDedupShard(in, opt, ShardSpec{i, n}, files.back());
      ASSERT_TRUE(w.ok()) << w.status().message();
      docs += *w;
    }
    EXPECT_EQ(docs, one->documents);
    Result<MergedDedup> m = MergeDedupShards(files);
    ASSERT_TRUE(m.ok()) << m.status().message();
    const DedupResult& r = m->result;
    EXPECT_EQ(m->input, in.path);
    EXPECT_EQ(m->options.seed, opt.seed);
    EXPECT_EQ(r.ids, one->ids) << n << " shards";
    EXPECT_EQ(r.record_numbers, one->record_numbers);
    EXPECT_EQ(r.clusters, one->clusters) << n << " shards";
    ASSERT_EQ(r.pairs.size(), one->pairs.size());
    for (size_t k = 0; k < r.pairs.size(); ++k) {
      EXPECT_EQ(r.pairs[k].a, one->pairs[k].a);
      EXPECT_EQ(r.pairs[k].b, one->pairs[k].b);
      EXPECT_EQ(r.pairs[k].jaccard, one->pairs[k].jaccard);
      EXPECT_EQ(r.pairs[k].exact, one->pairs[k].exact);
    }
    EXPECT_EQ(r.removed, one->removed);
    EXPECT_EQ(r.exact_duplicates, one->exact_duplicates);
    EXPECT_EQ(r.near_duplicates, one->near_duplicates);
    EXPECT_EQ(r.candidate_pairs, one->candidate_pairs);
    EXPECT_EQ(r.words_total, one->words_total);
    EXPECT_EQ(r.bytes_wasted, one->bytes_wasted);
    EXPECT_EQ(r.tokens_wasted, one->tokens_wasted);
    EXPECT_EQ(r.input.skipped, one->input.skipped);
    EXPECT_EQ(r.input.skipped_list.size(), one->input.skipped_list.size());
  }
}

TEST(AuditShard, BadShardsAreErrors) {
  EXPECT_EQ(ParseShard("3/2").status().code(), StatusCode::kUsage);
  EXPECT_EQ(ParseShard("0/0").status().code(), StatusCode::kUsage);
  EXPECT_EQ(ParseShard("1").status().code(), StatusCode::kUsage);
  EXPECT_EQ(ParseShard("-1/2").status().code(), StatusCode::kUsage);
  EXPECT_EQ(ParseShard("a/b").status().code(), StatusCode::kUsage);
  ASSERT_TRUE(ParseShard("2/3").ok());
  EXPECT_EQ(ParseShard("2/3")->index, 2);
  EXPECT_EQ(ParseShard("2/3")->count, 3);

  TempDir tmp;
  std::mt19937_64 rng(5);
  std::string jsonl;
  for (int i = 0; i < 6; ++i) jsonl += "{\"text\":\"" + Words(rng, 20) + "\"}\n";
  InputSpec in;
  in.path = tmp.Write("c.jsonl", jsonl);
  DedupOptions opt;
  std::string s0 = tmp.path().string() + "/s0.jsonl", s1 = tmp.path().string() + "/s1.jsonl";
  std::string other = tmp.path().string() + "/other.jsonl";
  ASSERT_TRUE(WriteDedupShard(in, opt, ShardSpec{0, 2}, s0).ok());
  ASSERT_TRUE(WriteDedupShard(in, opt, ShardSpec{1, 2}, s1).ok());
  EXPECT_FALSE(WriteDedupShard(in, opt, ShardSpec{2, 2}, other).ok());
  ASSERT_TRUE(MergeDedupShards({s0, s1}).ok());

  DedupOptions seed2 = opt;
  seed2.seed = 2;
  ASSERT_TRUE(WriteDedupShard(in, seed2, ShardSpec{1, 2}, other).ok());
  Result<MergedDedup> mixed = MergeDedupShards({s0, other});
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.status().message().find("parameters differ"), std::string::npos) << mixed.status().message();

  EXPECT_FALSE(MergeDedupShards({s0}).ok());       // slice 1/2 missing
  EXPECT_FALSE(MergeDedupShards({s0, s0}).ok());   // slice 0/2 twice
  EXPECT_FALSE(MergeDedupShards({}).ok());
  EXPECT_FALSE(MergeDedupShards({tmp.path().string() + "/none.jsonl"}).ok());
  EXPECT_FALSE(MergeDedupShards({in.path}).ok());  // not a shard file

  // Truncated anywhere: mid-line or before the end line.
  std::ifstream f(s1, std::ios::binary);
  std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (size_t cut : {content.size() / 3, content.size() / 2, content.size() - 2}) {
    std::string t = tmp.Write("cut.jsonl", content.substr(0, cut));
    Result<MergedDedup> r = MergeDedupShards({s0, t});
    ASSERT_FALSE(r.ok()) << cut;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidInput);
  }
  // A field of the wrong type is an error, not a crash.
  std::string bad = content;
  size_t at = bad.find("\"record\":");
  ASSERT_NE(at, std::string::npos);
  bad.replace(at, 9, "\"record\":\"x\",\"was\":");
  EXPECT_FALSE(MergeDedupShards({s0, tmp.Write("bad.jsonl", bad)}).ok());
  // A float where an integer belongs (out of range or not) is an error naming the field, not an
  // undefined conversion (found by fuzz_catalog).
  for (const char* value : {"1.07e20", "3.5", "-1e300"}) {
    std::string flt = content;
    flt.replace(at, 9, std::string("\"record\":") + value + ",\"was\":");
    Result<MergedDedup> r = MergeDedupShards({s0, tmp.Write("float.jsonl", flt)});
    ASSERT_FALSE(r.ok()) << value;
    EXPECT_NE(r.status().message().find("'record' is not an integer in range"), std::string::npos) << r.status().message();
  }
}

TEST(AuditLeakage, ExactNearAndNgram) {
  TempDir tmp;
  std::mt19937_64 rng(5);
  std::string t0 = Words(rng, 60), t1 = Words(rng, 60), t2 = Words(rng, 60), t3 = Words(rng, 60);
  std::string near = t1;
  near.replace(near.rfind(' ') + 1, std::string::npos, "zzz");
  // A training document that quotes 20 words of t2 inside other text.
  std::string quoted = Words(rng, 30) + " " + t2.substr(0, t2.find(' ', t2.size() / 3)) + " " + Words(rng, 30);
  std::string train = "{\"id\":\"tr0\",\"text\":\"" + Words(rng, 50) + "\"}\n" +
                      "{\"id\":\"tr1\",\"text\":\"" + t0 + "\"}\n" +
                      "{\"id\":\"tr2\",\"text\":\"" + near + "\"}\n" +
                      "{\"id\":\"tr3\",\"text\":\"" + quoted + "\"}\n";
  std::string test = "{\"id\":\"q0\",\"text\":\"" + t0 + "\"}\n" +
                     "{\"id\":\"q1\",\"text\":\"" + t1 + "\"}\n" +
                     "{\"id\":\"q2\",\"text\":\"" + t2 + "\"}\n" +
                     "{\"id\":\"q3\",\"text\":\"" + t3 + "\"}\n";
  InputSpec tr, te;
  tr.path = tmp.Write("train.jsonl", train);
  te.path = tmp.Write("test.jsonl", test);
  tr.id_field = te.id_field = "id";
  Result<LeakageResult> r = FindLeakage(tr, te, LeakageOptions());
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->items.size(), 4u);
  EXPECT_EQ(r->items[0].kind, "exact");
  EXPECT_EQ(r->items[0].train_id, "tr1");
  EXPECT_EQ(r->items[1].kind, "near");
  EXPECT_EQ(r->items[1].train_id, "tr2");
  EXPECT_NEAR(r->items[1].overlap, 55.0 / 57.0, 1e-12);
  EXPECT_EQ(r->items[2].kind, "ngram");
  EXPECT_EQ(r->items[2].train_id, "tr3");
  EXPECT_GT(r->items[2].overlap, 0.0);
  EXPECT_LT(r->items[2].overlap, 0.5);
  EXPECT_FALSE(r->items[3].leaked);
  EXPECT_EQ(r->items[3].overlap, 0.0);
  EXPECT_EQ(r->leaked, 3);
  EXPECT_DOUBLE_EQ(r->contaminated_share, 0.75);
}

TEST(AuditLabels, ConflictsBalanceFloods) {
  TempDir tmp;
  std::mt19937_64 rng(9);
  std::string a = Words(rng, 40), b = Words(rng, 40), c = Words(rng, 40);
  std::string jsonl;
  auto add = [&](const std::string& text, const std::string& label) {
    jsonl += "{\"text\":\"" + text + "\",\"label\":\"" + label + "\"}\n";
  };
  add(a, "pos");
  add(a, "neg");  // conflict
  add(b, "pos");
  add(b, "pos");
  for (int i = 0; i < 12; ++i) add(c, "spam");  // a flood
  add(Words(rng, 40), "neg");
  InputSpec in;
  in.path = tmp.Write("labels.jsonl", jsonl);
  in.label_field = "label";
  Result<LabelAudit> r = AuditLabels(in, DedupOptions(), LabelOptions());
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->dedup.clusters.size(), 3u);
  ASSERT_EQ(r->conflicts.size(), 1u);
  EXPECT_EQ(r->conflicts[0].cluster, 0);
  EXPECT_EQ(r->conflicts[0].majority, "pos");
  ASSERT_EQ(r->classes.size(), 3u);
  EXPECT_EQ(r->classes[0].label, "spam");
  EXPECT_EQ(r->classes[0].count, 12);
  EXPECT_DOUBLE_EQ(r->imbalance_ratio, 6.0);
  EXPECT_DOUBLE_EQ(r->median_cluster_size, 2.0);
  EXPECT_EQ(r->flood_size, 20);
  EXPECT_TRUE(r->floods.empty());
  LabelOptions lo;
  lo.flood_factor = 5;
  r = AuditLabels(in, DedupOptions(), lo);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->floods.size(), 1u);
  EXPECT_EQ(r->floods[0].size, 12);
  EXPECT_EQ(r->floods[0].top_label, "spam");
  in.label_field.clear();
  EXPECT_FALSE(AuditLabels(in, DedupOptions(), LabelOptions()).ok());
}

}  // namespace
}  // namespace dlcost::audit

namespace dlcost::audit {
namespace {

// FIPS 180-4 example vectors (NIST, "SHA-256 example" and the one-million-'a' test of
// FIPS 180-2 appendix B.3).
TEST(AuditSha256, StandardVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  Sha256 s;
  std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) s.Update(chunk.data(), chunk.size());
  EXPECT_EQ(s.HexDigest(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // Split updates across block boundaries give the same digest.
  std::string msg(130, 'x');
  Sha256 parts;
  parts.Update(msg.data(), 1);
  parts.Update(msg.data() + 1, 63);
  parts.Update(msg.data() + 64, 66);
  EXPECT_EQ(parts.HexDigest(), Sha256Hex(msg));
}

TEST(AuditManifest, LicenseDetection) {
  EXPECT_EQ(DetectLicense("a.cc", "// SPDX-License-Identifier: Apache-2.0\nint x;"), "Apache-2.0");
  EXPECT_EQ(DetectLicense("a.c", "/* SPDX-License-Identifier: MIT OR Apache-2.0 */\n"), "MIT OR Apache-2.0");
  EXPECT_EQ(DetectLicense("a.txt", "Permission is hereby granted, free of charge, to any person obtaining a copy"), "");
  EXPECT_EQ(DetectLicense("LICENSE", "Permission is hereby granted, free of charge, to any person obtaining a copy"), "MIT");
  EXPECT_EQ(DetectLicense("LICENSE.txt", "Apache License\nVersion 2.0, January 2004\n"), "Apache-2.0");
  EXPECT_EQ(DetectLicense("COPYING", "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007"), "GPL-3.0-only");
  EXPECT_EQ(DetectLicense("COPYING", "GNU GENERAL PUBLIC LICENSE\nVersion 2, June 1991"), "GPL-2.0-only");
  EXPECT_EQ(DetectLicense("LICENSE", "Redistribution and use in source and binary forms ... Neither the name of"),
            "BSD-3-Clause");
  EXPECT_EQ(DetectLicense("LICENSE", "Redistribution and use in source and binary forms, with or without"), "BSD-2-Clause");
  EXPECT_EQ(DetectLicense("LICENSE", "some custom terms"), "");
}

TEST(AuditManifest, BuildCompare) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() / "d" / "s");
  tmp.Write("d/a.txt", "abc");
  tmp.Write("d/s/b.txt", "hello");
  Result<Manifest> m = BuildManifest((tmp.path() / "d").string());
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->files.size(), 2u);
  EXPECT_EQ(m->files[0].path, "a.txt");
  EXPECT_EQ(m->files[0].sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(m->files[1].path, "s/b.txt");
  EXPECT_EQ(m->files[1].size_bytes, 5);
  std::string saved = tmp.Write("m.json", ManifestToJson(*m));
  Result<Manifest> back = ReadManifest(saved);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(CompareManifests(*back, *m).empty());
  tmp.Write("d/a.txt", "abd");
  tmp.Write("d/c.txt", "new");
  std::filesystem::remove(tmp.path() / "d" / "s" / "b.txt");
  Result<Manifest> now = BuildManifest((tmp.path() / "d").string());
  ASSERT_TRUE(now.ok());
  std::vector<ManifestChange> ch = CompareManifests(*back, *now);
  ASSERT_EQ(ch.size(), 3u);
  EXPECT_EQ(ch[0].what, "changed");
  EXPECT_EQ(ch[1].what, "added");
  EXPECT_EQ(ch[1].path, "c.txt");
  EXPECT_EQ(ch[2].what, "removed");
  EXPECT_FALSE(BuildManifest((tmp.path() / "nope").string()).ok());
  EXPECT_FALSE(ReadManifest((tmp.path() / "d" / "c.txt").string()).ok());
}

}  // namespace
}  // namespace dlcost::audit
