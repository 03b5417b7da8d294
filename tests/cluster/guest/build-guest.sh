#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Builds the bench's Linux test guest: a kernel and an initramfs whose only
# program dirties memory at a chosen rate (dirty.c), for live-migration tests
# and benchmarks.  See /work/shared/TESTBED.md, "A guest that really works".
#
#   build-guest.sh [CACHE_DIR]      (default $MIGRATED_GUEST_DIR or /var/tmp/migrated-guest)
#
# Into CACHE_DIR it writes
#   vmlinuz        Debian's linux-image-6.1.*-amd64 kernel (downloaded once:
#                  apt-get download + dpkg-deb -x, nothing installed)
#   busybox        from Debian's busybox-static (downloaded once, likewise)
#   initrd.gz      busybox + /init (init next to this script) + /bin/dirty
#                  (dirty.c, gcc -static -O2), cpio newc, gzip
#   versions       the two package versions
# and prints CACHE_DIR on stdout.  A second run reuses everything that is
# present and up to date: the packages stay as downloaded (GUEST_REFRESH=1
# fetches the current ones again), the initramfs is rebuilt only when dirty.c,
# init, this script or busybox changed (initrd.stamp holds their checksum).
# Runs under a lock on CACHE_DIR/.lock, so parallel callers wait for one build.
#
# Boot it with direct kernel boot, e.g. cmdline "console=ttyS0 dirty_mib=256
# dirty_rate=100" (MiB to keep dirty, MiB/s to rewrite; 0 = as fast as it can).
# Under KVM on the bench's machine kind this kernel hangs after "Probing EDD":
# use <domain type='qemu'> (TCG), where it boots in about 2 s.
#
# Needs: apt-get and dpkg-deb (and a reachable Debian mirror the first time),
# gcc with a static libc (libc6-dev), gzip.  cpio is taken from the system
# when installed, otherwise busybox's own cpio applet packs the archive.
# Exit 0 done, 1 failed (with a message saying what was missing).

# shellcheck disable=SC2012  # ls of one known name pattern
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${1:-${MIGRATED_GUEST_DIR:-/var/tmp/migrated-guest}}
KERNEL_SERIES_RE='^linux-image-6\.1\.[0-9]+-[0-9]+-amd64$'

say() { printf 'build-guest: %s\n' "$*" >&2; }
die() { printf 'build-guest: ERROR: %s\n' "$*" >&2; exit 1; }

for t in apt-get apt-cache dpkg-deb gcc gzip sha256sum flock; do
    command -v "$t" >/dev/null || die "needs '$t' (Debian: apt-get install apt dpkg gcc libc6-dev gzip coreutils util-linux)"
done

mkdir -p "$CACHE" || die "cannot create $CACHE"
CACHE=$(cd "$CACHE" && pwd)
exec 9>"$CACHE/.lock"
flock 9

started=$(date +%s.%N)
TMP=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
# apt-get download drops root for the _apt user, who must be able to write here.
chmod 0755 "$TMP"

APT_UPDATED=0
# apt_download PKG: PKG's .deb into $TMP/deb/, its path on stdout.  Runs
# `apt-get update` once if the package lists do not know PKG or the download fails.
apt_download() {
    local pkg=$1 f
    mkdir -p "$TMP/deb" && chmod 0755 "$TMP/deb"
    while :; do
        if (cd "$TMP/deb" && apt-get download -q "$pkg" >"$TMP/apt.log" 2>&1); then
            f=$(ls "$TMP/deb/${pkg}_"*.deb 2>/dev/null | head -n1) || f=
            [ -n "$f" ] && { echo "$f"; return 0; }
        fi
        if [ $APT_UPDATED = 0 ]; then
            say "apt-get download $pkg failed; running apt-get update once"
            APT_UPDATED=1
            apt-get update -q >"$TMP/apt-update.log" 2>&1 ||
                say "apt-get update failed: $(tail -n 3 "$TMP/apt-update.log" | tr '\n' ' ')"
            continue
        fi
        sed 's/^/    /' "$TMP/apt.log" >&2
        die "cannot download Debian package $pkg (is a Debian mirror reachable? see apt-get's output above)"
    done
}

# The kernel package: what the linux-image-amd64 meta package depends on
# (the current bookworm 6.1 ABI), else the newest 6.1 flavour apt knows.
kernel_package() {
    local p
    if [ -n "${GUEST_KERNEL_PKG:-}" ]; then echo "$GUEST_KERNEL_PKG"; return 0; fi
    p=$(apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: *\(linux-image-[^ ]*\).*/\1/p' | grep -E "$KERNEL_SERIES_RE" | head -n1) || p=
    if [ -z "$p" ]; then
        p=$(apt-cache search --names-only 'linux-image-6\.1\.' 2>/dev/null | cut -d' ' -f1 |
            grep -E "$KERNEL_SERIES_RE" | sort -V | tail -n1) || p=
    fi
    echo "$p"
}

ver_of() { dpkg-deb -f "$1" Version; }

# ---------------------------------------------------------------------------
# kernel

refresh=${GUEST_REFRESH:-0}
kernel_ver=$(sed -n 's/^kernel //p' "$CACHE/versions" 2>/dev/null) || kernel_ver=
if [ "$refresh" != 0 ] || [ ! -s "$CACHE/vmlinuz" ] || [ -z "$kernel_ver" ]; then
    pkg=$(kernel_package)
    if [ -z "$pkg" ]; then
        say "apt knows no linux-image-6.1.*-amd64; running apt-get update once"
        APT_UPDATED=1
        apt-get update -q >"$TMP/apt-update.log" 2>&1 ||
            say "apt-get update failed: $(tail -n 3 "$TMP/apt-update.log" | tr '\n' ' ')"
        pkg=$(kernel_package)
    fi
    [ -n "$pkg" ] || die "no linux-image-6.1.*-amd64 package found by apt-cache (is a Debian bookworm mirror configured and reachable?)"
    say "downloading $pkg"
    deb=$(apt_download "$pkg")
    mkdir -p "$TMP/kernel"
    dpkg-deb -x "$deb" "$TMP/kernel" || die "dpkg-deb -x $deb failed"
    vmlinuz=$(ls "$TMP"/kernel/boot/vmlinuz-* 2>/dev/null | head -n1) || vmlinuz=
    [ -n "$vmlinuz" ] || die "$pkg has no boot/vmlinuz-*"
    kernel_ver="$pkg $(ver_of "$deb") $(basename "$vmlinuz")"
    cp "$vmlinuz" "$TMP/vmlinuz"
    mv -f "$TMP/vmlinuz" "$CACHE/vmlinuz"
    rm -rf "$TMP/kernel" "$deb"
    say "kernel: $kernel_ver"
fi

# ---------------------------------------------------------------------------
# busybox

busybox_ver=$(sed -n 's/^busybox //p' "$CACHE/versions" 2>/dev/null) || busybox_ver=
if [ "$refresh" != 0 ] || [ ! -x "$CACHE/busybox" ] || [ -z "$busybox_ver" ]; then
    say "downloading busybox-static"
    deb=$(apt_download busybox-static)
    mkdir -p "$TMP/bb"
    dpkg-deb -x "$deb" "$TMP/bb" || die "dpkg-deb -x $deb failed"
    [ -x "$TMP/bb/bin/busybox" ] || die "busybox-static has no bin/busybox"
    busybox_ver="busybox-static $(ver_of "$deb")"
    cp "$TMP/bb/bin/busybox" "$TMP/busybox"
    mv -f "$TMP/busybox" "$CACHE/busybox"
    rm -rf "$TMP/bb" "$deb"
    say "busybox: $busybox_ver"
fi
printf 'kernel %s\nbusybox %s\n' "$kernel_ver" "$busybox_ver" >"$CACHE/versions.new"
mv -f "$CACHE/versions.new" "$CACHE/versions"

# ---------------------------------------------------------------------------
# initramfs

stamp=$(cat "$here/dirty.c" "$here/init" "$here/build-guest.sh" "$CACHE/busybox" | sha256sum | cut -d' ' -f1)
if [ "$refresh" != 0 ] || [ ! -s "$CACHE/initrd.gz" ] ||
   [ "$(cat "$CACHE/initrd.stamp" 2>/dev/null)" != "$stamp" ]; then
    say "building initrd.gz"
    root=$TMP/root
    mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,usr/bin,usr/sbin}
    cp "$CACHE/busybox" "$root/bin/busybox"
    cp "$here/init" "$root/init"
    chmod 0755 "$root/init" "$root/bin/busybox"
    gcc -static -O2 -Wall -o "$root/bin/dirty" "$here/dirty.c" ||
        die "gcc -static failed (a static libc is in Debian's libc6-dev)"
    strip "$root/bin/dirty" 2>/dev/null || true
    ln -s busybox "$root/bin/sh"
    # the kernel gives init this console when it exists in the archive
    [ "$(id -u)" = 0 ] && mknod -m 0600 "$root/dev/console" c 5 1
    if command -v cpio >/dev/null; then
        pack=(cpio --quiet -o -H newc -R 0:0)
    else
        pack=("$CACHE/busybox" cpio -o -H newc)
    fi
    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort | "${pack[@]}") | gzip -9 >"$TMP/initrd.gz" ||
        die "packing the initramfs failed (${pack[*]})"
    mv -f "$TMP/initrd.gz" "$CACHE/initrd.gz"
    echo "$stamp" >"$CACHE/initrd.stamp"
fi

say "ready in $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s:" \
    "$CACHE/vmlinuz ($(du -k "$CACHE/vmlinuz" | cut -f1) KiB), $CACHE/initrd.gz ($(du -k "$CACHE/initrd.gz" | cut -f1) KiB)"
echo "$CACHE"
