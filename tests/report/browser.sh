#!/usr/bin/env bash
# The HTML reports in a real browser (docs/reports.md): each report is opened in headless
# Chromium, which must draw it (a screenshot is written) with no console message and no network
# request from the page. Usage: browser.sh DLCOST SOURCE_DIR [SCREENSHOT_DIR]
# Exit 77 (skipped) when Chromium is not installed, except under CI, where it is a failure.
set -euo pipefail
dlcost="$1"
src="$2"
shots="${3:-}"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [[ -z "$browser" ]]; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "browser test: chromium is not installed (scripts/setup.sh installs it)" >&2
    exit 1
  fi
  echo "browser test: chromium is not installed; skipped" >&2
  exit 77
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "browser test: $*" >&2
  exit 1
}
d() { "$dlcost" --data-dir "$src/data" "$@"; }

# A ledger with two estimate-actual pairs for the comparison page.
db="$tmp/l.db"
d train --model llama-3-8b --gpu h100 --gpus 8 --tokens 10B --record --db "$db" --run-name r1 > /dev/null 2>&1
d train --model llama-3-8b --gpu h100 --gpus 8 --tokens 20B --record --db "$db" --run-name r2 > /dev/null 2>&1
printf 'run_name,duration_s,gpu_hours\nr1,140000,300\nr2,250000,560\n' > "$tmp/actuals.csv"
d ledger import csv "$tmp/actuals.csv" --db "$db" > /dev/null

declare -A pages=(
  [train]="train --model llama-3-8b --gpu h100 --gpus 8 --tokens 10B"
  [plan]="plan --model llama-3-8b --gpu h100,a100 --gpus-max 64 --tokens 10B --pareto"
  [tco]="tco --model llama-3-8b --gpu h100 --qps 4 --growth-pct 20 --train-tokens 10B"
  [infer]="infer --model llama-3-8b --gpu h100 --qps 4"
  [validate]="validate inference $src/validation/published/inference_cases.csv"
  [compare]="ledger compare --db $db"
)
for name in "${!pages[@]}"; do
  # shellcheck disable=SC2086
  d ${pages[$name]} --format html > "$tmp/$name.html" || fail "$name: dlcost exited $?"
  # No background traffic of the browser's own; the net log then holds only what the page asks.
  timeout 120 "$browser" --headless=new --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --disable-default-apps --disable-domain-reliability --no-first-run \
    --hide-scrollbars --window-size=1000,1400 --enable-logging=stderr --log-level=0 \
    --user-data-dir="$tmp/profile" --log-net-log="$tmp/$name.net.json" --screenshot="$tmp/$name.png" \
    "file://$tmp/$name.html" > "$tmp/$name.log" 2>&1 || fail "$name: chromium exited $? ($(tail -3 "$tmp/$name.log"))"
  [[ -s "$tmp/$name.png" ]] || fail "$name: no screenshot"
  if grep -q ':CONSOLE' "$tmp/$name.log"; then
    fail "$name: console messages: $(grep ':CONSOLE' "$tmp/$name.log" | head -3)"
  fi
  python3 - "$tmp/$name.net.json" "$name" <<'PY' || fail "$name: the page made a network request"
import json, sys
log = json.load(open(sys.argv[1]))
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
asked = [e["params"]["url"] for e in log.get("events", [])
         if names.get(e["type"]) == "URL_REQUEST_START_JOB"
         and str(e["params"].get("network_isolation_key", "")).startswith("file://")
         and not e["params"]["url"].startswith("file://")]
if asked:
    print(sys.argv[2], "asked for", asked[:5], file=sys.stderr)
    sys.exit(1)
PY
  grep -q '<svg' "$tmp/$name.html" || [[ "$name" == infer ]] || fail "$name: no chart"
  if [[ -n "$shots" ]]; then cp "$tmp/$name.png" "$shots/report-$name.png"; fi
done
echo "browser test: ok (${#pages[@]} reports drawn by $("$browser" --version 2>/dev/null | head -1), no console message, no network request)"
