// Dedup over slices of one input (dedup_slices.h): per-slice features, their byte encoding,
// the merge in record order and the per-slice shingle sets for exact verification.
#include "audit/dedup_slices.h"

#include <algorithm>
#include <cstring>
#include <queue>
#include <tuple>
#include <unordered_set>

#include <fmt/format.h>

namespace dlcost::audit {
namespace {

constexpr int64_t kProgressEvery = 10000;

// "dlcslc01" and "dlcshg01" read as little-endian 64-bit numbers: the first word of a slice and
// of a shingle message. Read on a machine of the other byte order they come out reversed.
constexpr uint64_t kSliceMagic = 0x3130636c73636c64ULL;
constexpr uint64_t kShinglesMagic = 0x3130676873636c64ULL;

uint64_t ByteSwapped(uint64_t v) {
  uint64_t r = 0;
  for (int i = 0; i < 8; ++i) r = (r << 8) | ((v >> (8 * i)) & 0xff);
  return r;
}

// Appends fixed-width values in the machine's byte order.
class ByteWriter {
 public:
  void U64(uint64_t v) { Raw(&v, sizeof v); }
  void I64(int64_t v) { Raw(&v, sizeof v); }
  void F64(double v) { Raw(&v, sizeof v); }
  void Str(std::string_view s) {
    U64(s.size());
    out_.append(s);
  }
  template <typename T>
  void Vec(const std::vector<T>& v) {
    U64(v.size());
    Raw(v.data(), v.size() * sizeof(T));
  }
  std::string Take() { return std::move(out_); }

 private:
  void Raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string out_;
};

// Reads what ByteWriter wrote. Reading past the end sets failed() and yields zeros.
class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}
  uint64_t U64() { return Fixed<uint64_t>(); }
  int64_t I64() { return Fixed<int64_t>(); }
  double F64() { return Fixed<double>(); }
  std::string Str() {
    uint64_t n = U64();
    if (n > Left()) return Fail<std::string>();
    std::string s(data_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  template <typename T>
  void Vec(std::vector<T>* v) {
    uint64_t n = U64();
    if (n > Left() / sizeof(T)) {
      failed_ = true;
      v->clear();
      return;
    }
    v->resize(n);
    if (n > 0) std::memcpy(v->data(), data_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
  }
  bool failed() const { return failed_; }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  size_t Left() const { return data_.size() - pos_; }
  template <typename T>
  T Fail() {
    failed_ = true;
    pos_ = data_.size();
    return T();
  }
  template <typename T>
  T Fixed() {
    if (Left() < sizeof(T)) return Fail<T>();
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string_view data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// Checks the first word of a message.
Status CheckMagic(ByteReader& in, uint64_t magic, const char* what) {
  uint64_t m = in.U64();
  if (m == magic) return Status::Ok();
  if (m == ByteSwapped(magic)) return InvalidInput(fmt::format("{}: made on a machine of the other byte order", what));
  return InvalidInput(fmt::format("{}: not dlcost {} data", what, what));
}

void WriteParams(ByteWriter& out, const DedupOptions& opt, const LshParams& lsh) {
  out.F64(opt.threshold);
  out.I64(opt.ngram);
  out.I64(opt.num_perm);
  out.U64(opt.seed);
  out.I64(lsh.bands);
  out.I64(lsh.rows);
  out.F64(opt.tokens_per_word);
  out.Str(kNormalisationVersion);
}

// The first parameter of a slice that differs from this process's, or "".
std::string ParamsDifference(ByteReader& in, const DedupOptions& opt, const LshParams& lsh) {
  double threshold = in.F64();
  int64_t ngram = in.I64(), num_perm = in.I64();
  uint64_t seed = in.U64();
  int64_t bands = in.I64(), rows = in.I64();
  double tokens_per_word = in.F64();
  std::string normalisation = in.Str();
  if (threshold != opt.threshold) return fmt::format("--threshold {} (here {})", threshold, opt.threshold);
  if (ngram != opt.ngram) return fmt::format("--ngram {} (here {})", ngram, opt.ngram);
  if (num_perm != opt.num_perm) return fmt::format("--num-perm {} (here {})", num_perm, opt.num_perm);
  if (seed != opt.seed) return fmt::format("--seed {} (here {})", seed, opt.seed);
  if (tokens_per_word != opt.tokens_per_word) {
    return fmt::format("--tokens-per-word {} (here {})", tokens_per_word, opt.tokens_per_word);
  }
  if (bands != lsh.bands || rows != lsh.rows) return fmt::format("LSH {} x {} (here {} x {})", bands, rows, lsh.bands, lsh.rows);
  if (normalisation != kNormalisationVersion) {
    return fmt::format("normalisation {} (here {})", normalisation, kNormalisationVersion);
  }
  return "";
}

}  // namespace

Result<SliceDocs> ComputeSlice(const InputSpec& in, const DedupOptions& opt, const LshParams& lsh,
                               const ShardSpec& slice) {
  DLCOST_RETURN_IF_ERROR(CheckDedupOptions(opt));
  if (slice.count < 1 || slice.index < 0 || slice.index >= slice.count) {
    return UsageError(fmt::format("slice {}/{} is not valid (0 <= I < N)", slice.index, slice.count));
  }
  SliceDocs s;
  s.slice = slice;
  MinHasher mh(opt.num_perm, opt.seed);
  std::unordered_set<ContentKey, ContentKeyHash> seen;
  RecordFilter keep = [&](int64_t number) {
    s.records_split = number + 1;
    return number % slice.count == slice.index;
  };
  DocumentFeatures f;
  int64_t docs = 0;
  DLCOST_RETURN_IF_ERROR(ReadSomeRecords(
      in, &keep,
      [&](Record& rec) -> Status {
        WordHashes(rec.text, &f.words);
        ContentKey key = ContentKeyOf(f.words);
        s.ids.push_back(rec.id);
        s.records.push_back(rec.number);
        s.words.push_back(CountWords(rec.text));
        s.bytes.push_back(static_cast<int64_t>(rec.text.size()));
        s.keys.push_back(key);
        // Only the first document of a content key can represent its group in the whole input.
        const bool first = seen.insert(key).second;
        s.has_bands.push_back(first ? 1 : 0);
        if (first) {
          RawShingles(f.words, opt.ngram, &f.shingles);
          f.signature.resize(opt.num_perm);
          mh.Sign(f.shingles.data(), f.shingles.size(), f.signature.data());
          size_t at = s.band_keys.size();
          s.band_keys.resize(at + lsh.bands);
          BandKeys(f.signature.data(), lsh, s.band_keys.data() + at);
        }
        if (opt.progress && ++docs % kProgressEvery == 0) opt.progress("signatures", docs);
        return Status::Ok();
      },
      &s.input, &s.skipped_records));
  return s;
}

std::string EncodeSlice(const SliceDocs& s, const DedupOptions& opt, const LshParams& lsh) {
  ByteWriter out;
  out.U64(kSliceMagic);
  WriteParams(out, opt, lsh);
  out.I64(s.slice.index);
  out.I64(s.slice.count);
  out.I64(s.records_split);
  const InputStats& st = s.input;
  out.I64(st.records);
  out.I64(st.valid);
  out.I64(st.skipped);
  out.U64(st.skipped_list.size());
  for (const SkippedRecord& k : st.skipped_list) {
    out.Str(k.file);
    out.I64(k.line);
    out.Str(k.reason);
  }
  out.Vec(s.skipped_records);
  out.U64(st.skipped_by_reason.size());
  for (const auto& [reason, n] : st.skipped_by_reason) {
    out.Str(reason);
    out.I64(n);
  }
  out.Str(st.csv_header);
  out.U64(s.ids.size());
  for (const std::string& id : s.ids) out.Str(id);
  out.Vec(s.records);
  out.Vec(s.words);
  out.Vec(s.bytes);
  out.Vec(s.keys);
  out.Vec(s.has_bands);
  out.Vec(s.band_keys);
  return out.Take();
}

Result<SliceDocs> DecodeSlice(std::string_view data, const DedupOptions& opt, const LshParams& lsh) {
  ByteReader in(data);
  DLCOST_RETURN_IF_ERROR(CheckMagic(in, kSliceMagic, "slice"));
  std::string diff = ParamsDifference(in, opt, lsh);
  SliceDocs s;
  s.slice.index = in.I64();
  s.slice.count = in.I64();
  const std::string what = fmt::format("slice {}/{}", s.slice.index, s.slice.count);
  if (!diff.empty() && !in.failed()) return InvalidInput(fmt::format("{}: made with {}", what, diff));
  s.records_split = in.I64();
  InputStats& st = s.input;
  st.records = in.I64();
  st.valid = in.I64();
  st.skipped = in.I64();
  uint64_t listed = in.U64();
  for (uint64_t i = 0; i < listed && !in.failed(); ++i) {
    SkippedRecord k;
    k.file = in.Str();
    k.line = in.I64();
    k.reason = in.Str();
    st.skipped_list.push_back(std::move(k));
  }
  in.Vec(&s.skipped_records);
  uint64_t reasons = in.U64();
  for (uint64_t i = 0; i < reasons && !in.failed(); ++i) {
    std::string reason = in.Str();
    st.skipped_by_reason[reason] = in.I64();
  }
  st.csv_header = in.Str();
  uint64_t docs = in.U64();
  for (uint64_t i = 0; i < docs && !in.failed(); ++i) s.ids.push_back(in.Str());
  in.Vec(&s.records);
  in.Vec(&s.words);
  in.Vec(&s.bytes);
  in.Vec(&s.keys);
  in.Vec(&s.has_bands);
  in.Vec(&s.band_keys);
  if (in.failed() || !in.at_end()) return InvalidInput(fmt::format("{}: truncated or malformed data", what));
  if (s.slice.count < 1 || s.slice.index < 0 || s.slice.index >= s.slice.count) {
    return InvalidInput(fmt::format("{}: not a valid slice", what));
  }
  const size_t n = s.ids.size();
  if (s.records.size() != n || s.words.size() != n || s.bytes.size() != n || s.keys.size() != n ||
      s.has_bands.size() != n || s.skipped_records.size() != st.skipped_list.size()) {
    return InvalidInput(fmt::format("{}: per-document lists of different lengths", what));
  }
  int64_t with_bands = std::count_if(s.has_bands.begin(), s.has_bands.end(), [](uint8_t b) { return b != 0; });
  if (s.band_keys.size() != static_cast<size_t>(with_bands) * static_cast<size_t>(lsh.bands)) {
    return InvalidInput(fmt::format("{}: {} band keys for {} documents with bands", what, s.band_keys.size(), with_bands));
  }
  for (size_t i = 0; i < n; ++i) {
    if (s.records[i] < 0 || s.records[i] % s.slice.count != s.slice.index || (i > 0 && s.records[i] <= s.records[i - 1])) {
      return InvalidInput(fmt::format("{}: record {} is out of order or not of this slice", what, s.records[i]));
    }
  }
  return s;
}

Status MergeSlices(std::vector<SliceDocs>& slices, const LshParams& lsh, DedupWork* w, DedupResult* r) {
  const int64_t n = static_cast<int64_t>(slices.size());
  if (n == 0) return InvalidInput("no slice to merge");
  for (int64_t i = 0; i < n; ++i) {
    const SliceDocs& s = slices[i];
    if (s.slice.index != i || s.slice.count != n) {
      return InvalidInput(fmt::format("slice {}/{} given where {}/{} belongs", s.slice.index, s.slice.count, i, n));
    }
    if (s.records_split != slices[0].records_split) {
      return InvalidInput(fmt::format("slice {}/{} read {} records, slice 0/{} read {} (not the same input?)", i, n,
                                      s.records_split, n, slices[0].records_split));
    }
  }
  r->lsh = lsh;

  // Whole-input statistics: sums, and the first listed skipped records in record order.
  InputStats& st = r->input;
  st = InputStats();
  st.csv_header = slices[0].input.csv_header;
  std::vector<std::tuple<int64_t, size_t, size_t>> listed;  // (record number, slice, entry)
  for (size_t i = 0; i < slices.size(); ++i) {
    const InputStats& s = slices[i].input;
    st.records += s.records;
    st.valid += s.valid;
    st.skipped += s.skipped;
    for (const auto& [reason, count] : s.skipped_by_reason) st.skipped_by_reason[reason] += count;
    for (size_t k = 0; k < s.skipped_list.size(); ++k) listed.emplace_back(slices[i].skipped_records[k], i, k);
  }
  std::sort(listed.begin(), listed.end());
  if (listed.size() > kMaxSkippedListed) listed.resize(kMaxSkippedListed);
  for (const auto& [record, i, k] : listed) st.skipped_list.push_back(std::move(slices[i].input.skipped_list[k]));

  // Documents in record order (a k-way merge of the slices, each ascending).
  using Head = std::pair<int64_t, size_t>;  // (record number, slice)
  std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heads;
  std::vector<size_t> next(slices.size(), 0), next_band(slices.size(), 0);
  for (size_t i = 0; i < slices.size(); ++i) {
    if (!slices[i].records.empty()) heads.push({slices[i].records[0], i});
  }
  const size_t bands = static_cast<size_t>(lsh.bands);
  while (!heads.empty()) {
    size_t i = heads.top().second;
    heads.pop();
    SliceDocs& s = slices[i];
    size_t k = next[i]++;
    bool first = AddDedupDocument(s.ids[k], s.records[k], s.words[k], s.bytes[k], s.keys[k], w, r);
    if (s.has_bands[k]) {
      if (first) {
        const uint64_t* keys = s.band_keys.data() + next_band[i] * bands;
        w->band_keys.insert(w->band_keys.end(), keys, keys + bands);
      }
      ++next_band[i];
    } else if (first) {
      return InvalidInput(fmt::format("slice {}/{}: record {} has no band keys but is the first of its content",
                                      i, n, s.records[k]));
    }
    if (next[i] < s.records.size()) heads.push({s.records[next[i]], i});
  }
  slices.clear();
  return Status::Ok();
}

std::vector<int64_t> NeededRecords(const std::vector<char>& needed, const DedupResult& r) {
  std::vector<int64_t> out;
  for (size_t d = 0; d < needed.size(); ++d) {
    if (needed[d]) out.push_back(r.record_numbers[d]);
  }
  return out;
}

Status ForEachShingleSet(const InputSpec& in, const DedupOptions& opt, const ShardSpec& slice,
                         const std::vector<int64_t>& records, const ShingleSetFn& fn) {
  auto mine = [&](int64_t number) { return number % slice.count == slice.index; };
  const int64_t wanted = std::count_if(records.begin(), records.end(), mine);
  RecordFilter keep = [&](int64_t number) {
    return mine(number) && std::binary_search(records.begin(), records.end(), number);
  };
  std::vector<uint64_t> words, set;
  int64_t found = 0;
  InputStats again;
  DLCOST_RETURN_IF_ERROR(ReadSomeRecords(
      in, &keep,
      [&](Record& rec) -> Status {
        WordHashes(rec.text, &words);
        Shingles(words, opt.ngram, &set);
        fn(rec.number, set);
        ++found;
        if (opt.progress && found % kProgressEvery == 0) opt.progress("verification", found);
        return Status::Ok();
      },
      &again, nullptr));
  if (found != wanted) return InvalidInput(fmt::format("{}: the input changed while it was read", in.path));
  return Status::Ok();
}

Result<std::string> SliceShingles(const InputSpec& in, const DedupOptions& opt, const ShardSpec& slice,
                                  const std::vector<int64_t>& records) {
  ByteWriter out;
  out.U64(kShinglesMagic);
  out.U64(std::count_if(records.begin(), records.end(),
                        [&](int64_t number) { return number % slice.count == slice.index; }));
  DLCOST_RETURN_IF_ERROR(ForEachShingleSet(in, opt, slice, records, [&](int64_t record, std::vector<uint64_t>& set) {
    out.I64(record);
    out.Vec(set);
  }));
  return out.Take();
}

Result<int64_t> DocumentOfRecord(const DedupResult& r, int64_t record) {
  auto it = std::lower_bound(r.record_numbers.begin(), r.record_numbers.end(), record);
  if (it == r.record_numbers.end() || *it != record) {
    return InvalidInput(fmt::format("record {} is not a document", record));
  }
  return static_cast<int64_t>(it - r.record_numbers.begin());
}

Status AddShingleSets(std::string_view data, const DedupResult& r,
                      std::unordered_map<int64_t, std::vector<uint64_t>>* sets) {
  ByteReader in(data);
  DLCOST_RETURN_IF_ERROR(CheckMagic(in, kShinglesMagic, "shingle sets"));
  uint64_t count = in.U64();
  for (uint64_t i = 0; i < count && !in.failed(); ++i) {
    Result<int64_t> doc = DocumentOfRecord(r, in.I64());
    if (!doc.ok()) return doc.status().WithContext("shingle sets");
    in.Vec(&(*sets)[*doc]);
  }
  if (in.failed() || !in.at_end()) return InvalidInput("shingle sets: truncated or malformed data");
  return Status::Ok();
}

}  // namespace dlcost::audit
