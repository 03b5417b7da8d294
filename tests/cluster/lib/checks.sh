# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
# shellcheck disable=SC2034  # A, B and the counters are for the sourcing script
#
# What the bench tests (and the benchmarks) share, sourced by bench.sh after
# cluster.sh: headings, checks that count their failures, waiting, and reading
# a node's domains, daemons and migrations.
#
#   say TEXT                    a heading "== TEXT" (SAY_CLOCK=1: "== [N s] TEXT",
#                               seconds since the library was sourced)
#   ok TEXT / bad TEXT          one check passed / failed, counted in checks and failures
#   check TEXT COMMAND...       ok when COMMAND succeeds, bad otherwise; never exits
#   check_eq TEXT WANT GOT      ok when GOT is WANT
#   fail TEXT                   "FAIL: TEXT" and exit 1 (for tests that stop at the first failure)
#   cluster_exit_note           the failed checks, one line each (cluster.sh calls it last)
#   finish NODE...              the summary; on failures the daemons' logs, exit 1; else exit 0
#   bench_up NAME N             exit 77 unless root, tear down on exit, N nodes up (exit 1
#                               otherwise); A and B name the first two
#   on NODE COMMAND...          cluster_run
#   wait_until SECONDS COMMAND...
#                               polls COMMAND every 0.1 s, SECONDS x 10 times at most (a slow
#                               COMMAND makes that longer): 0 as soon as it succeeds, 1 if never
#   state NODE DOM              running, shut off, paused, ... or absent; is_state NODE DOM STATE
#   file_absent NODE PATH
#   prop NODE DOM PROPERTY      of the newest migration of DOM recorded on NODE (empty: none);
#                               prop_is NODE DOM PROPERTY VALUE, status_is NODE DOM STATUS,
#                               copying NODE DOM (bytes processed > 0)
#   node_pids NODE NAME         pids of the processes called NAME in NODE's namespace;
#                               kill_in_node NODE NAME (SIGKILL)
#   daemon_runs NODE / no_daemon NODE / stop_daemon NODE
#                               migrated runs on NODE / does not / SIGKILL it, wait until gone
#   monotonic LOG MIN           the Progress values of a `migratectl --json ... --wait` log,
#                               printed; fails unless there are at least MIN of them and they
#                               never decrease

failures=0
checks=0
FAILED_CHECKS=()
CHECKS_T0=$SECONDS

say() {
        if [ "${SAY_CLOCK:-0}" = 1 ]; then echo "== [$((SECONDS - CHECKS_T0)) s] $*"; else echo "== $*"; fi
}
ok()  { checks=$((checks + 1)); echo "ok   $*"; }
bad() { checks=$((checks + 1)); failures=$((failures + 1)); FAILED_CHECKS+=("$*"); echo "FAIL $*"; }
check() {
        local what=$1
        shift
        if "$@"; then ok "$what"; else bad "$what"; fi
}
check_eq() {
        if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (expected '$2', got '$3')"; fi
}
fail() { echo "FAIL: $*"; FAILED_CHECKS+=("$*"); exit 1; }

# Called by cluster.sh's exit trap after the diagnostics and the teardown: the failed
# checks again, last, where a log cut to its tail still shows them.
cluster_exit_note() {
        [ ${#FAILED_CHECKS[@]} -gt 0 ] || return 0
        printf 'failed check: %s\n' "${FAILED_CHECKS[@]}"
}

finish() {
        local n
        echo
        if [ "$failures" -gt 0 ]; then
                echo "$failures of $checks check(s) failed ($((SECONDS - CHECKS_T0)) s)"
                for n in "$@"; do echo "--- $n: migrated's log"; tail -n 30 "$(_cluster_node_dir "$n")/bus.log"; done
                exit 1
        fi
        echo "all $checks checks passed ($((SECONDS - CHECKS_T0)) s)"
        exit 0
}

bench_up() {
        cluster_require_root
        cluster_trap_down "$1"
        cluster_up "$1" "$2" || exit 1
        A=${1}a
        B=${1}b
}

on() { cluster_run "$@"; }

wait_until() {
        local t=$1 i
        shift
        for ((i = 0; i < t * 10; i++)); do "$@" && return 0; sleep 0.1; done
        return 1
}

state() { on "$1" virsh domstate "$2" 2>/dev/null | head -1 | grep . || echo absent; }
is_state() { [ "$(state "$1" "$2")" = "$3" ]; }
file_absent() { ! on "$1" test -e "$2"; }

prop() {
        on "$1" migratectl --json show "$2" 2>/dev/null |
                python3 -c "import json,sys; print(json.load(sys.stdin).get('$3', ''))" 2>/dev/null
}
prop_is() { [ "$(prop "$1" "$2" "$3")" = "$4" ]; }
status_is() { prop_is "$1" "$2" Status "$3"; }
copying() { local b; b=$(prop "$1" "$2" BytesProcessed); [ -n "$b" ] && [ "$b" != 0 ]; }

# (the PID namespace is shared with the host: only NODE's network namespace tells them apart)
node_pids() {
        local pid
        for pid in $(ip netns pids "$(_cluster_node_ns "$1")" 2>/dev/null); do
                [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
        done
        return 0
}
kill_in_node() { local p; for p in $(node_pids "$1" "$2"); do kill -9 "$p"; done; }
daemon_runs() { [ -n "$(node_pids "$1" migrated)" ]; }
no_daemon() { [ -z "$(node_pids "$1" migrated)" ]; }
stop_daemon() { kill_in_node "$1" migrated; wait_until 5 no_daemon "$1"; }

monotonic() {
        python3 - "$1" "$2" <<'PY'
import json, sys
values, conv = [], []
worst = [0.0, 0, 0, 0]
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if d.get("Progress") is not None:
            values.append(d["Progress"])
        if d.get("Convergence"):
            conv.append(d["Convergence"])
        # how far Progress is from BytesProcessed / BytesTotal (information only)
        if d.get("Status") == "running" and d.get("BytesTotal") and d.get("Progress") is not None:
            real = 100.0 * d.get("BytesProcessed", 0) / d["BytesTotal"]
            if d["Progress"] - real > worst[0]:
                worst[:] = [d["Progress"] - real, d["Progress"], d.get("BytesProcessed", 0), d["BytesTotal"]]
print("   progress seen:", ", ".join("%.0f" % v for v in values))
print("   convergence seen:", ", ".join(conv) or "-")
if worst[0] > 10:
    print("   note: Progress ran ahead of the bytes: %.0f%% shown while %.0f of %.0f MiB were processed"
          % (worst[1], worst[2] / 2**20, worst[3] / 2**20))
sys.exit(0 if len(values) >= int(sys.argv[2]) and all(a <= b for a, b in zip(values, values[1:])) else 1)
PY
}
