#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What the libvirt hook costs, on a 1-node bench (its own instance, torn down at
# the end):
#   1. one run of the installed hook (/etc/libvirt/hooks/qemu.d/migrated-hook)
#      with a domain XML on stdin, the way libvirtd runs it: daemon up (event
#      delivered on the bus and committed to sqlite before the hook exits) and
#      daemon down (event appended to the spool and fsynced);
#   2. `virsh start` + `virsh destroy` of a domain: with the hook and the daemon
#      up, with the hook and the daemon down, and without any hook (libvirtd
#      restarted with the hook folder empty).
# Prints median, p99 (nearest rank) and max in ms.  Goal: hook p99 under 5 ms.
#
#   sudo tests/bench/hook-latency.sh          (BENCH_N=200 hook runs, BENCH_VIRSH_N=20 start/destroy)
#
# Needs the daemon installed first (tools/build-install).

set -u -o pipefail

# shellcheck source=../cluster/lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/../cluster/lib/bench.sh}"

NAME=${BENCH_CLUSTER_NAME:-bhk}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-213}
export CLUSTER_NODE_CONF='IdleTimeout=0'
N=${BENCH_N:-200}
VN=${BENCH_VIRSH_N:-20}
HOOK=/etc/libvirt/hooks/qemu.d/migrated-hook
[[ $N =~ ^[1-9][0-9]*$ && $VN =~ ^[1-9][0-9]*$ ]] || { echo "BENCH_N and BENCH_VIRSH_N take numbers" >&2; exit 2; }

cluster_require_root
[ -x "$HOOK" ] && command -v migratectl >/dev/null ||
    die "migrated is not installed (run tools/build-install)"

say "bringing up 1 node (instance $NAME)"
bench_up "$NAME" 1
cluster_define_domain "$A" hookbench >/dev/null || exit 1

# SIGKILL, gone, and half a second for the bus to drop its name.
kill_daemon() { stop_daemon "$A"; sleep 0.5; }
start_daemon() { on "$A" migratectl hosts >/dev/null || exit 1; }

# Runs inside the node: prints one duration in microseconds per line.
hook_timer='
n=$1 hook=$2
xml="<domain type=\"kvm\"><name>hookbench</name><uuid>3e1b8a52-0d4f-4a55-9c1e-3f4b5a6c7d8e</uuid></domain>"
for ((k = 0; k < n; k++)); do
    t0=${EPOCHREALTIME/[.,]/}
    "$hook" hookbench started begin - <<<"$xml" || exit 1
    t1=${EPOCHREALTIME/[.,]/}
    echo $((t1 - t0))
done'
virsh_timer='
n=$1
for ((k = 0; k < n; k++)); do
    t0=${EPOCHREALTIME/[.,]/}
    virsh -q start hookbench >/dev/null && virsh -q destroy hookbench >/dev/null || exit 1
    t1=${EPOCHREALTIME/[.,]/}
    echo $((t1 - t0))
done'

row() { local med p99 max; read -r med p99 _ max < <(stats 99); printf '%-52s %8s ms %8s ms %8s ms\n' "$1" "$med" "$p99" "$max"; }

printf '\n%-52s %11s %11s %11s\n' "what (on $A)" "median" "p99" "max"
start_daemon
on "$A" bash -c "$hook_timer" t 5 "$HOOK" >/dev/null # warm-up: caches, the daemon's sqlite
on "$A" bash -c "$hook_timer" t "$N" "$HOOK" | row "hook run, daemon up (bus + sqlite commit), N=$N"
kill_daemon
on "$A" bash -c "$hook_timer" t "$N" "$HOOK" | row "hook run, daemon down (spool + fsync), N=$N"
spooled=$(on "$A" wc -l </dev/null /var/lib/migrated/hook-spool 2>/dev/null | awk '{print $1}')

start_daemon
on "$A" bash -c "$virsh_timer" t 2 >/dev/null
on "$A" bash -c "$virsh_timer" t "$VN" | row "virsh start + destroy, hook + daemon up, N=$VN"
kill_daemon
on "$A" bash -c "$virsh_timer" t "$VN" | row "virsh start + destroy, hook, daemon down, N=$VN"

# Without the hook: libvirtd only looks for hooks when it starts.
for p in $(node_pids "$A" libvirtd); do kill "$p"; done
while [ -n "$(node_pids "$A" libvirtd)" ]; do sleep 0.1; done
on "$A" rm -f "$HOOK" # the node's private copy of /etc/libvirt
on "$A" libvirtd -d
for _ in $(seq 50); do on "$A" virsh -q list >/dev/null 2>&1 && break; sleep 0.2; done
on "$A" bash -c "$virsh_timer" t 2 >/dev/null
on "$A" bash -c "$virsh_timer" t "$VN" | row "virsh start + destroy, no hook at all, N=$VN"

start_daemon
left=$(on "$A" cat /var/lib/migrated/hook-spool 2>/dev/null | wc -l)
echo
echo "(the daemon-down hook runs left ${spooled:-?} events in the spool; after the daemon"
echo " started again $left were left: it drains the spool at start)"
