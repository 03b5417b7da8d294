#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# PID 1-ish of one bench node.  cluster.sh starts it as
#
#   ip netns exec NETNS unshare --mount --uts --propagation private \
#       bash node-init.sh NODE IP NODEDIR SSHDIR
#
# so it already runs in the node's own network namespace and in fresh, private
# mount and UTS namespaces.  It gives the node private copies of every folder
# a hypervisor host writes to, starts the node's daemons (system D-Bus,
# virtlogd, libvirtd, sshd), reports readiness and then sleeps forever: the
# node's namespaces live as long as this process (and its daemons) live.
#
# Everything it prints goes to NODEDIR/init.log.  Readiness is reported in
# NODEDIR/state: "starting", then "ready" or "failed: <what>".

set -u

NODE=$1        # node name, also its hostname
IP=$2          # the node's address on the cluster switch
NODEDIR=$3     # per-node state folder (on the host's file system)
SSHDIR=$4      # the cluster's private /root/.ssh (shared by all its nodes)
SHARED=${5-}   # a host folder seen at /var/lib/libvirt/shared (shared storage), or ""

say() { printf '%s [%s] %s\n' "$(date +%T.%N | cut -c1-12)" "$NODE" "$*"; }

fail() {
    say "FAILED: $*"
    echo "failed: $*" >"$NODEDIR/state"
    exit 1
}

# run STEP-DESCRIPTION CMD... : run a step, stop the node on failure
step() {
    local what=$1; shift
    "$@" || fail "$what (exit $?: $*)"
}

echo starting >"$NODEDIR/state"
echo $$ >"$NODEDIR/init.pid"     # cluster.sh waits for this file
say "init pid $$, ip $IP"

# Our private mount namespace still carries copies of the host's
# /run/netns/* mounts (one per network namespace on the machine).  Holding
# them would keep other clusters' namespaces alive after they are deleted,
# so drop them before /run is replaced anyway.
for m in $(findmnt -rn -o TARGET | grep '^/run/netns/' | sort -r); do
    umount -l "$m" 2>/dev/null
done

# --- private folders ---------------------------------------------------------
# folder on the node  ->  sub-folder of NODEDIR that backs it
declare -A BINDS=(
    [/run]=run
    [/etc/libvirt]=etc-libvirt
    [/var/lib/libvirt]=lib-libvirt
    [/var/log/libvirt]=log-libvirt
    [/var/cache/libvirt]=cache-libvirt
    [/etc/migrated]=etc-migrated
    [/var/lib/migrated]=lib-migrated
    [/etc/polkit-1/rules.d]=etc-polkit-rules
)

# The node starts from the host's libvirt configuration (so hooks installed
# under /etc/libvirt/hooks are there too); everything else starts empty.
step "copy /etc/libvirt" mkdir -p "$NODEDIR/etc-libvirt"
step "copy /etc/libvirt" cp -a /etc/libvirt/. "$NODEDIR/etc-libvirt/"

for target in "${!BINDS[@]}"; do
    src=$NODEDIR/${BINDS[$target]}
    step "mkdir $src" mkdir -p "$src"
    # cluster.sh created missing mount points on the host beforehand
    step "bind $target" mount --bind "$src" "$target"
done
step "bind /root/.ssh" mount --bind "$SSHDIR" /root/.ssh
# a node's own polkit rules (a test may add one), read by polkitd as its user
chown polkitd:root /etc/polkit-1/rules.d 2>/dev/null || true
chmod 0700 /etc/polkit-1/rules.d

# /run is empty now: recreate what the daemons expect there
mkdir -p /run/lock /run/sshd /run/dbus /run/libvirt
chmod 0755 /run/sshd
chown messagebus:messagebus /run/dbus 2>/dev/null || true
mkdir -p /var/lib/libvirt/images /var/log/libvirt/qemu /var/lib/migrated
if [ -n "$SHARED" ]; then
    mkdir -p /var/lib/libvirt/shared
    step "bind /var/lib/libvirt/shared" mount --bind "$SHARED" /var/lib/libvirt/shared
fi

step "hostname" hostname "$NODE"

# --- libvirt configuration ---------------------------------------------------
# No systemd, no cgroups, no SELinux/AppArmor, QEMU as root: what runs in a
# namespace on a machine that was not set up as a hypervisor host.
cat >/etc/libvirt/qemu.conf <<'EOF'
# written by tests/cluster/lib/node-init.sh
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
cgroup_controllers = [ ]
EOF

# A unique host UUID per node: two daemons with the same one refuse to
# migrate to each other ("migration to the same host").
host_uuid=$(cat "$NODEDIR/host-uuid" 2>/dev/null) || true
if [ -z "$host_uuid" ]; then
    host_uuid=$(cat /proc/sys/kernel/random/uuid)
    echo "$host_uuid" >"$NODEDIR/host-uuid"
fi
cat >/etc/libvirt/libvirtd.conf <<EOF
# written by tests/cluster/lib/node-init.sh
host_uuid = "$host_uuid"
log_outputs = "${CLUSTER_LIBVIRTD_LOG_LEVEL:-3}:file:/var/log/libvirt/libvirtd.log"
log_filters = "${CLUSTER_LIBVIRTD_LOG_FILTERS:-}"
EOF
cat >/etc/libvirt/virtlogd.conf <<'EOF'
log_outputs = "3:file:/var/log/libvirt/virtlogd.log"
EOF

# Debian's QEMU driver looks this user up before it reads qemu.conf.
# cluster.sh normally created it already (serially, under a lock).
if ! id libvirt-qemu >/dev/null 2>&1; then
    getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
    useradd -r -g libvirt-qemu -s /usr/sbin/nologin libvirt-qemu ||
        id libvirt-qemu >/dev/null 2>&1 || fail "useradd libvirt-qemu"
fi

# --- daemons -------------------------------------------------------------------
# System bus first: libvirtd talks to it (polkit) as soon as it starts, and
# it D-Bus-activates polkitd (and migrated, once installed) on demand from
# /usr/share/dbus-1/system-services.
# Not --fork: a forked dbus-daemon sends its activated services' output to
# /dev/null; this way migrated's log lands in NODEDIR/bus.log.
dbus-daemon --system --nofork </dev/null >>"$NODEDIR/bus.log" 2>&1 &
for _ in $(seq 200); do [ -S /run/dbus/system_bus_socket ] && break; sleep 0.05; done
[ -S /run/dbus/system_bus_socket ] || fail "dbus-daemon did not create its socket"
step "virtlogd" virtlogd -d
# libvirtd starts pinned to one CPU: it compares the raw CPUID of the CPU it
# runs on with the one stored in its QEMU capabilities cache, and on this
# machine kind CPUID differs per vCPU (APIC id in leaves 1 and 0xb).  Unpinned,
# half of the starts discard the cache and re-probe QEMU (~8 s per node).
# cluster.sh lifts the pinning once the node is up; QEMU processes get every
# CPU anyway (libvirt resets their affinity).
cpu0=$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status | cut -d, -f1 | cut -d- -f1)
step "libvirtd" taskset -c "${cpu0:-0}" libvirtd -d
step "sshd" /usr/sbin/sshd -f "$NODEDIR/sshd_config" -E "$NODEDIR/sshd.log"

say "daemons started"
echo ready >"$NODEDIR/state"

# Keep the namespaces alive; cluster.sh's down kills us.
exec sleep infinity
