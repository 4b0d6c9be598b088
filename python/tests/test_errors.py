"""Every status code raises its own class with the library's message, and
bad Python arguments are refused before they reach C."""

from __future__ import annotations

import ctypes
import os
from typing import Tuple

import numpy as np
import pytest

import selfcompress as sc
from selfcompress._lib import check, lib

from conftest import DATA, C, H, W, K, Images, Labels, build


def test_classes_follow_the_codes() -> None:
    classes = [sc.NullPointerError, sc.InvalidArgumentError, sc.ShapeError,
               sc.OutOfMemoryError, sc.NonFiniteError, sc.LabelError,
               sc.StateError, sc.FileIOError, sc.FormatError,
               sc.DivergedError, sc.UnsupportedError, sc.HostError]
    for code, cls in enumerate(classes, 1):
        assert issubclass(cls, sc.SelfCompressError)
        assert cls.code == code
        assert cls.status.startswith("SC_ERR_")
        assert sc.strerror(code)


def test_null() -> None:
    with pytest.raises(sc.NullPointerError) as e:
        check(lib().sc_net_init(None, 0), "sc_net_init")
    assert "NULL" in e.value.message or "null" in e.value.message.lower()


def test_invalid_argument() -> None:
    net = build()
    with pytest.raises(sc.InvalidArgumentError) as e:
        net.set_param(sc.Param.BUDGET_EVERY, 0)
    assert e.value.message and e.value.call == "sc_net_set_param"
    assert net.get_param("budget_every") == 20  # unchanged
    with pytest.raises(sc.InvalidArgumentError):
        sc.Net(C, H, W).dense(sc.INPUT, 0)


def test_shape() -> None:
    with pytest.raises(sc.ShapeError):
        sc.Net(C, H, W).conv2d(sc.INPUT, 4, 3, groups=3)
    net = build()
    with pytest.raises(sc.ShapeError):
        net.forward(np.zeros((2, C, H, W + 1), np.float32))


def test_out_of_memory() -> None:
    with pytest.raises((sc.OutOfMemoryError, sc.ShapeError)) as e:
        sc.Tensor.zeros((1 << 20, 1 << 20, 1 << 12))
    # 2^52 floats: the library refuses the size or fails the allocation
    assert e.value.message


def test_nonfinite(train: Tuple[Images, Labels]) -> None:
    net = build()
    p = net.get_params()
    p[0] = np.nan
    with pytest.raises(sc.NonFiniteError):
        net.set_params(p)
    x = train[0][:4].copy()
    x[1, 0, 3, 3] = np.inf
    with pytest.raises(sc.NonFiniteError):
        net.train_step(net.optimizer(), x, train[1][:4])


def test_label(train: Tuple[Images, Labels]) -> None:
    net = build()
    opt = net.optimizer()
    with pytest.raises(sc.LabelError) as e:
        net.train_step(opt, train[0][:4], np.array([0, 1, 2, K], np.int32))
    assert str(K) in e.value.message
    assert opt.steps == 0


def test_state() -> None:
    net = build()
    net.optimizer()
    with pytest.raises(sc.StateError):
        net.optimizer()  # one per net
    with pytest.raises(sc.StateError):
        sc.Net(C, H, W).init(1)  # no layers


def test_io_and_format(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(sc.FileIOError):
        sc.Model.load(os.path.join(tmp_path, "missing.scm"))
    bad = os.path.join(tmp_path, "bad.scm")
    with open(bad, "wb") as f:
        f.write(b"not a model at all")
    with pytest.raises(sc.FormatError):
        sc.Model.load(bad)
    with pytest.raises(sc.FormatError):
        sc.Model.from_bytes(b"\0" * 64)
    with pytest.raises(sc.FormatError):
        sc.load_checkpoint(bad)


def test_diverged(train: Tuple[Images, Labels]) -> None:
    net = build()
    opt = net.optimizer()
    p = net.get_params()
    net.set_params(np.full_like(p, 3e38))
    before = net.get_params()
    with pytest.raises(sc.DivergedError):
        net.train_step(opt, train[0][:8], train[1][:8])
    assert np.array_equal(net.get_params(), before)  # nothing changed


def test_unsupported() -> None:
    with pytest.raises(sc.UnsupportedError) as e:
        sc.Net.import_onnx(os.path.join(DATA, "onnx", "bad_softmax.onnx"))
    assert "Softmax" in str(e.value)


def test_python_arguments_refused_before_c(
        train: Tuple[Images, Labels]) -> None:
    net = build()
    opt = net.optimizer()
    x, y = train[0][:8], train[1][:8]
    with pytest.raises(TypeError, match="integer dtype"):
        net.train_step(opt, x, y.astype(np.float32))  # not truncated
    with pytest.raises(TypeError, match="float32"):
        net.train_step(opt, x.astype(np.float64), y)
    with pytest.raises(TypeError, match="ndarray"):
        net.train_step(opt, x, list(y))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="C-contiguous"):
        net.forward(np.asfortranarray(np.zeros((2, C, H, W), np.float32)))
    with pytest.raises(ValueError, match="C-contiguous"):
        net.forward(np.zeros((4, C, H, 2 * W), np.float32)[:, :, :, ::2])
    with pytest.raises(ValueError, match="one label per sample"):
        net.train_step(opt, x, y[:7])
    with pytest.raises(ValueError, match="outside"):
        net.layer_shape(1 << 40)
    with pytest.raises(TypeError, match="an int"):
        net.layer_shape(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown Param"):
        net.set_param("gama", 0.1)
    with pytest.raises(TypeError):
        net.set_param(sc.Param.GAMMA, "0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Slot"):
        net.get_layer_param(1, "gamma")
    with pytest.raises(ValueError, match="labels or targets"):
        net.train_step(opt, x)
    with pytest.raises(TypeError, match="Optimizer"):
        net.train_step(None, x, y)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside"):
        net.set_budget(120.0, 10.0)
    with pytest.raises(ValueError, match="read-only"):
        ro = np.empty((8, K), np.float32)
        ro.flags.writeable = False
        net.forward(x, out=ro)
    with pytest.raises(ValueError, match="shape"):
        net.forward(x, out=np.empty((8, K + 1), np.float32))
    with pytest.raises(ValueError, match="used after close"):
        n2 = build()
        n2.close()
        n2.forward(x)
    assert opt.steps == 0
    # the refusals are ValueError/TypeError, never ctypes' own errors
    assert not issubclass(ctypes.ArgumentError, (TypeError, ValueError))
