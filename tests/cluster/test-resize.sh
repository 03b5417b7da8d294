#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Resize (seed 000: a cold migration with a new flavour) on a two-node bench:
#   - a running domain of 1 vCPU / 128 MiB resized to 2 vCPUs / 256 MiB onto the other node:
#     it runs there with that size and waits in VERIFY_RESIZE, `show` names both sizes;
#   - revert: back on the source with 1 vCPU / 128 MiB, the destination clean, disk equal;
#   - resize again and confirm: on the destination with the new size, the source clean;
#   - a size no node can hold (asked on the node that does not hold the domain): NoValidHost
#     with each node's reason, the domain untouched;
#   - a resize on the same node (--host its own node): defined anew in place, the disk never
#     copied; revert gives the size before, confirm keeps the new one; too much memory refused.
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-trs}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-223}
export CLUSTER_NODE_CONF=$'ShutdownTimeout=1'
IMAGES=/var/lib/libvirt/images

bench_up "$NAME" 2

# size NODE DOM: "vCPUs KiB-max KiB-used" as libvirt reports them
size() {
        on "$1" virsh dominfo "$2" | awk -F: '
                /^CPU\(s\)/ {c = $2} /^Max memory/ {m = $2} /^Used memory/ {u = $2}
                END {gsub(/[^0-9]/, "", c); gsub(/[^0-9]/, "", m); gsub(/[^0-9]/, "", u); print c, m, u}'
}
status() { on "$A" migratectl --json show r1 | python3 -c 'import json,sys; print(json.load(sys.stdin).get("Status"))'; }

say "r1 runs on $A with 1 vCPU and 128 MiB"
cluster_define_domain "$A" r1 --running --disk-mib 16 --disk-data-mib 2 >/dev/null || exit 1
check_eq "r1's size on $A" "1 131072 131072" "$(size "$A" r1)"
sum=$(content_sum "$A" $IMAGES/r1.qcow2)

say "resize r1 to 2 vCPUs / 256 MiB; revert"
out=$(on "$A" migratectl resize r1 --vcpus 2 --memory 256M --wait 2>&1)
rc=$?
echo "$out" | tail -n 3 | sed 's/^/        /'
check_eq "resize r1 --vcpus 2 --memory 256M --wait exits 0" 0 "$rc"
check "r1 runs on $B" is_state "$B" r1 running
check_eq "... with 2 vCPUs and 256 MiB" "2 262144 262144" "$(size "$B" r1)"
check_eq "the record waits for confirm or revert (VERIFY_RESIZE)" finished "$(status)"
check "show names both sizes" grep -q "Resize: *1 vCPU(s), 128.0M -> 2 vCPU(s), 256.0M" \
        <<<"$(on "$A" migratectl show r1)"
check "revert r1 exits 0" on "$A" migratectl revert r1
check "r1 runs on $A again" is_state "$A" r1 running
check_eq "... with its old size, 1 vCPU and 128 MiB" "1 131072 131072" "$(size "$A" r1)"
check "r1 is gone from $B" is_state "$B" r1 absent
check "$B's copy of the disk is gone" file_absent "$B" $IMAGES/r1.qcow2
check "r1's disk content is unchanged" same_content "$A" $IMAGES/r1.qcow2 "$sum"

say "resize again and confirm"
check "resize r1 --vcpus 2 --memory 256M --wait exits 0" \
        on "$A" migratectl resize r1 --vcpus 2 --memory 256M --wait
check "confirm r1 exits 0" on "$A" migratectl confirm r1
check_eq "r1 runs on $B with 2 vCPUs and 256 MiB" "running 2 262144 262144" \
        "$(state "$B" r1) $(size "$B" r1)"
check "r1 is gone from $A" is_state "$A" r1 absent
check "$A's disk is gone" file_absent "$A" $IMAGES/r1.qcow2
check "r1's disk content is unchanged on $B" same_content "$B" $IMAGES/r1.qcow2 "$sum"

say "a size no node can hold"
out=$(on "$A" migratectl resize r1 --memory 64T 2>&1)
rc=$?
echo "$out" | sed 's/^/        /'
check_eq "resize r1 --memory 64T (asked on $A, r1 on $B) exits 8 (beyond 16 TiB)" 8 "$rc"
out=$(on "$A" migratectl resize r1 --memory 8T --wait 2>&1)
rc=$?
echo "$out" | sed 's/^/        /'
check_eq "resize r1 --memory 8T --wait exits 6 (no valid host)" 6 "$rc"
check "... naming $A and why" grep -q "$A: .*memory" <<<"$out"
check_eq "r1 still runs on $B with 2 vCPUs and 256 MiB" "running 2 262144 262144" \
        "$(state "$B" r1) $(size "$B" r1)"

say "resize on the same node ($B, asked on $A): no copy; revert, then confirm"
inode=$(on "$B" stat -c %i $IMAGES/r1.qcow2)
kind() { on "$B" migratectl --json show r1 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("Kind"), d.get("Status"), d.get("Source"), d.get("Destination"))'; }
out=$(on "$A" migratectl resize r1 --host "$B" --vcpus 1 --memory 192M --wait 2>&1)
rc=$?
echo "$out" | tail -n 2 | sed 's/^/        /'
check_eq "resize r1 --host $B --vcpus 1 --memory 192M --wait exits 0" 0 "$rc"
check_eq "r1 runs on $B with 1 vCPU and 192 MiB" "running 1 196608 196608" "$(state "$B" r1) $(size "$B" r1)"
check_eq "the record: a resize on $B, waiting in VERIFY_RESIZE" "resize finished $B $B" "$(kind)"
check "domains shows VERIFY_RESIZE" grep -qE "^r1 .*VERIFY_RESIZE" <<<"$(on "$A" migratectl domains)"
check "the disk was not copied (same inode)" test "$(on "$B" stat -c %i $IMAGES/r1.qcow2)" = "$inode"
check "revert r1 exits 0" on "$A" migratectl revert r1
check_eq "r1 runs on $B with its size before, 2 vCPUs and 256 MiB" "running 2 262144 262144" \
        "$(state "$B" r1) $(size "$B" r1)"
check_eq "the record is reverted" "resize reverted $B $B" "$(kind)"
check "resize r1 --host $B --memory 192M --wait exits 0" \
        on "$B" migratectl resize r1 --host "$B" --memory 192M --wait
check "confirm r1 exits 0" on "$B" migratectl confirm r1
check_eq "r1 keeps 2 vCPUs and 192 MiB on $B" "running 2 196608 196608" "$(state "$B" r1) $(size "$B" r1)"
check_eq "the record is confirmed" "resize confirmed $B $B" "$(kind)"
check "the disk is still there, the same file, content unchanged" \
        test "$(on "$B" stat -c %i $IMAGES/r1.qcow2)" = "$inode"
check "... content unchanged" same_content "$B" $IMAGES/r1.qcow2 "$sum"
out=$(on "$B" migratectl resize r1 --host "$B" --memory 8T --wait 2>&1)
check_eq "a resize on $B beyond its memory exits 6" 6 "$?"
echo "$out" | sed 's/^/        /'
check_eq "r1 untouched on $B" "running 2 196608 196608" "$(state "$B" r1) $(size "$B" r1)"

finish "$A" "$B"
