#!/usr/bin/python3
"""bench_torch.py -- the PyTorch counterpart of tests/bench/bench.c.

Same networks (the project's benchmark definitions: mlp, tinynet, cnn, dscnn,
seq1d), same synthetic data shape (N x 1 x 28 x 28; seq1d N x 28 x 1 x 28;
10 classes, fixed seed), same batches,
threads, modes and timing protocol; Adam and cross-entropy. Modes:
  float  training step (forward, loss, backward, Adam update)
  sc     the same with self-compression: every dense/conv weight goes through
         a straight PyTorch quantiser (per output channel b, e:
         q = 2^e round(clamp(2^-e w, -2^(B-1), 2^(B-1)-1)), B = relu(b), with
         the straight-through estimator via detach) and gamma * Q (the size
         loss, bits per original weight) is added to the loss; b and e in
         their own Adam group (lr 0.5), as the library does by default
  infer  eval mode, torch.no_grad(), forward only

Each case runs in a fresh subprocess (this script re-invoked with --case) so
that its peak RSS (resource.getrusage in the child) is its own; --procs such
processes (default 3), and the fastest is reported: identical PyTorch
processes were seen to differ by 2x (tinynet, 1 thread: 605 and 1304 img/s),
so this gives PyTorch its best. The spread came from glibc's malloc: PyTorch
frees its activations every step, glibc unmaps the big blocks and the next
step page-faults them in again. --malloc tuned (the default) sets
MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ for the case processes
(PyTorch's CPU tuning guides advise a caching allocator for the same
reason): 2-3.5x faster and steady. Output: one line per case,

  BENCH impl=torch net=.. threads=.. batch=.. mode=.. img_s=.. gflops=..
        peak_frac=.. sgemm_gflops=.. blas_core=.. rss_mb=..

gflops counts the dense/conv multiply-adds as bench.c does (3x forward per
trained image); peak_frac needs the FMA peak, which this script takes from
the PEAK lines of bench.c's output (--peak-from FILE; 0 without it);
sgemm_gflops is torch.mm (so the BLAS torch links: Debian's OpenBLAS) on the
same GEMM shapes as bench.c, one thread each in `threads` Python threads.
Run with Debian's /usr/bin/python3 and python3-torch (make bench-deps).
OMP_WAIT_POLICY=PASSIVE is set before torch is imported unless it is set.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import ctypes  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

NETS = ("mlp", "tinynet", "cnn", "dscnn", "seq1d")
MODES = ("float", "sc", "infer")
# bench.c's other modes (compressed nets, model files) have no PyTorch
# counterpart: accepted so that one BENCH_FLAGS serves both, and skipped
OURS_ONLY = ("sc18", "model", "model18")


# ---------------------------------------------------------------- shapes
def input_shape(net):
    """A sample's shape (examples/nets.h's nets_input_shape)."""
    return (28, 1, 28) if net == "seq1d" else (1, 28, 28)


# (kind, in_c, in_h, in_w, out_c, out_h, out_w, kh, kw, groups, needs_dx) per
# dense/conv layer, as examples/nets.h records them; FLOPs and GEMM shapes
# follow.
def layers(net):
    if net == "dscnn":
        ls = [("conv", 1, 28, 28, 32, 28, 28, 3, 3, 1, False)]
        c, hw = 32, 28
        for (cin, cout, s) in ((32, 64, 2), (64, 64, 1), (64, 128, 2),
                               (128, 128, 1), (128, 128, 1)):
            o = hw // s
            ls.append(("conv", cin, hw, hw, cin, o, o, 3, 3, cin, True))
            ls.append(("conv", cin, o, o, cout, o, o, 1, 1, 1, True))
            c, hw = cout, o
        return ls + [("dense", c, 1, 1, 10, 1, 1, 1, 1, 1, True)]
    if net == "seq1d":
        return [("conv", 28, 1, 28, 64, 1, 28, 1, 5, 1, False),
                ("conv", 64, 1, 28, 64, 1, 28, 1, 5, 1, True),
                ("conv", 64, 1, 14, 128, 1, 14, 1, 3, 1, True),
                ("dense", 128, 1, 1, 10, 1, 1, 1, 1, 1, True)]
    return [(kind, ic, ih, iw, oc, oh, ow, k, k, 1, dx)
            for (kind, ic, ih, iw, oc, oh, ow, k, dx) in square_layers(net)]


def square_layers(net):
    """mlp, tinynet and cnn: square kernels, no groups."""
    if net == "mlp":
        return [("dense", 784, 1, 1, 256, 1, 1, 1, False),
                ("dense", 256, 1, 1, 128, 1, 1, 1, True),
                ("dense", 128, 1, 1, 10, 1, 1, 1, True)]
    if net == "tinynet":
        return [("conv", 1, 28, 28, 32, 24, 24, 5, False),
                ("conv", 32, 24, 24, 32, 20, 20, 5, True),
                ("conv", 32, 10, 10, 64, 8, 8, 3, True),
                ("conv", 64, 8, 8, 64, 6, 6, 3, True),
                ("dense", 576, 1, 1, 10, 1, 1, 1, True)]
    return [("conv", 1, 28, 28, 32, 28, 28, 3, False),
            ("conv", 32, 28, 28, 64, 28, 28, 3, True),
            ("conv", 64, 14, 14, 64, 14, 14, 3, True),
            ("conv", 64, 14, 14, 64, 14, 14, 3, True),
            ("conv", 64, 14, 14, 128, 14, 14, 3, True),
            ("conv", 128, 7, 7, 256, 7, 7, 3, True),
            ("conv", 256, 3, 3, 256, 3, 3, 3, True),
            ("conv", 256, 3, 3, 256, 3, 3, 3, True),
            ("dense", 256, 1, 1, 10, 1, 1, 1, True)]


def forward_flops(net):
    return sum(2.0 * oc * oh * ow * (ic // g) * kh * kw
               for (_, ic, _, _, oc, oh, ow, kh, kw, g, _) in layers(net))


def gemm_shapes(net, batch, training):
    """(ta, tb, m, n, k, calls) per batch, as the library runs them (a
    grouped conv runs by direct loops: none)."""
    g = []
    for (kind, ic, _, _, oc, oh, ow, kh, kw, groups, dx) in layers(net):
        if kind == "conv" and groups > 1:
            continue
        if kind == "conv":
            kk, ohw = ic * kh * kw, oh * ow
            g.append((0, 0, oc, ohw, kk, batch))
            if training:
                g.append((0, 1, oc, kk, ohw, batch))
                if dx:
                    g.append((1, 0, kk, ohw, oc, batch))
        else:
            g.append((0, 1, batch, oc, ic, 1))
            if training:
                g.append((1, 0, oc, ic, batch, 1))
                if dx:
                    g.append((0, 0, batch, ic, oc, 1))
    return g


# ---------------------------------------------------------------- models
def build(net, sc):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Quant(nn.Module):
        """Per-output-channel learned bit depth b and exponent e (spec s. 1)."""

        def __init__(self, weight, b0=8.0):
            super().__init__()
            out = weight.shape[0]
            with torch.no_grad():
                maxabs = weight.detach().abs().reshape(out, -1).amax(dim=1)
                hi = max(2.0 ** (max(b0, 1.0) - 1.0) - 1.0, 0.5)
                e0 = torch.where(maxabs > 0, torch.log2(maxabs / hi) + 1e-3,
                                 torch.zeros_like(maxabs))
            shape = (out,) + (1,) * (weight.dim() - 1)
            self.b = nn.Parameter(torch.full(shape, b0))
            self.e = nn.Parameter(e0.reshape(shape).clone())
            self.per_channel = weight[0].numel()  # live_in * kh * kw

        def forward(self, w):
            B = torch.relu(self.b)
            scale = torch.exp2(self.e)
            u = w / scale
            hi = torch.exp2(B - 1) - 1
            lo = -torch.exp2(B - 1)
            c = torch.maximum(torch.minimum(u, hi), lo)
            return scale * (c + (torch.round(c) - c).detach())

        def bits(self):  # sum over channels of B * live_in * kh * kw
            return torch.relu(self.b).sum() * self.per_channel

    class QConv(nn.Conv2d):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.quant = None  # set after the weights' initialisation

        def forward(self, x):
            w = self.quant(self.weight) if self.quant is not None else self.weight
            return F.conv2d(x, w, self.bias, self.stride, self.padding, 1,
                            self.groups)

    class QLinear(nn.Linear):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.quant = None  # set after the weights' initialisation

        def forward(self, x):
            w = self.quant(self.weight) if self.quant is not None else self.weight
            return F.linear(x, w, self.bias)

    def conv_bn_relu(cin, cout):
        return [QConv(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU()]

    class Residual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(*conv_bn_relu(c, c), *conv_bn_relu(c, c))

        def forward(self, x):
            return x + self.body(x)

    def conv_bn_relu6(cin, cout, k, stride=1, groups=1):
        return [QConv(cin, cout, k, stride=stride, padding=k // 2,
                      groups=groups, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU6()]

    def conv1d_bn_relu(cin, cout, k):
        return [QConv(cin, cout, (1, k), padding=(0, k // 2), bias=False),
                nn.BatchNorm2d(cout), nn.ReLU()]

    class GlobalMaxPool(nn.Module):
        def forward(self, x):
            return torch.amax(x, dim=(2, 3))

    if net == "mlp":
        m = nn.Sequential(nn.Flatten(), QLinear(784, 256), nn.ReLU(),
                          QLinear(256, 128), nn.ReLU(), QLinear(128, 10))
    elif net == "tinynet":
        bn = dict(affine=False, track_running_stats=False)  # batch stats always
        m = nn.Sequential(
            QConv(1, 32, 5, bias=False), nn.ReLU(),
            QConv(32, 32, 5, bias=False), nn.ReLU(), nn.BatchNorm2d(32, **bn),
            nn.MaxPool2d(2),
            QConv(32, 64, 3, bias=False), nn.ReLU(),
            QConv(64, 64, 3, bias=False), nn.ReLU(), nn.BatchNorm2d(64, **bn),
            nn.MaxPool2d(2),
            nn.Flatten(), QLinear(576, 10, bias=False))
    elif net == "dscnn":
        body = conv_bn_relu6(1, 32, 3)
        for (cin, cout, s) in ((32, 64, 2), (64, 64, 1), (64, 128, 2),
                               (128, 128, 1), (128, 128, 1)):
            body += conv_bn_relu6(cin, cin, 3, s, cin)  # depthwise
            body += conv_bn_relu6(cin, cout, 1)         # pointwise
        m = nn.Sequential(*body, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          QLinear(128, 10))
    elif net == "seq1d":
        m = nn.Sequential(
            *conv1d_bn_relu(28, 64, 5), *conv1d_bn_relu(64, 64, 5),
            nn.MaxPool2d((1, 2)), *conv1d_bn_relu(64, 128, 3),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), QLinear(128, 10))
    else:
        m = nn.Sequential(
            *conv_bn_relu(1, 32),
            *conv_bn_relu(32, 64), nn.MaxPool2d(2), Residual(64),
            *conv_bn_relu(64, 128), nn.MaxPool2d(2),
            *conv_bn_relu(128, 256), nn.MaxPool2d(2), Residual(256),
            GlobalMaxPool(), QLinear(256, 10))
    # He (Kaiming) normal weights, zero biases, like the library
    for mod in m.modules():
        if isinstance(mod, (QConv, QLinear)):
            nn.init.kaiming_normal_(mod.weight, nonlinearity="relu")
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)
            if sc:  # e0 from the initialised weights
                mod.quant = Quant(mod.weight)
    quants = [mod.quant for mod in m.modules()
              if isinstance(mod, (QConv, QLinear)) and mod.quant is not None]
    n0 = sum(mod.weight.numel() for mod in m.modules()
             if isinstance(mod, (QConv, QLinear)))
    return m, quants, n0


# ---------------------------------------------------------------- BLAS info
def blas_core():
    """The kernel of the OpenBLAS torch runs (libblas.so.3 -> OpenBLAS)."""
    for name in ("libblas.so.3", "libopenblas.so.0"):
        try:
            lib = ctypes.CDLL(name, mode=os.RTLD_NOLOAD | os.RTLD_GLOBAL)
        except OSError:
            continue
        f = getattr(lib, "openblas_get_corename", None)
        if f is not None:
            f.restype = ctypes.c_char_p
            return f().decode().replace(" ", "_")
    return "unknown"


def cpu_capability(torch):
    """ATen's vector ISA, from the build report ("CPU capability usage")."""
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


def measure_sgemm(torch, shapes, threads, seconds):
    """FLOP-weighted GFLOP/s of torch.mm on the shapes, each run by
    `threads` Python threads at once with torch on one thread."""
    torch.set_num_threads(1)
    flops = secs = 0.0
    gen = torch.Generator().manual_seed(7)
    for (ta, tb, m, n, k, calls) in shapes:
        mats = []
        for _ in range(threads):
            a = torch.rand((k, m) if ta else (m, k), generator=gen) - 0.5
            b = torch.rand((n, k) if tb else (k, n), generator=gen) - 0.5
            mats.append((a.t() if ta else a, b.t() if tb else b,
                         torch.empty(m, n)))
        f = 2.0 * m * n * k
        a, b, c = mats[0]
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        reps = max(3, int(seconds / max(time.perf_counter() - t0, 1e-7)))
        bar = threading.Barrier(threads)

        def run(i):
            a, b, c = mats[i]
            bar.wait()
            for _ in range(reps):
                torch.mm(a, b, out=c)

        ts = [threading.Thread(target=run, args=(i,)) for i in range(1, threads)]
        for t in ts:
            t.start()
        t0 = time.perf_counter()
        run(0)
        for t in ts:
            t.join()
        wall = time.perf_counter() - t0
        rate = threads * reps * f / wall
        flops += calls * f
        secs += calls * f / rate
    return flops / secs / 1e9 if secs > 0 else 0.0


# ---------------------------------------------------------------- one case
def run_case(a, net, threads, batch, mode):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    infer, sc = mode == "infer", mode == "sc"
    model, quants, n0 = build(net, sc)
    qparams = {id(p) for q in quants for p in (q.b, q.e)}
    if infer:
        model.eval()
    else:
        model.train()
        groups = [{"params": [p for p in model.parameters() if id(p) not in qparams],
                   "lr": 1e-3}]
        if sc:
            groups.append({"params": [p for q in quants for p in (q.b, q.e)],
                           "lr": 0.5})
        opt = torch.optim.Adam(groups)
    gamma = 0.05
    gen = torch.Generator().manual_seed(20240601)
    NB = 4
    xs = torch.randn(NB, batch, *input_shape(net), generator=gen)
    ys = torch.randint(0, 10, (NB, batch), generator=gen)
    step = [0]

    def one():
        i = step[0] % NB
        step[0] += 1
        if infer:
            with torch.no_grad():
                model(xs[i])
            return
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xs[i]), ys[i])
        if sc:
            loss = loss + gamma * sum(q.bits() for q in quants) / n0
        loss.backward()
        opt.step()

    t0 = time.perf_counter()
    for _ in range(a.warmup):
        one()
    per_step = (time.perf_counter() - t0) / max(a.warmup, 1)
    steps = a.steps
    if steps <= 0:
        steps = min(10000, max(2, math.ceil(a.rep_seconds / max(per_step, 1e-6))))
    rates = []
    for _ in range(a.reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            one()
        rates.append(steps * batch / (time.perf_counter() - t0))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    img_s = statistics.median(rates)
    gflops = (1.0 if infer else 3.0) * forward_flops(net) * img_s / 1e9
    peak = a.peak.get(threads, 0.0)
    sg = measure_sgemm(torch, gemm_shapes(net, batch, not infer), threads,
                       a.sgemm_seconds)
    print(f"BENCH impl=torch net={net} threads={threads} batch={batch} mode={mode} "
          f"img_s={img_s:.1f} gflops={gflops:.2f} "
          f"peak_frac={gflops / peak if peak > 0 else 0.0:.4f} "
          f"sgemm_gflops={sg:.2f} blas_core={blas_core()} rss_mb={rss_mb:.1f}",
          flush=True)


# ---------------------------------------------------------------- driver
def int_list(s):
    v = [int(x) for x in s.split(",") if x]
    if not v or min(v) < 1:
        raise argparse.ArgumentTypeError(f"want positive integers, got '{s}'")
    return v


def name_list(allowed):
    def parse(s):
        v = [x for x in s.split(",") if x]
        bad = [x for x in v if x not in allowed]
        if not v or bad:
            raise argparse.ArgumentTypeError(
                f"unknown {bad or s!r} (want {', '.join(allowed)})")
        return v
    return parse


def read_peaks(path):
    peaks = {}
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.startswith("PEAK "):
                    kv = dict(p.split("=", 1) for p in line.split()[1:])
                    peaks[int(kv["threads"])] = float(kv["fma_gflops"])
    return peaks


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="batch 32, 2 repetitions of 2 steps after 1 warm-up")
    p.add_argument("--nets", type=name_list(NETS), default=list(NETS))
    p.add_argument("--threads", type=int_list, default=[1, 2])
    p.add_argument("--modes", type=name_list(MODES + OURS_ONLY), default=list(MODES))
    p.add_argument("--malloc", choices=("tuned", "default"), default="tuned",
                   help="tuned (default): glibc malloc keeps freed blocks "
                        "instead of unmapping them (MALLOC_MMAP_THRESHOLD_, "
                        "MALLOC_TRIM_THRESHOLD_), as PyTorch's CPU tuning "
                        "guides advise; default: as Debian ships it")
    p.add_argument("--procs", type=int, default=None,
                   help="processes per case, the best one reported (default "
                        "3; 1 with --quick): identical PyTorch processes "
                        "differ by up to 2x here")
    p.add_argument("--batches", type=int_list, default=None,
                   help="for every net (default 128, and 512 too for tinynet)")
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--no-pairs", action="store_true",
                   help="bench.c's flag (no PAIR lines); nothing to skip here")
    p.add_argument("--peak-from", default=None,
                   help="bench.c output whose PEAK lines give the FMA peak")
    p.add_argument("--case", default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    a.reps = a.reps or (2 if a.quick else 5)
    a.steps = a.steps or (2 if a.quick else 0)
    a.warmup = a.warmup if a.warmup is not None else (1 if a.quick else 2)
    a.rep_seconds = 0.5
    a.sgemm_seconds = 0.0005 if a.quick else 0.01
    a.peak = read_peaks(a.peak_from)
    a.procs = a.procs or (1 if a.quick else 3)
    if a.quick and not a.batches:
        a.batches = [32]

    if a.case:
        net, threads, batch, mode = a.case.split(",")
        run_case(a, net, int(threads), int(batch), mode)
        return 0

    import torch  # for the header only; the cases run in fresh processes
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip().replace('"', "'")
                    break
    except OSError:
        pass
    print(f'MACHINE impl=torch cpu="{cpu}" cores={os.cpu_count()} '
          f"torch={torch.__version__} python={platform.python_version()} "
          f"blas_core={blas_core()} "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} "
          f"malloc={a.malloc} procs={a.procs} "
          f"mkldnn={int(torch.backends.mkldnn.is_available())} "
          f"cpu_capability={cpu_capability(torch)}", flush=True)
    env = dict(os.environ)
    if a.malloc == "tuned":
        env.setdefault("MALLOC_MMAP_THRESHOLD_", str(1 << 32))
        env.setdefault("MALLOC_TRIM_THRESHOLD_", str(1 << 32))
    failed = 0
    for net in a.nets:
        batches = a.batches or ([128, 512] if net == "tinynet" else [128])
        for batch in batches:
            for t in a.threads:
                for mode in a.modes:
                    if mode in OURS_ONLY:
                        continue
                    cmd = [sys.executable, os.path.abspath(__file__),
                           "--case", f"{net},{t},{batch},{mode}",
                           "--reps", str(a.reps), "--warmup", str(a.warmup)]
                    if a.steps:
                        cmd += ["--steps", str(a.steps)]
                    if a.quick:
                        cmd += ["--quick"]
                    if a.peak_from:
                        cmd += ["--peak-from", a.peak_from]
                    best = None
                    for _ in range(a.procs):
                        r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True,
                                           env=env)
                        line = next((x for x in r.stdout.splitlines()
                                     if x.startswith("BENCH ")), None)
                        if r.returncode != 0 or line is None:
                            print(f"bench_torch: case net={net} threads={t} "
                                  f"batch={batch} mode={mode} failed "
                                  f"({r.returncode})", file=sys.stderr)
                            failed = 1
                            break
                        rate = float(line.split(" img_s=")[1].split()[0])
                        if best is None or rate > best[0]:
                            best = (rate, line)
                    if best:
                        print(best[1], flush=True)
    return failed


if __name__ == "__main__":
    sys.exit(main())
