#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The libvirt hook (/etc/libvirt/hooks/qemu.d/migrated-hook) on real nodes:
#   - starting and destroying a domain shows libvirt's hook events in
#     `migratectl show DOMAIN`, delivered on the bus while the daemon runs;
#   - with the daemon killed, the hook never starts it, spools the events, and
#     they appear once the daemon is back; the spool is then gone;
#   - a live migration between nodes whose bridges have different names is
#     refused with the reason (no rule), then succeeds with a [Rewrite] rule, and
#     the domain's interface sits on the destination's bridge and its disk in the
#     destination's folder (DiskPathPrefixes); a cold migration applies the same rules.
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-thk}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-209}
export CLUSTER_NODE_CONF=ShutdownTimeout=1
IMAGES=/var/lib/libvirt/images

bench_up "$NAME" 2

# domain_ops NODE DOMAIN: the operations of the domain's events, space-separated
# (from `show DOMAIN`: the domain's "events", or "DomainEvents" next to its migration).
domain_ops() {
        on "$1" migratectl --json show "$2" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
ev = d.get("events", d.get("DomainEvents", []))
print(" ".join(e["operation"] + ("/" + e["sub-operation"] if e.get("sub-operation", "-") != "-" else "")
               for e in ev))'
}
has_ops() { local ops; ops=" $(domain_ops "$1" "$2") "; shift 2; local o; for o; do [[ $ops == *" $o "* ]] || return 1; done; }
spool_size() { on "$1" stat -c %s /var/lib/migrated/hook-spool 2>/dev/null || echo 0; }
# hook_events NODE DOMAIN: how many of the domain's events came from the hook
hook_events() {
        on "$1" migratectl --json show "$2" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for e in d.get("events", d.get("DomainEvents", [])) if e["origin"] == "hook"))'
}
hook_events_are() { [ "$(hook_events "$1" "$2")" -eq "$3" ]; }
on_bridge() { on "$1" virsh domiflist "$2" | grep -qw "$3"; }
bridge_has_port() { [ -n "$(on "$1" ip -o link show master "$2")" ]; }
has_disk() { on "$1" virsh domblklist "$2" | grep -q " $3\$"; }

cluster_define_domain "$A" vm1 >/dev/null || exit 1

say "the daemon runs: events arrive on the bus"
check "migratectl hosts starts the daemon on $A" on "$A" migratectl hosts
check "virsh start vm1" on "$A" virsh start vm1
check "start shows prepare, start and started" wait_until 10 has_ops "$A" vm1 prepare/begin start/begin started/begin
check "virsh destroy vm1" on "$A" virsh destroy vm1
check "destroy shows stopped and release" wait_until 10 has_ops "$A" vm1 stopped/end release/end
check "nothing was spooled" [ "$(spool_size "$A")" = 0 ]
echo "   $(on "$A" migratectl show vm1 | sed -n '/^Domain events:/,$p' | tail -n +2 | tr -s ' ' | tr '\n' ';')"

say "the daemon is killed: the hook spools, never starts it, and nothing is lost"
kill_in_node "$A" migrated
check "no migrated on $A" wait_until 5 no_daemon "$A"
before=$(hook_events "$A" vm1)
kill_in_node "$A" migrated # show started it again
check "no migrated on $A again" wait_until 5 no_daemon "$A"
check "virsh start vm1 without the daemon" on "$A" virsh start vm1
check "virsh destroy vm1 without the daemon" on "$A" virsh destroy vm1
check "the hook did not start the daemon" no_daemon "$A"
check "the events are in the spool" [ "$(spool_size "$A")" -gt 0 ]
after=$(hook_events "$A" vm1)
check "after the daemon is back the 5 hook events are there, once each ($before -> $after)" [ "$after" -eq $((before + 5)) ]
check "the spool was drained" [ "$(spool_size "$A")" = 0 ]
check "no half-taken spool left" file_absent "$A" /var/lib/migrated/hook-spool.draining

say "the daemon hangs (SIGSTOP): libvirt is not held up, and each event is recorded once"
check "the daemon runs again" on "$A" migratectl hosts
before=$(hook_events "$A" vm1)
for p in $(node_pids "$A" migrated); do kill -STOP "$p"; done
t0=$(date +%s%N)
check "virsh start vm1 with the daemon stopped" on "$A" virsh start vm1
check "virsh destroy vm1 with the daemon stopped" on "$A" virsh destroy vm1
ms=$((($(date +%s%N) - t0) / 1000000))
echo "   start + destroy took $ms ms with a hung daemon (each hook run gives up after 8 ms)"
check "the hook spooled the events" [ "$(spool_size "$A")" -gt 0 ]
for p in $(node_pids "$A" migrated); do kill -CONT "$p"; done
check "once it goes on, the 5 events are recorded exactly once (bus and spool)" \
        wait_until 10 hook_events_are "$A" vm1 $((before + 5))
sleep 1
check "... and stay 5 (no late duplicates)" hook_events_are "$A" vm1 $((before + 5))

say "a full spool: the event is counted as lost, never blocks, and the loss is reported"
kill_in_node "$A" migrated
wait_until 5 no_daemon "$A"
on "$A" sh -c "head -c 4194304 /dev/zero | tr '\\0' x >/var/lib/migrated/hook-spool" # 4 MiB of junk
check "virsh start vm1 with a full spool" on "$A" virsh start vm1
check "the spool did not grow" [ "$(spool_size "$A")" = 4194304 ]
check "the loss is counted" on "$A" test -s /var/lib/migrated/hook-spool.lost
check "the daemon starts" on "$A" migratectl hosts
check "its log says the spool was full" wait_until 10 grep -q "The hook spool was full" "$(_cluster_node_dir "$A")/bus.log"
check "the junk was read and dropped" wait_until 10 file_absent "$A" /var/lib/migrated/hook-spool
on "$A" virsh destroy vm1 >/dev/null

say "nodes whose bridges differ: refused without a rule, migrated with one"
on "$A" ip link add br-a type bridge && on "$A" ip link set br-a up
on "$B" ip link add br-b type bridge && on "$B" ip link set br-b up
cluster_define_domain "$A" vm2 --running --bridge br-a >/dev/null || exit 1
err=$(on "$A" migratectl migrate vm2 --live --block-migration --host "$B" --wait 2>&1)
check "without a rule the live migration fails" [ $? -ne 0 ]
echo "   $err"
check "the reason names the bridge and the rule to write" grep -q "br-a.*Rewrite" <<<"$err"
check "vm2 still runs on $A" is_state "$A" vm2 running
check "$B has no vm2" is_state "$B" vm2 absent
check "$B's daemon recorded the refusal" grep -q "migrate begin: migrated refused" "$(_cluster_node_dir "$B")/bus.log"

# B keeps its images in a sub-folder, and A takes them back from there.
on "$B" mkdir -p $IMAGES/b
printf '\n[Rewrite]\nBridges=br-a:br-b\nDiskPathPrefixes=%s/:%s/b/\n' $IMAGES $IMAGES \
        >>"$(_cluster_node_dir "$B")/etc-migrated/migrated.conf"
printf '\n[Rewrite]\nBridges=br-b:br-a\nDiskPathPrefixes=%s/b/:%s/\n' $IMAGES $IMAGES \
        >>"$(_cluster_node_dir "$A")/etc-migrated/migrated.conf"
kill_in_node "$A" migrated
kill_in_node "$B" migrated # both read the new rules when they start again
check "with the rule the live migration succeeds" on "$A" migratectl migrate vm2 --live --block-migration --host "$B" --wait
check "vm2 runs on $B" is_state "$B" vm2 running
check "its interface is on br-b" on_bridge "$B" vm2 br-b
check "a tap of vm2 is a port of br-b" bridge_has_port "$B" br-b
check "its disk is where B's DiskPathPrefixes put it" has_disk "$B" vm2 $IMAGES/b/vm2.qcow2
check "$B's events show the migrate hook" wait_until 10 has_ops "$B" vm2 migrate/begin
check "and back, br-b -> br-a" on "$B" migratectl migrate vm2 --live --block-migration --host "$A" --wait
check "vm2 runs on $A with br-a" on_bridge "$A" vm2 br-a
check "... and its disk where A's rule puts it" has_disk "$A" vm2 $IMAGES/vm2.qcow2

say "a cold migration applies the destination's rules too"
cluster_define_domain "$A" vm3 --running --bridge br-a >/dev/null || exit 1
sum3=$(content_sum "$A" $IMAGES/vm3.qcow2)
check "cold migration vm3 -> $B" on "$A" migratectl migrate vm3 --host "$B" --wait
check "vm3 runs on $B" is_state "$B" vm3 running
check "its interface is on br-b" on_bridge "$B" vm3 br-b
check "its disk was copied where B's DiskPathPrefixes put it" has_disk "$B" vm3 $IMAGES/b/vm3.qcow2
check "... with the same content" same_content "$B" $IMAGES/b/vm3.qcow2 "$sum3"
check "confirm" on "$A" migratectl confirm vm3

finish "$A" "$B"
