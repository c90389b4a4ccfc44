#!/usr/bin/env bash
# Installs the Debian 12 packages dlcost needs and builds it into build/.
#
# Usage: bash scripts/setup.sh [--no-install] [--sanitize]
#   --no-install  skip the apt-get step (packages are already there)
#   --sanitize    also configure and build build-asan/ (AddressSanitizer + UBSan)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

install=1
sanitize=0
for arg in "$@"; do
  case "$arg" in
    --no-install) install=0 ;;
    --sanitize) sanitize=1 ;;
    -h|--help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0 ;;
    *)
      echo "setup.sh: unknown option: $arg" >&2
      exit 2 ;;
  esac
done

packages=(
  build-essential cmake g++ make pkg-config
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  ca-certificates
  zlib1g-dev
  libopenmpi-dev openmpi-bin
)

all_installed() {
  local pkg status
  for pkg in "${packages[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]] || return 1
  done
  return 0
}

if [[ "$install" -eq 1 ]]; then
  if command -v dpkg-query >/dev/null 2>&1 && all_installed; then
    echo "setup.sh: all packages already installed"
  else
    if [[ "$(id -u)" -eq 0 ]]; then
      sudo_cmd=()
    elif command -v sudo >/dev/null 2>&1; then
      sudo_cmd=(sudo)
    else
      echo "setup.sh: need root (or sudo) to install: ${packages[*]}" >&2
      exit 1
    fi
    echo "setup.sh: installing packages"
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends "${packages[@]}"
  fi
fi

jobs="$(nproc 2>/dev/null || echo 2)"

echo "setup.sh: building build/ (Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"

if [[ "$sanitize" -eq 1 ]]; then
  echo "setup.sh: building build-asan/ (AddressSanitizer + UBSan)"
  cmake -S . -B build-asan -DDLCOST_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDLCOST_BUILD_BENCHMARKS=OFF
  cmake --build build-asan -j"$jobs"
fi
