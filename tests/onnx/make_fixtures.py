#!/usr/bin/python3
"""Writes the ONNX import test fixtures (tests/test_onnx.c, the fuzzer's seeds).

Run with /usr/bin/python3 (Debian's python3-torch and python3-onnx):
    /usr/bin/python3 tests/onnx/make_fixtures.py
Small PyTorch nets with random weights and batch-norm statistics, covering every
operator the importer maps, exported with torch.onnx.export at opsets 11 and 17
into tests/data/onnx/NAME.onnx; PyTorch's eval-mode outputs for a fixed input
into tests/data/onnx_ref/NAME.in.f32 and NAME.out.f32 (raw little-endian
float32). Graphs PyTorch does not write (asymmetric pads, Dropout and Identity
nodes) are edited or built with the onnx helper; hostile files (bad_*.onnx) are
built with it too, each named by the error it must get. Nothing is trained.
"""
import io
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
OUT = os.path.join(ROOT, "onnx")
REF = os.path.join(ROOT, "onnx_ref")
BATCH = 2


def randomise(m, seed):
    """Random weights, and batch-norm scales, shifts and running statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.rand(p.shape, generator=g) - 0.5)
        for mod in m.modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=g) + 0.5)
                mod.running_mean.copy_(torch.rand(mod.running_mean.shape, generator=g) - 0.5)
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=g) + 0.5)
    return m.eval()


class ConvBn(nn.Module):
    """Conv (bias-free) + BatchNorm + Relu, MaxPool with padding, grouped
    strided Conv with bias, LeakyRelu, AveragePool, Conv + ceil_mode
    MaxPool, Flatten, Gemm (transB 1)."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.p1 = nn.MaxPool2d(3, 2, padding=1)
        self.c2 = nn.Conv2d(4, 8, (3, 1), stride=(1, 2), padding=(1, 0), groups=2)
        self.p2 = nn.AvgPool2d((1, 2), 1)
        self.c3 = nn.Conv2d(8, 6, 1)
        self.p3 = nn.MaxPool2d((2, 1), (2, 1), ceil_mode=True)
        self.fc = nn.Linear(6 * 2 * 1, 5)

    def forward(self, x):
        x = self.p1(F.relu(self.bn(self.c1(x))))
        x = self.p2(F.leaky_relu(self.c2(x), 0.1))
        x = self.p3(self.c3(x))
        return self.fc(torch.flatten(x, 1))


class Mobile(nn.Module):
    """Depthwise Conv + BatchNorm + ReLU6 (Clip), pointwise Conv +
    Hardswish, AveragePool without the padding, GlobalAveragePool,
    Flatten, Gemm."""

    def __init__(self):
        super().__init__()
        self.dw = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False)
        self.bn = nn.BatchNorm2d(3)
        self.pw = nn.Conv2d(3, 8, 1)
        self.bn2 = nn.BatchNorm2d(8)
        self.pool = nn.AvgPool2d(3, 2, padding=1, count_include_pad=False)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        x = F.relu6(self.bn(self.dw(x)))
        x = F.hardswish(self.bn2(self.pw(x)))
        x = F.adaptive_avg_pool2d(self.pool(x), 1)
        return self.fc(torch.flatten(x, 1))


class Branches(nn.Module):
    """A residual Add, a Concat of two branches, GlobalMaxPool, Reshape to
    2-D, MatMul + Add (a dense layer with bias), Sigmoid, a Gemm with
    transB 0 (addmm), Tanh."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(2, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.c3 = nn.Conv2d(2, 3, 1)
        self.w1 = nn.Parameter(torch.zeros(7, 6))
        self.b1 = nn.Parameter(torch.zeros(6))
        self.w2 = nn.Parameter(torch.zeros(6, 3))
        self.b2 = nn.Parameter(torch.zeros(3))

    def forward(self, x):
        a = F.relu(self.c1(x))
        a = F.relu(self.c2(a) + a)
        x = torch.cat([a, self.c3(x)], 1)
        x = F.adaptive_max_pool2d(x, 1).reshape(-1, 7)
        x = torch.sigmoid(x @ self.w1 + self.b1)
        return torch.tanh(torch.addmm(self.b2, x, self.w2))


class Mlp(nn.Module):
    """An N x F input: Gemm, BatchNorm1d, Tanh, Gemm without bias."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 12)
        self.bn = nn.BatchNorm1d(12)
        self.fc2 = nn.Linear(12, 3, bias=False)

    def forward(self, x):
        return self.fc2(torch.tanh(self.bn(self.fc1(x))))


class Padded(nn.Module):
    """AvgPool2d with padding, which PyTorch writes as Pad + AveragePool: the
    Pad becomes the pool's padding (counted in the mean)."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool2d(3, 2, padding=1)
        self.conv = nn.Conv2d(2, 3, 3)

    def forward(self, x):
        return torch.flatten(self.conv(self.pool(x)), 1)


NETS = [("convbn", ConvBn, (3, 8, 8)), ("mobile", Mobile, (3, 8, 8)),
        ("branches", Branches, (2, 6, 6)), ("mlp", Mlp, (10,)),
        ("padded", Padded, (2, 6, 6))]


def export(m, x, opset):
    """PRESERVE keeps batch norms as nodes; a net without any exports in
    EVAL mode, whose constant folding turns F.pad's pads into a constant."""
    has_bn = any(isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)) for mod in m.modules())
    mode = torch.onnx.TrainingMode.PRESERVE if has_bn else torch.onnx.TrainingMode.EVAL
    f = io.BytesIO()
    torch.onnx.export(m, x, f, opset_version=opset, input_names=["x"],
                      output_names=["y"], training=mode,
                      dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    return onnx.load_from_string(f.getvalue())


def insert_after(model, node_index, op_type, **attrs):
    """Puts an op_type node between node node_index and its readers."""
    g = model.graph
    src = g.node[node_index].output[0]
    mid = src + "_" + op_type.lower()
    for n in g.node:
        for i, name in enumerate(n.input):
            if name == src:
                n.input[i] = mid
    for o in g.output:
        if o.name == src:
            o.name = mid
    g.node.insert(node_index + 1, helper.make_node(op_type, [src], [mid], name=mid, **attrs))


def write(name, model, x, y):
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(data)
    x.detach().numpy().astype("<f4").tofile(os.path.join(REF, name + ".in.f32"))
    y.detach().numpy().astype("<f4").tofile(os.path.join(REF, name + ".out.f32"))
    print("%-20s %6d bytes  ops %s" % (name, len(data),
                                       sorted({n.op_type for n in model.graph.node})))


def nets():
    for i, (name, cls, shape) in enumerate(NETS):
        m = randomise(cls(), 100 + i)
        x = torch.rand((BATCH,) + shape, generator=torch.Generator().manual_seed(7)) * 2 - 1
        with torch.no_grad():
            y = m(x)
        for opset in (11, 17):
            model = export(m, x, opset)
            if name == "mlp":  # Dropout (its mask unread) and Identity: dropped
                insert_after(model, 0, "Identity")
                g = model.graph
                k = [n.op_type for n in g.node].index("Tanh")
                insert_after(model, k, "Dropout")
            write("%s_op%d" % (name, opset), model, x, y)


def conv_model(name, pads, strides, opset=13, dil=None, w_shape=(2, 1, 3, 3),
               in_shape=(1, 5, 5), w=None, raw=True, out_shape=None):
    """One Conv (helper-built) on an N x 1 x 5 x 5 input."""
    g = torch.Generator().manual_seed(3)
    if w is None:
        w = (torch.rand(w_shape, generator=g) - 0.5).numpy()
    wt = numpy_helper.from_array(w.astype(np.float32), "w")
    if not raw:
        wt = helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.flatten().tolist())
    attrs = {"pads": pads, "strides": strides}
    if dil:
        attrs["dilations"] = dil
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", **attrs)
    graph = helper.make_graph([node], name, [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["n"] + list(in_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], [wt])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), w


def edited():
    """Asymmetric pads the library represents (the extra end row is never
    read), weights as float_data; AveragePool with count_include_pad;
    GlobalMaxPool (PyTorch writes adaptive_max_pool2d as MaxPool)."""
    model, w = conv_model("asym", [1, 0, 2, 1], [2, 2], raw=False, out_shape=["n", 2, 3, 2])
    x = torch.rand((BATCH, 1, 5, 5), generator=torch.Generator().manual_seed(9)) * 2 - 1
    y = F.conv2d(F.pad(x, (0, 1, 1, 2)), torch.from_numpy(w), stride=2)
    write("asym_pads", model, x, y)
    for opset in (11, 17):
        node = helper.make_node("AveragePool", ["x"], ["y"], name="pool", kernel_shape=[3, 3],
                                pads=[1, 1, 1, 1], strides=[2, 2], count_include_pad=1)
        graph = helper.make_graph([node], "avg", [helper.make_tensor_value_info(
            "x", TensorProto.FLOAT, ["n", 2, 5, 5])], [helper.make_tensor_value_info(
                "y", TensorProto.FLOAT, ["n", 2, 3, 3])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        x = torch.rand((BATCH, 2, 5, 5), generator=torch.Generator().manual_seed(11)) * 2 - 1
        y = F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=True)
        write("avgpool_pad_op%d" % opset, model, x, y)
        nodes = [helper.make_node("GlobalMaxPool", ["x"], ["g"], name="gmax"),
                 helper.make_node("Flatten", ["g"], ["y"], name="flat")]
        graph = helper.make_graph(nodes, "gmax", [helper.make_tensor_value_info(
            "x", TensorProto.FLOAT, ["n", 3, 4, 5])], [helper.make_tensor_value_info(
                "y", TensorProto.FLOAT, ["n", 3])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        x = torch.rand((BATCH, 3, 4, 5), generator=torch.Generator().manual_seed(13)) * 2 - 1
        write("gmaxpool_op%d" % opset, model, x, torch.amax(x, dim=(2, 3)))
    # a Pad (its pads an initializer) before a Conv: the Conv's padding
    pads = numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 1, 2], np.int64), "pads")
    w = (torch.rand((2, 1, 3, 3), generator=torch.Generator().manual_seed(15)) - 0.5).numpy()
    nodes = [helper.make_node("Pad", ["x", "pads"], ["p"], name="pad", mode="constant"),
             helper.make_node("Conv", ["p", "w"], ["y"], name="conv", strides=[1, 2])]
    graph = helper.make_graph(nodes, "padconv", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["n", 1, 5, 6])], [helper.make_tensor_value_info(
            "y", TensorProto.FLOAT, ["n", 2, 5, 4])], [pads, numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    x = torch.rand((BATCH, 1, 5, 6), generator=torch.Generator().manual_seed(17)) * 2 - 1
    write("pad_conv", model, x, F.conv2d(x, torch.from_numpy(w), stride=(1, 2), padding=(1, 2)))


def bad(name, model, check=False):
    if check:
        onnx.checker.check_model(model)
    data = model.SerializeToString()
    with open(os.path.join(OUT, "bad_" + name + ".onnx"), "wb") as f:
        f.write(data)
    print("%-20s %6d bytes" % ("bad_" + name, len(data)))


def graph_of(nodes, inits=(), out="y", in_shape=(1, 4, 4), opset=13):
    graph = helper.make_graph(nodes, "bad", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, ["n"] + list(in_shape))],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def hostile():
    relu = lambda i, o, n: helper.make_node("Relu", [i], [o], name=n)
    # SC_ERR_FORMAT
    bad("cycle", graph_of([relu("x", "a", "r0"), helper.make_node("Add", ["a", "c"], ["b"], name="add"),
                           relu("b", "c", "r2"), relu("c", "y", "r3")]))
    bad("unknown_name", graph_of([helper.make_node("Add", ["x", "nope"], ["y"], name="add")]))
    w = numpy_helper.from_array(np.zeros((2, 1, 3, 3), np.float32), "w")
    short = onnx.TensorProto()
    short.CopyFrom(w)
    short.raw_data = short.raw_data[:8]
    bad("short_init", graph_of([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [short]))
    huge = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 40, 1, 1])
    huge.raw_data = b"\0" * 16
    bad("huge_dims", graph_of([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [huge]))
    neg = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, -1, 3, 3])
    neg.raw_data = b"\0" * 16
    bad("negative_dims", graph_of([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [neg]))
    neg_in = graph_of([relu("x", "y", "r")])
    neg_in.graph.input[0].type.tensor_type.shape.dim[2].dim_value = -4
    bad("negative_input", neg_in)
    # SC_ERR_UNSUPPORTED
    bad("softmax", graph_of([helper.make_node("Flatten", ["x"], ["f"], name="flat"),
                             helper.make_node("Softmax", ["f"], ["y"], name="soft")]))
    bad("dilation", conv_model("dil", [0, 0, 0, 0], [1, 1], dil=[2, 2])[0])
    bad("asym_pads", conv_model("asym", [1, 1, 0, 0], [1, 1])[0])
    lo = numpy_helper.from_array(np.array(-1.0, np.float32), "lo")
    hi = numpy_helper.from_array(np.array(1.0, np.float32), "hi")
    bad("clip", graph_of([helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="clip")], [lo, hi]))
    bad("opset9", graph_of([relu("x", "y", "r")], opset=9))
    huge_in = graph_of([relu("x", "y", "r")])
    huge_in.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 1 << 40
    bad("huge_input", huge_in)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(REF, exist_ok=True)
    torch.manual_seed(0)
    nets()
    edited()
    hostile()
