#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Builds the libFuzzer targets with clang-14 (ASan + UBSan) and runs each for
# FUZZ_SECONDS (default 30) from its seed corpus; a crash, leak or failed
# assertion fails the run and leaves the reproducer in the build folder.
#   tests/fuzz/run-fuzz.sh SRCDIR BUILDDIR
# Exit 77 (skip) when clang-14 is missing.

set -euo pipefail
src=${1:?SRCDIR}
out=${2:?BUILDDIR}/fuzz
secs=${FUZZ_SECONDS:-30}
CLANG=${CLANG:-clang-14}
command -v "$CLANG" >/dev/null || { echo "SKIP: $CLANG is not installed"; exit 77; }
mkdir -p "$out"
flags=(-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$src/common" -I"$src/daemon/base" -I"${2}" $(pkg-config --cflags glib-2.0 libsystemd libxml-2.0))
libs=($(pkg-config --libs glib-2.0))
# target: the sources it needs besides its own
declare -A sources=(
    [hook-input]="common/hook-event.c common/id.c common/validate.c"
    [spool]="common/hook-event.c common/id.c common/validate.c"
    [dict-specs]="common/bus-variant.c common/errors.c"
    [config]="daemon/base/config.c common/rewrite.c common/validate.c"
    [disk-specs]="daemon/base/disk-spec.c common/rewrite.c"
    [qcow2-header]="daemon/base/disk-spec.c common/rewrite.c"
)
declare -A extra_libs=(
    [dict-specs]="$(pkg-config --libs libsystemd)"
    [config]="$(pkg-config --libs libxml-2.0)"
    [disk-specs]="$(pkg-config --libs libxml-2.0)"
    [qcow2-header]="$(pkg-config --libs libxml-2.0)"
)
targets=(hook-input spool dict-specs config disk-specs qcow2-header)
for t in "${targets[@]}"; do
    # shellcheck disable=SC2086  # word lists
    "$CLANG" "${flags[@]}" -o "$out/fuzz-$t" "$src/tests/fuzz/fuzz-$t.c" \
        $(printf "$src/%s " ${sources[$t]}) "${libs[@]}" ${extra_libs[$t]-}
done
for t in "${targets[@]}"; do
    work=$out/corpus-$t
    mkdir -p "$work"
    echo "== fuzz-$t: $secs s from tests/fuzz/corpus-$t"
    # libFuzzer exits 77 on a crash by default, which meson counts as a skip
    (cd "$out" && ASAN_OPTIONS=detect_leaks=1 "./fuzz-$t" -max_total_time="$secs" -max_len=8192 \
        -error_exitcode=1 -timeout_exitcode=1 \
        -print_final_stats=1 "$work" "$src/tests/fuzz/corpus-$t" 2>&1 | tail -n 12)
done
