#!/bin/sh
# Usage: tests/check_exports.sh path/to/libselfcompress.so.X.Y.Z [expected-soname]
# Fails unless the SONAME is exactly the expected one (default
# libselfcompress.so.0) and every defined dynamic symbol is public sc_* API.
set -eu

lib=${1:?usage: check_exports.sh LIB.so [SONAME]}
want_soname=${2:-libselfcompress.so.0}

fail() { echo "check-exports: FAIL: $*" >&2; exit 1; }

[ -f "$lib" ] || fail "$lib does not exist"
command -v readelf >/dev/null 2>&1 || fail "readelf not found (binutils)"
command -v nm >/dev/null 2>&1 || fail "nm not found (binutils)"

# --- SONAME ---------------------------------------------------------------
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ -n "$soname" ] || fail "$lib has no SONAME"
[ "$soname" = "$want_soname" ] || fail "SONAME is '$soname', expected '$want_soname'"

# --- exported symbols -----------------------------------------------------
# nm -D --defined-only prints "ADDR TYPE NAME[@VERSION]" (absolute symbols may
# lack an address). The only non-sc_ entry a version script produces is the
# version node itself (type A, e.g. SELFCOMPRESS_0); anything else is a leak.
syms=$(nm -D --defined-only "$lib") || fail "nm failed on $lib"
[ -n "$syms" ] || fail "$lib exports no symbols at all"

bad=$(printf '%s\n' "$syms" | awk '
	NF >= 2 {
		type = $(NF - 1); name = $NF
		sub(/@.*/, "", name)
		if (type == "A" && name ~ /^SELFCOMPRESS_[0-9A-Za-z_.]*$/) next
		if (name !~ /^sc_/) print type " " name
	}')
if [ -n "$bad" ]; then
	echo "check-exports: symbols exported from $lib without the sc_ prefix:" >&2
	printf '%s\n' "$bad" | sed 's/^/  /' >&2
	fail "non-sc_ exports (give them static or hidden visibility, or rename them sc_*)"
fi

# --- every export is declared SC_API in the public header ------------------
# (an internal sc_* function with default visibility, e.g. the dispatcher of
# an extern target_clones function, would pass the prefix test above)
header=$(dirname "$0")/../include/selfcompress.h
[ -f "$header" ] || fail "cannot find $header"
api=$(sed -n 's/^SC_API[^(]*[^a-z0-9_]\(sc_[a-z0-9_]*\)(.*/\1/p' "$header" | sort -u)
[ -n "$api" ] || fail "no SC_API declarations found in $header"
exported=$(printf '%s\n' "$syms" | awk '{ n = $NF; sub(/@.*/, "", n) } n ~ /^sc_/ { print n }' | sort -u)
# the exported names once and the declared ones twice: uniq -u keeps those
# seen once, exported but not declared
undeclared=$( { printf '%s\n' "$exported"; printf '%s\n%s\n' "$api" "$api"; } | sort | uniq -u)
if [ -n "$undeclared" ]; then
	echo "check-exports: exported but not declared SC_API in $header:" >&2
	printf '%s\n' "$undeclared" | sed 's/^/  /' >&2
	fail "internal symbols leave the library"
fi

count=$(printf '%s\n' "$exported" | awk 'NF { c++ } END { print c + 0 }')
[ "$count" -gt 0 ] || fail "$lib exports no sc_* symbol"
echo "check-exports: OK: SONAME $soname, $count sc_* symbols exported"
