#!/usr/bin/env bash
# Wall time of `audit dedup` on a planted corpus: one process, then `mpirun -n RANKS ... --mpi`,
# each RUNS times (the best is printed), and a check that both print the same bytes. Not a test
# (timings depend on the machine); the numbers in docs/audit.md ("MPI") come from it.
#
# Usage: bash tests/audit_mpi/bench.sh [DOCS] [RANKS] [RUNS]
#   DOCS records (default 200000, ~1 KB each), RANKS (default 2), RUNS (default 3).
# Build folder: $DLCOST_BENCH_BUILD (default build), with MPI.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

docs=${1:-200000}
ranks=${2:-2}
runs=${3:-3}
build=${DLCOST_BENCH_BUILD:-build}
dlcost=$build/dlcost
gen=$build/tests/audit_corpus_gen
for f in "$dlcost" "$gen"; do
  [[ -x "$f" ]] || { echo "bench.sh: $f not built (cmake --build $build)" >&2; exit 1; }
done

export OMPI_MCA_btl=self,vader OMPI_MCA_plm_rsh_agent= OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi_args=(--oversubscribe -n "$ranks")
if [[ "$(id -u)" -eq 0 ]]; then mpi_args=(--allow-run-as-root "${mpi_args[@]}"); fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$gen" --docs "$docs" --words 150 --seed 1 >"$tmp/corpus.jsonl"
cat "$tmp/corpus.jsonl" >/dev/null  # page cache: time the program, not the disk
echo "corpus: $docs records, $(($(stat -c %s "$tmp/corpus.jsonl") / 1000000)) MB; $(nproc) cores"

# best NAME COMMAND...: the least wall time of RUNS runs.
best() {
  local name=$1 min=0
  shift
  for _ in $(seq "$runs"); do
    local start ms
    start=$(date +%s%N)
    "$@" >"$tmp/$name.out" 2>/dev/null
    ms=$((($(date +%s%N) - start) / 1000000))
    if [[ "$min" -eq 0 || "$ms" -lt "$min" ]]; then min=$ms; fi
  done
  printf '%-28s %d.%02d s\n' "$name" $((min / 1000)) $((min % 1000 / 10))
}

best "1 process" "$dlcost" audit dedup "$tmp/corpus.jsonl" --id-field id --format json
best "mpirun -n $ranks --mpi" mpirun "${mpi_args[@]}" "$dlcost" audit dedup "$tmp/corpus.jsonl" --id-field id \
  --format json --mpi
if cmp -s "$tmp/1 process.out" "$tmp/mpirun -n $ranks --mpi.out"; then
  echo "outputs identical"
else
  echo "bench.sh: outputs differ" >&2
  exit 1
fi
