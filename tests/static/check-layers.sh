#!/bin/bash
# The layering rule, checked on the sources: each file includes only headers of its own
# layer or of the layers below it, and the engines and core never touch a bus message.
#
#   common → daemon/base → daemon/core → daemon/cold, daemon/live → daemon/bus → daemon/main.c
#   common → client, common → hooks
#
# Prints every include that crosses a layer upwards (or sideways between the engines) and
# every sd_bus_message in core or an engine; exits 1 when there is one.
# Usage: check-layers.sh SOURCE_ROOT
set -u
root=${1:-$(dirname "$0")/../..}
cd "$root" || exit 2

# The layer of a source file, as a rank and a name; sideways: cold and live share rank 3.
layer_of() {
        case $1 in
        common/*) echo "0 common" ;;
        daemon/base/*) echo "1 base" ;;
        daemon/core/*) echo "2 core" ;;
        daemon/cold/*) echo "3 cold" ;;
        daemon/live/*) echo "3 live" ;;
        daemon/bus/*) echo "4 bus" ;;
        daemon/main.c) echo "5 main" ;;
        client/*) echo "1 client" ;;
        hooks/*) echo "1 hooks" ;;
        *) echo "" ;;
        esac
}

# Where a quoted include is found: the header's path among the layers, or nothing (a
# generated header such as buildconfig.h, or one of the system).
header_path() {
        local h=$1 d
        for d in common daemon/base daemon/core daemon/cold daemon/live daemon/bus client hooks daemon .; do
                [ -f "$d/$h" ] && { [ "$d" = . ] && echo "$h" || echo "$d/$h"; return; }
        done
}

bad=0
while IFS= read -r file; do
        read -r rank name < <(layer_of "$file")
        [ -n "${rank:-}" ] || continue
        while IFS=: read -r line header; do
                target=$(header_path "$header")
                [ -n "$target" ] || continue
                read -r trank tname < <(layer_of "$target")
                ok=1
                if [ "$trank" -gt "$rank" ]; then ok=0; fi
                if [ "$trank" -eq "$rank" ] && [ "$tname" != "$name" ]; then ok=0; fi
                if [ "$name" = client ] || [ "$name" = hooks ]; then
                        [ "$tname" = common ] || [ "$tname" = "$name" ] || ok=0
                fi
                if [ $ok -eq 0 ]; then
                        echo "$file:$line: includes $target ($tname) from layer $name"
                        bad=1
                fi
        done < <(grep -n '^#include "' "$file" | sed -E 's/^([0-9]+):#include "([^"]+)".*/\1:\2/')
done < <(find common daemon client hooks -name '*.[ch]' | sort)

# The engines and core see no bus message: the bus layer reads and builds them.
while IFS= read -r hit; do
        echo "$hit: a bus message outside the bus layer"
        bad=1
done < <(grep -n 'sd_bus_message' daemon/core/*.[ch] daemon/cold/*.[ch] daemon/live/*.[ch] 2>/dev/null)

if [ $bad -ne 0 ]; then
        echo "FAIL: the layers are crossed (see above)."
        exit 1
fi
echo "ok: every include stays in its layer or goes down; no bus message in core or the engines"
