"""The loaded library's version, BLAS and kernels."""

from __future__ import annotations

from typing import Optional

from . import _check as C
from ._lib import lib


def version() -> str:
    """The loaded library's version, "MAJOR.MINOR.PATCH"."""
    return str(lib().sc_version_string().decode())


def version_number() -> int:
    """MAJOR*10000 + MINOR*100 + PATCH of the loaded library."""
    return int(lib().sc_version_number())


def blas_info() -> str:
    """The BLAS build and the kernel it chose for this CPU."""
    return str(lib().sc_blas_info().decode())


def blas_kernel() -> str:
    """The name of the BLAS kernel running now."""
    return str(lib().sc_blas_kernel().decode())


def blas_best_coretype() -> Optional[str]:
    """The best OpenBLAS core type this CPU supports, or None."""
    v = lib().sc_blas_best_coretype()
    return None if v is None else str(v.decode())


def blas_kernel_suboptimal() -> bool:
    """True when the running BLAS kernel is below what the CPU supports
    (fix: OPENBLAS_CORETYPE=blas_best_coretype() before the process
    starts)."""
    return bool(lib().sc_blas_kernel_suboptimal())


def conv_kernel() -> str:
    """The library's convolution micro-kernel: "avx512", "avx2" or
    "generic"."""
    return str(lib().sc_conv_kernel().decode())


def int8_kernel() -> str:
    """The library's integer micro-kernel for a model's int8 inference:
    "avx512vnni", "avx2" or "generic" (all three give the same bits)."""
    return str(lib().sc_int8_kernel().decode())


def strerror(status: int) -> str:
    """The library's fixed English description of a status code."""
    return str(lib().sc_strerror(C.as_int(status, "status")).decode())
