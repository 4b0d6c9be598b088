#!/usr/bin/env bash
# demo.sh -- make mcu-demo (docs/mcu.md): the exported tinynet and dscnn on
# an emulated Cortex-M4 (qemu-system-arm -M mps2-an386, semihosting).
#
#   MCU_TINYNET, MCU_DSCNN  model files (default: build/mcu/NAME.scm, trained
#                           by examples/fashion_mnist --save when absent,
#                           MCU_EPOCHS epochs, default 3)
#   MCU_HOST_IMAGES         test images the host compares bit for bit
#                           (default 100; 10000: the whole test set)
#   MCU_SKIP_OK=1           exit 0 with SKIPPED when the packages cannot be
#                           installed (CI)
#
# 1. installs gcc-arm-none-eabi, libnewlib-arm-none-eabi, qemu-system-arm
#    when missing (as root, as make deps does);
# 2. exports each model with build/examples/sc_export_c, compiles it for the
#    host with tests/mcu/compare.c, which checks its logits against
#    sc_model_forward's int8 logits bit for bit and writes the first 100 test
#    images and the host's predictions as C;
# 3. cross-compiles startup.c, main.c, the images and both models for
#    Cortex-M4 with its FPU, prints arm-none-eabi-size of each model's object
#    and of the program, runs it under qemu: accuracy, predictions equal to
#    the host's, stack used; fails on any difference.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build/mcu
data=${MCU_DATA:-/usr/share/datasets/fashion-mnist}
host_images=${MCU_HOST_IMAGES:-100}
mkdir -p "$out"

pkgs="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
missing=
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "mcu-demo: installing$missing"
    if [ "$(id -u)" != 0 ] || ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $missing; }; then
        if [ "${MCU_SKIP_OK:-0}" = 1 ]; then
            echo "mcu-demo: SKIPPED: could not install$missing"
            exit 0
        fi
        echo "mcu-demo: could not install$missing (run as root, or: sudo apt-get install -y$missing)" >&2
        exit 1
    fi
fi

models=
for n in tinynet dscnn; do
    var=MCU_${n^^}
    m=${!var:-$out/$n.scm}
    if [ ! -f "$m" ]; then
        echo "mcu-demo: training $n (${MCU_EPOCHS:-3} epochs) into $m"
        log=$out/$n.train.log
        "$root/build/examples/fashion_mnist" --net "$n" --epochs "${MCU_EPOCHS:-3}" --save "$m" \
            > "$log" 2>&1 || { cat "$log" >&2; exit 1; }
        grep -a '^RESULT' "$log" || true
    fi
    models="$models $m"
    # the host: bit for bit, the images and the host's predictions
    mkdir -p "$out/host_$n"
    "$root/build/examples/sc_export_c" "$m" "$out/host_$n" model >/dev/null
    cc -std=c11 -O2 -I"$root/include" -I"$out/host_$n" "$root/tests/mcu/compare.c" \
        "$out/host_$n/model.c" -o "$out/host_$n/compare" -L"$root/lib" -lselfcompress \
        -Wl,-rpath,"$root/lib" -lz -lm
    "$out/host_$n/compare" "$m" "$host_images" --fmnist "$data" | sed "s/^/host $n: /"
    "$out/host_$n/compare" "$m" 100 --fmnist "$data" --images-c "$out/images.c" \
        --expect-c "$out/${n}_expect.c" "$n" >/dev/null
    # the target's copy of the code
    "$root/build/examples/sc_export_c" "$m" "$out" "$n" --description "$n, Fashion-MNIST ($m)"
done

cross="arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
cflags="-std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -ffp-contract=off -ffunction-sections -fdata-sections"
src=$root/examples/mcu
objs=
for f in "$src/startup.c" "$src/main.c" "$out/images.c" "$out/tinynet_expect.c" \
         "$out/dscnn_expect.c" "$out/tinynet.c" "$out/dscnn.c"; do
    o="$out/$(basename "${f%.c}").o"
    $cross $cflags -I"$src" -I"$out" -c "$f" -o "$o"
    objs="$objs $o"
done
$cross -nostartfiles -T "$src/mps2_an386.ld" -Wl,--gc-sections -o "$out/demo.elf" $objs -lm -lc -lgcc
# each model alone (footprint.c): its flash and static RAM
for n in tinynet dscnn; do
    N=${n^^}
    $cross $cflags -I"$src" -I"$out" -DMODEL_HEADER="\"$n.h\"" -DPREDICT=${n}_predict \
        -DINPUTS=${N}_INPUTS -DOUTPUTS=${N}_OUTPUTS -DARENA=${N}_ARENA_BYTES \
        -c "$src/footprint.c" -o "$out/footprint_$n.o"
    $cross -nostartfiles -T "$src/mps2_an386.ld" -Wl,--defsym=STACK_BYTES=0 -Wl,--gc-sections \
        -o "$out/$n.elf" "$out/startup.o" "$out/footprint_$n.o" "$out/$n.o" -lm -lc -lgcc
done
echo "arm-none-eabi-size (text: code and const arrays, flash; data + bss: RAM but"
echo "the stack; NAME.o: the generated file alone, NAME.elf: with what it calls and"
echo "a startup; demo.elf: both and the 100 images):"
arm-none-eabi-size "$out/tinynet.o" "$out/tinynet.elf" "$out/dscnn.o" "$out/dscnn.elf" "$out/demo.elf"
echo "running under qemu-system-arm -M mps2-an386:"
timeout 900 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native -kernel "$out/demo.elf"
