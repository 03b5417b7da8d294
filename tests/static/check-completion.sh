#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The bash completion of migratectl, driven as bash drives it: the file is
# sourced into this non-interactive bash, COMP_WORDS, COMP_CWORD, COMP_LINE and
# COMP_POINT are set for a command line with the cursor at its end, and
# _migratectl is called; COMPREPLY must then hold what is expected, and nothing
# may have been printed. Every check runs twice: with the file alone (the
# COMP_WORDS code path), and after bash-completion's own helpers where they are
# installed (the _get_comp_words_by_ref code path).
#
# migratectl must be in PATH (meson puts the build's first). Verbs and options
# come from `migratectl help`, which needs no daemon; without EXPECT_* the
# system bus is pointed at a socket that does not exist, so that the checks
# never reach (or D-Bus-activate) a daemon on this machine, and the completion
# of a domain must then print nothing and complete nothing.
#
#   EXPECT_DOMAIN=NAME  a domain the running daemon knows: `migratectl confirm
#                       <its first two letters><TAB>` must offer it
#   EXPECT_NODE=NAME    a node of the running daemon's cluster: `migratectl
#                       host-enable <TAB>` must offer it
#
#   check-completion.sh [COMPLETION_FILE]   (default: completion/migratectl)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
file=${1:-$here/../../completion/migratectl}
if [ ! -r "$file" ]; then
        echo "FAIL: $file: cannot be read"; exit 1
fi
if ! command -v migratectl >/dev/null 2>&1; then
        echo "FAIL: no migratectl in PATH ($PATH)"; exit 1
fi
echo "completion: $file"
echo "migratectl: $(command -v migratectl)"
if [ -z "${EXPECT_DOMAIN-}" ] && [ -z "${EXPECT_NODE-}" ]; then
        export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/migrated-check-completion
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# Runs the checks in the current shell, where the completion is loaded.
# Prints ok/FAIL per check; returns the number of failures.
run_checks() {
        local mode=$1 failures=0

        # complete WORD...: the command line, its last word being the one the
        # cursor is at the end of; leaves the candidates sorted in $got.
        complete_line() {
                COMP_WORDS=("$@")
                COMP_CWORD=$(($# - 1))
                COMP_LINE="$*"
                COMP_POINT=${#COMP_LINE}
                COMPREPLY=()
                _migratectl >"$tmp/out" 2>"$tmp/err"
                got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ')
                got=${got% }
        }
        # check WHAT CONDITION-RESULT DETAIL
        check() {
                local what=$1 ok=$2
                if [ -s "$tmp/out" ] || [ -s "$tmp/err" ]; then
                        ok=1
                        what="$what (and it printed: $(cat "$tmp/out" "$tmp/err" | head -3 | tr '\n' ' '))"
                fi
                if [ "$ok" -eq 0 ]; then
                        echo "ok   [$mode] $what"
                else
                        echo "FAIL [$mode] $what"
                        failures=$((failures + 1))
                fi
        }
        # has WORD: is WORD among the candidates?
        has() { [[ " $got " == *" $1 "* ]]; }

        complete_line migratectl mi
        [ "$got" = "migrate migrations" ]
        check "migratectl mi<TAB> gives exactly 'migrate migrations' (got '$got')" $?

        complete_line migratectl migrate --b
        # an option that takes an argument is offered as "--bandwidth=" (nospace)
        [ "$(tr ' ' '\n' <<<"$got" | sed 's/=$//' | sort | tr '\n' ' ')" = "--bandwidth --block-migration " ]
        check "migratectl migrate --b<TAB> gives --bandwidth and --block-migration (got '$got')" $?

        complete_line migratectl --no-l
        [ "$got" = "--no-legend" ]
        check "migratectl --no-l<TAB> gives --no-legend (got '$got')" $?

        if [ -n "${EXPECT_DOMAIN-}" ]; then
                complete_line migratectl confirm "${EXPECT_DOMAIN:0:2}"
                has "$EXPECT_DOMAIN"
                check "migratectl confirm ${EXPECT_DOMAIN:0:2}<TAB> includes $EXPECT_DOMAIN (got '$got')" $?
        else
                complete_line migratectl confirm ""
                [ -z "$got" ]
                check "migratectl confirm <TAB> with no daemon completes nothing, silently (got '$got')" $?
        fi

        if [ -n "${EXPECT_NODE-}" ]; then
                complete_line migratectl host-enable ""
                has "$EXPECT_NODE"
                check "migratectl host-enable <TAB> includes $EXPECT_NODE (got '$got')" $?
        fi
        return "$failures"
}

failed=0
(
        # shellcheck source=/dev/null
        source "$file" || exit 99
        if declare -F _get_comp_words_by_ref >/dev/null; then
                echo "FAIL [plain] bash-completion's helpers are loaded already"; exit 1
        fi
        run_checks plain
) || failed=1

bc=""
for f in /usr/share/bash-completion/bash_completion /etc/bash_completion; do
        [ -r "$f" ] && { bc=$f; break; }
done
if [ -n "$bc" ]; then
        (
                # shellcheck source=/dev/null
                source "$bc" >/dev/null 2>&1
                # shellcheck source=/dev/null
                source "$file" || exit 99
                run_checks bash-completion
        ) || failed=1
else
        echo "skip [bash-completion] not installed: only the COMP_WORDS code path was checked"
fi

if [ "$failed" -ne 0 ]; then
        echo "FAIL: the completion of migratectl"
        exit 1
fi
echo "ok: the completion of migratectl"
