#!/bin/sh
# The shipped HAProxy configuration in front of two tcp_server supervisors
# (-w 2 --agent each) on loopback, with tcp_bench verifying every answer
# through HAProxy (DESIGN.md section 9, docs/deployment.md):
#   1. rolling restart by signals alone: SIGTERM backend A, wait for its
#      exit, start it again, wait until HAProxy reports it UP; then B.
#      Asserts 0 failed requests and 0 wrong answers.
#   2. kill -9 a worker of A ten times: 0 wrong answers, at most one failed
#      exchange per kill (the one that was on the killed worker).
#   3. B stopped for good: once HAProxy reports it DOWN, 0 failures.
#   4. throughput through HAProxy and direct to one backend (printed).
# Prints the figures (counts by kind, detection times, throughput ratio).
# Every process it starts is ended by pid on every exit path (trap).
# usage: haproxy_deploy.sh BIN_DIR HAPROXY_CFG; exit 77 when haproxy or
# socat is missing.
set -eu

bin=$1
cfg=$2
for tool in haproxy socat ss; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "haproxy_deploy: $tool not installed: skipped"
        exit 77
    }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/haproxy_deploy.XXXXXX")
pids=""         # every process started here, ended by the trap
a_pid="" b_pid="" lb_pid="" bench_pid=""

# Ends p's children (workers) then p itself, by pid; SIGKILL as a last resort.
end_pid() {
    for child in $(pgrep -P "$1" 2>/dev/null || true); do
        kill -KILL "$child" 2>/dev/null || true
    done
    kill -KILL "$1" 2>/dev/null || true
}
cleanup() {
    status=$?
    for p in $pids; do
        end_pid "$p"
    done
    for p in $pids; do
        wait "$p" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ]; then
        for f in "$work"/*.log; do
            [ -f "$f" ] || continue
            echo "--- tail of $f"
            tail -n 30 "$f"
        done
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    echo "haproxy_deploy: FAIL: $*" >&2
    exit 1
}

now_ms() {
    date +%s%3N
}

# A port nobody listens on (tcp_server binds with SO_REUSEADDR, so the
# restarted backend gets its port back).
used_ports=""
free_port() {
    while :; do
        p=$(( 20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000 ))
        case " $used_ports " in *" $p "*) continue ;; esac
        if ! ss -Htan "sport = :$p" | grep -q .; then
            used_ports="$used_ports $p"
            echo "$p"
            return
        fi
    done
}

# Polls "cmd" every 50 ms until it succeeds, for at most $1 seconds.
wait_for() {
    limit=$(( $(now_ms) + $1 * 1000 ))
    shift
    until "$@"; do
        [ "$(now_ms)" -lt "$limit" ] || return 1
        sleep 0.05
    done
}

lb_port=$(free_port)
a_port=$(free_port)
b_port=$(free_port)
a_agent=$(free_port)
b_agent=$(free_port)
stats="$work/stats.sock"

export TCP_SERVER_LB_BIND="127.0.0.1:$lb_port"
export TCP_SERVER_LB_STATS="$stats"
export TCP_SERVER_A="127.0.0.1:$a_port"
export TCP_SERVER_B="127.0.0.1:$b_port"
export TCP_SERVER_A_AGENT="$a_agent"
export TCP_SERVER_B_AGENT="$b_agent"

# HAProxy's view of server $1 (a or b): UP, DRAIN, DOWN, ... (field 18 of
# "show stat").
lb_status() {
    echo "show stat" | socat -t 2 stdio "unix-connect:$stats" 2>/dev/null |
        awk -F, -v s="$1" '$1 == "tcp_servers" && $2 == s { print $18 }'
}
lb_is() {
    st=$(lb_status "$1")
    case "$st" in
    "$2"*) return 0 ;;
    *) return 1 ;;
    esac
}

start_backend() { # name port agent_port
    "$bin/tcp_server" -b 127.0.0.1 -p "$2" -w 2 --agent "127.0.0.1:$3" -v \
        2>>"$work/$1.log" &
    eval "${1}_pid=$!"
    pids="$pids $!"
}

# SIGTERM backend $1 and wait until it has exited with status 0.
stop_backend() {
    eval "p=\$${1}_pid"
    kill -TERM "$p"
    rc=0
    wait "$p" || rc=$?
    [ "$rc" -eq 0 ] || fail "backend $1 exited with status $rc"
}

# tcp_bench in conn mode (connect, one request, close), 4 at a time,
# through HAProxy, until stopped with SIGINT; its JSON goes to $1.
start_bench() {
    "$bin/tcp_bench" -p "$lb_port" -c 4 -t 600 -s 64 --timeout 20 --json \
        conn >"$work/$1.json" 2>>"$work/bench.log" &
    bench_pid=$!
    pids="$pids $!"
}
stop_bench() {
    kill -INT "$bench_pid"
    wait "$bench_pid" || true
}
# json FILE KEY: the number after "KEY": (keys are unique in the report).
json() {
    sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1"
}
summary() { # label file
    f=$1
    echo "$2: requests $(( $(json "$f" answers) + $(json "$f" errors_total) ))," \
        "answered $(json "$f" answers), failures $(json "$f" errors_total)" \
        "(refused $(json "$f" refused), reset $(json "$f" reset)," \
        "short_read $(json "$f" short_read), timeout $(json "$f" timeout)," \
        "connect $(json "$f" connect), io $(json "$f" io))," \
        "wrong $(json "$f" wrong_answer)"
}

start_backend a "$a_port" "$a_agent"
start_backend b "$b_port" "$b_agent"
haproxy -db -f "$cfg" >"$work/haproxy.log" 2>&1 &
lb_pid=$!
pids="$pids $lb_pid"

wait_for 20 lb_is a UP || fail "HAProxy never saw backend a UP ($(lb_status a))"
wait_for 20 lb_is b UP || fail "HAProxy never saw backend b UP ($(lb_status b))"
echo "HAProxy on port $lb_port; backends a:$a_port b:$b_port UP"

# --- 1. rolling restart by signals alone ----------------------------------
start_bench rolling
sleep 1 # load on both backends before the first stop (not a synchronisation)
for s in a b; do
    eval "port=\$${s}_port agent=\$${s}_agent"
    t0=$(now_ms)
    stop_backend "$s"
    t1=$(now_ms)
    start_backend "$s" "$port" "$agent"
    wait_for 30 lb_is "$s" UP || fail "backend $s not UP again ($(lb_status "$s"))"
    t2=$(now_ms)
    echo "rolling restart of $s: stopped in $((t1 - t0)) ms, UP again" \
        "$((t2 - t1)) ms after its restart"
done
sleep 1
stop_bench
summary "$work/rolling.json" "rolling restart"
[ "$(json "$work/rolling.json" answers)" -gt 0 ] || fail "no answers at all"
[ "$(json "$work/rolling.json" errors_total)" -eq 0 ] ||
    fail "requests failed during the rolling restart"

# --- 2. kill -9 a worker of A ten times -----------------------------------
start_bench crash
sleep 0.5
kills=0
while [ "$kills" -lt 10 ]; do
    w=$(pgrep -P "$a_pid" | head -n 1)
    [ -n "$w" ] || fail "backend a has no worker"
    kill -KILL "$w"
    kills=$((kills + 1))
    # The supervisor replaces it at once: wait for two workers again.
    wait_for 10 sh -c "[ \$(pgrep -P $a_pid | grep -vc '^$w\$') -eq 2 ]" ||
        fail "worker $w of a not replaced"
    sleep 0.2
done
stop_bench
summary "$work/crash.json" "10 worker kills"
[ "$(json "$work/crash.json" wrong_answer)" -eq 0 ] || fail "wrong answers"
failed=$(json "$work/crash.json" errors_total)
[ "$failed" -le "$kills" ] ||
    fail "$failed failures for $kills killed workers (at most one each)"
echo "failures per kill: $failed of $kills kills"

# --- 3. backend B down for good -------------------------------------------
t0=$(now_ms)
kill -TERM "$b_pid"
wait_for 10 lb_is b DRAIN || true
t1=$(now_ms)
rc=0
wait "$b_pid" || rc=$?
[ "$rc" -eq 0 ] || fail "backend b exited with status $rc"
t2=$(now_ms)
wait_for 20 lb_is b DOWN || fail "HAProxy never marked b DOWN ($(lb_status b))"
t3=$(now_ms)
echo "backend b stopped: DRAIN seen $((t1 - t0)) ms after SIGTERM; exited" \
    "$((t2 - t0)) ms after SIGTERM; HAProxy marked it DOWN $((t3 - t2)) ms" \
    "after its exit"
start_bench down
sleep 3
stop_bench
summary "$work/down.json" "one backend down"
[ "$(json "$work/down.json" answers)" -gt 0 ] || fail "no answers with b down"
[ "$(json "$work/down.json" errors_total)" -eq 0 ] ||
    fail "failures with b down"

# --- 4. throughput: through HAProxy vs direct (one backend, -w 2) ---------
"$bin/tcp_bench" -p "$lb_port" -c 2 -t 3 -s 64 --json conn >"$work/via.json"
"$bin/tcp_bench" -p "$a_port" -c 2 -t 3 -s 64 --json conn >"$work/direct.json"
via=$(json "$work/via.json" requests_per_s)
direct=$(json "$work/direct.json" requests_per_s)
echo "throughput (conn mode, 64-byte requests, 2 at a time, backend a only):" \
    "through HAProxy $via/s, direct $direct/s," \
    "ratio $(awk -v a="$via" -v b="$direct" 'BEGIN { printf "%.2f", a / b }')"

# No worker logged a warning or an error for HAProxy's checks.
if grep -E '\[(WARN|ERROR) worker' "$work/a.log" "$work/b.log"; then
    fail "a worker logged a warning or an error"
fi
echo "haproxy_deploy: PASS"
