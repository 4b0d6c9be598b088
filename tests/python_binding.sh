#!/usr/bin/env bash
# Runs the ctypes binding's unittest suite (examples/python) with Debian's
# python3 and python3-numpy against the built shared library, then checks
# that the module finds the repository's lib/ on its own.
set -euo pipefail
root=${SC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
libdir=${SC_LIBDIR:-$root/lib}
py=/usr/bin/python3
[ -x "$py" ] || { echo "python_binding: $py not found (apt-get install python3)" >&2; exit 1; }
"$py" -c 'import numpy' || { echo "python_binding: python3-numpy missing (make deps)" >&2; exit 1; }
cd "$root/examples/python"
SELFCOMPRESS_LIB="$libdir/libselfcompress.so.0" PYTHONDONTWRITEBYTECODE=1 \
    "$py" -m unittest -v test_selfcompress 2>&1
# No SELFCOMPRESS_LIB and no installed selfcompress.pc: the repository's lib/.
found=$(env -u SELFCOMPRESS_LIB PKG_CONFIG_PATH=/nonexistent PKG_CONFIG_LIBDIR=/nonexistent \
    PYTHONDONTWRITEBYTECODE=1 "$py" -c 'import os, selfcompress as sc; print(os.path.realpath(sc.find_library())); print(sc.version())')
printf '%s\n' "$found"
[ "$(printf '%s\n' "$found" | sed -n 1p)" = "$(realpath "$root/lib/libselfcompress.so.0")" ] \
    || { echo "python_binding: did not fall back to the repository's lib/" >&2; exit 1; }
echo "python_binding: OK"
