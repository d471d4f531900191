"""Every compiled kernel against the numpy reference, for every pairing and dtype."""

import os
import warnings

import numpy as np
import pytest

import fastbp
from fastbp import kernels as K
from fastbp import reference as ref
from fastbp.kernels import codes
from fastbp.kernels.codes import ACTIVATIONS, COSTS

from conftest import (
    DTYPES,
    HIDDEN,
    PAIRINGS,
    activations_of,
    assert_close,
    make_targets,
    random_sizes,
    reference_params,
)

ELEMENTWISE = HIDDEN


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activate_row_matches_reference(name, dtype):
    rng = np.random.default_rng(1)
    Z = (rng.normal(size=(5, 17)) * 4).astype(dtype)
    A = np.empty_like(Z)
    K.activate_rows(Z, A, Z.shape[0], ACTIVATIONS[name], dtype(0.05))
    assert A.dtype == dtype
    assert_close(A, ref.activation(Z.astype(np.float64), name, 0.05), dtype, name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_kernel_is_stable_for_huge_inputs(dtype):
    z = np.array([[-1e4, -800.0, -88.0, -30.0, 0.0, 30.0, 88.0, 800.0, 1e4]], dtype=dtype)
    a = np.empty_like(z)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        K.activate_rows(z, a, 1, ACTIVATIONS["sigmoid"], dtype(0.01))
    assert np.all(np.isfinite(a))
    assert a[0, 0] == 0.0 and a[0, -1] == 1.0 and a[0, 4] == 0.5
    # The tail keeps its relative precision instead of rounding to 0.
    assert a[0, 3] == pytest.approx(1 / (1 + np.exp(30.0)), rel=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_kernel_handles_large_logits(dtype):
    z = np.array([[1000.0, 1001.0, 999.0], [-1e4, 0.0, 1e4]], dtype=dtype)
    a = np.empty_like(z)
    K.activate_rows(z, a, 2, ACTIVATIONS["softmax"], dtype(0.01))
    assert np.all(np.isfinite(a))
    assert_close(a, ref.activation(z.astype(np.float64), "softmax"), dtype)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_row_kernels_touch_only_the_first_n_rows(name, dtype):
    """Work buffers hold a full batch; a short last batch must not read or
    write the rows past it (exactly equal: those rows are not computed at all)."""
    rng = np.random.default_rng(7)
    Z = rng.normal(size=(6, 5)).astype(dtype)
    A = np.full_like(Z, 7.0)
    K.activate_rows(Z, A, 4, ACTIVATIONS[name], dtype(0.05))
    assert np.all(A[4:] == 7.0)
    assert_close(A[:4], ref.activation(Z[:4].astype(np.float64), name, 0.05), dtype, name)
    if name in ELEMENTWISE:
        D = np.ones_like(Z)
        K.scale_by_derivative(D, A, 3, ACTIVATIONS[name], dtype(0.05), dtype(1.0))
        assert np.all(D[3:] == 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_rows", [1, 2, 3, 4, 7])
def test_column_blocks_of_the_forward_product_equal_the_whole(dtype, n_rows):
    """Blocks of weight rows starting at multiples of 3 (the forward register
    block, as the parallel path's are) must give each element exactly as the
    full product does (bit for bit: the same kernel, the same summation
    order); blocks at other offsets agree to rounding. Rows past the batch
    are never written."""
    from fastbp.kernels import dense
    rng = np.random.default_rng(11)
    X = rng.normal(size=(20, 37)).astype(dtype)
    W = rng.normal(size=(14, 37)).astype(dtype)
    b = rng.normal(size=14).astype(dtype)
    rows = rng.choice(20, n_rows, replace=False).astype(np.int64)
    whole = np.zeros((8, 14), dtype)
    A = np.zeros_like(whole)
    K.dense_forward(X, rows, W, b, whole, A, ACTIVATIONS["identity"], dtype(0.0))
    exact = X[rows].astype(np.float64) @ W.T.astype(np.float64) + b
    assert_close(whole[:n_rows], exact, dtype, "product")
    for bounds, bitwise in [([(0, 6), (6, 12), (12, 14)], True), ([(0, 4), (4, 12), (12, 14)], False)]:
        blocks = np.full((8, 14), np.nan, dtype)
        for j0, j1 in bounds:
            dense.dense_products(X, rows, W, b, blocks, j0, j1)
        if bitwise:
            np.testing.assert_array_equal(blocks[:n_rows], whole[:n_rows])
        else:
            assert_close(blocks[:n_rows], exact, dtype, "product")
        assert np.isnan(blocks[n_rows:]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_rows", [1, 3, 9])
def test_weight_gradient_blocks_match_reference_and_any_row_split(dtype, n_rows):
    """dW += Dᵀ X[rows], db += Σ D through every block of kernels/simd.py:
    n_in covers two 2-vector column blocks, a 1-vector block and a 3-column
    scalar tail, n_out three 4-row blocks and 2 single rows. Any split of
    dW's rows (the parallel tasks', at any offset) gives dW bit for bit, as
    every element is accumulated in the same order in every block shape;
    rows outside the split are not touched."""
    from fastbp.kernels import dense, simd
    lanes = simd.VECTOR_BYTES // np.dtype(dtype).itemsize
    n_in, n_out = 2 * (2 * lanes) + lanes + 3, 14
    rng = np.random.default_rng(12)
    X = rng.normal(size=(20, n_in)).astype(dtype)
    D = rng.normal(size=(n_rows + 2, n_out)).astype(dtype)
    W0 = rng.normal(size=(n_out, n_in)).astype(dtype)
    b0 = rng.normal(size=n_out).astype(dtype)
    rows = rng.choice(20, n_rows, replace=False).astype(np.int64)
    whole_w, whole_b = W0.copy(), b0.copy()
    K.dense_backward_params(D, X, rows, whole_w, whole_b)
    d64 = D[:n_rows].astype(np.float64)
    assert_close(whole_w, W0 + d64.T @ X[rows].astype(np.float64), dtype, "dW")
    assert_close(whole_b, b0 + d64.sum(axis=0), dtype, "db")
    split_w, split_b = W0.copy(), b0.copy()
    for j0, j1 in [(0, 5), (5, 11), (11, 13)]:
        dense.dense_backward_params_rows(D, X, rows, split_w, split_b, j0, j1)
    np.testing.assert_array_equal(split_w[:13], whole_w[:13])
    np.testing.assert_array_equal(split_w[13], W0[13])
    np.testing.assert_array_equal(split_b[13], b0[13])
    # The parallel path's layout: the batch's deltas, and inputs, in the
    # first row of a work buffer at an offset; inputs by row index or from
    # that buffer: the same dW and db bit for bit (the same order).
    d_off, src_off, width = 5, 2, 5 + n_rows * (n_out + n_in)
    D2 = np.full((2, width), np.nan, dtype)
    A2 = np.full((2, width), np.nan, dtype)
    D2[0, d_off:d_off + n_rows * n_out] = D[:n_rows].ravel()
    A2[0, src_off:src_off + n_rows * n_in] = X[rows].ravel()
    for by_row, src in [(True, X), (False, A2)]:
        offset_w, offset_b = W0.copy(), b0.copy()
        dense.weight_gradient(offset_w, offset_b, D2, d_off, src, rows, src_off, by_row, n_rows, 0, n_out)
        np.testing.assert_array_equal(offset_w, whole_w)
        np.testing.assert_array_equal(offset_b, whole_b)


def test_weight_gradient_blocks_refuse_arrays_they_would_misread():
    """The blocks load vectors of dW's dtype from the inputs' rows: inputs of
    another dtype or not C-contiguous must not compile (they would be read
    as garbage), rather than run."""
    from numba.core.errors import TypingError

    from fastbp.kernels import dense
    rows = np.arange(3, dtype=np.int64)
    W, b = np.zeros((4, 16), np.float32), np.zeros(4, np.float32)
    D2 = np.ones((1, 12), np.float32)
    for src in (np.ones((3, 16), np.float64), np.asfortranarray(np.ones((3, 16), np.float32))):
        with pytest.raises(TypingError):
            dense.weight_gradient(W, b, D2, 0, src, rows, 0, True, 3, 0, 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("keep", [1.0, 0.8])
def test_derivative_from_output_matches_reference(name, dtype, keep):
    """f'(z) from stored activations, which dropout stores divided by keep."""
    rng = np.random.default_rng(2)
    Z = (rng.normal(size=(4, 9)) * 3).astype(dtype)
    A = (ref.activation(Z.astype(np.float64), name, 0.05) / keep).astype(dtype)
    D = rng.normal(size=Z.shape).astype(dtype)
    expected = D.astype(np.float64) * ref.activation_prime(Z.astype(np.float64), name, 0.05)
    K.scale_by_derivative(D, A, len(D), ACTIVATIONS[name], dtype(0.05), dtype(keep))
    assert_close(D, expected, dtype, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cost,output", PAIRINGS)
def test_cost_and_output_error_match_reference(cost, output, dtype):
    rng = np.random.default_rng(3)
    n, n_out = 6, 4
    Z = (rng.normal(size=(n, n_out)) * 3).astype(dtype)
    A = ref.activation(Z.astype(np.float64), output, 0.01).astype(dtype)
    Y = make_targets(rng, n, n_out, cost, output)
    Y = (np.eye(n_out)[Y] if Y.ndim == 1 else Y).astype(dtype)
    if cost == "log_likelihood":
        Y[0] *= 0.5     # a soft target that does not sum to one exercises a·Σy − y
    want_cost = ref.sample_costs(Z, A, Y, cost)
    want_delta = ref.output_error(Z.astype(np.float64), A.astype(np.float64), Y.astype(np.float64), cost, output)
    D = np.empty_like(Z)
    for i in range(n):
        r = n - 1 - i    # the target row differs from the output row, as with shuffled batches
        got = K.cost_of(Z, A, Y[::-1].copy(), i, r, COSTS[cost])
        assert_close(got, want_cost[i], dtype, f"cost row {i}")
        K.output_delta(A, Y[::-1].copy(), i, r, COSTS[cost], ACTIVATIONS[output], dtype(0.01), dtype(0.5), D)
    assert_close(D, 0.5 * want_delta, dtype, "delta")


def _case(seed, depth, cost, output, hidden, dtype):
    rng = np.random.default_rng(seed)
    sizes = random_sizes(rng, depth)
    if output == "softmax" or cost == "log_likelihood":
        sizes[-1] = max(sizes[-1], 2)
    net = fastbp.Network(sizes, hidden_activation=hidden, output_activation=output, cost=cost,
                         dtype=dtype, seed=seed)
    n = int(rng.integers(1, 40))
    X = rng.normal(size=(n, sizes[0]))
    y = make_targets(rng, n, sizes[-1], cost, output)
    return net, X, y, rng


def _onehot(y, n_out):
    return np.eye(n_out)[y] if np.ndim(y) == 1 else np.asarray(y, np.float64)


@pytest.fixture(params=["loops", "blas", "mixed"])
def kernels(request, monkeypatch):
    """Force every layer's products onto the loop kernels, onto BLAS (the
    kernels compiled without loops), or alternate per layer (the per-layer
    flags, starting with BLAS for the first layer's gathered rows)."""
    from fastbp import _dispatch, network
    if request.param == "mixed":
        monkeypatch.setattr(network, "choose_blas",
                            lambda layout, rows: (np.arange(layout.shape[0]) % 2 == 0).astype(np.int64))
    monkeypatch.setattr(_dispatch, "BLAS_MIN_ROWS", 10**9 if request.param == "loops" else 1)
    return request.param


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cost,output", PAIRINGS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradient_matches_reference(cost, output, hidden, dtype, kernels):
    """Depths 1 (no hidden layer) to 4, random widths 1..64 and 1..39 samples."""
    for depth in (1, 2, 3, 4):
        net, X, y, rng = _case(depth + 10 * len(hidden), depth, cost, output, hidden, dtype)
        sw = rng.random(len(X)) + 0.05
        l2 = float(rng.choice([0.0, 0.7]))
        dW, db = net.gradient(X, y, l2=l2, sample_weight=sw)
        weights, biases = reference_params(net)
        Xr = X.astype(dtype).astype(np.float64)
        want_w, want_b = ref.backprop(weights, biases, Xr, _onehot(y, net.n_outputs), activations_of(net),
                                      cost, l2=l2, sample_weight=sw.astype(dtype), leak=net.leaky_slope)
        assert all(g.dtype == dtype for g in dW + db)
        for layer, (g, w) in enumerate(zip(dW + db, want_w + want_b)):
            assert_close(g, w, dtype, f"sizes {net.sizes} parameter block {layer}")
        cost_value = net.cost(X, y, l2=l2, sample_weight=sw)
        want_cost = ref.total_cost(weights, biases, Xr, _onehot(y, net.n_outputs), activations_of(net), cost,
                                   l2=l2, sample_weight=sw.astype(dtype), leak=net.leaky_slope)
        assert_close(cost_value, want_cost, dtype, "cost")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", ["sigmoid", "softmax", "identity", "relu"])
def test_feedforward_matches_reference(output, dtype, kernels):
    for seed in range(4):
        rng = np.random.default_rng(seed)
        sizes = random_sizes(rng)
        net = fastbp.Network(sizes, hidden_activation=["tanh", "relu", "sigmoid", "leaky_relu"][seed],
                             output_activation=output, dtype=dtype, seed=seed)
        X = rng.normal(size=(int(rng.integers(1, 600)), sizes[0]))   # > one 256-row block
        weights, biases = reference_params(net)
        _, outs = ref.feedforward(weights, biases, X.astype(dtype).astype(np.float64), activations_of(net),
                                  net.leaky_slope)
        got = net.feedforward(X)
        assert got.dtype == dtype and got.shape == (len(X), sizes[-1])
        assert_close(got, outs[-1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cost,output", PAIRINGS)
@pytest.mark.parametrize("n,batch_size", [(13, 1), (23, 5), (20, 7), (16, 16), (9, 4)])
@pytest.mark.parametrize("fused", [True, False])
def test_train_epoch_matches_reference_sgd(cost, output, n, batch_size, dtype, kernels, fused):
    """The fused epoch equals one reference SGD step per mini-batch, the last one short."""
    rng = np.random.default_rng(n * batch_size)
    hidden = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"][n % 5]
    net = fastbp.Network([5, 6, 4, 3], hidden_activation=hidden, output_activation=output,
                         cost=cost, dtype=dtype, seed=n)
    X = rng.normal(size=(n, 5))
    y = make_targets(rng, n, 3, cost, output)
    sw = rng.random(n) + 0.1 if n % 2 else None
    order = rng.permutation(n).astype(np.int64)
    weights, biases = reference_params(net)
    lr = 0.02 if (cost, output) == ("quadratic", "exp") else 0.3   # (a - y)·a: larger steps overflow e^z here
    ref.sgd_epoch(weights, biases, X.astype(dtype).astype(np.float64), _onehot(y, 3), activations_of(net),
                  cost, order, batch_size, lr, l2=0.2, sample_weight=None if sw is None else sw.astype(dtype))

    Xc, Y, labels, swc = net._data(X, y, sw)
    work, ident, blas = net._work(batch_size)
    hyper = np.zeros(codes.N_HYPER)
    hyper[codes.H_LR], hyper[codes.H_L2], hyper[codes.H_KEEP] = lr, 0.2 / n, 1.0
    empty = np.zeros(0, dtype)
    # grad None: the SGD step fused into BP4, no dropout code (mask None); a
    # gradient buffer: the general path with rule SGD and an empty mask array.
    grad, mask = (None, None) if fused else (np.empty(net.n_parameters, dtype), K.NO_MASK)
    _, _, _, batches = K.train_epoch(net.parameters, net._layout, net._acts, net._leak, net._cost, Xc, Y,
                                     swc, labels, order, batch_size, codes.SGD, hyper, empty, empty,
                                     np.zeros(1, np.int64), grad, mask, ident, work, blas)
    assert batches == -(-n // batch_size)
    for got, want in zip(net.weights + net.biases, weights + biases):
        assert_close(got, want, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_regularised_gradient_touches_weights_not_biases(dtype):
    net = fastbp.Network([3, 4, 2], dtype=dtype, seed=0)
    theta = net.parameters
    grad = np.random.default_rng(0).normal(size=theta.shape).astype(dtype)
    want = grad.astype(np.float64).copy()
    mask = net._weight_mask
    want[mask] += 0.1 * theta[mask] + 0.05 * np.sign(theta[mask])
    K.regularised_gradient(grad, theta, net._layout, dtype(0.1), dtype(0.05))
    assert_close(grad, want, dtype)


def _numpy_step(opt, theta, grad, lr, mu, b1, b2, eps, first, second, t):
    """One update in plain numpy, written from the rules in fastbp.kernels.update."""
    if opt == codes.SGD:
        return theta - lr * grad, first, second
    if opt in (codes.MOMENTUM, codes.NESTEROV):
        first = mu * first - lr * grad
        return (theta + first if opt == codes.MOMENTUM else theta + mu * first - lr * grad), first, second
    first = b1 * first + (1 - b1) * grad
    second = b2 * second + (1 - b2) * grad ** 2
    lr_t = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    return theta - lr_t * first / (np.sqrt(second) + eps), first, second


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", [codes.SGD, codes.MOMENTUM, codes.NESTEROV, codes.ADAM])
def test_a_nan_gradient_reaches_the_parameters(opt, dtype):
    # The moments' flush of tiny values to 0 must not turn a NaN into 0: the divergence check
    # looks for NaN in the parameters (a NaN velocity used to become 0 and the step a no-op).
    from fastbp.kernels.parallel import apply_rule
    for rule in ("serial", "parallel"):
        theta, first, second = np.ones(4, dtype), np.zeros(4, dtype), np.zeros(4, dtype)
        grad = np.array([0.5, np.nan, 0.5, 0.5], dtype)
        if rule == "serial":
            K.optimizer_step(theta, grad, opt, dtype(0.1), dtype(0.9), dtype(0.9), dtype(0.999), dtype(1e-8),
                             first, second, np.zeros(1, np.int64))
        else:
            apply_rule(theta, grad, first, second, np.int64(0), np.int64(4), opt, dtype(0.1), dtype(0.0),
                       dtype(0.0), dtype(0.9), dtype(0.9), dtype(0.999), dtype(1e-8), dtype(0.1))
        assert np.isnan(theta[1]) and np.isfinite(theta[[0, 2, 3]]).all(), (rule, theta)
        if opt != codes.SGD:
            assert np.isnan(first[1]), (rule, first)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", [codes.SGD, codes.MOMENTUM, codes.NESTEROV, codes.ADAM])
def test_optimizer_step_matches_numpy(opt, dtype):
    rng = np.random.default_rng(opt)
    theta = rng.normal(size=50).astype(dtype)
    first = np.zeros(50, dtype)
    second = np.zeros(50, dtype)
    step = np.zeros(1, np.int64)
    want = (theta.astype(np.float64), np.zeros(50), np.zeros(50))
    for t in range(1, 4):   # three steps, so state carries
        grad = rng.normal(size=50).astype(dtype)
        want = _numpy_step(opt, want[0], grad.astype(np.float64), 0.1, 0.9, 0.9, 0.999, 1e-8, want[1], want[2], t)
        K.optimizer_step(theta, grad, opt, dtype(0.1), dtype(0.9), dtype(0.9), dtype(0.999), dtype(1e-8),
                         first, second, step)
    assert_close(theta, want[0], dtype)
    assert step[0] == (3 if opt == codes.ADAM else 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_rows_copies_the_indexed_rows_in_order(dtype):
    # 0 to 22 rows: several 5-row blocks, then each remainder (a pair, a single row); rows repeat.
    from fastbp.kernels.dense import gather_rows
    rng = np.random.default_rng(0)
    X = rng.standard_normal((13, 7)).astype(dtype)
    for n in range(23):
        rows = rng.integers(0, 13, n)
        G = np.full((23, 7), np.nan, dtype=dtype)
        gather_rows(X, rows, G)
        np.testing.assert_array_equal(G[:n], X[rows])     # a copy: exact
        assert np.isnan(G[n:]).all()


@pytest.mark.parametrize("cpu_name, features, expected", [
    ("skylake-avx512", "+avx,+avx2,+avx512f,+fma", 64),
    ("haswell", "+avx,+avx2,+fma", 32),
    (None, "-avx512f,+avx2", 32),
    ("x86-64", "-avx512f,+avx2", 32),
    (None, "+avx512f", 64),
])
def test_vector_width_follows_the_cpu_numba_compiles_for(monkeypatch, cpu_name, features, expected):
    # NUMBA_CPU_FEATURES (portable caches) decides when set, not the host.
    from numba.core import config as numba_config

    from fastbp.kernels import simd
    monkeypatch.setattr(numba_config, "CPU_NAME", cpu_name)
    monkeypatch.setattr(numba_config, "CPU_FEATURES", features)
    assert simd._vector_bytes() == expected


def test_vector_width_on_the_host_matches_its_avx512(monkeypatch):
    import llvmlite.binding as llvm
    from numba.core import config as numba_config

    from fastbp.kernels import simd
    host_has_avx512 = "+avx512f" in llvm.get_host_cpu_features().flatten().split(",")
    if os.environ.get("NUMBA_CPU_FEATURES"):
        pytest.skip("numba compiles for other CPU features here")
    assert simd.VECTOR_BYTES == (64 if host_has_avx512 else 32)
    # With NUMBA_CPU_NAME alone numba keeps the host's features: so does the width.
    monkeypatch.setattr(numba_config, "CPU_NAME", "generic")
    monkeypatch.setattr(numba_config, "CPU_FEATURES", None)
    assert simd._vector_bytes() == simd.VECTOR_BYTES
