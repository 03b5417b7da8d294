#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# ResizeConfirmWindow (Nova's resize_confirm_window) with a health check:
#   a cold migration that finished is confirmed on its own after the window,
#   also when the source daemon was killed meanwhile; when the domain does not
#   run on the destination at that moment, it is reverted instead.
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tac}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-205}
WINDOW=4
export CLUSTER_NODE_CONF=$'ShutdownTimeout=1\nResizeConfirmWindow='$WINDOW
IMAGES=/var/lib/libvirt/images

bench_up "$NAME" 2
for d in vm1 vm2 vm3; do
        cluster_define_domain "$A" "$d" --running --disk-mib 64 >/dev/null || exit 1
done

say "vm1: finished, then confirmed on its own after $WINDOW s"
check "migrate --wait exits 0" on "$A" migratectl migrate vm1 --host "$B" --wait
check "it waits in VERIFY_RESIZE first" status_is "$A" vm1 finished
check "it is confirmed within the window + 10 s" wait_until $((WINDOW + 10)) status_is "$A" vm1 confirmed
check "vm1 runs on $B" is_state "$B" vm1 running
check "$A has no vm1 left" is_state "$A" vm1 absent
check "$A has no vm1 disk left" wait_until 5 file_absent "$A" $IMAGES/vm1.qcow2
events=$(on "$A" migratectl show vm1)
check "the event says it was automatic" grep -q "automatically" <<<"$events"

say "vm2: the domain dies on $B before the window ends: reverted, runs on $A again"
check "migrate --wait exits 0" on "$A" migratectl migrate vm2 --host "$B" --wait
on "$B" virsh destroy vm2 >/dev/null
check "it is reverted within the window + 10 s" wait_until $((WINDOW + 10)) status_is "$A" vm2 reverted
check "vm2 runs on $A" wait_until 5 is_state "$A" vm2 running
check "$B has no vm2" is_state "$B" vm2 absent
events=$(on "$A" migratectl show vm2)
check "the event names the failed health check" grep -q "health check failed" <<<"$events"

say "vm3: the source daemon is killed while it waits; the window still holds after its restart"
check "migrate --wait exits 0" on "$A" migratectl migrate vm3 --host "$B" --wait
kill_in_node "$A" migrated
sleep 1
# Nothing runs the daemon again but a call: the first one re-arms the timer.
on "$A" migratectl hosts >/dev/null
check "it is confirmed after the restart" wait_until $((WINDOW + 10)) status_is "$A" vm3 confirmed
check "vm3 runs on $B" is_state "$B" vm3 running
check "$A has no vm3 left" is_state "$A" vm3 absent

finish "$A" "$B"
