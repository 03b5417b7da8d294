#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The installed daemon on a real 2-node bench (own system bus, real polkitd,
# sshd between the nodes), driven with migratectl, busctl and gdbus:
#   - D-Bus activation on the first call (and of the peer's daemon over SSH)
#   - polkit: every admin verb refused to `nobody` (exit 3), nothing changed;
#     read verbs work for nobody
#   - busconfig: the Peer interface refused to nobody, allowed to root
#   - bad input: exit 8, nothing changed (the daemon refuses it too)
#   - migratectl -H: another node's view
#   - a call on any node reaches the node holding the domain (groups)
#   - host state survives SIGKILL of the daemon
#   - a peer whose sshd is gone: listed unreachable, admin calls exit 7
# Needs `tools/build-install` first (nodes share /usr with the host).
# Exit 0 pass, 1 fail, 77 skip.

set -u -o pipefail

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tda}                     # instance of this test only
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-204}

BUS=org.example.Migrate1
OBJ=/org/example/Migrate1
META_NS=http://example.org/migrate/1
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)

# ---------------------------------------------------------------------------
# helpers

# run NODE CMD...: run CMD on NODE; sets RC, OUT and ERR (never fails).
RC=0 OUT='' ERR=''
run() {
    local node=$1
    shift
    cluster_run "$node" "$@" >"$T/out" 2>"$T/err" </dev/null
    RC=$?
    OUT=$(cat "$T/out")
    ERR=$(cat "$T/err")
    return 0
}
# Prints what the last run wrote to stderr, indented (for the log).
show_err() { [ -n "$ERR" ] && printf '%s\n' "$ERR" | head -n 3 | cut -c1-200 | sed 's/^/        | /'; return 0; }

# pyj EXPR [ARGS...] < JSON: Python expression over d (the JSON) and a (ARGS);
# strings print raw, everything else as JSON (true, false, null, 3, [...]).
pyj() {
    python3 -c '
import json, sys
d = json.load(sys.stdin)
a = sys.argv[2:]
try:
    v = eval(sys.argv[1])
except Exception as e:
    print("<%s: %s>" % (type(e).__name__, e))
    sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))
' "$@"
}
# host_field JSON NODE KEY: KEY of NODE's entry in a `migratectl --json hosts` answer.
host_field() {
    pyj '([h for h in d if h.get("node") == a[0]] or [{}])[0].get(a[1])' "$2" "$3" <<<"$1"
}

no_pid() { ! kill -0 "$1" 2>/dev/null; }
no_sshd() { [ -z "$(node_pids "$1" sshd)" ]; }

# What the operator-visible state is: host states, migrations, groups (from A),
# and the group metadata of both domains (from their nodes).
snapshot() {
    local h m g
    cluster_run "$A" migratectl --json hosts </dev/null 2>/dev/null >"$T/snap-h"
    h=$(pyj '[[x.get("node"), x.get("enabled"), x.get("disabled-reason")] for x in d]' <"$T/snap-h")
    m=$(cluster_run "$A" migratectl --json migrations </dev/null 2>/dev/null | pyj 'len(d)')
    g=$(cluster_run "$A" migratectl --json groups </dev/null 2>/dev/null | pyj 'd')
    echo "hosts=$h migrations=$m groups=$g"
    echo "meta $DOMA=$(cluster_run "$A" virsh -q metadata "$DOMA" "$META_NS" 2>/dev/null </dev/null)"
    echo "meta $DOMB=$(cluster_run "$B" virsh -q metadata "$DOMB" "$META_NS" 2>/dev/null </dev/null)"
}

# ---------------------------------------------------------------------------

cluster_require_root
for t in python3 setpriv gdbus /usr/libexec/migrated migratectl; do
    command -v "$t" >/dev/null || { echo "SKIP: needs $t (run tools/build-install first)" >&2; exit 77; }
done

say "bringing up 2 nodes (instance $NAME)"
bench_up "$NAME" 2
IPA=$(cluster_ip "$A")
IPB=$(cluster_ip "$B")
T=$CLUSTER_ROOT/$NAME/test            # scratch files, removed with the bench
mkdir -p "$T"
DOMA=vm${NAME}a                        # a domain on A and one on B
DOMB=vm${NAME}b

# ---------------------------------------------------------------------------
say "D-Bus activation"
check_eq "no migrated runs on $A before the first call" "" "$(node_pids "$A" migrated)"
check_eq "no migrated runs on $B before the first call" "" "$(node_pids "$B" migrated)"
run "$A" migratectl hosts
check_eq "first 'migratectl hosts' on $A exits 0" 0 "$RC"; show_err
printf '%s\n' "$OUT" | sed 's/^/        | /'
check "$A's dbus-daemon activated migrated" daemon_runs "$A"
check "$B's daemon was activated over SSH by $A's call" daemon_runs "$B"
check "the table lists $A and $B" \
    bash -c 'grep -q "^$1 " <<<"$3" && grep -q "^$2 " <<<"$3"' _ "$A" "$B" "$OUT"
run "$A" migratectl --json hosts
H=$OUT
check_eq "--json hosts exits 0" 0 "$RC"
check_eq "$A is the local entry" true "$(host_field "$H" "$A" local)"
check_eq "$B is not local" false "$(host_field "$H" "$B" local)"
check_eq "$B is reachable" true "$(host_field "$H" "$B" reachable)"
for n in "$A" "$B"; do
    check "$n has memory and vCPU figures" \
        test "$(pyj '(lambda h: h.get("memory-total", 0) > 0 and h.get("memory-free", -1) >= 0
                      and h.get("vcpus", 0) > 0 and "vcpus-used" in h)(
                      [x for x in d if x.get("node") == a[0]][0])' "$n" <<<"$H")" = true
done

# Domains from here on: the libvirt hook reports their events to the daemon.
say "domains: $DOMA on $A, $DOMB on $B"
cluster_define_domain "$A" "$DOMA" --running >/dev/null || { echo "FAIL: cannot define $DOMA"; exit 1; }
cluster_define_domain "$B" "$DOMB" --running >/dev/null || { echo "FAIL: cannot define $DOMB"; exit 1; }
# A known group on each, to see that refused calls leave it alone.
run "$A" migratectl group-set "$DOMA" db affinity
check_eq "root: group-set $DOMA db affinity exits 0" 0 "$RC"; show_err
run "$A" migratectl group-set "$DOMB" db affinity
check_eq "root: group-set $DOMB db affinity (forwarded to $B) exits 0" 0 "$RC"; show_err
run "$A" migratectl plan "$DOMB"
check_eq "root: plan $DOMB on $A (it is on $B) is forwarded to $B and exits 0" 0 "$RC"; show_err
check "... $B answered it: $B holds the domain" grep -qE "^$B +refused .*the domain is on this node" <<<"$OUT"
run "$A" migratectl plan no-such-domain
check_eq "root: plan of a domain no node holds -> 4" 4 "$RC"
check "... saying no reachable node has it" grep -q "any reachable node" <<<"$ERR"
before=$(snapshot)
printf '%s\n' "$before" | sed 's/^/        state: /'

# ---------------------------------------------------------------------------
say "polkit: admin verbs refused to nobody"
verbs=("host-disable $B --reason x" "host-enable $B" "group-set $DOMA web anti-affinity"
       "group-clear $DOMA" "group-set $DOMB web anti-affinity" "migrate $DOMA" "confirm $DOMA"
       "revert $DOMA" "abort $DOMA" "force-complete $DOMA" "evacuate $B" "evacuation-cancel $B"
       "restore $B")
for v in "${verbs[@]}"; do
    # shellcheck disable=SC2086  # the verb line is split on purpose
    run "$A" "${NOBODY[@]}" migratectl --no-ask-password $v
    if [ "$RC" = 3 ] && grep -qiE 'denied|not allow|not authori' <<<"$ERR"; then
        ok "nobody: migratectl $v -> exit 3: $(head -n1 <<<"$ERR" | cut -c1-110)"
    else
        bad "nobody: migratectl $v -> exit $RC (want 3, access denied)"; show_err
    fi
done
check "polkitd was asked (it runs on $A)" test -n "$(node_pids "$A" polkitd)"
after=$(snapshot)
check_eq "nothing changed after the refused calls" "$before" "$after"
check_eq "$B still enabled" true "$(host_field "$(cluster_run "$A" migratectl --json hosts </dev/null)" "$B" enabled)"

# ---------------------------------------------------------------------------
say "polkit details: a rule per domain and per node (README's example)"
# A's own rules folder (the bench gives each node one). The rule lets nobody change the
# groups of $DOMA only and enable or disable $B only; polkitd reloads rules on change.
RULE=/etc/polkit-1/rules.d/60-migrated-test.rules
cluster_run "$A" sh -c "cat >$RULE" <<EOF
polkit.addRule(function(action, subject) {
    if (subject.user == "nobody" && action.id == "org.example.migrate1.manage-groups" &&
        action.lookup("domain") == "$DOMA")
        return polkit.Result.YES;
    if (subject.user == "nobody" && action.id == "org.example.migrate1.manage-hosts" &&
        action.lookup("node") == "$B")
        return polkit.Result.YES;
});
EOF
sleep 2
run "$A" "${NOBODY[@]}" migratectl --no-ask-password group-set "$DOMA" polk anti-affinity
check_eq "nobody with the rule: group-set $DOMA exits 0" 0 "$RC"; show_err
run "$A" "${NOBODY[@]}" migratectl --no-ask-password group-set "$DOMB" polk anti-affinity
check_eq "nobody with the rule: group-set $DOMB -> 3 (the rule names $DOMA only)" 3 "$RC"
run "$A" "${NOBODY[@]}" migratectl --no-ask-password host-enable "$B"
check_eq "nobody with the rule: host-enable $B exits 0" 0 "$RC"; show_err
run "$A" "${NOBODY[@]}" migratectl --no-ask-password host-enable "$A"
check_eq "nobody with the rule: host-enable $A -> 3 (the rule names $B only)" 3 "$RC"
cluster_run "$A" rm -f "$RULE"
run "$A" migratectl group-set "$DOMA" db affinity
check_eq "root: $DOMA back in group db" 0 "$RC"; show_err
sleep 2
run "$A" "${NOBODY[@]}" migratectl --no-ask-password group-set "$DOMA" polk anti-affinity
check_eq "rule removed: nobody's group-set $DOMA -> 3 again" 3 "$RC"
check_eq "state as before the rule" "$before" "$(snapshot)"

say "read verbs work for nobody"
for v in hosts domains migrations groups "show $DOMA" "show $DOMB"; do
    # shellcheck disable=SC2086
    run "$A" "${NOBODY[@]}" migratectl --no-ask-password $v
    check_eq "nobody: migratectl $v exits 0" 0 "$RC"; show_err
done

# ---------------------------------------------------------------------------
say "busconfig: the Peer interface is root's"
run "$A" "${NOBODY[@]}" busctl call "$BUS" "$OBJ" "$BUS.Peer" Ping
check "nobody: busctl ... Peer Ping fails" test "$RC" != 0
run "$A" "${NOBODY[@]}" gdbus call --system --dest "$BUS" --object-path "$OBJ" --method "$BUS.Peer.Ping"
if [ "$RC" != 0 ] && grep -q 'org.freedesktop.DBus.Error.AccessDenied: Rejected send message' <<<"$ERR"; then
    ok "nobody: Peer.Ping -> AccessDenied from dbus-daemon's policy"
else
    bad "nobody: Peer.Ping -> exit $RC, not the busconfig's AccessDenied"; show_err
fi
run "$A" busctl call "$BUS" "$OBJ" "$BUS.Peer" Ping
check_eq "root: Peer Ping answers with the node name" "s \"$A\"" "$OUT"; show_err

# ---------------------------------------------------------------------------
say "bad input: exit 8, nothing changes"
long=$(printf 'x%.0s' $(seq 201))
for d in '' 'a;b' '$(reboot)' "$long" '../x'; do
    label=${d:0:20}; [ ${#d} -gt 20 ] && label="${#d} characters"
    for v in "group-set|web|anti-affinity" "group-clear" "migrate" "confirm" "revert" "abort" \
             "force-complete" "show"; do
        IFS='|' read -r -a words <<<"$v"
        run "$A" migratectl "${words[0]}" "$d" "${words[@]:1}"
        if [ "$RC" = 8 ]; then ok "migratectl ${words[0]} '$label' -> 8"
        else bad "migratectl ${words[0]} '$label' -> $RC (want 8)"; show_err; fi
    done
done
for v in "host-disable nosuch --reason x" "host-enable nosuch" "evacuate nosuch" \
         "host-disable $B --reason $(printf 'r%.0s' $(seq 256))"; do
    # shellcheck disable=SC2086
    run "$A" migratectl $v
    check_eq "migratectl ${v:0:40} -> 8" 8 "$RC"; show_err
done
# The daemon checks on its own, whoever calls it (migratectl validated above).
for call in "SetGroup sssb a;b web anti-affinity false" "SetGroup sssb $long web anti-affinity false" \
            "SetGroup sssb $DOMA web no-such-policy false" "ClearGroup sb ../x false" \
            "DisableHost ssb nosuch x false" "Migrate ssa{sv}b \$(reboot) $B 0 false"; do
    # shellcheck disable=SC2086
    run "$A" busctl call "$BUS" "$OBJ" "$BUS.Manager" $call
    check "daemon refuses ${call:0:45}" test "$RC" != 0 -a -n "$ERR"
done
run "$A" gdbus call --system --dest "$BUS" --object-path "$OBJ" --method "$BUS.Manager.SetGroup" \
    'a;b' web anti-affinity false
check "the daemon's refusal is org.example.Migrate1.Error.InvalidArgument" \
    grep -q "$BUS.Error.InvalidArgument" <<<"$ERR"
check_eq "nothing changed after the bad input" "$before" "$(snapshot)"

# ---------------------------------------------------------------------------
say "migratectl -H root@$IPB (from $A): $B's view"
run "$A" migratectl -H "root@$IPB" --json hosts
check_eq "exit 0" 0 "$RC"; show_err
check_eq "$B is the local entry" true "$(host_field "$OUT" "$B" local)"
check_eq "$A is a peer there" false "$(host_field "$OUT" "$A" local)"
check_eq "$A's address there is root@$IPA" "root@$IPA" "$(host_field "$OUT" "$A" address)"

# ---------------------------------------------------------------------------
say "a call on any node reaches the node holding the domain"
run "$A" migratectl group-set "$DOMB" web anti-affinity
check_eq "on $A: group-set $DOMB web anti-affinity exits 0" 0 "$RC"; show_err
run "$B" virsh -q metadata "$DOMB" "$META_NS"
check "$B's libvirt metadata of $DOMB holds the group: $OUT" \
    grep -qE "<([a-z]+:)?group [^>]*name=\"web\"[^>]*policy=\"anti-affinity\"" <<<"$OUT"
run "$A" migratectl --json groups
check "on $A: groups lists web (anti-affinity) with $DOMB on $B" \
    test "$(pyj '[[g["policy"], g["members"], g.get("nodes")] for g in d if g["name"] == "web"]' <<<"$OUT")" \
         = "[[\"anti-affinity\", [\"$DOMB\"], [\"$B\"]]]"
run "$A" migratectl groups
check "on $A: the groups table shows web" grep -qE "^web +anti-affinity +$DOMB" <<<"$OUT"
run "$A" migratectl group-clear "$DOMB"
check_eq "on $A: group-clear $DOMB exits 0" 0 "$RC"; show_err
run "$B" virsh -q metadata "$DOMB" "$META_NS"
check "$B's metadata of $DOMB has no group any more" test "$RC" != 0 -o -z "$OUT"
run "$A" migratectl --json groups
check_eq "on $A: groups no longer lists $DOMB" "[]" \
    "$(pyj '[g for g in d if a[0] in g["members"]]' "$DOMB" <<<"$OUT")"

# ---------------------------------------------------------------------------
say "durable host state: SIGKILL of $B's daemon"
run "$A" migratectl host-disable "$B" --reason maintenance
check_eq "on $A: host-disable $B --reason maintenance exits 0" 0 "$RC"; show_err
pid=$(node_pids "$B" migrated | head -n1)
check "$B's daemon runs (pid ${pid:-none})" test -n "$pid"
if [ -n "$pid" ]; then
    kill -9 "$pid"
    check "$B's daemon (pid $pid) is gone after kill -9" wait_until 10 no_pid "$pid"
fi
run "$A" migratectl --json hosts
check_eq "on $A: hosts exits 0" 0 "$RC"; show_err
check_eq "$B shows disabled" false "$(host_field "$OUT" "$B" enabled)"
check_eq "$B's reason is maintenance" maintenance "$(host_field "$OUT" "$B" disabled-reason)"
newpid=$(node_pids "$B" migrated | head -n1)
check "$B's daemon was activated again (pid ${newpid:-none})" test -n "$newpid" -a "$newpid" != "${pid:-}"
run "$B" migratectl --json hosts
check_eq "on $B itself: disabled too" false "$(host_field "$OUT" "$B" enabled)"
run "$A" migratectl host-enable "$B"
check_eq "on $A: host-enable $B exits 0" 0 "$RC"; show_err
run "$A" migratectl --json hosts
check_eq "$B enabled again" true "$(host_field "$OUT" "$B" enabled)"

# ---------------------------------------------------------------------------
say "peer unreachable: $B's sshd stopped"
# The listener and its sessions: $A's daemon keeps one SSH connection open and
# would go on using it if only the listener went away.
sshd=$(node_pids "$B" sshd | tr '\n' ' ')
check "sshd runs on $B ($sshd)" test -n "$sshd"
# shellcheck disable=SC2086
[ -n "$sshd" ] && kill $sshd
check "no sshd left on $B" wait_until 10 no_sshd "$B"
run "$A" timeout 60 migratectl --json hosts
check_eq "on $A: hosts exits 0" 0 "$RC"; show_err
check_eq "$B is reachable: false" false "$(host_field "$OUT" "$B" reachable)"
err=$(host_field "$OUT" "$B" error)
check "$B's entry carries an error: $err" test -n "$err" -a "$err" != null
check_eq "$A is still listed, local" true "$(host_field "$OUT" "$A" local)"
run "$A" timeout 60 migratectl host-disable "$B" --reason x
check_eq "on $A: host-disable $B -> 7 (peer unreachable)" 7 "$RC"
check "the message names $B: $(head -n1 <<<"$ERR" | cut -c1-110)" grep -q "$B" <<<"$ERR"
run "$A" timeout 60 migratectl -H "root@$IPB" hosts
check_eq "on $A: migratectl -H root@$IPB hosts -> 7" 7 "$RC"; show_err

# ---------------------------------------------------------------------------
finish "$A" "$B"
