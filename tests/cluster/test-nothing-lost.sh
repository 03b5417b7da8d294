#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Nothing lost (issue 11): the source's copy of a cold-migrated domain is deleted only on
# positive proof that the destination holds it, and a peer that left the config does not
# stop the daemon.
#   vm1  shut off; its definition vanishes on the destination: the automatic confirm keeps
#        the source's copy and reverts.
#   vm2  shut off; its disk vanishes on the destination: an operator's confirm is refused
#        (Conflict, "revert"), nothing is removed; then the automatic confirm reverts.
#   vm3  runs on the destination, waiting in VERIFY_RESIZE, when [Peer B] is taken out of
#        A's config; vm4 is caught mid-confirm (its record set to "confirming" while the
#        daemon is down, as a daemon killed at that point leaves it): the daemon starts,
#        stays up, and says what it cannot finish; with the peer back both are confirmed.
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tnl}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-215}
WINDOW=6
export CLUSTER_NODE_CONF=$'ShutdownTimeout=1\nResizeConfirmWindow='$WINDOW
IMAGES=/var/lib/libvirt/images
CONF=/etc/migrated/migrated.conf
DB=/var/lib/migrated/migrated.sqlite

bench_up "$NAME" 2
for d in vm1 vm2 vm4; do
        cluster_define_domain "$A" "$d" --shut-off --disk-mib 32 --disk-data-mib 4 >/dev/null || exit 1
done
cluster_define_domain "$A" vm3 --running --disk-mib 32 >/dev/null || exit 1
declare -A SUM
for d in vm1 vm2 vm4; do SUM[$d]=$(content_sum "$A" $IMAGES/$d.qcow2); done
file_present() { on "$1" test -f "$2"; }

say "vm1 (shut off): its definition vanishes on $B; the automatic confirm keeps $A's copy and reverts"
check "migrate --wait exits 0" on "$A" migratectl migrate vm1 --host "$B" --wait
check "it waits in VERIFY_RESIZE" status_is "$A" vm1 finished
check "vm1 is gone from $B" on "$B" virsh undefine vm1
check "it is reverted, not confirmed" wait_until $((WINDOW + 15)) status_is "$A" vm1 reverted
check "vm1 is defined on $A, shut off" is_state "$A" vm1 "shut off"
check "its disk on $A is intact" same_content "$A" $IMAGES/vm1.qcow2 "${SUM[vm1]}"
events=$(on "$A" migratectl show vm1)
check "the record says why it was not confirmed" grep -q "health check failed" <<<"$events"

say "vm2 (shut off): its disk vanishes on $B; an operator's confirm is refused and nothing is removed"
check "migrate --wait exits 0" on "$A" migratectl migrate vm2 --host "$B" --wait
check "the disk is gone from $B" on "$B" rm "$IMAGES/vm2.qcow2"
out=$(on "$A" migratectl confirm vm2 2>&1)
check_eq "confirm exits 5 (conflict)" 5 "$?"
check "the refusal names the missing disk and says to revert" \
        grep -q "lacks disk.*revert" <<<"$(tr '\n' ' ' <<<"$out")"
check "the migration waits in VERIFY_RESIZE again" status_is "$A" vm2 finished
check "vm2 is still defined on $A" is_state "$A" vm2 "shut off"
check "its disk on $A is intact" same_content "$A" $IMAGES/vm2.qcow2 "${SUM[vm2]}"
check "then the automatic confirm reverts it" wait_until $((WINDOW + 15)) status_is "$A" vm2 reverted
check "vm2 is defined on $A, its disk intact" same_content "$A" $IMAGES/vm2.qcow2 "${SUM[vm2]}"
check "$B has no vm2" is_state "$B" vm2 absent

say "vm3, vm4: [Peer $B] leaves $A's config while they wait; vm4 was being confirmed"
check "vm3: migrate --wait exits 0" on "$A" migratectl migrate vm3 --host "$B" --wait
check "vm4: migrate --wait exits 0" on "$A" migratectl migrate vm4 --host "$B" --wait
stop_daemon "$A"
on "$A" cp "$CONF" "$CONF.full"
check "$B is taken out of $A's config" on "$A" sed -i '/^\[Peer /,$d' "$CONF"
check "vm4's record says confirming" on "$A" sqlite3 "$DB" \
        "UPDATE migrations SET status='confirming' WHERE domain_name='vm4' AND role='source' AND status='finished'"
check "the daemon starts (a call activates it)" on "$A" migratectl migrations
sleep $((WINDOW + 3))
check "it is still up after the confirm window" daemon_runs "$A"
check "it still answers" on "$A" migratectl migrations
events=$(on "$A" migratectl show vm3)
check "vm3's record says $B is not a configured peer" grep -q "not a configured peer" <<<"$events"
check "vm3 still waits in VERIFY_RESIZE" status_is "$A" vm3 finished
check "vm3 runs on $B" is_state "$B" vm3 running
check "$A keeps vm3's definition" is_state "$A" vm3 "shut off"
check "$A keeps vm3's disk" file_present "$A" $IMAGES/vm3.qcow2
check "vm4 is back in VERIFY_RESIZE, nothing removed" status_is "$A" vm4 finished
check "vm4 is defined on $A, its disk intact" same_content "$A" $IMAGES/vm4.qcow2 "${SUM[vm4]}"
events=$(on "$A" migratectl show vm4)
check "vm4's record says why" grep -q "not confirmed, nothing removed" <<<"$events"

say "the audit trail (no journal on the bench: stderr, the daemon's log)"
log_of() { cat "$(_cluster_node_dir "$1")/bus.log"; }
id1=$(on "$A" busctl get-property org.example.Migrate1 "$(on "$A" busctl call org.example.Migrate1 \
        /org/example/Migrate1 org.example.Migrate1.Manager GetMigration s vm1 | cut -d'"' -f2)" \
        org.example.Migrate1.Migration Id | cut -d'"' -f2)
check "vm1's migration has an id" test -n "$id1"
check "$A audits each of vm1's status changes" \
        grep -q "AUDIT MESSAGE_ID=a8affc6270cd47a383adefda2d59f5a2 .*MIGRATION_ID=$id1 .*STATUS=reverted" \
        <<<"$(log_of "$A")"
check "$B audits its side of vm1's migration" \
        grep -q "AUDIT MESSAGE_ID=a8affc6270cd47a383adefda2d59f5a2 .*MIGRATION_ID=$id1 .*ROLE=destination .*STATUS=finished" \
        <<<"$(log_of "$B")"
check "$A audits the operator's confirm of vm2 with the caller's uid and pid" \
        grep -q "AUDIT MESSAGE_ID=ad4a914839d546c5a0965c96eae10e15 METHOD=Confirm .*CALLER_UID=0 CALLER_PID=[0-9]* DOMAIN_NAME=vm2" \
        <<<"$(log_of "$A")"

say "with [Peer $B] back, both are confirmed"
stop_daemon "$A"
on "$A" cp "$CONF.full" "$CONF"
on "$A" migratectl migrations >/dev/null
check "vm3 is confirmed" wait_until $((WINDOW + 15)) status_is "$A" vm3 confirmed
check "vm4 is confirmed" wait_until $((WINDOW + 15)) status_is "$A" vm4 confirmed
check "vm3 runs on $B" is_state "$B" vm3 running
check "$A has no vm3 left" is_state "$A" vm3 absent
check "$A has no vm4 disk left" wait_until 5 file_absent "$A" $IMAGES/vm4.qcow2
check "vm4 is defined on $B" is_state "$B" vm4 "shut off"

finish "$A" "$B"
