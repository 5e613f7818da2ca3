#!/bin/sh
# Usage: units_verify.sh CMAKE BUILD_DIR
# Installs the build into a temporary DESTDIR and runs `systemd-analyze
# verify` on the installed units; any output fails the test. Only the
# ExecStart path is rewritten, from the configured prefix to the staged
# one, since verify checks that the binary exists and the build's prefix
# (/usr/local, /usr) is not installed on this machine. MANPATH points at the
# staged man pages so the units' Documentation= entries are checked too.
# Exit 77 (skipped) without systemd-analyze.
set -eu
cmake=$1
build=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "units_verify: systemd-analyze is not installed" >&2
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
DESTDIR="$tmp/stage" "$cmake" --install "$build" >/dev/null
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
bindir=$(sed -n 's/^CMAKE_INSTALL_BINDIR:PATH=//p' "$build/CMakeCache.txt")
unitdir=$(sed -n 's/^TCP_SERVER_SYSTEMD_UNITDIR:PATH=//p' \
    "$build/CMakeCache.txt")
case $unitdir in
/*) ;;
*) unitdir="$prefix/$unitdir" ;;
esac
root="$tmp/stage"
mkdir "$tmp/units"
for unit in tcp-server.service tcp-server.socket; do
    test -f "$root$unitdir/$unit"
    sed "s|=$prefix/$bindir/tcp_server|=$root$prefix/$bindir/tcp_server|" \
        "$root$unitdir/$unit" >"$tmp/units/$unit"
done
grep -q "^ExecStart=$root$prefix/$bindir/tcp_server" \
    "$tmp/units/tcp-server.service"
out=$(MANPATH="$root$prefix/share/man" systemd-analyze verify \
    "$tmp/units/tcp-server.service" "$tmp/units/tcp-server.socket" 2>&1) ||
    { printf '%s\n' "$out"; exit 1; }
if [ -n "$out" ]; then
    printf '%s\n' "$out"
    exit 1
fi
echo "ok: systemd-analyze verify tcp-server.service tcp-server.socket"
