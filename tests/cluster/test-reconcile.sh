#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Reconciliation on real nodes:
#   1. a domain running on two nodes (an operator defined and started a copy) is
#      reported as CONFLICT on both, with an event, and nothing is destroyed; once
#      one copy is gone the conflict clears;
#   2. the source daemon killed while libvirt live-migrates: after its restart the
#      record follows libvirt and completes, the disk arrived intact, the source is clean;
#   3. the destination daemon killed mid-migration: the migration completes and both
#      records say so;
#   4. libvirt's "third party decides" leftovers after a restart mid-migration:
#      a) a paused copy on the source while the destination runs the domain: the
#         source's copy is dropped, the record completes;
#      b) a paused copy on the source and none on the destination: the source's copy
#         is resumed, the record fails, the destination is clean.
#      libvirt leaves these when its own daemon restarts at a switch-over, which cannot
#      be timed from a test: here the test pauses the copy itself (virsh start --paused,
#      virsh suspend) while the daemon is down, with real domains on real nodes;
#   5. the source daemon killed with one migration running and one queued: the running
#      one completes, the queued one fails and its domain runs on as before;
#   6. the source daemon restarting while the destination is unreachable: the record waits
#      (not guessed) and completes once the destination is back;
#   7. a node whose configured name changed: its daemon reports it and destroys nothing.
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-trc}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-214}
export CLUSTER_NODE_CONF='MaxConcurrentMigrations=1'
IMAGES=/var/lib/libvirt/images

bench_up "$NAME" 2

# dom_states NODE DOMAIN: every entry of DOMAIN in `migratectl --json domains` on NODE,
# as NODE:STATE, sorted, joined with commas
dom_states() {
        on "$1" migratectl --json domains 2>/dev/null | python3 -c "
import json, sys
print(','.join(sorted(d['node'] + ':' + d['state'] for d in json.load(sys.stdin) if d['name'] == '$2')))"
}
states_are() { [ "$(dom_states "$1" "$2")" = "$3" ]; }
# has_event NODE DOMAIN OPERATION: the domain's events (shown on NODE) include OPERATION
has_event() {
        on "$1" migratectl --json show "$2" 2>/dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(e['operation'] == '$3' for e in d.get('events', d.get('DomainEvents', []))) else 1)"
}
# start_live NODE DOM DEST: a live block migration at 12 MiB/s (about 10 s for a 128 MiB disk), returning once libvirt runs it
start_live() {
        on "$1" migratectl migrate "$2" --live --block-migration --host "$3" --bandwidth 12 >/dev/null &&
                wait_until 20 status_is "$1" "$2" running
}
# migrate_and_kill DOM NODE: DOM (16 MiB of data) live-migrating from A to B, then NODE's daemon killed
migrate_and_kill() {
        make_domain "$A" "$1" 16 || exit 1
        check "live migration $1 -> $B runs" start_live "$A" "$1" "$B"
        stop_daemon "$2"
}
job_gone() { ! on "$1" virsh domjobinfo "$2" 2>/dev/null | grep -q 'Job type: *Unbounded'; }

say "1. a domain active on two nodes: CONFLICT, nothing destroyed"
cluster_define_domain "$A" vm1 --running >/dev/null || exit 1
check "vm1 is ACTIVE on $A" wait_until 10 states_are "$A" vm1 "$A:ACTIVE"
xml=$(on "$A" virsh dumpxml vm1)
on "$B" qemu-img create -q -f qcow2 $IMAGES/vm1.qcow2 64M
copy=$(_cluster_node_dir "$B")/vm1-copy.xml   # removed with the bench
printf '%s\n' "$xml" >"$copy"
check "an operator defines a copy on $B" on "$B" virsh define "$copy"
check "... and starts it" on "$B" virsh start vm1
check "both nodes show vm1 in CONFLICT" wait_until 30 states_are "$A" vm1 "$A:CONFLICT,$B:CONFLICT"
check "$A recorded a conflict event" has_event "$A" vm1 conflict
check "vm1 still runs on $A" is_state "$A" vm1 running
check "vm1 still runs on $B" is_state "$B" vm1 running
check "$A's log says CONFLICT" grep -q "CONFLICT: domain vm1" "$(_cluster_node_dir "$A")/bus.log"
on "$A" migratectl show vm1 | grep -E '^ *(State|Conflict):'
on "$B" virsh destroy vm1 >/dev/null && on "$B" virsh undefine vm1 >/dev/null
check "with $B's copy gone the conflict clears" wait_until 30 states_are "$A" vm1 "$A:ACTIVE"
check "$A recorded its end" has_event "$A" vm1 conflict-resolved

say "2. the source daemon killed while libvirt migrates"
make_domain "$A" vm2 16 || exit 1
sum2=$(content_sum "$A" $IMAGES/vm2.qcow2)
check "live migration vm2 -> $B runs" start_live "$A" vm2 "$B"
stop_daemon "$A"
check "libvirt goes on without the daemon" is_state "$A" vm2 running
sleep 2
check "after the restart the record completes" wait_until 90 status_is "$A" vm2 completed
check "vm2 runs on $B" is_state "$B" vm2 running
check "$A has no vm2 left" is_state "$A" vm2 absent
check "the disk arrived intact" same_content "$B" $IMAGES/vm2.qcow2 "$sum2"
check "$A's disk of vm2 is deleted" wait_until 10 file_absent "$A" $IMAGES/vm2.qcow2
check "$B's record completed too" status_is "$B" vm2 completed

say "3. the destination daemon killed mid-migration"
migrate_and_kill vm3 "$B"
check "the migration completes" wait_until 90 status_is "$A" vm3 completed
check "vm3 runs on $B" is_state "$B" vm3 running
check "$B's record (its daemon started again) completed" wait_until 20 status_is "$B" vm3 completed
check "$A has no vm3 left" is_state "$A" vm3 absent

say "4a. source paused, destination runs: the source's copy goes"
migrate_and_kill vm4 "$A"
check "libvirt finishes without the daemon" wait_until 90 is_state "$B" vm4 running
check "... and vm4 left $A" wait_until 30 is_state "$A" vm4 absent
on "$B" virsh dumpxml --migratable vm4 >"$(_cluster_node_dir "$A")/vm4-same-uuid.xml"
on "$A" virsh define "$(_cluster_node_dir "$A")/vm4-same-uuid.xml" >/dev/null
on "$A" virsh start --paused vm4 >/dev/null
check "the stand-in leftover: vm4 paused on $A" is_state "$A" vm4 paused
check "after the restart the record completes" wait_until 60 status_is "$A" vm4 completed
check "$A's paused copy is gone" wait_until 10 is_state "$A" vm4 absent
check "vm4 still runs on $B" is_state "$B" vm4 running

say "4b. source paused, destination has nothing: the source's copy is resumed"
migrate_and_kill vm5 "$A"
check "libvirt's job is aborted" on "$A" virsh domjobabort vm5
check "... the domain stays on $A" wait_until 20 job_gone "$A" vm5
check "... and libvirt removed $B's incoming copy" wait_until 20 is_state "$B" vm5 absent
on "$A" virsh suspend vm5 >/dev/null
check "the stand-in leftover: vm5 paused on $A" is_state "$A" vm5 paused
check "after the restart the record fails" wait_until 60 status_is "$A" vm5 failed
check "vm5 runs on $A again" wait_until 10 is_state "$A" vm5 running
check "$B has no vm5 disk left" wait_until 10 file_absent "$B" $IMAGES/vm5.qcow2
check "$B's record failed too" wait_until 10 status_is "$B" vm5 failed

say "5. the source daemon killed with a migration queued behind a running one"
make_domain "$A" vm6 16 || exit 1
make_domain "$A" vm7 1 || exit 1
check "live migration vm6 -> $B runs" start_live "$A" vm6 "$B"
check "vm7's migration is queued (MaxConcurrentMigrations=1)" on "$A" migratectl migrate vm7 --live --block-migration --host "$B"
check "... as the record says" status_is "$A" vm7 queued
stop_daemon "$A"
sleep 1
check "after the restart the running one completes" wait_until 90 status_is "$A" vm6 completed
check "the queued one failed" status_is "$A" vm7 failed
check "vm7 runs on $A as before" is_state "$A" vm7 running
check "vm6 runs on $B" is_state "$B" vm6 running

say "6. the source restarts while the destination is unreachable: the record waits, not guessed"
migrate_and_kill vm8 "$A"
check "libvirt finishes without the daemon" wait_until 90 is_state "$B" vm8 running
check "... and vm8 left $A" wait_until 30 is_state "$A" vm8 absent
check "$B's link goes down" on "$B" ip link set dev eth0 down
check "$A's daemon starts again" on "$A" migratectl migrations --domain vm8
sleep 8 # it asks the destination, fails, asks again every 5 s
check "with $B unreachable the record stays running" status_is "$A" vm8 running
check "$A's log says the destination's view is unknown" grep -q "destination unknown" "$(_cluster_node_dir "$A")/bus.log"
check "$B's link comes back" on "$B" ip link set dev eth0 up
check "then the record completes" wait_until 60 status_is "$A" vm8 completed
check "vm8 runs on $B" is_state "$B" vm8 running

say "7. a node renamed in its config destroys nothing"
running_b=$(on "$B" virsh list --name | sort | tr -s '\n' ' ')
stop_daemon "$B"
conf_b=$(_cluster_node_dir "$B")/etc-migrated/migrated.conf
sed -i "s/^Name=$B\$/Name=${B}new/" "$conf_b"
check "$B's daemon starts under its new name" on "$B" migratectl hosts
check "it reports the rename" wait_until 10 grep -q "Identity changed: this node was $B" "$(_cluster_node_dir "$B")/bus.log"
check "every domain still runs on $B" [ "$(on "$B" virsh list --name | sort | tr -s '\n' ' ')" = "$running_b" ]
check "its migration records are kept" status_is "$B" vm2 completed
stop_daemon "$B"
sed -i "s/^Name=${B}new\$/Name=$B/" "$conf_b"

finish "$A" "$B"
