#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# How long a live + block migration of a real, busy guest takes with migrated,
# next to plain libvirt.  On a 2-node bench (its own instance, torn down at the
# end, also on failure or interrupt) it boots the Linux test guest of
# tests/cluster/guest/ on node A -- 512 MiB of RAM, 256 MiB of it kept dirty at
# 20 MiB/s, a 128 MiB qcow2 disk holding 64 MiB of data -- and moves it
# A -> B -> A, BENCH_ROUNDS times (default 3) with each tool, the tools
# alternating round by round (who goes first alternates too):
#
#   migratectl   migratectl migrate DOM --live --block-migration --host B --wait
#                (run on A; back: the same on B with --host A)
#   virsh        virsh migrate --live --p2p --persistent --undefinesource
#                --copy-storage-all DOM qemu+ssh://root@IPB/system tcp://IPB
#                (run on A, the destination disk precreated on B first, as
#                libvirt needs; back: the same from B)
#
# and prints the median wall time of each (both directions together, and per
# direction), the ratio migratectl/virsh, and the downtime of every migration
# (migrated's record; for virsh, the destination's completed job statistics).
# After every migration it checks the guest runs on the destination and goes
# on dirtying memory (a new progress line on its console there), without a lost
# page.  A benchmark, not a test: it fails only when it cannot measure or a
# migration fails.
#
#   sudo tests/bench/live-migrate.sh
#   sudo BENCH_ROUNDS=5 BENCH_DIRTY_RATE=100 tests/bench/live-migrate.sh
#
# Needs the daemon installed (tools/build-install) and, the first time, a
# Debian mirror (the guest's kernel and busybox are downloaded and cached).

# shellcheck disable=SC2015  # `a && b || die` on purpose

set -u -o pipefail

# shellcheck source=../cluster/lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/../cluster/lib/bench.sh}"

NAME=${BENCH_CLUSTER_NAME:-blm}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-231}
ROUNDS=${BENCH_ROUNDS:-3}
MEM_MIB=${BENCH_MEM_MIB:-512}
DIRTY_MIB=${BENCH_DIRTY_MIB:-256}
DIRTY_RATE=${BENCH_DIRTY_RATE:-20}
DISK_MIB=${BENCH_DISK_MIB:-128}
DISK_DATA_MIB=${BENCH_DISK_DATA_MIB:-64}
for v in ROUNDS MEM_MIB DIRTY_MIB DIRTY_RATE DISK_MIB DISK_DATA_MIB; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "live-migrate: $v takes a number" >&2; exit 2; }
done
[ "$ROUNDS" -ge 1 ] || { echo "live-migrate: BENCH_ROUNDS must be at least 1" >&2; exit 2; }

IMG=/var/lib/libvirt/images
DOM=benchlive
DISK=$IMG/$DOM.qcow2
VIRSH=(virsh -q -c qemu:///system)
MIGRATION_TIMEOUT=300

cluster_require_root
[ -x /usr/libexec/migrated ] && command -v migratectl >/dev/null ||
    die "migrated is not installed (run tools/build-install)"

say "building the guest (cached after the first run)"
guest_build >/dev/null || die "cannot build the Linux test guest (the first run needs a Debian mirror)"

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "bringing up 2 nodes (instance $NAME)"
bench_up "$NAME" 2
WORK=$CLUSTER_ROOT/$NAME/live-migrate
mkdir -p "$WORK" || die "cannot create $WORK"

# ---------------------------------------------------------------------------
# helpers

# After a migration FROM -> TO: the guest runs on TO (and goes on dirtying,
# no page lost), it is gone from FROM; FROM's leftover disk copy is removed so
# the next migration back starts from the same state for both tools.
after_migration() {
    local from=$1 to=$2 what=$3 errs
    [ "$(cluster_run "$to" "${VIRSH[@]}" domstate "$DOM" 2>/dev/null)" = running ] ||
        die "$what: $DOM does not run on $to"
    if cluster_run "$from" "${VIRSH[@]}" dominfo "$DOM" >/dev/null 2>&1; then
        die "$what: $DOM is still defined on $from"
    fi
    guest_wait_progress "$to" "$DOM" 1 30 || die "$what: the guest does not go on running on $to"
    errs=$(guest_errors "$to" "$DOM")
    [ -z "$errs" ] || die "$what: the guest lost memory pages: $(head -n 3 <<<"$errs")"
    cluster_run "$from" rm -f "$DISK"
}

# migratectl_move FROM TO LOG: sets WALL and DOWNTIME (ms, migrated's record)
migratectl_move() {
    local from=$1 to=$2 log=$3 out rc
    sync
    out=$(timed "$from" "$log" timeout "$MIGRATION_TIMEOUT" \
              migratectl --json migrate "$DOM" --live --block-migration --host "$to" --wait) || out="255 0"
    rc=${out%% *}
    WALL=${out#* }
    if [ "$rc" != 0 ]; then
        sed 's/^/    /' "$log" >&2
        cluster_run "$from" migratectl abort "$DOM" >/dev/null 2>&1
        die "migratectl migrate $DOM --host $to on $from exited $rc"
    fi
    DOWNTIME=$(cluster_run "$from" migratectl --json show "$DOM" |
               python3 -c "import json,sys; print(json.load(sys.stdin).get('DowntimeMSec', '-'))") || DOWNTIME=-
    after_migration "$from" "$to" "migratectl $from -> $to"
}

# virsh_move FROM TO LOG: sets WALL and DOWNTIME (ms, the destination's
# completed job statistics)
virsh_move() {
    local from=$1 to=$2 log=$3 out rc ip size
    ip=$(cluster_ip "$to")
    size=$(cluster_disk_vsize "$from" "$DISK") && [ -n "$size" ] || die "cannot read the size of $DISK on $from"
    cluster_precreate_disk "$to" "$DISK" "$size" qcow2 || die "cannot precreate $DISK on $to"
    sync
    out=$(timed "$from" "$log" timeout "$MIGRATION_TIMEOUT" "${VIRSH[@]}" migrate --live --p2p --persistent \
              --undefinesource --copy-storage-all "$DOM" "qemu+ssh://root@$ip/system" "tcp://$ip") || out="255 0"
    rc=${out%% *}
    WALL=${out#* }
    if [ "$rc" != 0 ]; then
        sed 's/^/    /' "$log" >&2
        # a p2p migration goes on inside libvirtd without its client
        cluster_run "$from" "${VIRSH[@]}" domjobabort "$DOM" >/dev/null 2>&1
        die "virsh migrate $DOM from $from to $to exited $rc"
    fi
    DOWNTIME=$(cluster_run "$to" "${VIRSH[@]}" domjobinfo "$DOM" --completed 2>/dev/null |
               awk '/^Total downtime:/ { print $3 }')
    [ -n "$DOWNTIME" ] || DOWNTIME=-
    after_migration "$from" "$to" "virsh $from -> $to"
}

# ---------------------------------------------------------------------------
# the guest

say "starting $DOM on $A: $MEM_MIB MiB, $DIRTY_MIB MiB dirtied at $DIRTY_RATE MiB/s, disk $DISK_MIB MiB ($DISK_DATA_MIB MiB data)"
guest_define "$A" "$DOM" "$MEM_MIB" "$DIRTY_MIB" "$DIRTY_RATE" --disk-mib "$DISK_MIB" \
    --disk-data-mib "$DISK_DATA_MIB" >/dev/null || die "cannot start the guest on $A"
# Warm-up, not timed: D-Bus activation of both daemons and their SSH
# connections to each other.
for n in "$A" "$B"; do
    cluster_run "$n" migratectl hosts >/dev/null || die "migratectl hosts on $n failed"
done

# ---------------------------------------------------------------------------
# the rounds

declare -a W_M_AB W_M_BA W_V_AB W_V_BA D_M D_V

round_migratectl() {
    migratectl_move "$A" "$B" "$WORK/migratectl-ab-$1.log"
    W_M_AB+=("$WALL") D_M+=("$DOWNTIME")
    printf '   %-10s %s -> %s %7.3f s  downtime %s ms\n' migratectl "$A" "$B" "$WALL" "$DOWNTIME"
    migratectl_move "$B" "$A" "$WORK/migratectl-ba-$1.log"
    W_M_BA+=("$WALL") D_M+=("$DOWNTIME")
    printf '   %-10s %s -> %s %7.3f s  downtime %s ms\n' migratectl "$B" "$A" "$WALL" "$DOWNTIME"
}

round_virsh() {
    virsh_move "$A" "$B" "$WORK/virsh-ab-$1.log"
    W_V_AB+=("$WALL") D_V+=("$DOWNTIME")
    printf '   %-10s %s -> %s %7.3f s  downtime %s ms\n' virsh "$A" "$B" "$WALL" "$DOWNTIME"
    virsh_move "$B" "$A" "$WORK/virsh-ba-$1.log"
    W_V_BA+=("$WALL") D_V+=("$DOWNTIME")
    printf '   %-10s %s -> %s %7.3f s  downtime %s ms\n' virsh "$B" "$A" "$WALL" "$DOWNTIME"
}

for ((r = 1; r <= ROUNDS; r++)); do
    say "round $r of $ROUNDS"
    if [ $((r % 2)) = 1 ]; then
        round_migratectl "$r"
        round_virsh "$r"
    else
        round_virsh "$r"
        round_migratectl "$r"
    fi
done

# ---------------------------------------------------------------------------
# the figures

m_m=$(median "${W_M_AB[@]}" "${W_M_BA[@]}")
m_v=$(median "${W_V_AB[@]}" "${W_V_BA[@]}")
row() { printf '%-44s %9s %13s %9s %9s\n' "$@"; }
nums() { local x; for x in "$@"; do [ "$x" != - ] && echo "$x"; done; }
dt() {   # dt VALUE...: "median (min-max)" of the numeric ones
    local v
    mapfile -t v < <(nums "$@")
    [ ${#v[@]} -gt 0 ] || { echo "-"; return; }
    echo "$(median "${v[@]}" | awk '{ printf "%.0f", $1 }') ($(range "${v[@]}" | sed 's/\.00//g'))"
}

echo
echo "Live + block migration of a Linux guest ($MEM_MIB MiB RAM, $DIRTY_MIB MiB kept dirty at $DIRTY_RATE MiB/s,"
echo "TCG; qcow2 disk of $DISK_MIB MiB with $DISK_DATA_MIB MiB of data) between $A and $B, there and back,"
echo "$ROUNDS round(s) per tool, tools alternating; wall time of the command, measured inside the node."
echo "Load average (1/5/15 min) at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)."
echo
row METHOD "MEDIAN s" "MIN-MAX s" "$A->$B" "$B->$A"
row "migratectl migrate --live --block-migration" "$m_m" "$(range "${W_M_AB[@]}" "${W_M_BA[@]}")" \
    "$(median "${W_M_AB[@]}")" "$(median "${W_M_BA[@]}")"
row "virsh migrate --live --p2p --copy-storage-all" "$m_v" "$(range "${W_V_AB[@]}" "${W_V_BA[@]}")" \
    "$(median "${W_V_AB[@]}")" "$(median "${W_V_BA[@]}")"
echo
echo "migratectl / virsh:             $(div "$m_m" "$m_v")"
echo "downtime, median (min-max) ms:  migratectl $(dt "${D_M[@]}") (migrated's record);" \
     "virsh $(dt "${D_V[@]}") (destination's job statistics)"
echo "every migration: the guest went on running on the destination, no memory page lost"
exit 0
