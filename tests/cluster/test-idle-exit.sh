#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Exit on idle, like systemd's small daemons: migrated leaves after IdleTimeout
# seconds without work (D-Bus activation brings it back), but never while a
# migration is in flight or waits in VERIFY_RESIZE for confirm or revert.
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tie}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-208}
IDLE=3
export CLUSTER_NODE_CONF=$'ShutdownTimeout=1\nIdleTimeout='$IDLE

bench_up "$NAME" 2
cluster_define_domain "$A" vm1 --running --disk-mib 64 >/dev/null || exit 1

say "idle daemons leave after ${IDLE} s"
check "a call starts the daemon on $A (and on $B, which $A asks)" on "$A" migratectl hosts
check "migrated runs on $A" daemon_runs "$A"
check "migrated runs on $B" daemon_runs "$B"
both_gone() { no_daemon "$A" && no_daemon "$B"; }
check "both leave when idle" wait_until $((IDLE * 3 + 5)) both_gone
check "the next call starts it again" on "$A" migratectl migrations

say "never while a migration waits in VERIFY_RESIZE"
check "cold migration to $B finishes" on "$A" migratectl migrate vm1 --host "$B" --wait
sleep $((IDLE * 3 + 2))
check "migrated still runs on $A (it drives the migration)" daemon_runs "$A"
check "migrated still runs on $B (it holds the claim)" daemon_runs "$B"
check "confirm" on "$A" migratectl confirm vm1
check "then both leave" wait_until $((IDLE * 3 + 5)) both_gone

finish "$A" "$B"
