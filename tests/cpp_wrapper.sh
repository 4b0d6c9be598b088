#!/usr/bin/env bash
# Builds tests/cpp/test_hpp.cpp (the tests of include/selfcompress.hpp)
# against the built shared library with g++ and clang++, -std=c++17 and
# -std=c++20, with and without -fno-exceptions -fno-rtti, all with
# -Wall -Wextra -Wpedantic -Werror, and runs each build; then one g++ build
# with AddressSanitizer and UBSan (leaks and double frees fail it). The C++
# example in docs/getting-started.md is compiled too, so it cannot rot.
set -euo pipefail
root=${SC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
libdir=${SC_LIBDIR:-$root/lib}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the destructors the test counts (see the test's header comment)
wrap=()
for f in sc_net_free sc_optimizer_free sc_tensor_free sc_model_free; do
    wrap+=("-Wl,--wrap=$f")
done
warn=(-Wall -Wextra -Wpedantic -Werror)

# name compiler flags...: the builds, two at a time (the two cores), then
# each run in turn
names=()
declare -A cmd
add() {
    local name=$1
    shift
    names+=("$name")
    cmd[$name]="$*"
}
for cxx in g++ clang++; do
    command -v "$cxx" >/dev/null || { echo "cpp_wrapper: $cxx not found" >&2; exit 1; }
    for std in c++17 c++20; do
        add "${cxx%++}-$std" "$cxx" -std=$std
        add "${cxx%++}-$std-noexc" "$cxx" -std=$std -fno-exceptions -fno-rtti
    done
done
add g-asan g++ -std=c++17 -fsanitize=address,undefined -fno-omit-frame-pointer \
    -fno-sanitize-recover=undefined

build() { # name
    # shellcheck disable=SC2086 # cmd[] holds a compiler and its flags
    ${cmd[$1]} "${warn[@]}" -O1 -g -I"$root/include" "$root/tests/cpp/test_hpp.cpp" \
        -o "$tmp/$1" -L"$libdir" -lselfcompress -Wl,-rpath,"$libdir" "${wrap[@]}" \
        >"$tmp/$1.log" 2>&1
}
pids=()
for name in "${names[@]}"; do
    if [ ${#pids[@]} -ge 2 ]; then
        wait "${pids[0]}" || true
        pids=("${pids[@]:1}")
    fi
    build "$name" &
    pids+=($!)
done
wait

for name in "${names[@]}"; do
    echo "cpp_wrapper: $name: ${cmd[$name]}"
    if [ ! -x "$tmp/$name" ]; then
        cat "$tmp/$name.log" >&2
        echo "cpp_wrapper: $name: build failed" >&2
        exit 1
    fi
    mkdir -p "$tmp/$name.d"
    SC_ROOT=$root ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
        "$tmp/$name" "$tmp/$name.d" | tee "$tmp/$name.out"
    grep -q '^test_hpp: OK' "$tmp/$name.out"
done
# docs/getting-started.md, section 4: the first C++ block, as a function body
awk '/^## 4\./{s=1} s && /^```cpp$/{f=1; next} f && /^```$/{exit} f' \
    "$root/docs/getting-started.md" > "$tmp/snippet.inc"
[ -s "$tmp/snippet.inc" ] || { echo "cpp_wrapper: no C++ example in docs/getting-started.md" >&2; exit 1; }
cat > "$tmp/snippet.cpp" <<'CPP'
#include <selfcompress.hpp>
#include <cstdio>
#include <vector>
int example(std::vector<float> &pixels, std::vector<int32_t> &labels)
{
#include "snippet.inc"
    (void)s;
    (void)st;
    return 0;
}
CPP
echo "cpp_wrapper: the example of docs/getting-started.md"
g++ -std=c++17 "${warn[@]}" -I"$root/include" -fsyntax-only "$tmp/snippet.cpp"
echo "cpp_wrapper: OK (g++ and clang++, C++17 and C++20, with and without exceptions, ASan)"
