#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# qcow2 backing chains on a two-node bench:
#   - c1 runs on a two-level chain (base.raw <- mid.qcow2 <- c1.qcow2, named relatively): a
#     cold migration copies all three files, each as it is (never flattened: the copy on B
#     still names its backing file), show lists them, the guest view's checksum is equal;
#   - c2, another overlay of mid.qcow2, follows: B has the chain already, nothing of it is
#     copied again (compared instead, files untouched), only c2's overlay moves;
#   - a revert of c1 deletes its overlay on B and keeps the chain its migration copied there
#     (c2 is built on it); a confirm of c2 removes A's overlay and keeps A's chain (c1's);
#   - c3 on a base whose file on B is another one with the same name: refused with
#     Conflict before anything of c3 changes, B's file untouched;
#   - a live block migration of an overlay is refused (it would flatten the chain).
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tbc}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-225}
export CLUSTER_NODE_CONF=$'ShutdownTimeout=1'
IMAGES=/var/lib/libvirt/images
BASES=$IMAGES/bases

bench_up "$NAME" 2

events() { on "$1" migratectl show "$2" 2>/dev/null; }
backing_of() { on "$1" qemu-img info -U --output=json "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("backing-filename", ""))'; }
# guest view of an overlay, through its whole chain
view_sum() {
        # shellcheck disable=SC2016  # expanded by the node's bash
        on "$1" bash -c 'set -eo pipefail; t=$(mktemp /var/tmp/view.XXXXXX); trap "rm -f $t" EXIT
                qemu-img convert -U -O raw "$1" "$t"; sha256sum <"$t" | cut -d" " -f1' bash "$2"
}
mtime() { on "$1" stat -c %Y.%i "$2"; }

say "a chain on $A: base.raw (data) <- mid.qcow2 (data) <- c1.qcow2 and c2.qcow2"
# shellcheck disable=SC2016  # expanded by the node's bash
on "$A" bash -ec 'mkdir -p "$1"; cd "$1"
        qemu-img create -q -f raw base.raw 32M
        dd if=/dev/urandom of=base.raw bs=1M count=4 conv=notrunc status=none
        qemu-img create -q -f qcow2 -b base.raw -F raw mid.qcow2
        qemu-img create -q -f qcow2 -b bases/mid.qcow2 -F qcow2 "$2/c1.qcow2"
        qemu-img create -q -f qcow2 -b bases/mid.qcow2 -F qcow2 "$2/c2.qcow2"' bash "$BASES" "$IMAGES" ||
        fail "cannot make the chain"
# data in the middle and the top layers, so that each file counts
# shellcheck disable=SC2016
on "$A" bash -ec 'qemu-io -f qcow2 -c "write -P 7 8M 2M" "$1/mid.qcow2" >/dev/null
        qemu-io -f qcow2 -c "write -P 9 12M 1M" "$2/c1.qcow2" >/dev/null' bash "$BASES" "$IMAGES" ||
        fail "cannot write the layers"
cluster_define_domain "$A" c1 --running --disk $IMAGES/c1.qcow2 >/dev/null || fail "cannot define c1"
cluster_define_domain "$A" c2 --shut-off --disk $IMAGES/c2.qcow2 >/dev/null || fail "cannot define c2"
sum1=$(view_sum "$A" $IMAGES/c1.qcow2)
sum2=$(view_sum "$A" $IMAGES/c2.qcow2)
base_sum=$(on "$A" sha256sum $BASES/base.raw | cut -d' ' -f1)

say "c1: cold to $B with its chain"
check "migrate c1 --host $B --wait exits 0" on "$A" migratectl migrate c1 --host "$B" --wait
check "c1 runs on $B" is_state "$B" c1 running
out=$(events "$A" c1)
check "show: the overlay copied" grep -q "$IMAGES/c1.qcow2 copied" <<<"$out"
check "show: mid.qcow2 copied as a backing file" grep -q "$BASES/mid.qcow2 backing file copied" <<<"$out"
check "show: base.raw copied as a backing file" grep -q "$BASES/base.raw backing file copied" <<<"$out"
check_eq "the copy of c1 still names its backing file (not flattened)" bases/mid.qcow2 \
        "$(backing_of "$B" $IMAGES/c1.qcow2)"
check_eq "mid.qcow2 on $B still names base.raw" base.raw "$(backing_of "$B" $BASES/mid.qcow2)"
check_eq "c1's guest view on $B equals the source's" "$sum1" "$(view_sum "$B" $IMAGES/c1.qcow2)"

say "c2: the chain is on $B already"
mid_b=$(mtime "$B" $BASES/mid.qcow2)
base_b=$(mtime "$B" $BASES/base.raw)
check "migrate c2 --host $B --wait exits 0" on "$A" migratectl migrate c2 --host "$B" --wait
out=$(events "$A" c2)
check "show: mid.qcow2 there already, not copied" \
        grep -q "$BASES/mid.qcow2 backing file there already (not copied; compared)" <<<"$out"
check "show: base.raw there already, not copied" \
        grep -q "$BASES/base.raw backing file there already (not copied; compared)" <<<"$out"
check_eq "... mid.qcow2 on $B untouched" "$mid_b" "$(mtime "$B" $BASES/mid.qcow2)"
check_eq "... base.raw on $B untouched" "$base_b" "$(mtime "$B" $BASES/base.raw)"
check_eq "c2's guest view on $B equals the source's" "$sum2" "$(view_sum "$B" $IMAGES/c2.qcow2)"

say "revert c1: its copies go from $B, the chain stays there (c2 is built on it)"
check "revert c1 exits 0" on "$A" migratectl revert c1
check "c1 runs on $A again" is_state "$A" c1 running
check "$B's overlay of c1 is removed" file_absent "$B" $IMAGES/c1.qcow2
check "$B keeps the chain c1's migration copied" on "$B" test -f $BASES/mid.qcow2 -a -f $BASES/base.raw
check_eq "c2's guest view on $B is still whole" "$sum2" "$(view_sum "$B" $IMAGES/c2.qcow2)"

say "confirm c2: its overlay goes from $A, the chain stays there (c1 is built on it)"
check "confirm c2 exits 0" on "$A" migratectl confirm c2
check "$A's overlay of c2 is removed" file_absent "$A" $IMAGES/c2.qcow2
check "$A keeps the chain" on "$A" test -f $BASES/mid.qcow2 -a -f $BASES/base.raw
check_eq "c1's guest view on $A is unchanged" "$sum1" "$(view_sum "$A" $IMAGES/c1.qcow2)"

say "c3: $B has another file by the name of its base"
# shellcheck disable=SC2016
on "$A" bash -ec 'cd "$1"; qemu-img create -q -f raw other.raw 8M
        dd if=/dev/urandom of=other.raw bs=1M count=1 conv=notrunc status=none
        qemu-img create -q -f qcow2 -b bases/other.raw -F raw "$2/c3.qcow2"' bash "$BASES" "$IMAGES" ||
        fail "cannot make c3's chain"
on "$B" qemu-img create -q -f raw $BASES/other.raw 8M >/dev/null
other_b=$(on "$B" sha256sum $BASES/other.raw)
cluster_define_domain "$A" c3 --shut-off --disk $IMAGES/c3.qcow2 >/dev/null || fail "cannot define c3"
out=$(on "$A" migratectl migrate c3 --host "$B" --wait 2>&1)
rc=$?
echo "$out" | tail -n 2 | sed 's/^/        /'
check "migrate c3 fails" test "$rc" != 0
check "... saying $B's file is another one" grep -q "another file than the backing file" <<<"$out"
check "c3 stays on $A, shut off" is_state "$A" c3 "shut off"
check "nothing of c3 on $B" eval 'is_state "$B" c3 absent && file_absent "$B" $IMAGES/c3.qcow2'
check_eq "$B's other.raw is untouched" "$other_b" "$(on "$B" sha256sum $BASES/other.raw)"

say "a live block migration of an overlay is refused"
out=$(on "$A" migratectl migrate c1 --live --block-migration --host "$B" 2>&1)
rc=$?
check "migrate c1 --live --block-migration fails" test "$rc" != 0
check "... saying the chain would be flattened" grep -q "would flatten the chain" <<<"$out"
check "c1 still runs on $A" is_state "$A" c1 running
check_eq "the chain on $A is the one from the start (base.raw)" "$base_sum" \
        "$(on "$A" sha256sum $BASES/base.raw | cut -d' ' -f1)"

finish "$A" "$B"
