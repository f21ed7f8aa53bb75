#!/usr/bin/env bash
# One command for the sampling benchmarks (doc/performance.md):
#   scripts/bench.sh [--quick] [bench_sampling.py options...]
# Builds what it needs in build-bench (release), boots the test guest under
# TCG (x86_64 with 1 and 2 vCPUs, then i386), compares qtop-prof with the
# prior QMP technique (bench/baseline_sampler) and writes the tables to
# build-bench/bench-sampling.md (+ .json), then (--deep) x86_64 1 vCPU once
# more with the guest booted with -append deep (kernel chains 24-28 frames
# deep) in a section of its own.  About 4.5 minutes; --quick: ~1 (no deep).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${QTOP_BENCH_BUILD:-$ROOT/build-bench}
cd "$ROOT"
for t in qemu-system-x86_64 meson ninja python3 nm strace; do
  command -v "$t" >/dev/null || { echo "bench.sh: $t missing (scripts/setup.sh installs the build tools; apt-get install strace)" >&2; exit 1; }
done
# werror off: a benchmark build must not stop at a warning that only -O3 shows.
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" -Dbuildtype=release -Dwerror=false >/dev/null
# Only the targets the benchmark runs: another module's half-written file
# elsewhere in the tree must not stop it.
# QTOP_BENCH_NO_BUILD=1: run the binaries already in $BUILD (e.g. while a
# file someone is editing does not compile).
if [ -z "${QTOP_BENCH_NO_BUILD:-}" ]; then
  ninja -C "$BUILD" src/qtop-prof bench/baseline_sampler \
    tests/guest/x86_64/sysroot/kernel tests/guest/x86_64/sysroot/alpha tests/guest/x86_64/sysroot/beta \
    tests/guest/i386/sysroot/kernel tests/guest/i386/sysroot/alpha tests/guest/i386/sysroot/beta >/dev/null \
    || { echo "bench.sh: build failed (QTOP_BENCH_NO_BUILD=1 runs the binaries already built)" >&2; exit 1; }
fi
ARGS=(--i386 --strace --deep)
if [ "${1:-}" = --quick ]; then
  shift
  ARGS=(--smp 1 --reps 2 --rate-secs 3 --window 2.5)
fi
exec python3 "$ROOT/bench/bench_sampling.py" --build "$BUILD" "${ARGS[@]}" \
  --md "$BUILD/bench-sampling.md" --json "$BUILD/bench-sampling.json" "$@"
