#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# An operator's abort under load, on a 2-node bench (its own instance, torn down at the
# end): MIGRATIONS live migrations run at once from A to B, throttled to 1 MiB/s so that
# they keep running, while READERS unprivileged loops (user nobody) ask A's daemon for
# `migratectl domains` (every call asks the peer too) as fast as they can. The bench's
# domains have no OS: their memory is zeros, which QEMU sends as page headers only, so the
# migration streams (libvirt's ports 49152-49215) are also held to 64 kbit/s on A's link
# while the daemons' own traffic (SSH) is not. Then each
# migration is aborted, one after the other, and the time `migratectl abort` takes until
# it returns (the migration is cancelled, the domain runs on A) is measured; so is a
# listing while all that goes on. Prints median and maximum in ms. A benchmark, not a
# test: it fails only when the bench cannot come up or a call fails.
#
#   sudo tests/bench/abort-latency.sh          (BENCH_MIGRATIONS=4, BENCH_READERS=12)
#
# Needs the daemon installed first (tools/build-install).

set -u -o pipefail

# shellcheck source=../cluster/lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/../cluster/lib/bench.sh}"

NAME=${BENCH_CLUSTER_NAME:-babt}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-217}
MIGRATIONS=${BENCH_MIGRATIONS:-4}
READERS=${BENCH_READERS:-12}
[[ $MIGRATIONS =~ ^[1-9][0-9]*$ && $READERS =~ ^[0-9]+$ ]] ||
    { echo "BENCH_MIGRATIONS and BENCH_READERS take numbers" >&2; exit 2; }
export CLUSTER_NODE_CONF="MaxConcurrentMigrations=$MIGRATIONS"

cluster_require_root
[ -x /usr/libexec/migrated ] && command -v migratectl >/dev/null ||
    die "migrated is not installed (run tools/build-install)"

say "bringing up 2 nodes (instance $NAME)"
bench_up "$NAME" 2
for i in $(seq "$MIGRATIONS"); do
    cluster_define_domain "$A" "vm$i" --running --mem 128 >/dev/null || die "cannot define vm$i"
done

# A's egress: the migration streams in a slow class of their own, everything else as before.
{ on "$A" tc qdisc replace dev eth0 root handle 1: htb default 10 &&
  on "$A" tc class add dev eth0 parent 1: classid 1:10 htb rate 1gbit &&
  on "$A" tc class add dev eth0 parent 1: classid 1:30 htb rate 64kbit ceil 64kbit &&
  on "$A" tc filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dport 49152 0xffc0 flowid 1:30
} 2>/dev/null || die "cannot shape $A's link"

say "$MIGRATIONS live migrations at 1 MiB/s, $READERS unprivileged readers"
for i in $(seq "$MIGRATIONS"); do
    on "$A" migratectl migrate "vm$i" --live --block-migration --host "$B" --bandwidth 1 >/dev/null ||
        die "cannot start vm$i"
done
all_running() {
    local i
    for i in $(seq "$MIGRATIONS"); do status_is "$A" "vm$i" running || return 1; done
}
wait_until 60 all_running || { cluster_diag "$NAME" "$A"; die "the migrations do not all run"; }

# The readers, inside node A, as nobody; they stop with the file.
on "$A" touch /var/tmp/readers.run
readers=()
# shellcheck disable=SC2016  # expanded by the node's bash
for _ in $(seq "$READERS"); do
    on "$A" runuser -u nobody -- bash -c 'while [ -e /var/tmp/readers.run ]; do migratectl domains >/dev/null 2>&1; done' &
    readers+=($!)
done
sleep 3

# A listing under load, then each abort.
read -r rc t_list < <(timed "$A" /var/tmp/list.log migratectl domains)
[ "$rc" = 0 ] || die "migratectl domains failed under load"
aborts=()
for i in $(seq "$MIGRATIONS"); do
    read -r rc t < <(timed "$A" /var/tmp/abort.log migratectl abort "vm$i")
    [ "$rc" = 0 ] || { on "$A" cat /var/tmp/abort.log >&2; die "abort of vm$i failed"; }
    aborts+=("$(awk -v t="$t" 'BEGIN { printf "%.0f", t * 1000 }')")
done
on "$A" rm -f /var/tmp/readers.run
[ ${#readers[@]} -eq 0 ] || wait "${readers[@]}" # not the bench's own background processes

for i in $(seq "$MIGRATIONS"); do
    status_is "$A" "vm$i" cancelled && is_state "$A" "vm$i" running || die "vm$i is not back, running on $A"
done
# Where the last abort's time went: both daemons' log lines of that migration.
id=$(prop "$A" "vm$MIGRATIONS" Id)
echo
echo "the last abort (migration $id), as both daemons logged it:"
for n in "$A" "$B"; do
    grep -F "$id" "$(_cluster_node_dir "$n")/bus.log" | grep -v '^AUDIT' | sed "s/^/  $n: /" | tail -n 8
done
echo
printf '%-52s %9s %9s\n' "on $A ($MIGRATIONS live migrations, $READERS readers)" "median" "max"
printf '%-52s %6s ms %6s ms\n' "migratectl abort (until cancelled)" \
    "$(median -f %.0f "${aborts[@]}")" "$(printf '%s\n' "${aborts[@]}" | sort -n | tail -1)"
printf '%-52s %6s ms\n' "migratectl domains (once, under the same load)" \
    "$(awk -v t="$t_list" 'BEGIN { printf "%.0f", t * 1000 }')"
