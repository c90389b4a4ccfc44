#!/usr/bin/env bash
# Speed of `dlcost drift` end to end (read both files, test every column, write the report),
# in cells per second, on generated CSVs. Not run in CI (it takes about a minute).
#
# Usage: bash scripts/bench_drift.sh [ROWS] [COLS] [RUNS]
#   ROWS rows per file (default 1000000), COLS columns (default 50), RUNS timed runs (default 3).
# Cells = (reference rows + current rows) x columns. The run is pinned to 2 cores with taskset
# when the machine has more. Build folder: $DLCOST_BENCH_BUILD (default build-bench).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rows=${1:-1000000}
cols=${2:-50}
runs=${3:-3}
build=${DLCOST_BENCH_BUILD:-build-bench}

mkdir -p "$build"
log="$build/bench_drift_build.log"
if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DDLCOST_BUILD_TESTS=OFF &&
       cmake --build "$build" --target dlcost -j2; } >"$log" 2>&1; then
  echo "bench_drift.sh: build failed, see $log" >&2
  exit 1
fi
# The generator is a CMake target under benchmarks/ (added when Google Benchmark is found);
# without it, compile the single file directly.
if cmake --build "$build" --target drift_gen -j2 >/dev/null 2>&1 && [ -x "$build/benchmarks/drift_gen" ]; then
  gen="$build/benchmarks/drift_gen"
else
  "${CXX:-c++}" -O2 -std=c++20 benchmarks/drift_gen.cc -o "$build/drift_gen"
  gen="$build/drift_gen"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "generating 2 x ${rows} rows x ${cols} columns ..."
"$gen" --rows "$rows" --cols "$cols" --seed 1 >"$tmp/ref.csv"
"$gen" --rows "$rows" --cols "$cols" --seed 2 --plant >"$tmp/cur.csv"
cat "$tmp/ref.csv" "$tmp/cur.csv" >/dev/null  # page cache: time the program, not the disk
bytes=$(( $(stat -c %s "$tmp/ref.csv") + $(stat -c %s "$tmp/cur.csv") ))

pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -gt 2 ]; then pin=(taskset -c 0,1); fi
cells=$(( 2 * rows * cols ))
best=""
for i in $(seq 1 "$runs"); do
  rc=0
  TIMEFORMAT='%R %U %S'
  { time "${pin[@]}" "$build/dlcost" drift --reference "$tmp/ref.csv" --current "$tmp/cur.csv" --threads 2 \
      --format json --out "$tmp/out.json" 2>"$tmp/err.txt"; } 2>"$tmp/time.txt" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ]; then
    echo "bench_drift.sh: dlcost drift failed with exit $rc" >&2
    cat "$tmp/err.txt" >&2
    exit 1
  fi
  read -r secs user sys <"$tmp/time.txt"
  rate=$(awk -v c="$cells" -v s="$secs" 'BEGIN { printf "%.1f", c / s / 1e6 }')
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  echo "run $i: ${secs} s wall, ${cpu} s CPU, ${rate} M cells/s"
  if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$secs; fi
done
if [ "${#pin[@]}" -gt 0 ]; then cores="pinned to 2 of $(nproc) cores"; else cores="$(nproc) cores"; fi
awk -v c="$cells" -v s="$best" -v b="$bytes" -v k="$cores" 'BEGIN {
  printf "best: %d cells (%.0f MB of CSV) in %.3f s = %.1f million cells/s (%s)\n", c, b / 1e6, s, c / s / 1e6, k
  printf "target: >= 25 million cells/s on 2 cores (wall time; on a busy machine compare CPU s / 2)\n"
}'
drifted=$(grep -c '"drift": true' "$tmp/out.json" || true)
echo "columns flagged in the planted current file: ${drifted} (planted: num_0 num_1 cat_0 cat_1)"
