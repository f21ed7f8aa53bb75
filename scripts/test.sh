#!/usr/bin/env bash
# Set up everything and run the whole test suite:
#   unit + guest + integration + fault tests (debug build), and the Linux
#   guest tests (a Debian 12 kernel fetched with apt-get download and cached
#   in ~/.cache/qtop-prof/linux; skipped only if the archive is unreachable),
#   the QEMU-booting ones on the system's QEMU 7.2 and on QEMU 10.0 (fetched
#   by setup.sh into ~/.cache/qtop-prof/qemu-10.0; missing, its tests FAIL
#   unless QTOP_NO_QEMU10=1),
#   unit tests again under ASan+UBSan, ring/sampler tests under TSan,
#   and a short bounded run of every fuzz target.
# Prints "N passed, N failed" at the end; exit status 0 only if all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
unset DEBUGINFOD_URLS
scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

# Every test's temporary files in one directory, removed at the end (the
# tests remove their own; this also catches what a killed test left).
TMPDIR=$(mktemp -d /tmp/qtop-tests-XXXXXX); export TMPDIR
chmod 755 "$TMPDIR"   # some fault tests run qtop-prof as nobody
trap 'rm -rf "$TMPDIR"' EXIT

pass=0; fail=0
tally() {   # tally LOGDIR: add meson's results from testlog.json
  local j="$1/meson-logs/testlog.json"
  [ -f "$j" ] || { fail=$((fail+1)); return; }
  local p f
  p=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(sum(1 for x in r if x["result"] in ("OK","EXPECTEDFAIL")))' "$j")
  f=$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(sum(1 for x in r if x["result"] not in ("OK","EXPECTEDFAIL","SKIP")))' "$j")
  pass=$((pass+p)); fail=$((fail+f))
}

echo "== main suites" >&2
meson test -C build --print-errorlogs --num-processes 2 --suite unit --suite guest --suite integration --suite fault --suite linux
tally build

if [ "${QTOP_NO_SANITIZE:-0}" != 1 ]; then
  echo "== ASan+UBSan (unit)" >&2
  if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
  fi
  if ninja -C build-asan >/dev/null; then
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      meson test -C build-asan --print-errorlogs --num-processes 2 --suite unit
    tally build-asan
  else
    echo "ASan build failed" >&2; fail=$((fail+1))
  fi

  echo "== TSan (ring, sampler)" >&2
  if [ ! -f build-tsan/build.ninja ]; then
    CC=clang meson setup build-tsan -Db_sanitize=thread -Db_lundef=false >/dev/null
  fi
  if ninja -C build-tsan >/dev/null; then
    TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --print-errorlogs --num-processes 2 --suite tsan
    tally build-tsan
  else
    echo "TSan build failed" >&2; fail=$((fail+1))
  fi
fi

if [ -x scripts/fuzz.sh ] && [ "${QTOP_NO_FUZZ:-0}" != 1 ]; then
  echo "== fuzz (bounded)" >&2
  if scripts/fuzz.sh --ci; then pass=$((pass+1)); else fail=$((fail+1)); fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
