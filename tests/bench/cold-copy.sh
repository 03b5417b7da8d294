#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# How fast a cold migration copies a disk, next to the usual tools.  On a
# 2-node bench (its own instance, torn down at the end, also on failure or
# interrupt), copies a sparse raw disk -- 1 GiB virtual, 256 MiB of random data
# in 4 extents with holes between them -- from node A to node B, BENCH_ROUNDS
# times (default 3) with each method, the methods alternating round by round:
#
#   migrated   migratectl migrate DOM --host B --wait   (a shut-off domain whose
#              disk it is), then confirm, then migrated back B -> A and
#              confirmed there, so every round starts from the same state
#   rsync      rsync --sparse -e ssh FILE root@B:...     (deleted on B after)
#   scp        scp FILE root@B:...                       (Nova's default; dense)
#   cp         cp --sparse=always FILE COPY on A         (local baseline)
#
# and prints, per method, the median wall time, MiB/s of data (256 MiB / s)
# and the destination's allocated size, plus migrated's copy phase alone
# (events 'migrating' -> 'post-migrating' of the migration record).  A
# benchmark, not a test: it fails only when it cannot measure or when a copy
# is wrong (content differs, sparseness lost).
#
#   sudo tests/bench/cold-copy.sh
#   sudo BENCH_ROUNDS=5 tests/bench/cold-copy.sh
#
# Needs the daemon installed first (tools/build-install).  rsync is a
# benchmark-only dependency: installed with apt-get when missing.

# shellcheck disable=SC2015  # `a && b || die` on purpose

set -u -o pipefail

# shellcheck source=../cluster/lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/../cluster/lib/bench.sh}"

NAME=${BENCH_CLUSTER_NAME:-bcc}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-230}
# The domain has no OS and ignores the ACPI shutdown request.
export CLUSTER_NODE_CONF=$'ShutdownTimeout=1'
ROUNDS=${BENCH_ROUNDS:-3}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_ROUNDS takes a number" >&2; exit 2; }

IMG=/var/lib/libvirt/images
DOM=benchcold
SRC=$IMG/$DOM.raw
VSIZE_MIB=1024
EXTENT_MIB=64
EXTENTS=(16 272 528 784)          # MiB offsets of the data: 4 x 64 MiB = 256 MiB
DATA_MIB=$((EXTENT_MIB * ${#EXTENTS[@]}))
SPARSE_MAX_MIB=$((DATA_MIB + DATA_MIB / 10))   # "sparse kept": at most 10 % over

CHECKS_FAILED=()
check_failed() { echo "cold-copy: CHECK FAILED: $*" >&2; CHECKS_FAILED+=("$*"); }

cluster_require_root
[ -x /usr/libexec/migrated ] && command -v migratectl >/dev/null ||
    die "migrated is not installed (run tools/build-install)"
if ! command -v rsync >/dev/null; then
    say "rsync is missing: installing it with apt-get (a benchmark-only dependency)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q rsync >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q rsync >/dev/null; } ||
        die "cannot install rsync"
fi

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "bringing up 2 nodes (instance $NAME)"
bench_up "$NAME" 2
IPB=$(cluster_ip "$B") || die "no address for $B"
# Host folder for the logs; removed with the instance.  The
# nodes share /var/tmp with the host, so they write here directly.
WORK=$CLUSTER_ROOT/$NAME/cold-copy
mkdir -p "$WORK" || die "cannot create $WORK"

# ---------------------------------------------------------------------------
# helpers

alloc_mib() {   # alloc_mib NODE FILE: allocated size in MiB (du -k)
    local kib
    kib=$(cluster_run "$1" du -k "$2" | cut -f1) || return 1
    awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }'
}

sha_of() { cluster_run "$1" sha256sum "$2" | cut -d' ' -f1; }

check_sparse() {   # check_sparse WHAT MIB
    awk -v m="$2" -v max="$SPARSE_MAX_MIB" 'BEGIN { exit !(m <= max) }' ||
        check_failed "$1: the copy allocates $2 MiB, more than $SPARSE_MAX_MIB (holes lost)"
}

# migrate_timed FROM TO LOG: a cold migration with --wait, timed; then confirm.
# Sets MIG_WALL, MIG_ID and (from the record's events and the watch lines)
# MIG_COPY (migrating -> post-migrating), MIG_STREAM (migrating -> all bytes
# sent, as the progress updates show it), MIG_VERIFY (the rest of the copy
# phase: both sides checksum the copy).
migrate_timed() {
    local from=$1 to=$2 log=$3 out rc show ev t_mig t_post t_sent
    sync
    out=$(timed --stamp-lines "$from" "$log" migratectl --json migrate "$DOM" --host "$to" --wait) || out="255 0"
    rc=${out%% *}
    MIG_WALL=${out#* }
    if [ "$rc" != 0 ]; then
        sed 's/^/    /' "$log" >&2
        die "migratectl migrate $DOM --host $to on $from exited $rc"
    fi
    MIG_ID=$(sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p' "$log" | head -n1)
    [ -n "$MIG_ID" ] || die "no migration ID in the output of migrate --wait ($log)"
    show=$WORK/show-$MIG_ID.json
    cluster_run "$from" migratectl --json show "$MIG_ID" >"$show" || die "migratectl show $MIG_ID failed"
    # Events are pretty-printed: "usec" : N, then "status" : "S".
    ev=$(awk '/"usec"/ { gsub(/[^0-9]/, ""); u = $0 }
              /"status"/ && /"migrating"/ && !m { m = u }
              /"status"/ && /"post-migrating"/ && !p { p = u }
              END { print (m == "" ? 0 : m), (p == "" ? 0 : p) }' "$show")
    t_mig=${ev% *}
    t_post=${ev#* }
    [ "$t_mig" != 0 ] && [ "$t_post" != 0 ] || die "no migrating/post-migrating events in $show"
    # The first watch line (time of arrival) saying all bytes are sent.
    t_sent=$(grep -m1 '"Status":"migrating".*"BytesRemaining":0,' "$log" | cut -d' ' -f1)
    MIG_COPY=$(awk -v a="$t_mig" -v b="$t_post" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
    if [ -n "$t_sent" ]; then
        MIG_STREAM=$(awk -v a="$t_mig" -v b="$t_sent" 'BEGIN { printf "%.3f", b - a / 1e6 }')
        MIG_VERIFY=$(awk -v a="$t_sent" -v b="$t_post" 'BEGIN { printf "%.3f", b / 1e6 - a }')
    else
        MIG_STREAM=-
        MIG_VERIFY=-
    fi
}

confirm_on() {   # confirm_on NODE
    cluster_run "$1" migratectl confirm "$DOM" >"$WORK/confirm.log" 2>&1 ||
        { cat "$WORK/confirm.log" >&2; die "migratectl confirm $DOM on $1 failed"; }
}

absent_on() {   # absent_on NODE FILE WHY
    if cluster_run "$1" test -e "$2"; then
        check_failed "$2 still exists on $1 ($3)"
        cluster_run "$1" rm -f "$2"
    fi
}

# ---------------------------------------------------------------------------
# the disk and the domain on A

say "making $SRC on $A: ${VSIZE_MIB} MiB virtual, ${#EXTENTS[@]} x $EXTENT_MIB MiB of random data at MiB ${EXTENTS[*]}"
# shellcheck disable=SC2016  # expanded by the node's bash
cluster_run "$A" bash -ec '
    f=$1 size=$2 n=$3; shift 3
    truncate -s "${size}M" "$f"
    for off in "$@"; do
        dd if=/dev/urandom of="$f" bs=1M seek="$off" count="$n" conv=notrunc status=none
    done' bash "$SRC" "$VSIZE_MIB" "$EXTENT_MIB" "${EXTENTS[@]}" || die "cannot write $SRC"
SRC_ALLOC=$(alloc_mib "$A" "$SRC") || die "du $SRC failed"
SRC_SHA=$(sha_of "$A" "$SRC") || die "sha256sum $SRC failed"
say "source: $SRC_ALLOC MiB allocated, sha256 $SRC_SHA"

# No OS, never started: the type does not matter, qemu (TCG) always validates.
cluster_define_domain "$A" "$DOM" --type qemu --disk "$SRC" --disk-format raw >/dev/null ||
    die "cannot define $DOM on $A"

# Warm-up, not timed: D-Bus activation of both daemons and their SSH
# connections to each other.
for n in "$A" "$B"; do
    cluster_run "$n" migratectl hosts >/dev/null || die "migratectl hosts on $n failed"
done

# ---------------------------------------------------------------------------
# the rounds

declare -a W_MIG W_COPY W_STREAM W_VERIFY W_BACK W_RSYNC W_SCP W_CP
declare -a AL_MIG AL_RSYNC AL_SCP AL_CP

copy_round() {   # copy_round LABEL NODE DEST ROUND CMD...: time CMD, check DEST on NODE, delete it
    local label=$1 node=$2 dest=$3 r=$4 out rc wall al sha
    shift 4
    sync
    out=$(timed --stamp-lines "$A" "$WORK/$label-$r.log" "$@") || out="255 0"
    rc=${out%% *}
    wall=${out#* }
    if [ "$rc" != 0 ]; then
        sed 's/^/    /' "$WORK/$label-$r.log" >&2
        die "$label: '$*' on $A exited $rc"
    fi
    al=$(alloc_mib "$node" "$dest") || die "$label: no $dest on $node"
    if [ "$r" = 1 ]; then
        sha=$(sha_of "$node" "$dest")
        [ "$sha" = "$SRC_SHA" ] || die "$label: the copy on $node differs from the source (sha256 $sha)"
    fi
    cluster_run "$node" rm -f "$dest"
    LAST_WALL=$wall
    LAST_ALLOC=$al
    printf '   %-8s %7.3f s  dest %6.1f MiB allocated\n' "$label" "$wall" "$al"
}

for ((r = 1; r <= ROUNDS; r++)); do
    say "round $r of $ROUNDS"

    # migrated: A -> B, confirm; B -> A, confirm.
    migrate_timed "$A" "$B" "$WORK/migrated-$r.log"
    al=$(alloc_mib "$B" "$SRC") || die "migrated: no $SRC on $B after the migration"
    check_sparse "migrated, round $r" "$al"
    if [ "$r" = 1 ]; then
        sha=$(sha_of "$B" "$SRC")
        [ "$sha" = "$SRC_SHA" ] || die "migrated: the copy on $B differs from the source (sha256 $sha)"
    fi
    W_MIG+=("$MIG_WALL") W_COPY+=("$MIG_COPY") W_STREAM+=("$MIG_STREAM") W_VERIFY+=("$MIG_VERIFY")
    AL_MIG+=("$al")
    printf '   %-8s %7.3f s  dest %6.1f MiB allocated  (copy phase %s s: stream ~%s s, verify ~%s s; %s)\n' \
        migrated "$MIG_WALL" "$al" "$MIG_COPY" "$MIG_STREAM" "$MIG_VERIFY" "$MIG_ID"
    confirm_on "$A"
    absent_on "$A" "$SRC" "confirm removes the source's copy"
    migrate_timed "$B" "$A" "$WORK/back-$r.log"
    W_BACK+=("$MIG_WALL")
    confirm_on "$B"
    absent_on "$B" "$SRC" "confirm removes the source's copy"
    al=$(alloc_mib "$A" "$SRC") || die "migrated: no $SRC on $A after migrating back"
    check_sparse "migrated back to $A, round $r" "$al"
    printf '   %-8s %7.3f s  dest %6.1f MiB allocated  (back to %s, confirmed; not in the table)\n' \
        "  return" "$MIG_WALL" "$al" "$A"

    copy_round rsync "$B" "$IMG/rsync.raw" "$r" rsync --sparse -e ssh "$SRC" "root@$IPB:$IMG/rsync.raw"
    W_RSYNC+=("$LAST_WALL") AL_RSYNC+=("$LAST_ALLOC")
    check_sparse "rsync, round $r" "$LAST_ALLOC"

    copy_round scp "$B" "$IMG/scp.raw" "$r" scp -q "$SRC" "root@$IPB:$IMG/scp.raw"
    W_SCP+=("$LAST_WALL") AL_SCP+=("$LAST_ALLOC")

    copy_round cp "$A" "$IMG/cp.raw" "$r" cp --sparse=always "$SRC" "$IMG/cp.raw"
    W_CP+=("$LAST_WALL") AL_CP+=("$LAST_ALLOC")
    check_sparse "cp, round $r" "$LAST_ALLOC"
done

# After all the round trips the disk on A must still be the original.
sha=$(sha_of "$A" "$SRC")
[ "$sha" = "$SRC_SHA" ] || die "after $ROUNDS round trips the disk on $A differs from the original (sha256 $sha)"

# ---------------------------------------------------------------------------
# the figures

m_mig=$(median "${W_MIG[@]}") m_copy=$(median "${W_COPY[@]}")
m_rsync=$(median "${W_RSYNC[@]}") m_scp=$(median "${W_SCP[@]}") m_cp=$(median "${W_CP[@]}")
m_back=$(median "${W_BACK[@]}")
if [[ " ${W_STREAM[*]} " == *" - "* ]]; then m_stream=- m_verify=-
else m_stream=$(median "${W_STREAM[@]}") m_verify=$(median "${W_VERIFY[@]}"); fi

row() {   # row METHOD MEDIAN RANGE ALLOC
    local rate
    rate=$(awk -v d="$DATA_MIB" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", d / s; else print "-" }')
    printf '%-40s %9s %13s %7s %10s\n' "$1" "$2" "$3" "$rate" "$4"
}

echo
echo "Copying a raw disk of ${VSIZE_MIB} MiB with $DATA_MIB MiB of data ($SRC_ALLOC MiB allocated) from $A to $B,"
echo "$ROUNDS round(s) per method, methods alternating; wall time measured inside the node."
echo "Load average (1/5/15 min) at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)."
echo
printf '%-40s %9s %13s %7s %10s\n' METHOD "MEDIAN s" "MIN-MAX s" "MiB/s" "DEST MiB"
row "migrated cold migration (migrate --wait)" "$m_mig" "$(range "${W_MIG[@]}")" "$(median -f %.0f "${AL_MIG[@]}")"
row "  of it: copy phase (migrating->post)" "$m_copy" "$(range "${W_COPY[@]}")" ""
if [ "$m_stream" != - ]; then
    row "    stream, until all bytes sent (~)" "$m_stream" "$(range "${W_STREAM[@]}")" ""
    row "    verify, checksums on both sides (~)" "$m_verify" "$(range "${W_VERIFY[@]}")" ""
fi
row "rsync --sparse -e ssh" "$m_rsync" "$(range "${W_RSYNC[@]}")" "$(median -f %.0f "${AL_RSYNC[@]}")"
row "scp (Nova's default)" "$m_scp" "$(range "${W_SCP[@]}")" "$(median -f %.0f "${AL_SCP[@]}")"
row "cp --sparse=always (on $A, local)" "$m_cp" "$(range "${W_CP[@]}")" "$(median -f %.0f "${AL_CP[@]}")"
echo
echo "migrated / rsync:            $(div "$m_mig" "$m_rsync")   (copy phase alone: $(div "$m_copy" "$m_rsync"))"
echo "migrated / scp:              $(div "$m_mig" "$m_scp")"
echo "migrated / cp:               $(div "$m_mig" "$m_cp")   (copy phase alone: $(div "$m_copy" "$m_cp"))"
echo "migrated back ($B -> $A):    median $m_back s (range $(range "${W_BACK[@]}"))"
echo "content: sha256 equal to the source for every method (round 1) and after $ROUNDS round trips"

if [ ${#CHECKS_FAILED[@]} -gt 0 ]; then
    echo
    echo "CHECKS FAILED:"
    printf '  %s\n' "${CHECKS_FAILED[@]}"
    exit 1
fi
exit 0
