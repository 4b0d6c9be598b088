"""Checks of Python arguments, made before any call into the library.

Arrays are never converted behind the caller's back: inputs must be
C-contiguous float32 ndarrays (TypeError for another type or dtype,
ValueError for a non-contiguous array or a wrong shape). Labels must have
an integer dtype; int32 labels are read in place, other integer dtypes are
converted to int32 after a check that every label fits.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

#: a C-contiguous float32 array, as every array argument must be
FloatArray = npt.NDArray[np.float32]
#: what the library's double arrays are (a reduction hook's figures)
DoubleArray = npt.NDArray[np.float64]
#: labels: an integer array (int32 is read in place)
IntArray = npt.NDArray[np.integer[Any]]

_INT_MIN, _INT_MAX = -(2 ** 31), 2 ** 31 - 1


def as_int(value: object, name: str, lo: int = _INT_MIN,
           hi: int = _INT_MAX) -> int:
    """value as an int in [lo, hi] (a Python or NumPy integer, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError("%s: an int, not %s" % (name, type(value).__name__))
    v = int(value)
    if not lo <= v <= hi:
        raise ValueError("%s: %d is outside [%d, %d]" % (name, v, lo, hi))
    return v


def as_float(value: object, name: str) -> float:
    """value as a float (a Python or NumPy number, not a bool)."""
    if isinstance(value, bool) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError("%s: a number, not %s" % (name, type(value).__name__))
    return float(value)


def as_finite(value: object, name: str) -> float:
    """value as a finite float."""
    v = as_float(value, name)
    if not math.isfinite(v):
        raise ValueError("%s: %r is not finite" % (name, v))
    return v


def pair(value: Union[int, Sequence[int]], name: str) -> Tuple[int, int]:
    """An int or a (height, width) pair of ints, as PyTorch takes them."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError("%s: an int or (height, width), not %r"
                             % (name, value))
        return (as_int(value[0], name, 0), as_int(value[1], name, 0))
    v = as_int(value, name, 0)
    return v, v


def float_array(a: object, name: str, shape: Optional[Tuple[int, ...]] = None,
                writable: bool = False) -> FloatArray:
    """a itself, checked: a C-contiguous float32 ndarray (of shape, when
    given; writable, when asked)."""
    if not isinstance(a, np.ndarray):
        raise TypeError("%s: a numpy.ndarray of float32, not %s"
                        % (name, type(a).__name__))
    if a.dtype != np.float32:
        raise TypeError("%s: dtype float32 is required, not %s (convert "
                        "with .astype(numpy.float32))" % (name, a.dtype))
    if not a.flags.c_contiguous:
        raise ValueError("%s: the array is not C-contiguous (make it so with "
                         "numpy.ascontiguousarray)" % name)
    if shape is not None and a.shape != shape:
        raise ValueError("%s: shape %s, expected %s"
                         % (name, a.shape, shape))
    if writable and not a.flags.writeable:
        raise ValueError("%s: the array is read-only" % name)
    return a


def batch_array(a: object, name: str) -> FloatArray:
    """A batch: a C-contiguous float32 array of 1 to 4 dimensions."""
    arr = float_array(a, name)
    if not 1 <= arr.ndim <= 4:
        raise ValueError("%s: 1 to 4 dimensions (N x c x h x w), not %d"
                         % (name, arr.ndim))
    if arr.shape[0] == 0:
        raise ValueError("%s: an empty batch" % name)
    return arr


def labels(y: object, n: int, name: str = "labels") -> "npt.NDArray[np.int32]":
    """N labels as a C-contiguous int32 array: y itself when it is one,
    else a converted copy of an integer array whose labels all fit int32."""
    if not isinstance(y, np.ndarray):
        raise TypeError("%s: a numpy.ndarray of integers, not %s"
                        % (name, type(y).__name__))
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError("%s: an integer dtype is required, not %s (class "
                        "labels are not truncated)" % (name, y.dtype))
    if y.shape != (n,):
        raise ValueError("%s: shape %s, expected (%d,): one label per sample"
                         % (name, y.shape, n))
    if not y.flags.c_contiguous:
        raise ValueError("%s: the array is not C-contiguous" % name)
    if y.dtype == np.int32:
        return y
    if n and (int(y.min()) < _INT_MIN or int(y.max()) > _INT_MAX):
        raise ValueError("%s: a label does not fit int32" % name)
    return y.astype(np.int32)


def ptr(a: "np.ndarray[Any, Any]") -> ctypes.c_void_p:
    """The address of an array's first element."""
    return ctypes.c_void_p(a.ctypes.data)


def float_ptr(a: Optional[FloatArray]) -> Any:
    """A float* to a's data, or NULL for None."""
    if a is None:
        return None
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))


def path_bytes(path: object, name: str = "path") -> bytes:
    """A path (str, bytes or os.PathLike) as the bytes C takes."""
    import os
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("%s: a str, bytes or os.PathLike, not %s"
                        % (name, type(path).__name__))
    return os.fsencode(path)


def buffer_bytes(data: object, name: str = "data") -> bytes:
    """Bytes-like data (bytes, bytearray, memoryview) as bytes."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("%s: bytes-like, not %s" % (name, type(data).__name__))
    return bytes(data)
