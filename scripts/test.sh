#!/usr/bin/env bash
# Sets dlcost up (scripts/setup.sh) and runs every test: the unit tests and golden CLI cases
# in build/, the same tests under AddressSanitizer + UBSan in build-asan/, and the published
# training validation set when the `validate` command is built.
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
