"""How much the first layer's forward products wait for the input rows.

The loop kernel computes Z = X[rows] Wᵀ + b for every mini-batch of an
epoch, with ``rows`` taken three ways: a shuffled permutation of the
50,000 rows (what training does: each row a fresh read from memory), the
rows in order (the hardware prefetchers stream them), and rows drawn from
the first 300 only (they stay in cache); each over X as numpy allocated it
(a large array's data sits 16 bytes past a cache line) and over a copy on a
cache line. W, b and Z are on cache lines, as a Network's buffers are.
Prints the median epoch-equivalent milliseconds and GFLOP/s of each,
interleaved.

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

from fastbp import _aligned
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
    inputs = {"": X, ", X on a cache line": _aligned.copy(X)}   # numpy leaves a large X 16 bytes past one
    rng = np.random.default_rng(1)
    orders = {
        "shuffled": rng.permutation(X.shape[0]),
        "in order": np.arange(X.shape[0]),
        "cached (300 rows)": rng.integers(0, 300, X.shape[0]),
    }
    W = _aligned.copy(rng.random((args.outputs, N_FEATURES)).astype(X.dtype))   # as a Network's are
    b = _aligned.zeros(args.outputs, X.dtype)
    Z = _aligned.zeros((args.batch, args.outputs), X.dtype)
    forward_epoch(X, orders["shuffled"][:4 * args.batch], W, b, Z, args.batch)   # compile
    times = {name + where: [] for where in inputs for name in orders}
    for _ in range(args.repeats):
        for where, data in inputs.items():
            for name, order in orders.items():
                start = time.perf_counter()
                forward_epoch(data, order, W, b, Z, args.batch)
                times[name + where].append(time.perf_counter() - start)
    flops = 2.0 * X.shape[0] * N_FEATURES * args.outputs
    print(f"forward products, batch {args.batch}, {N_FEATURES} -> {args.outputs}, {args.dtype}")
    for name, ts in times.items():
        median = statistics.median(ts)
        print(f"  {name:38s} {median * 1e3:7.1f} ms  {flops / median / 1e9:5.0f} GFLOP/s")


if __name__ == "__main__":
    main()
