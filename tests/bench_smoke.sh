#!/usr/bin/env bash
# Runs the benchmark in its --quick form (tests/bench/bench.c, built by
# make check) and checks its output: a MACHINE line, a PEAK line per thread
# count, one BENCH line per case (5 nets x 2 thread counts x 6 modes) in
# the documented format with positive numbers, the *18 cases down to at
# most 18% of the weights, and one PAIR line per ratio measured in one
# process (5 nets x 2 thread counts x 3 pairs), q1 <= ratio <= q3.
set -euo pipefail
root=${SC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
exe="$root/build/tests/bench/bench" # built against lib/, like the examples
[ -x "$exe" ] || { echo "bench_smoke: $exe is not built (make bench-build)" >&2; exit 1; }

out=$("$exe" --quick --threads 1,2)
printf '%s\n' "$out"

num='[0-9]+(\.[0-9]+)?'
bench_re="^BENCH net=(mlp|tinynet|cnn|dscnn|seq1d) threads=[0-9]+ batch=[0-9]+ mode=(float|sc|infer|sc18|model|model18) img_s=$num gflops=$num peak_frac=$num sgemm_gflops=$num blas_core=[^ ]+ rss_mb=$num conv_kernel=(avx512|avx2|generic) weights_pct=$num\$"
pair_re="^PAIR net=(mlp|tinynet|cnn|dscnn|seq1d) threads=[0-9]+ batch=[0-9]+ (a=sc b=float|a=sc18 b=sc|a=model b=model18) ratio=$num q1=$num q3=$num rounds=[0-9]+\$"
n=0
np=0
while IFS= read -r line; do
    case "$line" in
    "MACHINE "*)
        printf '%s\n' "$line" | grep -Eq '^MACHINE cpu="[^"]*" cores=[0-9]+ .*blas_core=[^ ]+ ' \
            || { echo "bench_smoke: bad MACHINE line: $line" >&2; exit 1; } ;;
    "PEAK "*)
        printf '%s\n' "$line" | grep -Eq "^PEAK threads=[0-9]+ fma_gflops=$num isa=(avx512|avx2|none)\$" \
            || { echo "bench_smoke: bad PEAK line: $line" >&2; exit 1; } ;;
    "BENCH "*)
        printf '%s\n' "$line" | grep -Eq "$bench_re" \
            || { echo "bench_smoke: BENCH line does not parse: $line" >&2; exit 1; }
        # every figure but peak_frac (0 without an FMA peak) must be > 0
        for key in img_s gflops sgemm_gflops rss_mb; do
            v=$(printf '%s\n' "$line" | sed -E "s/.* $key=([0-9.]+).*/\1/")
            awk -v v="$v" 'BEGIN { exit !(v > 0) }' \
                || { echo "bench_smoke: $key is not positive: $line" >&2; exit 1; }
        done
        w=$(printf '%s\n' "$line" | sed -E 's/.* weights_pct=([0-9.]+).*/\1/')
        case "$line" in
        *" mode=sc18 "*|*" mode=model18 "*) want='v > 5 && v <= 18' ;;
        *) want='v == 100' ;;
        esac
        awk -v v="$w" "BEGIN { exit !($want) }" \
            || { echo "bench_smoke: weights_pct $w is wrong: $line" >&2; exit 1; }
        n=$((n + 1)) ;;
    "PAIR "*)
        printf '%s\n' "$line" | grep -Eq "$pair_re" \
            || { echo "bench_smoke: PAIR line does not parse: $line" >&2; exit 1; }
        r=$(printf '%s\n' "$line" | sed -E 's/.* ratio=([0-9.]+) q1=([0-9.]+) q3=([0-9.]+) .*/\1 \2 \3/')
        awk -v r="$r" 'BEGIN { split(r, v, " "); exit !(v[1] > 0 && v[2] <= v[1] && v[1] <= v[3]) }' \
            || { echo "bench_smoke: PAIR ratio outside its quartiles: $line" >&2; exit 1; }
        np=$((np + 1)) ;;
    *) echo "bench_smoke: unexpected line: $line" >&2; exit 1 ;;
    esac
done <<< "$out"
[ "$n" -eq 60 ] || { echo "bench_smoke: $n BENCH lines, expected 60" >&2; exit 1; }
[ "$np" -eq 30 ] || { echo "bench_smoke: $np PAIR lines, expected 30" >&2; exit 1; }
printf '%s\n' "$out" | grep -q '^PEAK threads=1 ' || { echo "bench_smoke: no PEAK line" >&2; exit 1; }

# bad flags fail with a message
for args in "--nets resnet" "--modes fast" "--threads 0" "--bogus 1"; do
    if "$exe" $args >/dev/null 2>"${TMPDIR:-/tmp}/bench_smoke.err.$$"; then
        echo "bench_smoke: '$args' succeeded but should fail" >&2; exit 1
    fi
    grep -q '^bench: ' "${TMPDIR:-/tmp}/bench_smoke.err.$$" || { echo "bench_smoke: '$args' gave no message" >&2; exit 1; }
done
rm -f "${TMPDIR:-/tmp}/bench_smoke.err.$$"
echo "bench_smoke: OK ($n cases, $np pairs)"
