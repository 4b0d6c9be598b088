#!/usr/bin/env bash
# A layer kind's knowledge lives in its op (src/ops/): fails when code in
# src/ outside src/ops/ (and src/onnx/, the ONNX importer, whose table maps
# each ONNX operator onto a kind through the public sc_net_add_layer, as a
# host builds a net) names a specific layer kind (SC_LAYER_*, but the
# count and SC_LAYER_DESC_INIT), compares a kind (kind == / kind !=) or switches on one. The
# check first runs itself on a copy of src/ with a violation planted, and
# fails if it does not catch it.
set -euo pipefail
root=${SC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}

# Prints the violations under directory $1 (a tree with src/ in it).
violations() {
    local dir=$1 f rel
    (cd "$dir" && find src -name '*.[ch]' ! -path 'src/ops/*' ! -path 'src/onnx/*' | sort) |
        while IFS= read -r rel; do
            f="$dir/$rel"
            awk -v file="$rel" -v node='(nd|node|x|in|a|b|nodes\[[^]]*\])(->|\.)kind' '
                { line = $0; sub(/\/\*.*\*\//, "", line) } # one-line comments
                line ~ /SC_LAYER_[A-Z0-9_]+/ {
                    t = line; gsub(/SC_LAYER_KIND_COUNT|SC_LAYER_DESC_INIT/, "", t)
                    if (t ~ /SC_LAYER_[A-Z0-9_]+/) { print file ":" NR ": names a kind: " $0; next }
                }
                # the kind of a node (nd->kind, nodes[i].kind, ...) compared,
                # or any kind compared with a number
                line ~ node "[ \t]*[!=]=" || line ~ "[!=]=[ \t]*" node ||
                line ~ /kind[ \t]*[!=]=[ \t]*[0-9]/ || line ~ /[0-9][ \t]*[!=]=[ \t]*[a-z_>.-]*kind([^_a-z]|$)/ {
                    print file ":" NR ": compares a kind: " $0; next
                }
                line ~ "switch[ \t]*\\(" node "[ \t]*\\)" {
                    print file ":" NR ": switches on a kind: " $0
                }' "$f"
        done
}

# the check must catch a planted violation of each form
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for plant in 'int planted = nd->kind == SC_LAYER_RELU;' \
             'int planted = nd->kind != 4;' \
             'switch (nd->kind) { }'; do
    rm -rf "$tmp/src"
    cp -r "$root/src" "$tmp/src"
    printf '%s\n' "$plant" >>"$tmp/src/engine/plan.c"
    if [ -z "$(violations "$tmp")" ]; then
        echo "layer_kinds: the check misses a planted violation: $plant" >&2
        exit 1
    fi
done

found=$(violations "$root")
if [ -n "$found" ]; then
    printf '%s\n' "$found" >&2
    echo "layer_kinds: code outside src/ops/ depends on specific layer kinds;" \
         "ask the op table (src/ops/ops.c) instead" >&2
    exit 1
fi
echo "layer_kinds: OK: no layer kind is named outside src/ops/"
