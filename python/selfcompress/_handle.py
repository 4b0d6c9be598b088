"""The base of the objects that own a library handle."""

from __future__ import annotations

import ctypes
from typing import Any, TypeVar

from ._lib import lib

H = TypeVar("H", bound="Handle")


class Handle:
    """Owns one library object, freed by the library function named
    ``_FREE``: by close() (idempotent), at the end of a ``with`` block, or
    when garbage collected."""

    _FREE = ""
    _h: ctypes.c_void_p
    _free_fn: Any

    def _own(self, h: ctypes.c_void_p) -> None:
        self._h = h
        self._free_fn = getattr(lib(), self._FREE)  # kept for shutdown

    @property
    def handle(self) -> ctypes.c_void_p:
        """The library's pointer to the object."""
        if not getattr(self, "_h", None):
            raise ValueError("%s: used after close()" % type(self).__name__)
        return self._h

    def close(self) -> None:
        """Frees the library object. Idempotent."""
        h = getattr(self, "_h", None)
        if h:
            self._free_fn(h)
            self._h = ctypes.c_void_p()

    def __enter__(self: H) -> H:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
