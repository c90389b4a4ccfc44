// Exact and near-duplicate detection: content keys, MinHash + LSH candidates, exact Jaccard
// verification, union-find clusters; and the sharded form of the same (shard files, merge).
#include <algorithm>
#include <stdexcept>
#include <utility>
#include <fstream>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit/dedup_slices.h"
#include "audit/internal.h"
#include "dlcost/audit.h"
#include "audit/output_file.h"

namespace dlcost::audit {
namespace {

constexpr int64_t kProgressEvery = 10000;

using KeyedIndex = std::pair<uint64_t, uint32_t>;

// Sorts (key, index) pairs as std::sort would, when the indices ascend within each key: an LSD
// radix sort on the key, 16 bits a pass, stable, so several times faster than a comparison sort
// on the hundreds of thousands of random band keys of a large corpus.
void SortByKey(std::vector<KeyedIndex>* v, std::vector<KeyedIndex>* scratch) {
  constexpr size_t kSmall = 4096;  // below this, the 65,536 counters cost more than they save
  if (v->size() < kSmall) {
    std::sort(v->begin(), v->end());
    return;
  }
  std::vector<uint32_t> start(size_t{1} << 16);
  scratch->resize(v->size());
  for (int shift = 0; shift < 64; shift += 16) {
    std::fill(start.begin(), start.end(), 0);
    for (const KeyedIndex& e : *v) ++start[(e.first >> shift) & 0xffff];
    uint32_t sum = 0;
    for (uint32_t& c : start) {
      uint32_t n = c;
      c = sum;
      sum += n;
    }
    for (const KeyedIndex& e : *v) (*scratch)[start[(e.first >> shift) & 0xffff]++] = e;
    v->swap(*scratch);  // four passes: the result ends in *v
  }
}

// All pairs of representatives that share a band bucket, as (i << 32 | j) with i < j,
// sorted and unique. `keys` holds `bands` keys per representative.
std::vector<uint64_t> CandidatePairs(const std::vector<uint64_t>& keys, int bands, size_t reps) {
  std::vector<uint64_t> pairs;
  std::vector<KeyedIndex> bucket(reps), scratch;
  for (int k = 0; k < bands; ++k) {
    for (size_t i = 0; i < reps; ++i) bucket[i] = {keys[i * bands + k], static_cast<uint32_t>(i)};
    SortByKey(&bucket, &scratch);
    for (size_t s = 0; s < reps;) {
      size_t e = s + 1;
      while (e < reps && bucket[e].first == bucket[s].first) ++e;
      for (size_t x = s; x < e; ++x) {
        for (size_t y = x + 1; y < e; ++y) {
          pairs.push_back((static_cast<uint64_t>(bucket[x].second) << 32) | bucket[y].second);
        }
      }
      s = e;
    }
    if (pairs.size() > (size_t{1} << 24)) {  // keep the list compact while it grows
      std::sort(pairs.begin(), pairs.end());
      pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    }
  }
  std::sort(pairs.begin(), pairs.end());
  pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  return pairs;
}

}  // namespace

Status CheckDedupOptions(const DedupOptions& o) {
  if (!(o.threshold > 0 && o.threshold <= 1)) {
    return InvalidInput(fmt::format("--threshold: {} is outside (0, 1]", o.threshold));
  }
  if (o.ngram < 1 || o.ngram > 1000) return InvalidInput(fmt::format("--ngram: {} is outside 1..1000", o.ngram));
  if (o.num_perm < 1 || o.num_perm > 4096) {
    return InvalidInput(fmt::format("--num-perm: {} is outside 1..4096", o.num_perm));
  }
  if (!(o.tokens_per_word > 0 && o.tokens_per_word < 100)) return InvalidInput("--tokens-per-word: must be in (0, 100)");
  return Status::Ok();
}

bool AddDedupDocument(const std::string& id, int64_t record_number, int64_t words, int64_t bytes,
                      const ContentKey& key, DedupWork* w, DedupResult* r) {
  int64_t doc = static_cast<int64_t>(r->ids.size());
  r->ids.push_back(id);
  r->record_numbers.push_back(record_number);
  w->words.push_back(words);
  w->bytes.push_back(bytes);
  auto [it, inserted] = w->first_of_key.emplace(key, doc);
  w->exact_of.push_back(inserted ? -1 : it->second);
  if (inserted) w->rep_doc.push_back(doc);
  return inserted;
}

Status FindCandidates(DedupWork& w, const std::string& what, DedupResult* out, std::vector<char>* needed) {
  DedupResult& r = *out;
  r.documents = static_cast<int64_t>(r.ids.size());
  if (r.documents == 0) {
    return InvalidInput(fmt::format("{}: no usable record ({} skipped)", what, r.input.skipped));
  }
  if (r.documents >= (int64_t{1} << 32)) return InvalidInput(fmt::format("{}: more than 2^32 documents", what));
  w.first_of_key = {};

  // LSH candidates among representatives.
  w.candidates = CandidatePairs(w.band_keys, r.lsh.bands, w.rep_doc.size());
  w.band_keys = {};
  r.candidate_pairs = static_cast<int64_t>(w.candidates.size());
  needed->assign(r.documents, 0);
  for (uint64_t p : w.candidates) {
    (*needed)[w.rep_doc[p >> 32]] = 1;
    (*needed)[w.rep_doc[p & 0xffffffffu]] = 1;
  }
  return Status::Ok();
}

void ClusterDedup(DedupWork& w, const DedupOptions& opt, std::unordered_map<int64_t, std::vector<uint64_t>>& sets,
                  DedupResult* out) {
  DedupResult& r = *out;
  const std::vector<uint64_t>& cand = w.candidates;
  const std::vector<int64_t>& rep_doc = w.rep_doc;

  // Exact Jaccard of every candidate pair.
  std::vector<std::pair<int64_t, double>> near;  // (index into cand, jaccard)
  for (size_t i = 0; i < cand.size(); ++i) {
    int64_t a = rep_doc[cand[i] >> 32], b = rep_doc[cand[i] & 0xffffffffu];
    double j = Jaccard(sets[a], sets[b]);
    if (j >= opt.threshold) near.emplace_back(static_cast<int64_t>(i), j);
  }

  // Clusters.
  UnionFind uf(r.documents);
  for (int64_t d = 0; d < r.documents; ++d) {
    if (w.exact_of[d] >= 0) {
      uf.Union(d, w.exact_of[d]);
      r.pairs.push_back({w.exact_of[d], d, 1.0, true});
      ++r.exact_duplicates;
    }
  }
  for (const auto& [i, j] : near) {
    int64_t a = rep_doc[cand[i] >> 32], b = rep_doc[cand[i] & 0xffffffffu];
    uf.Union(a, b);
    r.pairs.push_back({std::min(a, b), std::max(a, b), j, false});
  }
  std::sort(r.pairs.begin(), r.pairs.end(), [](const DuplicatePair& x, const DuplicatePair& y) {
    return x.a != y.a ? x.a < y.a : x.b < y.b;
  });
  std::unordered_map<int64_t, size_t> cluster_of_root;
  r.removed.assign(r.documents, false);
  std::vector<int64_t> root(r.documents);
  std::vector<int64_t> size(r.documents, 0);
  for (int64_t d = 0; d < r.documents; ++d) {
    root[d] = uf.Find(d);
    ++size[root[d]];
  }
  int64_t removed = 0;
  for (int64_t d = 0; d < r.documents; ++d) {
    r.words_total += w.words[d];
    r.bytes_total += w.bytes[d];
    if (size[root[d]] < 2) continue;
    auto [it, inserted] = cluster_of_root.emplace(root[d], r.clusters.size());
    if (inserted) r.clusters.emplace_back();
    r.clusters[it->second].push_back(d);
    if (root[d] != d) {
      r.removed[d] = true;
      ++removed;
      r.words_wasted += w.words[d];
      r.bytes_wasted += w.bytes[d];
    }
  }
  r.near_duplicates = removed - r.exact_duplicates;
  r.tokens_wasted = static_cast<double>(r.words_wasted) * opt.tokens_per_word;
}

Status FinishDedup(DedupWork& w, const DedupOptions& opt, const std::string& what, const ShingleLoader& load,
                   DedupResult* r) {
  std::vector<char> needed;
  DLCOST_RETURN_IF_ERROR(FindCandidates(w, what, r, &needed));
  // Sorted shingle sets of the documents in a candidate pair.
  std::unordered_map<int64_t, std::vector<uint64_t>> sets;
  if (!w.candidates.empty()) DLCOST_RETURN_IF_ERROR(load(needed, &sets));
  ClusterDedup(w, opt, sets, r);
  return Status::Ok();
}

Result<DedupResult> Dedup(const InputSpec& in, const DedupOptions& opt) {
  DLCOST_RETURN_IF_ERROR(CheckDedupOptions(opt));
  DedupResult r;
  DLCOST_ASSIGN_OR_RETURN(r.lsh, ChooseLsh(opt.threshold, opt.num_perm));
  MinHasher mh(opt.num_perm, opt.seed);
  const bool with_labels = !in.label_field.empty();

  // Pass 1: content keys, word counts and, for the first document of each exact group, band keys.
  DedupWork w;
  DocumentFeatures f;
  Status st = ReadRecords(
      in,
      [&](Record& rec) -> Status {
        if (with_labels) r.labels.push_back(rec.label.value_or(""));
        WordHashes(rec.text, &f.words);
        if (AddDedupDocument(rec.id, rec.number, CountWords(rec.text), static_cast<int64_t>(rec.text.size()),
                             ContentKeyOf(f.words), &w, &r)) {
          RawShingles(f.words, opt.ngram, &f.shingles);
          f.signature.resize(opt.num_perm);
          mh.Sign(f.shingles.data(), f.shingles.size(), f.signature.data());
          size_t at = w.band_keys.size();
          w.band_keys.resize(at + r.lsh.bands);
          BandKeys(f.signature.data(), r.lsh, w.band_keys.data() + at);
        }
        int64_t docs = static_cast<int64_t>(r.ids.size());
        if (opt.progress && docs % kProgressEvery == 0) opt.progress("signatures", docs);
        return Status::Ok();
      },
      &r.input);
  DLCOST_RETURN_IF_ERROR(st);

  // Pass 2 (inside FinishDedup): the shingle sets of candidate documents, read again; only
  // those records are parsed.
  ShingleLoader load = [&](const std::vector<char>& needed,
                           std::unordered_map<int64_t, std::vector<uint64_t>>* sets) -> Status {
    Status found = Status::Ok();
    DLCOST_RETURN_IF_ERROR(ForEachShingleSet(in, opt, ShardSpec{0, 1}, NeededRecords(needed, r),
                                             [&](int64_t record, std::vector<uint64_t>& set) {
                                               Result<int64_t> doc = DocumentOfRecord(r, record);
                                               if (doc.ok()) (*sets)[*doc] = std::move(set);
                                               else found = doc.status();
                                             }));
    return found;
  };
  DLCOST_RETURN_IF_ERROR(FinishDedup(w, opt, in.path, load, &r));
  return r;
}

Status WriteDeduplicated(const InputSpec& in, const DedupResult& r, const std::string& out_path) {
  DLCOST_ASSIGN_OR_RETURN(InputFormat fmt_in, ResolvedFormat(in));
  DLCOST_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Open(out_path, in.path, "--write-deduplicated"));
  if (fmt_in == InputFormat::kCsv) {
    out.Write(r.input.csv_header);
    out.Write("\n");
  }
  int64_t doc = 0;
  InputStats again;
  DLCOST_RETURN_IF_ERROR(ReadRecords(
      in,
      [&](Record& rec) -> Status {
        int64_t d = doc++;
        if (d >= r.documents) return InvalidInput(fmt::format("{}: the input changed while it was read", in.path));
        if (r.removed[d]) return Status::Ok();
        if (fmt_in == InputFormat::kDir) {
          nlohmann::ordered_json j;
          j["id"] = rec.id;
          j["text"] = rec.text;
          out.Write(j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
        } else {
          out.Write(rec.raw);
        }
        out.Write("\n");
        return Status::Ok();
      },
      &again));
  return out.Commit();
}

// ---------------------------------------------------------------------------------------------
// Sharded dedup: each process writes the features of one slice of the records to a shard file;
// a merge reads every shard and clusters them with the same code as Dedup (FinishDedup).
//
// A shard file is JSON lines (docs/audit.md, "Sharding"): a header with the parameters, one line
// per document, and an end line with the document count and the input statistics. A file
// without its end line is truncated.
namespace {

using Json = nlohmann::json;

constexpr const char* kShardFormat = "dlcost-dedup-shard";
constexpr int kShardVersion = 1;

Json ParamsJson(const DedupOptions& opt, const LshParams& lsh) {
  Json p;
  p["threshold"] = opt.threshold;
  p["ngram"] = opt.ngram;
  p["num_perm"] = opt.num_perm;
  p["seed"] = opt.seed;
  p["lsh_bands"] = lsh.bands;
  p["lsh_rows"] = lsh.rows;
  p["normalisation"] = kNormalisationVersion;
  p["tokens_per_word"] = opt.tokens_per_word;
  return p;
}

Json InputJson(const InputSpec& in, const InputStats& st) {
  Json j;
  j["path"] = in.path;
  j["records"] = st.records;
  j["valid"] = st.valid;
  j["skipped"] = st.skipped;
  Json list = Json::array();
  for (const SkippedRecord& k : st.skipped_list) list.push_back({{"file", k.file}, {"line", k.line}, {"reason", k.reason}});
  j["skipped_list"] = list;
  j["skipped_by_reason"] = st.skipped_by_reason;
  j["csv_header"] = st.csv_header;
  return j;
}

// A shard field that is not what it must be (a value nlohmann's get<> would not reject).
struct BadShardField : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An integer field: an integer JSON number within T's range. nlohmann's get<T> converts a
// floating-point number with a static_cast, which is undefined behaviour out of T's range.
template <typename T>
T IntOf(const Json& v, const char* name) {
  if (v.is_number_unsigned()) {
    uint64_t x = v.get<uint64_t>();
    if (std::in_range<T>(x)) return static_cast<T>(x);
  } else if (v.is_number_integer()) {
    int64_t x = v.get<int64_t>();
    if (std::in_range<T>(x)) return static_cast<T>(x);
  }
  throw BadShardField(fmt::format("'{}' is not an integer in range", name));
}

template <typename T>
std::vector<T> IntsOf(const Json& v, const char* name) {
  if (!v.is_array()) throw BadShardField(fmt::format("'{}' is not an array", name));
  std::vector<T> out;
  out.reserve(v.size());
  for (const Json& e : v) out.push_back(IntOf<T>(e, name));
  return out;
}

// One document of a shard.
struct ShardDoc {
  std::string id;
  int64_t record = 0;
  int64_t words = 0, bytes = 0;
  ContentKey key;
  std::vector<uint32_t> signature;
  std::vector<uint64_t> shingles;  // sorted, unique
};

// What one shard file holds.
struct ShardFile {
  Json params;
  ShardSpec shard;
  std::string input_path;
  InputStats input;
  std::vector<ShardDoc> docs;
};

Status DecodeDoc(const Json& j, const ShardFile& f, int num_perm, ShardDoc* d) {
  d->id = j.at("id").get<std::string>();
  d->record = IntOf<int64_t>(j.at("record"), "record");
  d->words = IntOf<int64_t>(j.at("words"), "words");
  d->bytes = IntOf<int64_t>(j.at("bytes"), "bytes");
  const Json& key = j.at("key");
  if (!key.is_array() || key.size() != 2) return InvalidInput("'key' is not two numbers");
  d->key.h1 = IntOf<uint64_t>(key[0], "key");
  d->key.h2 = IntOf<uint64_t>(key[1], "key");
  d->signature = IntsOf<uint32_t>(j.at("signature"), "signature");
  d->shingles = IntsOf<uint64_t>(j.at("shingles"), "shingles");
  if (static_cast<int>(d->signature.size()) != num_perm) {
    return InvalidInput(fmt::format("signature has {} values, num_perm is {}", d->signature.size(), num_perm));
  }
  if (std::adjacent_find(d->shingles.begin(), d->shingles.end(), std::greater_equal<uint64_t>()) != d->shingles.end()) {
    return InvalidInput("shingles are not sorted and unique");
  }
  if (d->record < 0 || d->record % f.shard.count != f.shard.index) {
    return InvalidInput(fmt::format("record {} does not belong to slice {}/{}", d->record, f.shard.index, f.shard.count));
  }
  return Status::Ok();
}

void DecodeInput(const Json& j, ShardFile* f) {
  f->input_path = j.at("path").get<std::string>();
  f->input.records = IntOf<int64_t>(j.at("records"), "records");
  f->input.valid = IntOf<int64_t>(j.at("valid"), "valid");
  f->input.skipped = IntOf<int64_t>(j.at("skipped"), "skipped");
  for (const Json& k : j.at("skipped_list")) {
    f->input.skipped_list.push_back(
        {k.at("file").get<std::string>(), IntOf<int64_t>(k.at("line"), "line"), k.at("reason").get<std::string>()});
  }
  const Json& by_reason = j.at("skipped_by_reason");
  if (!by_reason.is_object()) throw BadShardField("'skipped_by_reason' is not an object");
  for (const auto& [reason, n] : by_reason.items()) f->input.skipped_by_reason[reason] = IntOf<int64_t>(n, "skipped_by_reason");
  f->input.csv_header = j.at("csv_header").get<std::string>();
}

// Decodes line `line_no` (1-based) of a shard; the header sets f->params and f->shard.
// Sets *ended on the end line.
Status DecodeLine(const std::string& text, int64_t line_no, ShardFile* f, bool* ended) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return InvalidInput("not a JSON object (truncated or not a shard file?)");
  if (line_no == 1) {
    if (!j.contains("format") || j["format"] != kShardFormat) return InvalidInput("not a dlcost dedup shard file");
    if (!j.contains("version") || j["version"] != kShardVersion) {
      return InvalidInput(fmt::format("shard format version is not {}", kShardVersion));
    }
    f->params = j.at("params");
    if (!f->params.is_object()) return InvalidInput("'params' is not an object");
    f->shard.index = IntOf<int64_t>(j.at("shard"), "shard");
    f->shard.count = IntOf<int64_t>(j.at("shards"), "shards");
    if (f->shard.count < 1 || f->shard.index < 0 || f->shard.index >= f->shard.count) {
      return InvalidInput(fmt::format("slice {}/{} is not valid", f->shard.index, f->shard.count));
    }
    return Status::Ok();
  }
  if (j.contains("end")) {
    int64_t n = IntOf<int64_t>(j.at("documents"), "documents");
    if (n != static_cast<int64_t>(f->docs.size())) {
      return InvalidInput(fmt::format("end line counts {} documents, the file holds {}", n, f->docs.size()));
    }
    DecodeInput(j.at("input"), f);
    *ended = true;
    return Status::Ok();
  }
  ShardDoc d;
  DLCOST_RETURN_IF_ERROR(DecodeDoc(j, *f, IntOf<int>(f->params.at("num_perm"), "num_perm"), &d));
  f->docs.push_back(std::move(d));
  return Status::Ok();
}

Result<ShardFile> ReadShard(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidInput(fmt::format("{}: cannot read the shard file", path));
  ShardFile f;
  std::string text;
  int64_t line_no = 0;
  bool ended = false;
  while (std::getline(in, text)) {
    ++line_no;
    if (ended) return InvalidInput(fmt::format("{}:{}: data after the end line", path, line_no));
    Status st;
    try {
      st = DecodeLine(text, line_no, &f, &ended);
    } catch (const Json::exception& e) {  // a missing field or a value of the wrong type
      st = InvalidInput(fmt::format("bad field ({})", e.what()));
    } catch (const BadShardField& e) {
      st = InvalidInput(fmt::format("bad field ({})", e.what()));
    }
    if (!st.ok()) return InvalidInput(fmt::format("{}:{}: {}", path, line_no, st.message()));
  }
  if (line_no == 0) return InvalidInput(fmt::format("{}: empty shard file", path));
  if (!ended) return InvalidInput(fmt::format("{}: truncated shard file (no end line after line {})", path, line_no));
  return f;
}

// The first key whose value differs between two parameter objects.
std::string FirstDifference(const Json& a, const Json& b) {
  for (const auto& [k, v] : a.items()) {
    if (!b.contains(k) || b[k] != v) {
      return fmt::format("{} is {} here, {} in the first shard", k, b.contains(k) ? b[k].dump() : "missing", v.dump());
    }
  }
  for (const auto& [k, v] : b.items()) {
    if (!a.contains(k)) return fmt::format("{} is not in the first shard", k);
  }
  return "";
}

Result<DedupOptions> OptionsOf(const Json& p, LshParams* lsh) {
  DedupOptions opt;
  try {
    opt.threshold = p.at("threshold").get<double>();
    opt.ngram = IntOf<int>(p.at("ngram"), "ngram");
    opt.num_perm = IntOf<int>(p.at("num_perm"), "num_perm");
    opt.seed = IntOf<uint64_t>(p.at("seed"), "seed");
    opt.tokens_per_word = p.at("tokens_per_word").get<double>();
    if (p.at("normalisation") != kNormalisationVersion) {
      return InvalidInput(fmt::format("normalisation {} is not this build's {}", p.at("normalisation").dump(),
                                      kNormalisationVersion));
    }
    DLCOST_RETURN_IF_ERROR(CheckDedupOptions(opt));
    DLCOST_ASSIGN_OR_RETURN(*lsh, ChooseLsh(opt.threshold, opt.num_perm));
    if (IntOf<int>(p.at("lsh_bands"), "lsh_bands") != lsh->bands || IntOf<int>(p.at("lsh_rows"), "lsh_rows") != lsh->rows) {
      return InvalidInput("lsh_bands x lsh_rows differ from the choice for this threshold and num_perm");
    }
  } catch (const Json::exception& e) {
    return InvalidInput(fmt::format("bad parameter ({})", e.what()));
  } catch (const BadShardField& e) {
    return InvalidInput(fmt::format("bad parameter ({})", e.what()));
  }
  return opt;
}

}  // namespace

Result<ShardSpec> ParseShard(const std::string& text) {
  ShardSpec s;
  size_t slash = text.find('/');
  auto number = [](const std::string& t, int64_t* out) {
    if (t.empty() || t.size() > 9 || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    *out = std::stoll(t);
    return true;
  };
  if (slash == std::string::npos || !number(text.substr(0, slash), &s.index) || !number(text.substr(slash + 1), &s.count)) {
    return UsageError(fmt::format("--shard: '{}' is not I/N (two whole numbers)", text));
  }
  if (s.count < 1) return UsageError(fmt::format("--shard: '{}': N must be at least 1", text));
  if (s.index >= s.count) return UsageError(fmt::format("--shard: '{}': I must be below N (0 <= I < N)", text));
  return s;
}

Result<int64_t> WriteDedupShard(const InputSpec& in, const DedupOptions& opt, const ShardSpec& shard,
                                const std::string& out_path) {
  DLCOST_RETURN_IF_ERROR(CheckDedupOptions(opt));
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count) {
    return UsageError(fmt::format("--shard: {}/{} is not a slice (0 <= I < N)", shard.index, shard.count));
  }
  DLCOST_ASSIGN_OR_RETURN(LshParams lsh, ChooseLsh(opt.threshold, opt.num_perm));
  MinHasher mh(opt.num_perm, opt.seed);
  DLCOST_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Open(out_path, in.path, "--shard-out"));
  Json header;
  header["format"] = kShardFormat;
  header["version"] = kShardVersion;
  header["shard"] = shard.index;
  header["shards"] = shard.count;
  header["params"] = ParamsJson(opt, lsh);
  out.Write(header.dump() + "\n");

  InputStats stats;
  DocumentFeatures f;
  std::vector<uint64_t> sorted;
  int64_t docs = 0;
  DLCOST_RETURN_IF_ERROR(ReadRecords(
      in,
      [&](Record& rec) -> Status {
        if (rec.number % shard.count != shard.index) return Status::Ok();
        ComputeFeatures(rec.text, opt.ngram, mh, lsh, &f);
        Shingles(f.words, opt.ngram, &sorted);
        Json d;
        d["id"] = rec.id;
        d["record"] = rec.number;
        d["words"] = CountWords(rec.text);
        d["bytes"] = static_cast<int64_t>(rec.text.size());
        d["key"] = {f.key.h1, f.key.h2};
        d["signature"] = f.signature;
        d["shingles"] = sorted;
        out.Write(d.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
        ++docs;
        if (opt.progress && docs % kProgressEvery == 0) opt.progress("signatures", docs);
        return Status::Ok();
      },
      &stats));
  if (stats.valid == 0) return InvalidInput(fmt::format("{}: no usable record ({} skipped)", in.path, stats.skipped));
  Json end;
  end["end"] = true;
  end["documents"] = docs;
  end["input"] = InputJson(in, stats);
  out.Write(end.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n");
  DLCOST_RETURN_IF_ERROR(out.Commit());
  return docs;
}

Result<MergedDedup> MergeDedupShards(const std::vector<std::string>& paths) {
  if (paths.empty()) return UsageError("audit merge: give at least one shard file");
  std::vector<ShardFile> shards;
  std::set<int64_t> seen;
  for (const std::string& path : paths) {
    DLCOST_ASSIGN_OR_RETURN(ShardFile f, ReadShard(path));
    if (!shards.empty()) {
      const ShardFile& first = shards.front();
      std::string diff = FirstDifference(first.params, f.params);
      if (!diff.empty()) return InvalidInput(fmt::format("{}: parameters differ from {}: {}", path, paths[0], diff));
      if (f.shard.count != first.shard.count) {
        return InvalidInput(
            fmt::format("{}: slice of {} shards, {} is of {}", path, f.shard.count, paths[0], first.shard.count));
      }
      if (f.input.records != first.input.records) {
        return InvalidInput(fmt::format("{}: made from an input of {} records, {} from one of {}", path, f.input.records,
                                        paths[0], first.input.records));
      }
    }
    if (!seen.insert(f.shard.index).second) {
      return InvalidInput(fmt::format("{}: slice {}/{} is given twice", path, f.shard.index, f.shard.count));
    }
    shards.push_back(std::move(f));
  }
  const int64_t count = shards.front().shard.count;
  if (static_cast<int64_t>(seen.size()) != count) {
    int64_t missing = 0;
    while (seen.count(missing)) ++missing;
    return InvalidInput(fmt::format("audit merge: slice {}/{} is missing ({} of {} shards given)", missing, count,
                                    seen.size(), count));
  }

  MergedDedup m;
  DedupResult& r = m.result;
  Result<DedupOptions> opt = OptionsOf(shards.front().params, &r.lsh);
  if (!opt.ok()) return InvalidInput(fmt::format("{}: {}", paths[0], opt.status().message()));
  m.options = *opt;
  m.input = shards.front().input_path;
  r.input = shards.front().input;

  std::vector<ShardDoc> docs;
  for (ShardFile& f : shards) {
    for (ShardDoc& d : f.docs) docs.push_back(std::move(d));
    f.docs = {};
  }
  std::sort(docs.begin(), docs.end(), [](const ShardDoc& a, const ShardDoc& b) { return a.record < b.record; });
  for (size_t i = 1; i < docs.size(); ++i) {
    if (docs[i].record == docs[i - 1].record) {
      return InvalidInput(fmt::format("audit merge: record {} appears in two shards", docs[i].record));
    }
  }
  DedupWork w;
  for (const ShardDoc& d : docs) {
    if (AddDedupDocument(d.id, d.record, d.words, d.bytes, d.key, &w, &r)) {
      size_t at = w.band_keys.size();
      w.band_keys.resize(at + r.lsh.bands);
      BandKeys(d.signature.data(), r.lsh, w.band_keys.data() + at);
    }
  }
  ShingleLoader load = [&docs](const std::vector<char>& needed,
                               std::unordered_map<int64_t, std::vector<uint64_t>>* sets) -> Status {
    for (size_t d = 0; d < docs.size(); ++d) {
      if (needed[d]) (*sets)[static_cast<int64_t>(d)] = std::move(docs[d].shingles);
    }
    return Status::Ok();
  };
  DLCOST_RETURN_IF_ERROR(FinishDedup(w, m.options, m.input, load, &r));
  return m;
}

}  // namespace dlcost::audit
