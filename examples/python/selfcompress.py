"""selfcompress -- a small ctypes binding of libselfcompress.

Usage::

    import numpy as np, selfcompress as sc
    net = sc.Net(1, 28, 28)
    x = net.conv2d(sc.INPUT, 16, 3, pad=1, bias=False)
    x = net.batchnorm(x); x = net.relu(x); x = net.maxpool(x, 2)
    x = net.flatten(x); net.dense(x, 10)
    net.init(42); net.quantize(); net.set_param("gamma", 0.01)
    opt = net.optimizer("adam")
    stats = net.train_step(opt, images, labels)   # StepStats
    net.compress(); net.save("model.scm")
    logits = sc.Model.load("model.scm").forward(images)

Finding the library: ``load(path)`` / ``Net(..., lib=path)`` with an explicit
path, else the ``SELFCOMPRESS_LIB`` environment variable, else the directory
``pkg-config --variable=libdir selfcompress`` names, else the repository's
``lib/`` (two levels above this file).

Arrays: the library reads NumPy arrays in place (``sc_tensor_wrap`` on the
array's buffer) when they are C-contiguous ``float32`` (labels: ``int32``).
Any other array is converted first, which copies it; functions say so.

Errors: every failing call raises :class:`SelfCompressError`, which carries
the ``sc_status`` name (``e.status``, e.g. ``"SC_ERR_ARG"``) and the
library's ``sc_last_error()`` message.

Thread safety follows the library: different objects may be used from
different threads; one object from one thread at a time.
"""

import ctypes
import dataclasses
import os
import subprocess

import numpy as np

#: The library version this module was written for (MAJOR, MINOR).
WRITTEN_FOR = (0, 6)

INPUT = 0        #: the network input, as a layer id
ALL_LAYERS = -1  #: every dense/conv layer

STATUS_NAMES = (
    "SC_OK", "SC_ERR_NULL", "SC_ERR_ARG", "SC_ERR_SHAPE", "SC_ERR_NOMEM",
    "SC_ERR_NONFINITE", "SC_ERR_LABEL", "SC_ERR_STATE", "SC_ERR_IO",
    "SC_ERR_FORMAT", "SC_ERR_DIVERGED", "SC_ERR_UNSUPPORTED",
    "SC_ERR_HOST",
)

PARAMS = {"gamma": 0, "bn_momentum": 1, "bn_eps": 2, "quant_b0": 3,
          "quant_e0": 4, "compress_every": 5,
          "conv_algo": 6,  # 0: auto (Winograd for 5x5), 1: direct
          "quant_b_max": 7,  # the bit depths' cap, 1 .. 32
          # the size budget: % of the bits and of the weights (0: no
          # condition), checked every budget_every steps; reaching it
          # compresses the net and sets quant_bits_frozen to 1
          "budget_bits_pct": 8, "budget_weights_pct": 9, "budget_every": 10,
          "quant_bits_frozen": 11}
#: sc_progress_kind codes: a progress record's "kind"
PROGRESS = {"step": 0, "epoch": 1, "budget": 2}
OPTIMIZERS = {"sgd": 0, "adam": 1, "adamw": 2}
GROUPS = {"weights": 0, "biases": 1, "quant_bits": 2, "quant_exp": 3,
          "quant": -2, "all": -1}
OPT_PARAMS = {"lr": 0, "weight_decay": 1, "momentum": 2, "nesterov": 3,
              "beta1": 4, "beta2": 5, "eps": 6}
LOG_LEVELS = {0: "debug", 1: "info", 2: "warn"}
#: sc_layer_kind codes, for :meth:`Net.add_layer`
LAYERS = {"input": 0, "dense": 1, "conv2d": 2, "batchnorm": 3, "relu": 4,
          "maxpool": 5, "global_avgpool": 6, "global_maxpool": 7,
          "flatten": 8, "add": 9, "avgpool": 10, "leaky_relu": 11,
          "relu6": 12, "sigmoid": 13, "tanh": 14, "hardswish": 15,
          "concat": 16, "dropout": 17}
#: sc_layer_flags
BIAS, BN_AFFINE, BN_BATCH_STATS, POOL_COUNT_PAD = 1, 2, 4, 8
MAX_LAYER_INPUTS = 16
#: sc_layer_slot: a layer's parameters and running statistics by name
#: sc_loss: the task losses (see :meth:`Net.set_loss`)
LOSSES = {"softmax_xent": 0, "mse": 1, "bce_logits": 2, "host": 3}
SLOTS = {"weight": 0, "bias": 1, "norm_scale": 2, "norm_shift": 3,
         "running_mean": 4, "running_var": 5}


class SelfCompressError(Exception):
    """A failed library call: .status (name), .code (int), .message."""

    def __init__(self, code, message, call=""):
        self.code = code
        self.status = (STATUS_NAMES[code] if 0 <= code < len(STATUS_NAMES)
                       else "SC_ERR_%d" % code)
        self.message = message
        super().__init__("%s%s: %s" % (call + ": " if call else "",
                                       self.status, message))


# ---- C structures (size-tagged: .size is set before each call) -------------

class _StepStats(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("loss", ctypes.c_double),
                ("task_loss", ctypes.c_double), ("size_loss", ctypes.c_double),
                ("accuracy", ctypes.c_double), ("loss_kind", ctypes.c_int)]


class _LossDesc(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("kind", ctypes.c_int),
                ("class_weights", ctypes.c_void_p),
                ("n_class_weights", ctypes.c_int),
                ("label_smoothing", ctypes.c_float)]


class _Batch(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("x", ctypes.c_void_p),
                ("labels", ctypes.c_void_p), ("targets", ctypes.c_void_p)]


class _LayerDesc(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("kind", ctypes.c_int),
                ("channels", ctypes.c_int), ("kernel_h", ctypes.c_int),
                ("kernel_w", ctypes.c_int), ("stride_h", ctypes.c_int),
                ("stride_w", ctypes.c_int), ("pad_h", ctypes.c_int),
                ("pad_w", ctypes.c_int), ("groups", ctypes.c_int),
                ("flags", ctypes.c_int), ("alpha", ctypes.c_float)]


def _pair(v, name):
    """An int or a pair of ints (height, width), as PyTorch takes them."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError("%s: an int or (height, width), not %r" % (name, v))
        return int(v[0]), int(v[1])
    return int(v), int(v)


class _SizeReport(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("in_channels", ctypes.c_int64),
                ("out_channels", ctypes.c_int64), ("weights", ctypes.c_int64),
                ("weights0", ctypes.c_int64), ("bits", ctypes.c_double),
                ("bits_pct", ctypes.c_double), ("weights_pct", ctypes.c_double),
                ("size_loss", ctypes.c_double),
                ("overhead_floats", ctypes.c_int64)]


class _ModelInfo(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("file_bytes", ctypes.c_int64),
                ("weight_payload_bytes", ctypes.c_int64),
                ("channel_header_bytes", ctypes.c_int64),
                ("weight_bits", ctypes.c_double)]


class _Progress(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("kind", ctypes.c_int),
                ("epoch", ctypes.c_int), ("step", ctypes.c_uint64),
                ("loss", ctypes.c_double), ("task_loss", ctypes.c_double),
                ("size_loss", ctypes.c_double), ("accuracy", ctypes.c_double),
                ("bits_pct", ctypes.c_double), ("weights_pct", ctypes.c_double),
                ("images_per_sec", ctypes.c_double),
                ("seconds", ctypes.c_double),
                ("test_accuracy", ctypes.c_double)]


_PROGRESS_FN = ctypes.CFUNCTYPE(None, ctypes.POINTER(_Progress),
                                ctypes.c_void_p)
_LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p,
                           ctypes.c_void_p)


def _struct_dict(s):
    return {name: getattr(s, name) for name, _ in s._fields_ if name != "size"}


@dataclasses.dataclass(frozen=True)
class StepStats:
    """What one training step measured (sc_step_stats)."""
    loss: float       #: task_loss + gamma * size_loss
    task_loss: float  #: the net's loss on the batch (see :data:`LOSSES`)
    size_loss: float  #: Q, average bits per original weight
    accuracy: float   #: fraction classified right (BCE: signs; else 0)
    loss_kind: str = "softmax_xent"  #: which loss task_loss is


# ---- loading ----------------------------------------------------------------

_SONAME = "libselfcompress.so.0"
_lib = None


def find_library(path=None):
    """The path of the shared library to load (see the module docstring)."""
    if path:
        return path
    env = os.environ.get("SELFCOMPRESS_LIB")
    if env:
        return env
    try:
        libdir = subprocess.run(
            ["pkg-config", "--variable=libdir", "selfcompress"],
            capture_output=True, text=True, check=True).stdout.strip()
        if libdir and os.path.exists(os.path.join(libdir, _SONAME)):
            return os.path.join(libdir, _SONAME)
    except (OSError, subprocess.CalledProcessError):
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "lib", _SONAME)


def _declare(lib):
    c = ctypes
    P, I, D, S = c.c_void_p, c.c_int, c.c_double, c.c_size_t
    st = c.c_int
    sig = {
        "sc_version_number": (c.c_uint, []),
        "sc_version_string": (c.c_char_p, []),
        "sc_strerror": (c.c_char_p, [I]),
        "sc_last_error": (c.c_char_p, []),
        "sc_blas_kernel": (c.c_char_p, []),
        "sc_conv_kernel": (c.c_char_p, []),
        "sc_tensor_wrap": (st, [c.POINTER(P), I, c.POINTER(c.c_int64), P]),
        "sc_tensor_free": (None, [P]),
        "sc_tensor_data": (P, [P]),
        "sc_tensor_numel": (S, [P]),
        "sc_tensor_copy_to": (st, [P, P, S]),
        "sc_net_create": (st, [c.POINTER(P), I, I, I]),
        "sc_net_import_onnx": (st, [c.POINTER(P), c.c_char_p, P]),
        "sc_net_free": (None, [P]),
        "sc_net_dense": (st, [P, I, I, I, c.POINTER(I)]),
        "sc_net_conv2d": (st, [P, I, I, I, I, I, I, I, c.POINTER(I)]),
        "sc_net_batchnorm": (st, [P, I, I, c.POINTER(I)]),
        "sc_net_relu": (st, [P, I, c.POINTER(I)]),
        "sc_net_maxpool": (st, [P, I, I, I, c.POINTER(I)]),
        "sc_net_global_avgpool": (st, [P, I, c.POINTER(I)]),
        "sc_net_global_maxpool": (st, [P, I, c.POINTER(I)]),
        "sc_net_flatten": (st, [P, I, c.POINTER(I)]),
        "sc_net_add": (st, [P, I, I, c.POINTER(I)]),
        "sc_net_set_loss": (st, [P, c.POINTER(_LossDesc)]),
        "sc_net_train_step_v2": (st, [P, P, c.POINTER(_Batch),
                                      c.POINTER(_StepStats)]),
        "sc_net_train_forward": (st, [P, P, P]),
        "sc_net_train_backward": (st, [P, P, P, D, c.POINTER(_StepStats)]),
        "sc_net_layer_param_shape": (st, [P, I, I, c.POINTER(c.c_int64),
                                          c.POINTER(I)]),
        "sc_net_get_layer_param": (st, [P, I, I, P, S]),
        "sc_net_set_layer_param": (st, [P, I, I, P, S]),
        "sc_net_add_layer": (st, [P, c.POINTER(_LayerDesc), c.POINTER(I), I,
                                  c.POINTER(I)]),
        "sc_net_layer_desc": (st, [P, I, c.POINTER(_LayerDesc),
                                   c.POINTER(I), c.POINTER(I)]),
        "sc_net_init": (st, [P, c.c_uint64]),
        "sc_net_layer_count": (I, [P]),
        "sc_net_layer_shape": (st, [P, I, c.POINTER(I), c.POINTER(I),
                                    c.POINTER(I)]),
        "sc_net_output_size": (I, [P]),
        "sc_net_param_count": (S, [P]),
        "sc_net_get_params": (st, [P, P, S]),
        "sc_net_set_params": (st, [P, P, S]),
        "sc_net_set_param": (st, [P, I, D]),
        "sc_net_get_param": (st, [P, I, c.POINTER(D)]),
        "sc_net_set_threads": (st, [P, I]),
        "sc_net_set_training": (st, [P, I]),
        "sc_net_forward": (st, [P, P, P]),
        "sc_net_train_step": (st, [P, P, P, P, c.POINTER(_StepStats)]),
        "sc_net_set_progress": (st, [P, _PROGRESS_FN, P, I]),
        "sc_net_report_epoch": (st, [P, I, D]),
        "sc_net_set_log": (st, [P, _LOG_FN, P]),
        "sc_optimizer_create": (st, [c.POINTER(P), P, I]),
        "sc_optimizer_free": (None, [P]),
        "sc_optimizer_set": (st, [P, I, I, D]),
        "sc_optimizer_get": (st, [P, I, I, c.POINTER(D)]),
        "sc_optimizer_steps": (c.c_uint64, [P]),
        "sc_net_quantize": (st, [P, I]),
        "sc_net_is_quantized": (I, [P, I]),
        "sc_net_size_report": (st, [P, I, c.POINTER(_SizeReport)]),
        "sc_net_compress": (st, [P, c.POINTER(I)]),
        "sc_net_save": (st, [P, c.c_char_p, c.POINTER(_ModelInfo)]),
        "sc_model_load": (st, [c.POINTER(P), c.c_char_p]),
        "sc_model_free": (None, [P]),
        "sc_model_forward": (st, [P, P, P]),
        "sc_model_output_size": (I, [P]),
        "sc_model_input_shape": (st, [P, c.POINTER(I), c.POINTER(I),
                                      c.POINTER(I)]),
        "sc_model_get_info": (st, [P, c.POINTER(_ModelInfo)]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype = res
        f.argtypes = args


def load(path=None):
    """Loads (once) and returns the library; checks its version.

    Raises SelfCompressError when the library's major version differs from
    the one this module was written for, or the library is older than it.
    """
    global _lib
    if _lib is not None and path is None:
        return _lib
    lib = ctypes.CDLL(find_library(path))
    lib.sc_version_number.restype = ctypes.c_uint
    v = lib.sc_version_number()
    major, minor = v // 10000, v // 100 % 100
    if major != WRITTEN_FOR[0] or minor < WRITTEN_FOR[1]:
        raise SelfCompressError(
            11, "library version %d.%d.%d; this binding needs %d.x with x >= "
            "%d" % (major, minor, v % 100, WRITTEN_FOR[0], WRITTEN_FOR[1]),
            "load")
    _declare(lib)
    if _lib is None:
        _lib = lib
    return lib


def version():
    """The loaded library's version string, e.g. "0.6.0"."""
    return load().sc_version_string().decode()


def conv_kernel():
    """The micro-kernel the library's convolutions run on this CPU:
    "avx512", "avx2" or "generic"."""
    return load().sc_conv_kernel().decode()


def _check(lib, status, call):
    if status != 0:
        raise SelfCompressError(status, lib.sc_last_error().decode(), call)


# ---- arrays -----------------------------------------------------------------

def as_float32(a):
    """a itself when it is a C-contiguous float32 ndarray (no copy), else a
    C-contiguous float32 copy."""
    return np.ascontiguousarray(a, dtype=np.float32)


class _Owned:
    """Owns one library object in ``_h``, freed by the library function
    named ``_FREE``: by close() (once; later calls do nothing) or when
    garbage collected."""

    _FREE = None

    def close(self):
        if getattr(self, "_h", None):
            getattr(self._lib, self._FREE)(self._h)
            self._h = None

    def __del__(self):
        self.close()


class _OwnedContext(_Owned):
    """An _Owned that is also a context manager (closed at the end of the
    ``with`` block)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Tensor(_Owned):
    """An sc_tensor over a NumPy array's buffer, without a copy.

    The array must be C-contiguous float32 (1 to 4 dimensions); anything
    else is converted, which copies it (then ``.array`` is the copy, not the
    array passed in). The tensor keeps ``.array`` alive; writes to it are
    seen by the library and the other way round.
    """

    _FREE = "sc_tensor_free"

    def __init__(self, array, lib=None):
        self._lib = lib or load()
        self.array = as_float32(array)
        if not 1 <= self.array.ndim <= 4:
            raise SelfCompressError(2, "a tensor has 1 to 4 dimensions",
                                    "Tensor")
        shape = (ctypes.c_int64 * self.array.ndim)(*self.array.shape)
        h = ctypes.c_void_p()
        _check(self._lib, self._lib.sc_tensor_wrap(
            ctypes.byref(h), self.array.ndim, shape,
            self.array.ctypes.data_as(ctypes.c_void_p)), "sc_tensor_wrap")
        self._h = h

    @property
    def handle(self):
        return self._h

    def data_pointer(self):
        """The address the library reads and writes (sc_tensor_data)."""
        return self._lib.sc_tensor_data(self._h)

    def copy(self):
        """A new array with the tensor's elements, read by the library."""
        out = np.empty(self.array.shape, dtype=np.float32)
        _check(self._lib, self._lib.sc_tensor_copy_to(
            self._h, out.ctypes.data_as(ctypes.c_void_p), out.size),
            "sc_tensor_copy_to")
        return out



def _labels(labels, n):
    y = np.ascontiguousarray(labels, dtype=np.int32)
    if y.shape != (n,):
        raise SelfCompressError(3, "labels must hold %d ints" % n, "labels")
    return y


# ---- networks ---------------------------------------------------------------

class Optimizer(_Owned):
    """An optimizer attached to a Net (see Net.optimizer)."""

    _FREE = "sc_optimizer_free"

    def __init__(self, net, kind="adam"):
        self._lib = net._lib
        self.net = net
        h = ctypes.c_void_p()
        _check(self._lib, self._lib.sc_optimizer_create(
            ctypes.byref(h), net._h, OPTIMIZERS[kind]), "sc_optimizer_create")
        self._h = h

    def set(self, param, value, group="all"):
        """Sets a hyper-parameter (OPT_PARAMS name) for a group (GROUPS)."""
        _check(self._lib, self._lib.sc_optimizer_set(
            self._h, OPT_PARAMS[param], GROUPS[group], float(value)),
            "sc_optimizer_set")

    def get(self, param, group="weights"):
        v = ctypes.c_double()
        _check(self._lib, self._lib.sc_optimizer_get(
            self._h, OPT_PARAMS[param], GROUPS[group], ctypes.byref(v)),
            "sc_optimizer_get")
        return v.value

    def set_lr(self, group, lr):
        self.set("lr", lr, group)

    @property
    def steps(self):
        return self._lib.sc_optimizer_steps(self._h)



class Net(_OwnedContext):
    """A network (sc_net): build, init, quantize, train, compress, save."""

    _FREE = "sc_net_free"

    def __init__(self, c, h, w, lib=None):
        self._lib = load(lib) if lib else load()
        hd = ctypes.c_void_p()
        _check(self._lib, self._lib.sc_net_create(ctypes.byref(hd), c, h, w),
               "sc_net_create")
        self._h = hd
        self._callbacks = []     # ctypes callbacks must stay alive
        self._cb_error = None    # an exception raised inside a callback
        self._opt = None

    @classmethod
    def import_onnx(cls, path, lib=None):
        """A net built from an ONNX model file (sc_net_import_onnx, the
        default caps; docs/onnx.md), initialised with its parameters."""
        net = cls.__new__(cls)
        net._lib = load(lib) if lib else load()
        hd = ctypes.c_void_p()
        _check(net._lib, net._lib.sc_net_import_onnx(ctypes.byref(hd),
                                                     os.fsencode(path), None),
               "sc_net_import_onnx")
        net._h = hd
        net._callbacks = []
        net._cb_error = None
        net._opt = None
        return net

    def _call(self, name, *args):
        _check(self._lib, getattr(self._lib, name)(self._h, *args), name)

    def _layer(self, name, *args):
        i = ctypes.c_int()
        self._call(name, *args, ctypes.byref(i))
        return i.value

    # building: each returns the new layer's id
    def dense(self, x, out_features, bias=True):
        return self._layer("sc_net_dense", x, out_features, int(bias))

    def add_layer(self, kind, inputs, channels=0, kernel=0, stride=0, pad=0,
                  groups=0, flags=0, alpha=0.0):
        """Appends a layer of ``kind`` (a name of :data:`LAYERS`) reading
        the layer ids ``inputs`` (an int or a sequence): the one builder
        (``sc_net_add_layer``). ``kernel``, ``stride`` and ``pad`` are an
        int or (height, width); a field the kind does not take must stay 0.
        Returns the new layer's id."""
        if kind not in LAYERS:
            raise ValueError("add_layer: unknown layer kind %r (one of %s)"
                             % (kind, ", ".join(sorted(LAYERS))))
        ins = [inputs] if isinstance(inputs, int) else [int(i) for i in inputs]
        if not 1 <= len(ins) <= MAX_LAYER_INPUTS:
            raise ValueError("add_layer: 1 to %d inputs, not %d"
                             % (MAX_LAYER_INPUTS, len(ins)))
        d = _LayerDesc(size=ctypes.sizeof(_LayerDesc), kind=LAYERS[kind],
                       channels=int(channels), groups=int(groups),
                       flags=int(flags), alpha=float(alpha))
        d.kernel_h, d.kernel_w = _pair(kernel, "kernel")
        d.stride_h, d.stride_w = _pair(stride, "stride")
        d.pad_h, d.pad_w = _pair(pad, "pad")
        arr = (ctypes.c_int * len(ins))(*ins)
        return self._layer("sc_net_add_layer", ctypes.byref(d), arr, len(ins))

    def layer_desc(self, layer):
        """Layer ``layer`` as a dict: its kind's name, its inputs and the
        descriptor fields (``sc_net_layer_desc``; channels after compress)."""
        d = _LayerDesc(size=ctypes.sizeof(_LayerDesc))
        ins = (ctypes.c_int * MAX_LAYER_INPUTS)()
        n = ctypes.c_int()
        self._call("sc_net_layer_desc", layer, ctypes.byref(d), ins,
                   ctypes.byref(n))
        out = _struct_dict(d)
        out["kind"] = {v: k for k, v in LAYERS.items()}[d.kind]
        out["inputs"] = list(ins[:n.value])
        return out

    def conv2d(self, x, out_channels, k, stride=1, pad=0, bias=True, kw=None,
               groups=1):
        """Convolution; ``k``, ``stride`` and ``pad`` may be (height,
        width) pairs; ``groups`` = input channels makes it depthwise."""
        kernel = (k, k if kw is None else kw) if isinstance(k, int) else k
        return self.add_layer("conv2d", x, channels=out_channels,
                              kernel=kernel, stride=stride, pad=pad,
                              groups=groups, flags=BIAS if bias else 0)

    def avgpool(self, x, k, stride=None, pad=0, count_pad=False):
        """Average pool; ``count_pad`` is PyTorch's count_include_pad."""
        return self.add_layer("avgpool", x, kernel=k,
                              stride=k if stride is None else stride, pad=pad,
                              flags=POOL_COUNT_PAD if count_pad else 0)

    def leaky_relu(self, x, alpha=0.01):
        return self.add_layer("leaky_relu", x, alpha=alpha)

    def relu6(self, x):
        return self.add_layer("relu6", x)

    def sigmoid(self, x):
        return self.add_layer("sigmoid", x)

    def tanh(self, x):
        return self.add_layer("tanh", x)

    def hardswish(self, x):
        return self.add_layer("hardswish", x)

    def dropout(self, x, p=0.5):
        """Zeroes each element with probability ``p`` in train steps
        (seeded: reproducible); the identity in forward()."""
        return self.add_layer("dropout", x, alpha=p)

    def concat(self, *layers):
        """The layers' channels one after another (2 to 16 layers)."""
        return self.add_layer("concat", layers)

    def batchnorm(self, x, affine=True, batch_stats=False):
        return self._layer("sc_net_batchnorm", x,
                           (2 if affine else 0) | (4 if batch_stats else 0))

    def relu(self, x):
        return self._layer("sc_net_relu", x)

    def maxpool(self, x, k, stride=None, pad=0):
        """Max pool; ``k``, ``stride`` and ``pad`` may be (height, width)."""
        return self.add_layer("maxpool", x, kernel=k,
                              stride=k if stride is None else stride, pad=pad)

    def global_avgpool(self, x):
        return self._layer("sc_net_global_avgpool", x)

    def global_maxpool(self, x):
        return self._layer("sc_net_global_maxpool", x)

    def flatten(self, x):
        return self._layer("sc_net_flatten", x)

    def add(self, a, b):
        return self._layer("sc_net_add", a, b)

    def init(self, seed=0):
        self._call("sc_net_init", seed)

    def quantize(self, layer=ALL_LAYERS):
        self._call("sc_net_quantize", layer)

    # settings
    def set_param(self, name, value):
        self._call("sc_net_set_param", PARAMS[name], float(value))

    def get_param(self, name):
        v = ctypes.c_double()
        self._call("sc_net_get_param", PARAMS[name], ctypes.byref(v))
        return v.value

    def set_threads(self, threads):
        self._call("sc_net_set_threads", threads)

    def set_training(self, training):
        self._call("sc_net_set_training", int(bool(training)))

    # queries
    @property
    def output_size(self):
        return self._lib.sc_net_output_size(self._h)

    @property
    def layer_count(self):
        return self._lib.sc_net_layer_count(self._h)

    def layer_shape(self, layer):
        c, h, w = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        self._call("sc_net_layer_shape", layer, ctypes.byref(c),
                   ctypes.byref(h), ctypes.byref(w))
        return c.value, h.value, w.value

    def get_params(self):
        """All trainable floats, in the library's order (a new array)."""
        out = np.empty(self._lib.sc_net_param_count(self._h), np.float32)
        self._call("sc_net_get_params", out.ctypes.data_as(ctypes.c_void_p),
                   out.size)
        return out

    def set_params(self, values):
        """Overwrites all trainable floats (copies if not float32)."""
        v = as_float32(values).ravel()
        self._call("sc_net_set_params", v.ctypes.data_as(ctypes.c_void_p),
                   v.size)

    def _slot(self, slot):
        if slot not in SLOTS:
            raise ValueError("unknown slot %r (one of %s)"
                             % (slot, ", ".join(sorted(SLOTS))))
        return SLOTS[slot]

    def get_layer_param(self, layer, slot):
        """Layer ``layer``'s ``slot`` (a name of :data:`SLOTS`) as a new
        float32 array in PyTorch's layout (conv weights [out, in / groups,
        kh, kw], dense [out, in features])."""
        s = self._slot(slot)
        shape = (ctypes.c_int64 * 4)()
        nd = ctypes.c_int()
        self._call("sc_net_layer_param_shape", layer, s, shape,
                   ctypes.byref(nd))
        a = np.empty(tuple(shape[:nd.value]), np.float32)
        self._call("sc_net_get_layer_param", layer, s,
                   a.ctypes.data_as(ctypes.c_void_p), a.size)
        return a

    def set_layer_param(self, layer, slot, values):
        """Overwrites layer ``layer``'s ``slot`` (copies if not float32);
        ``values`` must have the slot's number of elements (any shape, e.g.
        a PyTorch tensor's ``.numpy()``)."""
        s = self._slot(slot)
        v = as_float32(values).ravel()
        self._call("sc_net_set_layer_param", layer, s,
                   v.ctypes.data_as(ctypes.c_void_p), v.size)

    # training and inference
    def optimizer(self, kind="adam"):
        """Creates the net's optimizer ("sgd", "adam", "adamw")."""
        self._opt = Optimizer(self, kind)
        return self._opt

    def _wrap(self, x):
        return x if isinstance(x, Tensor) else Tensor(x, self._lib)

    def set_loss(self, kind, class_weights=None, label_smoothing=0.0):
        """The net's task loss: a name of :data:`LOSSES`. Class weights
        (one per output) and label smoothing go with "softmax_xent" only,
        as PyTorch's CrossEntropyLoss(weight=, label_smoothing=)."""
        if kind not in LOSSES:
            raise ValueError("set_loss: unknown loss %r (one of %s)"
                             % (kind, ", ".join(sorted(LOSSES))))
        d = _LossDesc(size=ctypes.sizeof(_LossDesc), kind=LOSSES[kind],
                      label_smoothing=float(label_smoothing))
        w = None
        if class_weights is not None:
            w = as_float32(class_weights).ravel()
            d.class_weights = w.ctypes.data_as(ctypes.c_void_p)
            d.n_class_weights = w.size
        self._call("sc_net_set_loss", ctypes.byref(d))  # the weights are copied

    @staticmethod
    def _stats(s):
        kind = {v: k for k, v in LOSSES.items()}.get(s.loss_kind, "?")
        return StepStats(s.loss, s.task_loss, s.size_loss, s.accuracy, kind)

    def train_step(self, opt, x, labels=None, targets=None):
        """One step on a batch x (N x c x h x w; read in place when
        C-contiguous float32, else copied) with labels (N ints; copied
        unless C-contiguous int32) for softmax cross-entropy, or float
        targets (N x outputs) for "mse" and "bce_logits". Returns
        StepStats."""
        if (labels is None) == (targets is None):
            raise ValueError("train_step: give labels or targets (one)")
        t = self._wrap(x)
        n = t.array.shape[0]
        b = _Batch(size=ctypes.sizeof(_Batch), x=t.handle.value)
        keep = []
        if labels is not None:
            y = _labels(labels, n)
            keep.append(y)
            b.labels = y.ctypes.data_as(ctypes.c_void_p)
        else:
            tt = self._wrap(as_float32(targets).reshape(n, -1))
            keep.append(tt)
            b.targets = tt.handle.value
        s = _StepStats(size=ctypes.sizeof(_StepStats))
        st = self._lib.sc_net_train_step_v2(self._h, opt._h, ctypes.byref(b),
                                            ctypes.byref(s))
        self._raise_callback_error()
        _check(self._lib, st, "sc_net_train_step_v2")
        return self._stats(s)

    def train_forward(self, x):
        """With set_loss("host"): the training forward of x; returns the
        logits, for the host to compute its loss and dL/dlogits."""
        t = self._wrap(x)
        out = Tensor(np.empty((t.array.shape[0], self.output_size),
                              np.float32), self._lib)
        self._call("sc_net_train_forward", t.handle, out.handle)
        return out.array

    def train_backward(self, opt, dlogits, loss):
        """The second half of a host-loss step: backward from dL/dlogits
        (the forward's N x outputs), the size loss added, the update.
        ``loss`` is the host's loss value, reported back. Returns
        StepStats."""
        g = self._wrap(as_float32(dlogits))
        s = _StepStats(size=ctypes.sizeof(_StepStats))
        st = self._lib.sc_net_train_backward(self._h, opt._h, g.handle,
                                             float(loss), ctypes.byref(s))
        self._raise_callback_error()
        _check(self._lib, st, "sc_net_train_backward")
        return self._stats(s)

    def forward(self, x):
        """Logits (N x outputs, a new array) of x in the net's current mode
        (x read in place when C-contiguous float32, else copied)."""
        t = self._wrap(x)
        out = Tensor(np.empty((t.array.shape[0], self.output_size),
                              np.float32), self._lib)
        self._call("sc_net_forward", t.handle, out.handle)
        return out.array

    # self-compression
    def size_report(self, layer=ALL_LAYERS):
        """sc_net_size_report as a dict (bits_pct, weights_pct, ...)."""
        r = _SizeReport(size=ctypes.sizeof(_SizeReport))
        self._call("sc_net_size_report", layer, ctypes.byref(r))
        return _struct_dict(r)

    def compress(self):
        """Removes dead channels; returns how many were removed."""
        n = ctypes.c_int()
        st = self._lib.sc_net_compress(self._h, ctypes.byref(n))
        self._raise_callback_error()
        _check(self._lib, st, "sc_net_compress")
        return n.value

    def save(self, path):
        """Writes the inference model; returns its sizes (a dict)."""
        info = _ModelInfo(size=ctypes.sizeof(_ModelInfo))
        self._call("sc_net_save", os.fsencode(path), ctypes.byref(info))
        return _struct_dict(info)

    # hooks
    def _raise_callback_error(self):
        e, self._cb_error = self._cb_error, None
        if e is not None:
            raise e

    def set_progress(self, fn, every=1):
        """fn(record: dict) after every `every`-th step and on report_epoch;
        None removes it. An exception in fn is raised by the call that
        fired it."""
        if fn is None:
            self._call("sc_net_set_progress", _PROGRESS_FN(), None, 0)
            return

        def cb(p, _user):
            try:
                fn(_struct_dict(p.contents))
            except Exception as e:  # noqa: BLE001 -- re-raised by the caller
                self._cb_error = self._cb_error or e
        c = _PROGRESS_FN(cb)
        self._callbacks.append(c)
        self._call("sc_net_set_progress", c, None, every)

    def report_epoch(self, epoch, test_accuracy=float("nan")):
        st = self._lib.sc_net_report_epoch(self._h, epoch, test_accuracy)
        self._raise_callback_error()
        _check(self._lib, st, "sc_net_report_epoch")

    def set_log(self, fn):
        """fn(level: str, message: str) for the net's messages; None
        removes it."""
        if fn is None:
            self._call("sc_net_set_log", _LOG_FN(), None)
            return

        def cb(level, msg, _user):
            try:
                fn(LOG_LEVELS.get(level, str(level)), msg.decode())
            except Exception as e:  # noqa: BLE001
                self._cb_error = self._cb_error or e
        c = _LOG_FN(cb)
        self._callbacks.append(c)
        self._call("sc_net_set_log", c, None)
        self._raise_callback_error()

    def close(self):
        if getattr(self, "_opt", None) is not None:
            self._opt.close()
        super().close()


class Model(_OwnedContext):
    """A loaded model file (sc_model), for inference."""

    _FREE = "sc_model_free"

    def __init__(self, handle, lib):
        self._h = handle
        self._lib = lib

    @classmethod
    def load(cls, path, lib=None):
        lib = load(lib) if lib else load()
        h = ctypes.c_void_p()
        _check(lib, lib.sc_model_load(ctypes.byref(h), os.fsencode(path)),
               "sc_model_load")
        return cls(h, lib)

    @property
    def output_size(self):
        return self._lib.sc_model_output_size(self._h)

    @property
    def input_shape(self):
        c, h, w = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        _check(self._lib, self._lib.sc_model_input_shape(
            self._h, ctypes.byref(c), ctypes.byref(h), ctypes.byref(w)),
            "sc_model_input_shape")
        return c.value, h.value, w.value

    def info(self):
        i = _ModelInfo(size=ctypes.sizeof(_ModelInfo))
        _check(self._lib, self._lib.sc_model_get_info(self._h,
                                                      ctypes.byref(i)),
               "sc_model_get_info")
        return _struct_dict(i)

    def forward(self, x):
        """Logits (N x outputs, a new array); x read in place when
        C-contiguous float32, else copied."""
        t = x if isinstance(x, Tensor) else Tensor(x, self._lib)
        out = Tensor(np.empty((t.array.shape[0], self.output_size),
                              np.float32), self._lib)
        _check(self._lib, self._lib.sc_model_forward(self._h, t.handle,
                                                     out.handle),
               "sc_model_forward")
        return out.array

