#!/usr/bin/env bash
# `dlcost audit dedup --mpi` under `mpirun -n RANKS` on this machine must print exactly what one
# process prints: byte for byte on stdout, the same dlcost lines on stderr, the same
# --write-deduplicated file and the same exit code. Registered by tests/CMakeLists.txt (only in
# builds with MPI) as audit_mpi.ranks_<RANKS>; docs/audit.md, "MPI".
#
# Usage: run.sh DLCOST AUDIT_CORPUS_GEN RANKS [MPIRUN]
# Runs from the source root. Works as root in a container without network: local ranks only,
# shared-memory transport, no ssh.
set -euo pipefail

dlcost=$1
gen=$2
ranks=$3
mpirun=${4:-mpirun}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# Local ranks only: self + shared memory, no rsh/ssh launcher, no single-copy ptrace (often
# refused in containers), more ranks than cores allowed.
export OMPI_MCA_btl=self,vader
export OMPI_MCA_plm_rsh_agent=
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi_args=(--oversubscribe)
if [[ "$(id -u)" -eq 0 ]]; then mpi_args+=(--allow-run-as-root); fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# compare NAME ARGS...: one process vs mpirun on `audit dedup ARGS`.
compare() {
  local name=$1
  shift
  local one_rc=0 mpi_rc=0
  "$dlcost" audit dedup "$@" >"$tmp/$name.one.out" 2>"$tmp/$name.one.err" || one_rc=$?
  timeout 240 "$mpirun" "${mpi_args[@]}" -n "$ranks" "$dlcost" audit dedup "$@" --mpi \
    >"$tmp/$name.mpi.out" 2>"$tmp/$name.mpi.err" || mpi_rc=$?
  [[ "$one_rc" -eq "$mpi_rc" ]] || fail "$name: exit $mpi_rc with $ranks ranks, $one_rc in one process"
  cmp -s "$tmp/$name.one.out" "$tmp/$name.mpi.out" || {
    fail "$name: stdout differs"
    diff "$tmp/$name.one.out" "$tmp/$name.mpi.out" | head -20 >&2 || true
  }
  # mpirun adds its own notes about failed jobs; dlcost's lines must be the same.
  grep '^dlcost:' "$tmp/$name.mpi.err" >"$tmp/$name.mpi.dlcost" || true
  cmp -s "$tmp/$name.one.err" "$tmp/$name.mpi.dlcost" || {
    fail "$name: stderr differs"
    diff "$tmp/$name.one.err" "$tmp/$name.mpi.err" | head -20 >&2 || true
  }
  echo "$name: exit $one_rc, $(wc -c <"$tmp/$name.one.out") bytes of output"
}

# A planted corpus: near variants, exact copies, bad records.
"$gen" --docs 4000 --words 80 --seed 7 >"$tmp/planted.jsonl"
compare planted_json "$tmp/planted.jsonl" --id-field id --format json
compare planted_table "$tmp/planted.jsonl" --id-field id --threshold 0.7 --seed 5
compare planted_write "$tmp/planted.jsonl" --id-field id --format csv \
  --write-deduplicated "$tmp/kept.jsonl"
mv "$tmp/kept.jsonl" "$tmp/kept.mpi.jsonl"
"$dlcost" audit dedup "$tmp/planted.jsonl" --id-field id --write-deduplicated "$tmp/kept.jsonl" >/dev/null
cmp -s "$tmp/kept.jsonl" "$tmp/kept.mpi.jsonl" || fail "--write-deduplicated files differ"

# The fixtures: skipped records, CSV, a folder, a broken gzip stream, no usable record.
compare corpus tests/data/audit/corpus.jsonl --id-field id --format json
compare corpus_cost tests/data/audit/corpus.jsonl --id-field id --model llama-3-8b --gpu h100-sxm-80gb
compare corpus_csv tests/data/audit/corpus.csv --id-field id --format json
compare docs tests/data/audit/docs --format json
compare broken_gzip tests/data/audit/broken.jsonl.gz --format json
compare nothing_usable tests/data/audit/nothing_usable.jsonl
compare missing tests/data/audit/no_such_file.jsonl
compare bad_threshold tests/data/audit/corpus.jsonl --threshold 0

# An error on one rank only must stop every rank (no hang), printed once, by that rank.
if [[ "$ranks" -ge 2 ]]; then
  rc=0
  timeout 120 "$mpirun" "${mpi_args[@]}" -n 1 "$dlcost" audit dedup "$tmp/planted.jsonl" --mpi : \
    -n $((ranks - 1)) "$dlcost" audit dedup "$tmp/gone.jsonl" --mpi >"$tmp/split.out" 2>"$tmp/split.err" || rc=$?
  [[ "$rc" -eq 1 ]] || fail "input missing on ranks 1..: exit $rc, want 1"
  [[ "$(grep -c '^dlcost: error:' "$tmp/split.err")" -eq 1 ]] || fail "input missing on ranks 1..: not one error line"
  grep -q 'gone.jsonl: no such file' "$tmp/split.err" || fail "input missing on ranks 1..: message"
  [[ ! -s "$tmp/split.out" ]] || fail "input missing on ranks 1..: something on stdout"
  rc=0
  timeout 120 "$mpirun" "${mpi_args[@]}" -n 1 "$dlcost" audit dedup "$tmp/planted.jsonl" --mpi : \
    -n $((ranks - 1)) "$dlcost" audit dedup "$tmp/planted.jsonl" --mpi --seed 9 >"$tmp/seed.out" 2>"$tmp/seed.err" || rc=$?
  [[ "$rc" -eq 1 ]] || fail "other seed on ranks 1..: exit $rc, want 1"
  grep -q 'dlcost: error: audit dedup --mpi: rank 1: slice 1/[0-9]*: made with --seed 9 (here 1)' "$tmp/seed.err" ||
    fail "other seed on ranks 1..: message"
fi

# Without mpirun (MPI singleton): one rank, the same output.
rc=0
"$dlcost" audit dedup "$tmp/planted.jsonl" --id-field id --format json --mpi >"$tmp/single.out" 2>/dev/null || rc=$?
[[ "$rc" -eq 0 ]] && cmp -s "$tmp/planted_json.one.out" "$tmp/single.out" || fail "singleton run differs (exit $rc)"

if [[ "$failures" -gt 0 ]]; then
  echo "audit_mpi: $failures failure(s) with $ranks ranks" >&2
  exit 1
fi
echo "audit_mpi: $ranks ranks give the one-process output"
