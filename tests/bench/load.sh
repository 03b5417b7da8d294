#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Load: BENCH_DOMAINS (default 20) domains migrated at once among three nodes, live with
# their disks (block migration: the bench's disks are not shared), in a ring (A → B, B → C,
# C → A), each node queueing beyond its MaxConcurrentMigrations (2).
# While they run, a read call (`migratectl migrations` on A, and the raw ListMigrations)
# is timed every 200 ms. Prints how long until all completed, how many did, and the read
# latency during the load (median, p90, max). Fails only when a migration does not
# complete or the bench cannot come up.
#
#   sudo tests/bench/load.sh          (BENCH_DOMAINS=20)
#
# Needs the daemon installed first (tools/build-install).

set -u -o pipefail

# shellcheck source=../cluster/lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/../cluster/lib/bench.sh}"

NAME=${BENCH_CLUSTER_NAME:-bld}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-220}
DOMAINS=${BENCH_DOMAINS:-20}
[[ $DOMAINS =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_DOMAINS takes a number" >&2; exit 2; }

cluster_require_root
[ -x /usr/libexec/migrated ] && command -v migratectl >/dev/null ||
    die "migrated is not installed (run tools/build-install)"

say "bringing up 3 nodes (instance $NAME)"
cluster_require_root
cluster_trap_down "$NAME"
cluster_up "$NAME" 3 || die "the bench did not come up"
A=${NAME}a B=${NAME}b C=${NAME}c
ring=("$A" "$B" "$C")
next() { case $1 in "$A") echo "$B" ;; "$B") echo "$C" ;; *) echo "$A" ;; esac; }
declare -A home
for i in $(seq "$DOMAINS"); do
    n=${ring[$(((i - 1) % 3))]}
    home[vm$i]=$n
    cluster_define_domain "$n" "vm$i" --running --mem 64 --disk-mib 16 >/dev/null || die "cannot define vm$i"
done

say "migrating $DOMAINS domains at once"
t0=$EPOCHREALTIME
pids=()
for i in $(seq "$DOMAINS"); do
    on "${home[vm$i]}" migratectl migrate "vm$i" --live --block-migration --host "$(next "${home[vm$i]}")" \
        >/dev/null &
    pids+=($!)
done
wait "${pids[@]}" # not the bench's own background processes

# The reads, timed on A every 200 ms until every record ended.
samples_cli=() samples_raw=()
# How many of the migrations this bench started have ended (counted on their source nodes).
done_count() {
    local n total=0 k
    for n in "${ring[@]}"; do
        k=$(on "$n" busctl --json=short call org.example.Migrate1 /org/example/Migrate1 \
            org.example.Migrate1.Manager ListMigrations a{sv} 0 2>/dev/null | python3 -c '
import json, sys
node = sys.argv[1]
rows = json.load(sys.stdin)["data"][0]
print(sum(1 for e in rows if e["source"]["data"] == node
          and e["status"]["data"] in ("completed", "failed", "cancelled")))' "$n") || k=0
        total=$((total + k))
    done
    echo "$total"
}
deadline=$((SECONDS + 600))
while [ "$(done_count)" -lt "$DOMAINS" ] && [ $SECONDS -lt $deadline ]; do
    read -r rc t < <(timed "$A" /var/tmp/load-read.log migratectl migrations)
    [ "$rc" = 0 ] && samples_cli+=("$(awk -v t="$t" 'BEGIN { printf "%.0f", t * 1e6 }')")
    read -r rc t < <(timed "$A" /var/tmp/load-read.log busctl call org.example.Migrate1 /org/example/Migrate1 \
        org.example.Migrate1.Manager ListMigrations a{sv} 0)
    [ "$rc" = 0 ] && samples_raw+=("$(awk -v t="$t" 'BEGIN { printf "%.0f", t * 1e6 }')")
    sleep 0.2
done
elapsed=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')

completed=0
for i in $(seq "$DOMAINS"); do
    dst=$(next "${home[vm$i]}")
    if status_is "${home[vm$i]}" "vm$i" completed && is_state "$dst" "vm$i" running &&
        is_state "${home[vm$i]}" "vm$i" absent; then
        completed=$((completed + 1))
    else
        echo "vm$i: $(prop "${home[vm$i]}" "vm$i" Status) $(prop "${home[vm$i]}" "vm$i" ErrorMessage)" >&2
    fi
done

echo
echo "$completed of $DOMAINS live migrations completed among 3 nodes in $elapsed s (MaxConcurrentMigrations=2 each)"
printf '%-52s %9s %9s %9s %4s\n' "read on $A during the load" "median" "p90" "max" "n"
read -r med p90 _ max < <(printf '%s\n' "${samples_cli[@]}" | stats 90)
printf '%-52s %6s ms %6s ms %6s ms %4s\n' "migratectl migrations" "$med" "$p90" "$max" "${#samples_cli[@]}"
read -r med p90 _ max < <(printf '%s\n' "${samples_raw[@]}" | stats 90)
printf '%-52s %6s ms %6s ms %6s ms %4s\n' "busctl call ... ListMigrations" "$med" "$p90" "$max" "${#samples_raw[@]}"
[ "$completed" = "$DOMAINS" ] || die "not every migration completed"
