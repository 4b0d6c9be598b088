"""Networks (sc_net): build, initialise, quantise, train, compress, save."""

from __future__ import annotations

import ctypes
import math
from typing import (TYPE_CHECKING, Any, Callable, List, Optional, Sequence,
                    Tuple, Union)

import numpy as np

from . import _check as C
from . import _structs as S
from ._handle import Handle
from ._lib import check, lib
from .enums import (ALL_LAYERS, MAX_LAYER_INPUTS, LayerFlag, LayerKind,
                    LogLevel, Loss, OptimizerKind, Param, ReduceWhat, Slot,
                    to_enum)
from .onnx_export import OnnxExport
from .optimizer import Optimizer
from .records import (LayerDesc, LoadLimits, LossSetting, ModelInfo, Progress,
                      SizeReport, StepStats, limits_ptr)
from .tensor import Tensor

if TYPE_CHECKING:
    from .fit import Callback, History

#: an int or a (height, width) pair
Size2 = Union[int, Tuple[int, int]]


class Net(OnnxExport, Handle):
    """A network: a graph of layers, its parameters and buffers (sc_net).

    Build it layer by layer (each builder returns the new layer's id; the
    last layer added is the output), then ``init()``, ``quantize()`` and
    train with ``train_step()`` or ``fit()``. A net is a context manager;
    ``close()`` frees it (and its optimizer) at once, else the garbage
    collector does. One net must not be used from two threads at once.
    """

    _FREE = "sc_net_free"
    _EXPORT = "net"

    def __init__(self, c: int, h: int, w: int) -> None:
        """A new, empty net whose input samples are c x h x w."""
        self._hooks: List[Any] = []
        self._cb_error: Optional[BaseException] = None
        self._opt: Optional[Optimizer] = None
        self._training = True
        #: set True (e.g. by a callback) to end fit() after this batch
        self.stop_training = False
        hd = ctypes.c_void_p()
        check(lib().sc_net_create(ctypes.byref(hd),
                                  C.as_int(c, "c", 1), C.as_int(h, "h", 1),
                                  C.as_int(w, "w", 1)), "sc_net_create")
        self._own(hd)

    @classmethod
    def _adopt(cls, handle: ctypes.c_void_p) -> "Net":
        n = cls.__new__(cls)
        n._own(handle)
        n._hooks = []
        n._cb_error = None
        n._opt = None
        n._training = True
        n.stop_training = False
        return n

    @classmethod
    def import_onnx(cls, path: Any,
                    limits: Optional[LoadLimits] = None) -> "Net":
        """A new, initialised net from the ONNX model at ``path``
        (sc_net_import_onnx; docs/onnx.md), in training mode."""
        h = ctypes.c_void_p()
        check(lib().sc_net_import_onnx(ctypes.byref(h), C.path_bytes(path),
                                       limits_ptr(limits)),
              "sc_net_import_onnx")
        return cls._adopt(h)

    @classmethod
    def import_onnx_bytes(cls, data: Union[bytes, bytearray, memoryview],
                          limits: Optional[LoadLimits] = None) -> "Net":
        """The same from an ONNX file's bytes (not kept)."""
        b = C.buffer_bytes(data)
        h = ctypes.c_void_p()
        check(lib().sc_net_import_onnx_memory(ctypes.byref(h), b, len(b),
                                              limits_ptr(limits)),
              "sc_net_import_onnx_memory")
        return cls._adopt(h)

    # ---- life ------------------------------------------------------------

    def close(self) -> None:
        """Frees the net and its optimizer. Idempotent."""
        opt = getattr(self, "_opt", None)
        if opt is not None:
            opt.close()
        super().close()

    def _attach(self, opt: Optimizer) -> None:
        self._opt = opt

    def _detach(self, opt: Optimizer) -> None:
        if self._opt is opt:
            self._opt = None

    def _call(self, name: str, *args: Any) -> None:
        st = getattr(lib(), name)(self.handle, *args)
        self._raise_hook_error()
        check(st, name)

    def _layer(self, name: str, *args: Any) -> int:
        i = ctypes.c_int()
        self._call(name, *args, ctypes.byref(i))
        return int(i.value)

    # ---- building --------------------------------------------------------

    def dense(self, x: int, out_features: int, bias: bool = True) -> int:
        """Fully connected layer fed by layer x (flattens a c x h x w
        input); returns its id."""
        return self._layer("sc_net_dense", C.as_int(x, "x"),
                           C.as_int(out_features, "out_features"),
                           int(LayerFlag.BIAS if _bool(bias, "bias") else 0))

    def conv2d(self, x: int, out_channels: int, kernel: Size2,
               stride: Size2 = 1, pad: Size2 = 0, bias: bool = True,
               groups: int = 1) -> int:
        """2-D convolution (cross-correlation); kernel, stride and pad an
        int or (height, width); groups = input channels makes it
        depthwise."""
        return self.add_layer(LayerKind.CONV2D, x, channels=out_channels,
                              kernel=kernel, stride=stride, pad=pad,
                              groups=groups,
                              flags=LayerFlag.BIAS if _bool(bias, "bias")
                              else 0)

    def batchnorm(self, x: int, affine: bool = True,
                  batch_stats: bool = False) -> int:
        """Batch norm over channels (learned scale and shift when affine;
        batch statistics in eval too when batch_stats)."""
        flags = (LayerFlag.BN_AFFINE if _bool(affine, "affine") else 0) | \
            (LayerFlag.BN_BATCH_STATS if _bool(batch_stats, "batch_stats")
             else 0)
        return self._layer("sc_net_batchnorm", C.as_int(x, "x"), int(flags))

    def relu(self, x: int) -> int:
        """y = max(x, 0)."""
        return self._layer("sc_net_relu", C.as_int(x, "x"))

    def maxpool(self, x: int, kernel: Size2, stride: Optional[Size2] = None,
                pad: Size2 = 0) -> int:
        """Max pool (stride defaults to the kernel, as PyTorch's)."""
        return self.add_layer(LayerKind.MAXPOOL, x, kernel=kernel,
                              stride=kernel if stride is None else stride,
                              pad=pad)

    def avgpool(self, x: int, kernel: Size2, stride: Optional[Size2] = None,
                pad: Size2 = 0, count_pad: bool = False) -> int:
        """Average pool; count_pad is PyTorch's count_include_pad."""
        return self.add_layer(LayerKind.AVGPOOL, x, kernel=kernel,
                              stride=kernel if stride is None else stride,
                              pad=pad,
                              flags=LayerFlag.POOL_COUNT_PAD
                              if _bool(count_pad, "count_pad") else 0)

    def global_avgpool(self, x: int) -> int:
        """y[c] = mean over h, w of x[c]."""
        return self._layer("sc_net_global_avgpool", C.as_int(x, "x"))

    def global_maxpool(self, x: int) -> int:
        """y[c] = max over h, w of x[c]."""
        return self._layer("sc_net_global_maxpool", C.as_int(x, "x"))

    def flatten(self, x: int) -> int:
        """c x h x w -> (c*h*w), no data movement."""
        return self._layer("sc_net_flatten", C.as_int(x, "x"))

    def add(self, a: int, b: int) -> int:
        """Element-wise sum of two layers of the same shape."""
        return self._layer("sc_net_add", C.as_int(a, "a"), C.as_int(b, "b"))

    def concat(self, *layers: int) -> int:
        """The layers' channels one after another (2 to 16 layers)."""
        return self.add_layer(LayerKind.CONCAT, list(layers))

    def leaky_relu(self, x: int, alpha: float = 0.01) -> int:
        """y = x > 0 ? x : alpha x, alpha in [0, 1)."""
        return self.add_layer(LayerKind.LEAKY_RELU, x, alpha=alpha)

    def relu6(self, x: int) -> int:
        """y = min(max(x, 0), 6)."""
        return self.add_layer(LayerKind.RELU6, x)

    def sigmoid(self, x: int) -> int:
        """y = 1 / (1 + exp(-x))."""
        return self.add_layer(LayerKind.SIGMOID, x)

    def tanh(self, x: int) -> int:
        """y = tanh(x)."""
        return self.add_layer(LayerKind.TANH, x)

    def hardswish(self, x: int) -> int:
        """y = x min(max(x + 3, 0), 6) / 6."""
        return self.add_layer(LayerKind.HARDSWISH, x)

    def dropout(self, x: int, p: float = 0.5) -> int:
        """Zeroes each element with probability p in train steps (seeded,
        reproducible); the identity everywhere else."""
        return self.add_layer(LayerKind.DROPOUT, x, alpha=p)

    def add_layer(self, kind: Union[LayerKind, str],
                  inputs: Union[int, Sequence[int]], channels: int = 0,
                  kernel: Size2 = 0, stride: Size2 = 0, pad: Size2 = 0,
                  groups: int = 0, flags: int = 0,
                  alpha: float = 0.0) -> int:
        """Appends a layer of ``kind`` reading the layer ids ``inputs``
        (sc_net_add_layer, the one builder; the header's table says which
        fields each kind takes, the others stay 0). Returns its id."""
        k = to_enum(LayerKind, kind, "add_layer: kind")
        if isinstance(inputs, (int, np.integer)) and \
                not isinstance(inputs, bool):
            ins = [C.as_int(inputs, "inputs")]
        elif isinstance(inputs, (list, tuple)):
            ins = [C.as_int(i, "inputs") for i in inputs]
        else:
            raise TypeError("add_layer: inputs is a layer id or a sequence "
                            "of them, not %s" % type(inputs).__name__)
        if not 1 <= len(ins) <= MAX_LAYER_INPUTS:
            raise ValueError("add_layer: 1 to %d inputs, not %d"
                             % (MAX_LAYER_INPUTS, len(ins)))
        d = S.sized(S.LayerDescC)
        d.kind = int(k)
        d.channels = C.as_int(channels, "channels", 0)
        d.kernel_h, d.kernel_w = C.pair(kernel, "kernel")
        d.stride_h, d.stride_w = C.pair(stride, "stride")
        d.pad_h, d.pad_w = C.pair(pad, "pad")
        d.groups = C.as_int(groups, "groups", 0)
        d.flags = C.as_int(int(flags), "flags", 0)
        d.alpha = C.as_finite(alpha, "alpha")
        arr = (ctypes.c_int * len(ins))(*ins)
        return self._layer("sc_net_add_layer", ctypes.byref(d), arr, len(ins))

    def layer_desc(self, layer: int) -> LayerDesc:
        """Layer ``layer`` as a descriptor, with its inputs (the current
        channels: fewer after compress)."""
        d = S.sized(S.LayerDescC)
        ins = (ctypes.c_int * MAX_LAYER_INPUTS)()
        n = ctypes.c_int()
        self._call("sc_net_layer_desc", C.as_int(layer, "layer"),
                   ctypes.byref(d), ins, ctypes.byref(n))
        return LayerDesc(LayerKind(d.kind), tuple(ins[:n.value]), d.channels,
                         (d.kernel_h, d.kernel_w), (d.stride_h, d.stride_w),
                         (d.pad_h, d.pad_w), d.groups, d.flags,
                         float(d.alpha))

    def init(self, seed: int = 0) -> None:
        """Allocates the parameters, initialised from seed (He normal
        weights, zero biases, unit/zero batch-norm scale/shift)."""
        self._call("sc_net_init", C.as_int(seed, "seed", 0, 2 ** 64 - 1))

    # ---- queries ---------------------------------------------------------

    @property
    def layer_count(self) -> int:
        """Number of layers, the input included (ids 0 .. count-1)."""
        return int(lib().sc_net_layer_count(self.handle))

    def layer_kind(self, layer: int) -> LayerKind:
        """The kind of layer ``layer``."""
        k = int(lib().sc_net_layer_kind(self.handle, C.as_int(layer, "layer")))
        if k < 0:
            raise ValueError("layer_kind: no layer %d (0 .. %d)"
                             % (layer, self.layer_count - 1))
        return LayerKind(k)

    def layer_shape(self, layer: int) -> Tuple[int, int, int]:
        """The current output shape (c, h, w) of layer ``layer`` per
        sample."""
        c, h, w = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        self._call("sc_net_layer_shape", C.as_int(layer, "layer"),
                   ctypes.byref(c), ctypes.byref(h), ctypes.byref(w))
        return int(c.value), int(h.value), int(w.value)

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        """The input's shape per sample (c, h, w)."""
        return self.layer_shape(0)

    @property
    def output_size(self) -> int:
        """Outputs per sample (the classes, for a classifier)."""
        return int(lib().sc_net_output_size(self.handle))

    @property
    def param_count(self) -> int:
        """Number of trainable floats."""
        return int(lib().sc_net_param_count(self.handle))

    def get_params(self, out: Optional[C.FloatArray] = None) -> C.FloatArray:
        """All trainable floats in the library's order, into ``out`` (a
        writable float32 array of param_count; a new one when None)."""
        n = self.param_count
        if out is None:
            out = np.empty(n, np.float32)
        C.float_array(out, "get_params: out", writable=True)
        self._call("sc_net_get_params", C.ptr(out), out.size)
        return out

    def set_params(self, values: C.FloatArray) -> None:
        """Overwrites all trainable floats (a float32 array of
        param_count, all finite)."""
        C.float_array(values, "set_params: values")
        self._call("sc_net_set_params", C.ptr(values), values.size)

    def layer_param_shape(self, layer: int,
                          slot: Union[Slot, str]) -> Tuple[int, ...]:
        """The shape of layer ``layer``'s ``slot`` (PyTorch's layouts:
        dense [out, in], conv [out, in / groups, kh, kw])."""
        s = to_enum(Slot, slot, "layer_param_shape: slot")
        shape = (ctypes.c_int64 * 4)()
        nd = ctypes.c_int()
        self._call("sc_net_layer_param_shape", C.as_int(layer, "layer"),
                   int(s), shape, ctypes.byref(nd))
        return tuple(int(d) for d in shape[:nd.value])

    def get_layer_param(self, layer: int, slot: Union[Slot, str],
                        out: Optional[C.FloatArray] = None) -> C.FloatArray:
        """Layer ``layer``'s ``slot`` in PyTorch's layout, into ``out``
        (a writable float32 array of the slot's shape; a new one when
        None). A quantised layer's weights are its float weights."""
        s = to_enum(Slot, slot, "get_layer_param: slot")
        shape = self.layer_param_shape(layer, s)
        if out is None:
            out = np.empty(shape, np.float32)
        C.float_array(out, "get_layer_param: out", shape, writable=True)
        self._call("sc_net_get_layer_param", layer, int(s), C.ptr(out),
                   out.size)
        return out

    def set_layer_param(self, layer: int, slot: Union[Slot, str],
                        values: C.FloatArray) -> None:
        """Overwrites layer ``layer``'s ``slot`` from a float32 array of
        the slot's shape (e.g. a PyTorch tensor's ``.numpy()``)."""
        s = to_enum(Slot, slot, "set_layer_param: slot")
        shape = self.layer_param_shape(layer, s)
        C.float_array(values, "set_layer_param: values", shape)
        self._call("sc_net_set_layer_param", layer, int(s), C.ptr(values),
                   values.size)

    # ---- settings --------------------------------------------------------

    def set_param(self, param: Union[Param, str], value: float) -> None:
        """Sets numeric setting ``param`` (the header gives each one's
        default and range; InvalidArgumentError outside it)."""
        p = to_enum(Param, param, "set_param: param")
        self._call("sc_net_set_param", int(p), C.as_float(value, "value"))

    def get_param(self, param: Union[Param, str]) -> float:
        """Reads numeric setting ``param``."""
        p = to_enum(Param, param, "get_param: param")
        v = ctypes.c_double()
        self._call("sc_net_get_param", int(p), ctypes.byref(v))
        return float(v.value)

    def set_budget(self, bits_pct: float, weights_pct: float,
                   every: Optional[int] = None) -> None:
        """The size budget (Param.BUDGET_*): once the net is within
        bits_pct % of the float weights' bits and weights_pct % of its
        weights (0: not a condition), checked every ``every`` steps, the
        library compresses the net and freezes its bit depths."""
        for name, v in (("bits_pct", bits_pct), ("weights_pct", weights_pct)):
            f = C.as_float(v, name)
            if not 0.0 <= f <= 100.0:
                raise ValueError("set_budget: %s %r is outside [0, 100]"
                                 % (name, f))
        if every is not None:
            self.set_param(Param.BUDGET_EVERY,
                           C.as_int(every, "every", 1))
        self.set_param(Param.BUDGET_BITS_PCT, bits_pct)
        self.set_param(Param.BUDGET_WEIGHTS_PCT, weights_pct)

    @property
    def budget_reached(self) -> bool:
        """True once the bit depths are frozen (the budget's doing, or the
        host's: Param.QUANT_BITS_FROZEN)."""
        return self.get_param(Param.QUANT_BITS_FROZEN) != 0.0

    def set_threads(self, threads: int) -> None:
        """Threads this net uses (>= 1)."""
        self._call("sc_net_set_threads", C.as_int(threads, "threads", 1))

    def set_training(self, training: bool) -> None:
        """Training mode (batch statistics; the default) or eval."""
        self._call("sc_net_set_training", int(_bool(training, "training")))
        self._training = bool(training)

    @property
    def training(self) -> bool:
        """True in training mode (as set through this object)."""
        return self._training

    def set_loss(self, kind: Union[Loss, str],
                 class_weights: Optional[C.FloatArray] = None,
                 label_smoothing: float = 0.0) -> None:
        """The net's task loss. Class weights (float32, one per output)
        and label smoothing in [0, 1) go with SOFTMAX_XENT only, as
        PyTorch's CrossEntropyLoss(weight=, label_smoothing=)."""
        k = to_enum(Loss, kind, "set_loss: kind")
        d = S.sized(S.LossDescC)
        d.kind = int(k)
        d.label_smoothing = C.as_finite(label_smoothing, "label_smoothing")
        if class_weights is not None:
            C.float_array(class_weights, "set_loss: class_weights")
            d.class_weights = C.float_ptr(class_weights)
            d.n_class_weights = class_weights.size
        self._call("sc_net_set_loss", ctypes.byref(d))  # weights are copied

    def get_loss(self) -> LossSetting:
        """The net's loss setting (class weights copied out)."""
        d = S.sized(S.LossDescC)
        self._call("sc_net_get_loss", ctypes.byref(d))
        w = None
        if d.class_weights and d.n_class_weights > 0:
            w = np.ctypeslib.as_array(d.class_weights,
                                      (d.n_class_weights,)).copy()
        return LossSetting(Loss(d.kind), w, float(d.label_smoothing))

    # ---- training and inference -----------------------------------------

    def optimizer(self, kind: Union[OptimizerKind, str] = OptimizerKind.ADAM
                  ) -> Optimizer:
        """Creates the net's optimizer (StateError when it has one)."""
        return Optimizer(self, kind)

    @property
    def attached_optimizer(self) -> Optional[Optimizer]:
        """The optimizer attached to this net, or None."""
        return self._opt

    def _batch(self, x: C.FloatArray, labels: Optional[C.IntArray],
               targets: Optional[C.FloatArray], what: str
               ) -> Tuple[S.BatchC, List[Any]]:
        if (labels is None) == (targets is None):
            raise ValueError("%s: give labels or targets (one of them)" % what)
        t = Tensor(C.batch_array(x, what + ": x"))
        b = S.sized(S.BatchC)
        b.distill_temperature, b.distill_weight = 4.0, 1.0  # SC_BATCH_INIT
        b.x = t.handle.value
        keep: List[Any] = [t]
        if labels is not None:
            y = C.labels(labels, x.shape[0])
            keep.append(y)
            b.labels = y.ctypes.data
        else:
            tt = Tensor(C.float_array(targets, what + ": targets"))
            keep.append(tt)
            b.targets = tt.handle.value
        return b, keep

    def train_step(self, opt: Optimizer, x: C.FloatArray,
                   labels: Optional[C.IntArray] = None,
                   targets: Optional[C.FloatArray] = None,
                   teacher: Optional[C.FloatArray] = None,
                   distill_temperature: float = 4.0,
                   distill_weight: float = 1.0) -> StepStats:
        """One step on batch x (N x c x h x w float32, read in place) with
        labels (N integers) for SOFTMAX_XENT or float32 targets (N x
        outputs) for MSE and BCE_LOGITS. teacher: a teacher's logits for x
        (N x outputs float32, e.g. a float Model's forward of x) to distil
        from, adding distill_weight * T^2 * KL(softmax(teacher / T) ||
        softmax(logits / T)) to the loss (T = distill_temperature). On any
        error nothing changes."""
        if not isinstance(opt, Optimizer):
            raise TypeError("train_step: opt is an Optimizer, not %s"
                            % type(opt).__name__)
        s = S.sized(S.StepStatsC)
        if teacher is not None:
            b, keep = self._batch(x, labels, targets, "train_step")
            tt = Tensor(C.float_array(teacher, "train_step: teacher",
                                      (x.shape[0], self.output_size)))
            keep.append(tt)
            b.teacher = tt.handle.value
            b.distill_temperature = C.as_float(
                distill_temperature, "train_step: distill_temperature")
            b.distill_weight = C.as_float(
                distill_weight, "train_step: distill_weight")
            self._call("sc_net_train_step_v2", opt.handle, ctypes.byref(b),
                       ctypes.byref(s))
            del keep
        elif targets is None and labels is not None:
            t = Tensor(C.batch_array(x, "train_step: x"))
            y = C.labels(labels, x.shape[0])
            self._call("sc_net_train_step", opt.handle, t.handle,
                       y.ctypes.data, ctypes.byref(s))
        else:
            b, keep = self._batch(x, labels, targets, "train_step")
            self._call("sc_net_train_step_v2", opt.handle, ctypes.byref(b),
                       ctypes.byref(s))
            del keep
        return StepStats._from(s)

    def eval_loss(self, x: C.FloatArray, labels: Optional[C.IntArray] = None,
                  targets: Optional[C.FloatArray] = None
                  ) -> Tuple[float, float]:
        """(task loss, accuracy) on a batch in the net's current mode,
        without the size loss, gradient or update."""
        b, keep = self._batch(x, labels, targets, "eval_loss")
        loss, acc = ctypes.c_double(), ctypes.c_double()
        self._call("sc_net_eval_loss", ctypes.byref(b), ctypes.byref(loss),
                   ctypes.byref(acc))
        del keep
        return float(loss.value), float(acc.value)

    def _out(self, n: int, out: Optional[C.FloatArray],
             what: str) -> C.FloatArray:
        shape = (n, self.output_size)
        if out is None:
            return np.empty(shape, np.float32)
        return C.float_array(out, what + ": out", shape, writable=True)

    def forward(self, x: C.FloatArray,
                out: Optional[C.FloatArray] = None) -> C.FloatArray:
        """Logits (N x outputs) of batch x in the net's current mode,
        written into ``out`` when given (float32, N x outputs)."""
        t = Tensor(C.batch_array(x, "forward: x"))
        o = self._out(x.shape[0], out, "forward")
        to = Tensor(o)
        self._call("sc_net_forward", t.handle, to.handle)
        return o

    def train_forward(self, x: C.FloatArray,
                      out: Optional[C.FloatArray] = None) -> C.FloatArray:
        """With Loss.HOST: the training forward of x; returns the logits
        for the host's loss and dL/dlogits."""
        t = Tensor(C.batch_array(x, "train_forward: x"))
        o = self._out(x.shape[0], out, "train_forward")
        to = Tensor(o)
        self._call("sc_net_train_forward", t.handle, to.handle)
        return o

    def train_backward(self, opt: Optimizer, dlogits: C.FloatArray,
                       host_loss: float) -> StepStats:
        """The second half of a host-loss step: backward from dL/dlogits
        (float32, the forward's N x outputs), the size loss added, the
        update; host_loss is reported back as the task loss."""
        if not isinstance(opt, Optimizer):
            raise TypeError("train_backward: opt is an Optimizer")
        g = Tensor(C.float_array(dlogits, "train_backward: dlogits"))
        s = S.sized(S.StepStatsC)
        self._call("sc_net_train_backward", opt.handle, g.handle,
                   C.as_float(host_loss, "host_loss"), ctypes.byref(s))
        return StepStats._from(s)

    def update_bn_stats(self, x: C.FloatArray) -> None:
        """Folds batch x's statistics into the batch norms' running ones
        (no gradient, no update)."""
        t = Tensor(C.batch_array(x, "update_bn_stats: x"))
        self._call("sc_net_update_bn_stats", t.handle)

    # ---- self-compression -----------------------------------------------

    def quantize(self, layer: int = ALL_LAYERS) -> None:
        """Quantises layer ``layer`` (dense or conv) or every one, with
        learned per-channel bit depths and exponents."""
        self._call("sc_net_quantize", C.as_int(layer, "layer"))

    def is_quantized(self, layer: int) -> bool:
        """True when layer ``layer`` is quantised."""
        return bool(lib().sc_net_is_quantized(self.handle,
                                              C.as_int(layer, "layer")))

    def _channels(self, layer: int) -> int:
        return self.layer_shape(layer)[0]

    def get_quant(self, layer: int) -> Tuple[C.FloatArray, C.FloatArray]:
        """Layer ``layer``'s bit depths b and exponents e (one per output
        channel), as new float32 arrays."""
        n = self._channels(C.as_int(layer, "layer"))
        b = np.empty(n, np.float32)
        e = np.empty(n, np.float32)
        self._call("sc_net_get_quant", layer, C.float_ptr(b), C.float_ptr(e),
                   n)
        return b, e

    def set_quant(self, layer: int, b: Optional[C.FloatArray] = None,
                  e: Optional[C.FloatArray] = None) -> None:
        """Sets layer ``layer``'s bit depths and/or exponents (float32, one
        per channel; None leaves it as it is)."""
        n = self._channels(C.as_int(layer, "layer"))
        if b is not None:
            C.float_array(b, "set_quant: b", (n,))
        if e is not None:
            C.float_array(e, "set_quant: e", (n,))
        self._call("sc_net_set_quant", layer, C.float_ptr(b), C.float_ptr(e),
                   n)

    def size_report(self, layer: int = ALL_LAYERS) -> SizeReport:
        """Size figures of a dense/conv layer or the whole net."""
        r = S.sized(S.SizeReportC)
        self._call("sc_net_size_report", C.as_int(layer, "layer"),
                   ctypes.byref(r))
        return SizeReport._from(r)

    def compress(self) -> int:
        """Removes every dead channel (b <= 0); returns how many dense/conv
        output channels were removed."""
        n = ctypes.c_int()
        self._call("sc_net_compress", ctypes.byref(n))
        return int(n.value)

    # ---- int8 inference and files ---------------------------------------

    def calibrate(self, x: C.FloatArray) -> None:
        """Measures every layer's output range on batch x (N x c x h x w
        float32, read in place) in eval mode, for int8 inference
        (sc_net_calibrate; docs/int8.md): the ranges widen over calls (a
        few batches of training data are enough), save() stores them, and
        a Model loaded from that file runs in int8. Calibrate last: a train
        step, a compress() that removes channels, quantize() or any change
        of the parameters discards the ranges. The net's mode is kept; on
        an error nothing changes."""
        t = Tensor(C.batch_array(x, "calibrate: x"))
        self._call("sc_net_calibrate", t.handle)

    @property
    def calibrated_images(self) -> int:
        """The images the net's activation ranges were measured on (0:
        none, and save() writes a model that runs fp32 only)."""
        n = ctypes.c_int64()
        self._call("sc_net_calibrated", ctypes.byref(n))
        return int(n.value)

    def save(self, path: Any,
             calibration_data: Optional[C.FloatArray] = None,
             batch_size: int = 256) -> ModelInfo:
        """Writes the inference model file (atomically); returns its
        sizes. calibration_data: images (float32 N x c x h x w, e.g. the
        first 1,024 of the training set) that calibrate() measures,
        batch_size at a time, before the file is written, so that the
        model loaded from it runs in int8 (the info's calibrated_images
        counts them, with any calibrated before). The arguments are checked
        before the first batch; a batch that fails raises its error, no
        file is written, and the batches before it stay measured."""
        p = C.path_bytes(path)
        if calibration_data is not None:
            x = C.batch_array(calibration_data, "save: calibration_data")
            bs = C.as_int(batch_size, "save: batch_size", 1)
            for lo in range(0, x.shape[0], bs):
                self.calibrate(x[lo:lo + bs])
        info = S.sized(S.ModelInfoC)
        self._call("sc_net_save", p, ctypes.byref(info))
        return ModelInfo._from(info)

    # ---- hooks -----------------------------------------------------------

    def _raise_hook_error(self) -> None:
        e, self._cb_error = self._cb_error, None
        if e is not None:
            raise e

    def set_progress(self, fn: Optional[Callable[[Progress], None]],
                     every: int = 1) -> None:
        """Calls fn(record) after every ``every``-th train step, on
        report_epoch() and when the budget is reached; None removes it. An
        exception fn raises is raised by the call that fired it."""
        if fn is None:
            self._call("sc_net_set_progress", S.PROGRESS_FN(0), None, 0)
            return
        if not callable(fn):
            raise TypeError("set_progress: fn is callable or None")
        n = C.as_int(every, "every", 1)
        f = fn

        def cb(p: Any, _user: Any) -> None:
            try:
                f(Progress._from(p.contents))
            except BaseException as e:  # re-raised by the call that fired
                self._cb_error = self._cb_error or e
        c = S.PROGRESS_FN(cb)
        self._call("sc_net_set_progress", c, None, n)
        self._hooks = [h for h in self._hooks
                       if not isinstance(h, S.PROGRESS_FN)] + [c]

    def set_reduce(self, fn: Optional[Callable[
            [ReduceWhat, C.FloatArray, Optional[C.DoubleArray]], None]]
                   ) -> None:
        """Data-parallel training through the host (sc_net_set_reduce;
        docs/distributed.md): once per train step, after backward and before
        the update, fn(ReduceWhat.GRADS, grads, figures) gets the whole
        flat gradient buffer and the step's figures (ReduceFig indices) as
        writable arrays over the library's memory, to average over the
        ranks in place (e.g. with mpi4py's Allreduce); after the update
        fn(ReduceWhat.STATE, stats, None) the running statistics. An
        exception in fn fails the step (nothing updated for GRADS) and is
        raised by the train step. None removes the hook."""
        if fn is None:
            self._call("sc_net_set_reduce", S.REDUCE_FN(0), None)
            self._hooks = [h for h in self._hooks
                           if not isinstance(h, S.REDUCE_FN)]
            return
        if not callable(fn):
            raise TypeError("set_reduce: fn is callable or None")
        f = fn

        def cb(what: int, data: Any, n: int, figures: Any, n_fig: int,
               _user: Any) -> int:
            try:
                arr = np.ctypeslib.as_array(data, shape=(n,)) if n else \
                    np.empty(0, np.float32)
                figs = (np.ctypeslib.as_array(figures, shape=(n_fig,))
                        if n_fig else None)
                f(ReduceWhat(what), arr, figs)
                return 0
            except BaseException as e:  # re-raised by the train step
                self._cb_error = self._cb_error or e
                return 1
        c = S.REDUCE_FN(cb)
        self._call("sc_net_set_reduce", c, None)
        self._hooks = [h for h in self._hooks
                       if not isinstance(h, S.REDUCE_FN)] + [c]

    def report_epoch(self, epoch: int,
                     test_accuracy: float = math.nan) -> None:
        """Fires an EPOCH progress record for the host's epoch."""
        self._call("sc_net_report_epoch", C.as_int(epoch, "epoch", 0),
                   C.as_float(test_accuracy, "test_accuracy"))

    def set_log(self, fn: Optional[Callable[[LogLevel, str], None]]) -> None:
        """Calls fn(level, message) for the net's messages (what compress
        removed, the budget reached, warnings); None removes it."""
        if fn is None:
            self._call("sc_net_set_log", S.LOG_FN(0), None)
            return
        if not callable(fn):
            raise TypeError("set_log: fn is callable or None")
        f = fn

        def cb(level: int, msg: bytes, _user: Any) -> None:
            try:
                f(LogLevel(level), msg.decode(errors="replace"))
            except BaseException as e:
                self._cb_error = self._cb_error or e
        c = S.LOG_FN(cb)
        self._call("sc_net_set_log", c, None)
        self._hooks = [h for h in self._hooks
                       if not isinstance(h, S.LOG_FN)] + [c]

    # ---- Keras-like ------------------------------------------------------

    def fit(self, x: C.FloatArray, y: Any, epochs: int = 1,
            batch_size: int = 32,
            validation_data: Optional[Tuple[C.FloatArray, Any]] = None,
            callbacks: Sequence["Callback"] = (),
            budget: Optional[Tuple[float, float]] = None,
            verbose: int = 1, shuffle: bool = True, seed: int = 0,
            optimizer: Union[Optimizer, OptimizerKind, str, None] = None
            ) -> "History":
        """Trains on (x, y): see :func:`selfcompress.fit.fit`."""
        from .fit import fit
        return fit(self, x, y, epochs=epochs, batch_size=batch_size,
                   validation_data=validation_data, callbacks=callbacks,
                   budget=budget, verbose=verbose, shuffle=shuffle,
                   seed=seed, optimizer=optimizer)

    def evaluate(self, x: C.FloatArray, y: Any,
                 batch_size: int = 256) -> Tuple[float, float]:
        """(loss, accuracy) in eval mode: see
        :func:`selfcompress.fit.evaluate`."""
        from .fit import evaluate
        return evaluate(self, x, y, batch_size=batch_size)

    def predict(self, x: C.FloatArray, batch_size: int = 256,
                out: Optional[C.FloatArray] = None) -> C.FloatArray:
        """Logits in eval mode: see :func:`selfcompress.fit.predict`."""
        from .fit import predict
        return predict(self, x, batch_size=batch_size, out=out)


def _bool(v: object, name: str) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError("%s: a bool, not %s" % (name, type(v).__name__))
    return bool(v)


