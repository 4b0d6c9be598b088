"""An evaluator of ONNX graphs in NumPy, for the operators the library's
exporter writes (docs/onnx.md, export), written from the ONNX operator
definitions and sharing no code with the library or with ONNX's own
reference implementation: every operator is computed here in float64 from
its definition, so a graph that evaluates to the library's outputs computes
what the library computes.

    import onnx_numpy
    y = onnx_numpy.run(onnx.load(path), {"input": x})["logits"]

Only what the definitions say for these operators and attributes is
implemented; anything else raises NotImplementedError, so an exporter
writing something new shows up here first.
"""
import numpy as np
from onnx import numpy_helper


def _attrs(node):
    out = {}
    for a in node.attribute:
        if a.type == a.INT:
            out[a.name] = a.i
        elif a.type == a.FLOAT:
            out[a.name] = a.f
        elif a.type == a.INTS:
            out[a.name] = list(a.ints)
        elif a.type == a.STRING:
            out[a.name] = a.s.decode()
        else:
            raise NotImplementedError(f"attribute {a.name} of type {a.type}")
    return out


def _pad_hw(x, pads, value):
    """x (N, C, H, W) with pads [top, left, bottom, right] of value"""
    t, l, b, r = pads
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def _windows(x, kh, kw, sh, sw):
    """the (oh, ow) windows of x (N, C, H, W): an array (N, C, oh, ow, kh, kw)"""
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.empty((n, c, oh, ow, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out[..., i, j] = x[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
    return out


def _window_params(a, x):
    ks = a["kernel_shape"]
    strides = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    if a.get("auto_pad", "NOTSET") != "NOTSET" or any(d != 1 for d in a.get("dilations", [1, 1])):
        raise NotImplementedError("auto_pad or dilations")
    if a.get("ceil_mode", 0):
        raise NotImplementedError("ceil_mode")
    # ONNX pads: [x1_begin, x2_begin, x1_end, x2_end]
    return ks, strides, [pads[0], pads[1], pads[2], pads[3]]


def conv(a, x, w, b=None):
    """Y[n, o] = sum over the group's input channels c and taps (i, j) of
    W[o, c, i, j] X[n, g * C/G + c, y * s + i - p, x * s + j - p], plus B[o]"""
    if "kernel_shape" not in a:
        a = dict(a, kernel_shape=list(w.shape[2:]))
    ks, (sh, sw), pads = _window_params(a, x)
    g = a.get("group", 1)
    n, c, _, _ = x.shape
    o, cg, kh, kw = w.shape
    assert cg * g == c and o % g == 0 and [kh, kw] == list(ks)
    xp = _pad_hw(x, pads, 0.0)
    win = _windows(xp, kh, kw, sh, sw)                 # n, c, oh, ow, kh, kw
    oh, ow = win.shape[2], win.shape[3]
    win = win.reshape(n, g, cg, oh, ow, kh, kw)
    wg = w.reshape(g, o // g, cg, kh, kw)
    y = np.einsum("ngcyxij,gocij->ngoyx", win, wg).reshape(n, o, oh, ow)
    if b is not None:
        y = y + b.reshape(1, o, 1, 1)
    return y


def gemm(a, x, bm, c=None):
    """Y = alpha A' B' + beta C, A' = A or A^T (transA), B' likewise"""
    A = x.T if a.get("transA", 0) else x
    B = bm.T if a.get("transB", 0) else bm
    y = a.get("alpha", 1.0) * (A @ B)
    if c is not None:
        y = y + a.get("beta", 1.0) * c
    return y


def dequantize(a, x, scale, zero=None):
    """y = (x - x_zero_point) * x_scale; a 1-D scale along axis (default 1)"""
    xf = x.astype(np.float64)
    z = np.zeros_like(scale, dtype=np.float64) if zero is None else zero.astype(np.float64)
    if scale.ndim == 0:  # per tensor
        return (xf - z) * scale.astype(np.float64)
    axis = a.get("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    return (xf - z.reshape(shape)) * scale.astype(np.float64).reshape(shape)


def batchnorm(a, x, scale, bias, mean, var):
    """Y = (X - mean) / sqrt(var + epsilon) * scale + B, channel axis 1"""
    if a.get("training_mode", 0):
        raise NotImplementedError("training_mode")
    shape = [1, -1] + [1] * (x.ndim - 2)
    eps = a.get("epsilon", 1e-5)
    return ((x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) *
            scale.reshape(shape) + bias.reshape(shape))


def maxpool(a, x):
    """the max over each window; the padding never wins (-inf)"""
    ks, (sh, sw), pads = _window_params(a, x)
    if a.get("storage_order", 0):
        raise NotImplementedError("storage_order")
    return _windows(_pad_hw(x, pads, -np.inf), ks[0], ks[1], sh, sw).max(axis=(4, 5))


def avgpool(a, x):
    """the mean over each window: over all kh * kw of it with
    count_include_pad, else over its elements inside the input"""
    ks, (sh, sw), pads = _window_params(a, x)
    s = _windows(_pad_hw(x, pads, 0.0), ks[0], ks[1], sh, sw).sum(axis=(4, 5))
    if a.get("count_include_pad", 0):
        return s / (ks[0] * ks[1])
    inside = _windows(_pad_hw(np.ones_like(x[:1, :1]), pads, 0.0), ks[0], ks[1], sh, sw)
    return s / inside.sum(axis=(4, 5))


def flatten(a, x):
    """(d0 ... d_{axis-1}) x (d_axis ... d_n)"""
    axis = a.get("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def clip(a, x, lo=None, hi=None):
    """min(max(x, min), max), the bounds as inputs (opset 11 on)"""
    if lo is not None:
        x = np.maximum(x, lo)
    if hi is not None:
        x = np.minimum(x, hi)
    return x


OPS = {
    "Conv": conv,
    "Gemm": gemm,
    "DequantizeLinear": dequantize,
    "BatchNormalization": batchnorm,
    "MaxPool": maxpool,
    "AveragePool": avgpool,
    "GlobalAveragePool": lambda a, x: x.mean(axis=(2, 3), keepdims=True),
    "GlobalMaxPool": lambda a, x: x.max(axis=(2, 3), keepdims=True),
    "Flatten": flatten,
    "Relu": lambda a, x: np.maximum(x, 0.0),
    "LeakyRelu": lambda a, x: np.where(x >= 0, x, a.get("alpha", 0.01) * x),
    "Clip": clip,
    "Sigmoid": lambda a, x: 1.0 / (1.0 + np.exp(-x)),
    "Tanh": lambda a, x: np.tanh(x),
    # y = x * max(0, min(1, alpha x + beta)), alpha = 1/6, beta = 0.5
    "HardSwish": lambda a, x: x * np.clip(x / 6.0 + 0.5, 0.0, 1.0),
    "Add": lambda a, x, y: x + y,
    "Concat": lambda a, *xs: np.concatenate(xs, axis=a["axis"]),
    "Identity": lambda a, x: x,
}


def run(model, feeds):
    """The graph's outputs (a dict by name) for the inputs in feeds, in
    float64; initializers as integers stay integers until dequantized."""
    g = model.graph
    vals = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for t in vals:
        if vals[t].dtype == np.float32:
            vals[t] = vals[t].astype(np.float64)
    for k, v in feeds.items():
        vals[k] = np.asarray(v, dtype=np.float64)
    for node in g.node:  # a valid graph lists its nodes in topological order
        if node.domain not in ("", "ai.onnx") or node.op_type not in OPS:
            raise NotImplementedError(f"operator {node.domain}:{node.op_type}")
        args = [vals[i] if i else None for i in node.input]
        vals[node.output[0]] = OPS[node.op_type](_attrs(node), *args)
    return {o.name: vals[o.name] for o in g.output}
