"""PyTorch's int8 inference of the same network as a library model file, the
counterpart of tests/bench/int8_bench.c (`make bench-int8 MODEL=FILE`,
docs/performance.md, "int8 inference"). Run with /usr/bin/python3 (Debian's
python3-torch and python3-onnx).

It reads what `int8_bench --export DIR` wrote into DIR: the model's ONNX
export (model.onnx), the first 1,024 training images (calib.f32), the timed
test images and labels (test.f32, test_labels.u8) and the library's fp32
logits of them (fp32_logits.f32). From the ONNX graph it builds a float
torch.nn module with the same layers and weights (DequantizeLinear of the
INT8 levels gives the float weights; each batch norm after a convolution is
folded into it, and so is a constant map compress folded in, which stays a
per-position constant added after the convolution), checks that its logits
are the library's fp32 ones (the largest difference is printed), then
quantises it statically with torch.ao.quantization (FX graph mode, the
backend's default qconfig: per-channel int8 weights, activations observed on
the calibration images in batches of 128) and times both as int8_bench does:
for each thread count (torch.set_num_threads) and batch size, after a
warm-up round, repetitions of about --seconds of fp32 then int8 forwards
over the test images in turn; medians.

The backend is fbgemm where this PyTorch has it, else onednn (Debian's
1.13 is built without FBGEMM; oneDNN is its x86 int8 engine), or --engine.

Lines: ENGINE, CHECK (largest |logit| difference to the library's fp32,
accuracies), SPEED impl=torch ..., and with --ours FILE (int8_bench's
output) the table of ours int8 / ours fp32 and ours int8 / torch int8 with
the issue's targets (2x and 1.5x).
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

# the ONNX attributes and DequantizeLinear of the exporter's test evaluator
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onnx"))
from onnx_numpy import _attrs as attrs, dequantize  # noqa: E402

CALIB_BATCH = 128


def pads_of(a):
    p = a.get("pads", [0, 0, 0, 0])
    if p[0] != p[2] or p[1] != p[3]:
        raise NotImplementedError(f"asymmetric padding {p}")
    return (p[0], p[1])


class Step:
    """one op of the graph: a module (or None), the op's kind, its inputs
    (value names) and output; a conv or dense step may carry a constant
    map (added after it) and a batch norm folded into it"""

    def __init__(self, kind, inputs, output, module=None):
        self.kind, self.inputs, self.output, self.module = kind, inputs, output, module
        self.map = None


class OnnxNet(nn.Module):
    """the graph's steps in order; forward walks them (FX traces the walk)"""

    def __init__(self, steps, inp, out):
        super().__init__()
        self.order = []
        self.inp, self.out = inp, out
        for i, s in enumerate(steps):
            name = f"m{i}"
            if s.module is not None:
                self.add_module(name, s.module)
            if s.map is not None:
                self.register_buffer(name + "_map", torch.from_numpy(s.map))
            self.order.append((s.kind, name, s.inputs, s.output, s.module is not None,
                               s.map is not None))

    def forward(self, x):
        env = {self.inp: x}
        for kind, name, inputs, output, has_mod, has_map in self.order:
            args = [env[i] for i in inputs]
            if has_mod:
                y = getattr(self, name)(args[0])
            elif kind == "Add":
                y = torch.add(args[0], args[1])
            elif kind == "Flatten":
                y = torch.flatten(args[0], 1)
            else:  # Identity
                y = args[0]
            if has_map:
                y = torch.add(y, getattr(self, name + "_map"))
            env[output] = y
        return env[self.out]


def build(path):
    """the float module of the ONNX file at path"""
    g = onnx.load(path).graph
    const = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    readers = {}
    for n in g.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    steps, by_out = [], {}

    def add(step):
        steps.append(step)
        by_out[step.output] = step

    def sole(name, kinds):
        """the conv/dense step writing name, if nothing else reads it"""
        s = by_out.get(name)
        return s if s is not None and s.kind in kinds and readers.get(name, 0) == 1 else None

    for n in g.node:
        a, ins, out = attrs(n), list(n.input), n.output[0]
        op = n.op_type
        if op == "DequantizeLinear" and all(i in const for i in ins if i):
            deq = dequantize(a, *[const[i] if i else None for i in ins])
            const[out] = deq.astype(np.float32)
        elif op == "Conv":
            w = const[ins[1]]
            ks = a.get("kernel_shape", list(w.shape[2:]))
            conv = nn.Conv2d(w.shape[1] * a.get("group", 1), w.shape[0], tuple(ks),
                             stride=tuple(a.get("strides", [1, 1])), padding=pads_of(a),
                             groups=a.get("group", 1), bias=True)
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(w))
                b = const[ins[2]] if len(ins) > 2 and ins[2] else np.zeros(w.shape[0], np.float32)
                conv.bias.copy_(torch.from_numpy(b))
            add(Step("Conv", [ins[0]], out, conv))
        elif op == "Gemm":
            if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
                raise NotImplementedError("Gemm with transA, alpha or beta")
            w = const[ins[1]] if a.get("transB", 0) else const[ins[1]].T
            lin = nn.Linear(w.shape[1], w.shape[0], bias=True)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
                b = const[ins[2]] if len(ins) > 2 and ins[2] else np.zeros(w.shape[0], np.float32)
                lin.bias.copy_(torch.from_numpy(np.array(b, np.float32).reshape(-1)))
            add(Step("Gemm", [ins[0]], out, lin))
        elif op == "Add" and (ins[0] in const or ins[1] in const):
            x, c = (ins[1], ins[0]) if ins[0] in const else (ins[0], ins[1])
            s = sole(x, ("Conv", "Gemm"))
            if s is None or s.map is not None:
                raise NotImplementedError(f"Add of a constant to {x}")
            s.map = np.ascontiguousarray(const[c].astype(np.float32).reshape(
                (1,) + const[c].shape[-3:] if s.kind == "Conv" else (1, -1)))
            by_out[out] = s
            s.output = out
        elif op == "BatchNormalization":
            scale, shift, mean, var = (const[i].astype(np.float64) for i in ins[1:5])
            k = scale / np.sqrt(var + a.get("epsilon", 1e-5))
            s = sole(ins[0], ("Conv",))
            if s is not None:  # y = k (conv + map - mean) + shift
                with torch.no_grad():
                    w = s.module.weight.double() * torch.from_numpy(k).view(-1, 1, 1, 1)
                    s.module.weight.copy_(w.float())
                    b = k * (s.module.bias.double().numpy() - mean) + shift
                    if s.map is not None:
                        s.map = (s.map.astype(np.float64) *
                                 k.reshape(1, -1, 1, 1)).astype(np.float32)
                    s.module.bias.copy_(torch.from_numpy(b.astype(np.float32)))
                by_out[out] = s
                s.output = out
            else:
                bn = nn.BatchNorm2d(len(k), eps=a.get("epsilon", 1e-5))
                with torch.no_grad():
                    bn.weight.copy_(torch.from_numpy(scale.astype(np.float32)))
                    bn.bias.copy_(torch.from_numpy(shift.astype(np.float32)))
                    bn.running_mean.copy_(torch.from_numpy(mean.astype(np.float32)))
                    bn.running_var.copy_(torch.from_numpy(var.astype(np.float32)))
                add(Step(op, [ins[0]], out, bn))
        elif op == "Relu":
            add(Step(op, [ins[0]], out, nn.ReLU()))
        elif op == "Clip":
            lo = float(const[ins[1]]) if len(ins) > 1 and ins[1] else None
            hi = float(const[ins[2]]) if len(ins) > 2 and ins[2] else None
            if lo == 0.0 and hi == 6.0:
                add(Step(op, [ins[0]], out, nn.ReLU6()))
            elif lo == 0.0 and hi is None:
                add(Step(op, [ins[0]], out, nn.ReLU()))
            else:
                raise NotImplementedError(f"Clip({lo}, {hi})")
        elif op == "MaxPool":
            add(Step(op, [ins[0]], out, nn.MaxPool2d(tuple(a["kernel_shape"]),
                                                    tuple(a.get("strides", [1, 1])),
                                                    pads_of(a))))
        elif op == "AveragePool":
            add(Step(op, [ins[0]], out, nn.AvgPool2d(
                tuple(a["kernel_shape"]), tuple(a.get("strides", [1, 1])), pads_of(a),
                count_include_pad=bool(a.get("count_include_pad", 0)))))
        elif op == "GlobalMaxPool":
            add(Step(op, [ins[0]], out, nn.AdaptiveMaxPool2d(1)))
        elif op == "GlobalAveragePool":
            add(Step(op, [ins[0]], out, nn.AdaptiveAvgPool2d(1)))
        elif op in ("Add", "Flatten", "Identity"):
            if op == "Flatten" and a.get("axis", 1) != 1:
                raise NotImplementedError("Flatten with axis other than 1")
            add(Step(op, ins if op == "Add" else [ins[0]], out))
        else:
            raise NotImplementedError(f"ONNX operator {op}")
    return OnnxNet(steps, g.input[0].name, g.output[0].name).eval()


def read(dir, name, dtype, shape):
    return np.fromfile(os.path.join(dir, name), dtype=dtype).reshape(shape)


def logits_of(model, x, batch=128):
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])


def rate(model, x, batch, seconds):
    """images/s of forwards of batch images of x in turn for >= seconds"""
    done, at = 0, 0
    t0 = time.perf_counter()
    with torch.no_grad():
        while True:
            n = min(batch, len(x) - at)
            model(x[at:at + n])
            done += n
            at = 0 if at + n >= len(x) else at + n
            t = time.perf_counter()
            if t - t0 >= seconds:
                return done / (t - t0)


def parse_ours(path):
    """int8_bench's SPEED lines: {(threads, batch): {field: value}}"""
    out = {}
    with open(path) as f:
        for line in f:
            if line.startswith("SPEED impl=ours"):
                kv = dict(p.split("=", 1) for p in line.split()[1:])
                out[(int(kv["threads"]), int(kv["batch"]))] = {k: float(v) for k, v in kv.items()
                                                               if k != "impl"}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="int8_bench --export's directory")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batches", default="128,1")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=0.3)
    ap.add_argument("--images", type=int, default=0,
                    help="ignored: the images are int8_bench's (an option of both programs)")
    ap.add_argument("--engine", default=None, help="quantized engine (default: fbgemm, else onednn)")
    ap.add_argument("--ours", default=None, help="int8_bench's output: print the comparison")
    a = ap.parse_args()

    engines = torch.backends.quantized.supported_engines
    engine = a.engine or ("fbgemm" if "fbgemm" in engines else "onednn")
    torch.backends.quantized.engine = engine
    print(f"ENGINE torch={torch.__version__} engine={engine} supported={','.join(engines)} "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')} "
          f"MALLOC_MMAP_THRESHOLD_={os.environ.get('MALLOC_MMAP_THRESHOLD_', '(unset)')}")

    calib = torch.from_numpy(read(a.dir, "calib.f32", np.float32, (-1, 1, 28, 28)).copy())
    x = torch.from_numpy(read(a.dir, "test.f32", np.float32, (-1, 1, 28, 28)).copy())
    y = read(a.dir, "test_labels.u8", np.uint8, (-1,)).astype(np.int64)
    ref = read(a.dir, "fp32_logits.f32", np.float32, (len(y), 10))

    torch.set_num_threads(1)
    model = build(os.path.join(a.dir, "model.onnx"))
    fp = logits_of(model, x).numpy()
    diff = float(np.abs(fp - ref).max())

    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    prepared = prepare_fx(model, get_default_qconfig_mapping(engine),
                          example_inputs=(calib[:CALIB_BATCH],))
    with torch.no_grad():
        for i in range(0, len(calib), CALIB_BATCH):
            prepared(calib[i:i + CALIB_BATCH])
    qmodel = convert_fx(prepared).eval()
    q8 = logits_of(qmodel, x).numpy()
    acc = lambda z: float((z.argmax(1) == y).mean())  # noqa: E731
    print(f"CHECK images={len(y)} max_abs_diff_fp32={diff:.3g} largest_logit="
          f"{float(np.abs(ref).max()):.3g} accuracy_ours_fp32={acc(ref):.4f} "
          f"accuracy_torch_fp32={acc(fp):.4f} accuracy_torch_int8={acc(q8):.4f} "
          f"calib_images={len(calib)}")
    sys.stdout.flush()

    torch_speed = {}
    for t in (int(v) for v in a.threads.split(",")):
        torch.set_num_threads(t)
        for b in (int(v) for v in a.batches.split(",")):
            f32, i8 = [], []
            for r in range(-1, a.reps):
                u, v = rate(model, x, b, a.seconds), rate(qmodel, x, b, a.seconds)
                if r >= 0:
                    f32.append(u)
                    i8.append(v)
            torch_speed[(t, b)] = (statistics.median(f32), statistics.median(i8))
            print(f"SPEED impl=torch engine={engine} threads={t} batch={b} "
                  f"fp32_img_s={torch_speed[(t, b)][0]:.1f} "
                  f"int8_img_s={torch_speed[(t, b)][1]:.1f}")
            sys.stdout.flush()

    if a.ours is None:
        return
    ours = parse_ours(a.ours)
    print()
    print(f"thr batch | ours fp32 ours int8 int8/fp32 (q1-q3) | torch fp32 torch int8 "
          f"({engine}) | ours int8 / torch int8")
    print("-" * 100)
    lines = []
    for key in sorted(torch_speed, key=lambda k: (k[0], -k[1])):
        if key not in ours:
            continue
        o, (tf, ti) = ours[key], torch_speed[key]
        vs = o["int8_img_s"] / ti
        print(f"{key[0]:3d} {key[1]:5d} | {o['fp32_img_s']:9.1f} {o['int8_img_s']:9.1f} "
              f"{o['ratio']:5.2f}x ({o['q1']:.2f}-{o['q3']:.2f}) | {tf:10.1f} {ti:10.1f}"
              f"          | {vs:5.2f}x")
        lines.append(f"  {'met ' if o['ratio'] >= 2.0 else 'MISS'}  threads {key[0]} batch "
                     f"{key[1]}: ours int8 >= 2x ours fp32: {o['ratio']:.2f}x")
        lines.append(f"  {'met ' if vs >= 1.5 else 'MISS'}  threads {key[0]} batch "
                     f"{key[1]}: ours int8 >= 1.5x torch {engine} int8: {vs:.2f}x")
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
