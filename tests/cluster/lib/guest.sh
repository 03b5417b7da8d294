# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# shellcheck disable=SC2015,SC2094  # `a && b || c` on purpose; a file copied onto a node is read here, written there
#
# Bench helpers for the Linux test guest that dirties memory (its sources:
# build-guest.sh, dirty.c and init in tests/cluster/guest/).  bench.sh next to
# this file sources it, after cluster.sh:
#
#   . tests/cluster/lib/bench.sh
#   cache=$(guest_build)                       # kernel + initramfs, cached
#   disk=$(guest_define t1a vm1 512 256 100)   # 512 MiB guest, 256 MiB dirty at 100 MiB/s
#   guest_console t1a vm1                      # host path of vm1's console file on t1a
#   guest_wait_progress t1b vm1 2 30           # 2 new progress lines on t1b within 30 s
#
# Functions return non-zero on failure (with a message on stderr).
#
#   guest_build
#       Runs build-guest.sh into $GUEST_CACHE (default $MIGRATED_GUEST_DIR or
#       /var/tmp/migrated-guest; reused when up to date) and prints that folder.
#   guest_define NODE DOM MEM_MIB DIRTY_MIB RATE [--disk-mib N] [--disk-data-mib N] [--no-wait]
#       Defines and starts DOM on NODE (cluster_define_domain, so its XML is
#       domain.sh's): a TCG domain (<domain type='qemu'>: the
#       kernel hangs under KVM on this machine kind) with direct kernel boot,
#       cmdline "console=ttyS0 pti=on dirty_mib=DIRTY_MIB dirty_rate=RATE" (RATE
#       MiB/s, 0 = as fast as it can; $GUEST_KERNEL_ARGS appended), a serial
#       console written to the node's
#       /var/log/libvirt/qemu/DOM.console.log (append: the file of each node
#       the guest ever ran on grows), a qcow2 disk /var/lib/libvirt/images/DOM.qcow2
#       of --disk-mib MiB (default 64; the guest never touches it, it is there
#       for block migration), with --disk-data-mib MiB of random data written
#       into it first (default 0), no network, 1 vCPU.  Kernel and initramfs are
#       content-addressed copies in $GUEST_CACHE/boot/, checked to be readable
#       at the same path on every node of NODE's cluster and copied where they
#       are not.  Waits (GUEST_BOOT_TIMEOUT s, default 90) until the console
#       shows the dirtier's first progress line, unless --no-wait.  Prints the
#       disk path.
#   guest_console NODE DOM
#       The host path of DOM's console file on NODE (each node has its own
#       /var/log/libvirt; the file is NODE's log-libvirt/qemu/DOM.console.log).
#   guest_progress_lines NODE DOM
#       How many progress lines ("dirty: t=") that file holds.
#   guest_wait_progress NODE DOM [N [TIMEOUT]]
#       Waits until N (default 2) more progress lines than now arrived on
#       NODE's console file: the guest runs there.
#   guest_errors NODE DOM
#       The "dirty: CORRUPT" lines of that file (a page that did not hold what
#       the dirtier last wrote: memory lost or mixed up); empty when none.
#   guest_remove NODE DOM
#       Destroys and undefines DOM on NODE and removes its disk and console file.

# Why pti=on: QEMU 7.2's TCG (Debian 12) loses guest writes during live
# migration when they go through a TLB entry that stays hot across the
# migration's dirty-bitmap syncs -- in practice the kernel's global mappings
# (the dirtier's kernel stack, per-CPU timer data).  The destination then
# resumes with stale copies of those pages and the guest panics in the hrtimer
# code or hangs (seen in 5 of 6 plain `virsh migrate --live` runs of a guest
# dirtying 100 MiB/s).  Page-table isolation makes the kernel's mappings
# non-global and flushes the TLB at every kernel entry and exit (the emulated
# CPU has no PCID), so every page is tracked again (6 of 6 runs fine).

GUEST_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../guest" && pwd)
GUEST_CACHE=${GUEST_CACHE:-${MIGRATED_GUEST_DIR:-/var/tmp/migrated-guest}}
GUEST_BOOT_TIMEOUT=${GUEST_BOOT_TIMEOUT:-90}
GUEST_IMAGES=/var/lib/libvirt/images

_guest_err() { printf 'guest: ERROR: %s\n' "$*" >&2; }
_guest_say() { printf 'guest: %s\n' "$*" >&2; }

guest_build() {
    bash "$GUEST_SRCDIR/build-guest.sh" "$GUEST_CACHE"
}

guest_console() {
    echo "$(_cluster_node_dir "${1-}")/log-libvirt/qemu/${2-}.console.log"
}

guest_progress_lines() {
    local f n
    f=$(guest_console "$1" "$2")
    n=$(grep -c '^dirty: t=' "$f" 2>/dev/null) || n=0
    echo "${n:-0}"
}

guest_wait_progress() {
    local node=$1 dom=$2 want=${3:-2} timeout=${4:-30} base deadline
    base=$(guest_progress_lines "$node" "$dom")
    deadline=$((SECONDS + timeout))
    while [ $SECONDS -lt $deadline ]; do
        [ "$(guest_progress_lines "$node" "$dom")" -ge $((base + want)) ] && return 0
        sleep 0.2
    done
    _guest_err "$dom on $node: fewer than $want new progress lines in ${timeout}s ($(guest_console "$node" "$dom"))"
    return 1
}

guest_errors() {
    grep '^dirty: CORRUPT' "$(guest_console "$1" "$2")" 2>/dev/null || true
}

guest_remove() {
    local node=$1 dom=$2
    cluster_run "$node" virsh -q -c qemu:///system destroy "$dom" >/dev/null 2>&1
    cluster_run "$node" virsh -q -c qemu:///system undefine "$dom" >/dev/null 2>&1
    cluster_run "$node" rm -f "$GUEST_IMAGES/$dom.qcow2" "/var/log/libvirt/qemu/$dom.console.log"
    return 0
}

# _guest_boot_file SRC NAME EXT: a content-addressed copy of SRC in
# $GUEST_CACHE/boot/ (never rewritten, so a running or migrating guest never
# sees its kernel change under it); prints its path.
_guest_boot_file() {
    local src=$1 name=$2 ext=$3 sum dst
    sum=$(sha256sum "$src" | cut -c1-16) || return 1
    dst=$GUEST_CACHE/boot/$name-$sum$ext
    if [ ! -s "$dst" ]; then
        mkdir -p "$GUEST_CACHE/boot" &&
        cp "$src" "$dst.tmp.$$" && mv -f "$dst.tmp.$$" "$dst" || return 1
        # copies of earlier builds nobody can still be booting
        find "$GUEST_CACHE/boot" -maxdepth 1 -type f -name "$name-*" -mtime +2 ! -path "$dst" -delete 2>/dev/null
    fi
    echo "$dst"
}

# _guest_spread NODE FILE: FILE readable with the same content at the same path
# on every node of NODE's cluster; copied to the nodes that do not see it.
_guest_spread() {
    local node=$1 file=$2 n sum theirs
    sum=$(sha256sum "$file" | cut -d' ' -f1)
    for n in $(cluster_nodes "$(_cluster_name_of "$node")"); do
        theirs=$(cluster_run "$n" sha256sum "$file" 2>/dev/null | cut -d' ' -f1) || theirs=
        [ "$theirs" = "$sum" ] && continue
        _guest_say "copying $file to $n"
        # shellcheck disable=SC2016  # expanded by the node's sh
        cluster_run "$n" sh -c 'mkdir -p "$(dirname "$1")" && cat >"$1.tmp" && mv -f "$1.tmp" "$1"' \
            sh "$file" <"$file" || { _guest_err "cannot copy $file to $n"; return 1; }
    done
}

guest_define() {
    local usage="usage: guest_define NODE DOM MEM_MIB DIRTY_MIB RATE [--disk-mib N] [--disk-data-mib N] [--no-wait]"
    local node=${1-} dom=${2-} mem=${3-} dirty=${4-} rate=${5-} disk_mib=64 data_mib=0 wait=1
    local cache kernel initrd disk console deadline started
    shift 5 2>/dev/null || { _guest_err "$usage"; return 1; }
    while [ $# -gt 0 ]; do
        case $1 in
        --disk-mib) disk_mib=${2-}; shift ;;
        --disk-data-mib) data_mib=${2-}; shift ;;
        --no-wait) wait=0 ;;
        *) _guest_err "guest_define: unknown option $1"; return 1 ;;
        esac
        shift
    done
    [[ $dom =~ ^[A-Za-z0-9_.-]+$ ]] || { _guest_err "bad domain name '$dom'"; return 1; }
    local v
    for v in "$mem" "$dirty" "$rate" "$disk_mib" "$data_mib"; do
        [[ $v =~ ^[0-9]+$ ]] || { _guest_err "$usage (numbers of MiB, MiB/s)"; return 1; }
    done
    [ "$dirty" -ge 1 ] && [ "$dirty" -le $((mem - 96)) ] ||
        { _guest_err "guest_define: DIRTY_MIB must be 1..MEM_MIB-96 (the kernel needs ~90 MiB)"; return 1; }
    [ "$data_mib" -le "$disk_mib" ] || { _guest_err "--disk-data-mib exceeds --disk-mib"; return 1; }

    cache=$(guest_build) || { _guest_err "building the guest failed"; return 1; }
    kernel=$(_guest_boot_file "$cache/vmlinuz" vmlinuz "") &&
    initrd=$(_guest_boot_file "$cache/initrd.gz" initrd .gz) || { _guest_err "cannot copy into $GUEST_CACHE/boot"; return 1; }
    _guest_spread "$node" "$kernel" && _guest_spread "$node" "$initrd" || return 1

    console=/var/log/libvirt/qemu/$dom.console.log
    cluster_run "$node" rm -f "$console"
    disk=$(cluster_define_domain "$node" "$dom" --running --type qemu --mem "$mem" \
               --disk-mib "$disk_mib" --disk-data-mib "$data_mib" \
               --kernel "$kernel" --initrd "$initrd" --console-file "$console" \
               --cmdline "console=ttyS0 pti=on dirty_mib=$dirty dirty_rate=$rate${GUEST_KERNEL_ARGS:+ $GUEST_KERNEL_ARGS}") ||
        { _guest_err "cannot define or start $dom on $node"; return 1; }
    started=$SECONDS
    if [ $wait = 1 ]; then
        deadline=$((SECONDS + GUEST_BOOT_TIMEOUT))
        while [ "$(guest_progress_lines "$node" "$dom")" -lt 1 ]; do
            if [ $SECONDS -ge $deadline ]; then
                _guest_err "$dom on $node: no progress line from the dirtier after ${GUEST_BOOT_TIMEOUT}s; console:"
                tail -n 20 "$(guest_console "$node" "$dom")" >&2
                return 1
            fi
            if [ "$(cluster_run "$node" virsh -q -c qemu:///system domstate "$dom" 2>/dev/null)" != running ]; then
                _guest_err "$dom on $node stopped while booting; console:"
                tail -n 20 "$(guest_console "$node" "$dom")" >&2
                return 1
            fi
            sleep 0.2
        done
    fi
    _guest_say "$dom on $node: TCG, $mem MiB, dirtying $dirty MiB at $([ "$rate" = 0 ] && echo 'full speed' || echo "$rate MiB/s")," \
               "disk $disk ($disk_mib MiB, $data_mib MiB data)$([ $wait = 1 ] && echo ", dirtier running after $((SECONDS - started)) s")"
    echo "$disk"
}
