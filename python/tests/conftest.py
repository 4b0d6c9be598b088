"""Shared data and nets of the package's tests: 4 classes, a bright 4x4
square in one quadrant of a 12x12 image plus uniform noise."""

from __future__ import annotations

import os
from typing import Tuple

import numpy as np
import numpy.typing as npt
import pytest

import selfcompress as sc

C, H, W, K = 1, 12, 12, 4
#: the repository's tests/data (fixtures shared with the C tests)
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                    "tests", "data")

Images = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int32]


def make_data(n: int, seed: int) -> Tuple[Images, Labels]:
    """n samples of the quadrant task."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n).astype(np.int32)
    x = rng.uniform(-0.5, 0.5, (n, C, H, W)).astype(np.float32)
    for i, k in enumerate(y):
        r0, c0 = (k // 2) * (H // 2) + 1, (k % 2) * (W // 2) + 1
        x[i, 0, r0:r0 + 4, c0:c0 + 4] += 1.0
    return x, y


def build(seed: int = 42, gamma: float = 0.005) -> sc.Net:
    """A small quantised cnn: conv-bn-relu-pool, conv-relu-pool, dense."""
    net = sc.Net(C, H, W)
    x = net.conv2d(sc.INPUT, 8, 3, pad=1, bias=False)
    x = net.relu(net.batchnorm(x))
    x = net.maxpool(x, 2)
    x = net.maxpool(net.relu(net.conv2d(x, 8, 3, pad=1)), 2)
    net.dense(net.flatten(x), K)
    net.init(seed)
    net.quantize()
    net.set_param(sc.Param.GAMMA, gamma)
    return net


def fast_optimizer(net: sc.Net, kind: str = "adam") -> sc.Optimizer:
    """The net's optimizer with weights and biases at lr 1e-2."""
    opt = net.optimizer(kind)
    opt.set_lr(sc.Group.WEIGHTS, 1e-2)
    opt.set_lr(sc.Group.BIASES, 1e-2)
    return opt


def trained(train: Tuple[Images, Labels], steps: int = 64) -> sc.Net:
    """A net of build(gamma=0.05) trained for steps batches of 32 of train,
    then compressed."""
    net = build(gamma=0.05)
    opt = fast_optimizer(net)
    for i in range(steps):
        at = i * 32 % len(train[1])
        net.train_step(opt, train[0][at:at + 32], train[1][at:at + 32])
    net.compress()
    return net


@pytest.fixture(scope="session")
def train() -> Tuple[Images, Labels]:
    """1024 training samples."""
    return make_data(1024, 1)


@pytest.fixture(scope="session")
def test() -> Tuple[Images, Labels]:
    """256 test samples."""
    return make_data(256, 2)
