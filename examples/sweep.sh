#!/usr/bin/env bash
# sweep.sh -- the size/accuracy trade-off on Fashion-MNIST (the paper's
# trade-off figure, for our data): a gamma sweep plus the float baseline on the
# same schedule, written as CSV and drawn with gnuplot.
#
#   examples/sweep.sh [--net tinynet] [--epochs 3] [--gammas "0.01 0.02 0.05 0.1 0.2"]
#                     [--out docs] [-- extra fashion_mnist flags]
#
# Writes <out>/sweep_<net>.csv (one row per run), <out>/tradeoff_<net>.png
# (test accuracy against bits % and against weights %, float accuracy as a
# line), <out>/channels_<net>.csv and <out>/channels_<net>.png (live output
# channels per layer over training, for the middle gamma).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exe="$root/build/examples/fashion_mnist"
net=tinynet epochs=3 gammas="0.01 0.02 0.05 0.1 0.2" out="$root/docs"
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
    --net) net=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --gammas) gammas=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "sweep.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ -x "$exe" ] || { echo "sweep.sh: build the example first (make examples)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "sweep.sh: gnuplot is missing (make deps)" >&2; exit 1; }
mkdir -p "$out"
csv="$out/sweep_$net.csv"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
run() { # name flags...
    local name=$1; shift
    echo "== $net $name: $*" >&2
    "$exe" --net "$net" --epochs "$epochs" "$@" "${extra[@]}" > "$tmp/$name.log"
    grep '^RESULT ' "$tmp/$name.log" >&2
}

echo "gamma,accuracy,bits_pct,weights_pct,file_bytes,train_s" > "$csv"
run float --float
float_acc=$(grep '^RESULT ' "$tmp/float.log" | field accuracy)
set -- $gammas
mid=${@:$(( ($# + 1) / 2 )):1}
for g in $gammas; do
    trace=()
    [ "$g" = "$mid" ] && trace=(--trace "$out/channels_$net.csv")
    run "g$g" --gamma "$g" "${trace[@]}"
    line=$(grep '^RESULT ' "$tmp/g$g.log")
    echo "$g,$(echo "$line" | field accuracy),$(echo "$line" | field bits_pct),$(echo "$line" | field weights_pct),$(echo "$line" | field file_bytes),$(echo "$line" | field train_s)" >> "$csv"
done
line=$(grep '^RESULT ' "$tmp/float.log")
echo "float,$float_acc,100,100,$(echo "$line" | field file_bytes),$(echo "$line" | field train_s)" >> "$csv"

gnuplot <<GP
set terminal pngcairo size 1100,450 font ",10"
set output "$out/tradeoff_$net.png"
set datafile separator ","
set multiplot layout 1,2 title "$net on Fashion-MNIST, $epochs epochs: test accuracy against size (gamma sweep)"
set grid
set key bottom right
set ylabel "test accuracy (%)"
set xlabel "bits remaining (%)"
plot "$csv" every ::1 using (strcol(1) eq "float" ? 1/0 : \$3):(100*\$2) with linespoints pt 7 title "self-compression", \
     $float_acc*100 with lines dt 2 lw 2 title "float baseline"
set xlabel "weights remaining (%)"
plot "$csv" every ::1 using (strcol(1) eq "float" ? 1/0 : \$4):(100*\$2) with linespoints pt 7 title "self-compression", \
     $float_acc*100 with lines dt 2 lw 2 title "float baseline"
unset multiplot
GP

# one gnuplot data block per layer (blocks apart by two blank lines)
awk -F, 'NR > 1 { rows[$2] = rows[$2] $1 " " $3 "\n"; if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
         END { for (i = 1; i <= n; i++) printf "# layer %s\n%s\n\n", order[i], rows[order[i]] }' \
    "$out/channels_$net.csv" > "$tmp/channels.dat"
layers=$(tail -n +2 "$out/channels_$net.csv" | cut -d, -f2 | awk '!s[$0]++' | tr '\n' ' ')
nblocks=$(echo $layers | wc -w)
gnuplot <<GP
set terminal pngcairo size 800,450 font ",10"
set output "$out/channels_$net.png"
set title "$net, gamma $mid: live output channels per layer during training"
set xlabel "training step"
set ylabel "live output channels"
set grid
set key outside right
set yrange [0:*]
array names[$nblocks] = [$(echo $layers | sed 's/\([0-9]*\)/"layer \1"/g; s/" "/", "/g')]
plot for [i=0:$((nblocks - 1))] "$tmp/channels.dat" index i using 1:2 with lines lw 2 title names[i+1]
GP
echo "sweep.sh: wrote $csv, $out/tradeoff_$net.png, $out/channels_$net.csv, $out/channels_$net.png"
