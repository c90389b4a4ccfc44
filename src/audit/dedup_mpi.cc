// `audit dedup --mpi` (dedup_mpi.h): the slices of dedup_slices.h on the ranks of an MPI job.
// Every step that needs all ranks is preceded by MpiWorld::Agree, so that an error on one rank
// ends the run on every rank instead of leaving the others waiting.
//
// Rank 0 keeps its own slice as it is and takes the other ranks' data one rank at a time
// (decoding each before the next arrives), so that its memory stays close to that of a
// one-process run.
#include "dlcost/audit_mpi.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "audit/dedup_slices.h"

namespace dlcost::audit {
namespace {

// Bytes per MPI message (MPI counts are ints).
constexpr int64_t kChunkBytes = int64_t{256} << 20;
constexpr int kTagLength = 1;
constexpr int kTagData = 2;

// Waits for `request`, checking every half millisecond instead of spinning: OpenMPI's blocking
// calls keep a core busy while they wait, and the ranks that wait for rank 0 to merge, verify
// and print alone would take cores from it.
void WaitPolitely(MPI_Request* request) {
  int done = 0;
  MPI_Test(request, &done, MPI_STATUS_IGNORE);
  while (!done) {
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    MPI_Test(request, &done, MPI_STATUS_IGNORE);
  }
}

// Collective: returns when every rank has called it.
void WaitForAll() {
  MPI_Request request;
  MPI_Ibarrier(MPI_COMM_WORLD, &request);
  WaitPolitely(&request);
}

// Sends `bytes` to rank 0, which takes them with ReceiveFrom.
void SendToRoot(const std::string& bytes) {
  int64_t n = static_cast<int64_t>(bytes.size());
  MPI_Request request;
  MPI_Isend(&n, 1, MPI_INT64_T, 0, kTagLength, MPI_COMM_WORLD, &request);
  WaitPolitely(&request);
  for (int64_t off = 0; off < n; off += kChunkBytes) {
    MPI_Isend(bytes.data() + off, static_cast<int>(std::min(kChunkBytes, n - off)), MPI_BYTE, 0, kTagData,
              MPI_COMM_WORLD, &request);
    WaitPolitely(&request);
  }
}

// On rank 0: what rank `from` sent with SendToRoot.
std::string ReceiveFrom(int from) {
  int64_t n = 0;
  MPI_Recv(&n, 1, MPI_INT64_T, from, kTagLength, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  std::string bytes(static_cast<size_t>(n), '\0');
  for (int64_t off = 0; off < n; off += kChunkBytes) {
    MPI_Recv(bytes.data() + off, static_cast<int>(std::min(kChunkBytes, n - off)), MPI_BYTE, from, kTagData,
             MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
  return bytes;
}

// Collective: rank 0's `v`, on every rank.
void BroadcastRecords(std::vector<int64_t>* v) {
  constexpr int64_t kChunk = kChunkBytes / 8;  // values per message
  int64_t n = static_cast<int64_t>(v->size());
  MPI_Bcast(&n, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
  v->resize(n);
  for (int64_t off = 0; off < n; off += kChunk) {
    MPI_Bcast(v->data() + off, static_cast<int>(std::min(kChunk, n - off)), MPI_INT64_T, 0, MPI_COMM_WORLD);
  }
}

// Rank 0 after pass 1: every other rank's slice (all are received even after an error, so that
// no rank is left waiting), the merge in record order and the candidates.
Status MergeOnRoot(const MpiWorld& world, SliceDocs own, const InputSpec& in, const DedupOptions& opt,
                   const LshParams& lsh, DedupWork* w, DedupResult* r, std::vector<int64_t>* needed_records) {
  std::vector<SliceDocs> slices;
  slices.push_back(std::move(own));
  Status st;
  for (int q = 1; q < world.size(); ++q) {
    std::string bytes = ReceiveFrom(q);
    if (!st.ok()) continue;
    Result<SliceDocs> s = DecodeSlice(bytes, opt, lsh);
    if (s.ok()) slices.push_back(std::move(*s));
    else st = s.status().WithContext(fmt::format("audit dedup --mpi: rank {}", q));
  }
  DLCOST_RETURN_IF_ERROR(st);
  DLCOST_RETURN_IF_ERROR(MergeSlices(slices, lsh, w, r).WithContext("audit dedup --mpi"));
  std::vector<char> needed;
  DLCOST_RETURN_IF_ERROR(FindCandidates(*w, in.path, r, &needed));
  *needed_records = NeededRecords(needed, *r);
  return Status::Ok();
}

// Rank 0 after pass 2: every other rank's shingle sets added to rank 0's own, exact Jaccard and
// clusters.
Status ClusterOnRoot(const MpiWorld& world, std::unordered_map<int64_t, std::vector<uint64_t>> sets,
                     const DedupOptions& opt, size_t needed, DedupWork* w, DedupResult* r) {
  Status st;
  for (int q = 1; q < world.size(); ++q) {
    std::string bytes = ReceiveFrom(q);
    if (st.ok()) st = AddShingleSets(bytes, *r, &sets).WithContext(fmt::format("audit dedup --mpi: rank {}", q));
  }
  DLCOST_RETURN_IF_ERROR(st);
  if (sets.size() != needed) {
    return InvalidInput(fmt::format("audit dedup --mpi: {} shingle sets for {} candidate documents", sets.size(), needed));
  }
  ClusterDedup(*w, opt, sets, r);
  return Status::Ok();
}

}  // namespace

MpiWorld::MpiWorld() {
  int ready = 0;
  MPI_Initialized(&ready);
  if (!ready) {
    MPI_Init(nullptr, nullptr);
    owns_ = true;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiWorld::~MpiWorld() {
  if (owns_) MPI_Finalize();
}

Status MpiWorld::Agree(const Status& local, bool* mine) const {
  WaitForAll();
  int failed_at = local.ok() ? size_ : rank_;
  int first = size_;
  MPI_Allreduce(&failed_at, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  *mine = first == rank_;
  if (first == size_) return Status::Ok();
  int code = static_cast<int>(local.code());
  MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD);
  std::string message = local.message();
  int len = static_cast<int>(std::min<size_t>(message.size(), 4096));
  MPI_Bcast(&len, 1, MPI_INT, first, MPI_COMM_WORLD);
  message.resize(len);
  MPI_Bcast(message.data(), len, MPI_CHAR, first, MPI_COMM_WORLD);
  return Status(static_cast<StatusCode>(code), message);
}

int MpiWorld::BroadcastFromRoot(int value) const {
  WaitForAll();
  MPI_Bcast(&value, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return value;
}

Result<DedupResult> DedupMpi(const MpiWorld& world, const InputSpec& in, const DedupOptions& opt, bool* mine) {
  const bool root = world.rank() == 0;
  const ShardSpec slice{world.rank(), world.size()};

  // Pass 1 on every rank: this slice's ids, counts, content keys and band keys.
  Status st = CheckDedupOptions(opt);
  LshParams lsh;
  if (st.ok()) {
    Result<LshParams> chosen = ChooseLsh(opt.threshold, opt.num_perm);
    if (chosen.ok()) lsh = *chosen;
    st = chosen.status();
  }
  SliceDocs own;
  if (st.ok()) {
    Result<SliceDocs> docs = ComputeSlice(in, opt, lsh, slice);
    if (docs.ok()) own = std::move(*docs);
    st = docs.status();
  }
  DLCOST_RETURN_IF_ERROR(world.Agree(st, mine));

  // Rank 0: the slices merged in record order, the candidates.
  DedupWork w;
  DedupResult r;
  std::vector<int64_t> needed;
  if (root) {
    st = MergeOnRoot(world, std::move(own), in, opt, lsh, &w, &r, &needed);
  } else {
    std::string bytes = EncodeSlice(own, opt, lsh);
    own = SliceDocs();
    SendToRoot(bytes);
  }
  DLCOST_RETURN_IF_ERROR(world.Agree(st, mine));

  // Pass 2 on every rank: the shingle sets of this slice's candidate documents (rank 0 keeps
  // its own as they are).
  BroadcastRecords(&needed);
  std::unordered_map<int64_t, std::vector<uint64_t>> sets;
  std::string bytes;
  if (needed.empty()) {
    st = Status::Ok();
  } else if (root) {
    Status found;
    st = ForEachShingleSet(in, opt, slice, needed, [&](int64_t record, std::vector<uint64_t>& set) {
      Result<int64_t> doc = DocumentOfRecord(r, record);
      if (doc.ok()) sets[*doc] = std::move(set);
      else found = doc.status();
    });
    if (st.ok()) st = found;
  } else {
    Result<std::string> encoded = SliceShingles(in, opt, slice, needed);
    if (encoded.ok()) bytes = std::move(*encoded);
    st = encoded.status();
  }
  DLCOST_RETURN_IF_ERROR(world.Agree(st, mine));

  // Rank 0: exact Jaccard, clusters.
  if (root && needed.empty()) {
    ClusterDedup(w, opt, sets, &r);
  } else if (root) {
    st = ClusterOnRoot(world, std::move(sets), opt, needed.size(), &w, &r);
  } else if (!needed.empty()) {
    SendToRoot(bytes);
  }
  DLCOST_RETURN_IF_ERROR(world.Agree(st, mine));
  return r;
}

}  // namespace dlcost::audit
