#!/usr/bin/env bash
# Derives the catalog-default GEMM efficiency and per-layer host overhead of
# data/efficiency/default.json from vTrain's 1,440 measured single-node A100 runs
# (validation/measured/vtrain/), by grid search on the MAPE of `dlcost validate`.
# The published validation cases are not used by the fit.
# Usage: scripts/fit_default_efficiency.sh [build/dlcost]
set -euo pipefail
cd "$(dirname "$0")/.."
dlcost=${1:-build/dlcost}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 scripts/vtrain_to_cases.py validation/measured/vtrain/vtrain_ground_truth_single.csv "$tmp/cases.csv"
best=""
for g in 0.50 0.55 0.60 0.65 0.70 0.75 0.80; do
  for k in 0.00060 0.00065 0.00070 0.00075 0.00080 0.00085 0.00090 0.00095 0.00100; do
    python3 - "$g" "$k" "$tmp/eff.json" <<'PY'
import json, sys
d = json.load(open("data/efficiency/default.json"))
d["gemm_max_fraction"] = float(sys.argv[1])
d["layer_host_overhead_s"] = float(sys.argv[2])
json.dump(d, open(sys.argv[3], "w"))
PY
    mape=$("$dlcost" validate training "$tmp/cases.csv" --no-flash --calibration "$tmp/eff.json" --format json |
      python3 -c "import json,sys; s=json.load(sys.stdin)['summary']['sec_per_iter']; print(f\"{s['mape_pct']:.2f} {s['bias_pct']:.2f}\")")
    echo "gemm_max_fraction=$g layer_host_overhead_s=$k mape_pct,bias_pct=$mape"
    m=${mape%% *}
    if [ -z "$best" ] || awk "BEGIN{exit !($m < ${best%% *})}"; then best="$m $g $k"; fi
  done
done
echo "best: mape_pct=${best%% *} (gemm_max_fraction, layer_host_overhead_s) = (${best#* })"
