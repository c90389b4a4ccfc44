#!/usr/bin/env bash
# The ledger end to end through the command line (docs/ledger.md): record estimates, import the
# actual runs, compare, budgets (exit 5 when exceeded), then SIGKILL an import and a --record at
# several moments and check that the ledger stays consistent (integrity check) and holds each
# operation whole or not at all.
#
# Usage: cli.sh DLCOST SOURCE_DIR
set -euo pipefail

dlcost="$1"
src="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
db="$tmp/ledger.db"
d() { "$dlcost" --data-dir "$src/data" "$@"; }
fail() { echo "ledger cli test: FAILED: $*"; exit 1; }
count() { d ledger list --db "$1" --format csv | tail -n +2 | grep -c '^[ea]-' || true; }

# 1. Two recorded estimates and their actual runs.
d train --model llama-3-8b --gpu h100 --gpus 8 --tokens 10B --record --db "$db" --project demo --run-name r1 \
  --format json > "$tmp/r1.json"
grep -q '"ledger_id": "e-' "$tmp/r1.json" || fail "train --record printed no ledger_id"
d plan --model llama-3-8b --gpu h100 --gpus 8 --tokens 20B --record --db "$db" --project demo --run-name r2 \
  > /dev/null 2> "$tmp/r2.err"
grep -q 'recorded as ledger entry e-' "$tmp/r2.err" || fail "plan --record did not name its entry"
cat > "$tmp/actuals.csv" <<'CSV'
run_name,project,gpu,num_gpus,start,end,usd,energy_kwh,tokens
r1,demo,h100-sxm-80gb,8,2026-12-01T00:00:00Z,2026-12-02T12:00:00Z,1250,330,10e9
r2,demo,h100-sxm-80gb,8,2026-12-03T00:00:00Z,2026-12-06T00:00:00Z,2300,610,2e10
CSV
d ledger import csv "$tmp/actuals.csv" --db "$db" --format json > "$tmp/imp1.json"
grep -q '"added": 2' "$tmp/imp1.json" || fail "first import: $(cat "$tmp/imp1.json")"
d ledger import csv "$tmp/actuals.csv" --db "$db" --format json > "$tmp/imp2.json"
grep -q '"added": 0' "$tmp/imp2.json" && grep -q '"already_there": 2' "$tmp/imp2.json" || fail "second import added rows"
[[ "$(count "$db")" == 4 ]] || fail "expected 4 entries, got $(count "$db")"

# 2. Compare: both runs paired, every metric present in both, errors against the actuals.
d ledger compare --db "$db" --format json > "$tmp/cmp.json"
grep -q '"metric": "gpu_hours"' "$tmp/cmp.json" || fail "compare has no gpu_hours pair"
grep -q '"run_name": "r2"' "$tmp/cmp.json" || fail "compare did not pair r2"
grep -q '"actuals_unmatched": 0' "$tmp/cmp.json" || fail "compare left actuals unmatched"
python3 - "$tmp/cmp.json" <<'PY' || fail "compare JSON contract"
import json, sys
c = json.load(open(sys.argv[1]))
for p in c["pairs"]:
    assert abs(p["rel_error"] - (p["estimated"] - p["actual"]) / p["actual"]) < 1e-12, p
    assert set(p) >= {"estimate_id", "actual_id", "run_name", "metric", "estimated", "actual", "rel_error"}
usd = [p for p in c["pairs"] if p["metric"] == "usd"]
assert c["summary"]["usd"]["n"] == len(usd) == 2
mape = 100 * sum(abs(p["rel_error"]) for p in usd) / 2
assert abs(c["summary"]["usd"]["mape_pct"] - mape) < 1e-9
PY

# 3. Budgets: within, then exceeded (exit 5), in every output format.
d ledger budget set --db "$db" --project demo --usd 10000 --period total > /dev/null
d ledger budget check --db "$db" --project demo > /dev/null || fail "a budget with room exited $?"
d ledger budget set --db "$db" --project demo --usd 3000 --period total > /dev/null
for fmt in table json csv markdown html; do
  rc=0
  d ledger budget check --db "$db" --project demo --format "$fmt" > "$tmp/budget.$fmt" || rc=$?
  [[ "$rc" == 5 ]] || fail "exceeded budget exited $rc in $fmt, not 5"
done
grep -q '"status": "exceeded"' "$tmp/budget.json" || fail "budget JSON: $(cat "$tmp/budget.json")"

# 3b. plan and budget with --project hold the plan to what the project's budget leaves.
d ledger budget set --db "$db" --project tight --usd 1000 --period month > /dev/null
d plan --model llama-3-8b --gpu h100 --gpus 8 --tokens 10B --db "$db" --project tight --run-name big --record --top 1 \
  > /dev/null 2> "$tmp/plan1.err" || fail "a plan within the project budget was refused: $(cat "$tmp/plan1.err")"
rc=0
d plan --model llama-3-8b --gpu h100 --gpus 8 --tokens 5B --db "$db" --project tight --run-name other --top 1 \
  > /dev/null 2> "$tmp/plan2.err" || rc=$?
[[ "$rc" == 3 ]] || fail "a plan over what the budget leaves exited $rc, not 3"
grep -q "project 'tight' budget: \$1000.00 per month, \$0.00 spent, \$736.17 committed" "$tmp/plan2.err" \
  || fail "the refusal does not name the budget: $(cat "$tmp/plan2.err")"
# Planning the same run again replaces its own commitment instead of adding to it.
d plan --model llama-3-8b --gpu h100 --gpus 8 --tokens 10B --db "$db" --project tight --run-name big --top 1 \
  > /dev/null || fail "re-planning a committed run counted it twice"
rc=0
d budget --usd 2000 --db "$db" --project tight > /dev/null 2> "$tmp/budget.err" || rc=$?
[[ "$rc" == 3 ]] || fail "budget over what the project leaves exited $rc, not 3"
before_ledger="$(count "$db")"

# 3c. ledger fit: a correction per GPU from the pairs, written into a profile train reads.
d ledger fit --db "$db" --project demo --profile-out "$tmp/prof.json" --format json > "$tmp/fit.json" \
  || fail "ledger fit: $(cat "$tmp/fit.json")"
grep -q '"h100-sxm-80gb"' "$tmp/prof.json" || fail "the profile has no h100 correction"
d train --model llama-3-8b --gpu h100 --gpus 8 --tokens 10B --calibration "$tmp/prof.json" > "$tmp/train_fit.txt"
grep -q 'ledger correction (ledger fit)' "$tmp/train_fit.txt" || fail "train did not apply the ledger correction"
if d ledger fit --db "$db" --project nobody --profile-out "$tmp/none.json" 2> /dev/null; then fail "a fit without pairs succeeded"; fi
[[ ! -e "$tmp/none.json" ]] || fail "a failed fit wrote its profile"

# 3c'. A W&B runs-table export: imported once, the second time nothing is added.
d ledger import wandb "$src/tests/data/ledger/wandb_export.csv" --db "$tmp/wandb.db" --project lm --format json \
  | grep -q '"added": 2' || fail "W&B import"
d ledger import wandb "$src/tests/data/ledger/wandb_export.csv" --db "$tmp/wandb.db" --project lm --format json \
  | grep -q '"already_there": 2' || fail "W&B re-import added rows"

# 3d. ledger fit --by cluster: the same GPU type in two clusters, a profile each.
cdb="$tmp/clusters.db"
printf 'run_name,duration_s\n' > "$tmp/cl_actuals.csv"
for c in east west; do
  for i in 1 2; do
    d train --model llama-3-8b --gpu h100 --gpus 8 --tokens "${i}0B" --record --db "$cdb" --project cl \
      --run-name "$c-$i" --tag cluster="$c" --format json > "$tmp/cl_est.json" 2> /dev/null || fail "record $c-$i"
    est_s="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["wall_days"] * 86400)' "$tmp/cl_est.json")"
    factor=1.5; [[ "$c" == west ]] && factor=0.8
    python3 -c 'import sys; print(f"{sys.argv[1]},{float(sys.argv[2]) * float(sys.argv[3]):.0f}")' "$c-$i" "$est_s" "$factor" \
      >> "$tmp/cl_actuals.csv"
  done
done
d ledger import csv "$tmp/cl_actuals.csv" --db "$cdb" --project cl > /dev/null || fail "import the cluster actuals"
d ledger fit --db "$cdb" --by cluster --profile-out "$tmp/prof-{cluster}.json" --format json > "$tmp/fit_cl.json" \
  || fail "ledger fit --by cluster: $(cat "$tmp/fit_cl.json")"
python3 - "$tmp" <<'PY' || fail "ledger fit --by cluster: $(cat "$tmp/fit_cl.json")"
import json, sys
tmp = sys.argv[1]
rows = {r["cluster"]: r for r in json.load(open(f"{tmp}/fit_cl.json"))["corrections"]}
assert abs(rows["east"]["time_factor"] - 1.5) < 0.01 and abs(rows["west"]["time_factor"] - 0.8) < 0.01, rows
for c, f in (("east", 1.5), ("west", 0.8)):
    prof = json.load(open(f"{tmp}/prof-{c}.json"))
    assert abs(prof["ledger_corrections"]["h100-sxm-80gb"]["time_factor"] - f) < 0.01, prof["ledger_corrections"]
PY
if d ledger fit --db "$cdb" --by cluster --profile-out "$tmp/one.json" 2> /dev/null; then
  fail "--by cluster without {cluster} in --profile-out succeeded"
fi

# 4. Killed imports: the import is whole or absent, the database passes its integrity check.
gen_rows() {
  echo "run_name,project,duration_s,usd"
  awk -v n="$1" -v tag="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s-%d,bulk,%d,%.2f\n", tag, i, 60 + i, i / 100 }'
}
gen_rows 60000 ref > "$tmp/ref.csv"
t0=$(date +%s%N)
d ledger import csv "$tmp/ref.csv" --db "$tmp/ref.db" > /dev/null
run_ns=$(( $(date +%s%N) - t0 ))
before="$before_ledger"
whole=0
absent=0
for pct in 10 30 50 70 85 95 105 130; do
  gen_rows 60000 "k$pct" > "$tmp/k.csv"
  # Started directly (not through d()), so that $! is dlcost itself and the kill reaches it.
  "$dlcost" --data-dir "$src/data" ledger import csv "$tmp/k.csv" --db "$db" > /dev/null 2>&1 &
  pid=$!
  sleep "$(awk -v ns="$run_ns" -v p="$pct" 'BEGIN { printf "%.3f", ns * p / 100 / 1e9 }')"
  kill -KILL "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  d ledger check --db "$db" > "$tmp/check.txt" || fail "integrity check after a kill at ${pct}%: $(cat "$tmp/check.txt")"
  now="$(count "$db")"
  if [[ "$now" != "$before" && "$now" != "$(( before + 60000 ))" ]]; then
    fail "kill at ${pct}% of an import left $((now - before)) of its 60000 rows"
  fi
  if [[ "$now" == "$before" ]]; then absent=$((absent + 1)); else whole=$((whole + 1)); fi
  before="$now"
done
# A killed --record: the estimate is there whole or not at all.
for i in 1 2 3; do
  "$dlcost" --data-dir "$src/data" train --model llama-3-8b --gpu h100 --gpus 8 --tokens 10B --record --db "$db" \
    --run-name "k$i" > /dev/null 2>&1 &
  pid=$!
  sleep "0.0$((i * 2))"
  kill -KILL "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  d ledger check --db "$db" > /dev/null || fail "integrity check after a killed --record"
done
n_k="$(d ledger list --db "$db" --kind estimate --format json | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["entries"] if e["run_name"].startswith("k") and e["gpu_hours"] is None))')"
[[ "$n_k" == 0 ]] || fail "a killed --record left a partial estimate"

# 5. A foreign SQLite database and a text file are refused and left byte for byte.
cp "$tmp/actuals.csv" "$tmp/text.db"
sum_before="$(sha256sum < "$tmp/text.db")"
if d ledger list --db "$tmp/text.db" > /dev/null 2> "$tmp/err.txt"; then fail "a text file was read as a ledger"; fi
[[ "$(sha256sum < "$tmp/text.db")" == "$sum_before" ]] || fail "the text file was modified"
grep -q 'not a readable SQLite database' "$tmp/err.txt" || fail "$(cat "$tmp/err.txt")"
# 6. The same flow on PostgreSQL (DLCOST_TEST_PG_URL: scripts/test.sh starts a server), under a
# project of this run's own.
if [[ -n "${DLCOST_TEST_PG_URL:-}" ]]; then
  pg="$DLCOST_TEST_PG_URL"
  p="cli$$"
  d train --model llama-3-8b --gpu h100 --gpus 8 --tokens 10B --record --db "$pg" --project "$p" --run-name r1 \
    > /dev/null 2>&1 || fail "train --record on PostgreSQL"
  sed "s/,demo,/,$p,/" "$tmp/actuals.csv" > "$tmp/pg_actuals.csv"
  d ledger import csv "$tmp/pg_actuals.csv" --db "$pg" --format json | grep -q '"added": 2' || fail "import on PostgreSQL"
  d ledger import csv "$tmp/pg_actuals.csv" --db "$pg" --format json | grep -q '"added": 0' || fail "re-import on PostgreSQL"
  d ledger compare --db "$pg" --project "$p" --format json > "$tmp/pg_cmp.json"
  grep -q '"run_name": "r1"' "$tmp/pg_cmp.json" || fail "compare on PostgreSQL: $(cat "$tmp/pg_cmp.json")"
  d ledger budget set --db "$pg" --project "$p" --usd 1000 > /dev/null
  rc=0
  d ledger budget check --db "$pg" --project "$p" > /dev/null || rc=$?
  [[ "$rc" == 5 ]] || fail "exceeded budget on PostgreSQL exited $rc, not 5"
  d ledger check --db "$pg" > /dev/null || fail "ledger check on PostgreSQL"
  echo "ledger cli test: the flow also ran on PostgreSQL"
fi
echo "ledger cli test: ok ($(count "$db") entries; 8 killed imports left the ledger consistent: $absent absent, $whole whole)"
