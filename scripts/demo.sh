#!/usr/bin/env bash
# Set up everything, boot the bundled test guest (x86_64, 2 vCPUs, TCG) with
# a QMP socket, and open qtop-prof's TUI on it.  Quitting qtop-prof (q)
# stops the guest.  Usage: scripts/demo.sh [x86_64|i386] [SMP]
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=${1:-x86_64}
SMP=${2:-2}
scripts/setup.sh
BUILD=$PWD/build
DIR=$(mktemp -d /tmp/qtop-demo.XXXXXX)
cleanup() { scripts/guest.sh stop "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT INT TERM HUP
QMP=$(scripts/guest.sh start "$ARCH" --smp "$SMP" --dir "$DIR" --build "$BUILD")
read -r KERNEL SYSROOT < <(python3 - "$BUILD" "$ARCH" <<'PY'
import json, os, sys
build, arch = sys.argv[1], sys.argv[2]
t = json.load(open("tests/guest/truth.json"))["arches"][arch]
print(os.path.join(build, t["kernel"]), os.path.join(build, t["sysroot"]))
PY
)
echo "guest $ARCH with $SMP vCPUs running; QMP at $QMP" >&2
"$BUILD/src/qtop-prof" --qmp "$QMP" --kernel "$KERNEL" --sysroot "$SYSROOT" \
  --comm 'current_task->name' --comm '1:current_task_ap->name' "${@:3}"
