#!/usr/bin/env bash
# Sets dlcost up (scripts/setup.sh) and runs the main job: a training estimate of Llama-3-8B
# on 1T tokens on 64 H100 SXM GPUs.
#
# Usage: bash scripts/run.sh [--no-install]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh "$@"

echo
echo "==> dlcost train --model llama-3-8b --gpu h100-sxm-80gb --gpus 64 --tokens 1T"
exec build/dlcost train --model llama-3-8b --gpu h100-sxm-80gb --gpus 64 --tokens 1T
