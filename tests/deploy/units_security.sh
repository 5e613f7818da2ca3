#!/bin/sh
# Usage: units_security.sh UNIT MAX
# `systemd-analyze security --offline=yes UNIT` must rate the unit's
# overall exposure at most MAX (DESIGN.md section 8: 2.5). Exit 77
# (skipped) without systemd-analyze.
set -u
unit=$1
max=$2
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "units_security: systemd-analyze is not installed" >&2
    exit 77
fi
out=$(systemd-analyze security --offline=yes "$unit" 2>&1)
line=$(printf '%s\n' "$out" | grep 'Overall exposure level')
if [ -z "$line" ]; then
    printf '%s\n' "$out"
    echo "FAIL: no 'Overall exposure level' line" >&2
    exit 1
fi
echo "$line"
score=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9][0-9.]*\) .*/\1/p')
if [ -z "$score" ] || ! awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'
then
    printf '%s\n' "$out"
    echo "FAIL: exposure ${score:-?} above $max" >&2
    exit 1
fi
