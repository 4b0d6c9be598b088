#!/usr/bin/env bash
# Installs the library into a temporary prefix, builds examples/cpp_host.cpp
# (a host of the C++ wrapper, selfcompress.hpp) against the installed copy
# through pkg-config, as a C++17 host would, with exceptions and with
# -fno-exceptions -fno-rtti, and runs it: it trains, compresses, saves, loads
# and compares outputs, and exits non-zero on any failure. Then checks, with
# the build without exceptions, that the log hook carries the BLAS-kernel
# warning when the kernel is forced below the CPU. make uninstall must
# remove every file install wrote.
set -euo pipefail
root=${SC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

env -u MAKEFLAGS -u MFLAGS make -s --no-print-directory -C "$root" install PREFIX="$prefix" >/dev/null
for h in selfcompress.h selfcompress.hpp; do
    cmp -s "$root/include/$h" "$prefix/include/$h" || { echo "cpp_host: $h not installed" >&2; exit 1; }
done
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs selfcompress)
echo "cpp_host: c++ -std=c++17 ... $flags"
${CXX:-c++} -std=c++17 -Wall -Wextra -Wpedantic -Werror -o "$tmp/cpp_host" \
    "$root/examples/cpp_host.cpp" $flags
${CXX:-c++} -std=c++17 -fno-exceptions -fno-rtti -Wall -Wextra -Wpedantic -Werror \
    -o "$tmp/cpp_host_noexc" "$root/examples/cpp_host.cpp" $flags
readelf -d "$tmp/cpp_host" | grep -q 'NEEDED.*\[libselfcompress\.so\.' \
    || { echo "cpp_host: not linked against libselfcompress.so" >&2; exit 1; }

LD_LIBRARY_PATH="$prefix/lib" "$tmp/cpp_host" "$tmp/model.scm" | tee "$tmp/out"
grep -qx 'cpp_host: OK' "$tmp/out"
[ -s "$tmp/model.scm" ] || { echo "cpp_host: no model file written" >&2; exit 1; }

# A kernel below the CPU must be reported through the log hook (once).
best=$("$root/build/examples/blas_kernel" --coretype || true)
if [ -n "$best" ] && [ "$best" != Prescott ]; then
    OPENBLAS_CORETYPE=Prescott LD_LIBRARY_PATH="$prefix/lib" \
        "$tmp/cpp_host_noexc" "$tmp/model2.scm" >/dev/null 2>"$tmp/err"
    n=$(grep -c 'warning: BLAS kernel .* is below what this CPU supports' "$tmp/err" || true)
    [ "$n" = 1 ] || { echo "cpp_host: expected one BLAS warning, got $n:" >&2; cat "$tmp/err" >&2; exit 1; }
    echo "cpp_host: BLAS warning reported under OPENBLAS_CORETYPE=Prescott"
fi
env -u MAKEFLAGS -u MFLAGS make -s --no-print-directory -C "$root" uninstall PREFIX="$prefix" >/dev/null
left=$(find "$prefix" -type f -o -type l)
[ -z "$left" ] || { echo "cpp_host: make uninstall left: $left" >&2; exit 1; }
echo "cpp_host: OK (installed library, pkg-config, C++17, with and without exceptions)"
