// audit dedup and audit merge: the duplicates of one input, found in this process, by the
// caller, or joined from shard files.
#include <utility>

#include "api/audit_common.h"
#include "dlcost/api_audit.h"

namespace dlcost::api {
namespace {

// The checks every form of `audit dedup` shares.
Status CheckDedupFlags(const AuditDedupRequest& a) {
  if (a.model.empty() != a.gpu.empty()) return UsageError("--model and --gpu: give both to price the wasted tokens");
  if (!a.calibration.empty() && a.model.empty()) {
    return UsageError("--calibration: it prices the wasted tokens; give it with --model and --gpu");
  }
  if (a.shard.empty() && !a.shard_out.empty()) return UsageError("--shard-out: give --shard I/N too");
  return Status::Ok();
}

}  // namespace

Result<AuditDedupInput> PrepareAuditDedup(const AuditDedupRequest& req) {
  DLCOST_RETURN_IF_ERROR(CheckDedupFlags(req));
  AuditDedupInput in;
  DLCOST_ASSIGN_OR_RETURN(in.input, MakeInputSpec(req.input, req.in));
  in.options = MakeDedupOptions(req.minhash, req.hooks);
  in.options.tokens_per_word = req.tokens_per_word;
  return in;
}

Result<AuditDedupResult> AuditDedup(const Session* session, const AuditDedupRequest& req) {
  DLCOST_ASSIGN_OR_RETURN(AuditDedupInput in, PrepareAuditDedup(req));
  if (!req.shard.empty()) return UsageError("--shard: a slice is written by AuditDedupShard, not audited whole");
  DLCOST_ASSIGN_OR_RETURN(audit::DedupResult found, audit::Dedup(in.input, in.options));
  return FinishAuditDedup(session, req, in, std::move(found));
}

Result<AuditDedupResult> FinishAuditDedup(const Session* session, const AuditDedupRequest& req,
                                          const AuditDedupInput& in, audit::DedupResult found) {
  WarnSkipped(req.hooks, found.input);
  AuditDedupResult r;
  r.input = req.input;
  r.options = in.options;
  r.found = std::move(found);
  if (!req.write_deduplicated.empty()) {
    DLCOST_RETURN_IF_ERROR(audit::WriteDeduplicated(in.input, r.found, req.write_deduplicated));
    r.write_deduplicated = req.write_deduplicated;
  }
  if (req.model.empty()) return r;
  if (session == nullptr) return UsageError("--model: pricing the wasted tokens needs the data folder");
  Result<WastedTokenCost> waste = PriceWastedTokens(*session, req, r.found.tokens_wasted);
  if (waste.ok()) {
    r.waste = std::move(*waste);
  } else if (waste.status().code() == StatusCode::kInfeasible) {
    r.waste_note = waste.status().message();
  } else {
    return waste.status();
  }
  return r;
}

Result<AuditShardResult> AuditDedupShard(const AuditDedupRequest& req) {
  DLCOST_ASSIGN_OR_RETURN(AuditDedupInput in, PrepareAuditDedup(req));
  if (req.shard_out.empty()) return UsageError("--shard: give --shard-out FILE for the shard file");
  if (!req.write_deduplicated.empty() || !req.model.empty()) {
    return UsageError("--shard: --write-deduplicated, --model and --gpu apply to a whole run, not to a shard");
  }
  AuditShardResult r;
  DLCOST_ASSIGN_OR_RETURN(r.shard, audit::ParseShard(req.shard));
  DLCOST_ASSIGN_OR_RETURN(r.documents, audit::WriteDedupShard(in.input, in.options, r.shard, req.shard_out));
  r.shard_out = req.shard_out;
  return r;
}

Result<AuditDedupResult> AuditMerge(const AuditMergeRequest& req) {
  DLCOST_ASSIGN_OR_RETURN(audit::MergedDedup merged, audit::MergeDedupShards(req.shards));
  WarnSkipped(req.hooks, merged.result.input);
  AuditDedupResult r;
  r.input = merged.input;
  r.options = merged.options;
  r.found = std::move(merged.result);
  return r;
}

}  // namespace dlcost::api
