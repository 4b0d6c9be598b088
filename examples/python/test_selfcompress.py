"""Tests of the ctypes binding (run: /usr/bin/python3 -m unittest, or
tests/python_binding.sh from `make check`). SELFCOMPRESS_LIB picks the
library; else pkg-config, else the repository's lib/."""

import math
import os
import tempfile
import unittest

import numpy as np

import selfcompress as sc

C, H, W, K = 1, 12, 12, 4


def make_data(n, seed):
    """4 classes: a bright 4x4 square in one quadrant, plus uniform noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n).astype(np.int32)
    x = rng.uniform(-0.5, 0.5, (n, C, H, W)).astype(np.float32)
    for i, k in enumerate(y):
        r0, c0 = (k // 2) * (H // 2) + 1, (k % 2) * (W // 2) + 1
        x[i, 0, r0:r0 + 4, c0:c0 + 4] += 1.0
    return x, y


def build(seed=42, gamma=0.005):
    net = sc.Net(C, H, W)
    x = net.conv2d(sc.INPUT, 8, 3, pad=1, bias=False)
    x = net.batchnorm(x)
    x = net.relu(x)
    x = net.maxpool(x, 2)
    x = net.conv2d(x, 8, 3, pad=1)
    x = net.relu(x)
    x = net.maxpool(x, 2)
    x = net.flatten(x)
    net.dense(x, K)
    net.init(seed)
    net.quantize()
    net.set_param("gamma", gamma)
    return net


def eval_logits(net, x):
    net.set_training(False)
    try:
        return net.forward(x)
    finally:
        net.set_training(True)


class TestBinding(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.train_x, cls.train_y = make_data(1024, 1)
        cls.test_x, cls.test_y = make_data(256, 2)

    def train(self, net, epochs=6, batch=32):
        opt = net.optimizer("adam")
        opt.set_lr("weights", 1e-2)
        opt.set_lr("biases", 1e-2)
        for _ in range(epochs):
            for at in range(0, len(self.train_y), batch):
                st = net.train_step(opt, self.train_x[at:at + batch],
                                    self.train_y[at:at + batch])
            net.compress()
        return opt, st

    def test_version(self):
        self.assertEqual(tuple(int(v) for v in sc.version().split(".")[:2]),
                         sc.WRITTEN_FOR)
        self.assertIn(sc.conv_kernel(), ("avx512", "avx2", "generic"))

    def test_train_compress_save_load(self):
        net = build()
        records, logs = [], []
        net.set_progress(records.append, every=32)
        net.set_log(lambda level, msg: logs.append((level, msg)))
        opt, st = self.train(net)
        self.assertIsInstance(st, sc.StepStats)
        self.assertTrue(math.isfinite(st.loss))
        self.assertAlmostEqual(st.loss, st.task_loss + 0.005 * st.size_loss,
                               places=9)
        self.assertEqual(opt.steps, 6 * 32)
        self.assertEqual([r["step"] for r in records],
                         list(range(32, 193, 32)))

        logits = eval_logits(net, self.test_x)
        acc = float(np.mean(np.argmax(logits, 1) == self.test_y))
        self.assertGreaterEqual(acc, 0.95)

        rep = net.size_report()
        self.assertEqual(rep["weights0"], 8 * 9 + 8 * 8 * 9 + 8 * 3 * 3 * K)
        self.assertLess(rep["bits_pct"], 25.0)  # below the 8-bit start
        self.assertLessEqual(rep["weights"], rep["weights0"])
        self.assertAlmostEqual(rep["weights_pct"],
                               100.0 * rep["weights"] / rep["weights0"])
        self.assertEqual(records[-1]["bits_pct"], rep["bits_pct"])
        self.assertTrue(all(level in ("info", "warn") for level, _ in logs))
        removed = sum(1 for _, m in logs if m.startswith("compress: removed"))
        self.assertEqual(net.compress(), 0)  # all dead channels are gone
        self.assertEqual(removed > 0, rep["weights"] < rep["weights0"])

        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.scm")
            info = net.save(path)
            self.assertEqual(info["file_bytes"], os.path.getsize(path))
            with sc.Model.load(path) as m:
                self.assertEqual(m.input_shape, (C, H, W))
                self.assertEqual(m.output_size, K)
                got = m.forward(self.test_x)
        self.assertTrue(np.array_equal(got, logits))  # bit for bit
        net.close()

    def test_size_budget(self):
        net = build(gamma=0.05)
        records = []
        net.set_progress(records.append, every=1000)
        net.set_param("budget_bits_pct", 12.0)
        net.set_param("budget_weights_pct", 100.0)
        net.set_param("budget_every", 8)
        self.assertEqual(net.get_param("quant_bits_frozen"), 0)
        self.train(net, epochs=3)
        self.assertEqual(net.get_param("quant_bits_frozen"), 1)
        budget = [r for r in records if r["kind"] == sc.PROGRESS["budget"]]
        self.assertEqual(len(budget), 1)
        self.assertEqual(budget[0]["step"] % 8, 0)
        self.assertLessEqual(budget[0]["bits_pct"], 12.0)
        self.assertEqual(net.size_report()["bits_pct"], budget[0]["bits_pct"])
        with self.assertRaises(sc.SelfCompressError):
            net.set_param("budget_every", 0)
        net.close()

    def test_set_params_roundtrip(self):
        net = build(seed=3)
        p = net.get_params()
        net.set_params(np.zeros_like(p))
        self.assertFalse(net.get_params().any())
        net.set_params(p.astype(np.float64))  # converted (copied)
        self.assertTrue(np.array_equal(net.get_params(), p))
        self.assertEqual(net.get_param("gamma"), 0.005)
        self.assertEqual(net.get_param("conv_algo"), 0)  # auto
        net.set_param("conv_algo", 1)  # direct
        self.assertEqual(net.get_param("conv_algo"), 1)
        with self.assertRaises(sc.SelfCompressError):
            net.set_param("conv_algo", 2)
        self.assertEqual(net.get_param("conv_algo"), 1)

    def test_errors_raise(self):
        net = sc.Net(C, H, W)
        with self.assertRaises(sc.SelfCompressError) as cm:
            net.dense(sc.INPUT, 0)
        self.assertEqual(cm.exception.status, "SC_ERR_ARG")
        self.assertIn("sc_net_dense", cm.exception.message)
        with self.assertRaises(sc.SelfCompressError) as cm:
            net.init(1)  # no layers
        self.assertEqual(cm.exception.status, "SC_ERR_STATE")
        with self.assertRaises(sc.SelfCompressError) as cm:
            sc.Net(0, 1, 1)
        self.assertEqual(cm.exception.status, "SC_ERR_SHAPE")

        net = build()
        opt = net.optimizer("sgd")
        x = np.zeros((4, C, H, W), np.float32)
        with self.assertRaises(sc.SelfCompressError) as cm:
            net.train_step(opt, x, [0, 1, 2, K])  # label out of range
        self.assertEqual(cm.exception.status, "SC_ERR_LABEL")
        x[1, 0, 3, 3] = np.nan
        with self.assertRaises(sc.SelfCompressError) as cm:
            net.train_step(opt, x, [0, 1, 2, 3])
        self.assertEqual(cm.exception.status, "SC_ERR_NONFINITE")
        with self.assertRaises(sc.SelfCompressError) as cm:
            net.forward(np.zeros((2, C, H, W + 1), np.float32))
        self.assertEqual(cm.exception.status, "SC_ERR_SHAPE")
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.scm")
            with open(bad, "wb") as f:
                f.write(b"not a model")
            with self.assertRaises(sc.SelfCompressError) as cm:
                sc.Model.load(bad)
            self.assertEqual(cm.exception.status, "SC_ERR_FORMAT")
            with self.assertRaises(sc.SelfCompressError) as cm:
                sc.Model.load(os.path.join(d, "missing.scm"))
            self.assertEqual(cm.exception.status, "SC_ERR_IO")

    def test_every_layer_kind(self):
        """The layers sc_net_add_layer builds: depthwise and per-axis
        convolutions, padded pools, the activations, concat; they train,
        compress, save and load to the same function."""
        net = sc.Net(C, H, W)
        a = net.conv2d(sc.INPUT, 6, (3, 1), pad=(1, 0), bias=False)
        a = net.batchnorm(a)
        a = net.relu6(a)
        d = net.conv2d(a, 6, 3, pad=1, groups=6)          # depthwise
        self.assertEqual(net.layer_desc(d)["groups"], 6)
        b = net.leaky_relu(d, 0.1)
        c = net.hardswish(net.conv2d(a, 4, 1))
        x = net.concat(b, c, b)
        self.assertEqual(net.layer_shape(x), (16, H, W))
        x = net.avgpool(x, 3, stride=2, pad=1, count_pad=True)
        x = net.maxpool(x, (2, 3), stride=(2, 1), pad=(0, 1))
        x = net.dropout(net.sigmoid(x), 0.1)
        x = net.tanh(net.conv2d(x, 8, 1))
        x = net.flatten(x)
        net.dense(x, K)
        desc = net.layer_desc(d)
        self.assertEqual((desc["kind"], desc["inputs"], desc["kernel_h"],
                          desc["stride_w"], desc["pad_h"]),
                         ("conv2d", [a], 3, 1, 1))
        self.assertAlmostEqual(net.layer_desc(b)["alpha"], 0.1, places=6)
        net.init(3)
        net.quantize()
        net.set_param("gamma", 0.01)
        opt = net.optimizer("adam")
        opt.set_lr("weights", 1e-2)
        opt.set_lr("biases", 1e-2)
        losses = []
        for i in range(100):
            at = (i * 32) % 1024
            st = net.train_step(opt, self.train_x[at:at + 32],
                                self.train_y[at:at + 32])
            losses.append(st.task_loss)
        self.assertLess(np.mean(losses[-10:]), 0.5 * np.mean(losses[:10]))
        net.compress()
        with tempfile.TemporaryDirectory() as dd:
            path = os.path.join(dd, "all.scm")
            net.save(path)
            m = sc.Model.load(path)
            np.testing.assert_allclose(m.forward(self.test_x[:16]),
                                       eval_logits(net, self.test_x[:16]),
                                       rtol=1e-5, atol=1e-5)
        with self.assertRaises(ValueError):
            net.add_layer("softmax", [0])
        bad = sc.Net(C, H, W)
        with self.assertRaises(sc.SelfCompressError) as cm:
            bad.add_layer("relu", sc.INPUT, kernel=3)
        self.assertEqual(cm.exception.status, "SC_ERR_ARG")
        with self.assertRaises(sc.SelfCompressError) as cm:
            bad.conv2d(sc.INPUT, 4, 3, groups=3)  # 3 does not divide 1
        self.assertEqual(cm.exception.status, "SC_ERR_SHAPE")

    def test_import_onnx(self):
        """An ONNX fixture (tests/onnx/make_fixtures.py) imports and gives
        PyTorch's outputs; a hostile one raises with the library's code."""
        data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                            "tests", "data")
        net = sc.Net.import_onnx(os.path.join(data, "onnx", "mlp_op17.onnx"))
        x = np.fromfile(os.path.join(data, "onnx_ref", "mlp_op17.in.f32"), "<f4")
        ref = np.fromfile(os.path.join(data, "onnx_ref", "mlp_op17.out.f32"), "<f4")
        net.set_training(False)
        y = net.forward(x.reshape(2, 10, 1, 1))
        self.assertLessEqual(float(np.abs(y.ravel() - ref).max()),
                             1e-4 * float(np.abs(ref).max()))
        with self.assertRaises(sc.SelfCompressError) as cm:
            sc.Net.import_onnx(os.path.join(data, "onnx", "bad_softmax.onnx"))
        self.assertIn("Softmax", str(cm.exception))
        net.close()

    def test_layer_params_match_torch(self):
        """Weights, biases and batch-norm state set in PyTorch's layouts
        make the net compute what torch computes (when torch is there)."""
        try:
            import torch
        except ImportError:
            self.skipTest("no torch")
        torch.manual_seed(0)
        tm = torch.nn.Sequential(
            torch.nn.Conv2d(C, 6, 3, padding=1), torch.nn.BatchNorm2d(6),
            torch.nn.ReLU(), torch.nn.Conv2d(6, 6, 3, padding=1, groups=6,
                                             bias=False),
            torch.nn.Flatten(), torch.nn.Linear(6 * H * W, K)).eval()
        with torch.no_grad():
            tm[1].running_mean.uniform_(-0.5, 0.5)
            tm[1].running_var.uniform_(0.5, 2.0)
            tm[1].weight.uniform_(0.5, 1.5)
            tm[1].bias.uniform_(-0.5, 0.5)
        net = sc.Net(C, H, W)
        a = net.conv2d(sc.INPUT, 6, 3, pad=1)
        b = net.batchnorm(a)
        r = net.relu(b)
        d = net.conv2d(r, 6, 3, pad=1, groups=6, bias=False)
        f = net.dense(net.flatten(d), K)
        net.init(1)
        self.assertEqual(net.get_layer_param(d, "weight").shape, (6, 1, 3, 3))
        for layer, mod, slots in ((a, tm[0], ("weight", "bias")),
                                  (d, tm[3], ("weight",)),
                                  (f, tm[5], ("weight", "bias"))):
            for s in slots:
                net.set_layer_param(layer, s, getattr(mod, s).detach().numpy())
        for s, t in (("norm_scale", "weight"), ("norm_shift", "bias"),
                     ("running_mean", "running_mean"),
                     ("running_var", "running_var")):
            net.set_layer_param(b, s, getattr(tm[1], t).detach().numpy())
        x = self.test_x[:8]
        want = tm(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(eval_logits(net, x), want, rtol=1e-4,
                                   atol=1e-4)
        np.testing.assert_array_equal(net.get_layer_param(b, "running_var"),
                                      tm[1].running_var.numpy())
        with self.assertRaises(sc.SelfCompressError) as cm:
            net.get_layer_param(r, "weight")
        self.assertEqual(cm.exception.status, "SC_ERR_ARG")
        with self.assertRaises(ValueError):
            net.get_layer_param(a, "gamma")

    def test_losses(self):
        """Float targets train a regressor (MSE) and a multi-label net
        (BCE); the host's loss, given softmax cross-entropy's gradient,
        takes the library's own step."""
        x, y = self.train_x[:64], self.train_y[:64]
        onehot = np.eye(K, dtype=np.float32)[y]
        for kind in ("mse", "bce_logits"):
            net = build(gamma=0.0)
            net.set_loss(kind)
            opt = net.optimizer("adam")
            first = net.train_step(opt, x, targets=onehot)
            self.assertEqual(first.loss_kind, kind)
            for _ in range(30):
                st = net.train_step(opt, x, targets=onehot)
            self.assertLess(st.task_loss, 0.5 * first.task_loss)
            with self.assertRaises(sc.SelfCompressError) as cm:
                net.train_step(opt, x, labels=y)
            self.assertEqual(cm.exception.status, "SC_ERR_ARG")
        net = build()
        net.set_loss("softmax_xent", class_weights=[1, 2, 3, 4],
                     label_smoothing=0.1)
        self.assertTrue(math.isfinite(
            net.train_step(net.optimizer("sgd"), x, y).loss))
        with self.assertRaises(sc.SelfCompressError):
            net.set_loss("softmax_xent", class_weights=[1, 2])
        with self.assertRaises(ValueError):
            net.set_loss("hinge")
        # the host's loss: dL/dz of mean softmax cross-entropy
        a, b = build(seed=5), build(seed=5)
        b.set_loss("host")
        oa, ob = a.optimizer("sgd"), b.optimizer("sgd")
        for _ in range(3):
            sa = a.train_step(oa, x, y)
            z = b.train_forward(x).astype(np.float64)
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            loss = -np.log(p[np.arange(len(y)), y]).mean()
            g = (p - np.eye(K)[y]) / len(y)
            sb = b.train_backward(ob, g, loss)
            self.assertAlmostEqual(sa.task_loss, sb.task_loss, places=5)
            self.assertEqual(sb.loss_kind, "host")
        np.testing.assert_allclose(a.get_params(), b.get_params(), rtol=1e-4,
                                   atol=1e-5)

    def test_callback_exception_is_raised(self):
        net = build()
        opt = net.optimizer()

        def boom(_record):
            raise RuntimeError("from the hook")
        net.set_progress(boom, every=1)
        with self.assertRaisesRegex(RuntimeError, "from the hook"):
            net.train_step(opt, self.train_x[:8], self.train_y[:8])
        net.set_progress(None)
        net.train_step(opt, self.train_x[:8], self.train_y[:8])

    def test_zero_copy(self):
        a = np.arange(2 * C * H * W, dtype=np.float32).reshape(2, C, H, W)
        t = sc.Tensor(a)
        self.assertIs(t.array, a)                      # no conversion
        self.assertEqual(t.data_pointer(), a.ctypes.data)  # same buffer
        a[1, 0, 5, 7] = -42.0                          # the library sees it
        self.assertEqual(t.copy()[1, 0, 5, 7], -42.0)

        net = build()
        net.set_training(False)
        before = net.forward(t)
        a[0] += 1.0
        after = net.forward(t)
        self.assertTrue(np.array_equal(after[1], before[1]))
        self.assertFalse(np.array_equal(after[0], before[0]))

        # non-contiguous or float64 input is converted: a copy, same result
        f = np.asfortranarray(a)
        tf = sc.Tensor(f)
        self.assertIsNot(tf.array, f)
        self.assertTrue(np.array_equal(net.forward(f), after))
        self.assertTrue(np.array_equal(net.forward(a.astype(np.float64)),
                                       after))


if __name__ == "__main__":
    unittest.main()
