"""ONNX export of a net or a loaded model (sc_net_export_onnx,
sc_model_export_onnx; docs/onnx.md)."""

from __future__ import annotations

import ctypes
from typing import Any, Optional

from . import _check as C
from . import _structs as S
from ._lib import check, lib


def _options(integer_weights: bool, bn_running_stats: bool
             ) -> S.OnnxExportOptionsC:
    for name, v in (("integer_weights", integer_weights),
                    ("bn_running_stats", bn_running_stats)):
        if not isinstance(v, bool):
            raise TypeError("export_onnx: %s is a bool, not %s"
                            % (name, type(v).__name__))
    o = S.sized(S.OnnxExportOptionsC)
    o.integer_weights = int(integer_weights)
    o.bn_running_stats = int(bn_running_stats)
    return o


def export(kind: str, handle: ctypes.c_void_p, path: Optional[Any],
           integer_weights: bool, bn_running_stats: bool) -> Optional[bytes]:
    """Writes the ONNX model of handle (kind "net" or "model") to path, or
    returns its bytes when path is None."""
    o = _options(integer_weights, bn_running_stats)
    fn = "sc_%s_export_onnx" % kind
    if path is not None:
        check(getattr(lib(), fn)(handle, C.path_bytes(path), ctypes.byref(o)),
              fn)
        return None
    size = ctypes.c_size_t()
    mem = getattr(lib(), fn + "_memory")
    check(mem(handle, None, 0, ctypes.byref(size), ctypes.byref(o)),
          fn + "_memory")
    buf = ctypes.create_string_buffer(max(size.value, 1))
    check(mem(handle, buf, size.value, ctypes.byref(size), ctypes.byref(o)),
          fn + "_memory")
    return buf.raw[:size.value]


class OnnxExport:
    """export_onnx and export_onnx_bytes of a handle whose _EXPORT names its
    kind ("net" or "model")."""

    _EXPORT = ""
    handle: ctypes.c_void_p

    def export_onnx(self, path: Any, integer_weights: bool = True,
                    bn_running_stats: bool = False) -> None:
        """Writes the eval-mode function as an ONNX model (opset 17, input
        "input", output "logits"; docs/onnx.md), atomically.
        integer_weights: quantised layers of at most 8 bits as INT8 levels
        and DequantizeLinear; bn_running_stats: batch norms that use batch
        statistics are written with their running ones (else refused)."""
        export(self._EXPORT, self.handle, path, integer_weights,
               bn_running_stats)

    def export_onnx_bytes(self, integer_weights: bool = True,
                          bn_running_stats: bool = False) -> bytes:
        """:meth:`export_onnx` into memory: the ONNX model's bytes."""
        data = export(self._EXPORT, self.handle, None, integer_weights,
                      bn_running_stats)
        assert data is not None
        return data
