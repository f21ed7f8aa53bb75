#!/usr/bin/env bash
# Install what qtop-prof needs to build, test and run its demo on Debian 12.
# Idempotent: installs only missing packages; then configures ./build.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential gcc-multilib meson ninja-build pkg-config
      libncurses-dev libjson-c-dev libelf-dev libdw-dev libiberty-dev libglib2.0-dev
      qemu-system-x86 qemu-user python3 tmux gdb strace lz4 xz-utils zstd clang libclang-rt-14-dev llvm)

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

BUILD=${BUILD:-build}
if [ ! -f "$BUILD/build.ninja" ]; then
  meson setup "$BUILD" >/dev/null
fi
ninja -C "$BUILD" >&2
