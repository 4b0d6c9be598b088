#!/usr/bin/python3
"""check_onnx_import.py -- end-to-end check of the ONNX import on nets that
PyTorch trained: for each --nets net, examples/pretrain_torch.py trains it on
Fashion-MNIST and exports it (with the logits of the first 1,000 test images),
build/examples/fashion_mnist --eval-onnx imports and evaluates it (eval mode)
and dumps its logits of the same images, and this script compares them:

  - max |ours - torch| <= 1e-4 * max |torch| (over all 1,000 x 10 logits);
  - the predicted classes agree on every image, and no image is a near tie
    (PyTorch's two largest logits closer than that tolerance).

One line per net,

  CHECK net=.. epochs=.. torch_accuracy=.. imported_accuracy=.. max_abs_diff=..
        max_abs_logit=.. rel_diff=.. min_margin=.. class_agree=../1000 ok=0|1

and the exit status is 0 when every net passed. Needs `make examples` and
/usr/bin/python3 with torch, onnx and numpy; not part of make check (it
trains). Example (the machine's 2 cores shared, one thread each):

    /usr/bin/python3 examples/check_onnx_import.py --nets tinynet,dscnn \\
        --epochs 1 --train-limit 20000
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
COUNT = 1000
REL_TOL = 1e-4


def field(out, tag, key):
    """key=value from the output line starting with tag."""
    for line in out.splitlines():
        if line.startswith(tag + " "):
            for kv in line.split()[1:]:
                k, _, v = kv.partition("=")
                if k == key:
                    return v
    raise SystemExit(f"no {tag} line with {key}= in:\n{out}")


def run(cmd):
    print("+ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def check(np, a, net):
    onnx = os.path.join(a.workdir, f"{net}.onnx")
    ref = os.path.join(a.workdir, f"{net}.torch.f32")
    ours = os.path.join(a.workdir, f"{net}.ours.f32")
    cmd = [sys.executable, os.path.join(HERE, "pretrain_torch.py"), "--net", net,
           "--epochs", str(a.epochs), "--seed", str(a.seed), "--threads", str(a.threads),
           "--out", onnx, "--ref", ref, "--ref-count", str(COUNT)]
    if a.train_limit:
        cmd += ["--train-limit", str(a.train_limit)]
    out = run(cmd)
    torch_acc = float(field(out, "PRETRAIN", "accuracy"))
    out = run([a.bin, "--net", net, "--threads", str(a.threads), "--eval-onnx", onnx,
               "--dump-logits", ours, "--dump-count", str(COUNT)])
    ours_acc = float(field(out, "ONNX", "accuracy"))
    t = np.fromfile(ref, dtype=np.float32).reshape(-1, 10).astype(np.float64)
    o = np.fromfile(ours, dtype=np.float32).reshape(-1, 10).astype(np.float64)
    if t.shape != (COUNT, 10) or o.shape != (COUNT, 10):
        raise SystemExit(f"{net}: logits of shape {t.shape} and {o.shape}")
    diff = float(np.abs(o - t).max())
    big = float(np.abs(t).max())
    tol = REL_TOL * big
    top2 = np.sort(t, axis=1)[:, -2:]
    margin = float((top2[:, 1] - top2[:, 0]).min())
    agree = int((o.argmax(1) == t.argmax(1)).sum())
    ok = diff <= tol and agree == COUNT and margin > tol
    print(f"CHECK net={net} epochs={a.epochs} torch_accuracy={torch_acc:.4f} "
          f"imported_accuracy={ours_acc:.4f} max_abs_diff={diff:.3g} "
          f"max_abs_logit={big:.4g} rel_diff={diff / big:.3g} "
          f"min_margin={margin:.3g} class_agree={agree}/{COUNT} ok={int(ok)}",
          flush=True)
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nets", default="tinynet,dscnn",
                   help="comma-separated (tinynet, dscnn, cnn, seq1d, mlp)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--train-limit", type=int, default=0,
                   help="PyTorch trains on the first N training images (0: all)")
    p.add_argument("--workdir", default="/tmp/check_onnx_import")
    p.add_argument("--bin", default=os.path.join(ROOT, "build", "examples", "fashion_mnist"))
    a = p.parse_args()
    import numpy as np
    if not os.access(a.bin, os.X_OK):
        raise SystemExit(f"{a.bin}: not built (make examples)")
    os.makedirs(a.workdir, exist_ok=True)
    results = [check(np, a, net) for net in a.nets.split(",") if net]
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
