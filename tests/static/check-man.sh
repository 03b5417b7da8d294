#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# A man page as man-db renders it: formats PAGE for an 80-column UTF-8 terminal
# with groff's warnings on, throws the rendering away, and fails when man fails
# or says anything at all on stderr (an unknown macro, a bad escape, a line that
# cannot be broken, ...), printing what it said. Skips (77) where man is missing.
# --warnings alone turns on groff's "mac" warnings only (an unknown macro, but
# not "\q"): --warnings=w asks for all of them.
#   check-man.sh PAGE
set -u
if [ $# -ne 1 ]; then
        echo "usage: $0 PAGE" >&2; exit 2
fi
page=$1
if ! command -v man >/dev/null 2>&1; then
        echo "SKIP: no man (package man-db)"; exit 77
fi
if [ ! -r "$page" ]; then
        echo "FAIL: $page: cannot be read"; exit 1
fi
err=$(mktemp); trap 'rm -f "$err"' EXIT
LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=w -E UTF-8 -l "$page" >/dev/null 2>"$err"
rc=$?
if [ "$rc" -ne 0 ] || [ -s "$err" ]; then
        echo "FAIL: $page: man exited with $rc and printed:"
        cat "$err"
        exit 1
fi
echo "ok: $page renders without warnings"
