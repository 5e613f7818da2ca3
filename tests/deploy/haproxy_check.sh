#!/bin/sh
# `haproxy -c` accepts the shipped configuration once its variables are set
# (sample addresses: nothing is bound by a check), and refuses it when they
# are not, so a deployment that forgot one fails at start-up.
# usage: haproxy_check.sh HAPROXY_CFG; exit 77 when haproxy is missing.
set -eu

cfg=$1
command -v haproxy >/dev/null 2>&1 || {
    echo "haproxy_check: haproxy not installed: skipped"
    exit 77
}
if env -u TCP_SERVER_LB_BIND haproxy -c -q -f "$cfg" >/dev/null 2>&1; then
    echo "haproxy_check: FAIL: accepted without TCP_SERVER_LB_BIND" >&2
    exit 1
fi
TCP_SERVER_LB_BIND=":8083" \
TCP_SERVER_LB_STATS="/run/haproxy/tcp-server.sock" \
TCP_SERVER_A="10.0.0.11:8083" TCP_SERVER_A_AGENT=8084 \
TCP_SERVER_B="10.0.0.12:8083" TCP_SERVER_B_AGENT=8084 \
    haproxy -c -f "$cfg"
