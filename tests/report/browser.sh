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
  [drift]="drift --reference $src/tests/data/drift/ts_ref.csv --current $src/tests/data/drift/ts_cur.csv --timestamp ts --window 6h"
)
# Opens $tmp/NAME.html; writes NAME.png, NAME.log (the browser's messages) and NAME.net.json.
open_page() {
  local name="$1"
  # No background traffic of the browser's own; the net log then holds only what the page asks.
  timeout 120 "$browser" --headless=new --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --disable-default-apps --disable-domain-reliability --no-first-run \
    --hide-scrollbars --window-size=1000,2000 --enable-logging=stderr --log-level=0 \
    --user-data-dir="$tmp/profile" --log-net-log="$tmp/$name.net.json" --screenshot="$tmp/$name.png" \
    "file://$tmp/$name.html" > "$tmp/$name.log" 2>&1 || fail "$name: chromium exited $? ($(tail -3 "$tmp/$name.log"))"
  [[ -s "$tmp/$name.png" ]] || fail "$name: no screenshot"
}
# True when the page asked for anything but local files.
page_fetched() {
  python3 - "$tmp/$1.net.json" "$1" <<'PY'
import json, sys
log = json.load(open(sys.argv[1]))
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
asked = [e["params"]["url"] for e in log.get("events", [])
         if names.get(e["type"]) == "URL_REQUEST_START_JOB"
         and str(e["params"].get("network_isolation_key", "")).startswith("file://")
         and not e["params"]["url"].startswith("file://")]
if asked:
    print(sys.argv[2], "asked for", asked[:5], file=sys.stderr)
sys.exit(0 if asked else 1)
PY
}

# The checks must catch a page that fetches and logs: a control page does both.
printf '<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"><script>console.error("control")</script></body></html>' \
  > "$tmp/control.html"
open_page control
page_fetched control 2> /dev/null || fail "control: the network check missed the control page's request"
grep -q ':CONSOLE' "$tmp/control.log" || fail "control: the console check missed the control page's message"

for name in "${!pages[@]}"; do
  # shellcheck disable=SC2086
  rc=0
  d ${pages[$name]} --format html > "$tmp/$name.html" || rc=$?
  [[ "$rc" == 0 || ( "$name" == drift && "$rc" == 5 ) ]] || fail "$name: dlcost exited $rc"
  open_page "$name"
  if grep -q ':CONSOLE' "$tmp/$name.log"; then
    fail "$name: console messages: $(grep ':CONSOLE' "$tmp/$name.log" | head -3)"
  fi
  if page_fetched "$name"; then fail "$name: the page made a network request"; fi
  grep -q '<svg' "$tmp/$name.html" || [[ "$name" == infer ]] || fail "$name: no chart"
  if [[ -n "$shots" ]]; then cp "$tmp/$name.png" "$shots/report-$name.png"; fi
done
echo "browser test: ok (${#pages[@]} reports drawn by $("$browser" --version 2>/dev/null | head -1), no console message, no network request)"
