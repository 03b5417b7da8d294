#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Host evacuation on a three-node bench (A is emptied; B and C take its domains):
#   - a dry run prints the plan (the two anti-affinity members on different nodes) and
#     changes nothing;
#   - `evacuate A --live --wait` moves four domains (three running, live with their disks;
#     one shut off, cold and confirmed): each on B or C only, the two members apart, disk
#     contents equal, A disabled ("evacuating"), the watch printing a row per domain;
#   - a domain no node can take (anti-affinity with members on both B and C) is reported
#     with its reason and left running; the evacuation still ends (completed);
#   - cancel midway (--max-parallel 1, a bandwidth limit): every domain runs exactly once,
#     on A, the queued ones never moved, status cancelled;
#   - the daemon killed during an evacuation: after its restart the evacuation goes on to
#     its end;
#   - restore (run on another node): the domains still where the evacuation put them come
#     back, one moved on by hand stays, the node is enabled.
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tev}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-222}
export CLUSTER_NODE_CONF=$'ShutdownTimeout=1'
IMAGES=/var/lib/libvirt/images
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)

bench_up "$NAME" 3
C=${NAME}c

running() { cluster_define_domain "$1" "$2" --running --disk-mib "${3:-16}" --disk-data-mib "${4:-1}" >/dev/null || exit 1; }
shutoff() { cluster_define_domain "$1" "$2" --shut-off --disk-mib 16 --disk-data-mib 1 >/dev/null || exit 1; }
group() { on "$A" migratectl group-set "$1" "$2" "$3" >/dev/null || exit 1; }
# where DOM is defined: the node's name, or "none"/"several"
where() {
        local n found=()
        for n in "$A" "$B" "$C"; do [ "$(state "$n" "$1")" != absent ] && found+=("$n"); done
        case ${#found[@]} in 0) echo none ;; 1) echo "${found[0]}" ;; *) echo several ;; esac
}
# how many nodes run DOM
runs_on() {
        local n count=0
        for n in "$A" "$B" "$C"; do is_state "$n" "$1" running && count=$((count + 1)); done
        echo $count
}
# field of the latest evacuation of A (or of an item: ev_item DOM KEY)
ev_json() { on "$A" migratectl --json evacuations 2>/dev/null; }
ev_field() {
        ev_json | python3 -c '
import json, sys
d = [e for e in json.load(sys.stdin) if e.get("node") == sys.argv[1]]
print(d[-1].get(sys.argv[2], "") if d else "")' "$A" "$1"
}
ev_item() {
        ev_json | python3 -c '
import json, sys
d = [e for e in json.load(sys.stdin) if e.get("node") == sys.argv[1]]
items = [i for i in (d[-1]["items"] if d else []) if i.get("domain") == sys.argv[2]]
print(items[0].get(sys.argv[3], "") if items else "")' "$A" "$1" "$2"
}
ev_status_is() { [ "$(ev_field status)" = "$1" ]; }
item_is() { [ "$(ev_item "$1" status)" = "$2" ]; }
enabled() { on "$A" migratectl --json hosts | python3 -c '
import json, sys
print([h for h in json.load(sys.stdin) if h.get("node") == sys.argv[1]][0].get(sys.argv[2], ""))' "$1" "$2"; }

# ---------------------------------------------------------------------------
say "four domains on $A: ev1, ev2 (anti-affinity 'web'), ev3 running, ev4 shut off"
running "$A" ev1
running "$A" ev2
running "$A" ev3
shutoff "$A" ev4
group ev1 web anti-affinity
group ev2 web anti-affinity
declare -A sum
for d in ev1 ev2 ev3 ev4; do sum[$d]=$(content_sum "$A" $IMAGES/$d.qcow2); done

out=$(on "$A" migratectl evacuate "$A" --live --dry-run 2>&1)
rc=$?
check_eq "evacuate $A --live --dry-run exits 0" 0 "$rc"
echo "$out" | sed 's/^/        /'
check "the plan lists the four domains" test "$(grep -cE '^ev[1-4] ' <<<"$out")" = 4
dry_plan=$(awk '$1 ~ /^ev[1-4]$/ {print $1, $2, $3}' <<<"$out")
p1=$(awk '$1 == "ev1" {print $3}' <<<"$out")
p2=$(awk '$1 == "ev2" {print $3}' <<<"$out")
check "the plan puts ev1 ($p1) and ev2 ($p2) on different nodes" \
        test -n "$p1" -a -n "$p2" -a "$p1" != "$p2" -a "$p1" != - -a "$p2" != -
check "the plan moves ev1-ev3 live with their disks, ev4 cold" \
        test "$(grep -cE '^ev[1-3] +live\+disks' <<<"$out") $(grep -cE '^ev4 +cold' <<<"$out")" = "3 1"
check "dry run: $A still enabled" test "$(enabled "$A" enabled)" = True
check "dry run: no evacuation recorded" test -z "$(ev_field id)"
check "dry run: every domain still on $A" test "$(where ev1)$(where ev2)$(where ev3)$(where ev4)" = "$A$A$A$A"

out=$(on "$C" migratectl evacuate "$A" --live --wait 2>&1)
rc=$?
check_eq "evacuate $A --live --wait (run on $C, forwarded) exits 0" 0 "$rc"
echo "$out" | sed 's/^/        /'
check "the plan it ran is the dry run's" test "$(awk '$1 ~ /^ev[1-4]$/ && $2 ~ /^(live|cold)/ {print $1, $2, $3}' <<<"$out")" = "$dry_plan"
check "the watch printed a done row per domain" test "$(grep -cE '^ev[1-4] +done ' <<<"$out")" = 4
for d in ev1 ev2 ev3 ev4; do
        w=$(where $d)
        check "$d is on one node, not $A ($w)" test "$w" = "$B" -o "$w" = "$C"
        check "$d's disk content is unchanged on $w" same_content "$w" $IMAGES/$d.qcow2 "${sum[$d]}"
done
check "ev1 and ev2 on different nodes ($(where ev1), $(where ev2))" test "$(where ev1)" != "$(where ev2)"
for d in ev1 ev2 ev3; do check "$d runs on exactly one node" test "$(runs_on $d)" = 1; done
check "ev4 is shut off on $(where ev4), its move confirmed" \
        test "$(state "$(where ev4)" ev4)" = "shut off" -a "$(on "$A" migratectl --json show ev4 |
                python3 -c 'import json,sys; print(json.load(sys.stdin).get("Status"))')" = confirmed
check "$A's copies are gone" file_absent "$A" $IMAGES/ev4.qcow2
check "$A is disabled" test "$(enabled "$A" enabled)" = False
check "... saying evacuating" grep -q evacuating <<<"$(enabled "$A" disabled-reason)"
check_eq "the evacuation is completed" completed "$(ev_field status)"
check_eq "4 done, 0 failed" "4 0" "$(ev_field done) $(ev_field failed)"
check "evacuations lists it" grep -qE "^$A .*completed" <<<"$(on "$B" migratectl evacuations)"
check "watch $A after the end exits 0" on "$A" migratectl watch "$A"
obj=$(ev_field object)
check "the Evacuation object $obj matches dbus/org.example.Migrate1.Evacuation.xml" sh -c \
        "nsenter -t $(cat "$(_cluster_node_dir "$A")/init.pid") -m -n -u -- busctl introspect --xml-interface \
         org.example.Migrate1 $obj \
         | python3 $HERE/compare-introspection.py $SRC/dbus/org.example.Migrate1.Evacuation.xml org.example.Migrate1.Evacuation"
out=$(on "$A" migratectl evacuate "$A" 2>&1)
check "a second evacuate while the first is recorded but ended starts anew (nothing to move)" \
        grep -q "0 to move" <<<"$out"

# ---------------------------------------------------------------------------
say "a domain that fits nowhere: nv1 (anti-affinity 'web', members on $B and $C) is left running"
on "$A" migratectl host-enable "$A" >/dev/null
running "$A" nv1
group nv1 web anti-affinity
shutoff "$A" ev5
out=$(on "$A" migratectl evacuate "$A" --wait 2>&1)
rc=$?
echo "$out" | sed 's/^/        /'
check_eq "evacuate $A --wait exits 1 (one domain could not move)" 1 "$rc"
check_eq "the evacuation is completed" completed "$(ev_field status)"
check_eq "nv1 failed" failed "$(ev_item nv1 status)"
why=$(ev_item nv1 error)
check "... with the reason naming both members' nodes ($why)" \
        test -n "$(grep 'no valid host' <<<"$why" | grep "$B" | grep "$C")"
check "nv1 still runs on $A, only there" test "$(where nv1) $(runs_on nv1)" = "$A 1"
check "ev5 moved (cold, confirmed)" test "$(where ev5)" != "$A" -a "$(where ev5)" != several

# ---------------------------------------------------------------------------
say "cancel midway: c1..c3 live, one at a time, 1 MiB/s"
on "$A" migratectl host-enable "$A" >/dev/null
on "$A" virsh destroy nv1 >/dev/null 2>&1; on "$A" virsh undefine nv1 >/dev/null 2>&1
for d in c1 c2 c3; do running "$A" $d 32 8; done
check "evacuate $A --live --max-parallel 1 --bandwidth 1 exits 0" \
        on "$A" migratectl evacuate "$A" --live --max-parallel 1 --bandwidth 1
check "c1 moves first (the plan is in name order)" wait_until 20 item_is c1 migrating
check "evacuation-cancel $A exits 0" on "$A" migratectl evacuation-cancel "$A"
check "the evacuation ends cancelled" wait_until 60 ev_status_is cancelled
c1_status=$(ev_item c1 status)
if [ "$c1_status" = done ]; then # it finished before the abort reached libvirt
        check "c1 (done before the abort) runs exactly once, not on $A" \
                test "$(where c1)" != "$A" -a "$(where c1)" != several -a "$(runs_on c1)" = 1
else
        check "c1 ($c1_status: aborted) runs exactly once, on $A" test "$(where c1) $(runs_on c1)" = "$A 1"
fi
for d in c2 c3; do
        check "$d runs exactly once, on $A" test "$(where $d) $(runs_on $d)" = "$A 1"
done
check_eq "c2 was not moved" not-moved "$(ev_item c2 status)"
check_eq "c3 was not moved" not-moved "$(ev_item c3 status)"
check "$A stays disabled" test "$(enabled "$A" enabled)" = False

# ---------------------------------------------------------------------------
say "the daemon killed during an evacuation goes on after its restart"
on "$A" migratectl host-enable "$A" >/dev/null
check "evacuate $A --live --max-parallel 1 --bandwidth 4 exits 0" \
        on "$A" migratectl evacuate "$A" --live --max-parallel 1 --bandwidth 4
check "c1 moves" wait_until 20 item_is c1 migrating
stop_daemon "$A"
check "the daemon on $A is gone" no_daemon "$A"
out=$(on "$A" timeout 180 migratectl watch "$A" 2>&1) # D-Bus activation starts it again
rc=$?
echo "$out" | tail -n 8 | sed 's/^/        /'
# c1's move was in flight when the daemon died: libvirt may have finished or abandoned it
# (the live recovery says which); either way it runs once, and the evacuation goes on.
check "watch $A (the restarted daemon) follows it to its end (exit $rc)" test "$rc" = 0 -o "$rc" = 1
check_eq "the evacuation is completed" completed "$(ev_field status)"
check "c1 runs exactly once ($(where c1))" test "$(where c1)" != several -a "$(runs_on c1)" = 1
for d in c2 c3; do
        w=$(where $d)
        check "$d moved after the restart: runs exactly once, on $w" \
                test "$w" != "$A" -a "$w" != several -a "$(runs_on $d)" = 1
done

# ---------------------------------------------------------------------------
say "restore: what the last evacuation moved away and is still there comes back; $A enabled"
w3=$(where c3)
if [ "$w3" = "$B" ]; then other=$C; else other=$B; fi
check "c3 moved on by hand: $w3 -> $other" \
        on "$w3" migratectl migrate c3 --live --block-migration --host "$other" --wait
c1_done=$(ev_item c1 status)
sum2=$(content_sum "$(where c2)" $IMAGES/c2.qcow2)
out=$(on "$B" migratectl restore "$A" --wait 2>&1)
rc=$?
echo "$out" | sed 's/^/        /'
check_eq "restore $A --wait (run on $B, forwarded) exits 0" 0 "$rc"
check_eq "the restore is completed" "restore completed" "$(ev_field kind) $(ev_field status)"
check "$A is enabled again" test "$(enabled "$A" enabled)" = True
check "c2 is back on $A, running once" test "$(where c2) $(runs_on c2)" = "$A 1"
check "c2's disk content is unchanged" same_content "$A" $IMAGES/c2.qcow2 "$sum2"
check_eq "c3 (no longer where the evacuation put it) is not moved" not-moved "$(ev_item c3 status)"
check "... and stays on $other, running once" test "$(where c3) $(runs_on c3)" = "$other 1"
if [ "$c1_done" = done ]; then
        check "c1 (moved by that evacuation) is back on $A" test "$(where c1) $(runs_on c1)" = "$A 1"
fi

finish "$A" "$B" "$C"
