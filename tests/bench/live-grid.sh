#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Do live migrations finish? The grid of issue "live convergence": the Linux test guest
# (tests/cluster/guest/: 512 MiB of RAM, 256 MiB of it kept dirty) at each dirty rate
# {20, 100, as fast as it can} MiB/s, over a link {without a cap, capped at 512 Mbit/s
# (tc tbf on both nodes)}, BENCH_ROUNDS rounds per cell (default 3), alternating
#
#   migratectl   migratectl migrate DOM --live --block-migration --host PEER --wait
#                (migrated's defaults otherwise)
#   virsh        virsh migrate --live --p2p --persistent --undefinesource
#                --copy-storage-all DOM qemu+ssh://root@PEER/system tcp://PEER
#                (libvirt's defaults otherwise; the disk precreated on the peer)
#
# who goes first alternating too. Each migration gets BENCH_TIMEOUT s (default 120); one
# that has not finished by then is aborted and counted "unfinished". The guest's disk is a
# 64 MiB qcow2 without data (hence --block-migration and --copy-storage-all: a bench node
# has no shared storage). Prints wall time and downtime per cell and round, then per cell
# how many finished and their median.
#
#   sudo tests/bench/live-grid.sh
#   sudo BENCH_ROUNDS=1 BENCH_RATES="100 0" BENCH_CAPS=512mbit tests/bench/live-grid.sh
#
# A benchmark, not a test: it fails only when it cannot measure (a migration that
# finishes must leave the guest running on the destination without a lost page).

# shellcheck disable=SC2015  # `a && b || die` on purpose

set -u -o pipefail

# shellcheck source=../cluster/lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/../cluster/lib/bench.sh}"

NAME=${BENCH_CLUSTER_NAME:-blg}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-232}
ROUNDS=${BENCH_ROUNDS:-3}
TIMEOUT=${BENCH_TIMEOUT:-120}
RATES=${BENCH_RATES:-20 100 0}  # MiB/s; 0: as fast as it can
CAPS=${BENCH_CAPS:-none 512mbit}
MEM_MIB=512
DIRTY_MIB=256
DOM=benchgrid
DISK=/var/lib/libvirt/images/$DOM.qcow2
VIRSH=(virsh -q -c qemu:///system)
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $TIMEOUT =~ ^[1-9][0-9]*$ ]] ||
    { echo "live-grid: BENCH_ROUNDS and BENCH_TIMEOUT take positive numbers" >&2; exit 2; }

cluster_require_root
[ -x /usr/libexec/migrated ] && command -v migratectl >/dev/null ||
    die "migrated is not installed (run tools/build-install)"
say "building the guest (cached after the first run)"
guest_build >/dev/null || die "cannot build the Linux test guest (the first run needs a Debian mirror)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
bench_up "$NAME" 2
WORK=$CLUSTER_ROOT/$NAME/live-grid
mkdir -p "$WORK" || die "cannot create $WORK"
HERE=$A # where the guest runs

cap_link() {   # cap_link none|RATE: on both nodes' eth0
    local n
    for n in "$A" "$B"; do
        cluster_run "$n" tc qdisc del dev eth0 root 2>/dev/null
        [ "$1" = none ] && continue
        cluster_run "$n" tc qdisc replace dev eth0 root tbf rate "$1" burst 256kb latency 400ms ||
            die "cannot cap $n's link at $1"
    done
}

peer_of() { [ "$1" = "$A" ] && echo "$B" || echo "$A"; }

# The guest runs on the destination and goes on dirtying without a lost page; the
# source's leftover disk goes, so the way back starts from the same state.
after_migration() {
    local from=$1 to=$2 errs
    [ "$(cluster_run "$to" "${VIRSH[@]}" domstate "$DOM" 2>/dev/null)" = running ] ||
        die "$DOM does not run on $to after its migration from $from"
    guest_wait_progress "$to" "$DOM" 1 30 || die "the guest does not go on running on $to"
    errs=$(guest_errors "$to" "$DOM")
    [ -z "$errs" ] || die "the guest lost memory pages on $to: $(head -n 3 <<<"$errs")"
    cluster_run "$from" rm -f "$DISK"
    HERE=$to
}

# An unfinished migration is aborted: the guest must still run on the source.
after_unfinished() {
    local from=$1 to=$2 tool=$3 n
    if [ "$tool" = migratectl ]; then
        cluster_run "$from" migratectl abort "$DOM" >/dev/null 2>&1
    else
        cluster_run "$from" "${VIRSH[@]}" domjobabort "$DOM" >/dev/null 2>&1
    fi
    for ((n = 0; n < 60; n++)); do
        [ "$(cluster_run "$from" "${VIRSH[@]}" domjobinfo "$DOM" 2>/dev/null | awk '/^Job type:/ { print $3 }')" = None ] &&
            break
        sleep 1
    done
    [ "$(cluster_run "$from" "${VIRSH[@]}" domstate "$DOM" 2>/dev/null)" = running ] ||
        die "$DOM does not run on $from after its aborted migration"
    cluster_run "$to" "${VIRSH[@]}" destroy "$DOM" >/dev/null 2>&1
    cluster_run "$to" "${VIRSH[@]}" undefine "$DOM" >/dev/null 2>&1
    cluster_run "$to" rm -f "$DISK"
}

# move TOOL LOG: one migration from wherever the guest is; sets WALL ("unfinished" after
# TIMEOUT) and DOWNTIME (ms: migrated's record, or the destination's completed job).
move() {
    local tool=$1 log=$2 from=$HERE to ip size out rc
    to=$(peer_of "$from")
    ip=$(cluster_ip "$to")
    sync
    if [ "$tool" = migratectl ]; then
        out=$(timed "$from" "$log" timeout "$TIMEOUT" migratectl migrate "$DOM" --live --block-migration \
                  --host "$to" --wait) || out="255 0"
    else
        size=$(cluster_disk_vsize "$from" "$DISK") && cluster_precreate_disk "$to" "$DISK" "$size" qcow2 ||
            die "cannot precreate $DISK on $to"
        out=$(timed "$from" "$log" timeout "$TIMEOUT" "${VIRSH[@]}" migrate --live --p2p --persistent \
                  --undefinesource --copy-storage-all "$DOM" "qemu+ssh://root@$ip/system" "tcp://$ip") ||
            out="255 0"
    fi
    rc=${out%% *} WALL=${out#* } DOWNTIME=-
    if [ "$rc" != 0 ]; then
        [ "$rc" = 124 ] || { sed 's/^/    /' "$log" >&2; die "$tool from $from to $to exited $rc"; }
        WALL=unfinished
        after_unfinished "$from" "$to" "$tool"
        return
    fi
    if [ "$tool" = migratectl ]; then
        DOWNTIME=$(cluster_run "$from" migratectl --json show "$DOM" |
                   python3 -c "import json,sys; print(json.load(sys.stdin).get('DowntimeMSec', '-'))") || DOWNTIME=-
    else
        DOWNTIME=$(cluster_run "$to" "${VIRSH[@]}" domjobinfo "$DOM" --completed 2>/dev/null |
                   awk '/^Total downtime:/ { print $3 }')
    fi
    after_migration "$from" "$to"
}

declare -A RESULTS # "tool rate cap" -> the walls of its rounds
rate_name() { [ "$1" = 0 ] && echo "max" || echo "$1"; }

run_cell() {
    local rate=$1 cap=$2 r tool tools
    for ((r = 1; r <= ROUNDS; r++)); do
        tools="migratectl virsh"
        [ $((r % 2)) = 0 ] && tools="virsh migratectl"
        for tool in $tools; do
            move "$tool" "$WORK/$tool-$rate-$cap-$r.log"
            printf '   %-4s MiB/s  link %-8s round %d  %-10s %10s s  downtime %s ms\n' \
                "$(rate_name "$rate")" "$cap" "$r" "$tool" "$WALL" "$DOWNTIME"
            RESULTS["$tool $rate $cap"]+="$WALL "
        done
    done
}

for rate in $RATES; do
    [[ $rate =~ ^[0-9]+$ ]] || die "BENCH_RATES takes MiB/s figures (0: as fast as it can)"
    cluster_run "$HERE" "${VIRSH[@]}" destroy "$DOM" >/dev/null 2>&1
    guest_remove "$HERE" "$DOM" >/dev/null 2>&1
    HERE=$A
    say "guest on $A: $MEM_MIB MiB, $DIRTY_MIB MiB dirtied at $(rate_name "$rate") MiB/s"
    guest_define "$A" "$DOM" "$MEM_MIB" "$DIRTY_MIB" "$rate" >/dev/null || die "cannot start the guest"
    for n in "$A" "$B"; do cluster_run "$n" migratectl hosts >/dev/null || die "migratectl hosts on $n"; done
    for cap in $CAPS; do
        say "cell: dirty $(rate_name "$rate") MiB/s, link $cap"
        cap_link "$cap"
        run_cell "$rate" "$cap"
    done
    cap_link none
done

# cell_summary WALL...: "finished/rounds, median s of the finished"
cell_summary() {
    local w done=()
    for w in "$@"; do [ "$w" != unfinished ] && done+=("$w"); done
    if [ ${#done[@]} -eq 0 ]; then
        echo "0/$#"
    else
        echo "${#done[@]}/$#, $(median "${done[@]}" | awk '{ printf "%.1f", $1 }') s"
    fi
}

echo
echo "Live + block migration of a Linux guest ($MEM_MIB MiB, $DIRTY_MIB MiB kept dirty, TCG, 64 MiB disk"
echo "without data), $ROUNDS round(s) per cell and tool, alternating; unfinished: not done after $TIMEOUT s."
echo "Load average at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)."
echo
printf '| %-14s | %-8s | %-22s | %-22s |\n' "dirty MiB/s" link "migratectl (finished)" "virsh (finished)"
printf '|%s|%s|%s|%s|\n' "----------------" "----------" "------------------------" "------------------------"
for rate in $RATES; do
    for cap in $CAPS; do
        # shellcheck disable=SC2086  # the walls are words
        printf '| %-14s | %-8s | %-22s | %-22s |\n' "$(rate_name "$rate")" "$cap" \
            "$(cell_summary ${RESULTS["migratectl $rate $cap"]})" "$(cell_summary ${RESULTS["virsh $rate $cap"]})"
    done
done
exit 0
