"""fit, evaluate, predict: accuracy, the progress bar, callbacks, the
library's size budget."""

from __future__ import annotations

import re
from typing import List, Tuple

import numpy as np
import pytest

import selfcompress as sc

from conftest import K, Images, Labels, build, fast_optimizer


def test_fit_evaluate_predict(train: Tuple[Images, Labels],
                              test: Tuple[Images, Labels],
                              capsys: pytest.CaptureFixture[str]) -> None:
    net = build()
    fast_optimizer(net)
    hist = net.fit(train[0], train[1], epochs=3, batch_size=32,
                   validation_data=test, verbose=1)
    assert hist.epochs == [0, 1, 2]
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.history["val_accuracy"][-1] >= 0.95
    loss, acc = net.evaluate(test[0], test[1])
    assert (loss, acc) == (hist.history["val_loss"][-1],
                           hist.history["val_accuracy"][-1])
    logits = net.predict(test[0], batch_size=100)
    assert logits.shape == (len(test[1]), K)
    assert float(np.mean(np.argmax(logits, 1) == test[1])) == acc
    assert net.training  # restored after evaluate and predict
    # the bar: one per epoch, with the epoch's loss and accuracy
    err = capsys.readouterr().err
    assert "epoch 3/3" in err and "32/32" in err
    finals = re.findall(r"loss=([0-9.]+), accuracy=([0-9.]+), "
                        r"val_loss=([0-9.]+), val_accuracy=([0-9.]+)", err)
    assert len(finals) >= 3
    assert float(finals[-1][0]) == pytest.approx(hist.history["loss"][-1],
                                                 abs=1e-4)
    assert float(finals[-1][3]) == pytest.approx(acc, abs=1e-4)


def test_quiet_and_no_shuffle_and_targets(
        train: Tuple[Images, Labels],
        capsys: pytest.CaptureFixture[str]) -> None:
    net = build(gamma=0.0)
    net.set_loss("mse")
    onehot = np.eye(K, dtype=np.float32)[train[1]]
    hist = net.fit(train[0], onehot, epochs=2, verbose=0, shuffle=False)
    assert capsys.readouterr().err == ""
    assert hist.history["loss"][1] < hist.history["loss"][0]
    with pytest.raises(TypeError, match="float32"):
        net.fit(train[0], train[1], verbose=0)  # labels for an MSE net


def test_budget_reached_and_compressed(train: Tuple[Images, Labels],
                                       test: Tuple[Images, Labels]) -> None:
    net = build(gamma=0.05)
    fast_optimizer(net)
    net.set_param("budget_every", 8)
    records: List[sc.Progress] = []
    net.set_progress(records.append, every=1000)
    start = net.size_report()
    hist = net.fit(train[0], train[1], epochs=4, budget=(12.0, 100.0),
                   validation_data=test, verbose=0)
    assert net.budget_reached and hist.budget_epoch is not None
    assert hist.history["budget_reached"][-1] == 1.0
    budget = [r for r in records if r.kind == sc.ProgressKind.BUDGET]
    assert len(budget) == 1 and budget[0].step % 8 == 0
    assert budget[0].bits_pct <= 12.0
    end = net.size_report()
    assert end.bits_pct == hist.history["bits_pct"][-1] <= 12.0
    assert end.bits_pct < start.bits_pct
    assert net.compress() == 0  # the budget compressed the net already
    b_frozen = [net.get_quant(i)[0] for i in (1, 5)]
    net.fit(train[0], train[1], epochs=1, verbose=0)
    assert all(np.array_equal(b, net.get_quant(i)[0])
               for b, i in zip(b_frozen, (1, 5)))
    assert hist.history["val_accuracy"][-1] >= 0.9
    epochs = [r for r in records if r.kind == sc.ProgressKind.EPOCH]
    assert [r.epoch for r in epochs] == [0, 1, 2, 3, 0]


def test_callbacks_stop_training(train: Tuple[Images, Labels]) -> None:
    class StopAfter(sc.Callback):
        def __init__(self) -> None:
            self.batches: List[float] = []

        def on_batch_end(self, batch: int, logs: sc.Logs) -> None:
            self.batches.append(logs["loss"])
            if batch == 4:
                assert self.net is not None
                self.net.stop_training = True

    net = build()
    opt = net.optimizer()
    cb = StopAfter()
    hist = net.fit(train[0], train[1], epochs=3, callbacks=[cb], verbose=0)
    assert opt.steps == 5 and len(cb.batches) == 5 and hist.epochs == [0]
    seen: List[Tuple[int, sc.Logs]] = []

    def at_epoch(epoch: int, logs: sc.Logs) -> None:
        seen.append((epoch, logs))
        if epoch == 1:
            net.stop_training = True
    hist = net.fit(train[0], train[1], epochs=5, verbose=0,
                   validation_data=(train[0][:64], train[1][:64]),
                   callbacks=[sc.LambdaCallback(on_epoch_end=at_epoch)])
    assert hist.epochs == [0, 1] and [e for e, _ in seen] == [0, 1]
    assert set(seen[0][1]) == {"loss", "accuracy", "val_loss",
                               "val_accuracy", "bits_pct", "weights_pct",
                               "budget_reached"}
    stop = sc.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)
    hist = net.fit(train[0], train[1], epochs=5, verbose=0, callbacks=[stop])
    assert hist.epochs == [0, 1]  # no improvement by 10 after epoch 0
    with pytest.raises(TypeError, match="Callback"):
        net.fit(train[0], train[1], callbacks=[print],  # type: ignore[list-item]
                verbose=0)
