#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Bench self-test: D-Bus over SSH between nodes, the way migrated's daemons
# reach each other (sd_bus_open_system_remote, i.e. busctl -H).  From node A,
# `busctl -H root@IPB` must reach B's system bus: the bus ID it reports must
# be the one B reports locally, and differ from A's.  Also checks that each
# node's own dbus-daemon D-Bus-activates polkitd, remotely too.
# Exit 0 pass, 1 fail, 77 skip.

set -euo pipefail

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-trb}                     # instance of this test only
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-202}

GETID=(--system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId)
POLKIT=(call org.freedesktop.PolicyKit1 /org/freedesktop/PolicyKit1/Authority
        org.freedesktop.DBus.Properties Get ss org.freedesktop.PolicyKit1.Authority BackendName)

# busctl prints: s "0123abcd..."
bus_id() { sed -n 's/^s "\([0-9a-f]*\)"$/\1/p'; }

say "bringing up 2 nodes (instance $NAME)"
bench_up "$NAME" 2
IPB=$(cluster_ip "$B")

say "bus IDs seen locally on each node"
id_a=$(cluster_run "$A" busctl "${GETID[@]}" | bus_id)
id_b=$(cluster_run "$B" busctl "${GETID[@]}" | bus_id)
echo "   $A: $id_a"
echo "   $B: $id_b"
if [ -z "$id_a" ] || [ -z "$id_b" ]; then fail "could not read the bus IDs"; fi
[ "$id_a" != "$id_b" ] || fail "$A and $B share one bus"

say "from $A: busctl -H root@$IPB (D-Bus over SSH to $B)"
id_remote=$(cluster_run "$A" busctl -H "root@$IPB" "${GETID[@]}" | bus_id)
echo "   remote: $id_remote"
[ "$id_remote" = "$id_b" ] || fail "busctl -H root@$IPB reached bus '$id_remote', not $B's ($id_b)"
# (--augment-creds=no: busctl would read the bus daemon's cgroup from /proc,
# which fails inside the node's namespaces with "No medium found".)
# `busctl status` shows a second ID, the GUID the daemon's socket announces
# during authentication (dbus-daemon's GetId returns another one).  It must
# match too: remote from A == local on B != local on A.
guid() { sed -n 's/^BusID=//p'; }
guid_a=$(cluster_run "$A" busctl --augment-creds=no status | guid)
guid_b=$(cluster_run "$B" busctl --augment-creds=no status | guid)
guid_remote=$(cluster_run "$A" busctl --augment-creds=no -H "root@$IPB" status | guid)
echo "   busctl status BusID: $A $guid_a, $B $guid_b, remote from $A $guid_remote"
if [ -z "$guid_b" ] || [ "$guid_remote" != "$guid_b" ] || [ "$guid_a" = "$guid_b" ]; then
    fail "busctl -H root@$IPB status does not show $B's bus"
fi

say "polkitd D-Bus activation: remote call from $A to $B's bus"
before=$(node_pids "$B" polkitd)
out=$(cluster_run "$A" busctl -H "root@$IPB" "${POLKIT[@]}") || fail "remote polkit call failed"
echo "   BackendName over SSH: $out"
[[ $out == 'v s '* ]] || fail "unexpected polkit answer '$out'"
after=$(node_pids "$B" polkitd)
[ -n "$after" ] || fail "no polkitd runs in $B's namespace after the call"
if [ -z "$before" ]; then
    echo "   $B's dbus-daemon activated polkitd (pid $after) for the remote call"
else
    echo "   polkitd was already running on $B (pid $before)"
fi

say "polkitd D-Bus activation: local call on $A"
out=$(cluster_run "$A" busctl "${POLKIT[@]}") || fail "local polkit call on $A failed"
echo "   BackendName on $A: $out"
[ -n "$(node_pids "$A" polkitd)" ] || fail "no polkitd runs in $A's namespace"

say "PASS (total $((SECONDS - CHECKS_T0)) s, tear-down follows)"
