#!/usr/bin/env bash
# The C export (sc_model_export_c, docs/mcu.md) seen from outside: writes
# small calibrated models (tests/mcu/make_models.c: every layer kind with
# int8 code, and the benchmark tinynet and dscnn, quantised and
# compressed), exports each with build/examples/sc_export_c, compiles the
# generated code with gcc and clang (when installed) -std=c99 -Wall -Wextra
# -Wpedantic -Werror, and links it with tests/mcu/compare.c, which fails
# unless its logits on 200 random inputs are sc_model_forward's int8 logits
# bit for bit. A planted change to a generated weight must make the
# comparison fail.
set -euo pipefail
root=${SC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
build=${SC_BUILD:-$root/build}
libdir=${SC_LIBDIR:-$root/lib}
cc=${CC:-cc}
export_c="$root/build/examples/sc_export_c"
[ -x "$export_c" ] || { echo "export_c: $export_c is not built (make examples)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
host() { # host program $1 from sources $2..
    local out=$1
    shift
    "$cc" -std=c11 -O2 -Wall -Wextra -Werror -I"$root/include" "$@" -o "$out" \
        -L"$libdir" -lselfcompress -Wl,-rpath,"$libdir" -lz -lm
}
host "$tmp/make_models" "$root/tests/mcu/make_models.c"
"$tmp/make_models" "$tmp"
compilers=gcc
command -v clang >/dev/null 2>&1 && compilers="gcc clang"
for n in kinds tinynet dscnn; do
    d="$tmp/$n"
    mkdir -p "$d"
    "$export_c" "$tmp/$n.scm" "$d" model --description "$n (tests/export_c.sh)"
    for c in $compilers; do
        "$c" -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -c "$d/model.c" -o "$d/model_$c.o"
    done
    if grep -q 'malloc(\|#include <stdio\|#include <pthread' "$d/model.c" "$d/model.h"; then
        echo "export_c: $n: the generated code names malloc, stdio or pthread" >&2
        exit 1
    fi
    host "$d/compare" -I"$d" "$root/tests/mcu/compare.c" "$d/model.c"
    "$d/compare" "$tmp/$n.scm" 200
done
# the comparison can fail: one weight of the first layer changed
d="$tmp/kinds"
first=$(grep -o 'static const int8_t k[0-9]*' "$d/model.c" | head -1 | awk '{print $4}')
awk -v a="$first" '
    $0 ~ "static const int8_t " a "\\[" { inside = 1; print; next }
    inside && !done { sub(/-?[0-9]+/, "77"); done = 1 }
    { print }' "$d/model.c" > "$d/planted.c"
if cmp -s "$d/model.c" "$d/planted.c"; then
    echo "export_c: could not plant a change" >&2
    exit 1
fi
host "$d/planted" -I"$d" "$root/tests/mcu/compare.c" "$d/planted.c"
if "$d/planted" "$tmp/kinds.scm" 200 >/dev/null; then
    echo "export_c: a changed weight went unnoticed" >&2
    exit 1
fi
echo "export_c: OK"
