"""Shared fixtures: deterministic data and networks, and the pairings under test."""

import numpy as np
import pytest

import fastbp
from fastbp.kernels.codes import COST_OUTPUTS

HIDDEN = ("sigmoid", "tanh", "relu", "leaky_relu", "identity")

#: Every (cost, output activation) pairing the library accepts.
PAIRINGS = [(cost, out) for cost, outs in COST_OUTPUTS.items() for out in outs]

DTYPES = (np.float64, np.float32)


def tolerance(dtype):
    """(rtol, atol-relative-to-scale) for comparing a kernel with the float64 reference.

    float64: kernels sum in a different order than numpy (vectorised
    reductions), so agreement is to a few ulps of the largest term: 1e-10
    relative leaves room for ~64-term sums across four layers.
    float32: eps is 1.2e-7; rounding grows with the length of the sums and
    the depth, so 2e-4 of the result's scale bounds it with margin while
    still catching any wrong formula (those are off by O(1)).
    """
    return (1e-10, 1e-10) if np.dtype(dtype) == np.float64 else (2e-4, 2e-4)


def assert_close(actual, expected, dtype, what=""):
    rtol, scaled_atol = tolerance(dtype)
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=scaled_atol * scale, err_msg=what)


def reference_params(net):
    """float64 copies of a network's weights and biases for the numpy reference."""
    return ([w.astype(np.float64) for w in net.weights], [b.astype(np.float64) for b in net.biases])


def activations_of(net):
    return [net.hidden_activation] * (len(net.sizes) - 2) + [net.output_activation]


def make_targets(rng, n, n_out, cost, output):
    """Random targets valid for the pairing: labels for softmax/sigmoid, counts for Poisson, reals otherwise."""
    if cost == "log_likelihood" or (output in ("softmax", "sigmoid") and n_out > 1):
        return rng.integers(0, n_out, n)
    if cost == "cross_entropy":
        return rng.random((n, n_out))
    if cost == "poisson":
        return rng.poisson(2.0, size=(n, n_out)).astype(np.float64)      # counts, zeros among them
    return rng.normal(size=(n, n_out))


def random_sizes(rng, depth=None, max_width=64):
    """``depth`` weight layers (random 1 to 4 if None: no hidden layer up to three), widths 1..64."""
    if depth is None:
        depth = int(rng.integers(1, 5))
    return [int(rng.integers(1, max_width + 1)) for _ in range(depth + 1)]


@pytest.fixture(scope="session")
def digits():
    """The built-in 8x8 digits, scaled to [0, 1], split 1,347 train / 450 test."""
    data = np.load(fastbp.__path__[0] + "/data/digits.npz")
    X = data["X"].astype(np.float64) / 16.0
    y = data["y"].astype(np.int64)
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order], y[order]
    return X[:1347], y[:1347], X[1347:], y[1347:]


def fresh_fastbp_compile(at_least=0.0):
    """A function that, each time it is called, makes numba compile a new one-line function
    attributed to a module of the fastbp package (so fastbp's compile clock names it),
    holding numba's compiler lock for ``at_least`` seconds in all: a one-line compile can
    take under the 0.05 s from which the command line shows compile time."""
    import time

    from numba import njit
    from numba.core.compiler_lock import global_compiler_lock

    def compile_one():
        namespace = {"__name__": "fastbp._compile_probe"}
        exec("def probe(x):\n    return x + 1.0\n", namespace)
        with global_compiler_lock:          # the clock times the outermost hold of the lock
            start = time.perf_counter()
            result = njit(namespace["probe"])(1.0)
            time.sleep(max(0.0, at_least - (time.perf_counter() - start)))
        return result
    return compile_one
