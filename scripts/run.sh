#!/usr/bin/env bash
# Sets dlcost up (scripts/setup.sh) and runs the main job on the shipped catalogs: a training
# estimate of Llama-3-8B on 1T tokens on 64 H100 SXM GPUs, then what serving it costs on one
# H100 (512-token prompts, 256-token answers).
#
# Usage: bash scripts/run.sh [--no-install]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh "$@"

echo
echo "==> dlcost train --model llama-3-8b --gpu h100-sxm-80gb --gpus 64 --tokens 1T"
build/dlcost train --model llama-3-8b --gpu h100-sxm-80gb --gpus 64 --tokens 1T

echo
echo "==> dlcost infer --model llama-3-8b --gpu h100-sxm-80gb --input 512 --output 256"
exec build/dlcost infer --model llama-3-8b --gpu h100-sxm-80gb --input 512 --output 256
