#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Live migration between two real bench nodes, driven by migratectl:
#   live block migration of a running domain (runs on the destination, gone from
#   the source, disk content equal, record completed with its downtime); progress
#   on the bus that never goes backwards; abort of a running migration (domain
#   still on the source, destination clean); refusals for non-shared disks without
#   --block-migration and for shared-looking disks with it; MaxConcurrentMigrations=1
#   queues a second migration, which completes after the first.
# The guests here have no OS (an idle domain); a guest that dirties memory is still to come.
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tlv}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-206}
export CLUSTER_NODE_CONF=$'MaxConcurrentMigrations=1'
IMAGES=/var/lib/libvirt/images
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)

bench_up "$NAME" 2

say "live block migration of a running domain"
make_domain "$A" vm1 32 || exit 1
sum1=$(content_sum "$A" $IMAGES/vm1.qcow2)
WATCH=$(mktemp)
on "$A" migratectl --json migrate vm1 --live --block-migration --host "$B" --bandwidth 16 --wait >"$WATCH" 2>&1
rc=$?
check "migrate --live --block-migration --wait exits 0" [ $rc -eq 0 ]
check "vm1 runs on $B" is_state "$B" vm1 running
check "vm1 is persistent on $B" sh -c "nsenter -t $(cat "$(_cluster_node_dir "$B")/init.pid") -m -n -u -- virsh dominfo vm1 | grep -q 'Persistent: *yes'"
check "vm1 is gone from $A (not even defined)" is_state "$A" vm1 absent
check "disk content equal on $B" same_content "$B" $IMAGES/vm1.qcow2 "$sum1"
check "the source's copy of the disk is deleted" wait_until 10 file_absent "$A" $IMAGES/vm1.qcow2
check "the record is completed" prop_is "$A" vm1 Status completed
check "the destination's record is completed" prop_is "$B" vm1 Status completed
downtime=$(prop "$A" vm1 DowntimeMSec)
echo "   downtime $downtime ms; $(on "$A" migratectl show vm1 | grep -m1 completed)"
check "the downtime is recorded" [ -n "$downtime" ]
# Progress from the bus (--json --wait prints one object per PropertiesChanged).
check "progress arrived on the bus several times and never went backwards" monotonic "$WATCH" 3
check "the Migration object matches dbus/org.example.Migrate1.Migration.xml" sh -c \
        "nsenter -t $(cat "$(_cluster_node_dir "$A")/init.pid") -m -n -u -- busctl introspect --xml-interface org.example.Migrate1 \
         \$(nsenter -t $(cat "$(_cluster_node_dir "$A")/init.pid") -m -n -u -- migratectl --json migrations --domain vm1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1][\"object\"])') \
         | python3 $HERE/compare-introspection.py $SRC/dbus/org.example.Migrate1.Migration.xml org.example.Migrate1.Migration"
rm -f "$WATCH"
check "and back: $B → $A (the scheduler picks $A)" on "$B" migratectl migrate vm1 --live --block-migration --wait
check "vm1 runs on $A again" is_state "$A" vm1 running
check "disk content still equal" same_content "$A" $IMAGES/vm1.qcow2 "$sum1"

say "abort of a running live migration"
make_domain "$A" vm2 48 || exit 1
on "$A" migratectl migrate vm2 --live --block-migration --host "$B" --bandwidth 2 >/dev/null
check "it is running" wait_until 30 copying "$A" vm2
check "abort exits 0" on "$A" migratectl abort vm2
check "the record is cancelled" prop_is "$A" vm2 Status cancelled
check "vm2 still runs on $A" is_state "$A" vm2 running
check "$B has no vm2" is_state "$B" vm2 absent
check "$B has no vm2 disk" wait_until 10 file_absent "$B" $IMAGES/vm2.qcow2
check "$B's record is cancelled" prop_is "$B" vm2 Status cancelled

say "refusals: local disks without --block-migration; shared-looking disks with it"
out=$(on "$A" migratectl migrate vm2 --live --host "$B" --wait 2>&1); rc=$?
echo "   $out" | tail -1
check "without --block-migration it fails, naming shared storage" grep -q "shared" <<<"$out"
check "vm2 still runs on $A" is_state "$A" vm2 running
on "$B" qemu-img create -q -f qcow2 $IMAGES/vm2.qcow2 128M
out=$(on "$A" migratectl migrate vm2 --live --block-migration --host "$B" --wait 2>&1); rc=$?
echo "   $out" | tail -1
check "with --block-migration onto an existing file it fails, saying it looks shared" grep -q "looks shared" <<<"$out"
check "vm2 still runs on $A" is_state "$A" vm2 running
check "$B's own file is left alone" on "$B" test -e $IMAGES/vm2.qcow2
on "$B" rm -f $IMAGES/vm2.qcow2

say "MaxConcurrentMigrations=1: a second live migration waits queued, then completes"
make_domain "$A" vm3 8 || exit 1
on "$A" migratectl migrate vm2 --live --block-migration --host "$B" --bandwidth 16 >/dev/null
wait_until 30 copying "$A" vm2
on "$A" migratectl migrate vm3 --live --block-migration --host "$B" >/dev/null
check "the second one is queued" prop_is "$A" vm3 Status queued
check "the first completes" wait_until 90 prop_is "$A" vm2 Status completed
check "then the second completes" wait_until 60 prop_is "$A" vm3 Status completed
both_on_b() { is_state "$B" vm2 running && is_state "$B" vm3 running; }
check "vm2 and vm3 run on $B" both_on_b
events=$(on "$A" migratectl show vm3)
check "vm3's events show it queued before it was prepared" grep -q "waits for a slot" <<<"$events"

finish "$A" "$B"
