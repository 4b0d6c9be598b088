#!/usr/bin/env bash
# sweep.sh -- the size/accuracy trade-off on Fashion-MNIST (the paper's
# trade-off figure, for our data): a gamma sweep (no size target: gamma alone
# decides where the size ends), the example's default run (the size target of
# 3% of the bits and 18% of the weights) and the float baseline, all on the
# same schedule, written as CSV and drawn with gnuplot.
#
#   examples/sweep.sh [--net tinynet[,dscnn,seq1d,...]] [--epochs 10]
#                     [--gammas "0.01 0.02 0.05 0.1 0.2"] [--out docs]
#                     [-- extra fashion_mnist flags]
#
# --net takes one net or a comma-separated list, swept one after the other.
# For each net, writes <out>/sweep_<net>.csv (one row per run: gamma, "target" or "float"),
# <out>/tradeoff_<net>.png (test accuracy against bits % and against
# weights %: the gamma curve, the size-target run as its own point, float
# accuracy as a line), <out>/channels_<net>.csv and <out>/channels_<net>.png
# (live output channels per layer over training, for the size-target run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exe="$root/build/examples/fashion_mnist"
net=tinynet epochs=10 gammas="0.01 0.02 0.05 0.1 0.2" out="$root/docs"
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
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
run() { # name flags...
    local name=$1; shift
    echo "== $net $name: $*" >&2
    "$exe" --net "$net" --epochs "$epochs" "$@" "${extra[@]}" > "$tmp/$name.log"
    grep '^RESULT ' "$tmp/$name.log" >&2
}
row() { # label log: one CSV row from the log's RESULT line
    local line out=$1 f
    line=$(grep '^RESULT ' "$2")
    for f in accuracy bits_pct weights_pct file_bytes train_s file_pct; do
        out+=",$(echo "$line" | field "$f")"
    done
    echo "$out" >> "$csv"
}

sweep() { # the runs, the CSV files and the plots of net $net
csv="$out/sweep_$net.csv"
echo "run,accuracy,bits_pct,weights_pct,file_bytes,train_s,file_pct" > "$csv"
run float --float
float_acc=$(grep '^RESULT ' "$tmp/float.log" | field accuracy)
for g in $gammas; do
    run "g$g" --gamma "$g" --target-bits 0 --target-weights 0
    row "$g" "$tmp/g$g.log"
done
run target --trace "$out/channels_$net.csv"
row target "$tmp/target.log"
row float "$tmp/float.log"

gnuplot <<GP
set terminal pngcairo size 1100,450 font ",10"
set output "$out/tradeoff_$net.png"
set datafile separator ","
sweep(c) = (strcol(1) eq "float" || strcol(1) eq "target") ? 1/0 : c
tgt(c) = strcol(1) eq "target" ? c : 1/0
set multiplot layout 1,2 title "$net on Fashion-MNIST, $epochs epochs: test accuracy against size"
set grid
set key bottom right
set ylabel "test accuracy (%)"
set xlabel "bits remaining (%)"
set logscale x
plot "$csv" every ::1 using (sweep(\$3)):(100*\$2) with linespoints pt 7 title "gamma sweep ($gammas)", \
     "$csv" every ::1 using (tgt(\$3)):(100*\$2) with points pt 9 ps 2 title "size target 3% bits, 18% weights", \
     $float_acc*100 with lines dt 2 lw 2 title "float baseline"
set xlabel "weights remaining (%)"
plot "$csv" every ::1 using (sweep(\$4)):(100*\$2) with linespoints pt 7 title "gamma sweep", \
     "$csv" every ::1 using (tgt(\$4)):(100*\$2) with points pt 9 ps 2 title "size target", \
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
set title "$net, default run (size target 3% / 18%): live output channels per layer"
set xlabel "training step"
set ylabel "live output channels"
set grid
set key outside right
set yrange [0:*]
array names[$nblocks] = [$(echo $layers | sed 's/\([0-9]*\)/"layer \1"/g; s/" "/", "/g')]
plot for [i=0:$((nblocks - 1))] "$tmp/channels.dat" index i using 1:2 with lines lw 2 title names[i+1]
GP
echo "sweep.sh: wrote $csv, $out/tradeoff_$net.png, $out/channels_$net.csv, $out/channels_$net.png"
}

IFS=, read -r -a nets <<< "$net"
for net in "${nets[@]}"; do
    sweep
done
