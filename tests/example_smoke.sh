#!/usr/bin/env bash
# Runs the Fashion-MNIST example for a few steps on a slice of the data (or
# on synthetic IDX files when the dataset is absent), checks that its RESULT
# line parses and that bad flags and paths fail cleanly.
set -euo pipefail
root=${SC_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
exe="$root/build/examples/fashion_mnist" # examples always build against lib/
[ -x "$exe" ] || { echo "example_smoke: $exe is not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

data=/usr/share/datasets/fashion-mnist
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
    data="$tmp/data"
    mkdir -p "$data"
    # IDX: magic, dimensions (big-endian), then bytes
    write_idx() { # file magic_byte count dims...
        local f=$1 kind=$2 n=$3
        { printf '\x00\x00\x08\x%s' "$kind"
          printf "\\x$(printf %02x $((n >> 24 & 255)))\\x$(printf %02x $((n >> 16 & 255)))\\x$(printf %02x $((n >> 8 & 255)))\\x$(printf %02x $((n & 255)))"
          if [ "$kind" = 03 ]; then printf '\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c $((n * 784)) /dev/urandom
          else head -c "$n" /dev/urandom | od -An -v -tu1 | tr -s ' ' '\n' | grep -v '^$' |
               while read -r b; do printf "\\x$(printf %02x $((b % 10)))"; done; fi
        } | gzip -c > "$f"
    }
    write_idx "$data/train-images-idx3-ubyte.gz" 03 512
    write_idx "$data/train-labels-idx1-ubyte.gz" 01 512
    write_idx "$data/t10k-images-idx3-ubyte.gz" 03 256
    write_idx "$data/t10k-labels-idx1-ubyte.gz" 01 256
    echo "example_smoke: dataset absent, using synthetic IDX files"
fi

for mode in "" "--float" "--max-bits 3"; do
    out=$("$exe" --data "$data" --net tinynet --steps 8 --batch 32 \
          --train-limit 512 --test-limit 256 --threads 2 --save "$tmp/model.scm" $mode)
    line=$(printf '%s\n' "$out" | grep '^RESULT ')
    echo "$line"
    printf '%s\n' "$line" | grep -Eq '^RESULT net=tinynet float=[01] epochs=[0-9.]+ accuracy=[0-9.]+ bits_pct=[0-9.]+ weights_pct=[0-9.]+ file_bytes=[0-9]+ train_s=[0-9.]+ file_pct=[0-9.]+ max_bits=[0-9]+ int8_accuracy=[0-9.]+$' \
        || { echo "example_smoke: RESULT line does not parse: $line" >&2; exit 1; }
    # a cap holds every channel's bit depth at or below it (b0 is 5 without one)
    mb=$(printf '%s\n' "$line" | sed -n 's/.* max_bits=\([0-9]*\) .*/\1/p')
    case "$mode" in
    --float) [ "$mb" = 32 ] ;;
    --max-bits*) [ "$mb" -ge 1 ] && [ "$mb" -le 3 ] ;;
    *) [ "$mb" -gt 3 ] ;;
    esac || { echo "example_smoke: max_bits=$mb under '$mode'" >&2; exit 1; }
    # a float net's model file is the float model file
    if [ "$mode" = "--float" ]; then
        case "$line" in *" file_pct=100.000 "*) ;; *) echo "example_smoke: a float model is not 100% of the float model file: $line" >&2; exit 1;; esac
    fi
    # the reloaded model must score exactly what the in-memory net scored
    accs=$(printf '%s\n' "$out" | sed -n 's/^test accuracy: in memory \([0-9.]*\), reloaded from the file \([0-9.]*\), in int8 .*/\1 \2/p')
    set -- $accs
    [ $# -eq 2 ] && [ "$1" = "$2" ] || { echo "example_smoke: in-memory and reloaded accuracy differ: '$accs'" >&2; exit 1; }
    # --eval of the saved file prints the same accuracy and file size
    eline=$("$exe" --data "$data" --net tinynet --train-limit 512 --test-limit 256 --eval "$tmp/model.scm" | grep '^RESULT ')
    echo "$eline"
    want=$(printf '%s\n' "$line" | grep -o 'accuracy=[0-9.]* ')
    wantf=$(printf '%s\n' "$line" | grep -o 'file_bytes=[0-9]*')
    wantp=$(printf '%s\n' "$line" | grep -o 'file_pct=[0-9.]*')
    want8=$(printf '%s\n' "$line" | grep -o 'int8_accuracy=[0-9.]*')
    case "$eline" in *"$want"*"$wantf"*" $wantp $want8") ;; *) echo "example_smoke: --eval disagrees: $eline" >&2; exit 1;; esac
done

# --teacher: a float model file guides a run
"$exe" --data "$data" --net tinynet --float --steps 4 --batch 32 --train-limit 512 \
    --test-limit 256 --threads 2 --save "$tmp/teacher.scm" > /dev/null
tline=$("$exe" --data "$data" --net tinynet --steps 4 --batch 32 --train-limit 512 \
    --test-limit 256 --threads 2 --teacher "$tmp/teacher.scm" --distill-t 2 --distill-w 0.5)
printf '%s\n' "$tline" | grep -q '^teacher: .* (temperature 2, weight 0.5)$' &&
    printf '%s\n' "$tline" | grep -Eq '^RESULT net=tinynet float=0 ' ||
    { echo "example_smoke: --teacher run: $tline" >&2; exit 1; }

# wrong input must fail with a message and a non-zero status
expect_fail() {
    if "$exe" "$@" >"$tmp/out" 2>"$tmp/err"; then
        echo "example_smoke: '$*' succeeded but should fail" >&2; exit 1
    fi
    grep -q 'fashion_mnist: ' "$tmp/err" || { echo "example_smoke: '$*' gave no message" >&2; exit 1; }
}
expect_fail --data "$tmp/nowhere"
expect_fail --net resnet152 --data "$data"
expect_fail --epochs zero
expect_fail --bogus 1
expect_fail --data "$data" --steps 1 --teacher "$tmp/nowhere.scm"
expect_fail --data "$data" --steps 1 --teacher "$tmp/teacher.scm" --distill-t 0
# --eval-onnx refuses a model of another input shape, a hostile file, and
# --dump-logits wants --eval-onnx
onnx="$root/tests/data/onnx"
expect_fail --data "$data" --test-limit 256 --eval-onnx "$onnx/convbn_op17.onnx"
expect_fail --data "$data" --test-limit 256 --eval-onnx "$onnx/bad_cycle.onnx"
expect_fail --data "$data" --test-limit 256 --dump-logits "$tmp/logits.f32"
printf 'not gzip at all' > "$tmp/bad.gz"
mkdir -p "$tmp/bad"; cp "$tmp/bad.gz" "$tmp/bad/train-images-idx3-ubyte.gz"
expect_fail --data "$tmp/bad"
echo "example_smoke: OK"
