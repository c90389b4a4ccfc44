// Train/test leakage (exact and near duplicates of test items in the training set) and
// benchmark contamination by long n-gram overlap (Brown et al. 2020, GPT-3, appendix C).
#include <algorithm>
#include <unordered_map>

#include <fmt/format.h>

#include "audit/internal.h"
#include "dlcost/audit.h"

namespace dlcost::audit {
namespace {

struct TestItem {
  std::string id;
  ContentKey key;
  std::vector<uint64_t> shingles;  // sorted, unique
  std::vector<uint64_t> grams;     // contamination n-grams, sorted, unique
  int64_t exact_train = -1;
  int64_t near_train = -1;
  double near_jaccard = 0;
};

}  // namespace

Result<LeakageResult> FindLeakage(const InputSpec& train, const InputSpec& test, const LeakageOptions& opt) {
  DedupOptions check;
  check.threshold = opt.threshold;
  check.ngram = opt.ngram;
  check.num_perm = opt.num_perm;
  DLCOST_RETURN_IF_ERROR(CheckDedupOptions(check));
  if (opt.contamination_ngram < 1 || opt.contamination_ngram > 1000) {
    return InvalidInput(fmt::format("--contamination-ngram: {} is outside 1..1000", opt.contamination_ngram));
  }
  LeakageResult res;
  DLCOST_ASSIGN_OR_RETURN(res.lsh, ChooseLsh(opt.threshold, opt.num_perm));
  MinHasher mh(opt.num_perm, opt.seed);
  const int bands = res.lsh.bands;

  // The test set, in memory.
  std::vector<TestItem> items;
  std::unordered_map<ContentKey, std::vector<int32_t>, ContentKeyHash> by_key;
  std::vector<std::unordered_map<uint64_t, std::vector<int32_t>>> by_band(bands);
  std::unordered_map<uint64_t, int64_t> gram_first_train;  // n-gram -> first training document, or -1
  DocumentFeatures f;
  DLCOST_RETURN_IF_ERROR(ReadRecords(
      test,
      [&](Record& rec) -> Status {
        if (items.size() >= (size_t{1} << 31) - 1) return InvalidInput(fmt::format("{}: too many test items", test.path));
        int32_t i = static_cast<int32_t>(items.size());
        TestItem t;
        t.id = rec.id;
        ComputeFeatures(rec.text, opt.ngram, mh, res.lsh, &f);
        t.key = f.key;
        t.shingles = f.shingles;
        SortUnique(&t.shingles);
        if (static_cast<int>(f.words.size()) >= opt.contamination_ngram) {
          Shingles(f.words, opt.contamination_ngram, &t.grams);
          for (uint64_t g : t.grams) gram_first_train.emplace(g, -1);
        }
        by_key[t.key].push_back(i);
        for (int k = 0; k < bands; ++k) by_band[k][f.band_keys[k]].push_back(i);
        items.push_back(std::move(t));
        return Status::Ok();
      },
      &res.test_input));
  if (items.empty()) return InvalidInput(fmt::format("{}: no usable test item ({} skipped)", test.path, res.test_input.skipped));

  // Stream the training set once.
  std::unordered_map<int64_t, std::string> train_ids;  // only the documents that matched
  std::vector<int32_t> cands;
  std::vector<uint64_t> sorted_shingles, grams;
  int64_t t = 0;
  DLCOST_RETURN_IF_ERROR(ReadRecords(
      train,
      [&](Record& rec) -> Status {
        const int64_t doc = t++;
        bool matched = false;
        ComputeFeatures(rec.text, opt.ngram, mh, res.lsh, &f);
        if (auto it = by_key.find(f.key); it != by_key.end()) {
          for (int32_t i : it->second) {
            if (items[i].exact_train < 0) {
              items[i].exact_train = doc;
              matched = true;
            }
          }
        }
        cands.clear();
        for (int k = 0; k < bands; ++k) {
          auto it = by_band[k].find(f.band_keys[k]);
          if (it != by_band[k].end()) cands.insert(cands.end(), it->second.begin(), it->second.end());
        }
        if (!cands.empty()) {
          std::sort(cands.begin(), cands.end());
          cands.erase(std::unique(cands.begin(), cands.end()), cands.end());
          sorted_shingles = f.shingles;
          SortUnique(&sorted_shingles);
          for (int32_t i : cands) {
            double j = Jaccard(items[i].shingles, sorted_shingles);
            if (j >= opt.threshold && j > items[i].near_jaccard) {
              items[i].near_jaccard = j;
              items[i].near_train = doc;
              matched = true;
            }
          }
        }
        if (!gram_first_train.empty() && static_cast<int>(f.words.size()) >= opt.contamination_ngram) {
          RawShingles(f.words, opt.contamination_ngram, &grams);
          for (uint64_t g : grams) {
            auto it = gram_first_train.find(g);
            if (it != gram_first_train.end() && it->second < 0) {
              it->second = doc;
              matched = true;
            }
          }
        }
        if (matched) train_ids.emplace(doc, rec.id);
        if (opt.progress && t % 10000 == 0) opt.progress("training set", t);
        return Status::Ok();
      },
      &res.train_input));
  res.train_documents = t;
  if (t == 0) return InvalidInput(fmt::format("{}: no usable training record ({} skipped)", train.path, res.train_input.skipped));

  for (const TestItem& it : items) {
    LeakageItem out;
    out.id = it.id;
    out.ngrams = static_cast<int64_t>(it.grams.size());
    int64_t first_gram_doc = -1;
    for (uint64_t g : it.grams) {
      int64_t d = gram_first_train.at(g);
      if (d < 0) continue;
      ++out.ngrams_in_train;
      if (first_gram_doc < 0 || d < first_gram_doc) first_gram_doc = d;
    }
    double share = out.ngrams > 0 ? static_cast<double>(out.ngrams_in_train) / static_cast<double>(out.ngrams) : 0.0;
    out.overlap = share;
    if (it.exact_train >= 0) {
      out.leaked = true;
      out.kind = "exact";
      out.train_id = train_ids.at(it.exact_train);
      out.overlap = 1.0;
      ++res.exact;
    } else if (it.near_train >= 0) {
      out.leaked = true;
      out.kind = "near";
      out.train_id = train_ids.at(it.near_train);
      out.overlap = it.near_jaccard;
      ++res.near;
    } else if (out.ngrams_in_train > 0) {
      out.leaked = true;
      out.kind = "ngram";
      out.train_id = train_ids.at(first_gram_doc);
      ++res.ngram;
    }
    if (out.leaked) ++res.leaked;
    res.items.push_back(std::move(out));
  }
  res.contaminated_share = static_cast<double>(res.leaked) / static_cast<double>(res.items.size());
  return res;
}

}  // namespace dlcost::audit
