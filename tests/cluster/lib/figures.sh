# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# What the benchmarks (tests/bench/) share, sourced by bench.sh: timing a
# command inside a node and summing the times up.  Times are measured inside
# the node with bash's $EPOCHREALTIME (no fork for the clock, nsenter not
# counted).
#
#   die TEXT                    "BENCHMARK: TEXT" on stderr (the script's name) and exit 1
#   timed [--stamp-lines] NODE LOG COMMAND...
#                               runs COMMAND on NODE, its output (stdout and stderr) into
#                               LOG (a path the node can write; /var/tmp and the state
#                               folder are shared with the host); prints "RC SECONDS", the
#                               wall time.  --stamp-lines: each line of LOG starts with the
#                               $EPOCHREALTIME it arrived at (read through a pipe, so the
#                               command's time includes that loop)
#   median [-f FORMAT] VALUE... the median (printf FORMAT, default %.3f)
#   range VALUE...              "MIN-MAX" (%.2f)
#   div A B                     A / B (%.2f), "-" when B is 0
#   stats PERCENTILE < MICROSECONDS
#                               one sample a line in; out "MEDIAN PTH MIN MAX" in ms (%.2f),
#                               PTH the nearest-rank PERCENTILE (e.g. 90, 99); "- - - -"
#                               without samples

die() { echo "$(basename "$0" .sh): $*" >&2; exit 1; }

timed() {
    local stamp=0 node log
    [ "${1-}" = --stamp-lines ] && { stamp=1; shift; }
    node=$1 log=$2
    shift 2
    # shellcheck disable=SC2016  # expanded by the node's bash
    cluster_run "$node" bash -c '
        stamp=$1 log=$2; shift 2
        t0=$EPOCHREALTIME
        if [ "$stamp" = 1 ]; then
            "$@" 2>&1 | while IFS= read -r l; do printf "%s %s\n" "$EPOCHREALTIME" "$l"; done >"$log"
            rc=${PIPESTATUS[0]}
        else
            "$@" >"$log" 2>&1
            rc=$?
        fi
        t1=$EPOCHREALTIME
        echo "$rc $(awk -v a="$t0" -v b="$t1" "BEGIN { printf \"%.3f\", b - a }")"' bash "$stamp" "$log" "$@"
}

median() {
    local fmt=%.3f
    [ "$1" = -f ] && { fmt=$2; shift 2; }
    printf '%s\n' "$@" | sort -g |
        awk -v f="$fmt" '{ a[NR] = $1 } END { if (NR % 2) m = a[(NR + 1) / 2]; else m = (a[NR / 2] + a[NR / 2 + 1]) / 2; printf f, m }'
}
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'; }
div()   { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

stats() {
    sort -n | awk -v pct="$1" '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "-", "-", "-", "-"; exit }
            med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            p = int(pct / 100 * NR); if (p < pct / 100 * NR) p++
            printf "%.2f %.2f %.2f %.2f\n", med / 1000, v[p] / 1000, v[1] / 1000, v[NR] / 1000
        }'
}
