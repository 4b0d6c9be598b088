#!/usr/bin/python3
"""pretrain_torch.py -- train a benchmark net in PyTorch on Fashion-MNIST and
export it to ONNX, for `fashion_mnist --init-onnx` (self-compression from a
pretrained model) or `--eval-onnx` (checking the import).

    /usr/bin/python3 examples/pretrain_torch.py --net tinynet --epochs 2 \\
        --out tinynet.onnx [--ref tinynet.ref]

The nets are tests/bench/bench_torch.py's build(net, sc=False): the PyTorch
counterparts of the benchmark definitions (shared/spec/benchmarks.md), with
He-normal weights and zero biases. One change for tinynet: bench_torch.py's
batch norms use batch statistics always (track_running_stats=False), as the
library's own tinynet does (SC_BN_BATCH_STATS); ONNX's BatchNormalization in
inference form normalises with running statistics, and that is what the
importer builds (a batch norm with SC_BN_AFFINE and the file's statistics).
So here tinynet's batch norms are replaced after construction by ones that
track running statistics (still without affine parameters: the export writes
scale 1 and shift 0), and the exported model computes in eval mode what the
imported net computes in eval mode.

Data: the IDX gzip files of Debian's dataset-fashion-mnist (--data DIR),
pixels / 255 in float32, normalised as examples/fashion_mnist.c's
normalise() does: the mean and standard deviation of every training pixel,
accumulated in float64, (x - mean) / std computed in float64 and rounded to
float32. seq1d reads an image transposed (channel c, time t = pixel at row
t, column c), as examples/nets.h's nets_image_to_input().

Training: Adam (lr --lr, default 1e-3) on cross-entropy, batch --batch,
--epochs epochs, shuffled with --seed; one PyTorch thread (--threads). The
float test accuracy (eval mode, all 10,000 test images) is printed with
the training time (train_s, evaluations left out) as

    PRETRAIN net=.. epochs=.. seed=.. train_images=.. accuracy=.. train_s=..

Export: torch.onnx.export at opset 17 with training=PRESERVE (batch norms stay
BatchNormalization nodes, so they train on after import), input "input"
(N x 1 x 28 x 28, seq1d N x 28 x 1 x 28) and output "logits" (N x 10), N a
dynamic axis "batch". --ref FILE writes the eval-mode logits of the first
--ref-count (default 1000) test images, float32 raw, 10 per image.
"""
import argparse
import gzip
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "bench"))

import bench_torch  # noqa: E402  (build(): the benchmark nets in PyTorch)

NETS = ("tinynet", "dscnn", "cnn", "seq1d", "mlp")
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path, magic):
    """The items of an IDX gzip file as bytes, and their count and dims."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise SystemExit(f"{path}: truncated IDX header")
    m, n = struct.unpack(">II", data[:8])
    if m != magic:
        raise SystemExit(f"{path}: magic {m:#x}, want {magic:#x}")
    ndim = magic & 0xff
    dims = struct.unpack(">" + "I" * (ndim - 1), data[8:4 + 4 * ndim])
    off = 4 + 4 * ndim
    size = n
    for d in dims:
        size *= d
    if len(data) - off != size:
        raise SystemExit(f"{path}: {len(data) - off} bytes of data, want {size}")
    return data[off:], n, dims


def load(np, data_dir, prefix):
    img, n, dims = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"),
                            0x803)
    if tuple(dims) != (28, 28):
        raise SystemExit(f"{prefix}: images of {dims}, want 28 x 28")
    lab, nl, _ = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"),
                          0x801)
    if nl != n:
        raise SystemExit(f"{prefix}: {n} images but {nl} labels")
    x = np.frombuffer(img, dtype=np.uint8).reshape(n, 784).astype(np.float32)
    x /= np.float32(255.0)
    y = np.frombuffer(lab, dtype=np.uint8).astype(np.int64)
    if y.max() > 9:
        raise SystemExit(f"{prefix}: label {y.max()} out of range")
    return x, y


def normalise(np, train, test):
    """fashion_mnist.c's normalise(): one mean and std over all training
    pixels, in float64."""
    t = train.astype(np.float64).ravel()
    mean = t.sum() / t.size
    std = float(np.sqrt((t * t).sum() / t.size - mean * mean))
    return [((s.astype(np.float64) - mean) / std).astype(np.float32)
            for s in (train, test)]


def to_input(np, net, x):
    """Images (n x 784) as the net's input (nets_image_to_input)."""
    x = x.reshape(-1, 28, 28)
    if net == "seq1d":  # out[c][t] = img[t][c]
        return np.ascontiguousarray(x.transpose(0, 2, 1)).reshape(-1, 28, 1, 28)
    return x.reshape(-1, 1, 28, 28)


def model_for(net):
    """bench_torch's net, with tinynet's batch norms tracking running
    statistics (see the module's comment), and cnn's global max pool (a
    torch.amax, which exports as ReduceMax) as AdaptiveMaxPool2d(1) and
    Flatten (GlobalMaxPool and Flatten in ONNX): the same values."""
    import torch.nn as nn
    model, _, _ = bench_torch.build(net, sc=False)
    if net == "cnn":
        for i, mod in enumerate(model):
            if type(mod).__name__ == "GlobalMaxPool":
                model[i] = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten())
    if net == "tinynet":
        for i, mod in enumerate(model):
            if isinstance(mod, nn.BatchNorm2d):
                model[i] = nn.BatchNorm2d(mod.num_features, eps=mod.eps,
                                          momentum=mod.momentum, affine=False,
                                          track_running_stats=True)
    return model


def accuracy(torch, model, x, y, batch=500):
    model.eval()
    right = 0
    with torch.no_grad():
        for at in range(0, len(x), batch):
            right += int((model(x[at:at + batch]).argmax(1) == y[at:at + batch]).sum())
    return right / len(x)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--net", choices=NETS, default="tinynet")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--train-limit", type=int, default=0,
                   help="train on the first N training images (0: all); the "
                        "normalisation always uses all of them")
    p.add_argument("--data", default=DEFAULT_DATA)
    p.add_argument("--out", required=True, help="the ONNX file to write")
    p.add_argument("--ref", default=None,
                   help="write the first --ref-count test logits here")
    p.add_argument("--ref-count", type=int, default=1000)
    a = p.parse_args()
    if a.epochs < 0 or a.batch < 1 or a.threads < 1 or a.ref_count < 1:
        p.error("--epochs >= 0, --batch, --threads and --ref-count >= 1")

    import numpy as np
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    xtr, ytr = load(np, a.data, "train")
    xte, yte = load(np, a.data, "t10k")
    xtr, xte = normalise(np, xtr, xte)
    if a.train_limit > 0:
        xtr, ytr = xtr[:a.train_limit], ytr[:a.train_limit]
    xtr = torch.from_numpy(to_input(np, a.net, xtr))
    xte = torch.from_numpy(to_input(np, a.net, xte))
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)

    model = model_for(a.net)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    gen = torch.Generator().manual_seed(a.seed)
    train_s = 0.0
    for epoch in range(a.epochs):
        model.train()
        order = torch.randperm(len(xtr), generator=gen)
        te, total, steps = time.perf_counter(), 0.0, 0
        for at in range(0, len(xtr), a.batch):
            idx = order[at:at + a.batch]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total += float(loss)
            steps += 1
        train_s += time.perf_counter() - te
        acc = accuracy(torch, model, xte, yte)
        print(f"epoch {epoch + 1}: loss {total / max(steps, 1):.4f}, test accuracy "
              f"{100 * acc:.2f}%, {time.perf_counter() - te:.1f} s", flush=True)
    if a.epochs == 0:
        acc = accuracy(torch, model, xte, yte)
    print(f"PRETRAIN net={a.net} epochs={a.epochs} seed={a.seed} "
          f"train_images={len(xtr)} accuracy={acc:.4f} train_s={train_s:.1f}",
          flush=True)

    model.eval()
    torch.onnx.export(model, xte[:1], a.out, opset_version=17,
                      training=torch.onnx.TrainingMode.PRESERVE,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    print(f"wrote {a.out}")
    if a.ref:
        with torch.no_grad():
            logits = model(xte[:a.ref_count]).numpy().astype(np.float32)
        logits.tofile(a.ref)
        print(f"wrote {a.ref}: the logits of the first {len(logits)} test images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
