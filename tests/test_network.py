"""fastbp.Network as users see it: API, learning real problems, reproducibility."""

import pickle

import numpy as np
import pytest

import fastbp
from fastbp import reference as ref

from conftest import DTYPES, reference_params


def test_weights_and_biases_are_views_of_the_flat_parameters():
    net = fastbp.Network([4, 3, 2], seed=0)
    assert [w.shape for w in net.weights] == [(3, 4), (2, 3)]
    assert [b.shape for b in net.biases] == [(3,), (2,)]
    assert net.n_parameters == net.parameters.size == 3 * 4 + 3 + 2 * 3 + 2
    net.weights[1][0, 2] = 7.0
    assert net.parameters[3 * 4 + 3 + 2] == 7.0
    net.parameters = np.arange(net.n_parameters)
    assert net.biases[0][0] == 12.0 and net.weights[1][1, 0] == 18.0


def test_parameters_setter_validates_before_writing():
    net = fastbp.Network([4, 3, 2], seed=0)
    before = net.parameters.copy()
    with pytest.raises(ValueError, match=r"shape \(23,\)"):
        net.parameters = np.zeros(5)
    with pytest.raises(ValueError, match="NaN"):
        net.parameters = np.full(23, np.nan)
    np.testing.assert_array_equal(net.parameters, before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_replacing_or_assigning_weights_writes_into_the_network(dtype):
    # The habit of Nielsen's and PyTorch's users: net.weights[0] = W, net.biases = [...].
    X = np.random.default_rng(0).random((4, 4))
    net = fastbp.Network([4, 3, 2], dtype=dtype, seed=0)
    net.weights[0] = np.ones((3, 4))                     # float64 in, stored in the network's dtype
    net.biases = [np.zeros(3), np.array([1.0, -1.0])]
    assert net.parameters.dtype == dtype
    np.testing.assert_array_equal(net.parameters[:12], 1.0)
    np.testing.assert_array_equal(net.biases[1], [1.0, -1.0])
    net.weights[0:2] = [np.zeros((3, 4)), np.full((2, 3), 0.5)]
    np.testing.assert_array_equal(net.weights[1], 0.5)
    before = net.parameters.copy()
    with pytest.raises(ValueError, match=r"weights\[1\] must have shape \(2, 3\); got shape \(3, 2\)"):
        net.weights = [np.ones((3, 4)), np.ones((3, 2))]      # checked before anything is written
    with pytest.raises(ValueError, match=r"biases\[0\] contains NaN"):
        net.biases[0] = np.full(3, np.nan)
    with pytest.raises(ValueError, match="needs 2 arrays"):
        net.weights = [np.ones((3, 4))]
    with pytest.raises(TypeError, match="cannot be added"):
        net.weights.append(np.ones((1, 2)))
    np.testing.assert_array_equal(net.parameters, before)
    net.fit(X, [0, 1, 0, 1], epochs=1, batch_size=2)
    np.testing.assert_array_equal(net.weights[0], net.parameters[:12].reshape(3, 4))   # still views


def test_the_configuration_is_fixed_once_built():
    # The layer table, kernel codes and input checks come from it: a changed sizes would let a kernel
    # read past the end of X.
    net = fastbp.Network([3, 4, 2], hidden_activation="tanh", seed=0)
    for name, value in [("sizes", (1, 4, 2)), ("dtype", np.float32), ("hidden_activation", "relu"),
                        ("output_activation", "softmax"), ("cost_name", "log_likelihood"), ("leaky_slope", 0.5)]:
        before = getattr(net, name)
        with pytest.raises(AttributeError, match=f"{name} is fixed when a Network is built"):
            setattr(net, name, value)
        assert getattr(net, name) == before
    with pytest.raises(ValueError, match="3"):
        net.feedforward(np.ones((5, 1)))
    clone = pickle.loads(pickle.dumps(net))
    assert (clone.sizes, clone.hidden_activation, clone.dtype) == (net.sizes, "tanh", net.dtype)
    np.testing.assert_array_equal(clone.weights[0], net.weights[0])
    assert not np.shares_memory(net.copy().weights[0], net.weights[0])


def test_default_initializer_is_nielsens():
    """W ~ N(0, 1/n_in), b ~ N(0, 1): check the sample moments on a wide layer."""
    net = fastbp.Network([400, 300, 2], seed=1)
    w = net.weights[0]
    assert abs(w.mean()) < 0.01 / np.sqrt(400) * 10
    assert w.std() * np.sqrt(400) == pytest.approx(1.0, rel=0.02)      # 120,000 draws: sd of sd ≈ 0.2%
    assert net.biases[0].std() == pytest.approx(1.0, rel=0.15)          # 300 draws: sd of sd ≈ 4%


def test_same_seed_same_training_different_seed_different():
    X = np.random.default_rng(0).normal(size=(50, 5))
    y = np.arange(50) % 3
    runs = []
    for seed in (7, 7, 8):
        net = fastbp.Network([5, 4, 3], seed=seed)
        net.fit(X, y, epochs=3, batch_size=4, learning_rate=0.5)
        runs.append(net.parameters.copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


@pytest.mark.parametrize("dtype", DTYPES)
def test_float32_network_stays_float32(dtype):
    net = fastbp.Network([5, 4, 3], output_activation="softmax", cost="log_likelihood", dtype=dtype, seed=0)
    X = np.random.default_rng(0).normal(size=(10, 5))       # float64 input is converted once
    y = np.arange(10) % 3
    net.fit(X, y, epochs=1, batch_size=3, learning_rate=0.1)
    assert net.parameters.dtype == dtype
    assert all(w.dtype == dtype for w in net.weights + net.biases)
    assert net.feedforward(X).dtype == dtype
    assert net.predict_proba(X).dtype == dtype
    dW, db = net.gradient(X, y)
    assert all(g.dtype == dtype for g in dW + db)


def test_float32_training_tracks_float64():
    """Same seed and data: after 5 epochs the float32 weights stay within 1e-3 of float64.

    Each step rounds at float32 eps (1.2e-7); 5 epochs x 25 steps of a
    contractive sigmoid network accumulate to ~1e-5, so 1e-3 absolute on
    O(1) weights is a safe bound that a dtype bug (wrong constants, wrong
    cast) would break by orders of magnitude.
    """
    rng = np.random.default_rng(0)
    X = rng.random((100, 8))
    y = (X[:, 0] > X[:, 1]).astype(int) + 2 * (X[:, 2] > 0.5)
    nets = {dt: fastbp.Network([8, 10, 4], dtype=dt, seed=3) for dt in DTYPES}
    for net in nets.values():
        net.fit(X, y, epochs=5, batch_size=4, learning_rate=1.0)
    np.testing.assert_allclose(nets[np.float32].parameters, nets[np.float64].parameters, atol=1e-3)
    assert nets[np.float32].cost(X, y) == pytest.approx(nets[np.float64].cost(X, y), rel=1e-3)


def test_fit_equals_reference_sgd_with_the_same_shuffles():
    """Network.fit == reference.sgd_epoch fed the permutations fit draws."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, 30)
    net = fastbp.Network([4, 5, 3], cost="cross_entropy", seed=11)
    weights, biases = reference_params(net)
    history = net.fit(X, y, epochs=3, batch_size=7, learning_rate=0.4, l2=0.1)
    shuffles = np.random.default_rng(11)
    fastbp.Network([4, 5, 3], seed=shuffles)        # consume the initial draws the same way
    for _ in range(3):
        ref.sgd_epoch(weights, biases, X, np.eye(3)[y], ["sigmoid", "sigmoid"], "cross_entropy",
                      shuffles.permutation(30), 7, 0.4, l2=0.1)
    for got, want in zip(net.weights + net.biases, weights + biases):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert len(history) == 3 and history["epoch"] == [1, 2, 3]


def test_history_records_costs_and_accuracies(digits):
    X, y, Xt, yt = digits
    net = fastbp.Network([64, 20, 10], seed=0)
    h = net.fit(X, y, epochs=4, batch_size=10, learning_rate=3.0, validation_data=(Xt, yt))
    assert h.keys() == ["epoch", "cost", "accuracy", "val_cost", "val_accuracy", "learning_rate", "time",
                      "compile_time"]
    assert h["cost"][-1] < h["cost"][0]
    assert h["val_accuracy"][-1] == pytest.approx(net.evaluate(Xt, yt)["accuracy"])
    assert h["val_cost"][-1] == pytest.approx(net.cost(Xt, yt))
    assert all(0.0 <= a <= 1.0 for a in h["accuracy"])
    assert h.as_dict()["epoch"] == [1, 2, 3, 4]
    assert h.history == h.as_dict()                      # Keras' name for the same dict
    h.history["cost"].clear()
    assert len(h["cost"]) == 4                           # a copy: the records are untouched
    for record in h:
        record["cost"] = -1.0                            # iterating gives copies too
    assert -1.0 not in h["cost"]


def test_regression_targets_have_no_accuracy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = X @ rng.normal(size=(3, 2))
    net = fastbp.Network([3, 2], output_activation="identity", seed=0)
    h = net.fit(X, Y, epochs=50, batch_size=8, learning_rate=0.1)
    assert "accuracy" not in h
    assert net.evaluate(X, Y)["accuracy"] is None
    assert h["cost"][-1] < 1e-3 * h["cost"][0]              # a linear model fits linear data
    assert net.predict(X).shape == (40, 2)
    with pytest.raises(ValueError, match="predict_proba"):
        net.predict_proba(X)


@pytest.mark.parametrize("hidden,cost,output", [
    ("sigmoid", "quadratic", "sigmoid"),
    ("tanh", "cross_entropy", "sigmoid"),
    ("relu", "log_likelihood", "softmax"),
])
def test_learns_xor_to_zero_error(hidden, cost, output):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    n_out = 2 if output == "softmax" else 1
    net = fastbp.Network([2, 4, n_out], hidden_activation=hidden, output_activation=output, cost=cost,
                         seed=0, init="glorot_uniform" if hidden == "relu" else "nielsen")
    net.fit(X, y, epochs=2000, batch_size=4, learning_rate=2.0 if hidden == "sigmoid" else 0.5)
    np.testing.assert_array_equal(net.predict(X), y)
    assert net.evaluate(X, y)["accuracy"] == 1.0


@pytest.mark.slow
@pytest.mark.parametrize("dtype", DTYPES)
def test_digits_held_out_accuracy_at_least_95_percent(digits, dtype):
    X, y, Xt, yt = digits
    net = fastbp.Network([64, 30, 10], seed=0, dtype=dtype)
    net.fit(X, y, epochs=30, batch_size=10, learning_rate=3.0)
    assert net.evaluate(Xt, yt)["accuracy"] >= 0.95


def test_divergence_raises_and_keeps_the_last_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)) * 100
    Y = rng.normal(size=(64, 1)) * 100
    net = fastbp.Network([4, 16, 1], hidden_activation="relu", output_activation="identity", seed=0)
    net.fit(X, Y, epochs=1, batch_size=8, learning_rate=1e-9)
    good = net.parameters.copy()
    with pytest.raises(FloatingPointError, match=r"epoch 2.*learning_rate=1e\+06.*end of epoch 1"):
        net.fit(X, Y, epochs=3, batch_size=8, learning_rate=1e6)
    np.testing.assert_array_equal(net.parameters, good)


def test_predict_for_classifiers():
    net = fastbp.Network([3, 4, 3], output_activation="softmax", cost="log_likelihood", seed=0)
    X = np.random.default_rng(0).normal(size=(7, 3))
    proba = net.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(net.predict(X), proba.argmax(axis=1))
    binary = fastbp.Network([3, 1], seed=0)
    np.testing.assert_array_equal(binary.predict(X), (binary.feedforward(X)[:, 0] >= 0.5).astype(int))


def test_binary_single_output_accepts_0_1_labels():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    net = fastbp.Network([2, 1], cost="cross_entropy", seed=0)
    h = net.fit(X, y, epochs=30, batch_size=10, learning_rate=0.5)
    assert h["accuracy"][-1] > 0.95


def test_sample_weight_equals_repeating_samples():
    """Integer weights give the same full-batch gradient as repeating rows."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3))
    y = np.array([0, 1, 2, 0, 1, 2])
    w = np.array([1, 2, 0, 3, 1, 1])
    net = fastbp.Network([3, 4, 3], seed=0)
    g_weighted = net.gradient(X, y, sample_weight=w, flat=True)
    g_repeated = net.gradient(np.repeat(X, w, axis=0), np.repeat(y, w), flat=True)
    np.testing.assert_allclose(g_weighted, g_repeated, rtol=1e-12, atol=1e-14)


def test_a_scalar_sample_weight_weighs_every_row_alike():
    """As in scikit-learn; float64 cost and gradient agree with unweighted ones to a few roundings."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), np.array([0, 1, 2, 0, 1, 2])
    net = fastbp.Network([3, 4, 3], seed=0)
    np.testing.assert_allclose(net.gradient(X, y, l2=0.5, sample_weight=2.5, flat=True),
                               net.gradient(X, y, l2=0.5, flat=True), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(net.cost(X, y, l2=0.5, sample_weight=2.5), net.cost(X, y, l2=0.5), rtol=1e-12)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        net.cost(X, y, sample_weight=-1.0)


@pytest.mark.parametrize("dtype,power", [("float32", 120), ("float32", -126), ("float64", 1000),
                                         ("float64", -1021)])
def test_weights_scaled_by_a_power_of_two_anywhere_in_range_change_nothing(dtype, power):
    """Only the weights' ratios matter, bit for bit, up to the ends of the dtype's range. Float32
    weights near 1e36 used to flush a batch's 1 / Σw to zero (no update at all); weights whose
    total passed 1e300, or below the smallest normal number, were refused."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 3)).astype(dtype), rng.integers(0, 3, 200)
    w = rng.random(200) + 0.5
    scaled = np.ldexp(w, power)
    results = []
    for weights in (w, scaled):
        net = fastbp.Network([3, 5, 3], dtype=dtype, seed=0)
        history = net.fit(X, y, epochs=2, batch_size=100, learning_rate=1.0, sample_weight=weights)
        results.append((net.parameters, history["cost"], net.gradient(X, y, sample_weight=weights, flat=True),
                        net.cost(X, y, sample_weight=weights), net.evaluate(X, y, sample_weight=weights)))
    (params, costs, gradient, cost, evaluation), scaled_results = results
    np.testing.assert_array_equal(scaled_results[0], params)
    assert scaled_results[1] == costs
    np.testing.assert_array_equal(scaled_results[2], gradient)
    assert scaled_results[3] == cost and scaled_results[4] == evaluation
    assert np.abs(gradient).max() > 1e-3          # there was something to lose


def test_zero_epochs_changes_nothing():
    net = fastbp.Network([3, 2], seed=0)
    before = net.parameters.copy()
    h = net.fit(np.zeros((4, 3)), [0, 1, 1, 0], epochs=0)
    assert len(h) == 0
    np.testing.assert_array_equal(net.parameters, before)


def test_repr_names_the_configuration():
    assert repr(fastbp.Network([3, 2], dtype="float32")) == (
        "Network([3, 2], hidden_activation='sigmoid', output_activation='sigmoid', "
        "cost='quadratic', dtype=float32)")


def test_pickle_round_trip_keeps_views_and_training_state():
    import pickle
    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    net = fastbp.Network([3, 4, 2], seed=0)
    net.fit(X, y, epochs=2, optimizer="adam", learning_rate=0.01)
    clone = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(clone.parameters, net.parameters)
    clone.weights[0][0, 0] = 5.0                      # views into the clone's own buffer
    assert clone.parameters[0] == 5.0 and net.parameters[0] != 5.0
    clone.parameters = net.parameters
    clone.fit(X, y, epochs=1, optimizer="adam", learning_rate=0.01)
    net.fit(X, y, epochs=1, optimizer="adam", learning_rate=0.01)
    np.testing.assert_array_equal(clone.parameters, net.parameters)


def test_networks_pickled_before_best_epoch_existed_still_work(tmp_path):
    net = fastbp.Network([3, 2], seed=0)
    del net._best_epoch                               # as a Network pickled by fastbp before it
    clone = pickle.loads(pickle.dumps(net))
    assert clone.history.best_epoch is None and clone.copy().history.best_epoch is None
    clone.save(tmp_path / "m.npz")


def test_read_only_inputs_are_accepted():
    X = np.random.default_rng(0).normal(size=(20, 3))
    X.flags.writeable = False
    net = fastbp.Network([3, 2], seed=0)
    net.fit(X, np.arange(20) % 2, epochs=1)
    assert net.predict(X).shape == (20,)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_poisson_regression_learns_log_linear_rates(tmp_path, dtype):
    """An exp output with the Poisson cost recovers rates e^{Xβ}: its fitted cost closes most of the gap from
    a constant rate's to the true rates' (the data's own noise floor), and its rates correlate with the
    true ones above 0.98."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    true = np.exp(0.5 * X[:, :1] - 0.2 * X[:, 1:2] + 1.0)
    counts = rng.poisson(true)
    net = fastbp.Network([3, 8, 1], hidden_activation="tanh", output_activation="exp", cost="poisson",
                         dtype=dtype, seed=0)
    net.fit(X, counts, epochs=30, batch_size=32, learning_rate=0.05)
    rates = net.feedforward(X)
    assert rates.dtype == dtype and (rates > 0).all() and not net.is_classifier
    def cost_of(rate):
        return ref.sample_costs(np.log(rate), rate, counts, "poisson").mean()

    floor, constant = cost_of(true), cost_of(np.full_like(true, counts.mean()))
    assert net.cost(X, counts) < floor + 0.25 * (constant - floor)
    assert np.corrcoef(rates[:, 0], true[:, 0])[0, 1] > 0.98
    path = tmp_path / "poisson.npz"
    net.save(path)
    np.testing.assert_array_equal(fastbp.load(path).feedforward(X), rates)


@pytest.mark.parametrize("options, message", [
    (dict(hidden_activation="exp"), "hidden_activation must be one of"),
    (dict(output_activation="sigmoid", cost="poisson"), r"cost 'poisson' needs output_activation in \('exp',\)"),
])
def test_exp_and_poisson_are_refused_where_undefined(options, message):
    with pytest.raises(ValueError, match=message):
        fastbp.Network([3, 4, 2], **options)


def test_poisson_cost_refuses_negative_targets_before_training():
    net = fastbp.Network([2, 1], output_activation="exp", cost="poisson", seed=0)
    before = net.parameters.copy()
    with pytest.raises(ValueError, match="y must be non-negative for the poisson cost; got minimum -2"):
        net.fit(np.ones((3, 2)), [[1.0], [-2.0], [0.0]], epochs=1)
    np.testing.assert_array_equal(net.parameters, before)


def test_poisson_targets_are_counts_never_class_labels():
    X = np.ones((4, 2))
    one = fastbp.Network([2, 1], output_activation="exp", cost="poisson", seed=0)
    history = one.fit(X, [0, 1, 1, 0], epochs=1, learning_rate=0.1)
    assert "accuracy" not in history.keys()              # 0/1 counts are not two classes
    assert one.evaluate(X, [[0], [1], [1], [0]])["accuracy"] is None
    two = fastbp.Network([2, 2], output_activation="exp", cost="poisson", seed=0)
    with pytest.raises(ValueError, match=r"y holds counts for the poisson cost, so it must be \(n_samples, 2\)"):
        two.fit(X, [0, 1, 1, 0], epochs=1)
    with pytest.raises(ValueError, match="accuracy"):
        one.fit(X, [0, 1, 1, 0], epochs=2, validation_data=(X, [0, 1, 1, 0]),
                early_stopping=fastbp.EarlyStopping("val_accuracy"))
