#!/usr/bin/env bash
# Compiles and runs the C program shown in README.md against the built
# library, so the README's example cannot rot.
set -euo pipefail
root=${SC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -n '/<!-- readme-example-begin -->/,/<!-- readme-example-end -->/p' "$root/README.md" |
    sed '1,2d;$d' | sed '$d' > "$tmp/readme.c"
grep -q 'int main' "$tmp/readme.c" || { echo "readme_example: no program found in README.md" >&2; exit 1; }
${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$root/include" "$tmp/readme.c" \
    -L"$root/lib" -lselfcompress -Wl,-rpath,"$root/lib" -o "$tmp/readme"
"$tmp/readme"
