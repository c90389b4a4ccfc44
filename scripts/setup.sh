#!/usr/bin/env bash
# Installs the Debian 12 packages dlcost needs and builds it into build/.
#
# Usage: bash scripts/setup.sh [--no-install] [--sanitize] [--minimal]
#   --no-install  skip the apt-get step (packages are already there)
#   --sanitize    also configure and build build-asan/ (AddressSanitizer + UBSan)
#   --minimal     only what estimating needs: no libtorch (measure, calibrate), no MPI
#                 (audit dedup --mpi), no tests or benchmarks (README, "Set-up options")
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

install=1
sanitize=0
minimal=0
for arg in "$@"; do
  case "$arg" in
    --no-install) install=0 ;;
    --sanitize) sanitize=1 ;;
    --minimal) minimal=1 ;;
    -h|--help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0 ;;
    *)
      echo "setup.sh: unknown option: $arg" >&2
      exit 2 ;;
  esac
done

if [[ "$minimal" -eq 1 && "$sanitize" -eq 1 ]]; then
  echo "setup.sh: --minimal builds no tests; --sanitize needs them" >&2
  exit 2
fi

packages=(
  build-essential cmake g++ make pkg-config
  nlohmann-json3-dev libcli11-dev libfmt-dev
  ca-certificates
  zlib1g-dev
  libssl-dev libutf8proc-dev libhowardhinnant-date-dev libboost-dev
  libsqlite3-dev libpq-dev
)
if [[ "$minimal" -eq 0 ]]; then
  packages+=(
    libgtest-dev libgmock-dev googletest libbenchmark-dev
    libopenmpi-dev openmpi-bin
    libtorch-dev libopenblas0-pthread
    clang libclang-rt-dev
    postgresql
    chromium
  )
fi

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

# dlcost measure (libtorch) calls the BLAS through Debian's libblas.so.3 alternative: it must be
# OpenBLAS (pthreads), not the reference BLAS, which runs libtorch's GEMMs about 12 times slower.
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -dumpmachine 2>/dev/null || true)"
openblas_lib="/usr/lib/${multiarch}/openblas-pthread/libblas.so.3"
if [[ -n "$multiarch" && -e "$openblas_lib" ]] && command -v update-alternatives >/dev/null 2>&1; then
  blas_now="$(update-alternatives --query "libblas.so.3-${multiarch}" 2>/dev/null | awk '/^Value:/ {print $2}')"
  if [[ "$blas_now" != "$openblas_lib" ]]; then
    if [[ "$install" -eq 1 && ( "$(id -u)" -eq 0 || -n "$(command -v sudo)" ) ]]; then
      echo "setup.sh: selecting OpenBLAS (pthreads) as libblas.so.3 (was: ${blas_now:-none})"
      as_root=()
      [[ "$(id -u)" -eq 0 ]] || as_root=(sudo)
      "${as_root[@]}" update-alternatives --set "libblas.so.3-${multiarch}" "$openblas_lib"
      lapack_lib="/usr/lib/${multiarch}/openblas-pthread/liblapack.so.3"
      if [[ -e "$lapack_lib" ]]; then
        "${as_root[@]}" update-alternatives --set "liblapack.so.3-${multiarch}" "$lapack_lib"
      fi
    else
      echo "setup.sh: warning: libblas.so.3 is ${blas_now:-unset}, not OpenBLAS; run:" >&2
      echo "  update-alternatives --set libblas.so.3-${multiarch} $openblas_lib" >&2
    fi
  fi
fi

jobs="$(nproc 2>/dev/null || echo 2)"

if [[ "$minimal" -eq 1 ]]; then
  echo "setup.sh: building build/ (Release, minimal: no libtorch, MPI, tests or benchmarks)"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDLCOST_WITH_TORCH=OFF -DDLCOST_WITH_MPI=OFF \
    -DDLCOST_BUILD_TESTS=OFF -DDLCOST_BUILD_BENCHMARKS=OFF
else
  echo "setup.sh: building build/ (Release)"
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDLCOST_WITH_TORCH=AUTO -DDLCOST_WITH_MPI=AUTO \
    -DDLCOST_BUILD_TESTS=ON -DDLCOST_BUILD_BENCHMARKS=ON
fi
cmake --build build -j"$jobs"

if [[ "$sanitize" -eq 1 ]]; then
  # With clang (and its libFuzzer runtime) the sanitizer build also builds the libFuzzer
  # programs of fuzz/, which scripts/test.sh runs for a bounded time; with g++ alone it builds
  # the tests only.
  fuzz_lib="$(clang++ -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null || true)"
  if command -v clang++ >/dev/null 2>&1 && [[ -f "$fuzz_lib" ]]; then
    echo "setup.sh: building build-asan/ (clang, AddressSanitizer + UBSan, libFuzzer targets)"
    # A folder configured with another compiler keeps it: start that one afresh.
    if [[ -f build-asan/CMakeCache.txt ]] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang' build-asan/CMakeCache.txt; then
      rm -rf build-asan
    fi
    CC=clang CXX=clang++ cmake -S . -B build-asan -DDLCOST_SANITIZE=ON -DDLCOST_FUZZ=ON \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDLCOST_BUILD_BENCHMARKS=OFF -DDLCOST_WITH_TORCH=OFF
  else
    echo "setup.sh: building build-asan/ (AddressSanitizer + UBSan; no clang with libFuzzer, so no fuzz programs)"
    cmake -S . -B build-asan -DDLCOST_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DDLCOST_BUILD_BENCHMARKS=OFF -DDLCOST_WITH_TORCH=OFF
  fi
  cmake --build build-asan -j"$jobs"
fi
