"""Tensors (sc_tensor): a view of a NumPy array, or library memory seen as
one."""

from __future__ import annotations

import ctypes
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from . import _check as C
from ._lib import check, lib


class Tensor:
    """A float32 tensor of 1 to 4 dimensions (sc_tensor).

    ``Tensor(array)`` wraps a C-contiguous float32 ndarray without a copy
    (sc_tensor_wrap): the library reads and writes the array's memory, and
    the tensor keeps the array alive. ``Tensor.zeros(shape)`` and
    ``Tensor.from_data(array)`` make a tensor that owns library memory;
    their ``.array`` is an ndarray over that memory, valid while the tensor
    lives (the array keeps the tensor alive).
    """

    def __init__(self, array: C.FloatArray) -> None:
        """Wraps ``array`` (C-contiguous float32, 1 to 4 dimensions)."""
        a = C.float_array(array, "Tensor")
        if not 1 <= a.ndim <= 4:
            raise ValueError("Tensor: 1 to 4 dimensions, not %d" % a.ndim)
        self._h = ctypes.c_void_p()
        check(lib().sc_tensor_wrap(ctypes.byref(self._h), a.ndim,
                                   _shape(a.shape), C.ptr(a)),
              "sc_tensor_wrap")
        self._array: C.FloatArray = a
        self._owning = False

    @classmethod
    def zeros(cls, shape: Sequence[int]) -> "Tensor":
        """A zero-filled tensor that owns its memory (sc_tensor_create)."""
        dims = _dims(shape)
        t = cls.__new__(cls)
        t._h = ctypes.c_void_p()
        check(lib().sc_tensor_create(ctypes.byref(t._h), len(dims),
                                     _shape(dims)), "sc_tensor_create")
        t._array = t._view(dims)
        t._owning = True
        return t

    @classmethod
    def from_data(cls, array: C.FloatArray) -> "Tensor":
        """A tensor that owns a copy of ``array`` (sc_tensor_from_data)."""
        a = C.float_array(array, "Tensor.from_data")
        dims = _dims(a.shape)
        t = cls.__new__(cls)
        t._h = ctypes.c_void_p()
        check(lib().sc_tensor_from_data(ctypes.byref(t._h), len(dims),
                                        _shape(dims), C.ptr(a)),
              "sc_tensor_from_data")
        t._array = t._view(dims)
        t._owning = True
        return t

    def _view(self, dims: Tuple[int, ...]) -> C.FloatArray:
        n = int(np.prod(dims))
        buf = (ctypes.c_float * n).from_address(self.data_pointer)
        buf._owner = self  # type: ignore[attr-defined]  # keeps self alive
        return np.frombuffer(memoryview(buf), dtype=np.float32).reshape(dims)

    @property
    def handle(self) -> ctypes.c_void_p:
        """The sc_tensor pointer."""
        if not self._h:
            raise ValueError("Tensor: used after close()")
        return self._h

    @property
    def array(self) -> C.FloatArray:
        """The ndarray over the tensor's memory (no copy)."""
        return self._array

    @property
    def ndim(self) -> int:
        """Number of dimensions (sc_tensor_ndim)."""
        return int(lib().sc_tensor_ndim(self.handle))

    @property
    def shape(self) -> Tuple[int, ...]:
        """The dimensions as the library reports them (sc_tensor_dim)."""
        return tuple(int(lib().sc_tensor_dim(self.handle, i))
                     for i in range(self.ndim))

    @property
    def numel(self) -> int:
        """Number of elements (sc_tensor_numel)."""
        return int(lib().sc_tensor_numel(self.handle))

    @property
    def data_pointer(self) -> int:
        """The address of the elements (sc_tensor_data)."""
        return int(lib().sc_tensor_data(self.handle) or 0)

    def copy_to(self, dst: Optional[C.FloatArray] = None) -> C.FloatArray:
        """Copies the elements into dst (a writable C-contiguous float32
        array of numel elements; a new one when None) and returns it."""
        if dst is None:
            dst = np.empty(self.shape, np.float32)
        C.float_array(dst, "copy_to: dst", writable=True)
        check(lib().sc_tensor_copy_to(self.handle, C.ptr(dst), dst.size),
              "sc_tensor_copy_to")
        return dst

    def copy_from(self, src: C.FloatArray) -> None:
        """Copies src's numel elements into the tensor."""
        C.float_array(src, "copy_from: src")
        check(lib().sc_tensor_copy_from(self.handle, C.ptr(src), src.size),
              "sc_tensor_copy_from")

    def close(self) -> None:
        """Frees the handle of a wrapping tensor (the array stays valid;
        idempotent). A tensor that owns its memory is freed when it and its
        ``.array`` are garbage collected, so the array never dangles; close()
        does nothing for it."""
        if not self._owning:
            self._free()

    def _free(self) -> None:
        h = getattr(self, "_h", None)
        if h:
            lib().sc_tensor_free(h)
            self._h = ctypes.c_void_p()

    def __del__(self) -> None:
        self._free()


def _dims(shape: Sequence[int]) -> Tuple[int, ...]:
    if not isinstance(shape, (tuple, list)):
        raise TypeError("shape: a tuple of ints, not %s"
                        % type(shape).__name__)
    if not 1 <= len(shape) <= 4:
        raise ValueError("shape: 1 to 4 dimensions, not %d" % len(shape))
    return tuple(C.as_int(d, "shape", 1, 2 ** 62) for d in shape)


def _shape(dims: Tuple[int, ...]) -> Any:
    return (ctypes.c_int64 * len(dims))(*dims)
