#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The Cockpit page in a real browser: cockpit-ws (--local-session=cockpit-bridge) runs inside
# node A and serves /usr/share/cockpit/migrated; headless Chromium, driven by playwright-core
# (tests/cockpit/browser.js), runs there too.
#   - as root: a cold migration started from the page, its progress followed without a reload,
#     confirmed from the page (virsh: it runs on B, A is clean); a live migration started with
#     migratectl appears on the open page and reaches "completed" there; B disabled and enabled,
#     then evacuated and restored, from the page;
#   - as an ordinary user (nobody): the data shows, an action is refused with a hint;
#   - bash completion of migratectl against the node's daemon (domain and node names).
# Screenshots: $MIGRATED_ARTIFACTS/cockpit (meson: build/meson-logs/cockpit).
# Exit 0 pass, 1 fail, 77 skip.

set -u

# shellcheck source=lib/bench.sh
. "${CLUSTER_LIB:-$(dirname "$0")/lib/bench.sh}"

NAME=${CLUSTER_NAME:-tck}
export CLUSTER_SUBNET=${CLUSTER_SUBNET:-226}
# A short IdleTimeout: the daemon exits while the page is open, and the page must follow the one
# that D-Bus activation starts next.
export CLUSTER_NODE_CONF=$'ShutdownTimeout=1\nIdleTimeout=4'
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BROWSER=$SRC/tests/cockpit/browser.js
WS=/usr/lib/cockpit/cockpit-ws
SHOTS=${MIGRATED_ARTIFACTS:-/tmp/migrated-artifacts}/cockpit
PAGE=cockpit/@localhost/migrated/index.html

for need in "$WS" /usr/bin/cockpit-bridge /usr/bin/chromium "$SRC/tests/cockpit/node_modules/playwright-core"; do
        [ -e "$need" ] || { echo "SKIP: $need is missing (tools/install-deps installs it)"; exit 77; }
done
command -v node >/dev/null || { echo "SKIP: node is missing"; exit 77; }
[ -f /usr/share/cockpit/migrated/manifest.json ] || fail "the page is not installed (meson install)"

bench_up "$NAME" 2
rm -rf "$SHOTS" && mkdir -p "$SHOTS"
cluster_define_domain "$A" vm1 --running --disk-mib 1024 --disk-data-mib 768 >/dev/null || exit 1
make_domain "$A" vm2 32 || exit 1
HOMEDIR=$(_cluster_node_dir "$A")/browser-home
mkdir -p "$HOMEDIR/root" "$HOMEDIR/nobody" && chown 65534:65534 "$HOMEDIR/nobody"

# cockpit-ws USER PORT: serves one session as USER on 127.0.0.1:PORT inside node A.
cockpit_ws() {
        local user=$1 port=$2
        on "$A" setpriv --reuid="$user" --regid="$user" --clear-groups \
                env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$HOMEDIR/$3" LANG=C.UTF-8 \
                "$WS" --local-session=/usr/bin/cockpit-bridge --port "$port" --address 127.0.0.1 \
                >"$(_cluster_node_dir "$A")/cockpit-ws-$port.log" 2>&1 &
}
ws_up() { on "$A" bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# browser.js MODE ARGS...: its ok/FAIL lines become this test's checks.
browser() {
        local mode=$1 port=$2 line
        shift 2
        while IFS= read -r line; do
                case $line in
                "ok   "*) ok "${line#ok   }" ;;
                "FAIL "*) bad "${line#FAIL }" ;;
                "browser.js exit "*) check_eq "browser.js $mode ends well" "browser.js exit 0" "$line" ;;
                *) echo "   $line" ;;
                esac
        done < <(on "$A" env HOME="$HOMEDIR/root" timeout 400 node "$BROWSER" "$mode" \
                "http://127.0.0.1:$port/$PAGE" "$SHOTS" "$@" 2>&1; echo "browser.js exit $?")
}

say "cockpit-ws as root (administrative access) and as nobody (limited access) in $A"
cockpit_ws 0 9091 root
cockpit_ws 65534 9092 nobody
check "cockpit-ws for root listens" wait_until 10 ws_up 9091
check "cockpit-ws for nobody listens" wait_until 10 ws_up 9092

say "root: cold migration from the page, confirm from the page; a live one from migratectl"
sum=$(content_sum "$A" /var/lib/libvirt/images/vm1.qcow2)
browser admin 9091 vm1 vm2 "$B"
check "vm1 runs on $B" is_state "$B" vm1 running
check "$A has no vm1 left" is_state "$A" vm1 absent
check "$A has no vm1 disk left" wait_until 5 file_absent "$A" /var/lib/libvirt/images/vm1.qcow2
check "vm1's disk on $B has the content it had on $A" same_content "$B" /var/lib/libvirt/images/vm1.qcow2 "$sum"
check "vm2 runs on $B after the live migration" is_state "$B" vm2 running
check "$A has no vm2 running" is_state "$A" vm2 absent
confirmed_cold() { on "$A" migratectl --no-legend migrations --domain vm1 --status confirmed | grep -q cold; }
check "migratectl agrees: vm1's cold migration is confirmed" confirmed_cold

say "nobody: sees everything, may change nothing"
migrations() { on "$A" migratectl --no-legend migrations --full | sort; }
before=$(migrations)
browser limited 9092 "$B"
check_eq "no migration was added by the refused calls" "$before" "$(migrations)"
still_enabled() { on "$A" migratectl --no-legend hosts | grep -q "^$B  *enabled"; }
check "$B is still enabled" still_enabled

say "bash completion against $A's daemon"
out=$(on "$A" env EXPECT_DOMAIN=vm1 EXPECT_NODE="$B" bash "$SRC/tests/static/check-completion.sh" \
        "$SRC/completion/migratectl" 2>&1)
check "completion of verbs, options, domain and node names" [ $? -eq 0 ]
sed 's/^/   /' <<<"$out"

ls "$SHOTS"
finish "$A" "$B"
