#!/usr/bin/env bash
# The Python package (python/selfcompress): its pytest suite (python/tests)
# against the freshly built shared library, found through SELFCOMPRESS_LIB;
# mypy --strict over the package and its tests (flags: python/pyproject.toml);
# examples/python/fit_quadrants.py. Uses Debian's /usr/bin/python3 with
# python3-numpy, python3-pytest, python3-tqdm and python3-mypy; skips, saying
# so, when numpy, pytest or tqdm is missing.
set -euo pipefail
root=${SC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
libdir=${SC_LIBDIR:-$root/lib}
build=${SC_BUILD:-$root/build}
py=/usr/bin/python3
[ -x "$py" ] || { echo "python_binding: SKIP: $py not found (apt-get install python3)"; exit 0; }
for m in numpy pytest tqdm; do
    "$py" -c "import $m" 2>/dev/null || {
        echo "python_binding: SKIP: python3-$m missing (apt-get install python3-$m)"; exit 0; }
done
export SELFCOMPRESS_LIB="$libdir/libselfcompress.so.0"
export PYTHONPATH="$root/python" PYTHONDONTWRITEBYTECODE=1
cd "$root/python"
"$py" -m pytest -q -p no:cacheprovider tests
if "$py" -c 'import mypy' 2>/dev/null; then
    MYPYPATH=tests "$py" -m mypy --strict --cache-dir "$build/mypy" selfcompress tests \
        "$root/examples/python/fit_quadrants.py"
else
    echo "python_binding: mypy not run: python3-mypy missing (apt-get install python3-mypy)"
fi
"$py" "$root/examples/python/fit_quadrants.py" --epochs 3 --quiet
echo "python_binding: OK"
