"""Nets: building every layer kind, parameters, settings, training steps,
losses, quantiser state, compress, hooks."""

from __future__ import annotations

import math
from typing import List, Tuple

import numpy as np
import pytest

import selfcompress as sc

from conftest import C, H, W, K, Images, Labels, build, fast_optimizer


def test_train_reduces_loss_and_forward_is_zero_copy(
        train: Tuple[Images, Labels], test: Tuple[Images, Labels]) -> None:
    net = build()
    opt = fast_optimizer(net)
    x, y = train
    first = net.train_step(opt, x[:32], y[:32])
    for _ in range(3):
        for at in range(0, len(y), 32):
            st = net.train_step(opt, x[at:at + 32], y[at:at + 32])
    assert isinstance(st, sc.StepStats) and st.loss_kind == sc.Loss.SOFTMAX_XENT
    assert st.task_loss < 0.2 * first.task_loss
    assert st.loss == pytest.approx(st.task_loss + 0.005 * st.size_loss)
    assert opt.steps == 1 + 3 * 32
    net.set_training(False)
    out = np.empty((len(test[1]), K), np.float32)
    got = net.forward(test[0], out=out)
    assert got is out and np.shares_memory(got, out)  # filled in place
    assert float(np.mean(np.argmax(out, 1) == test[1])) >= 0.95
    assert np.array_equal(net.forward(test[0]), out)


def test_int64_labels_accepted(train: Tuple[Images, Labels]) -> None:
    a, b = build(seed=3), build(seed=3)
    oa, ob = a.optimizer("sgd"), b.optimizer("sgd")
    x, y = train[0][:16], train[1][:16]
    sa = a.train_step(oa, x, y)
    sb = b.train_step(ob, x, y.astype(np.int64))
    assert sa == sb


def test_every_layer_kind(train: Tuple[Images, Labels]) -> None:
    net = sc.Net(C, H, W)
    a = net.conv2d(sc.INPUT, 6, (3, 1), pad=(1, 0), bias=False)
    a = net.relu6(net.batchnorm(a))
    d = net.conv2d(a, 6, 3, pad=1, groups=6)
    b = net.leaky_relu(d, 0.1)
    c = net.hardswish(net.conv2d(a, 4, 1))
    x = net.concat(b, c, b)
    assert net.layer_shape(x) == (16, H, W)
    x = net.avgpool(x, 3, stride=2, pad=1, count_pad=True)
    x = net.maxpool(x, (2, 3), stride=(2, 1), pad=(0, 1))
    x = net.dropout(net.sigmoid(x), 0.1)
    x = net.tanh(net.conv2d(x, 8, 1))
    s = net.add(net.relu(x), x)
    net.dense(net.flatten(s), K)
    desc = net.layer_desc(d)
    assert desc.kind == sc.LayerKind.CONV2D and desc.inputs == (a,)
    assert desc.groups == 6 and desc.kernel == (3, 3) and desc.pad == (1, 1)
    assert net.layer_desc(b).alpha == pytest.approx(0.1)
    assert net.layer_desc(x).kind == sc.LayerKind.TANH
    pools = sc.Net(C, H, W)
    g = pools.global_avgpool(sc.INPUT)
    pools.dense(pools.flatten(pools.add(g, pools.global_maxpool(sc.INPUT))),
                K)
    assert pools.layer_shape(g) == (C, 1, 1)
    kinds = {n.layer_kind(i) for n in (net, pools)
             for i in range(n.layer_count)}
    assert kinds == set(sc.LayerKind)  # every kind in the two nets
    assert net.input_shape == (C, H, W) and net.output_size == K
    net.init(3)
    net.quantize()
    assert net.is_quantized(d) and not net.is_quantized(b)
    opt = fast_optimizer(net)
    losses = [net.train_step(opt, train[0][i * 32 % 1024:][:32],
                             train[1][i * 32 % 1024:][:32]).task_loss
              for i in range(60)]
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    with pytest.raises(sc.InvalidArgumentError):
        sc.Net(C, H, W).add_layer("relu", sc.INPUT, kernel=3)


def test_params_and_settings() -> None:
    net = build(seed=3)
    p = net.get_params()
    assert p.shape == (net.param_count,)
    net.set_params(np.zeros_like(p))
    assert not net.get_params().any()
    net.set_params(p)
    out = np.empty_like(p)
    assert net.get_params(out=out) is out and np.array_equal(out, p)
    assert net.get_param("gamma") == 0.005
    net.set_param(sc.Param.CONV_ALGO, sc.ConvAlgo.DIRECT)
    assert net.get_param("conv_algo") == 1
    with pytest.raises(sc.InvalidArgumentError):
        net.set_param("conv_algo", 2)
    net.set_threads(2)
    net.set_budget(3.0, 18.0, every=5)
    assert (net.get_param("budget_bits_pct"), net.get_param(
        "budget_weights_pct"), net.get_param("budget_every")) == (3, 18, 5)


def test_layer_params_in_torch_layouts() -> None:
    net = sc.Net(C, H, W)
    a = net.conv2d(sc.INPUT, 6, 3, pad=1)
    bn = net.batchnorm(a)
    d = net.conv2d(net.relu(bn), 6, 3, pad=1, groups=6, bias=False)
    f = net.dense(net.flatten(d), K)
    net.init(1)
    assert net.layer_param_shape(a, "weight") == (6, C, 3, 3)
    assert net.layer_param_shape(d, sc.Slot.WEIGHT) == (6, 1, 3, 3)
    assert net.layer_param_shape(f, "weight") == (K, 6 * H * W)
    assert net.layer_param_shape(bn, "running_var") == (6,)
    rng = np.random.default_rng(0)
    for layer, slot in ((a, "weight"), (a, "bias"), (f, "weight"),
                        (bn, "norm_scale"), (bn, "running_mean")):
        v = rng.standard_normal(net.layer_param_shape(layer, slot)) \
            .astype(np.float32)
        net.set_layer_param(layer, slot, v)
        assert np.array_equal(net.get_layer_param(layer, slot), v)
    out = np.empty((6,), np.float32)
    assert net.get_layer_param(bn, "running_mean", out=out) is out
    with pytest.raises(sc.InvalidArgumentError):
        net.get_layer_param(d, "bias")  # bias-free
    with pytest.raises(ValueError, match="shape"):
        net.set_layer_param(a, "bias", np.zeros(5, np.float32))
    with pytest.raises(sc.InvalidArgumentError):
        net.set_layer_param(bn, "running_var", -np.ones(6, np.float32))


def test_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.Sequential(
        torch.nn.Conv2d(C, 6, 3, padding=1), torch.nn.BatchNorm2d(6),
        torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(6 * H * W, K)).eval()
    with torch.no_grad():
        tm[1].running_mean.uniform_(-0.5, 0.5)
        tm[1].running_var.uniform_(0.5, 2.0)
    net = sc.Net(C, H, W)
    a = net.conv2d(sc.INPUT, 6, 3, pad=1)
    b = net.batchnorm(a)
    f = net.dense(net.flatten(net.relu(b)), K)
    net.init(1)
    for layer, mod, pairs in (
            (a, tm[0], (("weight", "weight"), ("bias", "bias"))),
            (f, tm[4], (("weight", "weight"), ("bias", "bias"))),
            (b, tm[1], (("norm_scale", "weight"), ("norm_shift", "bias"),
                        ("running_mean", "running_mean"),
                        ("running_var", "running_var")))):
        for slot, attr in pairs:
            net.set_layer_param(layer, slot,
                                getattr(mod, attr).detach().numpy())
    x = np.random.default_rng(1).standard_normal((4, C, H, W)) \
        .astype(np.float32)
    net.set_training(False)
    np.testing.assert_allclose(net.forward(x), tm(torch.from_numpy(x))
                               .detach().numpy(), rtol=1e-4, atol=1e-4)


def test_quant_size_report_compress(train: Tuple[Images, Labels]) -> None:
    net = build(gamma=0.05)
    conv = 1
    b, e = net.get_quant(conv)
    assert b.shape == (8,) and np.all(b == 5.0)  # the default b0
    b[:3] = 0.0
    net.set_quant(conv, b=b)
    assert np.array_equal(net.get_quant(conv)[0], b)
    assert np.array_equal(net.get_quant(conv)[1], e)
    with pytest.raises(sc.InvalidArgumentError):
        net.set_quant(conv, b=np.full(8, 40.0, np.float32))  # above the cap
    rep = net.size_report()
    assert rep.weights0 == 8 * 9 + 8 * 8 * 9 + 8 * 3 * 3 * K
    logs: List[Tuple[sc.LogLevel, str]] = []
    net.set_log(lambda level, msg: logs.append((level, msg)))
    assert net.compress() == 3
    assert net.layer_shape(conv)[0] == 5
    assert any(lv == sc.LogLevel.INFO and "removed 3" in m for lv, m in logs)
    after = net.size_report()
    # the dead channels' weights counted as dead already; their b, e and
    # batch-norm floats go with them
    assert after.weights == rep.weights and after.weights0 == rep.weights0
    assert after.overhead_floats == rep.overhead_floats - 3 * (2 + 4)
    assert after.weights_pct == pytest.approx(100.0 * after.weights /
                                              after.weights0)
    assert net.size_report(conv).out_channels == 5
    assert net.compress() == 0


def test_update_bn_stats(train: Tuple[Images, Labels]) -> None:
    net = build()
    before = net.get_layer_param(2, "running_mean")
    net.update_bn_stats(train[0][:64])
    after = net.get_layer_param(2, "running_mean")
    assert not np.array_equal(before, after)


def test_losses(train: Tuple[Images, Labels]) -> None:
    x, y = train[0][:64], train[1][:64]
    onehot = np.eye(K, dtype=np.float32)[y]
    for kind in (sc.Loss.MSE, sc.Loss.BCE_LOGITS):
        net = build(gamma=0.0)
        net.set_loss(kind)
        assert net.get_loss().kind == kind
        opt = net.optimizer()
        first = net.train_step(opt, x, targets=onehot)
        for _ in range(30):
            st = net.train_step(opt, x, targets=onehot)
        assert st.loss_kind == kind and st.task_loss < 0.5 * first.task_loss
        loss, _ = net.eval_loss(x, targets=onehot)
        assert math.isfinite(loss)
        with pytest.raises(sc.InvalidArgumentError):
            net.train_step(opt, x, labels=y)
    net = build()
    w = np.array([1, 2, 3, 4], np.float32)
    net.set_loss("softmax_xent", class_weights=w, label_smoothing=0.1)
    got = net.get_loss()
    assert got.class_weights is not None
    assert np.array_equal(got.class_weights, w)
    assert got.label_smoothing == pytest.approx(0.1)
    with pytest.raises(sc.InvalidArgumentError):
        net.set_loss("softmax_xent", class_weights=w[:2])
    with pytest.raises(TypeError):
        net.set_loss("softmax_xent", class_weights=[1, 2, 3, 4])  # type: ignore[arg-type]


def test_host_loss_matches_the_library(train: Tuple[Images, Labels]) -> None:
    x, y = train[0][:64], train[1][:64]
    a, b = build(seed=5), build(seed=5)
    b.set_loss("host")
    oa, ob = a.optimizer("sgd"), b.optimizer("sgd")
    for _ in range(3):
        sa = a.train_step(oa, x, y)
        z = b.train_forward(x).astype(np.float64)
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        loss = float(-np.log(p[np.arange(len(y)), y]).mean())
        g = ((p - np.eye(K)[y]) / len(y)).astype(np.float32)
        sb = b.train_backward(ob, g, loss)
        assert sb.loss_kind == sc.Loss.HOST
        assert sa.task_loss == pytest.approx(sb.task_loss, abs=1e-5)
    np.testing.assert_allclose(a.get_params(), b.get_params(), rtol=1e-4,
                               atol=1e-5)
    with pytest.raises(sc.StateError):
        b.train_step(ob, x, y)


def test_progress_hook_and_its_exceptions(
        train: Tuple[Images, Labels]) -> None:
    net = build()
    opt = net.optimizer()
    records: List[sc.Progress] = []
    net.set_progress(records.append, every=2)
    for i in range(4):
        net.train_step(opt, train[0][:8], train[1][:8])
    net.report_epoch(0, 0.5)
    assert [(r.kind, r.step) for r in records] == [
        (sc.ProgressKind.STEP, 2), (sc.ProgressKind.STEP, 4),
        (sc.ProgressKind.EPOCH, 4)]
    assert records[-1].test_accuracy == 0.5
    assert records[0].bits_pct == pytest.approx(100 * 5 / 32)

    def boom(_record: sc.Progress) -> None:
        raise RuntimeError("from the hook")
    net.set_progress(boom, every=1)
    with pytest.raises(RuntimeError, match="from the hook"):
        net.train_step(opt, train[0][:8], train[1][:8])
    net.set_progress(None)
    net.train_step(opt, train[0][:8], train[1][:8])


def test_close_and_context() -> None:
    with build() as net:
        opt = net.optimizer()
        assert net.attached_optimizer is opt
    with pytest.raises(ValueError):
        opt.steps
    net.close()


def test_distillation_and_group_every(train: Tuple[Images, Labels]) -> None:
    x, y = train[0][:32], train[1][:32]
    net = build()
    opt = fast_optimizer(net)
    teacher = np.random.default_rng(3).normal(size=(32, K)).astype(np.float32)
    logits = net.forward(x)
    st = net.train_step(opt, x, y, teacher=teacher, distill_temperature=2.0,
                        distill_weight=0.5)
    # the term from its definition, on the logits the step started from
    t, z = teacher / 2.0, logits / 2.0
    logp = t - t.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    logq = z - z.max(1, keepdims=True)
    logq -= np.log(np.exp(logq).sum(1, keepdims=True))
    want = 0.5 * 4.0 * float((np.exp(logp) * (logp - logq)).sum(1).mean())
    assert st.distill_loss == pytest.approx(want, rel=1e-4)
    gamma = net.get_param(sc.Param.GAMMA)
    assert st.loss == pytest.approx(st.task_loss + gamma * st.size_loss + st.distill_loss)
    assert net.train_step(opt, x, y).distill_loss == 0.0
    with pytest.raises(sc.InvalidArgumentError):
        net.train_step(opt, x, y, teacher=teacher, distill_temperature=0.0)
    with pytest.raises(ValueError):
        net.train_step(opt, x, y, teacher=teacher[:31])
    with pytest.raises(TypeError):
        net.train_step(opt, x, y, teacher=teacher.astype(np.float64))
    # ALL: weights and biases; EVERY: the quantiser's groups too
    opt.set_lr(sc.Group.ALL, 0.02)
    assert opt.get(sc.OptParam.LR, sc.Group.WEIGHTS) == 0.02
    assert opt.get(sc.OptParam.LR, sc.Group.QUANT_BITS) != 0.02
    opt.set_lr(sc.Group.EVERY, 0.03)
    assert opt.get(sc.OptParam.LR, sc.Group.QUANT_BITS) == 0.03


def test_reduce_hook(train: Tuple[Images, Labels]) -> None:
    x, y = train[0][:32], train[1][:32]
    plain, hooked = build(), build()
    po, ho = fast_optimizer(plain), fast_optimizer(hooked)
    calls: List[Tuple[sc.ReduceWhat, int, int]] = []

    def record(what: sc.ReduceWhat, data: np.ndarray,  # type: ignore[type-arg]
               figs: object) -> None:
        calls.append((what, data.size, 0 if figs is None else len(figs)))  # type: ignore[arg-type]
    hooked.set_reduce(record)
    for _ in range(2):
        plain.train_step(po, x, y)
        hooked.train_step(ho, x, y)
    # a hook that leaves the values: the same training, bit for bit
    assert np.array_equal(plain.get_params(), hooked.get_params())
    assert calls[0] == (sc.ReduceWhat.GRADS, hooked.param_count, sc.ReduceFig.COUNT)
    assert calls[1][0] == sc.ReduceWhat.STATE and calls[1][2] == 0 and len(calls) == 4

    # the figures reach the step's stats; zeroed gradients leave the weights
    def zero(what: sc.ReduceWhat, data: np.ndarray,  # type: ignore[type-arg]
             figs: object) -> None:
        if what == sc.ReduceWhat.GRADS:
            data[:] = 0.0
            figs[sc.ReduceFig.TASK] = 7.5  # type: ignore[index]
    fresh = build()
    fo = fast_optimizer(fresh)  # no moments yet: zero gradients, no update
    fresh.set_reduce(zero)
    before = fresh.get_params()
    st = fresh.train_step(fo, x, y)
    assert st.task_loss == 7.5
    assert np.array_equal(fresh.get_params(), before)
    before = hooked.get_params()

    class Boom(Exception):
        pass

    def fail(what: sc.ReduceWhat, data: object, figs: object) -> None:
        raise Boom()
    hooked.set_reduce(fail)
    with pytest.raises(Boom):
        hooked.train_step(ho, x, y)
    assert np.array_equal(hooked.get_params(), before)
    hooked.set_reduce(None)
    hooked.train_step(ho, x, y)
    with pytest.raises(TypeError):
        hooked.set_reduce(3)  # type: ignore[arg-type]
