#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# One scheduling decision with the bench's real peers: on a 2-node and a 3-node bench (each
# its own instance, torn down after), node A asks `migratectl plan DOMAIN` (Manager.Plan: every
# peer is asked Peer.GetPlacement over its SSH connection, the answers ranked) for a domain in
# an anti-affinity group (its other member on A too), BENCH_N times each:
#   uncached   2.2 s apart, past the peers' 2 s answer cache: a full decision
#   cached     one right after the other (the peers' answers kept)
# and, for scale, `migratectl hosts` (one GetCapacity per peer) and busctl's GetId (the floor).
# Prints median, p90 and max in ms. A benchmark, not a test: it fails only when the bench
# cannot come up or a call fails. tests/bench/schedule-scale.sh does the same with 100 and
# 1000 stub peers.
#
#   sudo tests/bench/plan-latency.sh          (BENCH_N=10)
#
# Needs the daemon installed first (tools/build-install).

set -u -o pipefail

# shellcheck source=../cluster/lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/../cluster/lib/bench.sh}"

NAME=${BENCH_CLUSTER_NAME:-bpl}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-222}
N=${BENCH_N:-10}
[[ $N =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_N takes a number" >&2; exit 2; }

cluster_require_root
[ -x /usr/libexec/migrated ] && command -v migratectl >/dev/null ||
    die "migrated is not installed (run tools/build-install)"

# Runs inside node A: "LABEL MICROSECONDS" per timed run; SPACING s between runs.
timer='
set -u
label=$1 n=$2 spacing=$3
shift 3
"$@" >/dev/null 2>&1 # warm-up: opens the peer connections
for ((k = 0; k < n; k++)); do
    sleep "$spacing"
    t0=${EPOCHREALTIME/[.,]/}
    "$@" >/dev/null || { echo "FAILED: $*" >&2; exit 1; }
    t1=${EPOCHREALTIME/[.,]/}
    echo "$label $((t1 - t0))"
done
'

run_bench() {
    local nodes=$1 inst="${NAME}$1" raw
    say "bringing up $nodes nodes (instance $inst)"
    bench_up "$inst" "$nodes"
    cluster_define_domain "$A" planvm --shut-off --disk-mib 16 >/dev/null || die "cannot define planvm"
    on "$A" migratectl group-set planvm web anti-affinity >/dev/null || die "group-set failed"
    # a second member next to it: every peer counts the group's members, none has one
    cluster_define_domain "$A" member0 --shut-off --disk-mib 16 >/dev/null || die "cannot define member0"
    on "$A" migratectl group-set member0 web anti-affinity >/dev/null || die "group-set failed"
    raw=$(
        on "$A" bash -c "$timer" timer uncached "$N" 2.2 migratectl plan planvm </dev/null &&
        on "$A" bash -c "$timer" timer cached "$N" 0 migratectl plan planvm </dev/null &&
        on "$A" bash -c "$timer" timer hosts "$N" 2.2 migratectl hosts </dev/null &&
        on "$A" bash -c "$timer" timer floor "$N" 0 busctl call org.freedesktop.DBus /org/freedesktop/DBus \
            org.freedesktop.DBus GetId </dev/null
    ) || die "a call failed"
    on "$A" migratectl plan planvm | sed 's/^/    /'
    for label in uncached cached hosts floor; do
        read -r med p90 max < <(awk -v l="$label" '$1 == l { print $2 }' <<<"$raw" | stats 90 |
            awk '{ print $1, $2, $4 }')
        RESULTS+=$(printf '%-8s %d nodes  %-34s %7s ms %7s ms %7s ms' "$label" "$nodes" "$(desc "$label")" \
            "$med" "$p90" "$max")$'\n'
    done
    cluster_down "$inst" >/dev/null 2>&1
}

desc() {
    case $1 in
    uncached) echo "migratectl plan (every peer asked)" ;;
    cached) echo "migratectl plan (answers kept)" ;;
    hosts) echo "migratectl hosts (GetCapacity)" ;;
    floor) echo "busctl GetId (floor)" ;;
    esac
}

RESULTS=
run_bench 2
run_bench 3
echo
printf '%-8s %-7s %-34s %10s %10s %10s\n' "" "" "on node A, N=$N" "median" "p90" "max"
printf '%s' "$RESULTS"
