#!/usr/bin/env bash
# Fuzzing with cargo-fuzz (libFuzzer): builds the targets of tests/fuzz, runs each for FUZZ_SECONDS
# (default 60) from its committed seeds, prints each target's executions, and fails if any target
# found a crash (the input is kept under tests/fuzz/artifacts/<target>/).
#
# cargo-fuzz passes -Z flags to rustc; RUSTC_BOOTSTRAP=1 makes the stable toolchain accept them.
# FUZZ_SANITIZER=none builds without AddressSanitizer (faster, finds panics only).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_SANITIZER="${FUZZ_SANITIZER:-address}"
FUZZ_DIR=tests/fuzz
# One of libFuzzer's final stats (-print_final_stats=1) from a run's log.
final_stat() {
  grep -o "^stat::$1: *[0-9]*" "$2" | grep -o '[0-9]*$' || echo '?'
}

ensure_cargo_tool cargo-fuzz 0.13.2
export RUSTC_BOOTSTRAP=1

log "building the fuzz targets (sanitizer: $FUZZ_SANITIZER)"
start=$SECONDS
cargo fuzz build --fuzz-dir "$FUZZ_DIR" --sanitizer "$FUZZ_SANITIZER"
log "built in $((SECONDS - start)) s"

mkdir -p "$FUZZ_DIR/logs"
summary=()
failed=()
for target in $(cargo fuzz list --fuzz-dir "$FUZZ_DIR"); do
  mkdir -p "$FUZZ_DIR/corpus/$target"
  run_log="$FUZZ_DIR/logs/$target.log"
  log "fuzzing $target for $FUZZ_SECONDS s (log: $run_log)"
  # New inputs go to the first directory (git-ignored); the seeds are only read.
  status=0
  cargo fuzz run --fuzz-dir "$FUZZ_DIR" --sanitizer "$FUZZ_SANITIZER" "$target" \
    "$FUZZ_DIR/corpus/$target" "$FUZZ_DIR/seeds/$target" -- \
    -max_total_time="$FUZZ_SECONDS" -timeout=20 -print_final_stats=1 >"$run_log" 2>&1 || status=$?
  execs=$(final_stat number_of_executed_units "$run_log")
  if [ "$status" -eq 0 ]; then
    result=ok
  else
    result="CRASH (exit $status)"
    failed+=("$target")
    grep -A1 -E '^(==[0-9]+==ERROR|thread .* panicked|SUMMARY|artifact_prefix)' "$run_log" >&2 || tail -n 30 "$run_log" >&2
  fi
  summary+=("| $target | $execs | $(final_stat average_exec_per_sec "$run_log") | $(final_stat new_units_added "$run_log") | $result |")
done

printf '\n| target | executions | per second | new units | result |\n|---|---|---|---|---|\n'
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashes in: ${failed[*]} (inputs under $FUZZ_DIR/artifacts/)" >&2
  exit 1
fi
