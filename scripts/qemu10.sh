#!/usr/bin/env bash
# Fetch Debian bookworm-backports' QEMU 10.0 into a cache folder beside the
# system's QEMU 7.2, without installing it (apt-get download + dpkg -x), so
# the integration and Linux tests can also run on the QEMU that current
# distributions ship.  Idempotent; run as root (or through sudo) on Debian 12.
#
#   scripts/qemu10.sh            # fetch if missing; prints the folder
#
# Folder: $QTOP_QEMU10_DIR, default ~/.cache/qtop-prof/qemu-10.0; it holds
# usr/bin/qemu-system-{x86_64,i386}, usr/share/qemu (firmware, for -L) and
# usr/lib/... with any shared library the backports build needs that the
# system lacks (run with LD_LIBRARY_PATH, see tests/lib/guest.py).
# Exit status 0 only when DIR/usr/bin/qemu-system-x86_64 --version runs.
# Never touches the system's packages: the apt source is pinned low by
# backports' own Release (NotAutomatic), and nothing is apt-get installed.
set -euo pipefail

DIR=${QTOP_QEMU10_DIR:-$HOME/.cache/qtop-prof/qemu-10.0}
# seabios: qemu-system-x86 10.0 depends on seabios >> 1.16.3 (bookworm has 1.16.2);
# it is run with -L DIR/usr/share/qemu -L DIR/usr/share/seabios.
PKGS=(qemu-system-x86 qemu-system-common qemu-system-data seabios)
SUITE=bookworm-backports
LIST=/etc/apt/sources.list.d/qtop-bookworm-backports.sources
APT_OPTS=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=2)
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo

say() { echo "qemu10: $*" >&2; }

# The wrapper-free check: the binary runs with its own data dir and libraries.
works() {
  [ -x "$DIR/usr/bin/qemu-system-x86_64" ] && [ -x "$DIR/usr/bin/qemu-system-i386" ] &&
    [ -f "$DIR/usr/share/seabios/bios-256k.bin" ] || return 1
  LD_LIBRARY_PATH="$(libpath)" "$DIR/usr/bin/qemu-system-x86_64" \
    -L "$DIR/usr/share/qemu" -L "$DIR/usr/share/seabios" --version 2>/dev/null |
    grep 'version 10\.' >/dev/null
}

# Library folders inside DIR (extra libraries unpacked from .debs).
libpath() {
  local p=
  for d in "$DIR/usr/lib/x86_64-linux-gnu" "$DIR/lib/x86_64-linux-gnu"; do
    [ -d "$d" ] && p=${p:+$p:}$d
  done
  echo "$p"
}

if works; then
  say "QEMU 10.0 already in $DIR"
  echo "$DIR"; exit 0
fi

# 1. A bookworm-backports source on the mirror the Debian sources use.
have_bpo() {
  grep -rqsE '(^|[[:space:]])bookworm-backports([[:space:]]|$)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
}
mirror() {
  # The first URI serving bookworm's main suite (deb822 or one-line format).
  local m
  m=$(awk '/^URIs:/{u=$2} /^Suites:/{for(i=2;i<=NF;i++) if($i=="bookworm") {print u; exit}}' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$m" ] || m=$(awk '$1=="deb" && $0 ~ / bookworm( |$)/ {for(i=2;i<=NF;i++) if($i ~ /^[a-z]+:\/\//){print $i; exit}}' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1)
  echo "${m:-http://deb.debian.org/debian}"
}
need_update=0
if ! have_bpo; then
  m=$(mirror)
  say "adding $SUITE from $m ($LIST)"
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$m" "$SUITE" | $SUDO tee "$LIST" >/dev/null
  need_update=1
fi
# 2. apt-get update only when the backports lists are not there yet.
# (not `apt-cache ... | grep -q`: with pipefail, grep's early exit fails it)
policy=$(apt-cache policy qemu-system-x86 2>/dev/null || true)
if [ $need_update = 1 ] || [[ $policy != *"$SUITE"* ]]; then
  say "apt-get update"
  $SUDO apt-get "${APT_OPTS[@]}" update -qq >&2
fi

# 3. Download and unpack (never install).
mkdir -p "$DIR/debs"
fetch() {   # fetch PKG[/SUITE]: apt-get download into DIR/debs, dpkg -x into DIR
  local spec=$1 name=${1%%/*}
  if ! ls "$DIR/debs/${name}_"*.deb >/dev/null 2>&1; then
    (cd "$DIR/debs" && apt-get "${APT_OPTS[@]}" -o APT::Sandbox::User=root download "$spec" >&2) || return 1
  fi
  dpkg -x "$(ls "$DIR/debs/${name}_"*.deb | head -1)" "$DIR"
}
for p in "${PKGS[@]}"; do
  fetch "$p/$SUITE" || { say "cannot download $p/$SUITE"; exit 1; }
done

# 4. Shared libraries the backports build wants and the system lacks:
# fetch the package that ships each (backports first, then bookworm).
for round in 1 2 3; do
  miss=$(LD_LIBRARY_PATH="$(libpath)" ldd "$DIR/usr/bin/qemu-system-x86_64" "$DIR/usr/bin/qemu-system-i386" \
           2>/dev/null | awk '/not found/{print $1}' | sort -u)
  [ -n "$miss" ] || break
  for lib in $miss; do
    # Debian names library packages after the soname: libfoo.so.N -> libfooN.
    base=${lib%%.so*}; ver=${lib##*.so.}; ver=${ver%%.*}
    pkg=$(echo "$base" | tr '[:upper:]_' '[:lower:]-')
    case "$pkg" in *[0-9]) pkg="$pkg-$ver" ;; *) pkg="$pkg$ver" ;; esac
    say "missing $lib: fetching $pkg"
    fetch "$pkg/$SUITE" 2>/dev/null || fetch "$pkg" || say "cannot fetch $pkg for $lib"
  done
done

if works; then
  say "$(LD_LIBRARY_PATH="$(libpath)" "$DIR/usr/bin/qemu-system-x86_64" -L "$DIR/usr/share/qemu" --version | sed -n 1p) in $DIR"
  echo "$DIR"; exit 0
fi
say "QEMU 10.0 in $DIR does not run:"
LD_LIBRARY_PATH="$(libpath)" "$DIR/usr/bin/qemu-system-x86_64" -L "$DIR/usr/share/qemu" --version >&2 || true
exit 1
