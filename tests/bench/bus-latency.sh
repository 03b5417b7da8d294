#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Latency of the daemon's bus API, end to end, on a 2-node bench (its own
# instance, torn down at the end).  On node A, after a warm-up, times N runs
# each of:
#   migratectl --json hosts        the daemon asks the peer over SSH (GetCapacity)
#   migratectl --json migrations   local only: store, JSON on the client side
#   busctl call ... ListMigrations raw bus call, no migratectl
#   busctl call ... GetId          dbus-daemon answering itself: the floor
# and prints median, p90 and min in milliseconds.  A benchmark, not a test:
# it fails only when the bench cannot come up or a call fails.
#
#   sudo tests/bench/bus-latency.sh          (BENCH_N=50, BENCH_WARMUP=5)
#
# Needs the daemon installed first (tools/build-install).

set -u -o pipefail

# shellcheck source=../cluster/lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/../cluster/lib/bench.sh}"

NAME=${BENCH_CLUSTER_NAME:-blat}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-210}
N=${BENCH_N:-50}
WARMUP=${BENCH_WARMUP:-5}
[[ $N =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ ]] || { echo "BENCH_N and BENCH_WARMUP take numbers" >&2; exit 2; }

BUS=org.example.Migrate1
OBJ=/org/example/Migrate1

labels=("migratectl --json hosts"
        "migratectl --json migrations"
        "busctl call ... Manager ListMigrations"
        "busctl call ... DBus GetId (floor)")
cmds=("migratectl --json hosts"
      "migratectl --json migrations"
      "busctl call $BUS $OBJ $BUS.Manager ListMigrations a{sv} 0"
      "busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId")

cluster_require_root
[ -x /usr/libexec/migrated ] && command -v migratectl >/dev/null ||
    die "migrated is not installed (run tools/build-install)"

say "bringing up 2 nodes (instance $NAME)"
bench_up "$NAME" 2

# A domain on each node, so hosts and the daemons have something to report.
cluster_define_domain "$A" "bench${NAME}a" --running >/dev/null &&
cluster_define_domain "$B" "bench${NAME}b" --running >/dev/null ||
    die "cannot define the domains"

# Runs inside node A: for each command, WARMUP untimed runs, then N timed
# ones; prints "INDEX MICROSECONDS" per timed run.  $EPOCHREALTIME: no fork
# for the clock, so only the command itself is measured.
timer='
set -u
warmup=$1 n=$2
shift 2
i=0
for cmd in "$@"; do
    for ((k = 0; k < warmup; k++)); do
        $cmd >/dev/null || { echo "FAILED: $cmd" >&2; exit 1; }
    done
    for ((k = 0; k < n; k++)); do
        t0=${EPOCHREALTIME/[.,]/}
        $cmd >/dev/null || { echo "FAILED: $cmd" >&2; exit 1; }
        t1=${EPOCHREALTIME/[.,]/}
        echo "$i $((t1 - t0))"
    done
    i=$((i + 1))
done
'
say "on $A: warm-up $WARMUP, then $N timed runs of each call"
raw=$(cluster_run "$A" bash -c "$timer" timer "$WARMUP" "$N" "${cmds[@]}" </dev/null) ||
    { cluster_diag "$NAME" "$A"; die "a call failed"; }

echo
printf '%-40s %9s %9s %9s\n' "call (on $A, N=$N)" "median" "p90" "min"
for i in "${!labels[@]}"; do
    read -r med p90 min _ < <(awk -v i="$i" '$1 == i { print $2 }' <<<"$raw" | stats 90)
    printf '%-40s %7s ms %6s ms %6s ms\n' "${labels[$i]}" "$med" "$p90" "$min"
done
echo
echo "(hosts reaches $B's daemon over the SSH connection $A's daemon keeps open;"
echo " the floor is one bus round trip plus starting busctl)"
