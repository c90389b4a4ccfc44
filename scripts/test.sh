#!/usr/bin/env bash
# Sets dlcost up (scripts/setup.sh) and runs every test: the unit tests and golden CLI cases
# in build/, the same tests under AddressSanitizer + UBSan in build-asan/, each libFuzzer target
# for DLCOST_FUZZ_SECONDS (default 30) seconds, and the published training and inference
# validation sets when the `validate` command is built.
#
# Usage: bash scripts/test.sh [--no-install]
# Exits non-zero if any step fails; later steps still run so one log shows every failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

setup_args=()
for arg in "$@"; do
  case "$arg" in
    --no-install) setup_args+=(--no-install) ;;
    -h|--help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
      exit 0 ;;
    *)
      echo "test.sh: unknown option: $arg" >&2
      exit 2 ;;
  esac
done

failed=()

header() {
  echo
  echo "==> $*"
}

header "setup: install packages and build build/"
if ! bash scripts/setup.sh "${setup_args[@]}"; then
  echo "test.sh: setup failed; nothing to test" >&2
  exit 1
fi

# The ledger's tests also run against a real PostgreSQL server: a throw-away cluster on loopback
# (scripts/pg_cluster.sh), stopped and removed when this script ends.
pg_dir="$(mktemp -d)"
trap 'bash scripts/pg_cluster.sh stop "$pg_dir/pg"; rm -rf "$pg_dir"' EXIT
header "PostgreSQL: a throw-away server for the ledger's tests"
if DLCOST_TEST_PG_URL="$(bash scripts/pg_cluster.sh start "$pg_dir/pg")"; then
  export DLCOST_TEST_PG_URL
  echo "started: $DLCOST_TEST_PG_URL"
else
  failed+=("PostgreSQL server")
fi

header "tests: ctest in build/"
if ! ctest --test-dir build --output-on-failure -j2; then
  failed+=("ctest build")
fi

header "sanitizer build: build-asan/ (AddressSanitizer + UBSan)"
if bash scripts/setup.sh --no-install --sanitize; then
  header "sanitizer tests: ctest in build-asan/"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       ctest --test-dir build-asan --output-on-failure -j2; then
    failed+=("ctest build-asan")
  fi
else
  failed+=("sanitizer build")
fi

header "fuzzing: each libFuzzer target of build-asan/ for ${DLCOST_FUZZ_SECONDS:-30} s"
# Each target starts from its seed corpus (fuzz/corpus/<name>, read only: what libFuzzer finds
# goes to a temporary folder) and must end without a crash, a leak, an input over 10 s or a
# memory blow-up. A failing input is printed (hex) so the log alone reproduces it.
fuzz_programs=(build-asan/fuzz/fuzz_*)
fuzz_programs=("${fuzz_programs[@]/*_replay/}")
ran_fuzz=0
fuzz_tmp="$(mktemp -d)"
for prog in "${fuzz_programs[@]}"; do
  [[ -n "$prog" && -x "$prog" ]] || continue
  name="${prog##*/fuzz_}"
  mkdir -p "$fuzz_tmp/$name"
  ran_fuzz=1
  if "$prog" -max_total_time="${DLCOST_FUZZ_SECONDS:-30}" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
       -artifact_prefix="$fuzz_tmp/$name/" -print_final_stats=1 \
       "$fuzz_tmp/$name" "fuzz/corpus/$name" > "$fuzz_tmp/$name.log" 2>&1; then
    runs="$(awk '/stat::number_of_executed_units/ {print $2}' "$fuzz_tmp/$name.log")"
    echo "fuzz $name: ok, ${runs:-?} executions"
  else
    echo "fuzz $name: FAILED"
    tail -n 40 "$fuzz_tmp/$name.log"
    for artifact in "$fuzz_tmp/$name"/crash-* "$fuzz_tmp/$name"/timeout-* "$fuzz_tmp/$name"/leak-* "$fuzz_tmp/$name"/oom-*; do
      [[ -f "$artifact" ]] || continue
      echo "failing input ${artifact##*/} (first 4 KiB, hex):"
      head -c 4096 "$artifact" | od -A d -t x1
    done
    failed+=("fuzz $name")
  fi
done
rm -rf "$fuzz_tmp"
if [[ "$ran_fuzz" -eq 0 ]]; then
  echo "skipped: build-asan/ has no libFuzzer programs (clang with libFuzzer not found)"
fi

header "validation: dlcost validate training and inference (published cases)"
# CLI11 answers `dlcost validate --help` with the top-level help when there is no such
# subcommand, so also check that the help text is the subcommand's own.
if help_text="$(build/dlcost validate --help 2>/dev/null)" &&
   grep -q 'dlcost validate' <<<"$help_text"; then
  if build/dlcost validate training validation/published/training_cases.csv \
       --format json > /dev/null; then
    echo "validate training: ok"
  else
    failed+=("validate training")
  fi
  if build/dlcost validate inference validation/published/inference_cases.csv \
       --format json > /dev/null; then
    echo "validate inference: ok"
  else
    failed+=("validate inference")
  fi
else
  echo "skipped: this build has no 'validate' command"
fi

echo
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "test.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test.sh: all steps passed"
