#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The hot capped cell of tests/bench/live-grid.sh, as a test: a 512 MiB Linux guest
# dirtying 256 MiB as fast as it can, over a link capped at 512 Mbit/s (tc tbf on both
# nodes), migrated live with migratectl's defaults (no tuning option), three times:
#   1. A -> B: completes within 150 s (bounded, not a speed assertion); the guest runs on B
#      and its dirtier goes on there without a lost page; gone from A; the downtime is
#      within MaxDowntimeCeiling; the start's event names the sampled dirty rate and the
#      tuning it chose (XBZRLE: the guest out-dirties the link); the Throttle and Step
#      properties were seen on the bus while it ran, and in `migratectl watch`'s lines.
#   2. B -> A: the same (B knows no rate of its link to A yet).
#   3. A -> B again: A's start event now names the rate its link to B moved the first
#      time, within reach of the 512 Mbit/s cap (30 to 64 MiB/s).
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

# move FROM TO: one migration with defaults, and what it must show
move() {
        local from=$1 to=$2 out rc t events downtime watch samples pid
        watch=$(mktemp) samples=$(mktemp)
        t=$SECONDS
        sample_props "$from" "$samples" &
        pid=$!
        on "$from" timeout "$LIMIT" migratectl migrate hot --live --block-migration --host "$to" --wait \
                >"$watch" 2>&1
        rc=$?
        kill "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        echo "   migrate --wait exited $rc after $((SECONDS - t)) s"
        check "it completes with migratectl's defaults within $LIMIT s" [ $rc -eq 0 ]
        [ $rc -eq 0 ] || { tail -n 5 "$watch"; on "$from" migratectl abort hot >/dev/null 2>&1; }
        check "hot runs on $to" is_state "$to" hot running
        check "hot is gone from $from" is_state "$from" hot absent
        check "its dirtier goes on on $to (new progress lines)" guest_wait_progress "$to" hot 2 30 || {
                on "$to" virsh domstate hot --reason
                on "$to" virsh domstats hot --vcpu --state | sed 's/^/     /'
                tail -n 5 "$(guest_console "$to" hot)"
                on "$to" tail -n 5 /var/log/libvirt/qemu/hot.log
        }
        check "no page of the dirtier was lost or mixed up" no_corruption "$to" hot
        echo "   $to console: $(grep '^dirty: t=' "$(guest_console "$to" hot)" | tail -n1)"
        downtime=$(prop "$from" hot DowntimeMSec)
        check "its downtime (${downtime:-?} ms) is within MaxDowntimeCeiling ($CEILING ms)" within "$downtime" 1 $CEILING
        events=$(on "$from" migratectl show hot)
        START=$(grep -m1 "running .*libvirt migrates" <<<"$events")
        echo "   ${START#*running }" | tr -s ' '
        check "the start names the sampled dirty rate" grep -Eq "the guest dirties [0-9]+ MiB/s" <<<"$START"
        check "the guest out-dirties the link: XBZRLE with a cache" grep -Eq "XBZRLE with a [0-9]+ MiB cache" <<<"$START"
        grep -E "throttle|max downtime|XBZRLE cache" <<<"$events" | grep -v "libvirt migrates" | sed 's/^/   /' | tr -s ' '
        check "each change of the throttle is an event" grep -q "auto-converge throttle [0-9]* % (pass" <<<"$events"
        echo "   Throttle/Step seen: $(sort -u "$samples" | tr '\n' ';')"
        check "the Throttle property rose above 0 while it ran" grep -Eq '^[1-9][0-9]* ' "$samples"
        check "the Step property said throttle while it ran" grep -q ' throttle$' "$samples"
        check "migratectl watch showed the throttle and the step" grep -Eq "throttle [0-9]+%  step throttle" "$watch" ||
                { tr '\r' '\n' <"$watch" | grep -m3 -E "throttle|step"; tr '\r' '\n' <"$watch" | tail -n 3; }
        on "$from" rm -f "$IMAGES/hot.qcow2"
        rm -f "$watch" "$samples"
}

say "1. $A -> $B: the hot guest over 512 Mbit/s, migratectl's defaults"
move "$A" "$B"
check "A knew no rate of its link to B yet" grep -q "no link to $B measured yet" <<<"$START"

say "2. $B -> $A"
move "$B" "$A"

say "3. $A -> $B again: the rate of the first pass of 1. is the link's figure now"
move "$A" "$B"
rate=$(sed -n "s/.*the link to $B moved \([0-9]*\) MiB\/s (the slowest.*/\1/p" <<<"$START")
check "A's start names its link to B at ${rate:-?} MiB/s (the cap is 61 MiB/s)" within "$rate" 30 64

finish
