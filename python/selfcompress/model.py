"""Loaded models (sc_model): inference only, in eval mode."""

from __future__ import annotations

import ctypes
from typing import Any, Optional, Tuple, Type, Union, overload

import numpy as np

from . import _check as C
from . import _structs as S
from ._handle import Handle
from ._lib import check, lib
from .enums import ConvAlgo, Inference, Param, to_enum
from .onnx_export import OnnxExport
from .records import LoadLimits, ModelInfo, limits_ptr
from .tensor import Tensor


class _InferenceSetting:
    """The model's arithmetic (Param.INFERENCE), an Inference; assign an
    Inference or its name ("fp32", "int8"). A model whose file holds
    activation ranges (Net.calibrate() before Net.save()) starts in INT8,
    any other in FP32, the only value it then takes (StateError for INT8).
    The first int8 forward prepares the integer weights and tables
    (info().int8_bytes); a model int8 cannot run fails it with
    UnsupportedError, naming the layer, and stays in FP32."""

    @overload
    def __get__(self, model: None, owner: Type["Model"]
                ) -> "_InferenceSetting": ...

    @overload
    def __get__(self, model: "Model", owner: Type["Model"]) -> Inference: ...

    def __get__(self, model: Optional["Model"], owner: Type["Model"]
                ) -> Union["_InferenceSetting", Inference]:
        if model is None:
            return self
        return Inference(int(model.get_param(Param.INFERENCE)))

    def __set__(self, model: "Model", value: Union[Inference, str]) -> None:
        v = to_enum(Inference, value, "Model.inference")
        model.set_param(Param.INFERENCE, float(v))


class Model(OnnxExport, Handle):
    """A model file loaded for inference (sc_model). A context manager;
    ``close()`` frees it at once, else the garbage collector does."""

    _FREE = "sc_model_free"
    _EXPORT = "model"

    def __init__(self, handle: ctypes.c_void_p) -> None:
        """Adopts an sc_model handle; use :meth:`load` or :meth:`from_bytes`."""
        self._own(handle)

    @classmethod
    def load(cls, path: Any, limits: Optional[LoadLimits] = None) -> "Model":
        """Loads a model file (sc_model_load_v2; limits None: the default
        caps). FormatError for a truncated, corrupt or hostile file."""
        h = ctypes.c_void_p()
        check(lib().sc_model_load_v2(ctypes.byref(h), C.path_bytes(path),
                                     limits_ptr(limits)), "sc_model_load_v2")
        return cls(h)

    @classmethod
    def from_bytes(cls, data: Union[bytes, bytearray, memoryview],
                   limits: Optional[LoadLimits] = None) -> "Model":
        """Loads a model from a file's bytes (not kept;
        sc_model_load_memory_v2)."""
        b = C.buffer_bytes(data)
        h = ctypes.c_void_p()
        check(lib().sc_model_load_memory_v2(ctypes.byref(h), b, len(b),
                                            limits_ptr(limits)),
              "sc_model_load_memory_v2")
        return cls(h)

    @property
    def output_size(self) -> int:
        """Outputs per sample (the classes)."""
        return int(lib().sc_model_output_size(self.handle))

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        """The input shape per sample (c, h, w)."""
        c, h, w = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        check(lib().sc_model_input_shape(self.handle, ctypes.byref(c),
                                         ctypes.byref(h), ctypes.byref(w)),
              "sc_model_input_shape")
        return int(c.value), int(h.value), int(w.value)

    def info(self) -> ModelInfo:
        """The sizes of the file the model was loaded from."""
        i = S.sized(S.ModelInfoC)
        check(lib().sc_model_get_info(self.handle, ctypes.byref(i)),
              "sc_model_get_info")
        return ModelInfo._from(i)

    def set_threads(self, threads: int) -> None:
        """Threads the model uses (>= 1)."""
        check(lib().sc_model_set_threads(self.handle,
                                         C.as_int(threads, "threads", 1)),
              "sc_model_set_threads")

    #: the model's arithmetic: Inference.FP32 or INT8 (assign either, or
    #: its name; a file without activation ranges takes FP32 only)
    inference = _InferenceSetting()

    def set_conv_algo(self, algo: Union[ConvAlgo, str]) -> None:
        """How conv layers compute (Param.CONV_ALGO)."""
        a = to_enum(ConvAlgo, algo, "set_conv_algo: algo")
        self.set_param(Param.CONV_ALGO, float(a))

    def set_param(self, param: Union[Param, str], value: float) -> None:
        """Sets a setting of the model's computation (Param.CONV_ALGO or
        Param.INFERENCE; InvalidArgumentError for any other)."""
        p = to_enum(Param, param, "set_param: param")
        check(lib().sc_model_set_param(self.handle, int(p),
                                       C.as_float(value, "value")),
              "sc_model_set_param")

    def get_param(self, param: Union[Param, str]) -> float:
        """Reads setting ``param`` (Param.CONV_ALGO, Param.INFERENCE)."""
        p = to_enum(Param, param, "get_param: param")
        v = ctypes.c_double()
        check(lib().sc_model_get_param(self.handle, int(p), ctypes.byref(v)),
              "sc_model_get_param")
        return float(v.value)

    def forward(self, x: C.FloatArray,
                out: Optional[C.FloatArray] = None) -> C.FloatArray:
        """Logits (N x outputs) of batch x (float32, read in place),
        written into ``out`` when given."""
        t = Tensor(C.batch_array(x, "forward: x"))
        shape = (x.shape[0], self.output_size)
        o = np.empty(shape, np.float32) if out is None else \
            C.float_array(out, "forward: out", shape, writable=True)
        to = Tensor(o)
        check(lib().sc_model_forward(self.handle, t.handle, to.handle),
              "sc_model_forward")
        return o

    def predict(self, x: C.FloatArray) -> C.FloatArray:
        """The same as forward(x)."""
        return self.forward(x)
