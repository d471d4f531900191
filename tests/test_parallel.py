"""Parallel mini-batch accumulation: equal to serial and to the reference,
bit-identical whatever the thread count, and thread settings restored."""

import json
import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

import fastbp
from fastbp import reference as ref

from conftest import DTYPES, activations_of, assert_close, reference_params


def _data(n=70, d=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, k, n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_parallel_equals_serial(optimizer, dtype):
    """Sharded sums differ from the serial path only in summation order."""
    X, y = _data()
    options = dict(epochs=3, batch_size=9, learning_rate=0.05, l2=0.3, l1=0.01, dropout=0.2, optimizer=optimizer)
    serial = fastbp.Network([6, 7, 5, 3], hidden_activation="tanh", dtype=dtype, seed=4)
    parallel = fastbp.Network([6, 7, 5, 3], hidden_activation="tanh", dtype=dtype, seed=4)
    serial.fit(X, y, **options)
    parallel.fit(X, y, parallel=True, **options)
    assert_close(parallel.parameters, serial.parameters, dtype)
    assert parallel.history["cost"] == pytest.approx(serial.history["cost"], rel=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, cost", [("sigmoid", "cross_entropy"), ("softmax", "log_likelihood"),
                                          ("exp", "poisson")])
def test_a_network_without_hidden_layers_records_the_serial_cost(output, cost, dtype):
    """Costs computed from z (not a) read the output layer's z, which phase A wrote for the first layer."""
    X, y = _data(n=40)
    Y = np.eye(3)[y] if cost == "poisson" else y
    histories = []
    for parallel, threads in ((False, None), (True, 1), (True, 2)):
        net = fastbp.Network([6, 3], output_activation=output, cost=cost, dtype=dtype, seed=2)
        histories.append(net.fit(X, Y, epochs=2, batch_size=8, learning_rate=0.05, parallel=parallel,
                                 threads=threads)["cost"])
    # float64 sums differ only in order; float32 running sums by a few ulps of the epoch's cost
    assert histories[1] == pytest.approx(histories[0], rel=1e-12 if dtype == np.float64 else 1e-5)
    assert histories[2] == histories[1]


def test_parallel_sgd_equals_the_reference():
    X, y = _data(n=45)
    net = fastbp.Network([6, 8, 3], output_activation="softmax", cost="log_likelihood", seed=1)
    weights, biases = reference_params(net)
    shuffles = np.random.default_rng(1)
    fastbp.Network([6, 8, 3], seed=shuffles)      # consume the initial draws the same way
    net.fit(X, y, epochs=2, batch_size=10, learning_rate=0.2, l2=0.1, parallel=True)
    for _ in range(2):
        ref.sgd_epoch(weights, biases, X, np.eye(3)[y], activations_of(net), "log_likelihood",
                      shuffles.permutation(45), 10, 0.2, l2=0.1)
    for got, want in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("dtype", DTYPES)
def test_same_seed_bit_identical_for_any_thread_count(dtype):
    X, y = _data(n=200, d=12)
    results = []
    for threads in (1, 2, 1):
        net = fastbp.Network([12, 16, 3], dtype=dtype, seed=9)
        net.fit(X, y, epochs=3, batch_size=32, learning_rate=0.5, optimizer="adam", parallel=True, threads=threads)
        results.append(net.parameters.copy())
    assert np.array_equal(results[0], results[1]) and np.array_equal(results[0], results[2])


def test_thread_settings_are_applied_and_restored():
    X, y = _data()
    before = numba.get_num_threads()
    seen = {}

    def look(epoch, logs):
        seen["numba"] = numba.get_num_threads()
        seen["blas"] = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    fastbp.Network([6, 3], seed=0).fit(X, y, epochs=1, parallel=True, threads=1, callbacks=[look])
    assert seen["numba"] == 1 and seen["blas"] == {1}
    assert numba.get_num_threads() == before
    fastbp.Network([6, 3], seed=0).fit(X, y, epochs=1, threads=1, callbacks=[look])
    assert seen["blas"] == {1} and numba.get_num_threads() == before


def test_a_blas_loaded_after_an_earlier_fit_is_limited_too():
    """fit keeps threadpoolctl's record of the BLAS libraries between calls
    (fastbp/_blas_threads.py); one loaded by an import since must be found."""
    code = """
import json
import numpy as np, fastbp
from threadpoolctl import threadpool_info
blas = lambda: [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
X = np.random.default_rng(0).random((20, 6)); y = np.arange(20) % 3
fastbp.Network([6, 3], seed=0).fit(X, y, epochs=1, threads=1)
before = len(blas())
import scipy.linalg                                     # loads scipy's own OpenBLAS
seen = {}
def look(epoch, logs):
    seen["blas"] = sorted(set(blas()))
fastbp.Network([6, 3], seed=0).fit(X, y, epochs=1, threads=1, callbacks=[look])
print(json.dumps({"before": before, "after": len(blas()), "inside": seen["blas"]}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    if got["after"] == got["before"]:
        pytest.skip("no BLAS library of its own came with scipy.linalg here")
    assert got["inside"] == [1]


def test_default_blas_threads_follow_the_size_of_the_layer_products():
    from fastbp._dispatch import BLAS_THREADS_MIN_FLOPS, default_blas_threads
    small = fastbp.Network([784, 100, 10])._layout          # 2 x 32 x 784 x 100 = 5 MFLOP at batch 32
    assert default_blas_threads(small, 32) == 1
    rows = int(BLAS_THREADS_MIN_FLOPS // (2 * 784 * 100)) + 1
    assert default_blas_threads(small, rows) is None         # BLAS keeps its own setting
    X, y = _data()
    seen = {}

    def look(epoch, logs):
        seen["blas"] = {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    before = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    fastbp.Network([6, 3], seed=0).fit(X, y, epochs=1, callbacks=[look])
    assert seen["blas"] == {1}
    assert {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == before


def test_bad_thread_options():
    X, y = _data()
    net = fastbp.Network([6, 3], seed=0)
    with pytest.raises(ValueError, match="threads must be <="):
        net.fit(X, y, epochs=1, parallel=True, threads=numba.config.NUMBA_NUM_THREADS + 1)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        net.fit(X, y, epochs=1, threads=0)
    with pytest.raises(TypeError, match="parallel must be True or False"):
        net.fit(X, y, epochs=1, parallel="yes")


@pytest.mark.parametrize("sizes", [[784, 100, 10], [784, 30, 10], [12, 16, 3], [20, 64, 48, 5]])
def test_parallel_tasks_cover_every_unit_once_in_whole_blocks_and_balance_the_threads(sizes):
    """The blocks are the same for any thread count (so results cannot
    depend on it), cover each layer's units once, start at multiples of the
    register blocks, each thread's contiguous share of the list costs no
    more than the ideal share plus one block, and each thread's first-layer
    blocks are one run of units, the runs in thread order (so the threads
    write separate stretches of z¹)."""
    from fastbp.training import TASK_ROWS, TASK_ROWS_FIRST_LAYER, parallel_tasks
    layout = fastbp.Network(sizes)._layout
    blocks = None
    for threads in (1, 2, 3, 4):
        tasks = parallel_tasks(layout, threads)
        assert tasks.dtype == np.int64 and tasks.shape[1] == 3 and len(tasks) % threads == 0
        nonempty = sorted(tuple(t) for t in tasks.tolist() if t[2] > t[1])
        if blocks is None:
            blocks = nonempty
        assert nonempty == blocks
        for layer, n_out in enumerate(sizes[1:]):
            own = sorted((j0, j1) for l, j0, j1 in blocks if l == layer)
            assert own[0][0] == 0 and own[-1][1] == n_out
            assert all(a[1] == b[0] for a, b in zip(own, own[1:]))
            unit = TASK_ROWS_FIRST_LAYER if layer == 0 else TASK_ROWS
            assert all(j0 % unit == 0 for j0, _ in own)
        cost = [(j1 - j0) * sizes[l] for l, j0, j1 in tasks.tolist()]
        share = len(tasks) // threads
        loads = [sum(cost[k * share:(k + 1) * share]) for k in range(threads)]
        assert max(loads) <= sum(cost) / threads + max(cost)
        runs = [sorted((j0, j1) for l, j0, j1 in tasks[k * share:(k + 1) * share].tolist() if l == 0 and j1 > j0)
                for k in range(threads)]
        runs = [run for run in runs if run]
        assert all(a[1] == b[0] for run in runs for a, b in zip(run, run[1:]))
        assert all(a[-1][1] == b[0][0] for a, b in zip(runs, runs[1:]))
