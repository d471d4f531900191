"""Where a serial epoch's time goes: each part of a mini-batch step, timed alone.

For a workload's first layer (the big one) and its batch size, each part runs
once per mini-batch of a 50,000-row epoch, in compiled loops, one thread,
interleaved and repeated; the median epoch-equivalent milliseconds are
printed beside the whole epoch kernel:

- gather: copying the batch's shuffled rows of X into a contiguous block
  (reads 50,000 x 784 values from memory per epoch);
- forward GEMM: Z = G Wᵀ + b for the first layer, BLAS;
- SGD GEMM: W ← W - η δᵀ G for the first layer, BLAS;
- hidden activation: the first layer's activation, fastbp's kernel
  (exp_nonpositive, which vectorises) and the same loop on libm's exp.

    python benchmarks/kernel_parts.py                    # W1, float32
    python benchmarks/kernel_parts.py --workload W2 --dtype float64
"""

import argparse
import statistics
import time

import numpy as np
from numba import njit
from threadpoolctl import threadpool_limits

try:                    # imported by asv as part of the benchmarks package
    from .common import N_FEATURES, WORKLOADS, mnist_shaped, network
except ImportError:     # run as a script
    from common import N_FEATURES, WORKLOADS, mnist_shaped, network

from fastbp.kernels import codes
from fastbp.kernels.activations import activate_rows
from fastbp.kernels.blas import gemm
from fastbp.kernels.dense import gather_rows
from fastbp.kernels.epoch import train_epoch


@njit(cache=True)
def _gather(X, order, G, batch):
    for start in range(0, order.shape[0] - batch + 1, batch):
        gather_rows(X, order[start:start + batch], G)


@njit(cache=True)
def _forward_gemm(G, W, Z, S, n_batches):
    one = W.dtype.type(1.0)
    for _ in range(n_batches):
        gemm(False, True, one, G, W, one, Z, S)


@njit(cache=True)
def _sgd_gemm(D, G, W, S, n_batches):
    one = W.dtype.type(1.0)
    for _ in range(n_batches):
        gemm(True, False, W.dtype.type(-1e-9), D, G, one, W, S)


@njit(cache=True)
def _activation(Z, A, act, n_batches):
    for _ in range(n_batches):
        activate_rows(Z, A, Z.shape[0], act, Z.dtype.type(0.0))


@njit(cache=True)
def _sigmoid_libm(Z, A, n_batches):
    one = Z.dtype.type(1.0)
    for _ in range(n_batches):
        for i in range(Z.shape[0]):
            for k in range(Z.shape[1]):
                z = Z[i, k]
                e = np.exp(-abs(z))
                A[i, k] = one / (one + e) if z >= 0 else e / (one + e)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="W1")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    spec = WORKLOADS[args.workload]
    dtype = np.dtype(args.dtype)
    X, y = mnist_shaped(dtype)
    n, batch, hidden = X.shape[0], spec["batch_size"], spec["sizes"][1]
    n_batches = n // batch
    rng = np.random.default_rng(1)
    order = rng.permutation(n)
    G = np.ascontiguousarray(X[order[:batch]])
    W = (rng.standard_normal((hidden, N_FEATURES)) * 0.03).astype(dtype)
    Z = (rng.standard_normal((batch, hidden)) * 3).astype(dtype)
    A = np.empty_like(Z)
    D = rng.standard_normal((batch, hidden)).astype(dtype)
    S = np.zeros(2, dtype)
    act = codes.ACTIVATIONS[spec["hidden"]]

    net = network(args.workload, dtype)
    net.fit(X[:100], y[:100], epochs=1, batch_size=batch, learning_rate=1e-3, threads=1)
    work, ident, blas = net._work(batch)
    Y = np.zeros((n, spec["sizes"][-1]), dtype)
    Y[np.arange(n), y] = 1
    sw = np.ones(n, dtype)
    hyper = np.zeros(codes.N_HYPER)
    hyper[codes.H_LR] = 1e-9       # keeps the weights where they are, repeat after repeat
    hyper[codes.H_KEEP] = 1.0
    empty, step = np.zeros(0, dtype), np.zeros(1, np.int64)

    def epoch():
        train_epoch(net._theta, net._layout, net._acts, net._leak, net._cost, X, Y, sw, y.astype(np.int64),
                    order, batch, codes.SGD, hyper, empty, empty, step, None, None, ident, work, blas)

    parts = {
        "gather": lambda: _gather(X, order, G, batch),
        "forward GEMM (layer 1)": lambda: _forward_gemm(G, W, Z[:, :], S, n_batches),
        "SGD GEMM (layer 1)": lambda: _sgd_gemm(D, G, W, S, n_batches),
        f"{spec['hidden']} (layer 1)": lambda: _activation(Z, A, act, n_batches),
        "sigmoid on libm exp": lambda: _sigmoid_libm(Z, A, n_batches),
        "whole epoch kernel": epoch,
    }
    times = {name: [] for name in parts}
    with threadpool_limits(1):
        for run in parts.values():
            run()                                   # compile or load
        for _ in range(args.repeats):
            for name, run in parts.items():
                start = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - start)
    print(f"{args.workload} {dtype.name}, batch {batch}, {n_batches} mini-batches; median of {args.repeats}, ms")
    for name, values in times.items():
        print(f"  {name:24s} {statistics.median(values) * 1e3:8.2f}")


if __name__ == "__main__":
    main()
