"""What the library reports and takes as structs, as frozen dataclasses."""

from __future__ import annotations

import ctypes
import dataclasses
import math
from typing import Any, Optional, Tuple

import numpy as np
import numpy.typing as npt

from . import _structs as S
from .enums import LayerKind, Loss, ProgressKind

#: the default cap on a load's activation bytes per sample (1 GiB)
LOAD_MAX_ACTIVATION_BYTES = 1 << 30
#: the default cap on a load's multiply-adds per sample
LOAD_MAX_MACS = 1e10


@dataclasses.dataclass(frozen=True)
class StepStats:
    """What one training step measured (sc_step_stats)."""

    loss: float       #: task_loss + gamma * size_loss + distill_loss
    task_loss: float  #: the net's loss (Loss) on the batch
    size_loss: float  #: Q, average bits per original weight
    accuracy: float   #: SOFTMAX_XENT: fraction right; BCE: signs; else 0
    loss_kind: Loss   #: which loss task_loss is
    distill_loss: float  #: the distillation term (0 without a teacher)

    @classmethod
    def _from(cls, s: S.StepStatsC) -> "StepStats":
        return cls(float(s.loss), float(s.task_loss), float(s.size_loss),
                   float(s.accuracy), Loss(s.loss_kind),
                   float(s.distill_loss))


@dataclasses.dataclass(frozen=True)
class SizeReport:
    """Size figures of a layer or the whole net (sc_size_report)."""

    in_channels: int      #: live input channels (0 for the whole net)
    out_channels: int     #: live output channels (sum for the net)
    weights: int          #: live weights
    weights0: int         #: N0: quantised weights at construction
    bits: float           #: bits as stored: ceil(B) per live weight
    bits_pct: float       #: bits / (32 N0) * 100
    weights_pct: float    #: weights / N0 * 100
    size_loss: float      #: Q
    overhead_floats: int  #: fp32 floats besides the weights

    @classmethod
    def _from(cls, s: S.SizeReportC) -> "SizeReport":
        return cls(**S.fields(s))


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """Sizes of a model file and the cost of its model (sc_model_info)."""

    file_bytes: int            #: the whole file
    weight_payload_bytes: int  #: ceil(weight_bits / 8)
    channel_header_bytes: int  #: 5 per quantised channel
    weight_bits: float         #: sum of ceil(B) per stored weight
    weights: int               #: quantised weights stored with > 0 bits
    weights0: int              #: N0: quantised weights at construction
    activation_bytes: int      #: buffers of a one-sample forward
    macs: float                #: operations of one sample's forward
    weight_bytes: int          #: the weights' resident bytes when loaded
    param_bytes: int           #: the other parameters' resident bytes
    calibrated_images: int     #: images the int8 ranges were measured on
    int8_bytes: int            #: int8's resident extra, once it has run

    @classmethod
    def _from(cls, s: S.ModelInfoC) -> "ModelInfo":
        return cls(**S.fields(s))


@dataclasses.dataclass(frozen=True)
class LoadLimits:
    """What a load may accept per sample (sc_load_limits)."""

    max_activation_bytes: int = LOAD_MAX_ACTIVATION_BYTES  #: cap
    max_macs: float = LOAD_MAX_MACS                        #: cap (not NaN)

    def _c(self) -> S.LoadLimitsC:
        s = S.sized(S.LoadLimitsC)
        if isinstance(self.max_activation_bytes, bool) or not isinstance(
                self.max_activation_bytes, (int, np.integer)):
            raise TypeError("LoadLimits.max_activation_bytes: an int")
        if isinstance(self.max_macs, bool) or not isinstance(
                self.max_macs, (int, float)):
            raise TypeError("LoadLimits.max_macs: a number")
        s.max_activation_bytes = int(self.max_activation_bytes)
        s.max_macs = float(self.max_macs)
        return s


def limits_ptr(limits: Optional[LoadLimits]) -> Any:
    """A pointer to limits as C takes it, or NULL (the defaults)."""
    if limits is None:
        return None
    if not isinstance(limits, LoadLimits):
        raise TypeError("limits: a LoadLimits or None, not %s"
                        % type(limits).__name__)
    return ctypes.pointer(limits._c())


@dataclasses.dataclass(frozen=True)
class Progress:
    """One progress record (sc_progress)."""

    kind: ProgressKind      #: STEP, EPOCH or BUDGET
    epoch: int              #: EPOCH: as reported; STEP: last reported + 1
    step: int               #: steps taken
    loss: float             #: last step's total loss
    task_loss: float        #: last step's task loss
    size_loss: float        #: last step's Q
    accuracy: float         #: last step's accuracy
    bits_pct: float         #: now: the net's bits_pct
    weights_pct: float      #: now: the net's weights_pct
    images_per_sec: float   #: over the interval
    seconds: float          #: the interval's wall clock
    test_accuracy: float    #: EPOCH: as reported; STEP: NaN

    @classmethod
    def _from(cls, p: S.ProgressC) -> "Progress":
        d = S.fields(p)
        known = {f.name for f in dataclasses.fields(cls)}
        have = {f[0] for f in S.ProgressC._fields_
                if getattr(S.ProgressC, f[0]).offset
                + getattr(S.ProgressC, f[0]).size <= p.size}
        args = {k: (d[k] if k in have else math.nan) for k in known}
        args["kind"] = ProgressKind(args["kind"])
        return cls(**args)


@dataclasses.dataclass(frozen=True)
class LossSetting:
    """A net's loss setting (sc_loss_desc)."""

    kind: Loss                            #: the loss
    class_weights: Optional[npt.NDArray[np.float32]]  #: a copy, or None
    label_smoothing: float                #: in [0, 1)


@dataclasses.dataclass(frozen=True)
class LayerDesc:
    """A layer as sc_net_layer_desc() reports it (channels are the current
    ones); the fields as for sc_layer_desc."""

    kind: LayerKind           #: what the layer is
    inputs: Tuple[int, ...]   #: the ids of the layers it reads
    channels: int             #: dense: output features; conv: channels
    kernel: Tuple[int, int]   #: window (height, width)
    stride: Tuple[int, int]   #: step (height, width)
    pad: Tuple[int, int]      #: zeros (height, width)
    groups: int               #: conv groups
    flags: int                #: LayerFlag bits
    alpha: float              #: leaky relu's slope, dropout's p
