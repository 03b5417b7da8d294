#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The sandbox of migrated.service, as systemd measures it: runs
# `systemd-analyze security --offline=true` on the built unit file, prints its
# table and the overall exposure, and fails above MAX (default 4.5; README,
# "Sandboxing", gives the figure). It needs no running systemd. Skips (77)
# where systemd-analyze is missing or has no --offline (systemd < 250).
#   unit-security.sh UNIT_FILE [MAX]
set -u
unit=$1 max=${2:-4.5}
if ! command -v systemd-analyze >/dev/null 2>&1; then
        echo "SKIP: no systemd-analyze"; exit 77
fi
if ! systemd-analyze --help 2>/dev/null | grep -q -- '--offline'; then
        echo "SKIP: systemd-analyze has no --offline ($(systemd-analyze --version | head -1))"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# The name it is installed under, so the table names the real unit.
cp "$unit" "$tmp/migrated.service"
out=$(cd "$tmp" && SYSTEMD_LOG_LEVEL=warning systemd-analyze security --offline=true --no-pager \
        migrated.service 2>&1)
rc=$?
printf '%s\n' "$out"
# "→ Overall exposure level for migrated.service: 2.3 OK 🙂"
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for migrated\.service: \([0-9][0-9.]*\) .*/\1/p')
if [ -z "$score" ]; then
        echo "FAIL: no overall exposure level in the output (exit $rc)"; exit 1
fi
if awk -v s="$score" -v m="$max" 'BEGIN { exit !(s + 0 > m + 0) }'; then
        echo "FAIL: exposure $score is above $max"; exit 1
fi
echo "exposure $score (at most $max)"
