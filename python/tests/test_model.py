"""Model files (file and memory), checkpoints and ONNX import."""

from __future__ import annotations

import os
from typing import Tuple

import numpy as np
import pytest

import selfcompress as sc

from conftest import (DATA, C, H, W, K, Images, Labels, build,
                      fast_optimizer, trained)


def test_save_load_file_and_memory(tmp_path: os.PathLike[str],
                                   train: Tuple[Images, Labels],
                                   test: Tuple[Images, Labels]) -> None:
    net = trained(train)
    net.set_training(False)
    want = net.forward(test[0])
    path = os.path.join(tmp_path, "m.scm")
    info = net.save(path)
    assert info.file_bytes == os.path.getsize(path)
    assert info.weights0 == net.size_report().weights0
    with sc.Model.load(path) as m:
        assert m.input_shape == (C, H, W) and m.output_size == K
        assert np.array_equal(m.forward(test[0]), want)  # bit for bit
        assert m.info() == info
        m.set_threads(2)
        m.set_conv_algo("direct")
        assert m.get_param(sc.Param.CONV_ALGO) == 1
        out = np.empty((len(test[1]), K), np.float32)
        assert m.forward(test[0], out=out) is out
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
        with pytest.raises(sc.InvalidArgumentError):
            m.set_param("gamma", 0.1)
    with open(path, "rb") as f:
        data = f.read()
    m2 = sc.Model.from_bytes(data)
    assert np.array_equal(m2.forward(test[0]), want)
    assert m2.predict(test[0][:3]).shape == (3, K)
    tight = sc.LoadLimits(max_activation_bytes=1000)
    with pytest.raises(sc.FormatError, match="activation"):
        sc.Model.from_bytes(data, limits=tight)
    with pytest.raises(sc.FormatError):
        sc.Model.load(path, limits=tight)
    with pytest.raises(TypeError):
        sc.Model.from_bytes("not bytes")  # type: ignore[arg-type]


def test_checkpoint_round_trip_and_resume(
        tmp_path: os.PathLike[str], train: Tuple[Images, Labels],
        test: Tuple[Images, Labels]) -> None:
    x, y = train
    net = build(gamma=0.05)
    opt = fast_optimizer(net)
    for i in range(8):
        net.train_step(opt, x[i * 32:][:32], y[i * 32:][:32])
    path = os.path.join(tmp_path, "c.scc")
    sc.save_checkpoint(path, net, opt, user=b"epoch=3")
    for i in range(8, 12):
        net.train_step(opt, x[i * 32:][:32], y[i * 32:][:32])
    ck = sc.load_checkpoint(path)
    assert ck.user == b"epoch=3"
    assert ck.optimizer is not None and ck.optimizer.steps == 8
    assert ck.net.get_param("gamma") == 0.05
    for i in range(8, 12):
        ck.net.train_step(ck.optimizer, x[i * 32:][:32], y[i * 32:][:32])
    assert np.array_equal(ck.net.get_params(), net.get_params())
    net.set_training(False)
    ck.net.set_training(False)
    assert np.array_equal(ck.net.forward(test[0]), net.forward(test[0]))
    with pytest.raises(sc.InvalidArgumentError):
        sc.load_checkpoint(path, user_cap=3)  # 7 user bytes
    sc.save_checkpoint(path, net)
    bare = sc.load_checkpoint(path, limits=sc.LoadLimits())
    assert bare.optimizer is None and bare.user == b""
    with pytest.raises(TypeError):
        sc.save_checkpoint(path, opt)  # type: ignore[arg-type]


def test_onnx_import_file_and_memory() -> None:
    path = os.path.join(DATA, "onnx", "mlp_op17.onnx")
    x = np.fromfile(os.path.join(DATA, "onnx_ref", "mlp_op17.in.f32"), "<f4")
    ref = np.fromfile(os.path.join(DATA, "onnx_ref", "mlp_op17.out.f32"),
                      "<f4")
    x = x.astype(np.float32).reshape(2, 10, 1, 1)
    with open(path, "rb") as f:
        data = f.read()
    for net in (sc.Net.import_onnx(path), sc.Net.import_onnx_bytes(data)):
        net.set_training(False)
        y = net.forward(x)
        assert float(np.abs(y.ravel() - ref).max()) <= \
            1e-4 * float(np.abs(ref).max())
    with pytest.raises(sc.FormatError):
        sc.Net.import_onnx_bytes(data[:40])


def test_onnx_export_round_trip(tmp_path: os.PathLike[str],
                                train: Tuple[Images, Labels],
                                test: Tuple[Images, Labels]) -> None:
    net = trained(train)
    net.set_training(False)
    want = net.forward(test[0])
    data = net.export_onnx_bytes()
    assert data[:2] == b"\x08\x08"  # ModelProto.ir_version = 8
    back = sc.Net.import_onnx_bytes(data)
    back.set_training(False)
    assert np.array_equal(back.forward(test[0]), want)
    path = os.path.join(tmp_path, "m.scm")
    net.save(path)
    onnx_path = os.path.join(tmp_path, "m.onnx")
    with sc.Model.load(path) as m:
        m.export_onnx(onnx_path)
        assert open(onnx_path, "rb").read() == m.export_onnx_bytes()
        floats = m.export_onnx_bytes(integer_weights=False)
        assert len(floats) > len(m.export_onnx_bytes())
    with pytest.raises(TypeError):
        net.export_onnx_bytes(integer_weights=1)  # type: ignore[arg-type]
