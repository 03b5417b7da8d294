#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Cold migration between two real bench nodes, driven by migratectl:
#   running and shut-off domains: migrate → VERIFY_RESIZE → confirm / revert,
#   power state kept, disk content equal, nothing left on the side that lost;
#   faults: destination unreachable, abort during the copy, destination daemon
#   killed during the copy, source daemon killed during the copy, not enough
#   disk on the destination, a second migrate while one is in flight.
# A sampler checks all along that no domain ever runs on both nodes.
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tcm}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-203}
# Our domains have no OS and ignore ACPI: do not wait a minute for them.
# A short ClaimTimeout: the destination lets a claim go 5 s after its source vanished.
export CLUSTER_NODE_CONF=$'ShutdownTimeout=1\nClaimTimeout=5'
IMAGES=/var/lib/libvirt/images

bench_up "$NAME" 2

# --- helpers -----------------------------------------------------------------

qemu_pid() { on "$1" cat "/run/libvirt/qemu/$2.pid" 2>/dev/null; }

# Slow the link out of NODE so a copy lasts seconds (a real limit, inside the bench only).
throttle() { on "$1" tc qdisc replace dev eth0 root tbf rate "$2" burst 64kb latency 500ms; }
unthrottle() { on "$1" tc qdisc del dev eth0 root 2>/dev/null || true; }

# --- the sampler: never on two nodes at once -----------------------------------
SAMPLES=$(mktemp)
sampler() { # ends with the test, however the test ends ($$ is the test's own PID)
        while kill -0 $$ 2>/dev/null; do
                local a b d
                for d in vm1 vm2 vm3 vm4 vm5; do
                        a=$(state "$A" "$d") b=$(state "$B" "$d")
                        [ "$a" = running ] && [ "$b" = running ] && echo "$(date +%T.%N) $d runs on both" >>"$SAMPLES"
                done
                sleep 0.05
        done
}
sampler &
SAMPLER=$!
cleanup_sampler() { kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null; }

# --- 1. running domain: migrate, VERIFY_RESIZE, confirm -----------------------
say "running domain vm1 on $A: migrate to $B, confirm"
make_domain "$A" vm1 24 --disk-mib 1024 || exit 1
sum1=$(content_sum "$A" $IMAGES/vm1.qcow2)
out=$(on "$A" migratectl migrate vm1 --host "$B" --wait 2>&1); rc=$?
echo "$out" | tail -3
check "migrate --wait exits 0" [ $rc -eq 0 ]
check "vm1 runs on $B" is_state "$B" vm1 running
check "vm1 is kept shut off on $A until confirm" is_state "$A" vm1 "shut off"
listing=$(on "$A" migratectl --no-legend domains)
echo "$listing"
once_verify() { [ "$(grep -c '^vm1 ' <<<"$1")" = 1 ] && grep -q "^vm1 *$B *VERIFY_RESIZE" <<<"$1"; }
check "domains lists vm1 once, VERIFY_RESIZE on $B" once_verify "$listing"
check "disk content equal on $B" same_content "$B" $IMAGES/vm1.qcow2 "$sum1"
check "the copy on $B is sparse (allocated < 100 MiB of 1 GiB)" \
        [ "$(on "$B" du -m $IMAGES/vm1.qcow2 | cut -f1)" -lt 100 ]
check "confirm exits 0" on "$A" migratectl confirm vm1
check "vm1 still runs on $B" is_state "$B" vm1 running
check "$A has no vm1 definition left" is_state "$A" vm1 absent
check "$A has no vm1 disk left" file_absent "$A" $IMAGES/vm1.qcow2
check "the record is confirmed" status_is "$A" vm1 confirmed
events=$(on "$A" migratectl show vm1)
has_phases() { grep -q pre-migrating <<<"$1" && grep -q post-migrating <<<"$1" && grep -q confirmed <<<"$1"; }
check "show lists every phase" has_phases "$events"

# --- 2. shut-off domain: migrate, revert --------------------------------------
say "shut-off domain vm2 on $A: migrate to $B, revert"
make_domain "$A" vm2 8 --disk-mib 1024 --shut-off || exit 1
sum2=$(content_sum "$A" $IMAGES/vm2.qcow2)
check "migrate --wait exits 0" on "$A" migratectl migrate vm2 --host "$B" --wait
check "vm2 is shut off on $B (power state kept)" is_state "$B" vm2 "shut off"
check "revert (asked on $B, driven by $A) exits 0" on "$B" migratectl revert vm2
check "vm2 is gone from $B" is_state "$B" vm2 absent
check "$B has no vm2 disk left" file_absent "$B" $IMAGES/vm2.qcow2
check "vm2 is shut off on $A again" is_state "$A" vm2 "shut off"
check "vm2's disk is unchanged on $A" same_content "$A" $IMAGES/vm2.qcow2 "$sum2"
check "the record is reverted" status_is "$A" vm2 reverted

# --- 3. scheduler picks the node, revert keeps it running ----------------------
say "vm1 from $B with no --host (the scheduler picks $A), then revert"
check "migrate --wait exits 0" on "$B" migratectl migrate vm1 --wait
check "vm1 runs on $A" is_state "$A" vm1 running
check "revert exits 0" on "$B" migratectl revert vm1
check "vm1 runs on $B again" is_state "$B" vm1 running
check "$A has no vm1 definition" is_state "$A" vm1 absent
check "$A has no vm1 disk" file_absent "$A" $IMAGES/vm1.qcow2

# --- faults ----------------------------------------------------------------
say "fault: destination unreachable before prep"
make_domain "$A" vm3 64 --disk-mib 1024 || exit 1
sum3=$(content_sum "$A" $IMAGES/vm3.qcow2)
pid3=$(qemu_pid "$A" vm3)
kill_in_node "$B" sshd
kill_in_node "$A" ssh # the daemon's open connection to B goes with it
out=$(on "$A" migratectl migrate vm3 --host "$B" --wait 2>&1); rc=$?
echo "$out" | tail -2
check "migrate fails with exit 7 (peer unreachable)" [ $rc -eq 7 ]
check "vm3 was never stopped on $A (same QEMU process)" [ "$(qemu_pid "$A" vm3)" = "$pid3" ]
check "$B got nothing" is_state "$B" vm3 absent
on "$B" /usr/sbin/sshd -f "$(_cluster_node_dir "$B")/sshd_config" -E "$(_cluster_node_dir "$B")/sshd.log"
wait_until 10 on "$A" ssh -o BatchMode=yes "root@$(cluster_ip "$B")" true

say "fault: a second migrate while one is in flight; abort during the copy"
throttle "$A" 40mbit
on "$A" migratectl migrate vm3 --host "$B" >/dev/null
wait_until 30 copying "$A" vm3
out=$(on "$A" migratectl migrate vm3 --host "$B" 2>&1); rc=$?
echo "   $out"
check "the second migrate is refused with exit 5 (conflict)" [ $rc -eq 5 ]
check "abort exits 0" on "$A" migratectl abort vm3
unthrottle "$A"
check "the record is cancelled" status_is "$A" vm3 cancelled
check "vm3 runs on $A again" is_state "$A" vm3 running
check "$B has no vm3 definition" is_state "$B" vm3 absent
check "$B has no partial vm3 disk" file_absent "$B" $IMAGES/vm3.qcow2

say "fault: destination daemon killed during the copy (the copy goes on, the migration finishes)"
throttle "$A" 40mbit
on "$A" migratectl migrate vm3 --host "$B" >/dev/null
wait_until 30 copying "$A" vm3
kill_in_node "$B" migrated
unthrottle "$A"
check "the migration still finishes" wait_until 60 status_is "$A" vm3 finished
check "vm3 runs on $B" is_state "$B" vm3 running || on "$A" migratectl show vm3
check "vm3's disk content is equal on $B" same_content "$B" $IMAGES/vm3.qcow2 "$sum3"
check "revert exits 0" on "$A" migratectl revert vm3
check "vm3 runs on $A" is_state "$A" vm3 running

say "fault: source daemon killed during the copy (rolled back on its restart)"
throttle "$A" 40mbit
on "$A" migratectl migrate vm3 --host "$B" >/dev/null
wait_until 30 copying "$A" vm3
kill_in_node "$A" migrated
unthrottle "$A"
# Any call restarts the daemon (D-Bus activation); it finds the copy unfinished.
check "after the restart the record says error" wait_until 60 status_is "$A" vm3 error || on "$A" migratectl show vm3
check "vm3 runs on $A again" wait_until 20 is_state "$A" vm3 running
check "$B has no vm3 definition" is_state "$B" vm3 absent
check "$B has no partial vm3 disk" wait_until 20 file_absent "$B" $IMAGES/vm3.qcow2
check "vm3's disk is unchanged on $A" same_content "$A" $IMAGES/vm3.qcow2 "$sum3"

say "fault: the source node vanishes during the copy (its daemon dies, sshd too): the claim lapses"
throttle "$A" 40mbit
on "$A" migratectl migrate vm3 --host "$B" >/dev/null
wait_until 30 copying "$A" vm3
kill_in_node "$A" sshd
kill_in_node "$A" migrated
unthrottle "$A"
check "$B releases the claim and deletes the partial disk" wait_until 60 file_absent "$B" $IMAGES/vm3.qcow2
check "$B's record says error" wait_until 10 status_is "$B" vm3 error
check "$B has no vm3 definition" is_state "$B" vm3 absent
on "$A" /usr/sbin/sshd -f "$(_cluster_node_dir "$A")/sshd_config" -E "$(_cluster_node_dir "$A")/sshd.log"
check "when $A's daemon is back it rolls back: vm3 runs on $A" wait_until 60 status_is "$A" vm3 error
check "vm3 runs on $A again" wait_until 20 is_state "$A" vm3 running
check "vm3's disk is unchanged on $A" same_content "$A" $IMAGES/vm3.qcow2 "$sum3"

say "fault: not enough disk on the destination"
on "$B" mount -t tmpfs -o size=32m tmpfs $IMAGES
out=$(on "$A" migratectl migrate vm3 --host "$B" --wait 2>&1); rc=$?
echo "$out" | tail -1
no_room() { [ "$1" -eq 1 ] && grep -qi 'MiB free' <<<"$2"; }
check "migrate fails (exit 1) saying there is no room" no_room "$rc" "$out"
check "vm3 was never stopped on $A" is_state "$A" vm3 running
check "$B has no vm3" is_state "$B" vm3 absent
on "$B" umount $IMAGES

cleanup_sampler
say "the sampler"
if [ -s "$SAMPLES" ]; then cat "$SAMPLES"; fi
check "no domain ran on both nodes at any sampled instant" [ ! -s "$SAMPLES" ]
rm -f "$SAMPLES"

finish "$A" "$B"
