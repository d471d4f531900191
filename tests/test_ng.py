"""fastbp.ng against Ng's ex4 conventions, written out independently in plain numpy here.

The reference below follows ex4's nnCostFunction literally: a column of ones
prepended to each layer's activations, the log terms of the cross-entropy
summed over labels, and backprop by accumulating Δ^(l) += δ^(l+1) (a^(l))ᵀ
one example at a time, regularising Θ with its bias column zeroed. It shares
no code with fastbp (not even the sigmoid), so agreement checks the layout
translation (column-major unrolling, bias column first, 1-based labels) as
well as the compiled kernels.
"""

import itertools
import warnings

import numpy as np
import pytest
import scipy.optimize

from fastbp import ng
from fastbp.datasets import load_digits

# float64 everywhere; the kernels sum in a different order than numpy (and the
# cost is evaluated from z with log1p/logaddexp rather than log(h)), so the two
# agree to a few ulps of the largest term, far inside 1e-10 for these sizes.
RTOL = 1e-10


# --------------------------------------------------------- numpy reference
def _g(z):
    return 1.0 / (1.0 + np.exp(-z))


def _reshape(nn_params, layer_sizes):
    thetas, start = [], 0
    for s_in, s_out in itertools.pairwise(layer_sizes):
        stop = start + s_out * (s_in + 1)
        thetas.append(np.reshape(nn_params[start:stop], (s_out, s_in + 1), order="F"))
        start = stop
    assert start == len(nn_params)
    return thetas


def _unroll(thetas):
    return np.concatenate([t.ravel(order="F") for t in thetas])


def ref_cost(thetas, X, y, lam):
    """J exactly as ex4 writes it: forward with bias columns, then the log terms."""
    m = X.shape[0]
    K = thetas[-1].shape[0]
    a = X
    for theta in thetas:
        a = _g(np.hstack([np.ones((m, 1)), a]) @ theta.T)
    Y = (np.asarray(y).ravel()[:, None] == np.arange(1, K + 1)[None, :]).astype(float)
    J = np.sum(-Y * np.log(a) - (1 - Y) * np.log(1 - a)) / m
    J += lam / (2 * m) * sum(np.sum(theta[:, 1:] ** 2) for theta in thetas)
    return J


def ref_gradient(thetas, X, y, lam):
    """Backprop as in ex4 part 2: per example, δ^(L) = a^(L) − y, δ^(l) = Θ^(l)ᵀδ^(l+1) ⊙ g'(z^(l)), Δ accumulation."""
    m = X.shape[0]
    K = thetas[-1].shape[0]
    Deltas = [np.zeros_like(theta) for theta in thetas]
    for t in range(m):
        a = [np.concatenate([[1.0], X[t]])]           # a^(1) with the bias unit
        zs = []
        for i, theta in enumerate(thetas):
            z = theta @ a[-1]
            zs.append(z)
            out = _g(z)
            a.append(out if i == len(thetas) - 1 else np.concatenate([[1.0], out]))
        yk = (np.arange(1, K + 1) == int(np.ravel(y)[t])).astype(float)
        delta = a[-1] - yk
        for i in range(len(thetas) - 1, -1, -1):
            Deltas[i] += np.outer(delta, a[i])
            if i > 0:
                delta = (thetas[i].T @ delta)[1:] * _g(zs[i - 1]) * (1 - _g(zs[i - 1]))
    grads = []
    for theta, Delta in zip(thetas, Deltas):
        reg = theta.copy()
        reg[:, 0] = 0                                 # the bias column is not regularised
        grads.append(Delta / m + lam / m * reg)
    return grads


def ref_cost_function(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_):
    thetas = _reshape(nn_params, [input_layer_size, hidden_layer_size, num_labels])
    return ref_cost(thetas, X, y, lambda_), _unroll(ref_gradient(thetas, X, y, lambda_))


def problem(sizes, m, seed):
    """Random Θs (entries U(−1, 1)), X (m, sizes[0]) and labels 1..K covering every class."""
    rng = np.random.default_rng(seed)
    thetas = [rng.uniform(-1, 1, (s_out, s_in + 1)) for s_in, s_out in itertools.pairwise(sizes)]
    X = rng.normal(size=(m, sizes[0]))
    y = 1 + np.arange(m) % sizes[-1]
    rng.shuffle(y)
    return thetas, X, y


def assert_close(actual, expected, what=""):
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(1e-300, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * scale, err_msg=what)


# ------------------------------------------------------ gradient checking
@pytest.mark.parametrize("lam", [0.0, 3.0])
def test_check_nn_gradients(lam, capsys):
    diff = ng.check_nn_gradients(lam)
    assert isinstance(diff, float)
    assert diff < 1e-9, diff
    out = capsys.readouterr().out
    assert "Relative Difference" in out and f"{diff:g}" in out
    assert out.count("\n") > 38                       # the 38 gradient pairs side by side


def test_check_nn_gradients_fixture_is_ngs():
    # checkNNGradients' first numerical-gradient entries as printed by the exercise (λ = 0).
    T1, T2 = ng.debug_initialize_weights(5, 3), ng.debug_initialize_weights(3, 5)
    X = ng.debug_initialize_weights(5, 2)
    y = 1 + np.arange(1, 6) % 3
    np.testing.assert_array_equal(y, [2, 3, 1, 2, 3])
    _, grad = ng.nn_cost_function(_unroll([T1, T2]), 3, 5, 3, X, y, 0.0)
    np.testing.assert_allclose(grad[:5], [-9.2783e-03, 8.8991e-03, -8.3601e-03, 7.6281e-03, -6.7480e-03],
                               atol=6e-8)             # printed to 5 significant digits


def test_check_nn_gradients_accepts_another_cost_function():
    # The check can grade the user's own nnCostFunction: here the numpy reference.
    assert ng.check_nn_gradients(3.0, cost_function=ref_cost_function, verbose=False) < 1e-9


def test_check_nn_gradients_takes_the_python_port_s_keyword_forms():
    """checkNNGradients(nnCostFunction, lambda_=...) and nnCostFunction=..., as ports' code calls it."""
    expected = ng.checkNNGradients(ng.nnCostFunction, 3.0, verbose=False)
    assert ng.checkNNGradients(ng.nnCostFunction, lambda_=3.0, verbose=False) == expected
    assert ng.checkNNGradients(nnCostFunction=ng.nnCostFunction, lambda_=3.0, verbose=False) == expected
    assert ng.check_nn_gradients(lambda_=3.0, cost_function=ref_cost_function, verbose=False) < 1e-9
    with pytest.raises(TypeError, match="two values for lambda_"):
        ng.checkNNGradients(ng.nnCostFunction, 1.0, lambda_=2.0)
    with pytest.raises(TypeError, match="cost_function must be callable; got int"):
        ng.check_nn_gradients(0.0, 5)
    with pytest.raises(ValueError, match="gradient must have 38 entries, one per parameter .*; got 3"):
        ng.check_nn_gradients(cost_function=lambda *args: (0.0, np.zeros(3)), verbose=False)


def test_compute_numerical_gradient_scalar_and_tuple():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])

    def f(t):
        return 0.5 * t @ A @ t + np.sin(t[0])

    theta = np.array([0.3, -1.2])
    exact = A @ theta + np.array([np.cos(theta[0]), 0.0])
    np.testing.assert_allclose(ng.compute_numerical_gradient(f, theta), exact, rtol=1e-8)
    def tuple_f(t):                                   # the (J, grad) form nn_cost_function returns
        return f(t), None

    np.testing.assert_array_equal(ng.compute_numerical_gradient(tuple_f, theta),
                                  ng.compute_numerical_gradient(f, theta))
    np.testing.assert_array_equal(ng.compute_numerical_gradient(lambda t: [f(t), None], theta),
                                  ng.compute_numerical_gradient(f, theta))     # a list pair, as ports return


# --------------------------------------------- cost and gradient vs numpy
@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_cost_matches_reference(lam):
    sizes = [4, 5, 3]
    thetas, X, y = problem(sizes, m=11, seed=1)
    J, _ = ng.nn_cost_function(_unroll(thetas), *sizes, X, y, lam)
    assert isinstance(J, float)
    np.testing.assert_allclose(J, ref_cost(thetas, X, y, lam), rtol=RTOL)


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_gradient_matches_reference(lam):
    sizes = [4, 5, 3]
    thetas, X, y = problem(sizes, m=11, seed=2)
    p = _unroll(thetas)
    before = p.copy()
    _, grad = ng.nn_cost_function(p, *sizes, X, y, lam)
    assert grad.shape == p.shape and grad.dtype == np.float64
    assert_close(grad, _unroll(ref_gradient(thetas, X, y, lam)))
    np.testing.assert_array_equal(p, before)          # nn_params is not modified


def test_bias_column_is_not_regularised():
    sizes = [3, 4, 2]
    thetas, X, y = problem(sizes, m=6, seed=3)
    p = _unroll(thetas)
    lam, m = 2.5, X.shape[0]
    J0, g0 = ng.nn_cost_function(p, *sizes, X, y, 0.0)
    J1, g1 = ng.nn_cost_function(p, *sizes, X, y, lam)
    Theta1, Theta2 = ng.reshape_thetas(g1 - g0, sizes)
    assert_close(Theta1[:, 1:], lam / m * thetas[0][:, 1:])
    assert_close(Theta2[:, 1:], lam / m * thetas[1][:, 1:])
    assert np.max(np.abs(Theta1[:, 0])) < 1e-15 and np.max(np.abs(Theta2[:, 0])) < 1e-15
    penalty = lam / (2 * m) * (np.sum(thetas[0][:, 1:] ** 2) + np.sum(thetas[1][:, 1:] ** 2))
    np.testing.assert_allclose(J1 - J0, penalty, rtol=1e-12)


def test_unrolling_is_column_major():
    # Theta1 (2, 3): column-major unrolling reads down the columns, the bias column first.
    Theta1 = np.array([[0.1, 0.3, 0.5],
                       [0.2, 0.4, 0.6]])
    Theta2 = np.array([[0.7, 0.8, 0.9]])
    nn_params = np.concatenate([Theta1.ravel(order="F"), Theta2.ravel(order="F")])
    np.testing.assert_array_equal(nn_params[:6], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert nn_params[1] == Theta1[1, 0] and nn_params[4] == Theta1[0, 2]
    for T, R in zip(ng.reshape_thetas(nn_params, [2, 2, 1]), [Theta1, Theta2]):
        np.testing.assert_array_equal(T, R)
    np.testing.assert_array_equal(ng.unroll_thetas([Theta1, Theta2]), nn_params)

    # The cost reads Θ1[0, 2] (weight of input 2 into hidden unit 1) from nn_params[4]:
    # change that one entry and the cost is the reference's with that Θ entry changed.
    X = np.array([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.25]])
    y = np.array([1, 1, 1])
    bumped = nn_params.copy()
    bumped[4] += 1.0
    T1 = Theta1.copy()
    T1[0, 2] += 1.0
    np.testing.assert_allclose(ng.nn_cost_function(bumped, 2, 2, 1, X, y, 1.0)[0],
                               ref_cost([T1, Theta2], X, y, 1.0), rtol=RTOL)
    # ... and the gradient with respect to Θ1[0, 2] sits at the same place.
    _, grad = ng.nn_cost_function(nn_params, 2, 2, 1, X, y, 1.0)
    np.testing.assert_allclose(grad[4], ref_gradient([Theta1, Theta2], X, y, 1.0)[0][0, 2], rtol=RTOL)
    # Row-major unrolling (a common porting slip) is a different network.
    row_major = np.concatenate([Theta1.ravel(), Theta2.ravel()])
    assert abs(ng.nn_cost_function(row_major, 2, 2, 1, X, y, 0.0)[0] - ref_cost([Theta1, Theta2], X, y, 0.0)) > 1e-3


def test_label_and_shape_forms():
    # y as (m,), (m, 1), floats holding integers (Octave data); nn_params as an (N, 1) column.
    sizes = [4, 3, 3]
    thetas, X, y = problem(sizes, m=9, seed=4)
    p = _unroll(thetas)
    J, grad = ng.nn_cost_function(p, *sizes, X, y, 1.0)
    for yy in (y.reshape(-1, 1), y.astype(np.float64), y.astype(np.uint8).reshape(-1, 1)):
        J2, g2 = ng.nn_cost_function(p, *sizes, X, yy, 1.0)
        assert J2 == J and np.array_equal(g2, grad)
    J3, g3 = ng.nn_cost_function(p.reshape(-1, 1), *sizes, X.tolist(), y.tolist(), 1)
    assert J3 == J and np.array_equal(g3, grad) and g3.shape == p.shape


# ----------------------------------------------------------- multi-layer
def test_layers_form_agrees_with_two_layer_form():
    sizes = [5, 4, 3]
    thetas, X, y = problem(sizes, m=8, seed=5)
    p = _unroll(thetas)
    for lam in (0.0, 1.5):
        J, grad = ng.nn_cost_function(p, *sizes, X, y, lam)
        J_l, grad_l = ng.nn_cost_function_layers(p, sizes, X, y, lam)
        assert J_l == J and np.array_equal(grad_l, grad)
    np.testing.assert_array_equal(ng.predict_layers(thetas, X), ng.predict(*thetas, X))


@pytest.mark.parametrize("sizes", [[4, 5, 4, 3], [3, 2, 6, 2, 4], [6, 3]])
def test_layers_form_matches_reference(sizes):
    thetas, X, y = problem(sizes, m=9, seed=6)
    J, grad = ng.nn_cost_function_layers(_unroll(thetas), sizes, X, y, 0.7)
    np.testing.assert_allclose(J, ref_cost(thetas, X, y, 0.7), rtol=RTOL)
    assert_close(grad, _unroll(ref_gradient(thetas, X, y, 0.7)))


# -------------------------------------------------------- optimisation
@pytest.fixture(scope="module")
def small_digits():
    """600 built-in 8x8 digits with Ng's labels: 1..9, and 10 for the digit 0."""
    X, y = load_digits()
    X, y = X[:600], y[:600]
    return X, np.where(y == 0, 10, y)


@pytest.mark.parametrize("method", ["L-BFGS-B", "CG"])
def test_scipy_minimize_trains(small_digits, method):
    X, y = small_digits
    n, h, K = 64, 25, 10
    rng = np.random.default_rng(0)
    x0 = np.concatenate([ng.rand_initialize_weights(n, h, rng=rng).ravel(order="F"),
                         ng.rand_initialize_weights(h, K, rng=rng).ravel(order="F")])
    lam = 1.0
    J0, _ = ng.nn_cost_function(x0, n, h, K, X, y, lam)
    res = scipy.optimize.minimize(lambda p: ng.nn_cost_function(p, n, h, K, X, y, lam), x0,
                                  jac=True, method=method, options={"maxiter": 50})
    assert res.fun < 0.2 * J0, (J0, res.fun)          # J0 ≈ 6.6-7.0 at U(±0.12) weights; 50 iterations reach ≈ 0.8
    Theta1, Theta2 = ng.reshape_thetas(res.x, [n, h, K])
    pred = ng.predict(Theta1, Theta2, X)
    assert pred.dtype == np.int64 and pred.shape == (600,) and set(np.unique(pred)) <= set(range(1, 11))
    # Ng's ex4 expects ~95% training accuracy on 5000 20x20 digits after 50 iterations.
    # Here (600 8x8 digits, 25 hidden units, λ = 1) both methods reached 99.3-99.7%
    # training accuracy for seeds 0-3 (cost ≈ 0.8); chance is 10%. 0.95 leaves room
    # for other scipy/BLAS versions taking different steps, and still fails on any
    # layout or label mix-up (those leave the fit far worse or the labels shifted).
    assert np.mean(pred == y) >= 0.95


# --------------------------------------------------------- prediction
def test_predict_matches_reference_forward_and_is_one_based():
    sizes = [4, 6, 5]
    thetas, X, _ = problem(sizes, m=30, seed=7)
    h = X
    for theta in thetas:
        h = _g(np.hstack([np.ones((len(h), 1)), h]) @ theta.T)
    pred = ng.predict(*thetas, X)
    assert pred.dtype == np.int64 and pred.shape == (30,)
    np.testing.assert_array_equal(pred, np.argmax(h, axis=1) + 1)
    # a single 1-D example, as the Python ex4 notebooks pass X[i, :]
    np.testing.assert_array_equal(ng.predict(*thetas, X[3]), pred[3:4])


def test_predict_ties_and_single_output():
    # Ties go to the lower label (Octave's max); one output unit is always label 1.
    Theta1 = np.zeros((2, 3))
    Theta2 = np.zeros((3, 3))
    np.testing.assert_array_equal(ng.predict(Theta1, Theta2, np.ones((2, 2))), [1, 1])
    np.testing.assert_array_equal(ng.predict(Theta1, np.zeros((1, 3)), np.ones((2, 2))), [1, 1])


# ------------------------------------------------ sigmoid and initialisers
def test_sigmoid_and_gradient():
    z = np.linspace(-30, 30, 121)
    np.testing.assert_allclose(ng.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-15)
    # g(1 − g) directly loses digits for z > 0 (1 − g cancels), so compare where it is
    # accurate, z <= 0, and use the symmetry g'(z) = g'(−z) for the rest.
    neg = z[z <= 0]
    s = 1 / (1 + np.exp(-neg))
    np.testing.assert_allclose(ng.sigmoid_gradient(neg), s * (1 - s), rtol=1e-13)
    np.testing.assert_array_equal(ng.sigmoid_gradient(z), ng.sigmoid_gradient(-z))
    assert ng.sigmoid(0) == 0.5 and ng.sigmoid_gradient(0) == 0.25
    assert isinstance(ng.sigmoid_gradient(0.0), float)
    # ex4's check: sigmoidGradient([-1 -0.5 0 0.5 1]) = [0.196612 0.235004 0.25 0.235004 0.196612]
    np.testing.assert_allclose(ng.sigmoid_gradient([-1, -0.5, 0, 0.5, 1]),
                               [0.196612, 0.235004, 0.25, 0.235004, 0.196612], atol=1e-6)


def test_sigmoid_has_no_overflow_for_large_inputs():
    z = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        s = ng.sigmoid(z)
        d = ng.sigmoid_gradient(z)
    assert np.all(np.isfinite(s)) and np.all(np.isfinite(d))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    assert d[0] == 0.0 and d[-1] == 0.0 and np.all(d >= 0)


def test_rand_initialize_weights():
    W = ng.rand_initialize_weights(400, 25, rng=0)
    assert W.shape == (25, 401) and W.dtype == np.float64
    assert W.min() >= -0.12 and W.max() <= 0.12 and W.std() > 0.05
    np.testing.assert_array_equal(W, ng.rand_initialize_weights(400, 25, rng=np.random.default_rng(0)))
    assert np.max(np.abs(ng.rand_initialize_weights(3, 2, epsilon_init=0.5, rng=1))) <= 0.5


def test_rand_initialize_weights_draws_like_the_exercise_without_rng():
    # Ng's code and its Python ports: W = rand(L_out, 1 + L_in) * 2 eps - eps, from numpy's global state.
    np.random.seed(7)
    expected = np.random.rand(25, 401) * 2 * 0.12 - 0.12
    np.random.seed(7)
    np.testing.assert_array_equal(ng.randInitializeWeights(400, 25), expected)


def test_the_exercises_names_and_call_orders():
    # Only the import changes: the exercise's camelCase names, and the Python port's
    # checkNNGradients(nnCostFunction, lambda_) order as well as the exercise's checkNNGradients(lambda_).
    assert ng.nnCostFunction is ng.nn_cost_function and ng.sigmoidGradient is ng.sigmoid_gradient
    assert ng.debugInitializeWeights is ng.debug_initialize_weights
    assert ng.computeNumericalGradient is ng.compute_numerical_gradient
    calls = []

    def port_style(nn_params, il, hl, nl, X, y, lambda_):
        # written for the Python port: labels 0..K-1 (np.eye(K)[y]), parameters unrolled row-major
        calls.append((lambda_, sorted(set(y.tolist()))))
        T1, T2 = nn_params[:hl * (il + 1)].reshape(hl, il + 1), nn_params[hl * (il + 1):].reshape(nl, hl + 1)
        J, grad = ng.nnCostFunction(np.concatenate([T1.ravel(order="F"), T2.ravel(order="F")]), il, hl, nl, X,
                                    np.argmax(np.eye(nl)[y], axis=1) + 1, lambda_)
        G1, G2 = grad[:T1.size].reshape(T1.shape, order="F"), grad[T1.size:].reshape(T2.shape, order="F")
        return J, np.concatenate([G1.ravel(), G2.ravel()])
    assert ng.checkNNGradients(port_style, 3.0, verbose=False) < 1e-9
    assert {call[0] for call in calls} == {3.0} and calls[0][1] == [1, 2]   # labels valid either way
    # ... and so does this module's function, or a wrapper of it, in that order
    assert ng.checkNNGradients(ng.nnCostFunction, 3.0, verbose=False) < 1e-9
    assert ng.checkNNGradients(lambda *args: ng.nnCostFunction(*args), 3.0, verbose=False) < 1e-9


def test_debug_initialize_weights():
    W = ng.debug_initialize_weights(5, 3)
    assert W.shape == (5, 4)
    np.testing.assert_array_equal(W, np.sin(np.arange(1, 21)).reshape((5, 4), order="F") / 10)
    assert W[1, 0] == np.sin(2) / 10 and W[0, 1] == np.sin(6) / 10     # filled down the columns
    np.testing.assert_array_equal(ng.debug_initialize_weights(5.0, 3.0), W)   # Octave's sizes are doubles
    with pytest.raises(TypeError, match="fan_in must be a non-negative integer; got 2.5"):
        ng.debug_initialize_weights(5, 2.5)


@pytest.mark.parametrize("z,kind", [("3", "str"), (None, "NoneType"), (1 + 2j, "complex")])
def test_sigmoid_refuses_what_is_not_a_real_number(z, kind):
    for function in (ng.sigmoid, ng.sigmoid_gradient):
        with pytest.raises(TypeError, match=f"z must be a real number or an array of them; got {kind}"):
            function(z)


def test_network_from_thetas():
    sizes = [3, 4, 2]
    thetas, X, _ = problem(sizes, m=5, seed=8)
    net = ng.network_from_thetas(thetas)
    np.testing.assert_array_equal(net.weights[0], thetas[0][:, 1:])
    np.testing.assert_array_equal(net.biases[1], thetas[1][:, 0])
    np.testing.assert_array_equal(net.predict(X) + 1, ng.predict(*thetas, X))


# ---------------------------------------------------------- bad input
def test_validation_errors():
    sizes = [4, 3, 3]
    thetas, X, y = problem(sizes, m=6, seed=9)
    p = _unroll(thetas)
    with pytest.raises(ValueError, match=r"nn_params must have length 27 .*got length 26"):
        ng.nn_cost_function(p[:-1], *sizes, X, y, 0.0)
    with pytest.raises(ValueError, match=r"nn_params must have length 27 .*got length 28"):
        ng.nn_cost_function(np.append(p, 0.0), *sizes, X, y, 0.0)
    with pytest.raises(ValueError, match=r"X must have 4 columns.*got shape \(6, 3\)"):
        ng.nn_cost_function(p, *sizes, X[:, :3], y, 0.0)
    with pytest.raises(ValueError, match=r"X must have 4 columns.*got shape \(6, 5\).*bias column"):
        ng.nn_cost_function(p, *sizes, np.hstack([np.ones((6, 1)), X]), y, 0.0)
    with pytest.raises(ValueError, match=r"y must hold labels 1\.\.3.*got \[0\].*1-based"):
        ng.nn_cost_function(p, *sizes, X, y - 1, 0.0)
    with pytest.raises(ValueError, match=r"y must hold labels 1\.\.3.*got \[4\]"):
        ng.nn_cost_function(p, *sizes, X, np.where(y == 3, 4, y), 0.0)
    with pytest.raises(ValueError, match=r"y must hold integer labels 1\.\.3.*1\.5"):
        ng.nn_cost_function(p, *sizes, X, np.where(y == 1, 1.5, y), 0.0)
    with pytest.raises(ValueError, match=r"y must have 6 labels.*got 5"):
        ng.nn_cost_function(p, *sizes, X, y[:5], 0.0)
    with pytest.raises(ValueError, match=r"lambda_ must be >= 0"):
        ng.nn_cost_function(p, *sizes, X, y, -1.0)
    with pytest.raises(ValueError, match=r"nn_params contains NaN"):
        ng.nn_cost_function(np.where(np.arange(27) == 3, np.nan, p), *sizes, X, y, 0.0)
    with pytest.raises(ValueError, match=r"nn_params must have length 25 .*\[4, 2, 2, 3\]; got length 27"):
        ng.nn_cost_function_layers(p, [4, 2, 2, 3], X, y, 0.0)
    with pytest.raises(ValueError, match=r"X must have 4 columns"):
        ng.predict(*thetas, X[:, :2])
    with pytest.raises(ValueError, match=r"thetas\[1\] must have 4 columns"):
        ng.predict(thetas[0], thetas[1][:, :3], X)
    with pytest.raises(TypeError, match=r"hidden_layer_size must be a positive integer"):
        ng.nn_cost_function(p, 4, 3.5, 3, X, y, 0.0)
