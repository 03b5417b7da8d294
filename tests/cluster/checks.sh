# SPDX-License-Identifier: LGPL-2.1-or-later
#
# What the bench tests share, sourced after cluster.sh: checks that count their
# failures, waiting, and reading a node's domains, disks and migrations.

failures=0
say() { echo "== $*"; }
# check DESCRIPTION COMMAND...: prints ok/FAIL, counts failures, never exits
check() {
        local what=$1
        shift
        if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failures=$((failures + 1)); fi
}
on() { cluster_run "$@"; }
# bench_up NAME N: exits 77 unless root, tears down on exit, brings N nodes up (exit 1 when
# they do not come up), and names the first two A and B
bench_up() {
        cluster_require_root
        cluster_trap_down "$1"
        cluster_up "$1" "$2" || exit 1
        A=${1}a
        B=${1}b
}
# wait_until SECONDS COMMAND...: polls every 0.1 s
wait_until() {
        local t=$1 i
        shift
        for ((i = 0; i < t * 10; i++)); do "$@" && return 0; sleep 0.1; done
        return 1
}

# state NODE DOM: running, shut off, paused, or absent
state() { on "$1" virsh domstate "$2" 2>/dev/null | head -1 | grep . || echo absent; }
is_state() { [ "$(state "$1" "$2")" = "$3" ]; }
file_absent() { ! on "$1" test -e "$2"; }

# Content checksum of a qcow2 disk, readable while its domain runs; fails (printing nothing)
# when the disk cannot be read. qemu-img cannot write raw into a pipe: a sparse file it is.
content_sum() {
        on "$1" bash -c "set -eo pipefail; t=\$(mktemp /var/tmp/content.XXXXXX); trap 'rm -f \$t' EXIT
                qemu-img convert -U -f qcow2 -O raw '$2' \$t; sha256sum <\$t | cut -d' ' -f1"
}
same_content() { local s; s=$(content_sum "$1" "$2") && [ -n "$s" ] && [ "$s" = "$3" ]; }

# make_domain NODE DOM DATA_MIB: a running domain whose qcow2 disk holds DATA_MIB of random data
make_domain() {
        local node=$1 dom=$2 mib=$3 disk
        disk=$(cluster_define_domain "$node" "$dom" --disk-mib 128) || return 1
        on "$node" sh -c "dd if=/dev/urandom of=/var/tmp/$dom.raw bs=1M count=$mib status=none &&
                qemu-img convert -n -f raw -O qcow2 -T none /var/tmp/$dom.raw '$disk' && rm -f /var/tmp/$dom.raw" &&
                on "$node" virsh start "$dom" >/dev/null
}

# prop NODE DOMAIN PROPERTY: of the newest migration of DOMAIN recorded on NODE
prop() {
        on "$1" migratectl --json show "$2" | python3 -c "import json,sys; print(json.load(sys.stdin).get('$3', ''))"
}
prop_is() { [ "$(prop "$1" "$2" "$3")" = "$4" ]; }
status_is() { prop_is "$1" "$2" Status "$3"; }
copying() { local b; b=$(prop "$1" "$2" BytesProcessed); [ -n "$b" ] && [ "$b" != 0 ]; }

# Processes with that exact name in NODE's namespace only (the PID namespace is shared).
node_pids() {
        local pid
        for pid in $(ip netns pids "$(_cluster_node_ns "$1")"); do
                [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
        done
        return 0
}
kill_in_node() { local p; for p in $(node_pids "$1" "$2"); do kill -9 "$p"; done; }

# finish NODE...: the summary line, the daemons' logs when something failed, the exit status
finish() {
        echo
        if [ "$failures" -gt 0 ]; then
                echo "$failures check(s) failed"
                local n
                for n in "$@"; do echo "--- $n: migrated's log"; tail -n 30 "$(_cluster_node_dir "$n")/bus.log"; done
                exit 1
        fi
        echo "all checks passed"
        exit 0
}
