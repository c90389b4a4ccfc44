#!/usr/bin/env bash
# Refits the serving engines' iteration-time factors (docs/serving.md, "Engine factors") on the
# published inference cases and writes them into data/engines/*.json (field
# iteration_time_factors, replaced whole). `dlcost validate inference` does the fit; this script
# only copies its "engine_factors" into the engine files it names. Run it after a change to the
# serving model or to validation/published/inference_cases.csv, then rerun the validator: its
# "fitted" and "shipped" columns must agree.
# Usage: scripts/fit_engine_factors.sh [build/dlcost]
set -euo pipefail
cd "$(dirname "$0")/.."
dlcost=${1:-build/dlcost}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$dlcost" validate inference validation/published/inference_cases.csv --format json --out "$tmp/v.json"
python3 - "$tmp/v.json" <<'PY'
import collections, datetime, glob, json, os, sys
fits = json.load(open(sys.argv[1])).get("engine_factors", [])
files = {}
for p in sorted(glob.glob("data/engines/*.json")):
    j = json.load(open(p), object_pairs_hook=collections.OrderedDict)
    files[j["id"]] = (p, j)
new = collections.defaultdict(list)
for f in fits:
    engine, arch, epoch = f["engine"].split("/")
    if f["fitted"] == 1.0:
        continue  # too few cases or sources: the kernel model
    new[engine].append(collections.OrderedDict([
        ("architecture", arch), ("from_version", epoch), ("factor", round(f["fitted"], 3)),
        ("cases", f["cases"]), ("sources", f["sources"])]))
for engine, (p, j) in files.items():
    if engine == "generic":
        continue
    j["iteration_time_factors"] = new.get(engine, [])
    j["iteration_time_factors_source"] = (
        "fitted by scripts/fit_engine_factors.sh on validation/published/inference_cases.csv "
        f"({datetime.date.today().isoformat()}): per GPU generation and version epoch, exp of the median of "
        "ln(predicted speed / measured speed) of the engine's dense-model cases predicted in closed form with "
        "the kernel model alone (docs/serving.md, 'Engine factors')")
    tmp = p + ".tmp"
    with open(tmp, "w") as out:
        out.write(json.dumps(j, indent=2) + "\n")
    os.replace(tmp, p)
    print(p, [(x["architecture"], x["from_version"], x["factor"]) for x in j["iteration_time_factors"]])
PY
