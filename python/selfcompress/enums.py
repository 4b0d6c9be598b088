"""The header's enums as IntEnums, and the conversion every wrapper uses.

Wherever a function takes one of these, it accepts the member
(``Param.GAMMA``) or its name in any case (``"gamma"``); anything else is a
``TypeError``, an unknown name or value a ``ValueError``.
"""

from __future__ import annotations

import enum
from typing import Type, TypeVar, Union

#: the network input, usable wherever a layer id is taken (SC_INPUT)
INPUT = 0
#: every dense/conv layer, for quantize() and size reports (SC_ALL_LAYERS)
ALL_LAYERS = -1
#: the most inputs a layer takes (SC_MAX_LAYER_INPUTS)
MAX_LAYER_INPUTS = 16


class LayerKind(enum.IntEnum):
    """sc_layer_kind: what a layer is."""

    INPUT = 0
    DENSE = 1
    CONV2D = 2
    BATCHNORM = 3
    RELU = 4
    MAXPOOL = 5
    GAVGPOOL = 6
    GMAXPOOL = 7
    FLATTEN = 8
    ADD = 9
    AVGPOOL = 10
    LEAKY_RELU = 11
    RELU6 = 12
    SIGMOID = 13
    TANH = 14
    HARDSWISH = 15
    CONCAT = 16
    DROPOUT = 17


class LayerFlag(enum.IntFlag):
    """sc_layer_flags (bitwise or)."""

    NO_BIAS = 0
    BIAS = 1
    BN_AFFINE = 2
    BN_BATCH_STATS = 4
    POOL_COUNT_PAD = 8


class Slot(enum.IntEnum):
    """sc_layer_slot: a layer's parameters and running statistics."""

    WEIGHT = 0
    BIAS = 1
    NORM_SCALE = 2
    NORM_SHIFT = 3
    RUNNING_MEAN = 4
    RUNNING_VAR = 5


class Param(enum.IntEnum):
    """sc_param: numeric settings of a net (header: defaults and ranges)."""

    GAMMA = 0
    BN_MOMENTUM = 1
    BN_EPS = 2
    QUANT_B0 = 3
    QUANT_E0 = 4
    COMPRESS_EVERY = 5
    CONV_ALGO = 6
    QUANT_B_MAX = 7
    BUDGET_BITS_PCT = 8
    BUDGET_WEIGHTS_PCT = 9
    BUDGET_EVERY = 10
    QUANT_BITS_FROZEN = 11
    INFERENCE = 12  #: a loaded model's arithmetic (Inference; model only)


class Inference(enum.IntEnum):
    """sc_inference: values of Param.INFERENCE, a loaded model's
    arithmetic (Model.inference)."""

    FP32 = 0  #: float: the logits of the net that was saved, bit for bit
    INT8 = 1  #: 8-bit activations, integer products (docs/int8.md)


class ConvAlgo(enum.IntEnum):
    """sc_conv_algo: values of Param.CONV_ALGO."""

    AUTO = 0
    DIRECT = 1


class OptimizerKind(enum.IntEnum):
    """sc_optimizer_kind: update rules."""

    SGD = 0
    ADAM = 1
    ADAMW = 2


class Group(enum.IntEnum):
    """sc_group: parameter groups (QUANT, ALL and EVERY for setters only;
    ALL is the weights and biases, EVERY the quantiser's groups too)."""

    WEIGHTS = 0
    BIASES = 1
    QUANT_BITS = 2
    QUANT_EXP = 3
    QUANT = -2
    ALL = -1
    EVERY = -3


class OptParam(enum.IntEnum):
    """sc_opt_param: optimizer hyper-parameters."""

    LR = 0
    WEIGHT_DECAY = 1
    MOMENTUM = 2
    NESTEROV = 3
    BETA1 = 4
    BETA2 = 5
    EPS = 6


class Loss(enum.IntEnum):
    """sc_loss: the task loss a train step minimises."""

    SOFTMAX_XENT = 0
    MSE = 1
    BCE_LOGITS = 2
    HOST = 3


class ProgressKind(enum.IntEnum):
    """sc_progress_kind: what a progress record reports."""

    STEP = 0
    EPOCH = 1
    BUDGET = 2


class ReduceWhat(enum.IntEnum):
    """sc_reduce_what: what a reduction hook is handed."""

    GRADS = 0  #: the flat gradient buffer and the step's figures
    STATE = 1  #: the running statistics, after the update


class ReduceFig(enum.IntEnum):
    """sc_reduce_fig: the indices of the figures handed with GRADS."""

    FAILED = 0    #: 1 when this rank's step failed (its gradients are 0)
    TASK = 1      #: the task loss on the local batch
    ACCURACY = 2  #: the accuracy on the local batch
    COUNT = 3     #: the number of figures


class LogLevel(enum.IntEnum):
    """sc_log_level: message levels."""

    DEBUG = 0
    INFO = 1
    WARN = 2


E = TypeVar("E", bound=enum.IntEnum)


def to_enum(cls: Type[E], value: Union[E, str, int], what: str) -> E:
    """``value`` as a member of ``cls``: a member, its name (any case) or
    its integer value. TypeError for another type, ValueError for a name or
    value ``cls`` does not have."""
    if isinstance(value, cls):
        return value
    names = ", ".join(m.name.lower() for m in cls)
    if isinstance(value, str):
        try:
            return cls[value.upper()]
        except KeyError:
            raise ValueError("%s: unknown %s %r (one of %s)"
                             % (what, cls.__name__, value, names)) from None
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return cls(value)
        except ValueError:
            raise ValueError("%s: %d is not a %s (one of %s)"
                             % (what, value, cls.__name__, names)) from None
    raise TypeError("%s: a %s or its name, not %s"
                    % (what, cls.__name__, type(value).__name__))
