#!/bin/bash
# meson install step: put the example config in place unless the operator has one.
set -eu
confdir=${DESTDIR:-}$1 example=${DESTDIR:-}$2
mkdir -p "$confdir"
if [ ! -e "$confdir/migrated.conf" ]; then
        install -m 0644 "$example" "$confdir/migrated.conf"
fi
