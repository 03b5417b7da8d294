#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# How long one scheduling decision takes as the cluster grows.  For each size
# N of BENCH_PEERS (default "2 100 1000") it starts the daemon from the build
# tree on a private session bus (no root, no bench cluster, no SSH) with N
# configured peers and times Manager.Plan (the scheduler's dry run: it asks
# every peer Peer.GetPlacement in parallel, gathers and ranks the answers):
#
#   first          the first Plan, sent as soon as the daemon is on the bus;
#                  its start-up reconciliation scan (ListDomains to every peer)
#                  is opening the peer connections then, and the Plan's
#                  questions wait on them (the script also prints when the
#                  scan's last answer arrived)
#   uncached       BENCH_ROUNDS Plans (default 10), each BENCH_SPACING s
#                  (default 2.2) after the previous one ended: past the 2 s of
#                  the peers' answer cache, so each is a full decision
#   back-to-back   BENCH_CACHED Plans (default 10) one right after the other
#                  (within the cache's 2 s, when the cache is used)
#
# plus the daemon's RSS.  The peers are not daemons: the script puts a fake
# `ssh` first in the daemon's PATH that ignores its arguments and execs
# `systemd-stdio-bridge` to a second private bus, where ONE stub process
# (placement-stub.c next to this script, compiled into the temp folder)
# owns org.example.Migrate1 and answers GetPlacement (and the start-up scan's
# ListDomains) for every peer, with facts derived from the caller's unique
# name: one node in 10 disabled, one in 10 short of memory, the others with
# 16-255 GiB free.  So each peer still costs the daemon what a real one does
# on its side (one process, one socket, one sd-bus connection, one call and
# answer), but no SSH handshake or encryption, and the peers answer at once.
# The stub records when the first and the last GetPlacement of a decision
# arrived, which splits the uncached figures into phases:
#
#   to-first   busctl starts, the daemon reads the domain from libvirt and
#              sends the first question
#   spread     first question to last one arriving at the stub: the fan-out
#   gather     last question to busctl's exit: the answers coming back,
#              ranking, the reply of N+1 entries, busctl printing it
#
# and CPU time (/proc/PID/task/*/schedstat) spent during each uncached one by
# the daemon (all its threads) and by the rest of the bench (the bridges, both
# dbus-daemons, the stub): with 2 cores, daemon + rest near 2 x wall means
# the machine is saturated, daemon near wall means its event loop is the
# bottleneck.
#
# Every answer is checked (N+1 entries, every peer answered with facts, one
# chosen): a decision made of timeouts or refusals fails the script.
#
#   tests/bench/schedule-scale.sh [DAEMON]
#   BENCH_PEERS="100 500" BENCH_ROUNDS=5 tests/bench/schedule-scale.sh
#
# DAEMON (or $MIGRATED) defaults to /tmp/bench-build/daemon/migrated:
#   meson setup /tmp/bench-build -Dcluster_tests=false && ninja -C /tmp/bench-build
# Needs dbus-daemon, busctl, systemd-stdio-bridge, python3, cc and
# libsystemd-dev (for the stub); not root.  Everything lives in one temp
# folder, removed at the end with every process started, also on failure
# (BENCH_KEEP=1 stops the processes but keeps the folder: logs, Plan answers).

# shellcheck disable=SC2015  # `a && b || fail` on purpose

set -u -o pipefail

# shellcheck source=../cluster/lib/figures.sh
. "${CLUSTER_LIB_DIR:-$(dirname "$0")/../cluster/lib}/figures.sh"   # die, stats

HERE=$(cd "$(dirname "$0")" && pwd)
DAEMON=${1:-${MIGRATED:-/tmp/bench-build/daemon/migrated}}
SIZES=${BENCH_PEERS:-"2 100 1000"}
ROUNDS=${BENCH_ROUNDS:-10}
CACHED=${BENCH_CACHED:-10}
SPACING=${BENCH_SPACING:-2.2}
DOMAIN='test'                      # the domain of libvirt's test:///default

[[ $ROUNDS =~ ^[1-9][0-9]*$ && $CACHED =~ ^[1-9][0-9]*$ ]] ||
    { echo "BENCH_ROUNDS and BENCH_CACHED take numbers" >&2; exit 2; }
[[ $SPACING =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "BENCH_SPACING takes seconds" >&2; exit 2; }
for n in $SIZES; do
    [[ $n =~ ^[1-9][0-9]*$ && $n -le 5000 ]] || { echo "BENCH_PEERS takes numbers from 1 to 5000" >&2; exit 2; }
done
[ -x "$DAEMON" ] || die "no daemon at $DAEMON (build it: meson setup /tmp/bench-build -Dcluster_tests=false && ninja -C /tmp/bench-build)"
for tool in dbus-daemon busctl systemd-stdio-bridge python3 cc pkg-config; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/schedule-scale.XXXXXX") || die "cannot create a temp folder"
DLOG=/dev/null     # the current daemon's log
PIDS=()            # every process started, in order (the bridges are in $TMP/bridges)

# stop PID...: SIGTERM, up to 5 s, then SIGKILL; only processes this script started.
stop() {
    local pid k
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "$@"; do
        for ((k = 0; k < 50; k++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
}

# The bridges the fake ssh started (it writes its pid before it execs), if still theirs.
bridge_pids() {
    local pid
    [ -f "$TMP/bridges" ] || return 0
    while read -r pid; do
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "stdio-bridge.*$TMP/" && echo "$pid"
    done <"$TMP/bridges"
}

# Everything of one size: the daemon first (its bridges then see their stdin close), then
# what is left of its bridges, the stub, the buses.
teardown() {
    local i rev=() left
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do rev+=("${PIDS[$i]}"); done
    [ ${#rev[@]} -gt 0 ] && stop "${rev[0]}"
    mapfile -t left < <(bridge_pids)
    [ ${#left[@]} -gt 0 ] && { kill -TERM "${left[@]}" 2>/dev/null; sleep 0.2; kill -KILL "${left[@]}" 2>/dev/null; }
    [ ${#rev[@]} -gt 1 ] && stop "${rev[@]:1}"
    PIDS=()
    rm -f "$TMP/bridges"
}
cleanup() {
    [ -n "${BENCH_KEEP:-}" ] && { teardown; echo "kept $TMP"; return; }
    teardown
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# The daemon (PIDS[0] once started) and the buses: fail with the end of its log.
# Also from inside wait_for, whose command's output goes to /dev/null: on the script's stderr (fd 3).
exec 3>&2
fail() {
    { echo "--- end of the daemon's log ($DLOG):"
      tail -n 20 "$DLOG" 2>/dev/null
    } >&3
    die "$*" 2>&3
}

# cpu_us PID...: CPU time used so far by these processes (every thread), in us.
cpu_us() {
    local p f a s=0
    for p in "$@"; do
        for f in /proc/"$p"/task/*/schedstat; do
            read -r a _ <"$f" 2>/dev/null && s=$((s + a / 1000))
        done
    done
    echo "$s"
}

usec() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }   # CLOCK_REALTIME in us, no fork
ms()   { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }

wait_for() {   # wait_for SECONDS COMMAND...: until COMMAND succeeds
    local deadline=$(( $(usec) + $1 * 1000000 ))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(usec)" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

# --- the stub, compiled once ------------------------------------------------

read -ra SDFLAGS < <(pkg-config --cflags --libs libsystemd)
cc -O2 -o "$TMP/placement-stub" "$HERE/placement-stub.c" "${SDFLAGS[@]}" ||
    die "cannot compile $HERE/placement-stub.c (libsystemd-dev missing?)"

mkdir -p "$TMP/bin"
# shellcheck disable=SC2016  # $$ is the fake ssh's own
printf '%s\n' '#!/bin/sh' \
    '# every peer: the stub bus (ssh arguments ignored)' \
    "echo \$\$ >>'$TMP/bridges'" \
    "exec systemd-stdio-bridge --bus-path='unix:path=$TMP/stub.sock'" >"$TMP/bin/ssh"
chmod +x "$TMP/bin/ssh"

# Count the Plan answer: "ENTRIES ANSWERED CHOSEN POSSIBLE REFUSED UNREACHABLE".
count_plan() {
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["data"][0]
v = [e["verdict"]["data"] for e in d]
r = [e["reason"]["data"] for e in d]
print(len(d), sum("enabled" in e for e in d), v.count("chosen"), v.count("possible"), v.count("refused"),
      sum(x.startswith("unreachable") for x in r))' "$1"
}

stub() { busctl --address="unix:path=$TMP/stub.sock" call org.example.Migrate1 /org/example/Migrate1 org.example.BenchStub "$@"; }

# plan OUT: one timed Plan; prints "MICROSECONDS PLACEMENTS FIRST LAST" (the stub's
# count of GetPlacement calls during it, and the arrival of the first and last one).
plan() {
    local t0 t1 c
    stub Reset >/dev/null || fail "the stub does not answer"
    t0=$(usec)
    busctl --user --json=short --timeout=60 call org.example.Migrate1 /org/example/Migrate1 \
        org.example.Migrate1.Manager Plan 'ssa{sv}' "$DOMAIN" "" 0 >"$1" 2>"$1.err" ||
        fail "Plan failed: $(cat "$1.err")"
    t1=$(usec)
    c=$(stub Counts) || fail "the stub does not answer"
    # c: uttutu PLACEMENTS FIRST LAST LISTDOMAINS LAST_LIST OTHER
    read -r _ p first last _ _ _ <<<"$c"
    echo "$((t1 - t0)) $p $t0 $first $last $t1"
}

# check_plan OUT N: the answer lists every node, every peer answered, one is chosen.
check_plan() {
    local e a ch po re un
    read -r e a ch po re un < <(count_plan "$1") || fail "cannot read the Plan answer $1"
    [ "$e" -eq $(($2 + 1)) ] || fail "Plan listed $e nodes, not $(($2 + 1))"
    [ "$a" -eq $(($2 + 1)) ] && [ "$un" -eq 0 ] || fail "only $((a - 1)) of $2 peers answered ($un unreachable)"
    [ "$ch" -eq 1 ] || fail "Plan chose $ch nodes"
    echo "$ch chosen, $po possible, $re refused"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
RESULTS=()

for N in $SIZES; do
    echo "== $N peers"
    # fds: the daemon holds one socket per peer, the stub bus one per bridge.
    need=$((2 * N + 256))
    [ "$(ulimit -n)" -ge "$need" ] || ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    [ "$(ulimit -n)" -ge "$need" ] || die "ulimit -n is $(ulimit -n), $N peers need $need"

    D=$TMP/n$N
    mkdir -p "$D/state"
    DLOG=$D/daemon.log
    { printf '[Node]\nName=bench\nLibvirtURI=test:///default\n'
      for ((i = 1; i <= N; i++)); do printf '\n[Peer peer%04d]\nAddress=root@peer%04d\n' "$i" "$i"; done
    } >"$D/migrated.conf"

    dbus-daemon --session --nofork --address="unix:path=$TMP/stub.sock" >"$D/stub-bus.log" 2>&1 &
    PIDS+=($!)
    dbus-daemon --session --nofork --address="unix:path=$TMP/bus.sock" >"$D/bus.log" 2>&1 &
    PIDS+=($!)
    wait_for 5 test -S "$TMP/stub.sock" && wait_for 5 test -S "$TMP/bus.sock" || fail "a dbus-daemon did not start"
    "$TMP/placement-stub" "unix:path=$TMP/stub.sock" >"$D/stub.log" 2>&1 &
    PIDS+=($!)
    wait_for 5 stub Counts || fail "the stub did not appear on its bus"

    export DBUS_SESSION_BUS_ADDRESS=unix:path=$TMP/bus.sock
    t_start=$(usec)
    PATH=$TMP/bin:$PATH "$DAEMON" --user --config="$D/migrated.conf" --state-dir="$D/state" \
        --idle-timeout=0 >"$DLOG" 2>&1 &
    dpid=$!
    PIDS=("$dpid" "${PIDS[@]}")      # stopped first
    daemon_up() { kill -0 "$dpid" 2>/dev/null || fail "the daemon exited"; busctl --user status org.example.Migrate1; }
    wait_for 20 daemon_up || fail "the daemon did not appear on the bus"
    t_up=$(usec)

    # the first Plan: connections being set up (the start-up scan opens them too)
    read -r first_us p _ <<<"$(plan "$D/first.json")"
    verdicts=$(check_plan "$D/first.json" "$N")
    # the start-up scan (reconciliation) asks every peer ListDomains: when the last answered
    scanned() { read -r _ _ _ _ lists last_list _ <<<"$(stub Counts)" && [ "$lists" -ge "$N" ]; }
    wait_for 60 scanned || echo "   (the start-up scan asked only $lists of $N peers ListDomains)"
    bridges=$(bridge_pids | wc -l)
    echo "   daemon on the bus after $(ms $((t_up - t_start))) ms; start-up scan answered by $lists peers," \
         "the last $(ms $((last_list - t_start))) ms after the start"
    echo "   first Plan $(ms "$first_us") ms ($p of $N peers asked GetPlacement; $bridges bridges up): $verdicts"

    # uncached decisions, spaced past the cache
    mapfile -t others < <(bridge_pids; printf '%s\n' "${PIDS[@]:1}")
    un=() to_first=() spread=() gather=() asked=() cpu_d=() cpu_o=()
    for ((k = 1; k <= ROUNDS; k++)); do
        sleep "$SPACING"
        d0=$(cpu_us "$dpid") o0=$(cpu_us "${others[@]}")
        read -r us p t0 f l t1 <<<"$(plan "$D/plan$k.json")"
        d1=$(cpu_us "$dpid") o1=$(cpu_us "${others[@]}")
        check_plan "$D/plan$k.json" "$N" >/dev/null
        un+=("$us") asked+=("$p") cpu_d+=($((d1 - d0))) cpu_o+=($((o1 - o0)))
        if [ "$p" -gt 0 ]; then
            to_first+=($((f - t0))) spread+=($((l - f))) gather+=($((t1 - l)))
        fi
    done
    # back-to-back, right after the last uncached one
    cb=() cb_asked=()
    for ((k = 1; k <= CACHED; k++)); do
        read -r us p _ <<<"$(plan "$D/cached$k.json")"
        check_plan "$D/cached$k.json" "$N" >/dev/null
        cb+=("$us") cb_asked+=("$p")
    done
    # the floor: busctl and one round trip to dbus-daemon
    floor=()
    for ((k = 1; k <= 10; k++)); do
        t0=$(usec)
        busctl --user call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId >/dev/null
        floor+=($(( $(usec) - t0 )))
    done

    rss=$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$dpid/status")
    hwm=$(awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$dpid/status")
    fds=$(find "/proc/$dpid/fd" -mindepth 1 -maxdepth 1 | wc -l)
    bpss=0
    for pid in $(bridge_pids); do
        bpss=$((bpss + $(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)))
    done
    kill -0 "$dpid" 2>/dev/null || fail "the daemon died"

    read -r u_med _ _ u_max < <(printf '%s\n' "${un[@]}" | stats 50)
    read -r c_med _ _ _ < <(printf '%s\n' "${cb[@]}" | stats 50)
    read -r f_med _ _ _ < <(printf '%s\n' "${floor[@]}" | stats 50)
    read -r tf_med _ _ _ < <(printf '%s\n' "${to_first[@]}" | stats 50)
    read -r sp_med _ _ _ < <(printf '%s\n' "${spread[@]}" | stats 50)
    read -r ga_med _ _ _ < <(printf '%s\n' "${gather[@]}" | stats 50)
    read -r cd_med _ _ _ < <(printf '%s\n' "${cpu_d[@]}" | stats 50)
    read -r co_med _ _ _ < <(printf '%s\n' "${cpu_o[@]}" | stats 50)
    echo "   uncached: peers asked per Plan: $(printf '%s\n' "${asked[@]}" | sort -n | uniq -c | awk '{ printf "%s%sx%s", s, $1, $2; s = ", " }')"
    echo "   back-to-back: peers asked per Plan: $(printf '%s\n' "${cb_asked[@]}" | sort -n | uniq -c | awk '{ printf "%s%sx%s", s, $1, $2; s = ", " }')"
    RESULTS+=("$(printf '%6s %8s %8s %8s %8s %8s %8s %8s %8s %8s %7s %7s %5s %8s' "$N" "$(ms "$first_us")" "$u_med" \
        "$u_max" "$c_med" "$tf_med" "$sp_med" "$ga_med" "$cd_med" "$co_med" "$rss" "$hwm" "$fds" \
        "$(awk -v k="$bpss" 'BEGIN { printf "%.1f", k / 1024 }')")")
    echo "   busctl floor (GetId) median $f_med ms"

    teardown
    unset DBUS_SESSION_BUS_ADDRESS
done

echo
echo "Manager.Plan of '$DOMAIN', wall time of busctl in ms; uncached: $ROUNDS runs ${SPACING} s apart;"
echo "back-to-back: $CACHED runs one after the other; phases and CPU (cpu.dmn: the daemon, cpu.rest:"
echo "bridges, buses, stub; ms): medians of the uncached runs; RSS/HWM: the daemon's, MiB;"
echo "fds: the daemon's; bridges: PSS of all systemd-stdio-bridge processes, MiB"
printf '%6s %8s %8s %8s %8s %8s %8s %8s %8s %8s %7s %7s %5s %8s\n' peers first "unc.med" "unc.max" \
    "b2b.med" to-first spread gather cpu.dmn cpu.rest RSS HWM fds bridges
printf '%s\n' "${RESULTS[@]}"
echo
echo "load average: $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end ($(nproc) cores)"
echo "goal: under 500 ms per decision at 1000 peers"
