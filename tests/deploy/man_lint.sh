#!/bin/sh
# Usage: man_lint.sh MANDIR
# Runs `mandoc -Tlint -Wwarning` on every page in MANDIR; any output (a
# warning or an error) fails the test. Exit 77 (skipped) without mandoc.
set -u
dir=$1
if ! command -v mandoc >/dev/null 2>&1; then
    echo "man_lint: mandoc is not installed (scripts/install-deps)" >&2
    exit 77
fi
status=0
for page in "$dir"/*.[1-8]; do
    out=$(mandoc -Tlint -Wwarning "$page" 2>&1)
    if [ -n "$out" ]; then
        printf '%s\n' "$out"
        status=1
    else
        echo "ok: $page"
    fi
done
exit $status
