"""Reliability: property-based checks over shapes, dtypes and magnitudes; state
safety when fit fails; concurrency; memory that does not grow with epochs."""

import threading
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import fastbp
from fastbp import reference as ref

from conftest import activations_of, reference_params

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
PAIRS = [("quadratic", "sigmoid"), ("quadratic", "identity"), ("quadratic", "tanh"), ("quadratic", "relu"),
         ("quadratic", "softmax"), ("cross_entropy", "sigmoid"), ("log_likelihood", "softmax")]
ACCEPTED = (ValueError, TypeError)     # NumericalError is a ValueError


@st.composite
def problems(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    depth = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 9)) for _ in range(depth + 1)]
    cost, output = draw(st.sampled_from(PAIRS))
    if output == "softmax":
        sizes[-1] = max(sizes[-1], 2)
    n = draw(st.integers(1, 12))
    # magnitudes from tiny to the edge of the dtype's range, and all-equal inputs
    edge = 300 if dtype == np.float64 else 38
    exponent = draw(st.integers(-edge, edge))
    kind = draw(st.sampled_from(["random", "constant", "scaled"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    if kind == "constant":
        X = np.full((n, sizes[0]), draw(st.floats(-3, 3)))
    elif kind == "scaled":
        X = rng.normal(size=(n, sizes[0])) * 10.0 ** exponent
    else:
        X = rng.normal(size=(n, sizes[0]))
    labels = draw(st.booleans()) and output in ("softmax", "sigmoid") and sizes[-1] > 1
    if labels or cost == "log_likelihood":
        y = rng.integers(0, sizes[-1], n)       # more classes than samples happens
    elif cost == "cross_entropy":
        y = rng.random((n, sizes[-1]))
    else:
        y = rng.normal(size=(n, sizes[-1]))
    hidden = draw(st.sampled_from(HIDDEN))
    return dtype, sizes, hidden, output, cost, X, y


def _onehot(y, k):
    return np.eye(k)[y] if np.ndim(y) == 1 else y


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_every_call_returns_a_correct_finite_result_or_raises_clearly(problem):
    dtype, sizes, hidden, output, cost, X, y = problem
    net = fastbp.Network(sizes, hidden_activation=hidden, output_activation=output, cost=cost, dtype=dtype, seed=0)
    Xd = X.astype(dtype) if np.isfinite(X.astype(dtype)).all() else X
    try:
        value = net.cost(X, y)
        dW, db = net.gradient(X, y)
        out = net.feedforward(X)
    except ACCEPTED:
        return
    assert np.isfinite(value) and np.isfinite(out).all()
    assert all(np.isfinite(g).all() for g in dW + db)
    # where the float64 reference is itself finite and well-conditioned, agree with it
    weights, biases = reference_params(net)
    with np.errstate(all="ignore"):
        _, outs = ref.feedforward(weights, biases, Xd.astype(np.float64), activations_of(net))
    if np.isfinite(outs[-1]).all() and np.abs(Xd).max() < 1e3:
        tol = 1e-9 if dtype == np.float64 else 1e-3
        np.testing.assert_allclose(out, outs[-1], rtol=tol, atol=tol * max(1.0, np.abs(outs[-1]).max()))
        want = ref.total_cost(weights, biases, Xd.astype(np.float64), _onehot(y, sizes[-1]),
                              activations_of(net), cost)
        assert value == pytest.approx(want, rel=tol, abs=tol)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.integers(1, 13), st.floats(1e-4, 10.0), st.sampled_from(["sgd", "momentum", "adam"]))
def test_fit_either_trains_to_finite_weights_or_raises_and_changes_nothing(problem, batch_size, lr, optimizer):
    dtype, sizes, hidden, output, cost, X, y = problem
    net = fastbp.Network(sizes, hidden_activation=hidden, output_activation=output, cost=cost, dtype=dtype, seed=0)
    before = net.parameters.copy()
    try:
        net.fit(X, y, epochs=2, batch_size=batch_size, learning_rate=lr, optimizer=optimizer)
    except ACCEPTED:
        assert len(net.history) <= 2
        if len(net.history) == 0:
            np.testing.assert_array_equal(net.parameters, before)
        assert np.isfinite(net.parameters).all()
        return
    assert np.isfinite(net.parameters).all() and len(net.history) == 2


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.integers(-5, 0), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
                 st.none(), st.lists(st.integers(), max_size=2)))
def test_bad_hyperparameters_raise_value_or_type_errors(value):
    X, y = np.zeros((4, 2)), np.array([0, 1, 1, 0])
    net = fastbp.Network([2, 2], seed=0)
    before = net.parameters.copy()
    for name in ("batch_size", "learning_rate", "epochs", "l2", "dropout"):
        try:
            net.fit(X, y, **{"epochs": 1, name: value})
        except ACCEPTED:
            pass
    np.testing.assert_array_equal(net.parameters, before) if len(net.history) == 0 else None
    assert np.isfinite(net.parameters).all()


def test_single_sample_single_feature_and_more_classes_than_samples():
    net = fastbp.Network([1, 4, 7], output_activation="softmax", cost="log_likelihood", seed=0)
    h = net.fit([[0.5]], [6], epochs=5, batch_size=1, learning_rate=0.5)
    assert len(h) == 5 and net.predict([[0.5]]).shape == (1,)
    net2 = fastbp.Network([3, 5, 4], seed=0)
    net2.fit(np.ones((2, 3)), [3, 1], epochs=3)        # all-equal inputs, 4 classes, 2 samples
    assert np.isfinite(net2.parameters).all()


def test_overflowing_inputs_raise_a_numerical_error_not_nan():
    net = fastbp.Network([2, 3, 2], hidden_activation="identity", output_activation="identity", seed=0)
    net.parameters = np.full(net.n_parameters, 1e200)
    with pytest.raises(fastbp.NumericalError, match="overflowed"):
        net.feedforward([[1e200, 1e200]])
    with pytest.raises(ValueError):           # the same error, caught as a ValueError
        net.cost([[1e200, 1e200]], [[0.0, 0.0]])


# ------------------------------------------------------------------ state safety
def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 4)), rng.integers(0, 3, 40)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_raising_callback_leaves_the_state_of_the_last_completed_epoch(optimizer):
    X, y = _data()
    reference_net = fastbp.Network([4, 5, 3], seed=1)
    reference_net.fit(X, y, epochs=2, optimizer=optimizer, learning_rate=0.1)

    def boom(epoch, logs):
        if epoch == 2:
            raise RuntimeError("callback failed")
    net = fastbp.Network([4, 5, 3], seed=1)
    with pytest.raises(RuntimeError, match="callback failed"):
        net.fit(X, y, epochs=5, optimizer=optimizer, learning_rate=0.1, callbacks=[boom])
    np.testing.assert_array_equal(net.parameters, reference_net.parameters)
    np.testing.assert_array_equal(net._optimizer_state.first, reference_net._optimizer_state.first)
    assert net.history.as_dict()["cost"] == reference_net.history.as_dict()["cost"]


def test_bad_validation_data_is_rejected_before_any_epoch():
    X, y = _data()
    net = fastbp.Network([4, 5, 3], seed=1)
    before = net.parameters.copy()
    with pytest.raises(ValueError, match="must have 4 features"):
        net.fit(X, y, epochs=3, validation_data=(np.zeros((5, 3)), [0] * 5))
    np.testing.assert_array_equal(net.parameters, before)
    assert net._optimizer_state is None and len(net.history) == 0


# ------------------------------------------------------------------- concurrency
def test_two_networks_trained_in_two_threads_match_sequential_training():
    X, y = _data()

    def train(seed, out):
        net = fastbp.Network([4, 8, 3], seed=seed)
        net.fit(X, y, epochs=30, batch_size=4, learning_rate=0.3, optimizer="momentum")
        out[seed] = net.parameters.copy()
    sequential, concurrent = {}, {}
    for seed in (1, 2):
        train(seed, sequential)
    threads = [threading.Thread(target=train, args=(seed, concurrent)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in (1, 2):
        np.testing.assert_array_equal(concurrent[seed], sequential[seed])


def test_predict_from_several_threads_is_correct():
    X, y = _data()
    net = fastbp.Network([4, 8, 3], output_activation="softmax", cost="log_likelihood", seed=0)
    net.fit(X, y, epochs=5)
    want = net.predict_proba(X)
    results, errors = [], []

    def predict():
        try:
            for _ in range(50):
                results.append(np.array_equal(net.predict_proba(X), want))
        except Exception as exc:     # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=predict) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(results) and len(results) == 200


def test_concurrent_fits_on_one_network_are_serialised():
    X, y = _data()
    net = fastbp.Network([4, 8, 3], seed=0)
    threads = [threading.Thread(target=net.fit, args=(X, y), kwargs=dict(epochs=5)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert net.history["epoch"] == list(range(1, 11))     # one after the other, not interleaved


# ------------------------------------------------------------------------ memory
def test_memory_of_fit_does_not_grow_with_epochs():
    rng = np.random.default_rng(0)
    X = rng.random((2000, 50))
    y = rng.integers(0, 10, 2000)
    net = fastbp.Network([50, 40, 10], seed=0)
    net.fit(X, y, epochs=1, batch_size=32)          # compile outside the measurement

    def peak(epochs):
        tracemalloc.start()
        net.fit(X, y, epochs=epochs, batch_size=32)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top
    one, many = peak(1), peak(8)
    assume(one > 0)
    # per-epoch temporaries (permutation, parameter snapshot) are freed each
    # epoch; eight epochs may keep only the history's few records more
    assert many < one * 1.1 + 50_000
