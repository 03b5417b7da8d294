#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Shared storage on a two-node bench whose nodes both see one host folder at
# /var/lib/libvirt/shared (outside ImageDirectory), as NFS would give them:
#   - s1's disk lies there: a cold migration A -> B copies nothing (show says the disk is
#     shared), the domain runs on B from the same file (same inode on both nodes); confirm
#     deletes nothing; a live migration B -> A without --block-migration moves it back, the
#     file again untouched; the source's markers are gone;
#   - m1 has one shared disk and one local disk (inside ImageDirectory): cold A -> B copies
#     only the local one, confirm removes only A's local one; live --block-migration B -> A
#     mirrors only the local one; the shared file keeps its inode throughout, contents equal;
#   - a disk outside ImageDirectory that B does not see (a folder of A alone): refused by B
#     with NotSupported, nothing changed on A;
#   - a file at the same path on B that is not shared (no marker seen): refused as before.
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tss}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-224}
export CLUSTER_NODE_CONF=$'ShutdownTimeout=1'
export CLUSTER_SHARED_NODES=2
IMAGES=/var/lib/libvirt/images
SHARED=/var/lib/libvirt/shared

bench_up "$NAME" 2

inode() { on "$1" stat -c %i "$2" 2>/dev/null; }
# same_file FILE INODE: both nodes see FILE, with that inode
same_file() { [ "$(inode "$A" "$1")" = "$2" ] && [ "$(inode "$B" "$1")" = "$2" ]; }
no_markers() { [ -z "$(on "$1" find "$2" -maxdepth 1 -name '.migrated-shared-*')" ]; }
events() { on "$1" migratectl show "$2" 2>/dev/null; }

say "s1 runs on $A from $SHARED/s1.qcow2, which both nodes see"
on "$A" qemu-img create -q -f qcow2 $SHARED/s1.qcow2 64M || fail "cannot create the shared disk"
cluster_define_domain "$A" s1 --running --disk $SHARED/s1.qcow2 --disk-data-mib 4 --cache none >/dev/null ||
        fail "cannot define s1"
ino=$(inode "$A" $SHARED/s1.qcow2)
check "$B sees the same file (inode $ino)" same_file $SHARED/s1.qcow2 "$ino"
sum=$(content_sum "$A" $SHARED/s1.qcow2)

say "cold: migrate s1 to $B and confirm"
check "migrate s1 --host $B --wait exits 0" on "$A" migratectl migrate s1 --host "$B" --wait
check "s1 runs on $B" is_state "$B" s1 running
check "show says the disk is shared, not copied" \
        grep -q "$SHARED/s1.qcow2 shared (not copied)" <<<"$(events "$A" s1)"
check_eq "nothing was to copy (BytesTotal)" 0 "$(prop "$A" s1 BytesTotal)"
check "the disk is the same file on both nodes" same_file $SHARED/s1.qcow2 "$ino"
check "confirm s1 exits 0" on "$A" migratectl confirm s1
check "s1 is gone from $A" is_state "$A" s1 absent
check "the confirm deleted nothing: the same file, on both nodes" same_file $SHARED/s1.qcow2 "$ino"
check "no marker is left in $SHARED" no_markers "$A" $SHARED

say "live: migrate s1 back to $A without --block-migration"
check "migrate s1 --live --host $A --wait exits 0 (run on $B)" \
        on "$B" migratectl migrate s1 --live --host "$A" --wait
check "s1 runs on $A" is_state "$A" s1 running
check "s1 is gone from $B" is_state "$B" s1 absent
check "the disk is the same file on both nodes" same_file $SHARED/s1.qcow2 "$ino"
check "no marker is left in $SHARED" no_markers "$A" $SHARED
check "s1's disk content is unchanged" same_content "$A" $SHARED/s1.qcow2 "$sum"

say "m1: one shared disk, one local disk"
on "$A" qemu-img create -q -f qcow2 $IMAGES/m1-local.qcow2 32M || fail "cannot create m1's local disk"
on "$A" qemu-img create -q -f qcow2 $SHARED/m1.qcow2 32M || fail "cannot create m1's shared disk"
cluster_define_domain "$A" m1 --shut-off --disk $SHARED/m1.qcow2 --disk-data-mib 2 \
        --disk2 $IMAGES/m1-local.qcow2 --cache none >/dev/null || fail "cannot define m1"
mino=$(inode "$A" $SHARED/m1.qcow2)
msum=$(content_sum "$A" $SHARED/m1.qcow2)
lsum=$(content_sum "$A" $IMAGES/m1-local.qcow2)
on "$A" virsh start m1 >/dev/null

check "cold: migrate m1 --host $B --wait exits 0" on "$A" migratectl migrate m1 --host "$B" --wait
out=$(events "$A" m1)
check "show: the shared disk not copied" grep -q "$SHARED/m1.qcow2 shared (not copied)" <<<"$out"
check "show: the local disk copied" grep -q "$IMAGES/m1-local.qcow2 copied" <<<"$out"
check "m1 runs on $B" is_state "$B" m1 running
check "$B has its own copy of the local disk" on "$B" test -f $IMAGES/m1-local.qcow2
check "the shared disk is the same file on both nodes" same_file $SHARED/m1.qcow2 "$mino"
check "confirm m1 exits 0" on "$A" migratectl confirm m1
check "$A's local disk is removed" file_absent "$A" $IMAGES/m1-local.qcow2
check "the shared disk is kept, the same file" same_file $SHARED/m1.qcow2 "$mino"

check "live: migrate m1 --live --block-migration --host $A --wait exits 0 (run on $B)" \
        on "$B" migratectl migrate m1 --live --block-migration --host "$A" --wait
out=$(events "$B" m1)
check "show: the shared disk not copied" grep -q "$SHARED/m1.qcow2 shared (not copied)" <<<"$out"
check "libvirt mirrored only the local disk (DiskBytesTotal at most its 32 MiB)" \
        test "$(prop "$B" m1 DiskBytesTotal)" -le $((32 << 20))
check "m1 runs on $A" is_state "$A" m1 running
check "$A has the local disk again" on "$A" test -f $IMAGES/m1-local.qcow2
check "$B's local disk is removed after the block migration" \
        wait_until 10 file_absent "$B" $IMAGES/m1-local.qcow2
check "the shared disk is the same file on both nodes" same_file $SHARED/m1.qcow2 "$mino"
check "m1's shared disk content is unchanged" same_content "$A" $SHARED/m1.qcow2 "$msum"
check "m1's local disk content is unchanged" same_content "$A" $IMAGES/m1-local.qcow2 "$lsum"
check "no marker is left in either folder" eval 'no_markers "$A" $SHARED && no_markers "$A" $IMAGES'

say "a disk outside ImageDirectory that $B does not see"
on "$A" mkdir -p /var/lib/libvirt/alone
on "$A" qemu-img create -q -f qcow2 /var/lib/libvirt/alone/o1.qcow2 16M >/dev/null
cluster_define_domain "$A" o1 --shut-off --disk /var/lib/libvirt/alone/o1.qcow2 >/dev/null ||
        fail "cannot define o1"
out=$(on "$A" migratectl migrate o1 --host "$B" --wait 2>&1)
rc=$?
echo "$out" | tail -n 2 | sed 's/^/        /'
check "migrate o1 --host $B fails" test "$rc" != 0
check "... saying the disk is outside $IMAGES and not shared" \
        grep -q "outside $IMAGES and not on storage shared" <<<"$out"
check "o1 stays on $A, shut off" is_state "$A" o1 "shut off"
check "its disk is untouched" on "$A" test -f /var/lib/libvirt/alone/o1.qcow2
check "nothing of it on $B" eval 'is_state "$B" o1 absent && file_absent "$B" /var/lib/libvirt/alone/o1.qcow2'
check "no marker is left on $A" no_markers "$A" /var/lib/libvirt/alone

say "a file at the same path on $B that is not shared"
cluster_define_domain "$A" n1 --shut-off >/dev/null || fail "cannot define n1"
on "$B" qemu-img create -q -f qcow2 $IMAGES/n1.qcow2 16M >/dev/null
bsum=$(on "$B" sha256sum $IMAGES/n1.qcow2)
out=$(on "$A" migratectl migrate n1 --host "$B" --wait 2>&1)
rc=$?
echo "$out" | tail -n 2 | sed 's/^/        /'
check "migrate n1 --host $B fails" test "$rc" != 0
check "... because the file exists on $B" grep -q "already exists" <<<"$out"
check_eq "$B's file is untouched" "$bsum" "$(on "$B" sha256sum $IMAGES/n1.qcow2)"
check "n1 stays on $A with its disk" eval 'is_state "$A" n1 "shut off" && on "$A" test -f $IMAGES/n1.qcow2'

finish "$A" "$B"
