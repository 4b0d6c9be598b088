"""Training checkpoints: the whole training state of a net and optimizer."""

from __future__ import annotations

import ctypes
import dataclasses
from typing import Any, Optional, Union

from . import _check as C
from ._lib import check, lib
from .net import Net
from .optimizer import Optimizer
from .records import LoadLimits, limits_ptr

#: the most user bytes a checkpoint holds (the library's limit)
USER_MAX = 1 << 30


@dataclasses.dataclass
class Checkpoint:
    """What load_checkpoint() restored."""

    net: Net                        #: the net, in training mode
    optimizer: Optional[Optimizer]  #: its optimizer (None when none saved)
    user: bytes                     #: the caller's own bytes


def save_checkpoint(path: Any, net: Net, optimizer: Optional[Optimizer] = None,
                    user: Union[bytes, bytearray, memoryview] = b"") -> None:
    """Saves the net's whole training state, the optimizer's (when given)
    and ``user`` bytes to path, atomically (sc_checkpoint_save)."""
    if not isinstance(net, Net):
        raise TypeError("save_checkpoint: net is a Net, not %s"
                        % type(net).__name__)
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError("save_checkpoint: optimizer is an Optimizer or None")
    u = C.buffer_bytes(user, "user")
    if len(u) > USER_MAX:
        raise ValueError("save_checkpoint: %d user bytes, at most %d"
                         % (len(u), USER_MAX))
    check(lib().sc_checkpoint_save(net.handle,
                                   optimizer.handle if optimizer else None,
                                   u, len(u), C.path_bytes(path)),
          "sc_checkpoint_save")


def load_checkpoint(path: Any, limits: Optional[LoadLimits] = None,
                    user_cap: int = 1 << 20) -> Checkpoint:
    """Restores a checkpoint into a new net and optimizer
    (sc_checkpoint_load_v2). ``user_cap`` bounds the user bytes accepted
    (InvalidArgumentError when the file holds more). Threads are not
    saved: set them again."""
    cap = C.as_int(user_cap, "user_cap", 0, USER_MAX)
    buf = ctypes.create_string_buffer(max(cap, 1))
    n = ctypes.c_size_t()
    net_h, opt_h = ctypes.c_void_p(), ctypes.c_void_p()
    check(lib().sc_checkpoint_load_v2(C.path_bytes(path),
                                      ctypes.byref(net_h),
                                      ctypes.byref(opt_h),
                                      buf if cap else None, cap,
                                      ctypes.byref(n), limits_ptr(limits)),
          "sc_checkpoint_load_v2")
    net = Net._adopt(net_h)
    opt = Optimizer._adopt(opt_h, net) if opt_h else None
    return Checkpoint(net, opt, buf.raw[:n.value])
