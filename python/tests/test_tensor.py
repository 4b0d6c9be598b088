"""Tensors wrap NumPy memory, or show library memory as NumPy, without
copies."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import selfcompress as sc


def test_wrap_is_zero_copy() -> None:
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = sc.Tensor(a)
    assert t.array is a
    assert t.data_pointer == a.ctypes.data
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.numel == 24
    a[1, 2, 3] = -42.0  # the library sees the caller's write
    assert t.copy_to()[1, 2, 3] == -42.0
    t.copy_from(np.zeros(24, np.float32))  # the caller sees the library's
    assert not a.any()
    t.close()
    t.close()
    assert a.shape == (2, 3, 4)


def test_library_memory_as_array() -> None:
    t = sc.Tensor.zeros((3, 5))
    a = t.array
    assert a.shape == (3, 5) and a.dtype == np.float32 and not a.any()
    assert a.ctypes.data == t.data_pointer  # the library's own buffer
    a[2, 4] = 7.0
    assert t.copy_to()[2, 4] == 7.0
    del t
    gc.collect()
    assert a[2, 4] == 7.0  # the array keeps the tensor alive
    src = np.arange(6, dtype=np.float32).reshape(2, 3)
    c = sc.Tensor.from_data(src)
    assert c.array.ctypes.data != src.ctypes.data  # a copy, by name
    assert np.array_equal(c.array, src)


def test_refused() -> None:
    with pytest.raises(TypeError):
        sc.Tensor(np.zeros(3))  # type: ignore[arg-type]  # float64
    with pytest.raises(ValueError):
        sc.Tensor(np.zeros((1, 1, 1, 1, 1), np.float32))
    with pytest.raises(ValueError):
        sc.Tensor.zeros((0, 3))
    with pytest.raises(TypeError):
        sc.Tensor.zeros(3)  # type: ignore[arg-type]
