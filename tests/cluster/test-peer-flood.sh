#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Unprivileged read calls against an unreachable peer (issue 11, item 6), on a real
# 3-node bench: A asks, B goes away for real, C stays.
#   - every ssh that A's daemon starts is counted (a wrapper bind-mounted over
#     /usr/bin/ssh in A's mount namespace only), and the lines of A's log about B
#   - B's sshd stopped (connections refused at once), then 40 read calls from
#     `nobody` on A at once (ListHosts, ListDomains, ListGroups, DescribeDomain,
#     ListDomainEvents): every call answers, the listings show B unreachable and C
#     as before; a few ssh at most, one log line for B's change
#   - a step during the back-off (host-disable B as root) still tries (steps are never
#     held back), and fails at once: exit 7, one more ssh, no more log lines
#   - B's sshd back: a listing shows B reachable within the back-off bound, one
#     log line for that change
#   - B's link down (an established connection hangs until ssh gives up), the same
#     40 calls: the same bounds; link up: reachable again within the bound
# The figures (ssh started, log lines) are printed as FIGURES lines.
# Needs `meson install` (or tools/build-install) first. Exit 0 pass, 1 fail, 77 skip.

set -u -o pipefail

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tpf}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-216}

BUS=org.example.Migrate1
OBJ=/org/example/Migrate1
NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
RECOVER_BOUND=40 # s: the longest back-off (30 s) plus an ssh connection, with room

# ---------------------------------------------------------------------------
# helpers

# pyj EXPR [ARGS...] < JSON: a Python expression over d (the JSON) and a (ARGS).
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

# The entry of NODE in a `busctl --json=short call ... ListHosts` answer, KEY of it.
host_key() {
    pyj '([{k: v["data"] for k, v in h.items()} for h in d["data"][0]
           if h.get("node", {}).get("data") == a[0]] or [{}])[0].get(a[1])' "$2" "$3" <"$1"
}

# lines FILE FROM: the lines of FILE after line FROM.
lines() { tail -n +"$(($2 + 1))" "$1" 2>/dev/null; }
count() { grep -c -- "$1" || true; }

# The ssh processes A's daemon started to NODE's address since line FROM of the spawn log.
spawns_to() { lines "$SPAWNS" "$2" | count "@$(cluster_ip "$1") "; }
# Lines of A's daemon about peer NODE (its own), and ssh's own complaints, since line FROM.
log_about() { lines "$LOG" "$2" | grep -v '^ssh: ' | count "Peer $1 "; }
ssh_lines() { lines "$LOG" "$2" | grep '^ssh: ' | count "$(cluster_ip "$1")"; }
mark() { wc -l <"$1"; }
no_sshd() { [ -z "$(node_pids "$1" sshd)" ]; }
# within SECONDS COMMAND...: COMMAND until it succeeds, for at most SECONDS of wall time
# (wait_until counts tries, and a listing can take 15 s while a connection hangs).
within() {
    local end=$((SECONDS + $1))
    shift
    while [ "$SECONDS" -lt "$end" ]; do "$@" && return 0; sleep 0.2; done
    return 1
}

# listing [USER...]: one ListHosts on A into $T/hosts.json (as nobody unless told).
listing() {
    cluster_run "$A" "${NOBODY[@]}" timeout 60 busctl --json=short call "$BUS" "$OBJ" "$BUS.Manager" ListHosts \
        >"$T/hosts.json" 2>/dev/null </dev/null
}
b_reachable() { listing && [ "$(host_key "$T/hosts.json" "$B" reachable)" = true ]; }
b_known_down() {
    listing && host_key "$T/hosts.json" "$B" error | grep -q 'unreachable since'
}

# flood TAG: the 40 calls at once from nobody on A; TAG/N.{call,rc,out,err}.
flood() {
    local dir=$T/$1 i=0 call pids=()
    mkdir -p "$dir"
    for call in "${CALLS[@]}"; do
        i=$((i + 1))
        echo "$call" >"$dir/$i.call"
        (
            # shellcheck disable=SC2086  # the call line is split on purpose
            cluster_run "$A" "${NOBODY[@]}" timeout 60 busctl --json=short call "$BUS" "$OBJ" "$BUS.Manager" \
                $call >"$dir/$i.out" 2>"$dir/$i.err" </dev/null
            echo $? >"$dir/$i.rc"
        ) &
        pids+=($!)
    done
    wait "${pids[@]}" # not a bare wait: the nodes' first processes are children of this shell too
}

# check_flood TAG: what every one of the 40 calls answered.
check_flood() {
    local dir=$T/$1 i call rc answered=0 wrong=0 hosts=0 hosts_ok=0 domains=0 domains_ok=0 why=''
    for ((i = 1; i <= ${#CALLS[@]}; i++)); do
        call=$(cat "$dir/$i.call")
        rc=$(cat "$dir/$i.rc" 2>/dev/null || echo none)
        [ "$rc" != none ] && [ "$rc" != 124 ] && answered=$((answered + 1))
        case $call in
        ListHosts)
            hosts=$((hosts + 1))
            if [ "$rc" = 0 ] && [ "$(host_key "$dir/$i.out" "$B" reachable)" = false ] &&
                [ "$(host_key "$dir/$i.out" "$C" reachable)" = true ] &&
                [ "$(host_key "$dir/$i.out" "$A" local)" = true ]; then
                hosts_ok=$((hosts_ok + 1))
                why=$(host_key "$dir/$i.out" "$B" error)
            fi ;;
        ListDomains)
            domains=$((domains + 1))
            if [ "$rc" = 0 ] && grep -q "\"$DOMC\"" "$dir/$i.out" && ! grep -q "\"$DOMB\"" "$dir/$i.out"; then
                domains_ok=$((domains_ok + 1))
            fi ;;
        "DescribeDomain s $DOMB")
            # Not on A, not on C, B unreachable: NotFound naming B.
            if [ "$rc" = 0 ] || ! grep -q "$B" "$dir/$i.err"; then
                wrong=$((wrong + 1)); echo "        | $call -> $rc: $(head -c 200 "$dir/$i.err")"
            fi ;;
        *)
            if [ "$rc" != 0 ]; then
                wrong=$((wrong + 1)); echo "        | $call -> $rc: $(head -c 200 "$dir/$i.err")"
            fi ;;
        esac
    done
    check_eq "$1: all ${#CALLS[@]} calls answered" "${#CALLS[@]}" "$answered"
    check_eq "$1: every other call answered as it should" 0 "$wrong"
    check_eq "$1: every ListHosts shows $B unreachable, $C reachable, $A local" "$hosts" "$hosts_ok"
    check_eq "$1: every ListDomains has $DOMC (on $C), not $DOMB (on $B)" "$domains" "$domains_ok"
    echo "        $B's entry: ${why:-none}"
}

# ---------------------------------------------------------------------------

cluster_require_root
for t in python3 setpriv busctl /usr/libexec/migrated migratectl; do
    command -v "$t" >/dev/null || { echo "SKIP: needs $t (run meson install first)" >&2; exit 77; }
done

say "bringing up 3 nodes (instance $NAME)"
bench_up "$NAME" 3
C=${NAME}c
IPB=$(cluster_ip "$B")
T=$CLUSTER_ROOT/$NAME/test
mkdir -p "$T"
LOG=$(_cluster_node_dir "$A")/bus.log
SPAWNS=$T/ssh-spawns
touch "$LOG" "$SPAWNS"

# Count every ssh started on A: the wrapper logs its arguments and runs the real one.
say "counting the ssh processes started on $A"
touch "$T/ssh.real"
cat >"$T/ssh-wrapper" <<EOF
#!/bin/sh
echo "\$(date +%s.%N) \$*" >>"$SPAWNS"
exec "$T/ssh.real" "\$@"
EOF
chmod 755 "$T/ssh-wrapper"
if ! cluster_run "$A" mount --bind /usr/bin/ssh "$T/ssh.real" ||
    ! cluster_run "$A" mount --bind "$T/ssh-wrapper" /usr/bin/ssh; then
    fail "cannot put the ssh wrapper in place on $A"
fi
cluster_run "$A" ssh -V 2>/dev/null </dev/null
check "the wrapper counts on $A" test "$(wc -l <"$SPAWNS")" -ge 1
check "... and only there" test "$(wc -l <"$SPAWNS")" -eq "$(ssh -V 2>/dev/null; wc -l <"$SPAWNS")"

DOMB=vm${NAME}b
DOMC=vm${NAME}c
cluster_define_domain "$B" "$DOMB" --running >/dev/null || fail "cannot define $DOMB"
cluster_define_domain "$C" "$DOMC" --running >/dev/null || fail "cannot define $DOMC"
UUIDC=$(cluster_run "$C" virsh domuuid "$DOMC" </dev/null | head -n1)

CALLS=()
for _ in $(seq 12); do CALLS+=("ListHosts"); done
for _ in $(seq 8); do CALLS+=("ListDomains"); done
for _ in $(seq 6); do CALLS+=("ListGroups"); done
for _ in $(seq 4); do CALLS+=("DescribeDomain s $DOMC" "DescribeDomain s $DOMB"); done
for _ in $(seq 6); do CALLS+=("ListDomainEvents s $UUIDC"); done

say "all reachable"
check "a listing on $A shows $B reachable (daemons activated)" within 30 b_reachable
check_eq "... and $C" true "$(host_key "$T/hosts.json" "$C" reachable)"
s0=$(mark "$SPAWNS")
flood warm
c_before=$(spawns_to "$C" 0)
check_eq "40 calls with every peer up start no ssh" 0 "$(($(mark "$SPAWNS") - s0))"

# ---------------------------------------------------------------------------
say "$B's sshd stopped (connections refused), then 40 read calls from nobody at once"
s1=$(mark "$SPAWNS")
l1=$(mark "$LOG")
sshd=$(node_pids "$B" sshd | tr '\n' ' ')
# shellcheck disable=SC2086
[ -n "$sshd" ] && kill $sshd
check "no sshd left on $B" wait_until 10 no_sshd "$B"
sleep 3 # the answers A kept from B (2 s) are gone: what follows asks B
t=$SECONDS
flood refused
echo "        40 calls took $((SECONDS - t)) s"
check_flood refused
n_ssh=$(spawns_to "$B" "$s1")
n_log=$(log_about "$B" "$l1")
n_sshlog=$(ssh_lines "$B" "$l1")
echo "FIGURES refused: ssh started to $B: $n_ssh; log lines about $B: $n_log (+ $n_sshlog of ssh's own)"
lines "$LOG" "$l1" | grep -- "$B\|$IPB" | head -n 5 | cut -c1-220 | sed 's/^/        log: /'
check "refused: at most 3 ssh to $B for 40 calls (got $n_ssh)" test "$n_ssh" -le 3
check_eq "refused: one log line about $B (its change to unreachable)" 1 "$n_log"
check_eq "refused: that line says so" 1 "$(lines "$LOG" "$l1" | count "Peer $B .* is unreachable")"
check "refused: no more of ssh's own lines than ssh started" test "$n_sshlog" -le "$n_ssh"
check_eq "refused: no ssh to $C (its connection is reused)" "$c_before" "$(spawns_to "$C" 0)"

say "a step during the back-off is not held back: it tries, and fails at once"
t=$(date +%s%N)
cluster_run "$A" timeout 60 migratectl host-disable "$B" --reason flood >/dev/null 2>"$T/step.err" </dev/null
rc=$?
ms=$((($(date +%s%N) - t) / 1000000))
check_eq "root: host-disable $B -> 7 (peer unreachable) in $ms ms" 7 "$rc"
check "... within 3 s" test "$ms" -lt 3000
check "... naming $B: $(head -n1 "$T/step.err" | cut -c1-150)" grep -q "$B" "$T/step.err"
check_eq "... with one ssh of its own" 1 "$(($(spawns_to "$B" "$s1") - n_ssh))"
check_eq "... and no log line" 1 "$(log_about "$B" "$l1")"

say "$B's sshd back: reachable again within the back-off bound"
l2=$(mark "$LOG")
cluster_run "$B" /usr/sbin/sshd -f "$(_cluster_node_dir "$B")/sshd_config" -E "$(_cluster_node_dir "$B")/sshd.log" </dev/null
t=$SECONDS
check "a listing on $A shows $B reachable within $RECOVER_BOUND s" within "$RECOVER_BOUND" b_reachable
echo "FIGURES refused: reachable again after $((SECONDS - t)) s"
check_eq "one log line about $B: reachable again" 1 "$(log_about "$B" "$l2")"
check_eq "... that line says so" 1 "$(lines "$LOG" "$l2" | count "Peer $B .* is reachable again")"

# ---------------------------------------------------------------------------
say "$B's link down (its connection hangs until ssh gives up), the same 40 calls"
s3=$(mark "$SPAWNS")
l3=$(mark "$LOG")
cluster_run "$B" ip link set eth0 down </dev/null || fail "cannot take $B's link down"
sleep 3 # the answers A kept from B (2 s) are gone: what follows asks B
t=$SECONDS
flood linkdown
echo "        40 calls took $((SECONDS - t)) s"
check_flood linkdown
check "$A knows $B is down (ssh gave up on the connection) within 60 s" within 60 b_known_down
n_ssh=$(spawns_to "$B" "$s3")
n_log=$(log_about "$B" "$l3")
n_sshlog=$(ssh_lines "$B" "$l3")
echo "FIGURES linkdown: ssh started to $B: $n_ssh; log lines about $B: $n_log (+ $n_sshlog of ssh's own)"
check "linkdown: at most 4 ssh to $B (got $n_ssh)" test "$n_ssh" -le 4
check_eq "linkdown: one log line about $B" 1 "$n_log"

say "$B's link up: reachable again within the back-off bound"
l4=$(mark "$LOG")
cluster_run "$B" ip link set eth0 up </dev/null
t=$SECONDS
check "a listing on $A shows $B reachable within $RECOVER_BOUND s" within "$RECOVER_BOUND" b_reachable
echo "FIGURES linkdown: reachable again after $((SECONDS - t)) s"
check_eq "one log line about $B: reachable again" 1 "$(log_about "$B" "$l4")"
echo "FIGURES total: ssh started to $B: $(spawns_to "$B" 0), to $C: $(spawns_to "$C" 0)"

finish "$A" "$B" "$C"
