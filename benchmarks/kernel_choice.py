"""Loops or BLAS for the layer products: whole epochs, side by side.

Trains the same network for one epoch with every product on the
register-blocked loop kernels and with every product on BLAS (one thread),
interleaved, and prints median epoch seconds. fastbp/_dispatch.py's rule
comes from these numbers.

    python benchmarks/kernel_choice.py              # 20,000 x 784 samples, W1/W2 shapes
"""

import argparse
import statistics

import numpy as np

import fastbp
from fastbp import _dispatch

SHAPES = {
    "W1": ([784, 30, 10], "sigmoid", "sigmoid", "quadratic"),
    "W2": ([784, 100, 10], "sigmoid", "softmax", "log_likelihood"),
}
FORCE = {"loops": 10**9, "blas": 1}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", default="1,2,4,8,10,16,32")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    X64 = rng.random((args.samples, 784))
    y = rng.integers(0, 10, args.samples)
    default = _dispatch.BLAS_MIN_ROWS
    print(f"{'shape':5s} {'batch':>5s} {'dtype':8s} {'loops s':>9s} {'BLAS s':>9s}  faster")
    for shape, (sizes, hidden, output, cost) in SHAPES.items():
        for batch in map(int, args.batches.split(",")):
            for dtype in (np.float32, np.float64):
                X = X64.astype(dtype)
                nets = {}
                for mode, rows in FORCE.items():
                    _dispatch.BLAS_MIN_ROWS = rows
                    nets[mode] = fastbp.Network(sizes, hidden_activation=hidden, output_activation=output,
                                                cost=cost, dtype=dtype, seed=0)
                    nets[mode].fit(X[:64], y[:64], epochs=1, batch_size=batch, learning_rate=0.05, threads=1)
                times = {mode: [] for mode in FORCE}
                for _ in range(args.repeats):
                    for mode, rows in FORCE.items():
                        _dispatch.BLAS_MIN_ROWS = rows
                        h = nets[mode].fit(X, y, epochs=1, batch_size=batch, learning_rate=0.05, threads=1)
                        times[mode].append(h["time"][0])
                loops, blas = (statistics.median(times[m]) for m in FORCE)
                print(f"{shape:5s} {batch:5d} {np.dtype(dtype).name:8s} {loops:9.4f} {blas:9.4f}  "
                      f"{'BLAS' if blas < loops else 'loops'} x{max(loops, blas) / min(loops, blas):.2f}")
    _dispatch.BLAS_MIN_ROWS = default


if __name__ == "__main__":
    main()
