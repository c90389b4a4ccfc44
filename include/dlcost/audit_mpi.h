// `audit dedup --mpi`: the dedup of one input over the ranks of an MPI job. Compiled only when
// CMake finds MPI (target dlcost_mpi, which defines DLCOST_WITH_MPI for the CLI).
//
// Rank r of N handles slice r/N of the records (as --shard r/N; dedup_slices.h): every rank
// reads the whole input but parses and signs only its own records. Rank 0 gathers the slices,
// merges them in record order and finds the LSH candidates; each rank then rebuilds the shingle
// sets of its own candidate documents, rank 0 gathers those, verifies every candidate by exact
// Jaccard and clusters. Rank 0 ends with the DedupResult Dedup gives in one process.
//
//   audit::MpiWorld world;  // MPI_Init, and MPI_Finalize when it goes out of scope
//   bool mine = false;
//   Result<audit::DedupResult> r = audit::DedupMpi(world, in, opt, &mine);
//   if (!r.ok()) return mine ? Fail(r.status()) : ExitCodeFor(r.status());  // one rank prints
//   int code = world.rank() == 0 ? PrintReport(*r) : 0;
//   return world.BroadcastFromRoot(code);  // every rank exits with rank 0's code
#pragma once

#include "dlcost/audit.h"

namespace dlcost::audit {

// MPI_COMM_WORLD for the length of one command.
class MpiWorld {
 public:
  MpiWorld();   // MPI_Init, unless MPI is initialised already
  ~MpiWorld();  // MPI_Finalize, when this object initialised MPI
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }

  // Collective: the status of the lowest rank whose `local` is an error, on every rank (Ok
  // when no rank failed). *mine is true on the rank that status came from, which alone should
  // print it.
  Status Agree(const Status& local, bool* mine) const;
  // Collective: rank 0's `value`, on every rank.
  int BroadcastFromRoot(int value) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  bool owns_ = false;
};

// Collective over `world`, every rank with the same arguments. On rank 0: what Dedup(in, opt)
// returns (labels are not carried); on the other ranks an empty result. A failure on any rank
// fails every rank (MpiWorld::Agree): *mine says whether this rank hit it. Progress is reported
// through opt.progress where it is set (give it on rank 0 only).
Result<DedupResult> DedupMpi(const MpiWorld& world, const InputSpec& in, const DedupOptions& opt, bool* mine);

}  // namespace dlcost::audit
