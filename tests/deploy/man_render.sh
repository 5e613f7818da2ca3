#!/bin/sh
# Usage: man_render.sh MANDIR
# Renders every page in MANDIR the way users see it, with `man -l` (groff
# with all warnings) and with `mandoc -Tutf8`; fails on any message on
# stderr or on an empty rendering. Exit 77 (skipped) without the tools.
set -u
dir=$1
for tool in man groff mandoc; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "man_render: $tool is not installed (scripts/install-deps)" >&2
        exit 77
    fi
done
export LC_ALL=C.UTF-8 MANWIDTH=80
err=$(mktemp)
trap 'rm -f "$err"' EXIT
status=0
for page in "$dir"/*.[1-8]; do
    ok=1
    for how in "man --warnings=w -P cat -l" "groff -mandoc -ww -Tutf8" \
        "mandoc -Tutf8"; do
        # shellcheck disable=SC2086
        lines=$($how "$page" 2>"$err" | wc -l)
        if [ -s "$err" ] || [ "$lines" -lt 10 ]; then
            echo "FAIL: $how $page ($lines lines):"
            cat "$err"
            ok=0
            status=1
        fi
    done
    if [ $ok -eq 1 ]; then echo "ok: $page"; fi
done
exit $status
