#!/usr/bin/env bash
# Install what qtop-prof needs to build, test and run its demo on Debian 12.
# Idempotent: installs only missing packages; then configures ./build.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential gcc-multilib libc6-dev-i386 meson ninja-build pkg-config
      libncurses-dev libjson-c-dev libelf-dev libdw-dev libbpf-dev libiberty-dev libglib2.0-dev
      qemu-system-x86 qemu-user python3 python3-jsonschema tmux gdb strace lz4 xz-utils zstd clang libclang-rt-14-dev llvm
      libprotobuf-c-dev protobuf-c-compiler zlib1g-dev golang-go nodejs)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# QEMU 10.0 (bookworm-backports) unpacked into a cache folder beside the
# system's 7.2, for the *_qemu10.0 tests.  A failure here does not stop the
# setup, but those tests then FAIL unless QTOP_NO_QEMU10=1 is set.
if [ "${QTOP_NO_QEMU10:-0}" = 1 ]; then
  echo "setup: QTOP_NO_QEMU10=1: not fetching QEMU 10.0; its tests will skip" >&2
elif ! scripts/qemu10.sh >/dev/null; then
  echo "setup: WARNING: could not fetch QEMU 10.0 (bookworm-backports); the *_qemu10.0 tests" \
       "will FAIL; set QTOP_NO_QEMU10=1 to skip them instead" >&2
fi
echo "setup: QEMUs available to the tests:" >&2
python3 tests/lib/qemus.py >&2 || true

# speedscope's file-format schema and ajv for the export test, in a cache
# folder (tests/unit/profile/export_test.py reads QTOP_NPM_DIR or this default); best effort:
# without them the test checks the schema's structure itself.
NPM_DIR=${QTOP_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qtop-prof/npm}
if command -v npm >/dev/null && [ ! -d "$NPM_DIR/node_modules/ajv" ]; then
  mkdir -p "$NPM_DIR"
  (cd "$NPM_DIR" && npm install --no-audit --no-fund --silent speedscope@1.25.0 ajv@8 >/dev/null 2>&1) ||
    echo "setup: npm install of speedscope and ajv failed (the export test falls back)" >&2
fi

BUILD=${BUILD:-build}
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" >/dev/null
fi
ninja -C "$BUILD" >&2
