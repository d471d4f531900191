"""Shared, fixed-seed fixtures for the asv suite. Append workloads; never change
existing ones, so the history of results stays comparable."""

import numpy as np

import fastbp

N_SAMPLES = 50_000
N_FEATURES = 784

#: The issue's workloads: MNIST-shaped data, one epoch.
WORKLOADS = {
    "W1": dict(sizes=[784, 30, 10], hidden="sigmoid", output="sigmoid", cost="quadratic",
               batch_size=10, learning_rate=3.0),
    "W2": dict(sizes=[784, 100, 10], hidden="sigmoid", output="softmax", cost="log_likelihood",
               batch_size=32, learning_rate=0.5),
    "W3": dict(sizes=[784, 1024, 1024, 10], hidden="relu", output="softmax", cost="log_likelihood",
               batch_size=256, learning_rate=0.05),
}

_DATA = {}


def mnist_shaped(dtype, n=N_SAMPLES):
    """(X, y): uniform [0, 1) pixels of ``dtype`` and labels 0..9, seed 0, cached per process."""
    key = (np.dtype(dtype).name, n)
    if key not in _DATA:
        rng = np.random.default_rng(0)
        X = rng.random((n, N_FEATURES), dtype=np.dtype(dtype).type)   # no float64 temporary
        y = rng.integers(0, 10, n)
        _DATA[key] = (X, y)
    return _DATA[key]


def network(workload, dtype, seed=0):
    spec = WORKLOADS[workload]
    return fastbp.Network(spec["sizes"], hidden_activation=spec["hidden"], output_activation=spec["output"],
                          cost=spec["cost"], dtype=dtype, seed=seed)


def threading(workload, mode):
    """fit() options for a thread mode: 'serial' is one thread throughout;
    'threads2' uses two threads the way that suits the workload (README
    "Threads"): sharded mini-batches for W2, BLAS's own threads for W1 and W3."""
    if mode == "serial":
        return dict(threads=1)
    if workload == "W2":
        return dict(parallel=True, threads=2)
    return dict(threads=2)
