"""Optimizers (sc_optimizer): the update rule, its settings and state."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Optional, Union

from . import _check as C
from ._handle import Handle
from ._lib import check, lib
from .enums import Group, OptimizerKind, OptParam, to_enum

if TYPE_CHECKING:
    from .net import Net


class Optimizer(Handle):
    """The optimizer attached to a net (one per net). Make it with
    ``Net.optimizer(kind)`` or ``Optimizer(net, kind)``.

    Defaults (header): lr 1e-3 (Adam) or 0.01 (SGD) for weights and
    biases, 0.5 for the bit depths, 0.05 for the exponents.
    """

    _FREE = "sc_optimizer_free"

    def __init__(self, net: "Net",
                 kind: Union[OptimizerKind, str] = OptimizerKind.ADAM
                 ) -> None:
        """Creates an optimizer of ``kind`` for ``net`` (StateError when the
        net has one already)."""
        from .net import Net
        if not isinstance(net, Net):
            raise TypeError("Optimizer: a Net, not %s" % type(net).__name__)
        k = to_enum(OptimizerKind, kind, "Optimizer: kind")
        h = ctypes.c_void_p()
        check(lib().sc_optimizer_create(ctypes.byref(h), net.handle,
                                        int(k)), "sc_optimizer_create")
        self._own(h)
        #: the update rule (None for one restored from a checkpoint)
        self.kind: Optional[OptimizerKind] = k
        #: the net the optimizer is attached to
        self.net: Optional["Net"] = net
        net._attach(self)

    @classmethod
    def _adopt(cls, handle: ctypes.c_void_p, net: "Net") -> "Optimizer":
        o = cls.__new__(cls)
        o._own(handle)
        o.kind = None  # a checkpoint does not say
        o.net = net
        net._attach(o)
        return o

    def set(self, param: Union[OptParam, str], value: float,
            group: Union[Group, str] = Group.ALL) -> None:
        """Sets hyper-parameter ``param`` (for ``group``, with LR and
        WEIGHT_DECAY; ALL sets every group, QUANT both quantiser groups)."""
        p = to_enum(OptParam, param, "Optimizer.set: param")
        g = to_enum(Group, group, "Optimizer.set: group")
        check(lib().sc_optimizer_set(self.handle, int(p), int(g),
                                     C.as_float(value, "value")),
              "sc_optimizer_set")

    def get(self, param: Union[OptParam, str],
            group: Union[Group, str] = Group.WEIGHTS) -> float:
        """Reads hyper-parameter ``param`` (of one group, for LR and
        WEIGHT_DECAY)."""
        p = to_enum(OptParam, param, "Optimizer.get: param")
        g = to_enum(Group, group, "Optimizer.get: group")
        v = ctypes.c_double()
        check(lib().sc_optimizer_get(self.handle, int(p), int(g),
                                     ctypes.byref(v)), "sc_optimizer_get")
        return float(v.value)

    def set_lr(self, group: Union[Group, str], lr: float) -> None:
        """Sets the learning rate of ``group`` (sc_optimizer_set_lr)."""
        g = to_enum(Group, group, "Optimizer.set_lr: group")
        check(lib().sc_optimizer_set_lr(self.handle, int(g),
                                        C.as_float(lr, "lr")),
              "sc_optimizer_set_lr")

    @property
    def steps(self) -> int:
        """Steps taken so far (sc_optimizer_steps)."""
        return int(lib().sc_optimizer_steps(self.handle))

    def close(self) -> None:
        """Frees and detaches the optimizer. Idempotent."""
        super().close()
        net = getattr(self, "net", None)
        if net is not None:
            net._detach(self)
        self.net = None
