"""selfcompress: Python bindings of libselfcompress (ctypes, no compiled
extension), a library that trains neural networks which compress
themselves while they learn.

Example::

    import numpy as np
    import selfcompress as sc

    net = sc.Net(1, 28, 28)
    x = net.conv2d(sc.INPUT, 16, 3, pad=1, bias=False)
    x = net.relu(net.batchnorm(x))
    x = net.flatten(net.maxpool(x, 2))
    net.dense(x, 10)
    net.init(42)
    net.quantize()
    net.set_param("gamma", 0.05)
    history = net.fit(images, labels, epochs=5, budget=(3.0, 18.0),
                      validation_data=(test_images, test_labels))
    net.save("model.scm")
    logits = sc.Model.load("model.scm").forward(test_images)

Arrays are C-contiguous float32 (labels: an integer dtype), passed to the
library by pointer; anything else is refused with TypeError/ValueError.
A failed library call raises the SelfCompressError subclass of its status
code with the library's message. The library is found through
SELFCOMPRESS_LIB, pkg-config or the default loader (see ``_lib``).
"""

from ._lib import ENV_VAR, WRITTEN_FOR, find_library, library_path
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .enums import (ALL_LAYERS, INPUT, MAX_LAYER_INPUTS, ConvAlgo, Group,
                    Inference, LayerFlag, LayerKind, LogLevel, Loss,
                    OptimizerKind, OptParam, Param, ProgressKind, ReduceFig,
                    ReduceWhat, Slot)
from .errors import (DivergedError, FileIOError, FormatError,
                     InvalidArgumentError, LabelError, NonFiniteError,
                     NullPointerError, OutOfMemoryError, SelfCompressError,
                     ShapeError, StateError, UnsupportedError, VersionError,
                     HostError)
from .fit import (Callback, EarlyStopping, History, LambdaCallback, Logs,
                  evaluate, fit, predict)
from .info import (blas_best_coretype, blas_info, blas_kernel,
                   blas_kernel_suboptimal, conv_kernel, int8_kernel,
                   strerror, version, version_number)
from .model import Model
from .net import Net
from .optimizer import Optimizer
from .records import (LOAD_MAX_ACTIVATION_BYTES, LOAD_MAX_MACS, LayerDesc,
                      LoadLimits, LossSetting, ModelInfo, Progress,
                      SizeReport, StepStats)
from .tensor import Tensor

__version__ = "0.8.0"

__all__ = [
    "ALL_LAYERS", "ENV_VAR", "INPUT", "LOAD_MAX_ACTIVATION_BYTES",
    "LOAD_MAX_MACS", "MAX_LAYER_INPUTS", "WRITTEN_FOR", "Callback",
    "Checkpoint", "ConvAlgo", "DivergedError", "EarlyStopping",
    "FileIOError", "FormatError", "Group", "History", "Inference",
    "InvalidArgumentError",
    "LabelError", "LambdaCallback", "LayerDesc", "LayerFlag", "LayerKind",
    "LoadLimits", "LogLevel", "Logs", "Loss", "LossSetting", "Model",
    "ModelInfo", "Net", "NonFiniteError", "NullPointerError", "OptParam",
    "Optimizer", "OptimizerKind", "OutOfMemoryError", "Param", "Progress",
    "ProgressKind", "ReduceFig", "ReduceWhat", "SelfCompressError", "ShapeError", "SizeReport", "Slot",
    "StateError", "StepStats", "Tensor", "UnsupportedError", "VersionError",
    "HostError",
    "blas_best_coretype", "blas_info", "blas_kernel",
    "blas_kernel_suboptimal", "conv_kernel", "evaluate", "find_library",
    "fit", "int8_kernel", "library_path", "load_checkpoint", "predict",
    "save_checkpoint", "strerror", "version", "version_number",
]
