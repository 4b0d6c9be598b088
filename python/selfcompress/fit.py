"""A Keras-like loop over the library: fit, evaluate, predict, callbacks.

The loop only batches and reports: each step is the library's train step,
the size budget is the library's own (Param.BUDGET_*: on reaching it the
net compresses itself and freezes its bit depths), and evaluation is the
library's eval_loss in eval mode.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from tqdm import tqdm

from . import _check as C
from .enums import Loss, OptimizerKind
from .net import Net
from .optimizer import Optimizer

#: what callbacks receive: figure name -> value
Logs = Dict[str, float]


class Callback:
    """Base class of fit()'s callbacks; override what you need.

    ``self.net`` is the net being trained (set by fit()); setting
    ``self.net.stop_training = True`` ends training after the current
    batch (from on_batch_end) or epoch (from on_epoch_end).
    """

    net: Optional[Net] = None

    def on_train_begin(self, logs: Logs) -> None:
        """Called once before the first epoch."""

    def on_epoch_begin(self, epoch: int, logs: Logs) -> None:
        """Called at the start of each epoch (0-based)."""

    def on_batch_end(self, batch: int, logs: Logs) -> None:
        """Called after each train step: logs has loss, accuracy,
        task_loss, size_loss and size (the batch's samples)."""

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        """Called after each epoch: logs has loss and accuracy (means over
        the epoch's samples), val_loss and val_accuracy (with validation
        data), bits_pct, weights_pct and budget_reached (1.0 or 0.0)."""

    def on_train_end(self, logs: Logs) -> None:
        """Called once after the last epoch, with the last epoch's logs."""


class LambdaCallback(Callback):
    """A callback made of functions (each optional)."""

    def __init__(self,
                 on_epoch_end: Optional[Callable[[int, Logs], None]] = None,
                 on_batch_end: Optional[Callable[[int, Logs], None]] = None
                 ) -> None:
        """on_epoch_end(epoch, logs), on_batch_end(batch, logs)."""
        self._epoch = on_epoch_end
        self._batch = on_batch_end

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        """Calls the on_epoch_end function."""
        if self._epoch is not None:
            self._epoch(epoch, logs)

    def on_batch_end(self, batch: int, logs: Logs) -> None:
        """Calls the on_batch_end function."""
        if self._batch is not None:
            self._batch(batch, logs)


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved (decreased; for
    an "accuracy" figure, increased) by more than min_delta for
    ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", patience: int = 0,
                 min_delta: float = 0.0) -> None:
        """See the class docstring."""
        self.monitor = monitor
        self.patience = C.as_int(patience, "patience", 0)
        self.min_delta = C.as_float(min_delta, "min_delta")
        self._best = math.inf
        self._wait = 0

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        """Counts epochs without improvement and stops after patience."""
        if self.monitor not in logs:
            raise ValueError("EarlyStopping: no %r in the logs (%s)"
                             % (self.monitor, ", ".join(sorted(logs))))
        v = logs[self.monitor]
        v = -v if "accuracy" in self.monitor else v
        if v < self._best - self.min_delta:
            self._best, self._wait = v, 0
            return
        self._wait += 1
        if self._wait > self.patience and self.net is not None:
            self.net.stop_training = True


@dataclasses.dataclass
class History:
    """What fit() returns: each epoch's logs by name."""

    #: figure name -> one value per epoch run
    history: Dict[str, List[float]] = dataclasses.field(default_factory=dict)
    #: the epochs run (0-based)
    epochs: List[int] = dataclasses.field(default_factory=list)
    #: the epoch during which the size budget was reached, or None
    budget_epoch: Optional[int] = None


def _targets(net: Net, x: C.FloatArray, y: Any,
             what: str) -> Tuple[Optional["np.ndarray[Any, Any]"],
                                Optional["np.ndarray[Any, Any]"]]:
    """(labels, targets) for the net's loss, one of them None."""
    kind = net.get_loss().kind
    if kind == Loss.HOST:
        raise ValueError("%s: the net's loss is HOST; train it with "
                         "train_forward/train_backward" % what)
    if kind == Loss.SOFTMAX_XENT:
        return C.labels(y, x.shape[0], what + ": y"), None
    t = C.float_array(y, what + ": y")
    if t.ndim < 1 or t.shape[0] != x.shape[0]:
        raise ValueError("%s: y has %s rows, x %d" % (what, t.shape[:1],
                                                      x.shape[0]))
    return None, t


def _optimizer(net: Net, opt: Union[Optimizer, OptimizerKind, str, None]
               ) -> Optimizer:
    if isinstance(opt, Optimizer):
        if opt.net is not net:
            raise ValueError("fit: the optimizer is attached to another net")
        return opt
    attached = net.attached_optimizer
    if opt is None:
        return attached if attached is not None else net.optimizer()
    if attached is not None:
        raise ValueError("fit: the net has an optimizer already; pass it "
                         "(or None) instead of a kind")
    return net.optimizer(opt)


def fit(net: Net, x: C.FloatArray, y: Any, *, epochs: int = 1,
        batch_size: int = 32,
        validation_data: Optional[Tuple[C.FloatArray, Any]] = None,
        callbacks: Sequence[Callback] = (),
        budget: Optional[Tuple[float, float]] = None, verbose: int = 1,
        shuffle: bool = True, seed: int = 0,
        optimizer: Union[Optimizer, OptimizerKind, str, None] = None
        ) -> History:
    """Trains ``net`` on samples x (N x c x h x w float32) and y (N integer
    labels for SOFTMAX_XENT, float32 targets for MSE and BCE_LOGITS).

    epochs, batch_size: as Keras (the last batch may be smaller).
    validation_data: (x, y) evaluated in eval mode after each epoch.
    callbacks: Callback objects (see Callback for the logs they get).
    budget: (bits_pct, weights_pct), the library's size budget
    (Net.set_budget): on reaching it the net compresses itself and its bit
    depths freeze; None leaves the net's budget settings as they are.
    verbose: 1 shows a tqdm bar per epoch (loss and accuracy; on stderr),
    0 nothing. shuffle: a new order each epoch from ``seed`` (each batch
    gathered into one buffer); False trains on slices of x (no copy).
    optimizer: the net's Optimizer, a kind for a new one, or None (the
    attached one, else a new Adam). Returns a History.
    """
    if not isinstance(net, Net):
        raise TypeError("fit: net is a Net, not %s" % type(net).__name__)
    x = C.batch_array(x, "fit: x")
    labels, targets = _targets(net, x, y, "fit")
    n_epochs = C.as_int(epochs, "epochs", 0)
    bs = C.as_int(batch_size, "batch_size", 1)
    if not isinstance(callbacks, (list, tuple)) or not all(
            isinstance(c, Callback) for c in callbacks):
        raise TypeError("fit: callbacks is a list of Callback objects")
    if validation_data is not None:
        if not isinstance(validation_data, tuple) or \
                len(validation_data) != 2:
            raise TypeError("fit: validation_data is an (x, y) tuple")
        vx = C.batch_array(validation_data[0], "fit: validation x")
        _targets(net, vx, validation_data[1], "fit: validation")
    opt = _optimizer(net, optimizer)
    if budget is not None:
        if not isinstance(budget, tuple) or len(budget) != 2:
            raise TypeError("fit: budget is a (bits_pct, weights_pct) tuple")
        net.set_budget(budget[0], budget[1])
    rng = np.random.default_rng(C.as_int(seed, "seed", 0, 2 ** 63 - 1))
    n = x.shape[0]
    n_batches = (n + bs - 1) // bs
    xbuf = np.empty((min(bs, n),) + x.shape[1:], np.float32)
    y_all = labels if labels is not None else targets
    assert y_all is not None
    ybuf = np.empty((min(bs, n),) + y_all.shape[1:], y_all.dtype)
    for c in callbacks:
        c.net = net
    hist = History()
    logs: Logs = {}
    net.stop_training = False
    if not net.training:
        net.set_training(True)
    for c in callbacks:
        c.on_train_begin(logs)
    for epoch in range(n_epochs):
        for c in callbacks:
            c.on_epoch_begin(epoch, {})
        order = rng.permutation(n) if shuffle else None
        bar = tqdm(total=n_batches, desc="epoch %d/%d" % (epoch + 1, n_epochs),
                   unit="batch", disable=not verbose, file=sys.stderr,
                   dynamic_ncols=True)
        frozen_before = net.budget_reached
        seen, loss_sum, acc_sum = 0, 0.0, 0.0
        for b in range(n_batches):
            lo, hi = b * bs, min(n, (b + 1) * bs)
            if order is None:
                xb, yb = x[lo:hi], y_all[lo:hi]
            else:
                idx = order[lo:hi]
                xb, yb = xbuf[:hi - lo], ybuf[:hi - lo]
                np.take(x, idx, axis=0, out=xb)
                np.take(y_all, idx, axis=0, out=yb)
            if labels is not None:
                st = net.train_step(opt, xb, labels=yb)
            else:
                st = net.train_step(opt, xb, targets=yb)
            seen += hi - lo
            loss_sum += st.loss * (hi - lo)
            acc_sum += st.accuracy * (hi - lo)
            blogs: Logs = {"loss": st.loss, "accuracy": st.accuracy,
                           "task_loss": st.task_loss,
                           "size_loss": st.size_loss, "size": hi - lo}
            bar.set_postfix(loss="%.4f" % (loss_sum / seen),
                            accuracy="%.4f" % (acc_sum / seen), refresh=False)
            bar.update(1)
            for c in callbacks:
                c.on_batch_end(b, blogs)
            if net.stop_training:
                break
        logs = {"loss": loss_sum / seen, "accuracy": acc_sum / seen}
        if validation_data is not None:
            logs["val_loss"], logs["val_accuracy"] = evaluate(
                net, validation_data[0], validation_data[1])
        rep = net.size_report()
        logs["bits_pct"] = rep.bits_pct
        logs["weights_pct"] = rep.weights_pct
        reached = net.budget_reached
        logs["budget_reached"] = 1.0 if reached else 0.0
        if reached and not frozen_before and hist.budget_epoch is None:
            hist.budget_epoch = epoch
        bar.set_postfix({k: "%.4f" % v for k, v in logs.items()
                         if k != "budget_reached"}, refresh=True)
        bar.close()
        net.report_epoch(epoch, logs.get("val_accuracy", math.nan))
        hist.epochs.append(epoch)
        for k, v in logs.items():
            hist.history.setdefault(k, []).append(v)
        for c in callbacks:
            c.on_epoch_end(epoch, logs)
        if net.stop_training:
            break
    for c in callbacks:
        c.on_train_end(logs)
    return hist


class _EvalMode:
    """Puts a net in eval mode for a with block, then back."""

    def __init__(self, net: Net) -> None:
        self.net = net
        self.was = net.training

    def __enter__(self) -> None:
        if self.was:
            self.net.set_training(False)

    def __exit__(self, *exc: object) -> None:
        if self.was:
            self.net.set_training(True)


def evaluate(net: Net, x: C.FloatArray, y: Any,
             batch_size: int = 256) -> Tuple[float, float]:
    """(task loss, accuracy) of ``net`` on (x, y) in eval mode (running
    statistics), means over the samples; the net's mode is restored."""
    if not isinstance(net, Net):
        raise TypeError("evaluate: net is a Net, not %s" % type(net).__name__)
    x = C.batch_array(x, "evaluate: x")
    labels, targets = _targets(net, x, y, "evaluate")
    bs = C.as_int(batch_size, "batch_size", 1)
    n = x.shape[0]
    loss_sum, acc_sum = 0.0, 0.0
    with _EvalMode(net):
        for lo in range(0, n, bs):
            hi = min(n, lo + bs)
            loss, acc = net.eval_loss(
                x[lo:hi], labels=None if labels is None else labels[lo:hi],
                targets=None if targets is None else targets[lo:hi])
            loss_sum += loss * (hi - lo)
            acc_sum += acc * (hi - lo)
    return loss_sum / n, acc_sum / n


def predict(net: Net, x: C.FloatArray, batch_size: int = 256,
            out: Optional[C.FloatArray] = None) -> C.FloatArray:
    """Logits (N x outputs) of ``net`` on x in eval mode, computed batch by
    batch straight into ``out`` (float32 N x outputs; a new one when
    None); the net's mode is restored."""
    if not isinstance(net, Net):
        raise TypeError("predict: net is a Net, not %s" % type(net).__name__)
    x = C.batch_array(x, "predict: x")
    bs = C.as_int(batch_size, "batch_size", 1)
    n = x.shape[0]
    shape = (n, net.output_size)
    o = np.empty(shape, np.float32) if out is None else \
        C.float_array(out, "predict: out", shape, writable=True)
    with _EvalMode(net):
        for lo in range(0, n, bs):
            hi = min(n, lo + bs)
            net.forward(x[lo:hi], out=o[lo:hi])
    return o
