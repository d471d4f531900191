"""How much the first layer's forward products wait for the input rows.

The loop kernel computes Z = X[rows] Wᵀ + b for every mini-batch of an
epoch, with ``rows`` taken three ways: a shuffled permutation of the
50,000 rows (what training does: each row a fresh read from memory), the
rows in order (the hardware prefetchers stream them), and rows drawn from
the first 300 only (they stay in cache). Prints the median epoch-equivalent
milliseconds and GFLOP/s of each, interleaved.

    python benchmarks/input_rows.py                 # W1: batch 10, 30 outputs
    python benchmarks/input_rows.py --batch 32 --outputs 100
"""

import argparse
import statistics
import time

import numpy as np
from numba import njit

try:                    # imported by asv as part of the benchmarks package
    from .common import N_FEATURES, mnist_shaped
except ImportError:     # run as a script
    from common import N_FEATURES, mnist_shaped

from fastbp.kernels.dense import dense_products


@njit(cache=True)
def forward_epoch(X, order, W, b, Z, batch):
    for start in range(0, order.shape[0] - batch + 1, batch):
        dense_products(X, order[start:start + batch], W, b, Z, 0, W.shape[0])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--outputs", type=int, default=30)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    X, _ = mnist_shaped(args.dtype)
    rng = np.random.default_rng(1)
    orders = {
        "shuffled": rng.permutation(X.shape[0]),
        "in order": np.arange(X.shape[0]),
        "cached (300 rows)": rng.integers(0, 300, X.shape[0]),
    }
    W = rng.random((args.outputs, N_FEATURES)).astype(X.dtype)
    b = np.zeros(args.outputs, X.dtype)
    Z = np.zeros((args.batch, args.outputs), X.dtype)
    forward_epoch(X, orders["shuffled"][:4 * args.batch], W, b, Z, args.batch)   # compile
    times = {name: [] for name in orders}
    for _ in range(args.repeats):
        for name, order in orders.items():
            start = time.perf_counter()
            forward_epoch(X, order, W, b, Z, args.batch)
            times[name].append(time.perf_counter() - start)
    flops = 2.0 * X.shape[0] * N_FEATURES * args.outputs
    print(f"forward products, batch {args.batch}, {N_FEATURES} -> {args.outputs}, {args.dtype}")
    for name, ts in times.items():
        median = statistics.median(ts)
        print(f"  {name:18s} {median * 1e3:7.1f} ms  {flops / median / 1e9:5.0f} GFLOP/s")


if __name__ == "__main__":
    main()
