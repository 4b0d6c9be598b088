"""Finding, loading and declaring the shared library.

The library is looked for, in this order:

1. the path in the environment variable ``SELFCOMPRESS_LIB`` (the .so file
   itself, e.g. ``build/../lib/libselfcompress.so.0`` of a source tree);
2. ``libselfcompress.so.0`` in the directory
   ``pkg-config --variable=libdir selfcompress`` names (an installed
   library, ``make install``);
3. the default loader's search (``ctypes.util.find_library``, then the
   plain SONAME: ``LD_LIBRARY_PATH``, ``ldconfig``'s cache).

The first that exists is loaded, once per process; its version must have
the major version this package was written for and at least its minor one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
from typing import Any, Dict, List, Optional, Tuple

from . import _structs as S
from .errors import VersionError, error_for

#: the environment variable naming the shared library to load
ENV_VAR = "SELFCOMPRESS_LIB"
#: the library's SONAME
SONAME = "libselfcompress.so.0"
#: the library version this package was written for (MAJOR, MINOR)
WRITTEN_FOR = (0, 8)

_lib: Optional[ctypes.CDLL] = None
_path: Optional[str] = None


def _pkg_config_libdir() -> Optional[str]:
    try:
        out = subprocess.run(["pkg-config", "--variable=libdir",
                              "selfcompress"], capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


def find_library() -> str:
    """The path (or bare name, for the default loader) of the library to
    load, by the order in this module's docstring."""
    env = os.environ.get(ENV_VAR)
    if env:
        if not os.path.exists(env):
            raise FileNotFoundError("%s=%s: no such file" % (ENV_VAR, env))
        return env
    libdir = _pkg_config_libdir()
    if libdir is not None:
        path = os.path.join(libdir, SONAME)
        if os.path.exists(path):
            return path
    return ctypes.util.find_library("selfcompress") or SONAME


def library_path() -> str:
    """The path the loaded library was loaded from (loads it first)."""
    lib()
    assert _path is not None
    return _path


def lib() -> ctypes.CDLL:
    """The loaded library (loaded and declared on the first call).

    Raises OSError when it cannot be found and VersionError when its
    version does not fit this package.
    """
    global _lib, _path
    if _lib is not None:
        return _lib
    path = find_library()
    handle = ctypes.CDLL(path)
    handle.sc_version_number.restype = ctypes.c_uint
    handle.sc_version_number.argtypes = []
    v = int(handle.sc_version_number())
    major, minor = v // 10000, v // 100 % 100
    if major != WRITTEN_FOR[0] or minor < WRITTEN_FOR[1]:
        raise VersionError("%s is version %d.%d.%d; this package needs "
                           "%d.x with x >= %d" % (path, major, minor, v % 100,
                                                  WRITTEN_FOR[0],
                                                  WRITTEN_FOR[1]), "load")
    _declare(handle)
    _lib, _path = handle, path
    return handle


def check(status: int, call: str) -> None:
    """Raises the exception of ``status`` with the library's message
    unless it is SC_OK."""
    if status != 0:
        msg = lib().sc_last_error()
        raise error_for(status, msg.decode(errors="replace") if msg else "",
                        call)


def _declare(h: ctypes.CDLL) -> None:
    c = ctypes
    P, I, D, Z = c.c_void_p, c.c_int, c.c_double, c.c_size_t
    I64, U64, CS = c.c_int64, c.c_uint64, c.c_char_p
    PP, PI, PD = c.POINTER(P), c.POINTER(I), c.POINTER(D)
    PI64, PZ = c.POINTER(I64), c.POINTER(Z)
    PF = c.POINTER(c.c_float)
    LIM = c.POINTER(S.LoadLimitsC)
    EXPORT = c.POINTER(S.OnnxExportOptionsC)
    INFO = c.POINTER(S.ModelInfoC)
    STATS = c.POINTER(S.StepStatsC)
    sigs: Dict[str, Tuple[Any, List[Any]]] = {
        "sc_version_string": (CS, []),
        "sc_blas_info": (CS, []),
        "sc_blas_kernel": (CS, []),
        "sc_blas_best_coretype": (CS, []),
        "sc_blas_kernel_suboptimal": (I, []),
        "sc_conv_kernel": (CS, []),
        "sc_int8_kernel": (CS, []),
        "sc_strerror": (CS, [I]),
        "sc_last_error": (CS, []),
        # tensors
        "sc_tensor_create": (I, [PP, I, PI64]),
        "sc_tensor_from_data": (I, [PP, I, PI64, P]),
        "sc_tensor_wrap": (I, [PP, I, PI64, P]),
        "sc_tensor_free": (None, [P]),
        "sc_tensor_ndim": (I, [P]),
        "sc_tensor_dim": (I64, [P, I]),
        "sc_tensor_numel": (Z, [P]),
        "sc_tensor_data": (P, [P]),
        "sc_tensor_copy_to": (I, [P, P, Z]),
        "sc_tensor_copy_from": (I, [P, P, Z]),
        # nets
        "sc_net_create": (I, [PP, I, I, I]),
        "sc_net_free": (None, [P]),
        "sc_net_dense": (I, [P, I, I, I, PI]),
        "sc_net_conv2d": (I, [P, I, I, I, I, I, I, I, PI]),
        "sc_net_batchnorm": (I, [P, I, I, PI]),
        "sc_net_relu": (I, [P, I, PI]),
        "sc_net_maxpool": (I, [P, I, I, I, PI]),
        "sc_net_global_avgpool": (I, [P, I, PI]),
        "sc_net_global_maxpool": (I, [P, I, PI]),
        "sc_net_flatten": (I, [P, I, PI]),
        "sc_net_add": (I, [P, I, I, PI]),
        "sc_net_add_layer": (I, [P, c.POINTER(S.LayerDescC), PI, I, PI]),
        "sc_net_layer_desc": (I, [P, I, c.POINTER(S.LayerDescC), PI, PI]),
        "sc_net_init": (I, [P, U64]),
        "sc_net_layer_count": (I, [P]),
        "sc_net_layer_kind": (I, [P, I]),
        "sc_net_layer_shape": (I, [P, I, PI, PI, PI]),
        "sc_net_output_size": (I, [P]),
        "sc_net_param_count": (Z, [P]),
        "sc_net_get_params": (I, [P, P, Z]),
        "sc_net_set_params": (I, [P, P, Z]),
        "sc_net_layer_param_shape": (I, [P, I, I, PI64, PI]),
        "sc_net_get_layer_param": (I, [P, I, I, P, Z]),
        "sc_net_set_layer_param": (I, [P, I, I, P, Z]),
        "sc_net_set_param": (I, [P, I, D]),
        "sc_net_get_param": (I, [P, I, PD]),
        "sc_net_set_threads": (I, [P, I]),
        "sc_net_set_training": (I, [P, I]),
        "sc_net_forward": (I, [P, P, P]),
        "sc_net_train_step": (I, [P, P, P, P, STATS]),
        "sc_net_set_loss": (I, [P, c.POINTER(S.LossDescC)]),
        "sc_net_get_loss": (I, [P, c.POINTER(S.LossDescC)]),
        "sc_net_train_step_v2": (I, [P, P, c.POINTER(S.BatchC), STATS]),
        "sc_net_eval_loss": (I, [P, c.POINTER(S.BatchC), PD, PD]),
        "sc_net_train_forward": (I, [P, P, P]),
        "sc_net_train_backward": (I, [P, P, P, D, STATS]),
        "sc_net_set_progress": (I, [P, S.PROGRESS_FN, P, I]),
        "sc_net_report_epoch": (I, [P, I, D]),
        "sc_net_set_log": (I, [P, S.LOG_FN, P]),
        "sc_net_set_reduce": (I, [P, S.REDUCE_FN, P]),
        "sc_net_quantize": (I, [P, I]),
        "sc_net_is_quantized": (I, [P, I]),
        "sc_net_get_quant": (I, [P, I, PF, PF, Z]),
        "sc_net_set_quant": (I, [P, I, PF, PF, Z]),
        "sc_net_size_report": (I, [P, I, c.POINTER(S.SizeReportC)]),
        "sc_net_compress": (I, [P, PI]),
        "sc_net_update_bn_stats": (I, [P, P]),
        "sc_net_calibrate": (I, [P, P]),
        "sc_net_calibrated": (I, [P, PI64]),
        "sc_net_save": (I, [P, CS, INFO]),
        "sc_net_import_onnx": (I, [PP, CS, LIM]),
        "sc_net_import_onnx_memory": (I, [PP, P, Z, LIM]),
        "sc_net_export_onnx": (I, [P, CS, EXPORT]),
        "sc_net_export_onnx_memory": (I, [P, P, Z, c.POINTER(Z), EXPORT]),
        "sc_model_export_onnx": (I, [P, CS, EXPORT]),
        "sc_model_export_onnx_memory": (I, [P, P, Z, c.POINTER(Z), EXPORT]),
        # optimizers
        "sc_optimizer_create": (I, [PP, P, I]),
        "sc_optimizer_free": (None, [P]),
        "sc_optimizer_set": (I, [P, I, I, D]),
        "sc_optimizer_get": (I, [P, I, I, PD]),
        "sc_optimizer_set_lr": (I, [P, I, D]),
        "sc_optimizer_steps": (U64, [P]),
        # models
        "sc_model_load": (I, [PP, CS]),
        "sc_model_load_memory": (I, [PP, P, Z]),
        "sc_model_load_v2": (I, [PP, CS, LIM]),
        "sc_model_load_memory_v2": (I, [PP, P, Z, LIM]),
        "sc_model_free": (None, [P]),
        "sc_model_forward": (I, [P, P, P]),
        "sc_model_set_threads": (I, [P, I]),
        "sc_model_set_param": (I, [P, I, D]),
        "sc_model_get_param": (I, [P, I, PD]),
        "sc_model_output_size": (I, [P]),
        "sc_model_input_shape": (I, [P, PI, PI, PI]),
        "sc_model_get_info": (I, [P, INFO]),
        # checkpoints
        "sc_checkpoint_save": (I, [P, P, P, Z, CS]),
        "sc_checkpoint_load": (I, [CS, PP, PP, P, Z, PZ]),
        "sc_checkpoint_load_v2": (I, [CS, PP, PP, P, Z, PZ, LIM]),
    }
    for name, (res, args) in sigs.items():
        f = getattr(h, name)
        f.restype = res
        f.argtypes = args
