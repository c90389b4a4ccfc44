#!/usr/bin/env bash
# Measures this machine's NVIDIA GPU with dlcost and records the result, in one command:
# builds dlcost against the libtorch inside the installed PyTorch (with CUDA) into build-gpu/,
# runs the sweep with the catalog's figures, calibrates, runs the sweep again with the measured
# profile, and writes everything to validation/measured/<gpu>/<date>/.
#
# Usage: bash scripts/measure-gpu.sh [--quick] [--jobs N] [--build-only]
#   --quick       calibrate --quick and 3 timed steps per sweep case (a few minutes in all)
#   --jobs N      parallel build jobs (default: nproc)
#   --build-only  configure and build build-gpu/, then stop
#
# Needs: python3 with PyTorch built with CUDA and the C++11 ABI (PyTorch >= 2.7 wheels, or a
# source build), the CUDA toolkit (nvcc; PyTorch's CMake config looks for it), the Debian build
# dependencies of dlcost (scripts/setup.sh --no-install builds the CPU side first if you like),
# and an NVIDIA driver. Nothing is estimated or filled in here: a step that fails stops the
# script, and only what dlcost measured is written.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

quick=0
build_only=0
jobs="$(nproc 2>/dev/null || echo 4)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) quick=1 ;;
    --build-only) build_only=1 ;;
    --jobs)
      shift
      jobs="${1:?--jobs needs a number}" ;;
    -h|--help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0 ;;
    *)
      echo "measure-gpu.sh: unknown option: $1" >&2
      exit 2 ;;
  esac
  shift
done

die() {
  echo "measure-gpu.sh: $*" >&2
  exit 1
}

command -v python3 >/dev/null 2>&1 || die "python3 is not installed"
python3 -c 'import torch' 2>/dev/null || die "PyTorch is not importable from python3 (pip install torch)"
read -r torch_version cuda_ok cxx11 prefix gpu_name < <(python3 - <<'PY'
import torch
name = torch.cuda.get_device_name(0).replace(" ", "_") if torch.cuda.is_available() else "-"
print(torch.__version__, int(torch.cuda.is_available()), int(torch.compiled_with_cxx11_abi()),
      torch.utils.cmake_prefix_path, name)
PY
)
gpu_name="${gpu_name//_/ }"
echo "measure-gpu.sh: PyTorch ${torch_version}, CMake prefix ${prefix}"
[[ "$cuda_ok" == "1" ]] || die "PyTorch sees no CUDA device (torch.cuda.is_available() is False)"
[[ "$cxx11" == "1" ]] || die "this PyTorch uses the pre-C++11 ABI; dlcost's other libraries use the C++11 ABI. Install a PyTorch >= 2.7 wheel (C++11 ABI) or the cxx11-abi libtorch."
command -v nvcc >/dev/null 2>&1 || echo "measure-gpu.sh: warning: nvcc not found; PyTorch's CMake config may fail to find CUDA (set CUDACXX or install the CUDA toolkit)" >&2
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi

echo "measure-gpu.sh: building build-gpu/ with libtorch from PyTorch (CUDA)"
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DDLCOST_WITH_TORCH=ON -DCMAKE_PREFIX_PATH="$prefix" \
  -DDLCOST_BUILD_TESTS=OFF -DDLCOST_BUILD_BENCHMARKS=OFF | tee build-gpu.configure.log
grep -q "measure --device cuda enabled" build-gpu.configure.log ||
  die "the libtorch found has no CUDA (see build-gpu.configure.log)"
rm -f build-gpu.configure.log
cmake --build build-gpu -j"$jobs"
[[ "$build_only" -eq 1 ]] && exit 0

dlcost=build-gpu/dlcost
# The record folder dlcost uses: the device name in lower case, other characters as '-'.
label="$(printf '%s' "$gpu_name" | tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9]\{1,\}/-/g' -e 's/^-//' -e 's/-$//')"
date="$(date -u +%F)"
out="validation/measured/${label}/${date}"
mkdir -p "$out"
steps=5
cal_args=()
if [[ "$quick" -eq 1 ]]; then
  steps=3
  cal_args=(--quick)
fi

echo "measure-gpu.sh: sweep with the catalog figures (before calibration)"
"$dlcost" measure sweep --device cuda --steps "$steps" --format json --record validation/measured \
  --out "$out/sweep-before.json"
echo "measure-gpu.sh: calibrate"
"$dlcost" calibrate --device cuda "${cal_args[@]}" --out "$out/profile.json" --record validation/measured
echo "measure-gpu.sh: sweep with the measured profile (after calibration)"
"$dlcost" measure sweep --device cuda --steps "$steps" --calibration "$out/profile.json" --format json \
  --record validation/measured --out "$out/sweep-after.json"

python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
before = json.load(open(f"{out}/sweep-before.json"))["summary"]
after = json.load(open(f"{out}/sweep-after.json"))["summary"]
print(f"measure-gpu.sh: sweep MAPE before calibration {before['mape_pct']:.1f}% (max {before['max_ape_pct']:.1f}%), "
      f"after {after['mape_pct']:.1f}% (max {after['max_ape_pct']:.1f}%), {after['n']} cases")
PY
echo "measure-gpu.sh: recorded in $out"
