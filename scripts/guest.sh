#!/usr/bin/env bash
# Boot the qtop-prof test guest in the background under TCG, or stop it.
#
#   scripts/guest.sh start ARCH [--smp N] [--qmp PATH] [--dir DIR] [--build BUILD]
#       Boots BUILD's ARCH kernel (paths from tests/guest/truth.json; BUILD
#       defaults to $QTOP_BUILD or ./build), waits for the guest's
#       "workload running" line and prints the QMP socket path.  DIR (default:
#       a new temp dir) holds qemu.pid, serial.log and the socket.
#   scripts/guest.sh stop DIR
#       Kills exactly the QEMU whose pid is in DIR/qemu.pid.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRUTH="$ROOT/tests/guest/truth.json"

die() { echo "guest.sh: $*" >&2; exit 1; }
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

truth_get() {   # truth_get ARCH KEY
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["arches"][sys.argv[2]][sys.argv[3]])' \
    "$TRUTH" "$1" "$2" 2>/dev/null || die "arch '$1' has no '$2' in truth.json"
}

cmd_start() {
  [ $# -ge 1 ] || usage
  local arch=$1; shift
  local smp=1 qmp= dir= build=${QTOP_BUILD:-$ROOT/build}
  while [ $# -gt 0 ]; do
    case $1 in
      --smp) smp=$2; shift 2 ;;
      --qmp) qmp=$2; shift 2 ;;
      --dir) dir=$2; shift 2 ;;
      --build) build=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  local kernel qemu
  kernel="$build/$(truth_get "$arch" kernel)"
  qemu=$(truth_get "$arch" qemu)
  [ -f "$kernel" ] || die "kernel not built: $kernel (ninja -C $build)"
  [ -n "$dir" ] || dir=$(mktemp -d /tmp/qtop-guest.XXXXXX)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ -n "$qmp" ] || qmp="$dir/qmp.sock"
  if [ -f "$dir/qemu.pid" ] && kill -0 "$(cat "$dir/qemu.pid")" 2>/dev/null; then
    die "a guest is already running from $dir (pid $(cat "$dir/qemu.pid"))"
  fi
  rm -f "$dir/serial.log" "$dir/qemu.pid" "$qmp"
  "$qemu" -accel tcg -kernel "$kernel" -smp "$smp" -m 128 \
    -qmp "unix:$qmp,server=on,wait=off" -display none -nodefaults \
    -no-reboot -monitor none -serial "file:$dir/serial.log" \
    -daemonize -pidfile "$dir/qemu.pid" >"$dir/qemu.log" 2>&1 \
    || die "qemu failed: $(cat "$dir/qemu.log")"
  local i
  for i in $(seq 1 600); do
    if grep -q "qtop-guest: workload running" "$dir/serial.log" 2>/dev/null; then
      echo "$qmp"
      return 0
    fi
    kill -0 "$(cat "$dir/qemu.pid" 2>/dev/null)" 2>/dev/null || die "qemu exited during boot"
    sleep 0.1
  done
  cmd_stop "$dir"
  die "no 'workload running' line after 60 s (see $dir/serial.log)"
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  local pidf="$1/qemu.pid" pid
  [ -f "$pidf" ] || die "no $pidf"
  pid=$(cat "$pidf")
  # Only kill it if that pid is still a QEMU (pids get reused).
  if kill -0 "$pid" 2>/dev/null && grep -q qemu "/proc/$pid/comm" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$pidf"
}

[ $# -ge 1 ] || usage
case $1 in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) usage ;;
esac
