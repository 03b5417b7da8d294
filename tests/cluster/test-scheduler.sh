#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The scheduler on a 3-node bench (issue 12), with cold moves of small shut-off domains
# (and one pair of live block migrations for the race):
#   - anti-affinity: never next to a member; NoValidHost naming each node's reason when every
#     other node has one, the domain untouched; an explicit --host next to a member refused;
#   - affinity goes to the group's node; soft-affinity prefers it; soft-anti-affinity falls
#     back when every node has a member;
#   - a disabled node is never chosen and `plan` shows why;
#   - the race: two anti-affinity members moved at the same instant with one free node:
#     exactly one lands there, the other is refused and stays where it was (cold and live);
#   - retry: the first choice refuses the claim at Prepare (a file is in the way of the disk
#     there) and the domain lands on the second, both attempts in `show`;
#   - plan: chosen, possible, refused with reasons, --json, exit 6 when nothing fits;
#   - a live move needs a node whose CPU runs the guest's (a custom guest CPU model of the other
#     vendor; libvirt's own hypervisor-cpu-compare says what to expect), while a custom model
#     the node's hypervisor lists as usable and a host-model guest are not refused for their CPU;
#   - every verb from any node: migrate (cold, live), watch, show, confirm, revert and plan
#     run on a node that does not hold the domain are done by the node that does.
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tsc}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-221}
export CLUSTER_NODE_CONF=$'ShutdownTimeout=1'
IMAGES=/var/lib/libvirt/images

bench_up "$NAME" 3
C=${NAME}c

# define NODE DOM [GROUP POLICY]: a shut-off domain with a small disk, in a group
define() {
        cluster_define_domain "$1" "$2" --shut-off --disk-mib 16 --disk-data-mib 1 >/dev/null || exit 1
        [ $# -lt 4 ] || on "$1" migratectl group-set "$2" "$3" "$4" >/dev/null || exit 1
}
# where DOM is defined and active-or-not: the node's name, or "none"/"several"
where() {
        local n found=()
        for n in "$A" "$B" "$C"; do [ "$(state "$n" "$1")" != absent ] && found+=("$n"); done
        case ${#found[@]} in 0) echo none ;; 1) echo "${found[0]}" ;; *) echo several ;; esac
}
lands() { [ "$(where "$1")" = "$2" ]; }
# move DOM [ARGS...] from A, waiting, confirmed when it finished
move() {
        local dom=$1
        shift
        out=$(on "$A" migratectl migrate "$dom" "$@" --wait 2>&1)
        rc=$?
        [ "$rc" = 0 ] && on "$A" migratectl confirm "$dom" >/dev/null 2>&1
        return $rc
}
plan() { out=$(on "$A" migratectl plan "$@" 2>&1); rc=$?; }
plan_row() { grep -E "^$1 " <<<"$out"; }

# ---------------------------------------------------------------------------
say "anti-affinity: web1 and web2 on $A, web0 already on $B"
define "$B" web0 web anti-affinity
define "$A" web1 web anti-affinity
define "$A" web2 web anti-affinity
plan web1
check_eq "plan web1 exits 0" 0 "$rc"
echo "$out" | sed 's/^/        /'
check "plan: $C chosen" grep -qE "chosen" <<<"$(plan_row "$C")"
check "plan: $B refused, naming web0" grep -qE "refused.*anti-affinity.*web0" <<<"$(plan_row "$B")"
check "plan: $A refused (the domain is there)" grep -q "refused.*on this node" <<<"$(plan_row "$A")"
check "migrate web1 (no --host) exits 0" move web1
check "web1 lands on $C, not next to web0" lands web1 "$C"
sum2=$(content_sum "$A" $IMAGES/web2.qcow2)
plan web2
check_eq "plan web2 exits 6 (no valid host)" 6 "$rc"
check "plan web2: $B refused for web0" grep -q "web0" <<<"$(plan_row "$B")"
check "plan web2: $C refused for web1" grep -q "web1" <<<"$(plan_row "$C")"
move web2
check_eq "migrate web2 exits 6 (no valid host)" 6 "$rc"
check "the refusal names $B and $C with their reasons" \
        grep -q "$B: anti-affinity.*$C: anti-affinity\|$C: anti-affinity.*$B: anti-affinity" <<<"$out"
check "web2 is untouched on $A" lands web2 "$A"
check "web2's disk is unchanged" same_content "$A" $IMAGES/web2.qcow2 "$sum2"
move web2 --host "$B"
check_eq "migrate web2 --host $B (web0 there) exits 6" 6 "$rc"
check "... saying why" grep -q "Cannot move web2 to $B: anti-affinity" <<<"$out"
check "web2 still on $A" lands web2 "$A"
define "$C" webx web anti-affinity # set by hand next to web1, as a manual virsh migrate would
out=$(on "$B" migratectl groups)
echo "$out" | sed 's/^/        /'
check "groups (asked on $B) flags web: two members on $C" \
        grep -qE "^web +anti-affinity .*anti-affinity broken: (web1 and webx|webx and web1) both on $C" <<<"$out"
check "... naming each member's node" grep -qE "web0@$B" <<<"$out"

# ---------------------------------------------------------------------------
say "affinity, soft-affinity, soft-anti-affinity"
define "$B" db0 db affinity
define "$A" db1 db affinity
check "migrate db1 exits 0" move db1
check "db1 goes to the group's node $B" lands db1 "$B"
define "$C" cache0 cache soft-affinity
define "$A" cache1 cache soft-affinity
check "migrate cache1 exits 0" move cache1
check "soft-affinity: cache1 goes to $C, where cache0 runs" lands cache1 "$C"
define "$B" spread0 spread soft-anti-affinity
define "$C" spread1 spread soft-anti-affinity
define "$A" spread2 spread soft-anti-affinity
plan spread2
check "plan: both $B and $C possible or chosen" \
        test "$(grep -cE 'chosen|possible' <<<"$(plan_row "$B"; plan_row "$C")")" = 2
check "soft-anti-affinity with a member on every node: migrate exits 0" move spread2
check "spread2 moved to $B or $C" test "$(where spread2)" != "$A"

# ---------------------------------------------------------------------------
say "a disabled node is never chosen; plan says why"
check "host-disable $C" on "$A" migratectl host-disable "$C" --reason "firmware update"
define "$A" free1
plan free1
check "plan: $C refused, disabled (firmware update)" \
        grep -q "refused.*disabled (firmware update)" <<<"$(plan_row "$C")"
check "plan: $B chosen" grep -q chosen <<<"$(plan_row "$B")"
plan free1 --json
check "plan --json is a list with a verdict per node" python3 -c '
import json, sys
nodes = json.loads(sys.argv[1])
assert {n["node"]: n["verdict"] for n in nodes}[sys.argv[2]] == "refused", nodes
' "$out" "$C"
check "migrate free1 exits 0" move free1
check "free1 goes to $B, not the disabled $C" lands free1 "$B"
define "$A" free2
move free2 --host "$C"
check_eq "migrate free2 --host $C (disabled) exits 6" 6 "$rc"
check "... saying it is disabled" grep -q "Cannot move free2 to $C: disabled (firmware update)" <<<"$out"
check "free2 stays on $A" lands free2 "$A"
check "host-enable $C" on "$A" migratectl host-enable "$C"

# ---------------------------------------------------------------------------
say "retry: $B refuses the claim at Prepare (a file is where the disk would go); $C takes it"
define "$A" retry0 hop soft-affinity
define "$B" hop0 hop soft-affinity
check "a stray file on $B where retry0's disk goes" on "$B" sh -c "echo stray >$IMAGES/retry0.qcow2"
check "migrate retry0 exits 0" move retry0
check "retry0 lands on $C" lands retry0 "$C"
events=$(on "$A" migratectl show retry0)
check "show: the first choice was $B" grep -q "the scheduler chose $B" <<<"$events"
check "show: attempt 2 went to $C, saying why $B failed" \
        grep -q "attempt 2: the scheduler chose $C ($B failed" <<<"$events"
check "the stray file on $B is left alone" on "$B" grep -q stray "$IMAGES/retry0.qcow2"
on "$B" rm -f "$IMAGES/retry0.qcow2"

# ---------------------------------------------------------------------------
say "the race: two anti-affinity members at the same instant, one free node ($C)"
define "$B" race0 race anti-affinity
define "$A" race1 race anti-affinity
define "$A" race2 race anti-affinity
T=$CLUSTER_ROOT/$NAME/test
mkdir -p "$T"
on "$A" migratectl migrate race1 --wait >"$T/race1" 2>&1 &
p1=$!
on "$A" migratectl migrate race2 --wait >"$T/race2" 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
echo "        race1: exit $r1, race2: exit $r2"
check "exactly one of them succeeded" test "$((r1 == 0 ? 1 : 0))$((r2 == 0 ? 1 : 0))" = 10 -o \
        "$((r1 == 0 ? 1 : 0))$((r2 == 0 ? 1 : 0))" = 01
if [ "$r1" = 0 ]; then won=race1 lost=race2; else won=race2 lost=race1; fi
check "the winner $won is confirmed" on "$A" migratectl confirm "$won"
check "the winner $won is on $C" lands "$won" "$C"
check "the other ($lost) exits 6 and stays on $A" test "$([ "$won" = race1 ] && echo "$r2" || echo "$r1")" = 6
check "$lost is on $A" lands "$lost" "$A"
if grep -q "refuses the claim" "$T/$lost"; then
        echo "        $C's claim check refused $lost (both plans had chosen $C)"
else
        echo "        $lost's plan already saw $won's claim on $C"
fi

say "the race, live: two running anti-affinity members, block migration"
cluster_define_domain "$B" lrace0 --running --disk-mib 16 >/dev/null || exit 1
on "$B" migratectl group-set lrace0 lrace anti-affinity >/dev/null
for d in lrace1 lrace2; do
        cluster_define_domain "$A" "$d" --running --disk-mib 16 >/dev/null || exit 1
        on "$A" migratectl group-set "$d" lrace anti-affinity >/dev/null
done
on "$A" migratectl migrate lrace1 --live --block-migration --wait >"$T/lrace1" 2>&1 &
p1=$!
on "$A" migratectl migrate lrace2 --live --block-migration --wait >"$T/lrace2" 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
echo "        lrace1: exit $r1, lrace2: exit $r2"
check "exactly one live move succeeded" test "$((r1 == 0 ? 1 : 0))$((r2 == 0 ? 1 : 0))" = 10 -o \
        "$((r1 == 0 ? 1 : 0))$((r2 == 0 ? 1 : 0))" = 01
if [ "$r1" = 0 ]; then won=lrace1 lost=lrace2; else won=lrace2 lost=lrace1; fi
check "the winner $won runs on $C" is_state "$C" "$won" running
check "the other ($lost) keeps running on $A" is_state "$A" "$lost" running
check "$lost does not run on $C" is_state "$C" "$lost" absent

# ---------------------------------------------------------------------------
say "CPU: a live move needs a node whose CPU runs the guest's"
# A custom guest CPU of the other vendor's model: libvirt itself (virsh hypervisor-cpu-compare,
# the call the daemon makes) is the judge.
if grep -q AuthenticAMD /proc/cpuinfo; then model=Cascadelake-Server; else model=EPYC-Milan; fi
set_cpu() { # node domain cpu-element
        # libvirt's own default <cpu> (qemu64, check='none') goes first
        on "$1" sh -c "virsh dumpxml --inactive $2 | sed -e '/<cpu .*\/>/d' -e '/<cpu[ >]/,/<\/cpu>/d' \
                -e \"s|</vcpu>|</vcpu>$3|\" >/tmp/$2.xml && virsh define /tmp/$2.xml" \
                >/dev/null || exit 1
}
define "$A" cpu1
cpuxml="<cpu mode='custom' match='exact'><model fallback='forbid'>$model</model></cpu>"
set_cpu "$A" cpu1 "$cpuxml"
on "$B" sh -c "echo \"$cpuxml\" >/tmp/cpu.xml"
if on "$B" virsh hypervisor-cpu-compare /tmp/cpu.xml 2>&1 | grep -qi incompatible; then
        plan cpu1 --live --block-migration
        check_eq "plan cpu1 --live ($model on this host) exits 6" 6 "$rc"
        check "plan: $B refused for its CPU" grep -qE "refused +.*CPU: " <<<"$(plan_row "$B")"
        plan cpu1
        check "a cold move does not ask for the CPU: $B possible" grep -qE "chosen|possible" <<<"$(plan_row "$B")"
else
        plan cpu1 --live --block-migration
        check "virsh says this host runs $model: plan cpu1 --live has $B possible" \
                grep -qE "chosen|possible" <<<"$(plan_row "$B")"
fi
# a custom model that libvirt says B's hypervisor can give (domcapabilities: usable='yes')
usable=$(on "$B" virsh domcapabilities | sed -n "s|.*<model usable='yes'[^>]*>\([^<]*\)</model>.*|\1|p" | head -1)
check "B's hypervisor lists a usable custom CPU model" test -n "$usable"
define "$A" cpu2
set_cpu "$A" cpu2 "<cpu mode='custom' match='exact'><model fallback='forbid'>$usable</model></cpu>"
plan cpu2 --live --block-migration
check "a custom $usable CPU (usable on $B): $B possible for a live move" \
        grep -qE "chosen|possible" <<<"$(plan_row "$B")"
define "$A" cpu3
set_cpu "$A" cpu3 "<cpu mode='host-model' check='partial'/>"
plan cpu3 --live --block-migration
check "a host-model CPU is not compared: $B possible for a live move" \
        grep -qE "chosen|possible" <<<"$(plan_row "$B")"

# ---------------------------------------------------------------------------
say "every verb from any node: $C drives domains that $A holds"
define "$A" fwd1
define "$A" fwd2
out=$(on "$C" migratectl migrate fwd1 --host "$B" --wait 2>&1)
check_eq "on $C: migrate fwd1 --host $B --wait exits 0 (forwarded to $A)" 0 "$?"
echo "$out" | tail -n 2 | sed 's/^/        /'
check "fwd1 waits in VERIFY_RESIZE on $A's record" status_is "$A" fwd1 finished
out=$(on "$C" migratectl --json show fwd1 2>&1)
check "on $C: show fwd1 follows $A's migration (Source $A)" grep -q "\"Source\" *: *\"$A\"" <<<"$out"
check "on $C: watch fwd1 exits 0 (finished)" on "$C" migratectl watch fwd1
check "on $C: confirm fwd1 exits 0" on "$C" migratectl confirm fwd1
check "fwd1 is confirmed, on $B only" lands fwd1 "$B"
check "$A's record says confirmed" status_is "$A" fwd1 confirmed
check "on $C: migrate fwd2 --wait exits 0" on "$C" migratectl migrate fwd2 --wait
check "on $C: revert fwd2 exits 0" on "$C" migratectl revert fwd2
check "fwd2 is back on $A only" lands fwd2 "$A"
check "$A's record says reverted" status_is "$A" fwd2 reverted
cluster_define_domain "$A" lfwd --running --disk-mib 16 >/dev/null || exit 1
check "on $C: migrate lfwd --live --block-migration --host $B --wait exits 0" \
        on "$C" migratectl migrate lfwd --live --block-migration --host "$B" --wait
check "lfwd runs on $B" is_state "$B" lfwd running
check "lfwd is gone from $A" is_state "$A" lfwd absent
out=$(on "$C" migratectl plan fwd2 2>&1)
check "on $C: plan fwd2 is answered by $A (the domain's node)" grep -qE "^$A +refused .*on this node" <<<"$out"
out=$(on "$C" migratectl abort nosuchdomain 2>&1)
check_eq "on $C: abort of a domain no node holds -> 4" 4 "$?"

finish "$A" "$B" "$C"
