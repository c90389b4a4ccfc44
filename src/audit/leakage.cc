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

// The test set in memory, indexed by content key, by LSH band and by contamination n-gram.
struct TestIndex {
  std::vector<TestItem> items;
  std::unordered_map<ContentKey, std::vector<int32_t>, ContentKeyHash> by_key;
  std::vector<std::unordered_map<uint64_t, std::vector<int32_t>>> by_band;
  std::unordered_map<uint64_t, int64_t> gram_first_train;  // n-gram -> first training document, or -1
};

Status IndexTestSet(const InputSpec& test, const LeakageOptions& opt, const MinHasher& mh, LeakageResult& res,
                    TestIndex& index) {
  index.by_band.resize(res.lsh.bands);
  DocumentFeatures f;
  DLCOST_RETURN_IF_ERROR(ReadRecords(
      test,
      [&](Record& rec) -> Status {
        if (index.items.size() >= (size_t{1} << 31) - 1) return InvalidInput(fmt::format("{}: too many test items", test.path));
        int32_t i = static_cast<int32_t>(index.items.size());
        TestItem t;
        t.id = rec.id;
        ComputeFeatures(rec.text, opt.ngram, mh, res.lsh, &f);
        t.key = f.key;
        t.shingles = f.shingles;
        SortUnique(&t.shingles);
        if (static_cast<int>(f.words.size()) >= opt.contamination_ngram) {
          Shingles(f.words, opt.contamination_ngram, &t.grams);
          for (uint64_t g : t.grams) index.gram_first_train.emplace(g, -1);
        }
        index.by_key[t.key].push_back(i);
        for (int k = 0; k < res.lsh.bands; ++k) index.by_band[k][f.band_keys[k]].push_back(i);
        index.items.push_back(std::move(t));
        return Status::Ok();
      },
      &res.test_input));
  if (index.items.empty()) {
    return InvalidInput(fmt::format("{}: no usable test item ({} skipped)", test.path, res.test_input.skipped));
  }
  return Status::Ok();
}

// Matches one training document (number `doc`, features `f`) against the test index: exact
// copies, near duplicates verified by Jaccard, and first sightings of contamination n-grams.
// True when it matched anything (its id is then kept).
class TrainingMatcher {
 public:
  TrainingMatcher(const LeakageOptions& opt, TestIndex& index) : opt_(opt), index_(index) {}

  bool Match(int64_t doc, const DocumentFeatures& f) {
    bool matched = MatchExact(doc, f);
    matched = MatchNear(doc, f) || matched;
    matched = MatchGrams(doc, f) || matched;
    return matched;
  }

 private:
  bool MatchExact(int64_t doc, const DocumentFeatures& f) {
    bool matched = false;
    if (auto it = index_.by_key.find(f.key); it != index_.by_key.end()) {
      for (int32_t i : it->second) {
        if (index_.items[i].exact_train < 0) {
          index_.items[i].exact_train = doc;
          matched = true;
        }
      }
    }
    return matched;
  }

  bool MatchNear(int64_t doc, const DocumentFeatures& f) {
    cands_.clear();
    for (size_t k = 0; k < index_.by_band.size(); ++k) {
      auto it = index_.by_band[k].find(f.band_keys[k]);
      if (it != index_.by_band[k].end()) cands_.insert(cands_.end(), it->second.begin(), it->second.end());
    }
    if (cands_.empty()) return false;
    bool matched = false;
    std::sort(cands_.begin(), cands_.end());
    cands_.erase(std::unique(cands_.begin(), cands_.end()), cands_.end());
    sorted_shingles_ = f.shingles;
    SortUnique(&sorted_shingles_);
    for (int32_t i : cands_) {
      TestItem& item = index_.items[i];
      double j = Jaccard(item.shingles, sorted_shingles_);
      if (j >= opt_.threshold && j > item.near_jaccard) {
        item.near_jaccard = j;
        item.near_train = doc;
        matched = true;
      }
    }
    return matched;
  }

  bool MatchGrams(int64_t doc, const DocumentFeatures& f) {
    if (index_.gram_first_train.empty() || static_cast<int>(f.words.size()) < opt_.contamination_ngram) return false;
    bool matched = false;
    RawShingles(f.words, opt_.contamination_ngram, &grams_);
    for (uint64_t g : grams_) {
      auto it = index_.gram_first_train.find(g);
      if (it != index_.gram_first_train.end() && it->second < 0) {
        it->second = doc;
        matched = true;
      }
    }
    return matched;
  }

  const LeakageOptions& opt_;
  TestIndex& index_;
  std::vector<int32_t> cands_;
  std::vector<uint64_t> sorted_shingles_, grams_;
};

// The verdict for one test item: exact copy, near duplicate, or n-gram overlap (in that order).
LeakageItem Classify(const TestItem& it, const TestIndex& index, const std::unordered_map<int64_t, std::string>& train_ids,
                     LeakageResult& res) {
  LeakageItem out;
  out.id = it.id;
  out.ngrams = static_cast<int64_t>(it.grams.size());
  int64_t first_gram_doc = -1;
  for (uint64_t g : it.grams) {
    int64_t d = index.gram_first_train.at(g);
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
  return out;
}

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
  TestIndex index;
  DLCOST_RETURN_IF_ERROR(IndexTestSet(test, opt, mh, res, index));

  // Stream the training set once.
  std::unordered_map<int64_t, std::string> train_ids;  // only the documents that matched
  TrainingMatcher matcher(opt, index);
  DocumentFeatures f;
  int64_t t = 0;
  DLCOST_RETURN_IF_ERROR(ReadRecords(
      train,
      [&](Record& rec) -> Status {
        const int64_t doc = t++;
        ComputeFeatures(rec.text, opt.ngram, mh, res.lsh, &f);
        if (matcher.Match(doc, f)) train_ids.emplace(doc, rec.id);
        if (opt.progress && t % 10000 == 0) opt.progress("training set", t);
        return Status::Ok();
      },
      &res.train_input));
  res.train_documents = t;
  if (t == 0) return InvalidInput(fmt::format("{}: no usable training record ({} skipped)", train.path, res.train_input.skipped));

  for (const TestItem& it : index.items) res.items.push_back(Classify(it, index, train_ids, res));
  res.contaminated_share = static_cast<double>(res.leaked) / static_cast<double>(res.items.size());
  return res;
}

}  // namespace dlcost::audit
