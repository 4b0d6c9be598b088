#!/usr/bin/env bash
# The ONNX export seen from outside the library: tests/test_onnx.c's
# export_files case writes the benchmark nets (quantised, three of them
# compressed), a net of the other layer kinds and a loaded model as ONNX
# files with inputs and the library's outputs; tests/onnx/check_export.py
# runs onnx.checker on each and evaluates it with its own NumPy evaluator
# (tests/onnx/onnx_numpy.py), which must give the library's outputs within
# 1e-5 of the largest. Skipped, with a message, when /usr/bin/python3 lacks
# onnx or numpy (Debian's python3-onnx, python3-numpy).
set -euo pipefail
root=${SC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
build=${SC_BUILD:-$root/build}
py=/usr/bin/python3
if ! [ -x "$py" ] || ! "$py" -c 'import onnx, numpy' 2>/dev/null; then
    echo "onnx_export: SKIPPED: $py with onnx and numpy is needed (apt-get install python3-onnx python3-numpy)"
    exit 0
fi
exe="$build/tests/test_onnx"
[ -x "$exe" ] || { echo "onnx_export: $exe is not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
SC_ONNX_EXPORT_DIR="$tmp" CK_RUN_CASE=export_files "$exe"
n=$(find "$tmp" -name '*.onnx' | wc -l)
[ "$n" -ge 8 ] || { echo "onnx_export: expected at least 8 exported files, found $n" >&2; exit 1; }
PYTHONDONTWRITEBYTECODE=1 "$py" "$root/tests/onnx/check_export.py" "$tmp"
echo "onnx_export: OK"
