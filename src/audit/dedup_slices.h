// Dedup split over the slices of one input, as the ranks of an MPI job run it (dedup_mpi.cc),
// with no MPI here so that every step can be tested in one process. Not part of the public API.
//
// Each slice i of N (records whose record number r has r % N == i, as --shard I/N) reads the
// whole input but parses only its own records, and keeps per document its id, counts, content
// key and LSH band keys (ComputeSlice; EncodeSlice to send them). One process merges every
// slice in record order (MergeSlices); FindCandidates then names the documents whose shingle
// sets the exact verification needs; each slice rebuilds those of its own records
// (SliceShingles); and ClusterDedup finishes. The result is the one Dedup gives on the whole
// input.
//
//   SliceDocs s = *ComputeSlice(in, opt, lsh, {rank, size});   // on every rank
//   std::string bytes = EncodeSlice(s, opt, lsh);                // sent to one rank
//   ... DecodeSlice(bytes, opt, lsh) of every slice, then
//   ... MergeSlices(slices, lsh, &w, &r); FindCandidates(w, in.path, &r, &needed);
//   ... SliceShingles(in, opt, {rank, size}, NeededRecords(needed, r));  // on every rank
//   ... AddShingleSets(bytes_of_each_slice, r, &sets); ClusterDedup(w, opt, sets, &r);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "audit/internal.h"
#include "dlcost/audit.h"

namespace dlcost::audit {

// What one slice contributes to a dedup.
struct SliceDocs {
  ShardSpec slice;
  int64_t records_split = 0;              // records the reader numbered (all slices)
  InputStats input;                       // this slice's records only
  std::vector<int64_t> skipped_records;   // record number of each input.skipped_list entry
  std::vector<std::string> ids;
  std::vector<int64_t> records, words, bytes;  // per document
  std::vector<ContentKey> keys;
  std::vector<uint8_t> has_bands;         // per document: the first of its content key in the slice
  std::vector<uint64_t> band_keys;        // lsh.bands per document with has_bands, in order
};

// Reads `in`, parsing only the records of `slice`, and computes their dedup features.
// Errors: the input cannot be read, or bad options.
Result<SliceDocs> ComputeSlice(const InputSpec& in, const DedupOptions& opt, const LshParams& lsh,
                               const ShardSpec& slice);

// A byte string holding `s` and the parameters it was made with (for a check at merge time).
// Byte order is the machine's; DecodeSlice refuses data of another byte order.
std::string EncodeSlice(const SliceDocs& s, const DedupOptions& opt, const LshParams& lsh);
// Decodes EncodeSlice's output. InvalidInput when it is malformed or its parameters differ from
// `opt` and `lsh`.
Result<SliceDocs> DecodeSlice(std::string_view data, const DedupOptions& opt, const LshParams& lsh);

// Joins slices 0..N-1 of one input (slices[i] is slice i of N) into `w` and `r` as Dedup's
// first pass leaves them (documents in record order, whole-input statistics; labels are not
// carried). Consumes the slices. InvalidInput when they do not fit together.
Status MergeSlices(std::vector<SliceDocs>& slices, const LshParams& lsh, DedupWork* w, DedupResult* r);

// Sorted record numbers of the documents marked in `needed` (FindCandidates).
std::vector<int64_t> NeededRecords(const std::vector<char>& needed, const DedupResult& r);

// Reads `in` again and calls `fn` with the record number and sorted unique shingle set (fn may
// take it) of each record of `slice` listed in `records` (sorted), parsing no other record.
// InvalidInput when one of them is no longer a valid record.
using ShingleSetFn = std::function<void(int64_t record, std::vector<uint64_t>& set)>;
Status ForEachShingleSet(const InputSpec& in, const DedupOptions& opt, const ShardSpec& slice,
                         const std::vector<int64_t>& records, const ShingleSetFn& fn);
// The document index of `record` in `r` (record_numbers ascending). InvalidInput when none.
Result<int64_t> DocumentOfRecord(const DedupResult& r, int64_t record);

// ForEachShingleSet's sets, encoded.
Result<std::string> SliceShingles(const InputSpec& in, const DedupOptions& opt, const ShardSpec& slice,
                                  const std::vector<int64_t>& records);
// Decodes one SliceShingles output into `sets`, keyed by the document index in `r`.
Status AddShingleSets(std::string_view data, const DedupResult& r,
                      std::unordered_map<int64_t, std::vector<uint64_t>>* sets);

}  // namespace dlcost::audit
