#!/bin/sh
# Usage: install_relocate.sh CMAKE BUILD_DIR
# Installs the build into a temporary DESTDIR, moves the whole installed
# prefix to another directory, and checks that the moved tcp_server finds
# its worker in libexec/tcp-server (relative to itself, not to the prefix it
# was configured with), answers the protocol's worked example through the
# moved tcp_client, and exits 0 after SIGINT.
set -eu
cmake=$1
build=$2
tmp=$(mktemp -d)
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    if [ -f "$tmp/log" ]; then cat "$tmp/log" >&2; fi
    exit 1
}

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
DESTDIR="$tmp/stage" "$cmake" --install "$build" >/dev/null
mv "$tmp/stage$prefix" "$tmp/moved"
rm -rf "$tmp/stage"
new="$tmp/moved"
[ -x "$new/bin/tcp_server" ] || fail "no bin/tcp_server in the install"
[ -x "$new/libexec/tcp-server/tcp_server_worker" ] ||
    fail "no libexec/tcp-server/tcp_server_worker in the install"
[ ! -e "$new/bin/tcp_server_worker" ] || fail "a worker in bin/"

# -p 0: the kernel picks a free port; -vv logs it and the worker's path.
: >"$tmp/log"
env -u TCP_SERVER_WORKER "$new/bin/tcp_server" -p 0 -vv 2>"$tmp/log" &
pid=$!
port=""
i=0
while [ $i -lt 100 ]; do
    port=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$tmp/log")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || fail "tcp_server exited at start-up"
    sleep 0.1
    i=$((i + 1))
done
[ -n "$port" ] || fail "no 'listening on' line within 10 s"

answer=$("$new/bin/tcp_client" -h 127.0.0.1 -p "$port" reverse \
    "The LAN Before Time") || fail "tcp_client failed"
[ "$answer" = "emiT erofeB NAL ehT" ] || fail "wrong answer '$answer'"
grep -q "worker binary: $new/libexec/tcp-server/tcp_server_worker\$" \
    "$tmp/log" || fail "the worker was not taken from the moved libexec/"

kill -INT "$pid"
status=0
wait "$pid" || status=$?
pid=""
[ "$status" -eq 0 ] || fail "tcp_server exited $status after SIGINT"
echo "ok: moved install on port $port answered and exited 0"
