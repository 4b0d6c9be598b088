"""int8 inference: calibration, the model's arithmetic, the new ModelInfo
figures and every refusal on the way."""

from __future__ import annotations

import os
from typing import Tuple

import numpy as np
import pytest

import selfcompress as sc

from conftest import C, H, W, K, Images, Labels, build, trained


def _accuracy(logits: Images, y: Labels) -> float:
    return float(np.mean(np.argmax(logits, 1) == y))


def _mode(m: sc.Model) -> sc.Inference:
    """m.inference, read afresh (mypy would keep an earlier read's type)."""
    return m.inference


def test_int8_kernel() -> None:
    assert sc.int8_kernel() in ("avx512vnni", "avx2", "generic")


def test_calibrated_model_runs_int8_close_to_fp32(
        tmp_path: os.PathLike[str], train: Tuple[Images, Labels],
        test: Tuple[Images, Labels]) -> None:
    net = trained(train)
    assert net.calibrated_images == 0
    x = train[0][:256]
    net.calibrate(x[:200])
    net.calibrate(x[200:])  # the ranges widen, the count adds up
    assert net.calibrated_images == 256
    assert net.training  # the net's mode is kept
    net.set_training(False)
    want = net.forward(test[0])
    path = os.path.join(tmp_path, "m8.scm")
    info = net.save(path)
    assert info.calibrated_images == 256 and info.int8_bytes == 0
    with sc.Model.load(path) as m:
        assert m.inference is sc.Inference.INT8  # a calibrated file
        assert m.get_param(sc.Param.INFERENCE) == 1.0
        assert m.info().calibrated_images == 256
        assert m.info().int8_bytes == 0  # prepared by the first forward
        got = m.forward(test[0])
        assert m.info().int8_bytes > 0
        assert not np.array_equal(got, want)  # integer arithmetic ran
        scale = float(np.abs(want).max())
        assert float(np.abs(got - want).max()) <= 0.05 * scale
        assert np.mean(np.argmax(got, 1) == np.argmax(want, 1)) >= 0.98
        assert _accuracy(want, test[1]) >= 0.95
        assert _accuracy(got, test[1]) >= 0.95
        out = np.empty_like(got)
        assert m.forward(test[0], out=out) is out
        assert np.array_equal(out, got)  # deterministic
        m.set_threads(2)
        assert np.array_equal(m.forward(test[0]), got)  # any thread count
        m.inference = "fp32"
        assert _mode(m) is sc.Inference.FP32
        assert np.array_equal(m.forward(test[0]), want)  # bit for bit
        m.inference = sc.Inference.INT8
        assert np.array_equal(m.forward(test[0]), got)
        m.set_param("inference", 0)
        assert _mode(m) is sc.Inference.FP32


def test_uncalibrated_model_is_fp32_only(
        tmp_path: os.PathLike[str], train: Tuple[Images, Labels]) -> None:
    net = trained(train, steps=8)
    path = os.path.join(tmp_path, "m.scm")
    info = net.save(path)
    assert info.calibrated_images == 0
    m = sc.Model.load(path)
    assert m.inference is sc.Inference.FP32
    assert m.info().calibrated_images == 0
    with pytest.raises(sc.StateError) as e:
        m.inference = "int8"
    assert e.value.call == "sc_model_set_param"
    assert "sc_net_calibrate" in e.value.message
    assert m.inference is sc.Inference.FP32  # unchanged
    with pytest.raises(sc.StateError):
        m.set_param(sc.Param.INFERENCE, 1)
    m.forward(train[0][:4])
    assert m.info().int8_bytes == 0


def test_calibration_is_discarded_by_a_change_of_the_net(
        tmp_path: os.PathLike[str], train: Tuple[Images, Labels]) -> None:
    net = build(gamma=0.05)
    opt = net.optimizer()
    x, y = train[0][:32], train[1][:32]
    net.calibrate(x)
    assert net.calibrated_images == 32
    net.train_step(opt, x, y)
    assert net.calibrated_images == 0  # a train step discards the ranges
    path = os.path.join(tmp_path, "after_step.scm")
    assert net.save(path).calibrated_images == 0
    assert sc.Model.load(path).inference is sc.Inference.FP32
    net.calibrate(x)
    net.set_params(net.get_params())
    assert net.calibrated_images == 0  # so does setting the parameters
    b, _ = net.get_quant(1)
    b[0] = 0.0  # a dead channel for compress to remove
    net.set_quant(1, b)
    net.calibrate(x)
    assert net.compress() == 1
    assert net.calibrated_images == 0  # and a compress that removes one
    net.calibrate(x)
    net.quantize()
    assert net.calibrated_images == 0  # and quantize


def test_save_calibrates_in_batches(
        tmp_path: os.PathLike[str], train: Tuple[Images, Labels]) -> None:
    net = trained(train, steps=16)
    x = train[0][:250]
    batched = os.path.join(tmp_path, "batched.scm")
    info = net.save(batched, calibration_data=x, batch_size=64)
    assert info.calibrated_images == 250 == net.calibrated_images
    net.set_params(net.get_params())  # drops the ranges
    net.calibrate(x)  # the same images in one batch: the same ranges
    whole = os.path.join(tmp_path, "whole.scm")
    assert net.save(whole).calibrated_images == 250
    with open(batched, "rb") as a, open(whole, "rb") as b:
        assert a.read() == b.read()
    assert sc.Model.load(batched).inference is sc.Inference.INT8
    # more images widen the ranges already measured
    more = net.save(whole, calibration_data=train[0][250:260])
    assert more.calibrated_images == 260


def test_calibrate_refusals(tmp_path: os.PathLike[str],
                            train: Tuple[Images, Labels]) -> None:
    net = build()
    x = train[0][:8]
    net.calibrate(x)
    assert net.calibrated_images == 8
    with pytest.raises(TypeError, match="float32"):
        net.calibrate(x.astype(np.float64))  # not converted
    with pytest.raises(TypeError, match="ndarray"):
        net.calibrate(x.tolist())
    with pytest.raises(ValueError, match="C-contiguous"):
        net.calibrate(np.asfortranarray(x))
    with pytest.raises(ValueError, match="empty batch"):
        net.calibrate(x[:0])
    with pytest.raises(sc.ShapeError) as e:
        net.calibrate(np.zeros((2, C, H, W + 1), np.float32))
    assert e.value.call == "sc_net_calibrate"
    bad = x.copy()
    bad[3, 0, 2, 2] = np.nan
    with pytest.raises(sc.NonFiniteError):
        net.calibrate(bad)
    assert net.calibrated_images == 8  # nothing changed on any error
    with pytest.raises(sc.StateError, match="sc_net_init"):
        fresh = sc.Net(C, H, W)
        fresh.dense(fresh.flatten(sc.INPUT), K)
        fresh.calibrate(x)
    with pytest.raises(sc.InvalidArgumentError):
        net.set_param(sc.Param.INFERENCE, 1)  # a model setting only
    with pytest.raises(sc.InvalidArgumentError):
        net.get_param("inference")
    path = os.path.join(tmp_path, "never.scm")
    with pytest.raises(TypeError, match="float32"):
        net.save(path, calibration_data=x.astype(np.float64))
    with pytest.raises(ValueError, match="batch_size"):
        net.save(path, calibration_data=x, batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        net.save(path, calibration_data=x,
                 batch_size=2.0)  # type: ignore[arg-type]
    with pytest.raises(sc.ShapeError):
        net.save(path, calibration_data=np.zeros((3, C, H, 1), np.float32))
    assert not os.path.exists(path)  # no file after a refusal
    assert net.calibrated_images == 8
    net.close()
    with pytest.raises(ValueError, match="used after close"):
        net.calibrate(x)
    with pytest.raises(ValueError, match="used after close"):
        net.calibrated_images


def test_inference_setting_refusals(tmp_path: os.PathLike[str],
                                    train: Tuple[Images, Labels]) -> None:
    net = build()
    path = os.path.join(tmp_path, "m.scm")
    net.save(path, calibration_data=train[0][:16])
    m = sc.Model.load(path)
    with pytest.raises(ValueError, match="unknown Inference 'int4'"):
        m.inference = "int4"
    with pytest.raises(ValueError, match="not a Inference"):
        m.inference = 2  # type: ignore[assignment]
    with pytest.raises(TypeError, match="Inference or its name"):
        m.inference = 1.0  # type: ignore[assignment]
    with pytest.raises(TypeError):
        m.inference = None  # type: ignore[assignment]
    with pytest.raises(sc.InvalidArgumentError, match="SC_INFERENCE_FP32"):
        m.set_param(sc.Param.INFERENCE, 0.5)
    assert m.inference is sc.Inference.INT8  # unchanged by the refusals
    assert isinstance(type(m).inference.__doc__, str)
    m.close()
    with pytest.raises(ValueError, match="used after close"):
        m.inference
    with pytest.raises(ValueError, match="used after close"):
        m.inference = "fp32"
