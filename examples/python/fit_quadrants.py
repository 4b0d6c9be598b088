#!/usr/bin/env python3
"""Trains a small self-compressing cnn to a size budget with the
selfcompress package (python/; docs/python.md), on synthetic data: 4
classes, a bright 4x4 square in one quadrant of a 12x12 noisy image.

Run from the repository (after `make`):
    SELFCOMPRESS_LIB=lib/libselfcompress.so.0 PYTHONPATH=python \\
        /usr/bin/python3 examples/python/fit_quadrants.py
or, after `make install-python`, with that interpreter alone.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from typing import Tuple

import numpy as np
import numpy.typing as npt

import selfcompress as sc


def make_data(n: int, seed: int) -> Tuple[npt.NDArray[np.float32],
                                          npt.NDArray[np.int64]]:
    """n images (n x 1 x 12 x 12 float32) and their labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = rng.uniform(-0.5, 0.5, (n, 1, 12, 12)).astype(np.float32)
    for i, k in enumerate(y):
        r0, c0 = (k // 2) * 6 + 1, (k % 2) * 6 + 1
        x[i, 0, r0:r0 + 4, c0:c0 + 4] += 1.0
    return x, y


def main() -> None:
    """Builds, fits to the budget, evaluates, saves and reloads."""
    ap = argparse.ArgumentParser(description="fit a small cnn to a budget")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--bits-pct", type=float, default=12.0)
    ap.add_argument("--weights-pct", type=float, default=100.0)
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    x, y = make_data(2048, 1)
    tx, ty = make_data(512, 2)

    net = sc.Net(1, 12, 12)
    h = net.conv2d(sc.INPUT, 8, 3, pad=1, bias=False)
    h = net.maxpool(net.relu(net.batchnorm(h)), 2)
    h = net.maxpool(net.relu(net.conv2d(h, 8, 3, pad=1)), 2)
    net.dense(net.flatten(h), 4)
    net.init(42)
    net.quantize()
    net.set_param(sc.Param.GAMMA, 0.05)
    opt = net.optimizer("adam")
    opt.set_lr(sc.Group.WEIGHTS, 1e-2)
    opt.set_lr(sc.Group.BIASES, 1e-2)
    net.set_log(lambda level, msg: print("[%s] %s" % (level.name, msg)))

    hist = net.fit(x, y, epochs=a.epochs, batch_size=32,
                   validation_data=(tx, ty),
                   budget=(a.bits_pct, a.weights_pct),
                   verbose=0 if a.quiet else 1)
    loss, acc = net.evaluate(tx, ty)
    rep = net.size_report()
    print("test accuracy %.4f, loss %.4f; bits %.2f%%, weights %.2f%% of "
          "the float net; budget reached in epoch %s"
          % (acc, loss, rep.bits_pct, rep.weights_pct, hist.budget_epoch))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "quadrants.scm")
        info = net.save(path)
        with sc.Model.load(path) as m:
            diff = float(np.abs(m.predict(tx) - net.predict(tx)).max())
    print("model file %d bytes; the loaded model's logits differ from the "
          "net's by at most %.2g" % (info.file_bytes, diff))
    if diff > 1e-4:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
