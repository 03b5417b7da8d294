#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Live convergence with migratectl's defaults, on the hot guest of tests/bench/live-grid.sh
# (512 MiB, 256 MiB dirtied as fast as it can, TCG):
#   1. A -> B over a link capped at 512 Mbit/s (tc tbf on both nodes): the start's event
#      names the sampled dirty rate and the throttle computed from it (no XBZRLE, and why:
#      Compressed=auto does not take it for a TCG guest on QEMU 7.2, see daemon/live/tune.c;
#      that is what the bench's guests are); each change of the throttle is an event; the
#      Throttle and Step properties and `migratectl watch` show them; the max downtime is
#      raised only once the throttle has reached 99 % (the escalation's order). The
#      throttle alone does not finish this guest (measured: it catches up whenever its vCPU
#      runs), so the test aborts it: cancelled, the guest runs on A and its dirtier goes on.
#   2. A -> B without the cap: completes; the guest runs on B, its dirtier goes on there
#      without a lost page; gone from A; the downtime is within MaxDowntimeCeiling; A's start
#      names the rate its link to B moved in 1.'s first pass (30 to 64 MiB/s: the cap is 61).
# Exit 0 pass, 1 fail, 77 skip (not root).

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tlc}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-227}
IMAGES=/var/lib/libvirt/images
CEILING=2000 # ms, migrated's default MaxDowntimeCeiling
LIMIT=150    # s a migration may take before the test gives up on it

# shellcheck disable=SC2034  # read by say (lib/checks.sh)
SAY_CLOCK=1

no_corruption() { local e; e=$(guest_errors "$1" "$2"); [ -z "$e" ] || { echo "$e" | head -5; return 1; }; }
within() { [[ ${1-} =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

cluster_require_root
say "building the guest (kernel + initramfs; cached after the first run)"
guest_build >/dev/null || { echo "FAIL: cannot build the Linux test guest (a Debian mirror is needed once)" >&2; exit 1; }
bench_up "$NAME" 2
for n in "$A" "$B"; do
        on "$n" tc qdisc replace dev eth0 root tbf rate 512mbit burst 256kb latency 400ms ||
                fail "cannot cap $n's link"
done

guest_define "$A" hot 512 256 0 >/dev/null || exit 1

# Throttle and Step of the record, every 0.5 s while it runs, into $2 (one "T S" line each).
sample_props() {
        local from=$1 out=$2 t s
        while :; do
                t=$(prop "$from" hot Throttle)
                s=$(prop "$from" hot Step)
                echo "${t:-?} ${s:-none}" >>"$out"
                sleep 0.5
        done
}

events_of() { on "$1" migratectl show hot; }
downtime_raised() { events_of "$A" | grep -q "max downtime raised"; }
# the line number of the first event matching $1 in $2
first_at() { grep -n -m1 -e "$1" <<<"$2" | cut -d: -f1; }

say "1. $A -> $B over 512 Mbit/s with defaults: the throttle first, then the downtime; aborted"
WATCH=$(mktemp) SAMPLES=$(mktemp)
sample_props "$A" "$SAMPLES" &
SAMPLER=$!
on "$A" migratectl migrate hot --live --block-migration --host "$B" --wait >"$WATCH" 2>&1 &
MIGRATE=$!
raised_within() { local i; for ((i = 0; i < $1; i++)); do downtime_raised && return 0; sleep 1; done; return 1; }
check "the max downtime is raised within 150 s" raised_within 150
events=$(events_of "$A")
START=$(grep -m1 "running .*libvirt migrates" <<<"$events")
echo "   ${START#*running }" | tr -s ' '
grep -E "throttle|max downtime" <<<"$events" | grep -v "libvirt migrates" | sed 's/^/   /' | tr -s ' '
check "the start names the sampled dirty rate" grep -Eq "the guest dirties [0-9]+ MiB/s" <<<"$START"
check "A knew no rate of its link to B yet (1 Gbit/s assumed)" grep -q "no link to $B measured yet" <<<"$START"
check "the throttle's start is computed from them" grep -Eq "auto-converge starts at [0-9]+ % in steps of [0-9]+ %" <<<"$START"
check "no XBZRLE for a TCG guest on QEMU 7.2, and the start says why" \
        grep -q "no XBZRLE (this TCG guest's QEMU, before 9.0, loses writes" <<<"$START"
check "each change of the throttle is an event" grep -q "auto-converge throttle [0-9]* % (pass" <<<"$events"
at99=$(first_at "auto-converge throttle 99 %" "$events") atdt=$(first_at "max downtime raised" "$events")
before() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" -lt "$2" ]; }
check "the max downtime is raised only after the throttle reached 99 % (events ${at99:-?} < ${atdt:-?})" \
        before "$at99" "$atdt"
# read before the abort: its "abort" replaces "downtime" at once, faster than the sampler
step_downtime() { prop_is "$A" hot Step downtime; }
check "the Step property says downtime once it is raised" wait_until 10 step_downtime
check "abort exits 0" on "$A" migratectl abort hot
wait "$MIGRATE"
kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
echo "   Throttle/Step seen: $(sort -u "$SAMPLES" | tr '\n' ';')"
check "the Throttle property rose above 0 while it ran" grep -Eq '^[1-9][0-9]* ' "$SAMPLES"
check "the Step property said throttle before" grep -q ' throttle$' "$SAMPLES"
check "migratectl watch showed the throttle and the step" grep -Eq "throttle [0-9]+%  step (throttle|downtime)" "$WATCH" ||
        { tr '\r' '\n' <"$WATCH" | tail -n 3; }
check "the record is cancelled" prop_is "$A" hot Status cancelled
check "hot still runs on $A" is_state "$A" hot running
check "its dirtier goes on on $A" guest_wait_progress "$A" hot 2 30
check "no page of the dirtier was lost or mixed up" no_corruption "$A" hot
rm -f "$WATCH" "$SAMPLES"

say "2. $A -> $B without the cap, defaults: completes; the link's rate of 1. is named"
for n in "$A" "$B"; do on "$n" tc qdisc del dev eth0 root; done
t=$SECONDS
on "$A" timeout "$LIMIT" migratectl migrate hot --live --block-migration --host "$B" --wait >/dev/null 2>&1
rc=$?
echo "   migrate --wait exited $rc after $((SECONDS - t)) s"
check "it completes with migratectl's defaults within $LIMIT s" [ $rc -eq 0 ]
check "hot runs on $B" is_state "$B" hot running
check "hot is gone from $A" is_state "$A" hot absent
check "its dirtier goes on on $B (new progress lines)" guest_wait_progress "$B" hot 2 30
check "no page of the dirtier was lost or mixed up" no_corruption "$B" hot
downtime=$(prop "$A" hot DowntimeMSec)
check "its downtime (${downtime:-?} ms) is within MaxDowntimeCeiling ($CEILING ms)" within "$downtime" 1 $CEILING
START=$(events_of "$A" | grep -m1 "running .*libvirt migrates")
echo "   ${START#*running }" | tr -s ' '
rate=$(sed -n "s/.*the link to $B moved \([0-9]*\) MiB\/s (the slowest.*/\1/p" <<<"$START")
check "A's start names its link to B at ${rate:-?} MiB/s, from 1.'s first pass (the cap: 61)" within "$rate" 30 64

finish
