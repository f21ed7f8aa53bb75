#!/usr/bin/env bash
# Build the libFuzzer targets with clang (+ASan/UBSan) and run each one.
#   scripts/fuzz.sh            60 s per target
#   scripts/fuzz.sh --ci       a short bounded run per target (CI)
#   scripts/fuzz.sh -t SECS    SECS per target
# Seeds: fuzz/corpus/<target>/ (committed).  New inputs go to a scratch dir.
# Prints executions reached per target; exits non-zero on any crash.
set -uo pipefail
cd "$(dirname "$0")/.."
SECS=60
case "${1:-}" in
  --ci) SECS=${QTOP_FUZZ_SECS:-15} ;;
  -t) SECS=$2 ;;
esac
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dwerror=true >/dev/null || exit 1
fi
ninja -C build-fuzz >/dev/null || { echo "fuzz build failed"; exit 1; }
status=0
for bin in build-fuzz/fuzz/fuzz_*; do
  [ -f "$bin" ] && [ -x "$bin" ] || continue
  name=$(basename "$bin")
  work=$(mktemp -d)
  seeds=fuzz/corpus/${name#fuzz_}
  [ -d "$seeds" ] || seeds=
  out=$(UBSAN_OPTIONS=halt_on_error=1 "$bin" -max_total_time="$SECS" -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/" "$work" $seeds 2>&1)
  rc=$?
  execs=$(printf '%s\n' "$out" | grep -oE 'stat::number_of_executed_units: *[0-9]+' | grep -oE '[0-9]+$')
  [ -n "$execs" ] || execs=$(printf '%s\n' "$out" | grep -oE '#[0-9]+' | tail -n1 | tr -d '#')
  if [ $rc -ne 0 ]; then
    echo "$name: CRASH after ${execs:-?} executions"; printf '%s\n' "$out" | tail -n 30
    # the input itself, so a CI log is enough to reproduce it
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
      [ -f "$a" ] && [ "$(stat -c %s "$a")" -le 8192 ] || continue
      echo "input (base64) of $(basename "$a"):"; base64 -w 76 "$a"
    done
    status=1
  else
    echo "$name: ${execs:-?} executions in ${SECS}s, no crash"
  fi
  rm -rf "$work"
done
exit $status
