#!/usr/bin/env bash
# Kill test (docs/architecture.md, on output files): SIGKILL `dlcost audit dedup --write-deduplicated`
# at several moments of its run, over an output file that already holds older content, and check
# that the output path then holds either that older content or the whole new output (the bytes
# of a run that finished), never a part; and that the input is never modified.
#
# Usage: run.sh DLCOST AUDIT_CORPUS_GEN
set -euo pipefail

dlcost="$1"
gen="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$gen" --docs 20000 --seed 7 > "$tmp/in.jsonl"
in_hash="$(sha256sum < "$tmp/in.jsonl")"
old_content="older output that must survive a killed run"

now_ns() { date +%s%N; }

t0="$(now_ns)"
"$dlcost" audit dedup "$tmp/in.jsonl" --write-deduplicated "$tmp/ref.jsonl" > /dev/null 2>&1
t1="$(now_ns)"
run_ns=$(( t1 - t0 ))
ref_hash="$(sha256sum < "$tmp/ref.jsonl")"
[[ -s "$tmp/ref.jsonl" ]] || { echo "kill test: the reference run wrote nothing"; exit 1; }

kept_old=0
whole_new=0
for pct in 5 20 40 60 75 85 90 95 98 99; do
  printf '%s\n' "$old_content" > "$tmp/out.jsonl"
  "$dlcost" audit dedup "$tmp/in.jsonl" --write-deduplicated "$tmp/out.jsonl" > /dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v ns="$run_ns" -v p="$pct" 'BEGIN { printf "%.3f", ns * p / 100 / 1e9 }')"
  kill -KILL "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  if [[ ! -e "$tmp/out.jsonl" ]]; then
    echo "kill test: FAILED at ${pct}% of the run: the output file is gone"
    exit 1
  fi
  got="$(sha256sum < "$tmp/out.jsonl")"
  if [[ "$got" == "$ref_hash" ]]; then
    whole_new=$(( whole_new + 1 ))
  elif [[ "$(cat "$tmp/out.jsonl")" == "$old_content" ]]; then
    kept_old=$(( kept_old + 1 ))
  else
    echo "kill test: FAILED at ${pct}% of the run: the output holds $(wc -c < "$tmp/out.jsonl") bytes, neither the old file nor the whole new one"
    exit 1
  fi
done

if [[ "$(sha256sum < "$tmp/in.jsonl")" != "$in_hash" ]]; then
  echo "kill test: FAILED: the input changed"
  exit 1
fi
leftovers="$(find "$tmp" -name 'out.jsonl.tmp-*' | wc -l)"
echo "kill test: 10 kills over a $(( run_ns / 1000000 )) ms run: ${kept_old} left the old file, ${whole_new} the whole new one, never a part; input unchanged; ${leftovers} temporary files left by the killed runs"
if [[ "$kept_old" -eq 0 ]]; then
  echo "kill test: FAILED: no kill landed before the run finished, so nothing was tested"
  exit 1
fi
