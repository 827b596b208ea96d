#!/usr/bin/env python3
"""The HDR-NN in NumPy, vectorised per mini-batch (the classic network.py
written with matrix products), for `npm run bench` to compare against.

  numpy_mlp.py MNIST_DIR HIDDEN BATCH [--peak]

Prints one JSON line: seconds for one epoch of 60,000 images, test accuracy,
and the BLAS in use. With --peak, the GFLOP/s of a 2048x2048 float32 matmul.
"""
import json
import sys
import time

import numpy as np


def idx(path, offset):
    return np.fromfile(path, dtype=np.uint8, offset=offset)


def main():
    if sys.argv[-1] == "--peak":
        a = np.random.rand(2048, 2048).astype(np.float32)
        b = np.random.rand(2048, 2048).astype(np.float32)
        a @ b
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(4):
                a @ b
            best = min(best, (time.perf_counter() - t) / 4)
        print(json.dumps({"gflops": 2 * 2048**3 / best / 1e9, "blas": blas()}))
        return
    folder, hidden, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    x = idx(f"{folder}/train-images-idx3-ubyte", 16).reshape(-1, 784)
    y = idx(f"{folder}/train-labels-idx1-ubyte", 8)
    tx = idx(f"{folder}/t10k-images-idx3-ubyte", 16).reshape(-1, 784).astype(np.float32) / 255
    ty = idx(f"{folder}/t10k-labels-idx1-ubyte", 8)
    rng = np.random.default_rng(1)
    w1 = rng.standard_normal((hidden, 784), dtype=np.float32)
    b1 = rng.standard_normal(hidden, dtype=np.float32)
    w2 = rng.standard_normal((10, hidden), dtype=np.float32)
    b2 = rng.standard_normal(10, dtype=np.float32)
    eye = np.eye(10, dtype=np.float32)
    eta = np.float32(3.0)
    sig = lambda z: 1 / (1 + np.exp(-z))
    order = rng.permutation(len(x))
    t = time.perf_counter()
    for start in range(0, len(x), batch):
        idxs = order[start:start + batch]
        a0 = x[idxs].astype(np.float32) / 255
        a1 = sig(a0 @ w1.T + b1)
        a2 = sig(a1 @ w2.T + b2)
        d2 = (a2 - eye[y[idxs]]) * a2 * (1 - a2)
        d1 = (d2 @ w2) * a1 * (1 - a1)
        step = eta / len(idxs)
        w2 -= step * (d2.T @ a1)
        b2 -= step * d2.sum(0)
        w1 -= step * (d1.T @ a0)
        b1 -= step * d1.sum(0)
    seconds = time.perf_counter() - t
    pred = sig(sig(tx @ w1.T + b1) @ w2.T + b2).argmax(1)
    print(json.dumps({"seconds": seconds, "accuracy": float((pred == ty).mean()), "blas": blas()}))


def blas():
    """The BLAS library NumPy really loaded (Debian switches libblas.so.3
    between reference BLAS and OpenBLAS with alternatives), from the maps."""
    try:
        with open("/proc/self/maps") as maps:
            names = {line.split("/")[-1].strip() for line in maps if "blas" in line.lower() and "/" in line}
        return ",".join(sorted(names)) or "unknown"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
