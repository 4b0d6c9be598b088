#!/usr/bin/python3
"""compare.py OURS TORCH -- side-by-side table of bench.c and bench_torch.py.

Reads the BENCH lines of both outputs (the torch ones carry impl=torch right
after BENCH; ours have no impl field) and prints, per net, threads, batch and
mode: images/s of each, ours/torch, GFLOP/s and fraction of the FMA peak of
each, the sgemm ceiling on the net's GEMM shapes, and peak RSS. The OpenBLAS
kernel each side ran is printed above the table. Then the performance
targets (docs/performance.md), each with its measured figure and whether
this run meets it. Works on either file alone, too.

The three targets that are ratios of our own step times (self-compression
over float, the compressed step over the full one, the float model over the
compressed one) are judged on bench.c's PAIR lines when there are any: both
nets in one process, their blocks of steps alternating, so that a drift of
the machine's speed between two separate cases does not enter the ratio.
The ratio of the separate cases is printed next to it.
"""
import re
import sys

LINE = re.compile(r"^BENCH (impl=(?P<impl>\S+) )?(?P<rest>.*)$")
PAIR = re.compile(r"^PAIR (?P<rest>.*)$")


def read(path, pairs=None):
    """BENCH rows by (net, threads, batch, mode); PAIR lines go to pairs,
    by (net, threads, batch, a, b)."""
    rows, machine, peaks = {}, [], {}
    try:
        f = open(path)
    except OSError as e:
        print(f"compare: {e}", file=sys.stderr)
        return rows, machine, peaks
    with f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("MACHINE "):
                machine.append(line)
            elif line.startswith("PEAK "):
                kv = dict(p.split("=", 1) for p in line.split()[1:])
                peaks[kv["threads"]] = kv["fma_gflops"]
            pm = PAIR.match(line)
            if pm and pairs is not None:
                kv = dict(p.split("=", 1) for p in pm.group("rest").split())
                pairs[(kv["net"], int(kv["threads"]), int(kv["batch"]),
                       kv["a"], kv["b"])] = kv
                continue
            m = LINE.match(line)
            if not m:
                continue
            kv = dict(p.split("=", 1) for p in m.group("rest").split())
            kv["impl"] = m.group("impl") or "ours"
            key = (kv["net"], int(kv["threads"]), int(kv["batch"]), kv["mode"])
            rows[key] = kv
    return rows, machine, peaks


def fmt(v, spec):
    return format(float(v), spec) if v is not None else "-"


def main(argv):
    if len(argv) != 3:
        print("usage: compare.py OURS.txt TORCH.txt", file=sys.stderr)
        return 2
    pairs = {}
    ours, om, peaks = read(argv[1], pairs)
    torch, tm, _ = read(argv[2])
    if not ours and not torch:
        print("compare: no BENCH lines in either file", file=sys.stderr)
        return 1
    for line in om + tm:
        print(line)
    if peaks:
        print("FMA peak GFLOP/s: " +
              ", ".join(f"{t} thread(s) {g}" for t, g in sorted(peaks.items())))
    cores = {r["blas_core"] for r in ours.values()}
    tcores = {r["blas_core"] for r in torch.values()}
    kern = {r.get("conv_kernel", "-") for r in ours.values()}
    print(f"conv micro-kernel (ours): {'/'.join(sorted(kern)) or '-'}")
    print(f"OpenBLAS kernel: ours {'/'.join(sorted(cores)) or '-'}, "
          f"torch {'/'.join(sorted(tcores)) or '-'} "
          f"(torch's convolutions run on oneDNN, its dense layers on OpenBLAS)")
    print()
    head = (f"{'net':8} {'thr':>3} {'batch':>5} {'mode':7} | {'ours img/s':>10} "
            f"{'torch img/s':>11} {'ours/torch':>10} | {'ours GF/s':>9} {'%peak':>6} "
            f"{'torch GF/s':>10} {'%peak':>6} | {'sgemm GF/s':>10} | "
            f"{'ours MB':>7} {'torch MB':>8}")
    print(head)
    print("-" * len(head))
    order = {"mlp": 0, "tinynet": 1, "cnn": 2, "dscnn": 3, "seq1d": 4}
    mode_order = {"float": 0, "sc": 1, "infer": 2, "sc18": 3, "model": 4,
                  "model18": 5}
    keys = sorted(set(ours) | set(torch),
                  key=lambda k: (order.get(k[0], 9), k[0], k[2], k[1],
                                 mode_order.get(k[3], 9)))
    for k in keys:
        o, t = ours.get(k, {}), torch.get(k, {})
        oi, ti = o.get("img_s"), t.get("img_s")
        ratio = (f"{float(oi) / float(ti):10.2f}"
                 if oi and ti and float(ti) > 0 else f"{'-':>10}")
        tpeak = t.get("peak_frac")
        if tpeak is not None and float(tpeak) == 0 and t and peaks.get(str(k[1])):
            tpeak = float(t["gflops"]) / float(peaks[str(k[1])])
        print(f"{k[0]:8} {k[1]:>3} {k[2]:>5} {k[3]:7} | {fmt(oi, '10.1f'):>10} "
              f"{fmt(ti, '11.1f'):>11} {ratio} | {fmt(o.get('gflops'), '9.2f'):>9} "
              f"{fmt(float(o['peak_frac']) * 100 if o else None, '5.1f'):>5}% "
              f"{fmt(t.get('gflops'), '10.2f'):>10} "
              f"{fmt(float(tpeak) * 100 if tpeak is not None else None, '5.1f'):>5}% | "
              f"{fmt(o.get('sgemm_gflops'), '10.2f'):>10} | "
              f"{fmt(o.get('rss_mb'), '7.1f'):>7} {fmt(t.get('rss_mb'), '8.1f'):>8}")
    print()
    print("ours/torch > 1: libselfcompress is faster. GF/s: 3 x (2 x dense/conv "
          "multiply-adds) per trained image, 1 x per inferred one; %peak: of the "
          "FMA loop's GFLOP/s at that thread count; sgemm: cblas_sgemm (ours, "
          "OpenBLAS single-threaded in each thread) on the net's GEMM shapes. "
          "sc18/model18: the net compressed to 18% of the weights.")
    targets(ours, torch, pairs)
    return 0


def img(rows, net, thr, mode, batch=128):
    r = rows.get((net, thr, batch, mode))
    return float(r["img_s"]) if r else None


def paired(pairs, net, thr, a, b):
    """(ratio, q1, q3) of a PAIR line at batch 128, or None."""
    r = pairs.get((net, thr, 128, a, b))
    return (float(r["ratio"]), float(r["q1"]), float(r["q3"])) if r else None


def targets(ours, torch, pairs):
    """The issue's speed targets, each with this run's figure."""
    print()
    print("Targets (issue #6), batch 128 unless noted:")
    checks = []
    threads = sorted({k[1] for k in ours})
    for net, want in (("cnn", 1.25), ("tinynet", 1.5), ("mlp", 2.0)):
        for t in threads:
            o, p = img(ours, net, t, "float"), img(torch, net, t, "float")
            if o and p:
                checks.append((f"{net} training, {t} thread(s): ours/torch >= {want}",
                               o / p, o / p >= want, "x"))
    for t in threads:
        r = ours.get(("cnn", t, 128, "float"))
        if r:
            f = float(r["peak_frac"])
            checks.append((f"cnn training, {t} thread(s): >= 50% of the FMA peak",
                           100 * f, f >= 0.5, "%"))
    for net in ("mlp", "tinynet", "cnn"):
        for t in threads:
            fl, sc = img(ours, net, t, "float"), img(ours, net, t, "sc")
            s18 = img(ours, net, t, "sc18")
            m, m18 = img(ours, net, t, "model"), img(ours, net, t, "model18")
            # (what, separate-case figure, PAIR line, figure of a pair ratio,
            #  threshold test, unit)
            for what, sep, pr, of, ok, unit in (
                    ("self-compression step time <= float + 10%",
                     100 * (fl / sc - 1) if fl and sc else None,
                     paired(pairs, net, t, "sc", "float"),
                     lambda r: 100 * (r - 1), lambda v: v <= 10, "% more"),
                    ("step at 18% weights <= 30% of the uncompressed step",
                     100 * sc / s18 if sc and s18 else None,
                     paired(pairs, net, t, "sc18", "sc"),
                     lambda r: 100 * r, lambda v: v <= 30, "%"),
                    ("compressed model inference >= 3x the float model's",
                     m18 / m if m and m18 else None,
                     paired(pairs, net, t, "model", "model18"),
                     lambda r: r, lambda v: v >= 3, "x")):
                label = f"{net}, {t} thread(s): {what}"
                if pr:
                    v, lo, hi = of(pr[0]), of(pr[1]), of(pr[2])
                    note = f" paired (quartiles {min(lo, hi):.2f}-{max(lo, hi):.2f})"
                    if sep is not None:
                        note += f"; separate cases {sep:.2f}{unit}"
                    checks.append((label, v, ok(v), unit + note))
                elif sep is not None:
                    checks.append((label, sep, ok(sep), unit))
            for mode in ("float", "sc"):
                ro, rt = ours.get((net, t, 128, mode)), torch.get((net, t, 128, mode))
                if ro and rt:
                    a, b = float(ro["rss_mb"]), float(rt["rss_mb"])
                    checks.append((f"{net} {mode}, {t} thread(s): peak RSS <= "
                                   f"PyTorch's ({b:.0f} MB)", a, a <= b, " MB"))
    for what, v, ok, unit in checks:
        print(f"  {'met ' if ok else 'MISS'}  {what}: {v:.2f}{unit}")
    print()
    print("Targets (issue #16), batch 128:")
    for net in ("dscnn", "seq1d"):
        for t in threads:
            for mode, what in (("float", "training"), ("infer", "inference")):
                o, p = img(ours, net, t, mode), img(torch, net, t, mode)
                if o and p:
                    print(f"  {'met ' if o / p >= 1.5 else 'MISS'}  {net} {what}, "
                          f"{t} thread(s): ours/torch >= 1.5: {o / p:.2f}x")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
