"""The header's size-tagged structs and callback types, as ctypes."""

from __future__ import annotations

import ctypes
from typing import Any, Dict, TypeVar


class StepStatsC(ctypes.Structure):
    """sc_step_stats."""

    _fields_ = [("size", ctypes.c_size_t), ("loss", ctypes.c_double),
                ("task_loss", ctypes.c_double), ("size_loss", ctypes.c_double),
                ("accuracy", ctypes.c_double), ("loss_kind", ctypes.c_int),
                ("distill_loss", ctypes.c_double)]


class LossDescC(ctypes.Structure):
    """sc_loss_desc."""

    _fields_ = [("size", ctypes.c_size_t), ("kind", ctypes.c_int),
                ("class_weights", ctypes.POINTER(ctypes.c_float)),
                ("n_class_weights", ctypes.c_int),
                ("label_smoothing", ctypes.c_float)]


class BatchC(ctypes.Structure):
    """sc_batch."""

    _fields_ = [("size", ctypes.c_size_t), ("x", ctypes.c_void_p),
                ("labels", ctypes.c_void_p), ("targets", ctypes.c_void_p),
                ("teacher", ctypes.c_void_p),
                ("distill_temperature", ctypes.c_double),
                ("distill_weight", ctypes.c_double)]


class LayerDescC(ctypes.Structure):
    """sc_layer_desc."""

    _fields_ = [("size", ctypes.c_size_t), ("kind", ctypes.c_int),
                ("channels", ctypes.c_int), ("kernel_h", ctypes.c_int),
                ("kernel_w", ctypes.c_int), ("stride_h", ctypes.c_int),
                ("stride_w", ctypes.c_int), ("pad_h", ctypes.c_int),
                ("pad_w", ctypes.c_int), ("groups", ctypes.c_int),
                ("flags", ctypes.c_int), ("alpha", ctypes.c_float)]


class SizeReportC(ctypes.Structure):
    """sc_size_report."""

    _fields_ = [("size", ctypes.c_size_t), ("in_channels", ctypes.c_int64),
                ("out_channels", ctypes.c_int64), ("weights", ctypes.c_int64),
                ("weights0", ctypes.c_int64), ("bits", ctypes.c_double),
                ("bits_pct", ctypes.c_double), ("weights_pct", ctypes.c_double),
                ("size_loss", ctypes.c_double),
                ("overhead_floats", ctypes.c_int64)]


class ModelInfoC(ctypes.Structure):
    """sc_model_info."""

    _fields_ = [("size", ctypes.c_size_t), ("file_bytes", ctypes.c_int64),
                ("weight_payload_bytes", ctypes.c_int64),
                ("channel_header_bytes", ctypes.c_int64),
                ("weight_bits", ctypes.c_double), ("weights", ctypes.c_int64),
                ("weights0", ctypes.c_int64),
                ("activation_bytes", ctypes.c_int64),
                ("macs", ctypes.c_double), ("weight_bytes", ctypes.c_int64),
                ("param_bytes", ctypes.c_int64),
                ("calibrated_images", ctypes.c_int64),
                ("int8_bytes", ctypes.c_int64)]


class OnnxExportOptionsC(ctypes.Structure):
    """sc_onnx_export_options."""

    _fields_ = [("size", ctypes.c_size_t), ("integer_weights", ctypes.c_int),
                ("bn_running_stats", ctypes.c_int)]


class LoadLimitsC(ctypes.Structure):
    """sc_load_limits."""

    _fields_ = [("size", ctypes.c_size_t),
                ("max_activation_bytes", ctypes.c_int64),
                ("max_macs", ctypes.c_double)]


class ProgressC(ctypes.Structure):
    """sc_progress."""

    _fields_ = [("size", ctypes.c_size_t), ("kind", ctypes.c_int),
                ("epoch", ctypes.c_int), ("step", ctypes.c_uint64),
                ("loss", ctypes.c_double), ("task_loss", ctypes.c_double),
                ("size_loss", ctypes.c_double), ("accuracy", ctypes.c_double),
                ("bits_pct", ctypes.c_double), ("weights_pct", ctypes.c_double),
                ("images_per_sec", ctypes.c_double),
                ("seconds", ctypes.c_double),
                ("test_accuracy", ctypes.c_double)]


#: sc_progress_fn
PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(ProgressC),
                               ctypes.c_void_p)
#: sc_log_fn
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_void_p)
#: sc_reduce_fn
REDUCE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int,
                             ctypes.POINTER(ctypes.c_float), ctypes.c_size_t,
                             ctypes.POINTER(ctypes.c_double), ctypes.c_int,
                             ctypes.c_void_p)

S = TypeVar("S", bound=ctypes.Structure)


def sized(cls: "type[S]") -> S:
    """A zeroed struct of type cls with .size set, as the *_INIT macros."""
    s = cls()
    s.size = ctypes.sizeof(cls)
    return s


def fields(s: ctypes.Structure) -> Dict[str, Any]:
    """The struct's fields but .size, by name."""
    return {f[0]: getattr(s, f[0]) for f in s._fields_ if f[0] != "size"}
