#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The fault matrix (issue 11): {cold, live, live+block} x {kill -9 of the source daemon,
# kill -9 of the destination daemon, the destination's network gone, the destination's
# libvirtd stopped, the destination's disk full}, each fault made for real on a 2-node bench
# (A the source, B the destination) at the engine's longest phase: cold during the disk copy
# (status "migrating"), live and live+block while libvirt migrates ("running").  Then, cold
# only, kill -9 of either daemon in VERIFY_RESIZE ("finished") and during confirm.
#
# Every cell starts from a clean state (checked: no domain, disk, definition or record in
# flight on either node, no fault left over) and asserts the contract:
#   - the domain runs exactly once: on A when A's record says error/cancelled/failed/reverted,
#     on B when completed/confirmed/finished; it is defined on one node, except in
#     VERIFY_RESIZE, where A keeps its shut-off definition for a revert;
#   - its disk content (content_sum) is the one taken before the migration (the bench's
#     no-OS domains do not write their disk);
#   - nothing is left on the losing side (definition, disk), once the destination's claim
#     lease (ClaimTimeout=20) had its chance;
#   - A's record ends final or waits (finished), its reason in ErrorMessage; B's record is not
#     left in flight;
#   - both daemons keep serving (migratectl hosts on both nodes);
#   - a migration that waits in VERIFY_RESIZE can be confirmed afterwards.
# A sampler checks all along that the cell's domain never runs on both nodes.
#
# How each fault is made, on the destination B:
#   kill -9 of a daemon   kill_in_node NODE migrated (D-Bus activation starts it again on the
#                         next call to it: the other daemon's, or the test's)
#   network gone          B's eth0 down for NET_DOWN s (open TCP and SSH connections hang),
#                         then up again
#   libvirtd stopped      SIGTERM to B's libvirtd (SIGKILL after 15 s); started again
#                         (`libvirtd -d` in B's namespaces, as node-init.sh does) once A's
#                         record settled
#   disk full             B's image folder is a tmpfs for the cell, sized for Prepare's free
#                         space check (data + 64 MiB); once the migration runs, a fallocate'd
#                         file fills it, so the copy meets ENOSPC
# The windows are widened by throttling A's link (tc tbf).  "live" (no block copy) needs
# shared storage: a host folder bind-mounted at $IMAGES/shared on both nodes, and, as
# libvirt calls a migration without block copy of a disk on a local file system unsafe (the
# bench has no NFS), the disk is read-only there.
#
# The daemon's log (the node's bus.log) is searched for crashes (an assertion, a fatal
# signal) during each cell; a failing cell prints both records, what is left where, and the
# daemons' log lines of the cell.
#
# FAULT_ENGINES picks the rows ("cold live block" by default; the extra cold cells come with
# "cold"), FAULT_CELLS the faults (ksrc kdst net lvd disk; set, the extra cells are left out).
# meson runs the cold row (test-faults-cold.sh) and the live rows (test-faults-live.sh) as two
# tests.  At the end a table of the cells, in markdown.
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tfm}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-218}
ENGINES=${FAULT_ENGINES:-cold live block}
FAULTS=${FAULT_CELLS:-ksrc kdst net lvd disk}
CLAIM_TIMEOUT=20
# No-OS domains ignore ACPI: do not wait for them.  A short lease for the destination's claim.
export CLUSTER_NODE_CONF=$'ShutdownTimeout=1\nClaimTimeout='$CLAIM_TIMEOUT
IMAGES=/var/lib/libvirt/images
SHARED=$IMAGES/shared
NET_DOWN=30   # seconds B's link stays down
SETTLE=150    # seconds a cell waits for A's record to settle once the fault is made
# The lease is checked every ClaimTimeout/2 s and lapses after ClaimTimeout (+ a 10 s question)
LEASE=$((CLAIM_TIMEOUT * 2 + 15))
# shellcheck disable=SC2034  # read by say (lib/checks.sh)
SAY_CLOCK=1

for e in $ENGINES; do
        case $e in cold|live|block) ;; *) echo "unknown engine '$e' in FAULT_ENGINES" >&2; exit 2 ;; esac
done

bench_up "$NAME" 2
B_IP=$(cluster_ip "$B")
SHARED_HOST=$(_cluster_dir "$NAME")/shared
mkdir -p "$SHARED_HOST"
for n in "$A" "$B"; do
        { on "$n" mkdir -p "$SHARED" && on "$n" mount --bind "$SHARED_HOST" "$SHARED"; } ||
                fail "cannot mount the shared folder on $n"
done

# --- the sampler: the cell's domain never runs on two nodes at once -------------
SAMPLES=$(mktemp)
CURRENT=$(mktemp)   # the cell's domain
sampler() {
        local d
        while kill -0 $$ 2>/dev/null; do
                d=$(cat "$CURRENT" 2>/dev/null)
                # B, A, B: A runs while B runs before and after (two reads in a row would see
                # a switch-over between them as an overlap)
                if [ -n "$d" ] && [ "$(state "$B" "$d")" = running ] && [ "$(state "$A" "$d")" = running ] &&
                   [ "$(state "$B" "$d")" = running ]; then
                        echo "$(date +%T.%N) $d runs on both" >>"$SAMPLES"
                fi
                sleep 0.1
        done
}
sampler &
SAMPLER=$!

# --- helpers -----------------------------------------------------------------

# wait_for SECONDS COMMAND...: COMMAND every 0.3 s until it succeeds (0) or SECONDS of wall
# time passed (1); unlike wait_until, a slow COMMAND does not stretch the time
wait_for() {
        local end=$((SECONDS + $1))
        shift
        while :; do
                "$@" && return 0
                [ $SECONDS -lt $end ] || return 1
                sleep 0.3
        done
}

throttle() { on "$1" tc qdisc replace dev eth0 root tbf rate "$2" burst 64kb latency 500ms; }
unthrottle() { on "$1" tc qdisc del dev eth0 root 2>/dev/null || true; }

FINAL=" error cancelled failed completed confirmed reverted "
is_final() { [[ $FINAL == *" $1 "* ]]; }

# The cell's migration, MIG_ID, is looked up by its ID on both nodes (a lookup by domain
# name asks the peers about the domain too, which hangs while B is unreachable).
MIG_ID=
newest_id() {
        on "$A" migratectl --json migrations --domain "$1" 2>/dev/null | python3 -c '
import json, sys
l = sorted(json.load(sys.stdin), key=lambda m: m.get("created-usec", 0))
print(l[-1]["id"] if l else "")'
}
mprop() {
        [ -n "$MIG_ID" ] || return 0
        on "$1" migratectl --json show "$MIG_ID" 2>/dev/null |
                python3 -c "import json,sys; print(json.load(sys.stdin).get('$2', ''))" 2>/dev/null
}
status_of() { mprop "$1" Status; }
status_on() { [ "$(status_of "$1")" = "$2" ]; }
# A's record settled: final, or waiting for an operator in VERIFY_RESIZE
settled() { local s; s=$(status_of "$A"); is_final "$s" || [ "$s" = finished ]; }
# B's record (if any) final or waiting in VERIFY_RESIZE
b_settled() { local s; s=$(status_of "$B"); [ -z "$s" ] || is_final "$s" || [ "$s" = finished ]; }
# A's record in STATUS with data moving
in_phase() { local b; status_on "$A" "$1" && b=$(mprop "$A" BytesProcessed) && [ -n "$b" ] && [ "$b" != 0 ]; }

# in_flight NODE [ROLE]: NODE's records in flight (of every domain; of ROLE source or
# destination), one "id domain status" a line
in_flight() {
        on "$1" migratectl --json migrations 2>/dev/null | python3 -c '
import json, sys
final, node, role = set(sys.argv[1].split()), sys.argv[2], sys.argv[3]
for m in json.load(sys.stdin):
    mine = "source" if m.get("source") == node else "destination"
    if m.get("status") not in final and role in ("", mine):
        print(m.get("id"), m.get("domain"), m.get("status"))' "$FINAL" "$1" "${2:-}"
}
defined() { on "$1" virsh list --all --name 2>/dev/null | grep -qx "$2"; }
defined_count() { local n c=0; for n in "$A" "$B"; do defined "$n" "$1" && c=$((c + 1)); done; echo $c; }
running_count() { local n c=0; for n in "$A" "$B"; do is_state "$n" "$1" running && c=$((c + 1)); done; echo $c; }
answers() { on "$1" timeout 60 migratectl hosts >/dev/null 2>&1; }
no_libvirtd() { [ -z "$(node_pids "$1" libvirtd)" ]; }
libvirt_answers() {
        case $(on "$1" virsh -c qemu:///system version 2>/dev/null) in
        *"Running hypervisor: QEMU"*) return 0 ;;
        esac
        return 1
}
libvirtd_stop() {
        local p
        p=$(node_pids "$1" libvirtd)
        [ -n "$p" ] || return 1
        # shellcheck disable=SC2086
        kill $p
        wait_for 15 no_libvirtd "$1" && return 0
        echo "   libvirtd on $1 did not stop within 15 s of SIGTERM: SIGKILL"
        # shellcheck disable=SC2086
        kill -9 $p 2>/dev/null
        wait_for 5 no_libvirtd "$1"
}
# as node-init.sh starts it, inside the node's namespaces
libvirtd_start() { on "$1" libvirtd -d && wait_for 30 libvirt_answers "$1"; }
# (the nodes have no ping: a TCP connection to B's sshd)
reaches_b() { on "$A" timeout 2 bash -c ": >/dev/tcp/$B_IP/22" 2>/dev/null; }
link_up() { on "$1" ip link set dev eth0 up && wait_for 20 reaches_b; }
images_mounted() { on "$1" findmnt -n "$IMAGES" >/dev/null; }
# A tmpfs of MIB over NODE's image folder, the shared folder mounted into it again
images_tmpfs() {
        on "$1" mount -t tmpfs -o "size=${2}m" faults "$IMAGES" &&
        on "$1" mkdir -p "$SHARED" && on "$1" mount --bind "$SHARED_HOST" "$SHARED"
}
images_untmpfs() {
        images_mounted "$1" || return 0
        on "$1" umount "$SHARED" 2>/dev/null
        on "$1" umount "$IMAGES"
}
# Fills NODE's image folder but for 256 KiB
fill_images() {
        local avail
        avail=$(on "$1" df -B1 --output=avail "$IMAGES" | tail -n1 | tr -d ' ')
        [[ $avail =~ ^[0-9]+$ ]] && [ "$avail" -gt 262144 ] || return 1
        on "$1" fallocate -l $((avail - 262144)) "$IMAGES/.filler"
}
free_kib() { on "$1" df -k --output=avail "$IMAGES" | tail -n1 | tr -d ' '; }
# What NODE's image folder holds besides the shared folder
images_left() { on "$1" find "$IMAGES" -mindepth 1 -maxdepth 1 ! -name shared -printf '%f\n' 2>/dev/null; }

# What is left over on NODE, one thing a line (nothing: clean)
leftovers() {
        local n=$1 x
        for x in $(on "$n" virsh list --all --name 2>/dev/null); do echo "domain $x"; done
        for x in $(images_left "$n"); do echo "file $IMAGES/$x"; done
        in_flight "$n" | sed 's/^/record in flight: /'
        on "$n" tc qdisc show dev eth0 | grep -q tbf && echo "tc throttle on eth0"
        on "$n" ip link show dev eth0 | grep -q 'state DOWN' && echo "eth0 down"
        no_libvirtd "$n" && echo "libvirtd not running"
        images_mounted "$n" && echo "a tmpfs over $IMAGES"
        on "$n" findmnt -n "$SHARED" >/dev/null || echo "the shared folder is not mounted"
        answers "$n" || echo "migrated does not answer"
        return 0
}
clean_state() {
        local left
        left=$({
                leftovers "$A" | sed "s/^/$A: /"
                leftovers "$B" | sed "s/^/$B: /"
                find "$SHARED_HOST" -mindepth 1 -maxdepth 1 -printf 'shared folder: file %f\n'
        })
        [ -z "$left" ] && return 0
        sed 's/^/   left over: /' <<<"$left"
        return 1
}

# The daemon's log (stderr, through the node's dbus-daemon): its size, and the crashes in it
# since OFFSET (an abort's assertion, a fatal signal)
log_size() { stat -c %s "$(_cluster_node_dir "$1")/bus.log" 2>/dev/null || echo 0; }
crashes_since() {
        tail -c +"$(($2 + 1))" "$(_cluster_node_dir "$1")/bus.log" 2>/dev/null |
                grep -E "Assertion .* failed|Aborting|Segmentation fault|core dumped|\*\* ERROR|CRITICAL" |
                grep -v AUDIT
}
no_crash() { local c; c=$(crashes_since "$1" "$2"); [ -z "$c" ] || { sed 's/^/   log: /' <<<"$c"; return 1; }; }

# --- one cell ------------------------------------------------------------------

RESULTS=()   # the table's rows
DOM='' DISK='' SUM='' ENGINE='' OUTCOME='' CELL_FAULT='' CELL_PHASE=''
CELL_T0=0 CELL_FAILURES=0 FAULT_AT=0 LOG_AT_A=0 LOG_AT_B=0

# cell_begin ENGINE FAULT PHASE DOM [--shut-off]: the clean state checked, then DOM on A
cell_begin() {
        ENGINE=$1 CELL_FAULT=$2 CELL_PHASE=$3 DOM=$4 MIG_ID='' OUTCOME=''
        CELL_T0=$SECONDS
        CELL_FAILURES=$failures
        LOG_AT_A=$(log_size "$A") LOG_AT_B=$(log_size "$B")
        say "cell: $ENGINE x $CELL_FAULT, during $CELL_PHASE ($DOM)"
        if ! clean_state; then
                bad "$DOM: the cell starts from a clean state"
                # the cell has failed; clean up for it and the next ones, then run it anyway
                sweep
                clean_state || return 1
        fi
        echo "$DOM" >"$CURRENT"
        case $ENGINE in
        live)
                # libvirt refuses a migration without block copy of a disk on a local file system
                # ("unsafe") unless the disk is read-only: the bench has no NFS, so read-only it is
                DISK=$SHARED/$DOM.qcow2
                local xml
                xml=$(_cluster_node_dir "$A")/$DOM-ro.xml
                on "$A" qemu-img create -q -f qcow2 "$DISK" 128M &&
                        cluster_define_domain "$A" "$DOM" --shut-off --disk "$DISK" \
                                --disk-data-mib "$DATA_MIB" >/dev/null &&
                        on "$A" virsh dumpxml "$DOM" |
                        sed "s|<target dev='vda' bus='virtio'/>|&<readonly/>|" >"$xml" &&
                        grep -q '<readonly/>' "$xml" && on "$A" virsh define "$xml" >/dev/null &&
                        on "$A" virsh start "$DOM" >/dev/null ;;
        *)
                DISK=$IMAGES/$DOM.qcow2
                make_domain "$A" "$DOM" "$DATA_MIB" ;;
        esac || { bad "$DOM: the domain is made on $A"; return 1; }
        SUM=$(content_sum "$A" "$DISK")
        [ -n "$SUM" ] || { bad "$DOM: its disk checksum is taken"; return 1; }
}

# Undoes whatever a cell (or its failure) left, on both nodes: the faults, the records in
# flight (A's aborted, reverted or waited for; a destination's record whose source ended
# aborted on B, as the source would have), every domain and disk.
sweep() {
        local n p id d s
        : >"$CURRENT"   # no sampling: a revert here moves the domain back
        on "$B" ip link set dev eth0 up 2>/dev/null
        unthrottle "$A"
        unthrottle "$B"
        for n in "$A" "$B"; do
                for p in $(node_pids "$n" migrated); do kill -CONT "$p" 2>/dev/null; done
                if no_libvirtd "$n"; then libvirtd_start "$n"; fi
                on "$n" rm -f "$IMAGES/.filler"
        done
        for n in "$A" "$B"; do
                while read -r id d s; do
                        [ -n "$id" ] || continue
                        echo "   sweep: $n's record of $d is $s"
                        case $s in
                        finished) on "$n" migratectl revert "$d" >/dev/null 2>&1 ;;
                        confirming|reverting) ;;
                        *) on "$n" migratectl abort "$d" >/dev/null 2>&1 ;;
                        esac
                done < <(in_flight "$n" source)
        done
        wait_for 60 no_record_in_flight "$A" source
        wait_for 60 no_record_in_flight "$B" source
        for n in "$A" "$B"; do
                while read -r id d s; do
                        [ -n "$id" ] || continue
                        echo "   sweep: $n's record of incoming $d is $s: aborted on $n"
                        case $s in
                        preparing|running|queued) p=AbortLiveMigration s=failed ;;
                        *) p=AbortColdMigration s=error ;;
                        esac
                        on "$n" busctl call org.example.Migrate1 /org/example/Migrate1 \
                                org.example.Migrate1.Peer "$p" ss "$id" "$s" >/dev/null
                done < <(in_flight "$n" destination)
        done
        for n in "$A" "$B"; do
                for d in $(on "$n" virsh list --all --name 2>/dev/null); do
                        on "$n" virsh destroy "$d" >/dev/null 2>&1
                        on "$n" virsh undefine "$d" >/dev/null 2>&1
                done
                for d in $(images_left "$n"); do on "$n" rm -rf "${IMAGES:?}/$d"; done
                images_untmpfs "$n"
                for d in $(images_left "$n"); do on "$n" rm -rf "${IMAGES:?}/$d"; done
        done
        find "$SHARED_HOST" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
        : >"$CURRENT"
}
no_record_in_flight() { [ -z "$(in_flight "$1" "$2")" ]; }

cell_end() {
        local result=PASS t=$((SECONDS - CELL_T0)) n off
        [ "$failures" = "$CELL_FAILURES" ] || result=FAIL
        if [ "$result" = FAIL ] && [ -n "$MIG_ID" ]; then
                echo "   --- $B's record"
                on "$B" migratectl show "$MIG_ID" 2>&1 | sed 's/^/   /' | head -n 30
                echo "   --- what is where: $A: $(on "$A" virsh list --all --name | tr '\n' ' ')" \
                        "files: $(images_left "$A" | tr '\n' ' ');" \
                        "$B: $(on "$B" virsh list --all --name | tr '\n' ' ') files: $(images_left "$B" | tr '\n' ' ')"
        fi
        if [ "$result" = FAIL ]; then
                for n in "$A" "$B"; do
                        echo "   --- $n's daemon log during the cell"
                        [ "$n" = "$A" ] && off=$LOG_AT_A || off=$LOG_AT_B
                        tail -c +"$((off + 1))" "$(_cluster_node_dir "$n")/bus.log" |
                                grep -v -E '^AUDIT|: Domain [^ ]*: ' | tail -n 40 | sed 's/^/   /'
                done
        fi
        sweep
        RESULTS+=("| $ENGINE | $CELL_FAULT | $CELL_PHASE | ${OUTCOME:-?} | $result | $t s |")
        echo "   => $result ($t s)"
}

# start_migration RATE: DOM's migration from A to B, A's link throttled, until its longest phase
start_migration() {
        local phase=migrating opts=() out
        case $ENGINE in
        live) opts=(--live); phase=running ;;
        block) opts=(--live --block-migration); phase=running ;;
        esac
        throttle "$A" "$1"
        out=$(on "$A" migratectl --json migrate "$DOM" --host "$B" "${opts[@]}" 2>&1) ||
                { bad "$DOM: migrate is accepted ($out)"; return 1; }
        MIG_ID=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["id"])' "$out" 2>/dev/null)
        [ -n "$MIG_ID" ] || { bad "$DOM: migrate answers an ID ($out)"; return 1; }
        if ! wait_for 40 in_phase "$phase"; then
                bad "$DOM: the migration reaches '$phase' with data moving (it is '$(status_of "$A")')"
                on "$A" migratectl show "$MIG_ID" | tail -n 8
                return 1
        fi
        FAULT_AT=$SECONDS
}

# The contract, once the fault is lifted; waits for A's record to settle first.
cell_verify() {
        local s winner loser n want_defs=1 err where
        wait_for "$SETTLE" settled
        s=$(status_of "$A")
        echo "   A's record: '$s' $((SECONDS - FAULT_AT)) s after the fault;" \
                "$(mprop "$A" ErrorName) $(mprop "$A" ErrorMessage)"
        case $s in
        error|cancelled|failed|reverted) winner=$A loser=$B where=A ;;
        completed|confirmed) winner=$B loser=$A where=B ;;
        finished) winner=$B loser='' want_defs=2 where=B ;;
        *) winner='' loser='' where='?' ;;
        esac
        OUTCOME=$s
        if [ -z "$winner" ]; then
                bad "$DOM: A's record settles (final or finished) within $SETTLE s (it is '$s')"
                check_eq "$DOM: the domain runs on one node" 1 "$(running_count "$DOM")"
        else
                OUTCOME="$s, runs on $where"
                check "$DOM: it runs on $winner" wait_for 20 is_state "$winner" "$DOM" running
                check_eq "$DOM: it runs on one node" 1 "$(running_count "$DOM")"
                check "$DOM: its disk content on $winner is the one before" same_content "$winner" "$DISK" "$SUM"
                if [ "$s" = finished ]; then
                        check "$DOM: $A keeps it defined, shut off, for a revert" is_state "$A" "$DOM" "shut off"
                        check "$DOM: $A keeps its disk, intact" same_content "$A" "$DISK" "$SUM"
                fi
                if [ -n "$loser" ]; then
                        check "$DOM: no definition left on $loser" wait_for "$LEASE" is_state "$loser" "$DOM" absent
                        # live: the disk is shared, and stays
                        [ "$ENGINE" = live ] ||
                                check "$DOM: no disk left on $loser" wait_for "$LEASE" file_absent "$loser" "$DISK"
                fi
                check_eq "$DOM: defined on $want_defs node(s)" "$want_defs" "$(defined_count "$DOM")"
        fi
        case $s in
        completed|confirmed|finished) ;;
        *) err=$(mprop "$A" ErrorMessage); check "$DOM: A's record says why" [ -n "$err" ] ;;
        esac
        check "$DOM: $B's record is not left in flight" wait_for "$LEASE" b_settled
        echo "   B's record: '$(status_of "$B")' $(mprop "$B" ErrorMessage)"
        for n in "$A" "$B"; do check "$DOM: migrated on $n answers" answers "$n"; done
        check "$DOM: migrated on $A did not crash" no_crash "$A" "$LOG_AT_A"
        check "$DOM: migrated on $B did not crash" no_crash "$B" "$LOG_AT_B"
        if [ "$s" = finished ]; then
                check "$DOM: then confirm works" on "$A" migratectl confirm "$DOM"
                check "$DOM: ... the record is confirmed" status_on "$A" confirmed
                check "$DOM: ... it runs on $B" is_state "$B" "$DOM" running
                check "$DOM: ... $A has no definition left" is_state "$A" "$DOM" absent
                check "$DOM: ... nor its disk" wait_for 10 file_absent "$A" "$DISK"
                OUTCOME="$OUTCOME; confirmed then"
        fi
        echo "   --- migratectl show on $A"
        on "$A" migratectl show "$MIG_ID" 2>&1 | sed 's/^/   /'
}

# --- the faults ------------------------------------------------------------------

fault_label() {
        case $1 in
        ksrc) echo "kill -9 source daemon" ;;
        kdst) echo "kill -9 destination daemon" ;;
        net) echo "destination network down" ;;
        lvd) echo "destination libvirtd stopped" ;;
        disk) echo "destination disk full" ;;
        esac
}

fault_ksrc() {
        check "$DOM: $A's daemon is killed" stop_daemon "$A"
        unthrottle "$A"
        # the test's next call starts it again (D-Bus activation)
}
fault_kdst() {
        check "$DOM: $B's daemon runs" daemon_runs "$B"
        check "$DOM: $B's daemon is killed" stop_daemon "$B"
        unthrottle "$A"
        # A's next call to B starts it again: the test does not call B before A's record settled
}
fault_net() {
        check "$DOM: $B's link goes down" on "$B" ip link set dev eth0 down
        sleep "$NET_DOWN"
        echo "   after $NET_DOWN s with $B unreachable, A's record is '$(status_of "$A")'"
        unthrottle "$A"
        check "$DOM: $B's link comes back" link_up "$B"
}
fault_lvd() {
        check "$DOM: $B's libvirtd stops" libvirtd_stop "$B"
        unthrottle "$A"
        wait_for "$SETTLE" settled
        echo "   with $B's libvirtd down, A's record is '$(status_of "$A")' $((SECONDS - FAULT_AT)) s after"
        check "$DOM: $B's libvirtd starts again" libvirtd_start "$B"
}
fault_disk() {
        check "$DOM: $B's image folder is filled" fill_images "$B"
        echo "   $B has $(free_kib "$B") KiB free in $IMAGES"
        unthrottle "$A"
        # the checks look into B's image folder while the tmpfs is there (what it holds would
        # vanish with it); cell_cleanup removes it
}

# cell_fault ENGINE FAULT: one cell of the matrix
cell_fault() {
        local engine=$1 fault=$2 phase
        case $engine in cold) phase="the disk copy (migrating)" ;; *) phase="libvirt's migration (running)" ;; esac
        cell_begin "$engine" "$(fault_label "$fault")" "$phase" "$engine-$fault" || { cell_end; return; }
        # disk full: room for Prepare's check (data + 64 MiB), little more
        if [ "$fault" = disk ] && ! images_tmpfs "$B" $((DATA_MIB + 64 + 16)); then
                bad "$DOM: a tmpfs over $B's image folder"; cell_end; return
        fi
        start_migration "$RATE" || { cell_end; return; }
        "fault_$fault"
        cell_verify
        cell_end
}

# --- cold only: kill -9 of a daemon in VERIFY_RESIZE and during confirm ------------

# cell_waiting ksrc|kdst: the daemon dies while the migration waits in VERIFY_RESIZE
cell_waiting() {
        local f=$1
        cell_begin cold "$(fault_label "$f")" "VERIFY_RESIZE (finished)" "cold-vr-$f" || { cell_end; return; }
        check "$DOM: migrate --wait exits 0" on "$A" migratectl migrate "$DOM" --host "$B" --wait
        MIG_ID=$(newest_id "$DOM")
        check "$DOM: it waits in VERIFY_RESIZE" status_on "$A" finished || { cell_end; return; }
        FAULT_AT=$SECONDS
        case $f in
        ksrc) check "$DOM: $A's daemon is killed" stop_daemon "$A" ;;
        kdst) check "$DOM: $B's daemon is killed" stop_daemon "$B" ;;
        esac
        sleep 2
        cell_verify
        cell_end
}

# cell_confirming ksrc|kdst: the daemon dies while the migration is "confirming".  The window:
# B's daemon is stopped (SIGSTOP) while A's Confirm call waits for it.
cell_confirming() {
        local f=$1 bpid cpid rc log
        cell_begin cold "$(fault_label "$f")" "confirm (confirming)" "cold-cf-$f" || { cell_end; return; }
        check "$DOM: migrate --wait exits 0" on "$A" migratectl migrate "$DOM" --host "$B" --wait
        MIG_ID=$(newest_id "$DOM")
        check "$DOM: it waits in VERIFY_RESIZE" status_on "$A" finished || { cell_end; return; }
        bpid=$(node_pids "$B" migrated)
        [ -n "$bpid" ] || { bad "$DOM: $B's daemon runs"; cell_end; return; }
        # shellcheck disable=SC2086
        kill -STOP $bpid
        log=$(mktemp)
        on "$A" migratectl confirm "$DOM" >"$log" 2>&1 &
        cpid=$!
        if ! check "$DOM: the record is confirming" wait_for 20 status_on "$A" confirming; then
                # shellcheck disable=SC2086
                kill -CONT $bpid
                wait "$cpid"
                rm -f "$log"
                cell_end
                return
        fi
        FAULT_AT=$SECONDS
        case $f in
        ksrc)
                check "$DOM: $A's daemon is killed" stop_daemon "$A"
                # shellcheck disable=SC2086
                kill -CONT $bpid ;;
        kdst)
                # shellcheck disable=SC2086
                kill -9 $bpid
                check "$DOM: $B's daemon is killed" wait_for 5 no_daemon "$B" ;;
        esac
        wait "$cpid"
        rc=$?
        echo "   the operator's confirm exited $rc: $(tr '\n' ' ' <"$log")"
        rm -f "$log"
        cell_verify
        cell_end
}

# --- the matrix ------------------------------------------------------------------

for engine in $ENGINES; do
        case $engine in
        cold) DATA_MIB=24 RATE=16mbit ;;
        live) DATA_MIB=16 RATE=4mbit ;;
        block) DATA_MIB=16 RATE=8mbit ;;
        esac
        for fault in $FAULTS; do cell_fault "$engine" "$fault"; done
        if [ "$engine" = cold ] && [ -z "${FAULT_CELLS:-}" ]; then
                for fault in ksrc kdst; do cell_waiting "$fault"; done
                for fault in ksrc kdst; do cell_confirming "$fault"; done
        fi
done

kill "$SAMPLER" 2>/dev/null
wait "$SAMPLER" 2>/dev/null
say "the sampler"
[ -s "$SAMPLES" ] && cat "$SAMPLES"
check "no domain ran on both nodes at any sampled instant" [ ! -s "$SAMPLES" ]
rm -f "$SAMPLES" "$CURRENT"

say "the fault matrix ($((SECONDS - CHECKS_T0)) s)"
echo "| engine | fault | phase | A's record at the end, where the domain runs | result | time |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${RESULTS[@]}"

finish "$A" "$B"
