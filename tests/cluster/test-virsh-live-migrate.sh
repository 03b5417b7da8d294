#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Bench self-test: a live + block migration (non-shared qcow2 disk) of a
# running domain between two real nodes, with plain virsh, exactly as an
# operator would do it without migrated:
#
#   virsh migrate --live --p2p --persistent --undefinesource --copy-storage-all \
#         DOM qemu+ssh://root@IPB/system tcp://IPB
#
# Passes when the domain runs (and is persistent) on B, is gone from A, and
# the disk on B holds exactly the data written into A's disk before the start.
# Exit 0 pass, 1 fail, 77 skip.

set -euo pipefail

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tlm}                     # instance of this test only
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-201}
DOM=vm1
VIRSH=(virsh -q -c qemu:///system)

# The known bytes we write, as qemu-io commands (write) and checks (read -P).
PATTERNS=("0xa5 0 1M" "0x5a 8M 3M" "0x3c 60M 512k")
seed_disk() {
    local node=$1 disk=$2 p args=()
    for p in "${PATTERNS[@]}"; do args+=(-c "write -P $p"); done
    cluster_run "$node" qemu-io -f qcow2 "${args[@]}" "$disk" >/dev/null
}
check_patterns() {
    local node=$1 disk=$2 p out
    for p in "${PATTERNS[@]}"; do
        out=$(cluster_run "$node" qemu-io -U -r -f qcow2 -c "read -P $p" "$disk" 2>&1) ||
            fail "qemu-io read -P $p on $node failed: $out"
        case $out in *"Pattern verification failed"*|*"error"*)
            fail "pattern $p not found on $node: $out" ;;
        esac
    done
}

say "bringing up 2 nodes (instance $NAME)"
bench_up "$NAME" 2
IPB=$(cluster_ip "$B")

say "defining $DOM on $A, writing known data into its disk, starting it"
disk=$(cluster_define_domain "$A" "$DOM" --mem 128 --disk-mib 64)
seed_disk "$A" "$disk"
cluster_run "$A" "${VIRSH[@]}" start "$DOM" >/dev/null
[ "$(cluster_run "$A" "${VIRSH[@]}" domstate "$DOM")" = running ] || fail "$DOM does not run on $A"
sum_a=$(content_sum "$A" "$disk")
echo "   disk $disk on $A: sha256 of content $sum_a"

say "precreating the destination disk on $B (same path, same virtual size)"
size=$(cluster_disk_vsize "$A" "$disk")
[ -n "$size" ] || fail "cannot read the virtual size of $disk"
cluster_precreate_disk "$B" "$disk" "$size" qcow2

say "migrating $DOM from $A to $B (live, p2p, copy-storage-all)"
t_mig=$SECONDS
if ! cluster_run "$A" timeout 120 "${VIRSH[@]}" migrate --live --p2p --persistent \
        --undefinesource --copy-storage-all "$DOM" \
        "qemu+ssh://root@$IPB/system" "tcp://$IPB"; then
    # a p2p migration keeps running inside libvirtd without its client
    cluster_run "$A" "${VIRSH[@]}" domjobabort "$DOM" 2>/dev/null || true
    fail "virsh migrate failed"
fi
echo "   migration took $((SECONDS - t_mig)) s"

say "checking $DOM runs on $B"
state=$(cluster_run "$B" "${VIRSH[@]}" domstate "$DOM") || fail "$DOM unknown on $B"
[ "$state" = running ] || fail "$DOM on $B is '$state', not running"
info=$(cluster_run "$B" "${VIRSH[@]}" dominfo "$DOM")
grep -Eq '^Persistent: +yes' <<<"$info" || fail "$DOM is not persistent on $B: $info"
# The QEMU process must really live on B: in B's network namespace.
qpid=$(cat "$(_cluster_node_dir "$B")/run/libvirt/qemu/$DOM.pid")
[ "$(readlink "/proc/$qpid/ns/net")" = "net:[$(cat "$(_cluster_node_dir "$B")/netns-inode")]" ] ||
    fail "QEMU of $DOM (pid $qpid) is not in $B's namespace"
echo "   running on $B as QEMU pid $qpid"

say "checking $DOM is gone from $A"
if cluster_run "$A" "${VIRSH[@]}" dominfo "$DOM" >/dev/null 2>&1; then
    fail "$DOM is still defined on $A"
fi
list=$(cluster_run "$A" "${VIRSH[@]}" list --all --name)
if grep -qx "$DOM" <<<"$list"; then
    fail "$DOM still listed on $A"
fi

say "comparing disk content"
sum_b=$(content_sum "$B" "$disk")
echo "   disk $disk on $B: sha256 of content $sum_b"
[ "$sum_a" = "$sum_b" ] || fail "disk content differs: $A $sum_a, $B $sum_b"
check_patterns "$B" "$disk"
echo "   known patterns found on $B"

say "PASS (total $((SECONDS - CHECKS_T0)) s, tear-down follows)"
