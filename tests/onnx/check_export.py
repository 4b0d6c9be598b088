#!/usr/bin/python3
"""Checks the ONNX files the library exported (tests/onnx_export.sh).

    /usr/bin/python3 tests/onnx/check_export.py DIR

For each DIR/NAME.onnx (with NAME.in.f32, a batch of inputs, and
NAME.out.f32, the library's outputs for it, raw float32, which
tests/test_onnx.c's export_files case writes): onnx.checker.check_model with
full_check (the graph, and shape inference over it) passes; the input is
"input" (N x C x H x W, N symbolic) and the output "logits"; the opset is 13
or later; the graph, evaluated by onnx_numpy.py (NumPy, from the operator
definitions), gives the library's outputs within 1e-5 of the largest; and a
quantised net (NAME with _q) has its weights as INT8 initializers read by
DequantizeLinear. Prints one line per file; exits 1 on any failure.
"""
import glob
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onnx_numpy  # noqa: E402

TOL = 1e-5


def check(path):
    name = os.path.basename(path)[:-len(".onnx")]
    base = path[:-len(".onnx")]
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    assert opset and opset[0] >= 13, f"opset {opset}"
    assert model.producer_name == "libselfcompress", model.producer_name
    g = model.graph
    assert [i.name for i in g.input] == ["input"], [i.name for i in g.input]
    assert [o.name for o in g.output] == ["logits"], [o.name for o in g.output]
    dims = g.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and len(dims) == 4, dims
    shape = [d.dim_value for d in dims[1:]]
    x = np.fromfile(base + ".in.f32", dtype="<f4").reshape([-1] + shape)
    want = np.fromfile(base + ".out.f32", dtype="<f4").reshape(x.shape[0], -1)
    got = onnx_numpy.run(model, {"input": x})["logits"].reshape(want.shape)
    top = float(np.abs(want).max())
    err = float(np.abs(got - want).max())
    assert err <= TOL * top, f"NumPy differs by {err:.3g}, largest {top:.3g}"
    int8 = {t.name for t in g.initializer if t.data_type == onnx.TensorProto.INT8}
    deq = [n for n in g.node if n.op_type == "DequantizeLinear"]
    assert all(n.input[0] in int8 for n in deq)
    if "_q" in name:
        assert deq, "a quantised net without DequantizeLinear"
        for n in deq:
            axis = [a.i for a in n.attribute if a.name == "axis"]
            assert axis == [0], axis
    return f"{name}: {os.path.getsize(path)} bytes, checker OK, {len(g.node)} nodes, " \
           f"{len(deq)} DequantizeLinear, NumPy max difference {err:.2g} " \
           f"(largest output {top:.3g})"


def main():
    files = sorted(glob.glob(os.path.join(sys.argv[1], "*.onnx")))
    if not files:
        print("check_export: no .onnx files in", sys.argv[1])
        return 1
    failed = 0
    for f in files:
        try:
            print("check_export:", check(f))
        except Exception as e:  # report every file, then fail
            failed += 1
            print(f"check_export: FAIL {os.path.basename(f)}: {type(e).__name__}: {e}")
    print(f"check_export: {len(files) - failed} of {len(files)} files pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
