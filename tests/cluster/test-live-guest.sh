#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Live migration of a real Linux guest that keeps dirtying memory, driven by
# migratectl between two bench nodes (the guest: tests/cluster/guest/):
#   1. A -> B, live + block migration of a 384 MiB guest dirtying 128 MiB at
#      20 MiB/s: exits 0, the guest runs on B (its console on B keeps growing,
#      no page lost), it is gone from A, both records are completed with a
#      downtime, and the progress printed by `--json migrate --wait` (one object
#      per change) never goes backwards.
#   2. B -> A with --bandwidth 32 --postcopy of a guest dirtying 192 MiB at
#      100 MiB/s (pre-copy alone cannot converge at 32 MiB/s): force-complete
#      once it has been running for ~4 s switches it to post-copy, and it
#      completes; the guest runs on A, gone from B.
# The first run downloads Debian's kernel and busybox-static (a Debian mirror
# is needed then; the build is cached in /var/tmp/migrated-guest).
# Exit 0 pass, 1 fail, 77 skip (not root).

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tlg}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-207}
# A low downtime ceiling: a stalled migration reaches post-copy (where permitted) in seconds.
export CLUSTER_NODE_CONF=$'\n[Live]\nMaxDowntimeCeiling=600'
IMAGES=/var/lib/libvirt/images

# shellcheck disable=SC2034  # read by say (lib/checks.sh)
SAY_CLOCK=1    # headings show the seconds since the start

positive() { [[ ${1-} =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]; }
no_corruption() { local e; e=$(guest_errors "$1" "$2"); [ -z "$e" ] || { echo "$e" | head -5; return 1; }; }

cluster_require_root

say "building the guest (kernel + initramfs; cached after the first run)"
if ! GUEST=$(guest_build); then
        echo "FAIL: cannot build the Linux test guest (tests/cluster/guest/build-guest.sh): its first" \
             "run downloads linux-image-6.1.*-amd64 and busybox-static with apt-get, which needs a" \
             "Debian mirror; see the messages above" >&2
        exit 1
fi
echo "   $GUEST: $(tr '\n' ';' <"$GUEST/versions")"

bench_up "$NAME" 2

# ---------------------------------------------------------------------------
say "1. live block migration $A -> $B of a guest dirtying 128 MiB at 20 MiB/s"
guest_define "$A" vm1 384 128 20 --disk-mib 64 --disk-data-mib 16 >/dev/null || exit 1
WATCH=$(mktemp)
t=$SECONDS
on "$A" migratectl --json migrate vm1 --live --block-migration --host "$B" --wait >"$WATCH" 2>&1
rc=$?
echo "   migrate --wait exited $rc after $((SECONDS - t)) s"
check "migrate --live --block-migration --wait exits 0" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -n 5 "$WATCH"
check "vm1 runs on $B" is_state "$B" vm1 running
check "vm1 is gone from $A (not even defined)" is_state "$A" vm1 absent
check "the guest keeps running on $B (new progress lines on $B's console)" guest_wait_progress "$B" vm1 3 30
check "no page of the dirtier was lost or mixed up" no_corruption "$B" vm1
echo "   $B console: $(grep '^dirty: t=' "$(guest_console "$B" vm1)" | tail -n1)"
check "the source's record is completed" prop_is "$A" vm1 Status completed
check "the destination's record is completed" prop_is "$B" vm1 Status completed
downtime=$(prop "$A" vm1 DowntimeMSec)
echo "   downtime ${downtime:-?} ms; $(on "$A" migratectl show vm1 | grep -m1 'completed ')"
check "the record has a downtime (> 0 ms)" positive "$downtime"
check "progress arrived on the bus several times and never went backwards" monotonic "$WATCH" 3
if on "$A" test -e "$IMAGES/vm1.qcow2"; then
        echo "   note: $A still holds its copy of the disk ($IMAGES/vm1.qcow2) after the migration"
fi
# Free the CPU for part 2 (TCG guests are CPU-bound).
guest_remove "$B" vm1
on "$A" rm -f "$IMAGES/vm1.qcow2"

# ---------------------------------------------------------------------------
say "2. $B -> $A with --bandwidth 32 --postcopy of a guest dirtying 192 MiB at 100 MiB/s, force-complete after ~4 s"
guest_define "$B" vm2 384 192 100 --disk-mib 64 >/dev/null || exit 1
WATCH2=$(mktemp)
t=$SECONDS
on "$B" migratectl --json migrate vm2 --live --block-migration --host "$A" --bandwidth 32 --postcopy --wait \
        >"$WATCH2" 2>&1 &
mig_pid=$!
running() { prop_is "$B" vm2 Status running; }
memory_pass() { local i; i=$(prop "$B" vm2 Iteration); positive "$i"; }
check "the migration runs" wait_until 60 running
t_run=$SECONDS
check "its memory pass started" wait_until 30 memory_pass
sleep $((t_run + 4 - SECONDS > 0 ? t_run + 4 - SECONDS : 0))
echo "   before force-complete: $(on "$B" migratectl show vm2 | grep -E '^ *(Progress|Convergence):' | tr -s ' ' | tr '\n' ';')"
check "force-complete exits 0" on "$B" migratectl force-complete vm2
t_force=$SECONDS
ended() { ! kill -0 "$mig_pid" 2>/dev/null; }
if ! wait_until 120 ended; then
        echo "   still not finished 120 s after force-complete: aborting"
        on "$B" migratectl abort vm2
fi
wait "$mig_pid"
rc=$?
echo "   migrate --wait exited $rc, $((SECONDS - t)) s after the start, $((SECONDS - t_force)) s after force-complete"
check "the post-copy migration completes (migrate --wait exits 0)" [ $rc -eq 0 ]
[ $rc -eq 0 ] || tail -n 5 "$WATCH2"
check "vm2 runs on $A" is_state "$A" vm2 running
check "vm2 is gone from $B" is_state "$B" vm2 absent
check "the guest keeps running on $A" guest_wait_progress "$A" vm2 3 30
check "no page of the dirtier was lost or mixed up" no_corruption "$A" vm2
check "the record is completed" prop_is "$B" vm2 Status completed
events=$(on "$B" migratectl show vm2)
check "its events say it switched to post-copy" grep -q "post-copy" <<<"$events"
echo "   downtime $(prop "$B" vm2 DowntimeMSec) ms; $(grep -m1 'completed ' <<<"$events")"
check "progress never went backwards" monotonic "$WATCH2" 2
rm -f "$WATCH" "$WATCH2"

# ---------------------------------------------------------------------------
say "3. escalation alone: $A -> $B with --bandwidth 32 --postcopy --no-compressed, 100 MiB/s dirtied, no operator"
guest_define "$A" vm3 384 192 100 --disk-mib 64 >/dev/null || exit 1
t=$SECONDS
out=$(on "$A" migratectl migrate vm3 --live --block-migration --host "$B" --bandwidth 32 --postcopy --no-compressed \
        --wait 2>&1)
rc=$?
echo "   migrate --wait exited $rc after $((SECONDS - t)) s"
check "it completes without force-complete" [ $rc -eq 0 ]
events=$(on "$A" migratectl show vm3)
grep -E "stalled|post-copy" <<<"$events" | sed 's/^/   /'
check "its events show the throttle computed before the start" grep -q "auto-converge starts at" <<<"$events"
check "its events show the max downtime raised when it stalled" grep -q "max downtime raised" <<<"$events"
# The throttle, now waited for two passes after each rise, sometimes finishes it at the
# first raised downtime: then post-copy is rightly never reached (the escalation's order).
postcopy_or_earlier() {
        grep -q "switched to post-copy" <<<"$events" && return 0
        ! grep -q "max downtime raised to 2000 ms" <<<"$events" && [ "$(prop "$A" vm3 Status)" = completed ]
}
check "its events show the switch to post-copy at the ceiling, or it completed before the ceiling" \
        postcopy_or_earlier
check "vm3 runs on $B" is_state "$B" vm3 running
check "the guest keeps running on $B" guest_wait_progress "$B" vm3 3 30
check "no page of the dirtier was lost or mixed up" no_corruption "$B" vm3

# ---------------------------------------------------------------------------
say "4. abort: $A -> $B with --bandwidth 32 and no post-copy never converges; abort it"
guest_define "$A" vm4 384 192 100 --disk-mib 64 >/dev/null || exit 1
on "$A" migratectl migrate vm4 --live --block-migration --host "$B" --bandwidth 32 >/dev/null
running4() { prop_is "$A" vm4 Status running; }
check "it runs" wait_until 60 running4
sleep 5
check "abort exits 0" on "$A" migratectl abort vm4
check "the record is cancelled" prop_is "$A" vm4 Status cancelled
check "vm4 still runs on $A" is_state "$A" vm4 running
check "the guest keeps running on $A" guest_wait_progress "$A" vm4 3 30
check "$B has no vm4" is_state "$B" vm4 absent
check "$B has no vm4 disk" wait_until 10 file_absent "$B" "$IMAGES/vm4.qcow2"

echo
say "done"
finish "$A" "$B"
