#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The multi-node test bench: real hypervisor "hosts" on one machine.
#
# A cluster instance NAME (short, [a-z][a-z0-9]*, at most 10 characters) has
# N nodes called NAMEa, NAMEb, ... (the node's host name too).  Each node is a
# network + mount + UTS namespace with its own system D-Bus (which activates
# polkitd on demand), virtlogd, libvirtd (qemu:///system) and sshd.  The
# nodes are plugged into a bridge that lives in a switch namespace of the
# instance (netns "migc-NAME-sw"); the root namespace's network is never
# touched.  Node i has the address 10.88.K.(10+i)/24, K = $CLUSTER_SUBNET or a
# hash of NAME.  See ../README.md and /work/shared/TESTBED.md.
#
# Use it as a library (bench.sh next to it sources it for the tests and
# benchmarks; tools/demo sources it alone) or as a command:
#   cluster.sh up NAME N | down NAME | run NODE CMD... | ip NODE | nodes NAME
#   cluster.sh diag NAME | list | define-domain ... | precreate-disk ...
#
# State lives under $CLUSTER_ROOT (default /var/tmp/migrated-cluster)/NAME/:
#   ssh/            the cluster's /root/.ssh (key, authorized_keys, known_hosts)
#   subnet, nodes   the instance's third octet and node names
#   NODE/           per node: init.pid, ip, netns-inode, state, init.log,
#                   sshd_config + host key, sshd.log, and the folders mounted
#                   over /run, /etc/libvirt, /var/lib/libvirt, ... on the node
#
# Functions return non-zero on failure (they do not rely on set -e, which is
# off inside functions called from `if`); cluster_require_root exits 77.
# The domains the bench defines (their one XML) are in domain.sh, which this
# file sources.

# shellcheck disable=SC2015,SC2174  # `a && b || c` on purpose; mkdir -p -m: only the leaf matters

CLUSTER_ROOT=${CLUSTER_ROOT:-/var/tmp/migrated-cluster}
CLUSTER_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLUSTER_SELF=$CLUSTER_LIBDIR/cluster.sh
CLUSTER_UP_TIMEOUT=${CLUSTER_UP_TIMEOUT:-60}     # seconds for all nodes to answer
CLUSTER_NS_PREFIX=migc-

# shellcheck source=domain.sh
. "$CLUSTER_LIBDIR/domain.sh"

# Folders every node gets a private copy of.  They must exist on the host as
# mount points; missing ones are created empty (as installing libvirt would).
# /run and /root/.ssh are mounted over too (/root/.ssh is never created or
# written to on the host).
CLUSTER_MOUNTPOINTS=(/etc/libvirt /var/lib/libvirt /var/log/libvirt
                     /var/cache/libvirt /etc/migrated /var/lib/migrated
                     /etc/polkit-1/rules.d)

CLUSTER_TOOLS=(ip unshare nsenter setsid flock findmnt hostname taskset
               dbus-daemon virtlogd libvirtd virsh /usr/sbin/sshd ssh ssh-keygen
               ssh-keyscan qemu-img qemu-io qemu-system-x86_64 busctl
               systemd-stdio-bridge sha256sum)

# ---------------------------------------------------------------------------
# small helpers

_cluster_say() { printf 'cluster: %s\n' "$*" >&2; }
_cluster_join() { tr '\n' ' ' | sed 's/ $//'; }
_cluster_err() { printf 'cluster: ERROR: %s\n' "$*" >&2; }

_cluster_check_name() {
    [[ ${1-} =~ ^[a-z][a-z0-9]{0,9}$ ]] && return 0
    _cluster_err "bad instance name '${1-}' (want [a-z][a-z0-9]*, at most 10 characters)"
    return 1
}

_cluster_dir()      { echo "$CLUSTER_ROOT/$1"; }
_cluster_switch_ns() { echo "${CLUSTER_NS_PREFIX}$1-sw"; }
_cluster_node_ns()  { echo "${CLUSTER_NS_PREFIX}$1"; }
# Node names are NAME + one letter, so the instance is the name minus its last letter.
_cluster_name_of()  { echo "${1%?}"; }
_cluster_node_dir() { echo "$CLUSTER_ROOT/$(_cluster_name_of "$1")/$1"; }

# Every network namespace of instance NAME that exists now.  Names cannot
# collide between instances: node namespaces are NAME+letter, the switch is
# NAME-sw, and NAME has no '-'.
_cluster_namespaces() {
    ip netns list 2>/dev/null | awk '{print $1}' |
        grep -E "^${CLUSTER_NS_PREFIX}$1([a-z]|-sw)\$" || true
}

# Third octet of the instance's 10.88.K.0/24.
_cluster_subnet() {
    local k=${CLUSTER_SUBNET:-}
    if [ -z "$k" ]; then
        k=$(printf '%s' "$1" | cksum | cut -d' ' -f1)
        k=$((k % 150 + 100))
    fi
    if ! [[ $k =~ ^[0-9]{1,3}$ ]] || [ "$k" -gt 255 ]; then
        _cluster_err "CLUSTER_SUBNET must be 0..255 (third octet of 10.88.K.0/24), not '$k'"
        return 1
    fi
    echo "$k"
}

# ---------------------------------------------------------------------------
# guards

# Exit 77 (meson: skipped) when the bench cannot run here.
cluster_require_root() {
    local t missing=()
    if [ "$(id -u)" != 0 ]; then
        echo "SKIP: the cluster bench needs root (namespaces, libvirtd, sshd)" >&2
        exit 77
    fi
    for t in "${CLUSTER_TOOLS[@]}"; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "SKIP: the cluster bench needs these tools: ${missing[*]}" \
             "(see /work/shared/TESTBED.md for the Debian packages)" >&2
        exit 77
    fi
    if [ ! -d /root/.ssh ]; then
        echo "SKIP: /root/.ssh does not exist; the bench mounts a private folder over it" \
             "in each node and never creates or writes the real one (mkdir -m 700 /root/.ssh)" >&2
        exit 77
    fi
}

# ---------------------------------------------------------------------------
# bring-up

# cluster_up NAME N: bring up N nodes (1..26) of instance NAME.
cluster_up() {
    local name=${1-} n=${2-} i node k dir started letters=abcdefghijklmnopqrstuvwxyz
    _cluster_check_name "$name" || return 1
    if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 26 ]; then
        _cluster_err "cluster_up NAME N: N must be 1..26"; return 1
    fi
    cluster_require_root
    started=$SECONDS
    cluster_clean_stale "$name" || return 1

    dir=$(_cluster_dir "$name")
    k=$(_cluster_subnet "$name") || return 1
    mkdir -p -m 0700 "$CLUSTER_ROOT" "$dir" || return 1
    # Identifies this bring-up, so a detached teardown of an earlier,
    # interrupted run can tell it apart from ours (see _cluster_on_signal).
    cat /proc/sys/kernel/random/uuid >"$dir/incarnation"
    echo "$k" >"$dir/subnet"
    : >"$dir/nodes"
    for ((i = 1; i <= n; i++)); do
        node=$name${letters:i-1:1}
        echo "$node" >>"$dir/nodes"
    done
    _cluster_say "up $name: $n node(s) $(_cluster_join <"$dir/nodes") on 10.88.$k.0/24"

    _cluster_prepare_host &&
    _cluster_make_ssh_dir "$name" &&
    _cluster_make_switch "$name" || { cluster_diag "$name"; return 1; }

    # CLUSTER_SHARED_NODES=N: the first N nodes see one folder of the host,
    # $dir/shared, at /var/lib/libvirt/shared (shared storage, as NFS would give).
    local shared_nodes=${CLUSTER_SHARED_NODES:-0} shared
    [ "$shared_nodes" -gt 0 ] && { mkdir -p -m 0755 "$dir/shared" || return 1; }
    i=0
    for node in $(cluster_nodes "$name"); do
        i=$((i + 1))
        shared=
        [ "$i" -le "$shared_nodes" ] && shared=$dir/shared
        _cluster_start_node "$name" "$node" "10.88.$k.$((10 + i))" "$shared" ||
            { cluster_diag "$name"; return 1; }
        # No QEMU capabilities cache yet: let the first node fill it alone,
        # the others then start from it (8 s + 1 s instead of 8 s per node).
        if [ $i = 1 ] && [ ! -d "$CLUSTER_ROOT/.qemu-caps" ]; then
            _cluster_wait_node "$node" || { cluster_diag "$name" "$node"; return 1; }
            _cluster_save_caps "$node"
        fi
    done
    for node in $(cluster_nodes "$name"); do
        _cluster_wait_node "$node" || { cluster_diag "$name" "$node"; return 1; }
    done
    _cluster_save_caps "$(cluster_nodes "$name" | head -n1)"
    for node in $(cluster_nodes "$name"); do
        _cluster_unpin_libvirtd "$node"
    done
    _cluster_fill_known_hosts "$name" &&
    _cluster_check_ssh_mesh "$name" || { cluster_diag "$name"; return 1; }
    for node in $(cluster_nodes "$name"); do
        _cluster_write_migrated_conf "$name" "$node" &&
        _cluster_make_pool "$node" || { cluster_diag "$name" "$node"; return 1; }
    done
    _cluster_say "up $name: ready in $((SECONDS - started)) s"
}

# Things shared by all nodes, done once and under a lock because other
# instances may be coming up at the same time.
_cluster_prepare_host() {
    local d
    (
        flock 9
        for d in "${CLUSTER_MOUNTPOINTS[@]}"; do
            [ -d "$d" ] || mkdir -p -m 0755 "$d" || exit 1
        done
        # Debian's QEMU driver looks this user up before reading qemu.conf.
        if ! id libvirt-qemu >/dev/null 2>&1; then
            getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu || exit 1
            useradd -r -g libvirt-qemu -s /usr/sbin/nologin libvirt-qemu || exit 1
        fi
    ) 9>"$CLUSTER_ROOT/.host.lock"
}

# The cluster's own /root/.ssh: one key, trusted by every node.
_cluster_make_ssh_dir() {
    local s
    s=$(_cluster_dir "$1")/ssh
    mkdir -p -m 0700 "$s" || return 1
    ssh-keygen -q -t ed25519 -N '' -C "root@cluster-$1" -f "$s/id_ed25519" || return 1
    cp "$s/id_ed25519.pub" "$s/authorized_keys"
    : >"$s/known_hosts"
    # BatchMode: never hang on a prompt.  The host's ssh_config is read after
    # this file, so these settings win.
    cat >"$s/config" <<'EOF'
Host *
    BatchMode yes
    StrictHostKeyChecking yes
    UserKnownHostsFile /root/.ssh/known_hosts
    GlobalKnownHostsFile /dev/null
    GSSAPIAuthentication no
    ConnectTimeout 10
EOF
    chmod 0600 "$s"/*
    chmod 0644 "$s"/*.pub
}

# The switch: a bridge in a namespace of its own.
_cluster_make_switch() {
    local sw
    sw=$(_cluster_switch_ns "$1")
    ip netns add "$sw" &&
    ip -n "$sw" link set lo up &&
    ip -n "$sw" link add br0 type bridge &&
    ip -n "$sw" link set br0 up
}

# _cluster_start_node NAME NODE IP [SHARED]: network, config files, then node-init.sh.
_cluster_start_node() {
    local name=$1 node=$2 ip=$3 shared=${4-} ns sw nd pid
    ns=$(_cluster_node_ns "$node")
    sw=$(_cluster_switch_ns "$name")
    nd=$(_cluster_node_dir "$node")
    mkdir -p -m 0700 "$nd" || return 1
    echo "$ip" >"$nd/ip"

    # veth pair created inside the switch namespace, one end moved straight
    # into the node: nothing ever appears in the root namespace.
    ip netns add "$ns" || return 1
    stat -L -c %i "/run/netns/$ns" >"$nd/netns-inode"
    ip -n "$sw" link add "v-$node" type veth peer name eth0 netns "$ns" &&
    ip -n "$sw" link set "v-$node" master br0 up &&
    ip -n "$ns" link set lo up &&
    ip -n "$ns" addr add "$ip/24" dev eth0 &&
    ip -n "$ns" link set eth0 up || return 1

    _cluster_write_sshd_config "$node" "$ip" || return 1
    _cluster_seed_caps "$node"

    # setsid: the node must not belong to the caller's process group (meson
    # kills a test's whole group); its output goes to init.log, never to the
    # caller's stdout (a test runner would wait for that pipe to close).
    setsid ip netns exec "$ns" unshare --mount --uts --propagation private \
        bash "$CLUSTER_LIBDIR/node-init.sh" "$node" "$ip" "$nd" "$(_cluster_dir "$name")/ssh" "$shared" \
        </dev/null >"$nd/init.log" 2>&1 &
    # node-init.sh records its own pid ($! is not it where setsid has to
    # fork, e.g. under job control).
    for _ in $(seq 50); do
        [ -s "$nd/init.pid" ] && break
        sleep 0.1
    done
    pid=$(cat "$nd/init.pid" 2>/dev/null) || { _cluster_err "node $node: init did not start"; return 1; }
    _cluster_say "node $node: $ip, init pid $pid, netns $ns"
}

_cluster_write_sshd_config() {
    local node=$1 ip=$2 nd
    nd=$(_cluster_node_dir "$node")
    # Per-node host key: each node is a distinct host to ssh.
    ssh-keygen -q -t ed25519 -N '' -C "$node" -f "$nd/ssh_host_ed25519_key" || return 1
    # A config of our own rather than the host's /etc/ssh/sshd_config: only
    # key login for root, on the node's address.  UsePAM=no: a PAM session
    # adds nothing here (UsePAM=yes was tried and works as well).
    cat >"$nd/sshd_config" <<EOF
ListenAddress $ip
Port 22
HostKey $nd/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile .ssh/authorized_keys
PrintMotd no
MaxStartups 50:30:100
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel VERBOSE
EOF
}

# libvirtd probes every QEMU binary when it starts: ~8 s per node, ~16 s when
# two nodes do it at once on 2 cores.  Nodes start from a copy of the QEMU
# capabilities cache of an earlier node (kept in $CLUSTER_ROOT/.qemu-caps,
# shared by all instances); libvirt re-probes by itself when QEMU, libvirt or
# the kernel changed since, so a stale copy costs only time.
_cluster_seed_caps() {
    local dst
    dst=$(_cluster_node_dir "$1")/cache-libvirt/qemu/capabilities
    [ -d "$CLUSTER_ROOT/.qemu-caps" ] || return 0
    mkdir -p "$dst" && cp -p "$CLUSTER_ROOT/.qemu-caps/"*.xml "$dst/" 2>/dev/null
    return 0
}

_cluster_save_caps() {
    local src tmp
    src=$(_cluster_node_dir "$1")/cache-libvirt/qemu/capabilities
    ls "$src"/*.xml >/dev/null 2>&1 || return 0
    tmp=$(mktemp -d "$CLUSTER_ROOT/.qemu-caps.XXXXXX") || return 0
    cp -p "$src"/*.xml "$tmp/" &&
    rm -rf "$CLUSTER_ROOT/.qemu-caps" &&
    mv "$tmp" "$CLUSTER_ROOT/.qemu-caps" || rm -rf "$tmp"
    return 0
}

# node-init.sh starts libvirtd pinned to one CPU (see there); give all its
# threads every CPU we may use once its capabilities are loaded.
_cluster_unpin_libvirtd() {
    local pid cpus
    pid=$(cat "$(_cluster_node_dir "$1")/run/libvirtd.pid" 2>/dev/null) || return 0
    cpus=$(awk '/^Cpus_allowed_list/ {print $2}' /proc/self/status)
    taskset -a -p -c "$cpus" "$pid" >/dev/null 2>&1
    return 0
}

# Wait until the node's init says ready, libvirtd answers and sshd listens.
_cluster_wait_node() {
    local node=$1 nd state deadline
    nd=$(_cluster_node_dir "$node")
    deadline=$((SECONDS + CLUSTER_UP_TIMEOUT))
    while :; do
        state=$(cat "$nd/state" 2>/dev/null) || state=
        case $state in
        failed*) _cluster_err "node $node: $state"; return 1 ;;
        ready)
            # /run/sshd.pid is written once sshd listens (the node's /run is
            # $nd/run on the host).  libvirtd accepts connections before its
            # QEMU driver has probed QEMU; only then does `virsh version` show
            # the running hypervisor.
            if [ -s "$nd/run/sshd.pid" ]; then
                case $(cluster_run "$node" virsh -c qemu:///system version 2>/dev/null) in
                *"Running hypervisor: QEMU"*) return 0 ;;
                esac
            fi ;;
        esac
        if ! kill -0 "$(cat "$nd/init.pid" 2>/dev/null)" 2>/dev/null; then
            _cluster_err "node $node: init process died (state '$state')"; return 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            _cluster_err "node $node: not ready after ${CLUSTER_UP_TIMEOUT}s (state '$state')"
            return 1
        fi
        sleep 0.2
    done
}

# known_hosts from ssh-keyscan of every node (run from the first node: only
# the nodes can reach the switch), checked against the keys we generated.
_cluster_fill_known_hosts() {
    local name=$1 first node ip kh scanned tries=0
    first=$(cluster_nodes "$name" | head -n1)
    kh=$(_cluster_dir "$name")/ssh/known_hosts
    : >"$kh"
    for node in $(cluster_nodes "$name"); do
        ip=$(cluster_ip "$node")
        scanned=
        while [ -z "$scanned" ] && [ $tries -lt 20 ]; do
            scanned=$(cluster_run "$first" ssh-keyscan -t ed25519 -T 5 "$ip" 2>/dev/null |
                      grep -v '^#') || scanned=
            [ -n "$scanned" ] || { tries=$((tries + 1)); sleep 0.3; }
        done
        if [ "$(echo "$scanned" | awk '{print $3}')" != \
             "$(awk '{print $2}' "$(_cluster_node_dir "$node")/ssh_host_ed25519_key.pub")" ]; then
            _cluster_err "ssh-keyscan of $node ($ip) did not return its host key: '$scanned'"
            return 1
        fi
        echo "$scanned" >>"$kh"
    done
}

# Every node logs in to every other node as root with the cluster key.
_cluster_check_ssh_mesh() {
    local name=$1 a b
    for a in $(cluster_nodes "$name"); do
        for b in $(cluster_nodes "$name"); do
            [ "$a" = "$b" ] && continue
            if ! cluster_run "$a" ssh "root@$(cluster_ip "$b")" true; then
                _cluster_err "ssh from $a to $b ($(cluster_ip "$b")) failed"
                return 1
            fi
        done
    done
    _cluster_say "ssh works between all nodes of $name"
}

# /etc/migrated/migrated.conf as in DESIGN.md: this node, then every peer.
_cluster_write_migrated_conf() {
    local name=$1 node=$2 peer f
    f=$(_cluster_node_dir "$node")/etc-migrated/migrated.conf
    {
        echo "# written by tests/cluster/lib/cluster.sh"
        echo "[Node]"
        echo "Name=$node"
        # Extra [Node] lines a test asks for, e.g. CLUSTER_NODE_CONF=$'ShutdownTimeout=2'
        [ -n "${CLUSTER_NODE_CONF-}" ] && printf '%s\n' "$CLUSTER_NODE_CONF"
        for peer in $(cluster_nodes "$name"); do
            [ "$peer" = "$node" ] && continue
            echo
            echo "[Peer $peer]"
            echo "Address=root@$(cluster_ip "$peer")"
            echo "MigrationAddress=$(cluster_ip "$peer")"
        done
    } >"$f"
}

# Storage pool "images" over /var/lib/libvirt/images (libvirt streams and
# volume precreation need one on both ends).
_cluster_make_pool() {
    local node=$1
    cluster_run "$node" virsh -q -c qemu:///system pool-define-as images dir \
        --target /var/lib/libvirt/images >/dev/null &&
    cluster_run "$node" virsh -q -c qemu:///system pool-start images >/dev/null &&
    cluster_run "$node" virsh -q -c qemu:///system pool-autostart images >/dev/null
}

# ---------------------------------------------------------------------------
# tear-down

# cluster_down NAME: stop everything of instance NAME.  Idempotent, never fails.
# Serialized per instance with a lock so a detached teardown (see
# cluster_trap_down) and the next run's stale cleanup never overlap.
cluster_down() {
    local name=${1-}
    _cluster_check_name "$name" || return 0
    mkdir -p -m 0700 "$CLUSTER_ROOT" 2>/dev/null
    (
        flock 8
        _cluster_down_locked "$name"
    ) 8>"$CLUSTER_ROOT/.$name.lock"
    return 0
}

_cluster_down_locked() {
    local name=$1 dir ns pids round m
    dir=$(_cluster_dir "$name")
    # A detached teardown only removes the bring-up it was started for: by
    # the time it gets the lock, a new run of NAME may own the instance.
    if [ -n "${CLUSTER_DOWN_INCARNATION:-}" ] &&
       [ "$(cat "$dir/incarnation" 2>/dev/null)" != "$CLUSTER_DOWN_INCARNATION" ]; then
        _cluster_say "down $name: already gone or brought up again since; nothing to do"
        return 0
    fi
    # SIGTERM first (libvirtd, sshd, qemu shut down cleanly), then SIGKILL.
    for round in TERM TERM TERM TERM TERM TERM TERM TERM TERM TERM KILL KILL KILL KILL KILL; do
        pids=$(_cluster_pids "$name")
        [ -z "$pids" ] && break
        # shellcheck disable=SC2086
        kill -s "$round" $pids 2>/dev/null
        sleep 0.3
    done
    pids=$(_cluster_pids "$name")
    [ -n "$pids" ] && _cluster_err "down $name: processes survived SIGKILL: $pids"
    for ns in $(_cluster_namespaces "$name"); do
        ip netns del "$ns" 2>/dev/null
    done
    # Node mounts live in private mount namespaces and vanish with them; this
    # only catches a mount someone made by hand under the state root.
    for m in $(findmnt -rn -o TARGET 2>/dev/null | grep "^$dir/" | sort -r); do
        umount -l "$m" 2>/dev/null
    done
    if [ -d "$dir" ]; then
        rm -rf --one-file-system "$dir"
        _cluster_say "down $name: done"
    fi
    return 0
}

# Every process of instance NAME: those in its named namespaces, plus those
# still in a node's network namespace after it lost its name (an interrupted
# teardown), found by the namespace inode we recorded.
_cluster_pids() {
    local name=$1 ns f ino p
    {
        for ns in $(_cluster_namespaces "$name"); do
            ip netns pids "$ns" 2>/dev/null
        done
        for f in "$(_cluster_dir "$name")"/*/netns-inode; do
            [ -s "$f" ] || continue
            ino=$(cat "$f")
            for p in /proc/[0-9]*; do
                [ "$(readlink "$p/ns/net" 2>/dev/null)" = "net:[$ino]" ] && echo "${p#/proc/}"
            done
        done
    } | sort -un | grep -vx "$$" | tr '\n' ' '
}

# cluster_clean_stale NAME: remove what an interrupted earlier run of NAME
# left behind (namespaces, processes, state folder).
cluster_clean_stale() {
    local name=$1
    _cluster_check_name "$name" || return 1
    if [ -n "$(_cluster_namespaces "$name")" ] || [ -e "$(_cluster_dir "$name")" ]; then
        _cluster_say "removing leftovers of an earlier run of $name:" \
                     "$(_cluster_namespaces "$name" | _cluster_join)"
        cluster_down "$name"
    fi
    return 0
}

# cluster_trap_down NAME...: tear the instance(s) down when the script ends,
# whether it passes, fails or is interrupted.  On a normal exit teardown runs
# in the script; on INT/TERM/HUP it runs detached (new session) because meson
# SIGKILLs a test's process group 0.5 s after SIGTERM, too soon to finish.
# Call it before cluster_up.
_CLUSTER_TRAPPED=()
cluster_trap_down() {
    _CLUSTER_TRAPPED+=("$@")
    trap '_cluster_on_exit' EXIT
    trap '_cluster_on_signal 130' INT
    trap '_cluster_on_signal 143' TERM
    trap '_cluster_on_signal 129' HUP
}

_cluster_on_exit() {
    local rc=$? name
    # INT/TERM stay trapped: a signal during this teardown hands it over to a
    # detached one (the lock makes the two take turns).
    trap - EXIT
    set +e
    if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
        for name in "${_CLUSTER_TRAPPED[@]}"; do cluster_diag "$name"; done
    fi
    for name in "${_CLUSTER_TRAPPED[@]}"; do
        _cluster_say "tearing down $name"
        cluster_down "$name"
    done
    # the sourcing script's last word (checks.sh: its failed checks), after all else
    if declare -F cluster_exit_note >/dev/null; then cluster_exit_note; fi
    exit "$rc"
}

_cluster_on_signal() {
    local rc=$1 name
    trap - EXIT INT TERM HUP
    for name in "${_CLUSTER_TRAPPED[@]}"; do
        _cluster_say "interrupted: tearing down $name in the background" \
                     "(log: $CLUSTER_ROOT/.$name.teardown.log)"
        # "none" if our bring-up had not started: then leave all to the next run
        CLUSTER_DOWN_INCARNATION=$(cat "$(_cluster_dir "$name")/incarnation" 2>/dev/null || echo none) \
            setsid bash "$CLUSTER_SELF" down "$name" </dev/null \
            >"$CLUSTER_ROOT/.$name.teardown.log" 2>&1 &
    done
    exit "$rc"
}

# ---------------------------------------------------------------------------
# using the nodes

# cluster_nodes NAME: the node names, one per line.
cluster_nodes() {
    local f
    f=$(_cluster_dir "${1-}")/nodes
    [ -r "$f" ] || { _cluster_err "no cluster instance '${1-}'"; return 1; }
    cat "$f"
}

# cluster_ip NODE: the node's address.
cluster_ip() {
    local f
    f=$(_cluster_node_dir "${1-}")/ip
    [ -r "$f" ] || { _cluster_err "no node '${1-}'"; return 1; }
    cat "$f"
}

# The node's init pid, checked to still be that node (same network namespace).
_cluster_pid() {
    local node=$1 nd pid ino
    nd=$(_cluster_node_dir "$node")
    pid=$(cat "$nd/init.pid" 2>/dev/null) && ino=$(cat "$nd/netns-inode" 2>/dev/null) || {
        _cluster_err "no node '$node'"; return 1; }
    if [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" != "net:[$ino]" ]; then
        _cluster_err "node $node is not running (init pid $pid gone)"; return 1
    fi
    echo "$pid"
}

# cluster_run NODE CMD...: run CMD on NODE; its exit code is passed through
# (255 when the node does not exist).
cluster_run() {
    local node=${1-} pid child
    shift || true
    pid=$(_cluster_pid "$node") || return 255
    if [ ${#_CLUSTER_TRAPPED[@]} -eq 0 ]; then
        nsenter -t "$pid" -m -n -u -- "$@"
        return
    fi
    # Under cluster_trap_down: bash defers a trap until the foreground command
    # ends (and a command may sit in a process group of its own, as `timeout`
    # does, out of reach of a group kill), but a trapped signal interrupts
    # `wait` at once.  So run it in the background (stdin passed on
    # explicitly) and wait; the teardown kills it along with its node.
    nsenter -t "$pid" -m -n -u -- "$@" <&0 &
    child=$!
    wait "$child"
}

# Domains on the nodes (cluster_define_domain, cluster_precreate_disk,
# cluster_disk_vsize, ...): domain.sh, next to this file.

# ---------------------------------------------------------------------------
# diagnostics

# cluster_diag NAME [NODE...]: what a failing test needs to see.
cluster_diag() {
    local name=${1-} node nd pids f
    shift || true
    local nodes=("$@")
    [ ${#nodes[@]} -gt 0 ] || mapfile -t nodes < <(cluster_nodes "$name" 2>/dev/null)
    {
        echo "===== diagnostics of cluster $name ====="
        echo "namespaces: $(_cluster_namespaces "$name" | _cluster_join)"
        for node in "${nodes[@]}"; do
            nd=$(_cluster_node_dir "$node")
            echo "----- node $node ($(cat "$nd/ip" 2>/dev/null)): state '$(cat "$nd/state" 2>/dev/null)'"
            pids=$(ip netns pids "$(_cluster_node_ns "$node")" 2>/dev/null | tr '\n' ,)
            [ -n "$pids" ] && ps -o pid,args -p "${pids%,}" | cut -c1-160
            for f in init.log log-libvirt/libvirtd.log log-libvirt/virtlogd.log sshd.log \
                     log-libvirt/qemu/*.log; do
                [ -s "$nd/$f" ] || continue
                echo "--- $node: tail of $f"
                tail -n 25 "$nd/$f"
            done
        done
        echo "===== end of diagnostics ====="
    } >&2
}

# ---------------------------------------------------------------------------
# command line

_cluster_usage() {
    cat <<'EOF'
usage: cluster.sh COMMAND ...
  up NAME N                  bring up nodes NAMEa, NAMEb, ... (N of them)
  down NAME                  stop them and remove all state
  run NODE CMD...            run CMD on NODE (exit code passed through)
  ip NODE                    the node's address
  nodes NAME                 the instance's node names
  list                       instances with state under $CLUSTER_ROOT
  diag NAME [NODE...]        print logs and processes
  define-domain NODE DOM [--running] [--mem MiB] [--disk-mib N] [--disk-data-mib N]
                 [--bridge BR] ...   (domain.sh: cluster_define_domain)
  precreate-disk NODE PATH SIZE FORMAT
environment: CLUSTER_ROOT (state, default /var/tmp/migrated-cluster),
  CLUSTER_SUBNET (third octet of 10.88.K.0/24), CLUSTER_DOMAIN_TYPE (kvm|qemu)
EOF
}

_cluster_main() {
    local cmd=${1:-help}
    shift || true
    case $cmd in
    up)             cluster_up "$@" ;;
    down)           cluster_down "$@" ;;
    clean-stale)    cluster_clean_stale "$@" ;;
    run)            cluster_run "$@" ;;
    ip)             cluster_ip "$@" ;;
    nodes)          cluster_nodes "$@" ;;
    diag)           cluster_diag "$@" ;;
    define-domain)  cluster_define_domain "$@" ;;
    precreate-disk) cluster_precreate_disk "$@" ;;
    list)           ls "$CLUSTER_ROOT" 2>/dev/null; ip netns list | grep "^$CLUSTER_NS_PREFIX" || true ;;
    help|-h|--help) _cluster_usage ;;
    *)              _cluster_usage >&2; return 2 ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    _cluster_main "$@"
    exit $?
fi
