#!/usr/bin/python3
"""Writes the importer's DequantizeLinear fixtures (tests/test_onnx.c) with
the onnx helper (Debian's python3-onnx; no PyTorch):
    /usr/bin/python3 tests/onnx/make_dequant_fixtures.py
dq_int.onnx: a Conv whose weights are an INT8 initializer (raw_data) read by
a DequantizeLinear with one scale per output channel (axis 0) and a zero
zero point, then a Gemm whose B is INT8 (int32_data) with one scale and a
zero point of 3 for the whole tensor, its axis attribute absent.
dq_float.onnx: the same net with those weights as the float32 values
(x - zero_point) * scale, which the importer must give the first the same
outputs as bit for bit. bad_dq_*.onnx and bad_add_const.onnx: what it must
refuse, each named by its error. Nothing is random but the weights, from a
fixed seed.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "onnx")
rng = np.random.default_rng(17)
wq = rng.integers(-128, 128, size=(3, 2, 3, 3)).astype(np.int8)
ws = np.array([2.0 ** -7, 2.0 ** -6.5, 2.0 ** -8], dtype=np.float32)
bq = rng.integers(-100, 100, size=(75, 4)).astype(np.int8)
bs = np.float32(2.0 ** -7.25)
bz = np.int8(3)


def int8_init(name, a, raw=True):
    t = helper.make_tensor(name, TensorProto.INT8, a.shape,
                           a.tobytes() if raw else a.astype(np.int32).ravel().tolist(),
                           raw=raw)
    return t


def graph(inits, nodes, name):
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 2, 5, 5])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 4])
    g = helper.make_graph(nodes, name, [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def net(weights, conv_in="w", extra=()):
    """Conv(3x3, pad 1) -> Relu -> Flatten -> Gemm(B 75 x 4)"""
    nodes = list(extra) + [
        helper.make_node("Conv", ["input", conv_in], ["c"], name="conv",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("Flatten", ["r"], ["f"], name="flat", axis=1),
        helper.make_node("Gemm", ["f", "b"], ["logits"], name="gemm"),
    ]
    return nodes


def save(m, name):
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))


def dq_nodes(w_axis=True):
    a = {"axis": 0} if w_axis else {}
    return [helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], name="dq_w", **a),
            helper.make_node("DequantizeLinear", ["bq", "bs", "bz"], ["b"], name="dq_b")]


def dq_inits(wscale=ws, wzero=None, wq_t=None):
    return [int8_init("wq", wq) if wq_t is None else wq_t,
            numpy_helper.from_array(wscale, "ws"),
            int8_init("wz", np.zeros(3, np.int8) if wzero is None else wzero),
            int8_init("bq", bq, raw=False),
            numpy_helper.from_array(np.array(bs, dtype=np.float32), "bs"),
            int8_init("bz", np.array(bz, dtype=np.int8))]


def main():
    os.makedirs(OUT, exist_ok=True)
    save(graph(dq_inits(), net(None, extra=dq_nodes()), "dq_int"), "dq_int")
    w = ((wq.astype(np.float32) - 0.0) * ws.reshape(3, 1, 1, 1)).astype(np.float32)
    b = ((bq.astype(np.float32) - np.float32(bz)) * bs).astype(np.float32)
    save(graph([numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
               net(None), "dq_float"), "dq_float")
    # two scales for three channels
    save(graph(dq_inits(wscale=ws[:2], wzero=np.zeros(2, np.int8)),
               net(None, extra=dq_nodes()), "bad"), "bad_dq_scale_count")
    # a zero point of another shape than the scale
    save(graph(dq_inits(wzero=np.zeros(2, np.int8)), net(None, extra=dq_nodes()), "bad"),
         "bad_dq_zero_shape")
    # uint8 levels
    u = helper.make_tensor("wq", TensorProto.UINT8, wq.shape, wq.astype(np.uint8).tobytes(), raw=True)
    inits = dq_inits(wq_t=u)
    inits[2] = helper.make_tensor("wz", TensorProto.UINT8, [3], bytes(3), raw=True)
    save(graph(inits, net(None, extra=dq_nodes()), "bad"), "bad_dq_uint8")
    # levels shorter than their shape
    short = int8_init("wq", wq)
    short.raw_data = wq.tobytes()[:-1]
    m = graph(dq_inits(wq_t=short), net(None, extra=dq_nodes()), "bad")
    onnx.save(m, os.path.join(OUT, "bad_dq_short.onnx"))  # the checker refuses it too
    # a constant added to a relu's output (only a Gemm's or Conv's takes one)
    nodes = net(None)
    nodes.insert(2, helper.make_node("Add", ["r", "k"], ["r2"], name="add"))
    nodes[3] = helper.make_node("Flatten", ["r2"], ["f"], name="flat", axis=1)
    k = np.ones((1, 3, 5, 5), np.float32)
    save(graph([numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b"),
                numpy_helper.from_array(k, "k")], nodes, "bad"), "bad_add_const")


if __name__ == "__main__":
    main()
