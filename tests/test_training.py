"""Training options against the numpy reference: optimizers, schedules,
initializers, regularisation, early stopping, monitoring, diagnostics."""

import math
import os
import warnings

import numpy as np
import pytest

import fastbp
from fastbp import reference as ref
from fastbp import schedules
from fastbp.optimizers import SGD, Adam

from conftest import DTYPES, activations_of, assert_close, reference_params


def _problem(seed=0, n=24, sizes=(5, 6, 3)):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    return X, y


def _numpy_update(kind, theta, g, lr, state, t, mu=0.9, b1=0.9, b2=0.999, eps=1e-8, nesterov=False):
    """One optimizer step in plain numpy (scikit-learn's momentum form, Adam with bias correction)."""
    if kind == "sgd":
        return theta - lr * g
    if kind == "momentum":
        state["v"] = mu * state["v"] - lr * g
        return theta + (mu * state["v"] - lr * g if nesterov else state["v"])
    state["m"] = b1 * state["m"] + (1 - b1) * g
    state["s"] = b2 * state["s"] + (1 - b2) * g * g
    if kind == "adam_torch":        # torch.optim.Adam's form, with the README's ε/√(1−β2ᵗ) for its ε
        m_hat, v_hat = state["m"] / (1 - b1 ** t), state["s"] / (1 - b2 ** t)
        return theta - lr * m_hat / (np.sqrt(v_hat) + eps / math.sqrt(1 - b2 ** t))
    lr_t = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    return theta - lr_t * state["m"] / (np.sqrt(state["s"]) + eps)


def _flat(ws, bs):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(ws, bs)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("optimizer,kind,nesterov", [
    (SGD(), "sgd", False), (SGD(momentum=0.9), "momentum", False),
    (SGD(momentum=0.9, nesterov=True), "momentum", True), (Adam(), "adam", False),
    (Adam(epsilon=0.1), "adam_torch", False),      # an ε large enough to tell the forms apart
])
def test_optimizers_match_numpy_steps_on_reference_gradients(optimizer, kind, nesterov, dtype):
    """Full-batch steps (batch = all rows, no shuffle): each epoch is one step,
    so three epochs are three hand-computed updates with carried state."""
    X, y = _problem()
    net = fastbp.Network([5, 6, 3], hidden_activation="tanh", output_activation="softmax",
                         cost="log_likelihood", dtype=dtype, seed=1)
    weights, biases = reference_params(net)
    theta = _flat(weights, biases)
    Y = np.eye(3)[y]
    state = {"v": 0.0, "m": 0.0, "s": 0.0}
    for t in range(1, 4):
        ws, bs = fastbp.network.split(theta.copy(), net._layout)
        nw, nb = ref.backprop(ws, bs, X.astype(dtype).astype(np.float64), Y, activations_of(net),
                              "log_likelihood", l2=0.5, n_total=len(X))
        theta = _numpy_update(kind, theta, _flat(nw, nb), 0.05, state, t, nesterov=nesterov,
                              eps=getattr(optimizer, "epsilon", 1e-8))
    net.fit(X, y, epochs=3, batch_size=len(X), learning_rate=0.05, l2=0.5, optimizer=optimizer, shuffle=False)
    assert_close(net.parameters, theta, dtype)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_n_calls_of_one_epoch_equal_one_call_of_n_epochs(optimizer):
    X, y = _problem(1, n=40)
    options = dict(batch_size=7, learning_rate=0.05, l2=0.1, l1=0.01, dropout=0.2, optimizer=optimizer,
                   schedule=schedules.StepDecay(step_size=2, gamma=0.5))
    one = fastbp.Network([5, 6, 3], seed=3)
    h1 = one.fit(X, y, epochs=5, **options)
    many = fastbp.Network([5, 6, 3], seed=3)
    for _ in range(5):
        many.partial_fit(X, y, **options)
    np.testing.assert_array_equal(one.parameters, many.parameters)
    assert many.history["learning_rate"] == h1["learning_rate"] == [0.05, 0.05, 0.025, 0.025, 0.0125]
    assert many.history["epoch"] == [1, 2, 3, 4, 5]


def test_changing_optimizer_starts_fresh_state_and_reset_forgets_epochs():
    X, y = _problem()
    net = fastbp.Network([5, 6, 3], seed=0)
    net.fit(X, y, epochs=2, optimizer="adam", learning_rate=0.01)
    assert net._optimizer_state.step[0] > 0
    net.fit(X, y, epochs=1, optimizer="momentum", learning_rate=0.01)
    assert net._optimizer_state.step[0] == 0 and net._optimizer_state.first.any()
    assert len(net.history) == 3
    net.reset_optimizer()
    assert net._optimizer_state is None and len(net.history) == 0


def test_schedules_follow_their_formulas():
    assert schedules.Constant().rate(7, 0.3, []) == 0.3
    assert schedules.InverseScaling(0.5).rate(4, 1.0, []) == 0.5
    step = schedules.StepDecay(step_size=3, gamma=0.1)
    assert [step.rate(e, 1.0, []) for e in range(1, 8)] == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01])


def _records(values, key="cost"):
    return [{key: v} for v in values]


def test_adaptive_divides_by_five_after_stalls_and_stops_at_min_lr():
    adaptive = schedules.Adaptive(patience=2, tol=1e-4)
    improving = _records([5, 4, 3, 2])
    assert adaptive.rate(5, 1.0, improving) == 1.0
    stalled = _records([5, 4, 4, 4, 4])        # 3 epochs without improvement > patience 2
    assert adaptive.rate(6, 1.0, stalled) == pytest.approx(0.2)
    flat = _records([1.0] * 40)
    assert adaptive.rate(41, 1e-5, flat) is None     # 1e-5 -> 2e-6 -> 4e-7 <= min_lr: stop


def test_adaptive_defaults_are_scikit_learns():
    # n_iter_no_change=10, tol=1e-4: the rate is divided after the 11th epoch without an improvement
    adaptive = schedules.Adaptive()
    assert adaptive.rate(12, 1.0, _records([5.0] + [5.0] * 10)) == 1.0
    assert adaptive.rate(13, 1.0, _records([5.0] + [5.0] * 11)) == pytest.approx(0.2)
    assert adaptive.rate(13, 1.0, _records([5.0] + [5.0 - 0.5e-4 * i for i in range(1, 12)])) == pytest.approx(0.2)


def test_nielsen_halving_stops_at_one_128th():
    halving = schedules.Halving(patience=2)
    acc = _records([0.5, 0.6, 0.6, 0.6], key="val_accuracy")   # no improvement for 2 epochs
    assert halving.rate(5, 1.0, acc) == 0.5
    assert halving.rate(30, 1.0, _records([0.5] * 13, key="val_accuracy")) == pytest.approx(1 / 64)
    assert halving.rate(30, 1.0, _records([0.5] * 15, key="val_accuracy")) is None


def test_schedules_pass_over_epochs_that_did_not_record_their_monitor():
    # A first fit without validation data, then one with it: only the second's epochs count.
    earlier = [{"cost": 1.0}] * 12
    halving = schedules.Halving(patience=2)
    later = _records([0.5, 0.6, 0.6, 0.6], key="val_accuracy")
    assert halving.rate(17, 1.0, earlier + later) == halving.rate(5, 1.0, later) == 0.5
    X, y = _problem(2, n=30)
    net = fastbp.Network([5, 4, 3], seed=0)
    net.fit(X, y, epochs=2, batch_size=10)
    h = net.fit(X, y, epochs=2, batch_size=10, validation_data=(X, y), schedule="halving")
    assert len(h) == 2 and "val_accuracy" in h.keys()
    with pytest.raises(ValueError, match="'val_accuracy', which the history does not record"):
        halving.rate(3, 1.0, [{"val_accuracy": float("nan")}])     # recorded but unusable: still refused


def test_a_schedule_s_numpy_rate_is_recorded_as_a_float_and_the_model_saves(tmp_path):
    class Float32Decay:
        def rate(self, epoch, lr0, records):
            return np.float32(lr0) * np.float32(0.5) ** epoch

    X, y = _problem(2, n=30)
    net = fastbp.Network([5, 4, 3], seed=0)
    h = net.fit(X, y, epochs=2, batch_size=10, schedule=Float32Decay(), checkpoint=tmp_path / "ck.npz")
    assert [type(r) for r in h["learning_rate"]] == [float, float]
    assert h["learning_rate"] == [float(np.float32(3.0) * np.float32(0.5)), float(np.float32(3.0) * np.float32(0.25))]
    net.save(tmp_path / "m.npz")
    assert fastbp.load(tmp_path / "m.npz")._records == net._records


def test_schedule_that_stops_ends_fit_and_adaptive_lowers_the_rate_in_training():
    X, y = _problem(2, n=30)
    net = fastbp.Network([5, 4, 3], seed=0)
    h = net.fit(X, y, epochs=60, batch_size=30, learning_rate=1e-9,
                schedule=schedules.Adaptive(patience=1, tol=1.0, min_lr=1e-12))
    assert len(h) < 60                                     # stopped by the schedule
    assert h["learning_rate"][0] == 1e-9 and h["learning_rate"][-1] < 1e-11


@pytest.mark.parametrize("name,check", [
    ("zeros", lambda w, b, n_in, n_out: np.all(w == 0) and np.all(b == 0)),
    ("uniform", lambda w, b, n_in, n_out: np.abs(w).max() <= 0.12 and np.abs(b).max() <= 0.12
        and np.abs(w).max() > 0.11),
    ("large", lambda w, b, n_in, n_out: abs(w.std() - 1) < 0.02),
    ("nielsen", lambda w, b, n_in, n_out: abs(w.std() * np.sqrt(n_in) - 1) < 0.02),
    ("glorot_normal", lambda w, b, n_in, n_out: abs(w.std() / np.sqrt(2 / (n_in + n_out)) - 1) < 0.02
        and np.all(b == 0)),
    ("glorot_uniform", lambda w, b, n_in, n_out: np.abs(w).max() <= np.sqrt(6 / (n_in + n_out))
        and abs(w.std() / np.sqrt(2 / (n_in + n_out)) - 1) < 0.02),
    ("he_normal", lambda w, b, n_in, n_out: abs(w.std() / np.sqrt(2 / n_in) - 1) < 0.02 and np.all(b == 0)),
    ("he_uniform", lambda w, b, n_in, n_out: np.abs(w).max() <= np.sqrt(6 / n_in)
        and abs(w.std() / np.sqrt(2 / n_in) - 1) < 0.02),
])
def test_initializers_have_their_distributions(name, check):
    """300 x 400 = 120,000 draws: a sample std is within 0.4% (3 sd) of the true one; 2% is safe."""
    net = fastbp.Network([400, 300, 2], init=name, seed=0)
    assert check(net.weights[0], net.biases[0], 400, 300)


def test_zero_initialisation_shows_the_symmetry_problem():
    X, y = _problem(3, n=50)
    net = fastbp.Network([5, 8, 3], init="zeros", seed=0)
    net.fit(X, y, epochs=20, batch_size=5, learning_rate=1.0)
    W = net.weights[0]
    assert np.allclose(W, W[0])            # every hidden unit stayed identical


def _masked_reference_cost(weights, biases, X, Y, acts, cost, mask, keep):
    """Cost of the network with fixed inverted-dropout masks on the hidden layers."""
    a = X
    for layer, (W, b, name) in enumerate(zip(weights, biases, acts)):
        z = a @ W.T + b
        a = ref.activation(z, name)
        if layer < len(weights) - 1:
            a = a * mask[layer] / keep
    return float(np.mean(ref.sample_costs(z, a, Y, cost)))


def test_dropout_gradient_with_a_fixed_mask_matches_finite_differences():
    rng = np.random.default_rng(0)
    X, y = _problem(4, n=9)
    net = fastbp.Network([5, 6, 4, 3], hidden_activation="tanh", output_activation="softmax",
                         cost="log_likelihood", seed=4)
    keep = 0.7
    mask = (rng.random((9, 10)) < keep).astype(np.uint8)
    Xc, Y, _, sw = net._data(X, y)
    work, ident, blas = net._work(9)
    grad = np.empty_like(net.parameters)
    fastbp.kernels.full_gradient(net.parameters, net._layout, net._acts, net._leak, net._cost, Xc, Y, sw,
                                 np.arange(9), ident, work, blas, grad, mask, 0.7)
    weights, biases = reference_params(net)
    masks = [mask[:, :6], mask[:, 6:]]
    theta = _flat(weights, biases)
    numeric = np.zeros_like(theta)
    h = 1e-6
    for k in range(theta.size):
        for sign in (1, -1):
            t = theta.copy()
            t[k] += sign * h
            ws, bs = fastbp.network.split(t, net._layout)
            numeric[k] += sign * _masked_reference_cost(ws, bs, X, Y, activations_of(net), "log_likelihood",
                                                        masks, keep) / (2 * h)
    rel = np.linalg.norm(numeric - grad) / np.linalg.norm(numeric + grad)
    assert rel < 1e-7          # central differences in float64: ~1e-10; a wrong mask gives O(1)


def test_l1_gradient_matches_finite_differences_and_reference():
    X, y = _problem(5)
    net = fastbp.Network([5, 6, 3], seed=5)
    g = net.gradient(X, y, l1=0.3, l2=0.2, flat=True)
    theta = net.parameters.copy()
    numeric = np.zeros_like(theta)
    h = 1e-6
    for k in range(theta.size):       # no weight is within h of 0 for this seed
        for sign in (1, -1):
            net.parameters[k] = theta[k] + sign * h
            numeric[k] += sign * net.cost(X, y, l1=0.3, l2=0.2) / (2 * h)
        net.parameters[k] = theta[k]
    assert np.linalg.norm(numeric - g) / np.linalg.norm(numeric + g) < 1e-7
    mask = net._weight_mask
    plain = net.gradient(X, y, flat=True)
    np.testing.assert_allclose(g[mask] - plain[mask], (0.2 * theta[mask] + 0.3 * np.sign(theta[mask])) / len(X),
                               rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(g[~mask], plain[~mask], rtol=1e-12)


def test_l1_sgd_step_matches_reference_update():
    X, y = _problem(6)
    net = fastbp.Network([5, 6, 3], seed=6)
    theta = net.parameters.copy()
    g = net.gradient(X, y, l1=0.4, flat=True)
    net.fit(X, y, epochs=1, batch_size=len(X), learning_rate=0.1, l1=0.4, shuffle=False)
    np.testing.assert_allclose(net.parameters, theta - 0.1 * g, rtol=1e-10, atol=1e-13)


def test_dropout_is_off_at_prediction_and_training_with_it_still_learns(digits):
    X, y, Xt, yt = digits
    net = fastbp.Network([64, 60, 10], output_activation="softmax", cost="log_likelihood", seed=0)
    net.fit(X, y, epochs=15, batch_size=20, learning_rate=0.2, dropout=0.3)
    np.testing.assert_array_equal(net.predict_proba(Xt), net.predict_proba(Xt))   # deterministic
    assert net.evaluate(Xt, yt)["accuracy"] > 0.9


@pytest.mark.slow
def test_adam_on_digits_reaches_97_percent_and_early_stopping_restores_best(digits):
    X, y, Xt, yt = digits
    net = fastbp.Network([64, 100, 10], output_activation="softmax", cost="log_likelihood", seed=0)
    h = net.fit(X, y, epochs=60, batch_size=32, learning_rate=1e-3, optimizer="adam",
                validation_data=(Xt, yt),
                early_stopping=fastbp.EarlyStopping(monitor="val_accuracy", patience=8))
    best = max(h["val_accuracy"])
    assert h.best_epoch == h["epoch"][int(np.argmax(h["val_accuracy"]))]
    assert net.evaluate(Xt, yt)["accuracy"] == best          # the restored weights score the best
    assert best >= 0.97


def test_network_history_marks_the_restored_best_epoch_until_training_moves_on():
    X, y = _problem(7, n=60)
    net = fastbp.Network([5, 4, 3], seed=0)
    stop = dict(epochs=100, batch_size=60, learning_rate=1e-12, validation_fraction=0.25,
                early_stopping=fastbp.EarlyStopping(monitor="val_cost", patience=2, min_delta=1.0))
    h = net.fit(X, y, **stop)
    assert (len(h), h.best_epoch, net.history.best_epoch) == (3, 1, 1)
    h = net.fit(X, y, **stop)                  # epochs are counted over the network's life
    assert (h.best_epoch, net.history.best_epoch, len(net.history)) == (4, 4, 6)
    net.fit(X, y, epochs=1, learning_rate=1e-12)
    assert net.history.best_epoch is None      # the parameters are epoch 7's now
    net.fit(X, y, **stop)
    net.reset_optimizer()
    assert net.history.best_epoch is None and len(net.history) == 0


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    X, y = _problem(7, n=60)
    net = fastbp.Network([5, 4, 3], seed=0)
    h = net.fit(X, y, epochs=100, batch_size=60, learning_rate=1e-12, validation_fraction=0.25,
                early_stopping=fastbp.EarlyStopping(monitor="val_cost", patience=3, min_delta=1e-3))
    assert len(h) == 4                 # epoch 1 sets the best; 3 more without a 1e-3 improvement
    with pytest.raises(ValueError, match="needs validation_data or validation_fraction"):
        net.fit(X, y, epochs=2, early_stopping=True)


def test_validation_fraction_splits_a_stratified_part():
    X = np.arange(200, dtype=float).reshape(100, 2)
    y = np.repeat([0, 1], [80, 20])
    net = fastbp.Network([2, 2], seed=0)
    seen = {}
    original = net._evaluate

    def spy(X, Y, labels, sw, l2, l1, n_reg=None):
        seen.setdefault("val", (len(X), np.bincount(labels, minlength=2)))
        return original(X, Y, labels, sw, l2, l1, n_reg)
    net._evaluate = spy
    net.fit(X, y, epochs=1, validation_fraction=0.2)
    assert seen["val"][0] == 20 and seen["val"][1].tolist() == [16, 4]


def test_validation_fraction_holds_the_same_rows_out_in_every_fit(tmp_path):
    X, y = _problem(11, n=60)
    options = dict(batch_size=8, learning_rate=0.5, optimizer="adam", validation_fraction=0.25)
    whole = fastbp.Network([5, 4, 3], seed=0)
    h = whole.fit(X, y, epochs=4, **options)
    parts = fastbp.Network([5, 4, 3], seed=0)
    for _ in range(2):
        parts.fit(X, y, epochs=1, **options)
    parts.save(tmp_path / "m.npz")
    resumed = fastbp.load(tmp_path / "m.npz")
    for net in (parts, resumed):
        for _ in range(2):
            net.fit(X, y, epochs=1, **options)
        np.testing.assert_array_equal(net.parameters, whole.parameters)
        assert net.history["val_cost"] == h["val_cost"]


def test_a_refused_split_leaves_the_split_seed_and_generator_as_they_were():
    X, y = _problem(11, n=60)
    net = fastbp.Network([5, 4, 3], seed=0)
    before = net._rng.bit_generator.state
    with pytest.raises(ValueError, match="sample_weight is zero on all"):
        net.fit(X, y, epochs=1, validation_fraction=0.25, sample_weight=np.r_[np.zeros(59), 1.0])
    assert net._split_seed is None and net._rng.bit_generator.state == before


def test_monitoring_records_what_was_asked(digits):
    X, y, Xt, yt = digits
    net = fastbp.Network([64, 20, 10], seed=0)
    h = net.fit(X[:300], y[:300], epochs=2, learning_rate=1.0, l2=0.5, evaluate_training=True,
                validation_data=(Xt[:100], yt[:100]))
    assert set(h.keys()) == {"epoch", "cost", "accuracy", "train_cost", "train_accuracy", "val_cost",
                             "val_accuracy", "learning_rate", "time", "compile_time"}
    assert h["train_cost"][-1] == pytest.approx(net.cost(X[:300], y[:300], l2=0.5))
    assert h["train_accuracy"][-1] == pytest.approx(net.evaluate(X[:300], y[:300])["accuracy"])
    # validation cost carries the training objective's penalty, λ/2n with the training n
    penalty_train = net.cost(X[:300], y[:300], l2=0.5) - net.cost(X[:300], y[:300])
    assert h["val_cost"][-1] == pytest.approx(net.cost(Xt[:100], yt[:100]) + penalty_train)
    assert all(t > 0 for t in h["time"])


def test_callbacks_stop_training_and_see_the_logs():
    X, y = _problem(8)
    seen = []

    def stop_at_three(epoch, logs):
        seen.append((epoch, sorted(logs)))
        return epoch == 3
    h = fastbp.Network([5, 4, 3], seed=0).fit(X, y, epochs=10, callbacks=[stop_at_three])
    assert len(h) == 3 and seen[0][0] == 1 and "cost" in seen[0][1]


def test_callbacks_see_the_epoch_early_stopping_ends_on_and_must_return_a_bool():
    X, y = _problem(7, n=60)
    seen = []
    h = fastbp.Network([5, 4, 3], seed=0).fit(
        X, y, epochs=100, batch_size=60, learning_rate=1e-12, validation_fraction=0.25,
        early_stopping=fastbp.EarlyStopping(monitor="val_cost", patience=3, min_delta=1e-3),
        callbacks=lambda epoch, logs: seen.append(epoch))
    assert len(h) == 4 and seen == [1, 2, 3, 4]
    assert len(fastbp.Network([5, 4, 3], seed=0).fit(X, y, epochs=5, callbacks=lambda e, logs: np.True_)) == 1
    net = fastbp.Network([5, 4, 3], seed=0)
    with pytest.raises(TypeError, match=r"returned 'no' after epoch 1: return True to stop training"):
        net.fit(X, y, epochs=5, callbacks=lambda epoch, logs: "no")      # truthy: it used to stop training
    assert len(net.history) == 1       # the epoch before the callback ran stays recorded


def test_running_accuracy_counts_only_the_mini_batches_that_trained():
    X, y = _problem(8, n=20)
    sw = np.tile([0.0, 1.0], 10)                 # with batch_size 1, every other mini-batch weighs nothing
    net = fastbp.Network([5, 4, 3], seed=3)
    on_weighted_rows = net.evaluate(X[1::2], y[1::2])["accuracy"]
    on_every_row = net.evaluate(X, y)["accuracy"]
    assert 0 < on_weighted_rows != on_every_row  # (else this test could not tell the definitions apart)
    tiny_step = dict(epochs=1, learning_rate=1e-12, sample_weight=sw, shuffle=False)
    assert net.copy().fit(X, y, batch_size=1, **tiny_step)["accuracy"] == [on_weighted_rows]
    assert net.copy().fit(X, y, batch_size=2, **tiny_step)["accuracy"] == [on_every_row]


def test_validation_fraction_holds_out_at_least_one_row_and_needs_two():
    X, y = _problem(8)
    net = fastbp.Network([5, 4, 3], seed=0)
    seen = []
    original = net._evaluate
    net._evaluate = lambda X, *args, **kwargs: seen.append(len(X)) or original(X, *args, **kwargs)
    net.fit(X[:10], y[:10], epochs=1, validation_fraction=0.01)      # 0.1 rows: one, not none
    assert seen == [1]
    with pytest.raises(ValueError, match="validation_fraction=0.5 needs at least 2 samples"):
        net.fit(X[:1], y[:1], epochs=1, validation_fraction=0.5)


def test_history_indexes_epochs_by_position_and_metrics_by_name():
    X, y = _problem(8)
    h = fastbp.Network([5, 4, 3], seed=0).fit(X, y, epochs=3, parallel=np.True_, threads=1)
    assert h[-1] == h.records[-1] and h[-1] is not h.records[-1] and h[0]["epoch"] == 1
    assert [r["epoch"] for r in h[1:]] == [2, 3] and h["epoch"] == [1, 2, 3]
    with pytest.raises(IndexError, match="epoch index 3 is out of range for 3 recorded epochs"):
        h[3]
    with pytest.raises(KeyError, match="'val_cost' was not recorded"):
        h["val_cost"]


def test_diagnostics_show_vanishing_gradients_in_deep_sigmoid_nets_not_relu_he(digits):
    X, y, _, _ = digits
    deep = [64, 30, 30, 30, 30, 30, 10]
    sig = fastbp.Network(deep, seed=0)
    relu = fastbp.Network(deep, hidden_activation="relu", output_activation="softmax",
                          cost="log_likelihood", init="he_normal", seed=0)
    d_sig = sig.diagnose(X[:500], y[:500])["grad_norms"]
    d_relu = relu.diagnose(X[:500], y[:500])["grad_norms"]
    assert d_sig[0] * 10 <= d_sig[-1]
    assert d_relu[0] * 10 > d_relu[-1]
    h = sig.fit(X, y, epochs=2, learning_rate=0.5, diagnostics=True)
    assert len(h["grad_norms"][-1]) == 6 and len(h["saturation"][-1]) == 6
    assert all(math.isnan(v) for v in h["dead_units"][-1])
    dead = relu.diagnose(X[:500], y[:500])["dead_units"]
    assert all(0.0 <= v <= 1.0 for v in dead[:-1]) and math.isnan(dead[-1])


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_divergence_restores_parameters_and_optimizer_state(optimizer):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)) * 100
    Y = rng.normal(size=(64, 1)) * 100
    net = fastbp.Network([4, 16, 1], hidden_activation="relu", output_activation="identity", seed=0)
    net.fit(X, Y, epochs=1, batch_size=8, learning_rate=1e-9, optimizer=optimizer)
    theta, first, step = net.parameters.copy(), net._optimizer_state.first.copy(), net._optimizer_state.step.copy()
    huge = 1e8 if optimizer == "momentum" else 1e200     # Adam's steps are about lr in size
    with pytest.raises(FloatingPointError, match="diverged in epoch 2"):
        net.fit(X, Y, epochs=5, batch_size=8, learning_rate=huge, optimizer=optimizer)
    np.testing.assert_array_equal(net.parameters, theta)
    np.testing.assert_array_equal(net._optimizer_state.first, first)
    np.testing.assert_array_equal(net._optimizer_state.step, step)
    assert len(net.history) == 1


@pytest.mark.parametrize("method", ["lbfgs", "cg"])
def test_full_batch_optimizers_reduce_the_cost_with_one_record_per_iteration(method):
    X, y = _problem(9, n=60)
    net = fastbp.Network([5, 8, 3], cost="cross_entropy", seed=0)
    start = net.cost(X, y, l2=0.1)
    h = net.fit(X, y, epochs=30, optimizer=method, l2=0.1)
    assert 1 <= len(h) <= 30 and h.optimizer_result is not None
    assert h["cost"][-1] == pytest.approx(net.cost(X, y, l2=0.1))
    assert net.cost(X, y, l2=0.1) < 0.7 * start


def test_interrupt_keeps_the_last_completed_mini_batch(monkeypatch):
    """Ctrl-C arrives between compiled chunks of an epoch: training stops with a
    warning, the parameters are those after the last completed chunk, and the
    interrupted epoch is not recorded."""
    from fastbp import training
    X, y = _problem(10, n=40)
    net = fastbp.Network([5, 4, 3], seed=0)
    net.fit(X, y, epochs=1, batch_size=4)
    monkeypatch.setattr(training, "CHUNK_SAMPLES", 8)      # 2 mini-batches per chunk
    real = training.K.train_epoch
    calls = []

    def interrupted(*args):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(args[0].copy())
        out = real(*args)
        calls[-1] = args[0].copy()
        return out
    monkeypatch.setattr(training.K, "train_epoch", interrupted)
    with pytest.warns(RuntimeWarning, match="interrupted during epoch 2"):
        h = net.fit(X, y, epochs=3, batch_size=4)
    assert h.interrupted and len(h) == 0 and len(net.history) == 1
    np.testing.assert_array_equal(net.parameters, calls[-1])


def _ctrl_c_on_call(monkeypatch, k):
    """Make the k-th call of the epoch kernel (one compiled chunk) raise KeyboardInterrupt; the real kernel."""
    from fastbp import training
    real, calls = training.K.train_epoch, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == k:
            raise KeyboardInterrupt
        return real(*args)
    monkeypatch.setattr(training.K, "train_epoch", interrupted)
    return real


@pytest.mark.parametrize("every", [1, 3])
def test_an_interrupted_epoch_never_reaches_the_checkpoint(monkeypatch, tmp_path, every):
    """A Ctrl-C inside epoch 2 writes epoch 1 (also when checkpoint_every would not have yet), and
    resuming from it matches an uninterrupted run; the network keeps its mid-epoch parameters."""
    from fastbp import training
    X, y = _problem(10, n=40)
    path = tmp_path / "ckpt.npz"
    reference = fastbp.Network([5, 4, 3], seed=0)
    straight = reference.copy()
    reference.fit(X, y, epochs=1, batch_size=4, optimizer="adam")
    straight.fit(X, y, epochs=2, batch_size=4, optimizer="adam")
    net = fastbp.Network([5, 4, 3], seed=0)
    monkeypatch.setattr(training, "CHUNK_SAMPLES", 8)      # 2 mini-batches per chunk
    real = _ctrl_c_on_call(monkeypatch, 5 + 2)  # 5 chunks per epoch
    with pytest.warns(RuntimeWarning, match="interrupted during epoch 2"):
        net.fit(X, y, epochs=4, batch_size=4, optimizer="adam", checkpoint=path, checkpoint_every=every)
    saved = fastbp.load(path)
    assert len(saved.history) == 1
    np.testing.assert_array_equal(saved.parameters, reference.parameters)
    assert saved._optimizer_state.step[0] == reference._optimizer_state.step[0] == 10
    assert not np.array_equal(net.parameters, reference.parameters) and net._optimizer_state.step[0] == 12
    monkeypatch.setattr(training.K, "train_epoch", real)
    saved.fit(X, y, epochs=1, batch_size=4, optimizer="adam")
    np.testing.assert_array_equal(saved.parameters, straight.parameters)


def test_an_interrupted_epochs_checkpoint_holds_early_stoppings_progress(monkeypatch, tmp_path):
    """A Ctrl-C inside epoch 3 writes epoch 2 with early stopping's progress as of epoch 2, and a fit
    resumed from it with the same rule stops where the uninterrupted fit does."""
    from fastbp import training
    X, y = _problem(10, n=40)
    rule = fastbp.EarlyStopping(monitor="cost", patience=1, min_delta=1e9)     # epoch 1 stays the best
    straight = fastbp.Network([5, 4, 3], seed=0)
    assert len(straight.fit(X, y, epochs=9, batch_size=4, early_stopping=rule)) == 2
    real = _ctrl_c_on_call(monkeypatch, 2)
    path = tmp_path / "ckpt.npz"
    net = fastbp.Network([5, 4, 3], seed=0)
    with pytest.warns(RuntimeWarning, match="interrupted during epoch 2"):
        net.fit(X, y, epochs=9, batch_size=4, early_stopping=rule, checkpoint=path, checkpoint_every=5)
    saved = fastbp.load(path)
    progress = saved._stopping_progress
    assert len(saved.history) == 1 and (progress.first_epoch, progress.best_epoch) == (1, 1)
    monkeypatch.setattr(training.K, "train_epoch", real)
    assert len(saved.fit(X, y, epochs=8, batch_size=4, early_stopping=rule)) == 1     # patience 1 runs out
    assert saved.history.best_epoch == 1
    np.testing.assert_array_equal(saved.parameters, straight.parameters)


def test_a_failed_checkpoint_after_ctrl_c_is_a_warning_and_whole_epochs_carry_no_best(monkeypatch, tmp_path):
    from fastbp import training
    X, y = _problem(10, n=40)
    net = fastbp.Network([5, 4, 3], seed=0)
    net.fit(X, y, epochs=1)
    state = training.OptimizerState(fastbp.optimizers.SGD(), net.n_parameters, net.dtype)
    theta, rng = net.parameters.copy(), net._rng.bit_generator.state
    net.parameters = np.zeros(net.n_parameters)
    net._best_epoch = 1
    training.Checkpoints(tmp_path / "m.npz", 1).whole_epoch(net, True, theta, state, state.snapshot(), rng)
    saved = fastbp.load(tmp_path / "m.npz")
    assert saved.history.best_epoch is None and np.array_equal(saved.parameters, theta)
    assert net._best_epoch == 1 and not net.parameters.any()      # the network is left as it was

    monkeypatch.setattr(training, "CHUNK_SAMPLES", 20)
    _ctrl_c_on_call(monkeypatch, 3)
    monkeypatch.setattr(fastbp.Network, "save", lambda *args, **kwargs: (_ for _ in ()).throw(OSError(28, "full")))
    with pytest.warns(RuntimeWarning) as caught:
        h = net.fit(X, y, epochs=3, batch_size=4, checkpoint=tmp_path / "c.npz", checkpoint_every=5)
    assert [str(w.message)[:24] for w in caught] == ["training interrupted dur", "could not write the chec"]
    assert "after the interruption: [Errno 28] full" in str(caught[1].message)
    assert h.interrupted and len(h) == 1


@pytest.mark.parametrize("optimizer", ["sgd", "lbfgs"])
def test_ctrl_c_in_a_callback_lets_early_stopping_count_that_epoch_for_every_optimizer(optimizer):
    X, y = _problem(10, n=40)
    net = fastbp.Network([5, 4, 3], seed=0)

    def interrupt_at_3(epoch, logs):
        if epoch == 3:
            raise KeyboardInterrupt
    with pytest.warns(RuntimeWarning, match="interrupted"):
        h = net.fit(X, y, epochs=10, optimizer=optimizer, callbacks=interrupt_at_3,
                    early_stopping=fastbp.EarlyStopping(monitor="cost", patience=5))
    assert len(h) == 3 and h["cost"][2] < min(h["cost"][:2])
    assert h.best_epoch == 3


def test_ctrl_c_in_a_callback_still_lets_early_stopping_count_that_epoch(digits):
    X, y, Xt, yt = digits
    net = fastbp.Network([64, 20, 10], seed=0)

    def interrupt_at_3(epoch, logs):
        if epoch == 3:
            raise KeyboardInterrupt
    with pytest.warns(RuntimeWarning, match="interrupted after epoch 3"):
        h = net.fit(X, y, epochs=10, learning_rate=1.0, validation_data=(Xt, yt), callbacks=interrupt_at_3,
                    early_stopping=fastbp.EarlyStopping(monitor="val_cost", patience=5))
    assert h["val_cost"][2] < min(h["val_cost"][:2])      # still improving at epoch 3 ...
    assert h.best_epoch == 3                              # ... so its weights are kept


def test_ctrl_c_after_an_epoch_still_saves_it(tmp_path):
    X, y = _problem(10, n=40)
    path = tmp_path / "ckpt.npz"
    net = fastbp.Network([5, 4, 3], seed=0)

    def interrupt_after_epoch_2(epoch, logs):
        if epoch == 2:
            raise KeyboardInterrupt
    with pytest.warns(RuntimeWarning, match="interrupted after epoch 2"):
        h = net.fit(X, y, epochs=4, batch_size=4, checkpoint=path, checkpoint_every=3,
                    callbacks=interrupt_after_epoch_2)
    assert h.interrupted and len(h) == 2
    np.testing.assert_array_equal(fastbp.load(path).parameters, net.parameters)


def test_the_checkpoint_holds_what_callbacks_leave(tmp_path):
    X, y = _problem(10, n=40)
    path = tmp_path / "ckpt.npz"
    net = fastbp.Network([5, 4, 3], seed=0)
    seen = []

    def clip_then_look(epoch, logs):
        np.clip(net.weights[0], -0.1, 0.1, out=net.weights[0])
        seen.append(fastbp.load(path).parameters if path.exists() else None)
    net.fit(X, y, epochs=2, batch_size=4, learning_rate=3.0, checkpoint=path, callbacks=clip_then_look)
    assert seen[0] is None                               # not written before the epoch's callbacks
    assert np.abs(seen[1][:20]).max() <= 0.1             # epoch 1's checkpoint: clipped first-layer weights
    np.testing.assert_array_equal(fastbp.load(path).parameters, net.parameters)


@pytest.mark.parametrize("optimizer", ["lbfgs", "cg"])
def test_full_batch_optimizers_write_checkpoints(tmp_path, optimizer):
    X, y = _problem(10, n=40)
    path = tmp_path / "ckpt.npz"
    net = fastbp.Network([5, 4, 3], seed=0)
    seen = {}

    def look(epoch, logs):
        seen[epoch] = (len(fastbp.load(path).history) if path.exists() else 0, net.parameters.copy())
    h = net.fit(X, y, epochs=5, optimizer=optimizer, checkpoint=path, checkpoint_every=2, callbacks=look)
    assert len(h) == 5 and [seen[e][0] for e in range(1, 6)] == [0, 0, 2, 2, 4]
    saved = fastbp.load(path)
    assert len(saved.history) == 5
    np.testing.assert_array_equal(saved.parameters, net.parameters)


def test_records_share_no_lists_with_callbacks_histories_or_the_network(tmp_path):
    X, y = _problem(10, n=40)
    net = fastbp.Network([5, 4, 3], seed=0)
    h = net.fit(X, y, epochs=2, diagnostics=True, callbacks=lambda e, logs: logs["grad_norms"].append("oops"))
    h[-1]["grad_norms"][0] = -1.0
    h["grad_norms"][0][0] = -1.0
    net.history["grad_norms"][0][0] = -1.0
    for history in (h, net.history):
        assert all(len(norms) == 2 and min(norms) >= 0 for norms in history["grad_norms"])
    net.save(tmp_path / "m.npz")
    assert fastbp.load(tmp_path / "m.npz").history["grad_norms"] == net.history["grad_norms"]


def test_callbacks_none_means_no_callbacks_and_other_values_are_named():
    X, y = _problem(10, n=40)
    assert len(fastbp.Network([5, 3], seed=0).fit(X, y, epochs=1, callbacks=None)) == 1
    with pytest.raises(TypeError, match="callbacks must be a callable .*; got 3"):
        fastbp.Network([5, 3], seed=0).fit(X, y, epochs=1, callbacks=3)


def test_full_batch_ctrl_c_while_an_iteration_is_recorded_keeps_the_last_recorded_one(tmp_path, monkeypatch):
    from fastbp import training
    X, y = _problem(10, n=40)
    path = tmp_path / "ckpt.npz"
    net = fastbp.Network([5, 4, 3], seed=0)
    real, calls = training.Trainer._evaluations, []

    def interrupted_on_iteration_3(self, record, rows):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, record, rows)
    monkeypatch.setattr(training.Trainer, "_evaluations", interrupted_on_iteration_3)
    with pytest.warns(RuntimeWarning, match="interrupted during iteration 3"):
        h = net.fit(X, y, epochs=10, optimizer="lbfgs", checkpoint=path)
    assert len(h) == 2
    saved = fastbp.load(path)
    assert len(saved.history) == 2
    for model in (net, saved):
        assert model.cost(X, y) == pytest.approx(h["cost"][-1], rel=1e-12)


def test_subclassed_full_batch_optimizers_keep_their_method():
    class BFGS(fastbp.optimizers.LBFGS):
        method = "BFGS"
    assert fastbp.optimizers.get(BFGS()).method == "BFGS"


def test_bad_training_options_raise_before_anything_changes():
    X, y = _problem()
    net = fastbp.Network([5, 6, 3], seed=0)
    before = net.parameters.copy()
    bad = [
        (dict(optimizer="rmsprop"), ValueError, "optimizer must be one of"),
        (dict(schedule="cosine"), ValueError, "schedule must be one of"),
        (dict(dropout=1.0), ValueError, "dropout must be < 1"),
        (dict(l1=-1), ValueError, "l1 must be >= 0"),
        (dict(validation_fraction=1.5), ValueError, "validation_fraction must be < 1"),
        (dict(early_stopping="yes"), TypeError, "early_stopping must be"),
        (dict(validation_data=(X, y), validation_fraction=0.2), ValueError, "not both"),
        (dict(callbacks=[1]), TypeError, "callbacks must be callables"),
    ]
    for kwargs, error, match in bad:
        with pytest.raises(error, match=match):
            net.fit(X, y, epochs=2, **kwargs)
    with pytest.raises(ValueError, match="momentum must be < 1"):
        SGD(momentum=1.0)
    with pytest.raises(ValueError, match="beta2 must be < 1"):
        Adam(beta2=1.0)
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0"):
        SGD(nesterov=True)
    with pytest.raises(TypeError, match="restore_best must be True or False; got 'no'"):
        fastbp.EarlyStopping(restore_best="no")      # "no" is truthy: it would restore
    np.testing.assert_array_equal(net.parameters, before)
    assert len(net.history) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.fit(X, y, epochs=1)


def test_full_batch_divergence_is_reported_as_training_that_diverged():
    # Identity layers on huge inputs: the first line-search trial point overflows.
    X, y = _problem()
    net = fastbp.Network([5, 6, 3], hidden_activation="identity", output_activation="identity", seed=0)
    before = net.parameters.copy()
    with pytest.raises(fastbp.NumericalError, match=r"L-BFGS-B diverged during iteration 1: .*overflowed.*"
                                                     r"keeps its parameters from before this fit"):
        net.fit(X * 1e150, np.eye(3)[y] * 1e150, epochs=5, optimizer="lbfgs")
    np.testing.assert_array_equal(net.parameters, before)
    assert len(net.history) == 0


def test_a_penalty_that_overflows_is_divergence_not_an_infinite_cost():
    """Found by hypothesis: l2 = 2.76e154 keeps the weights finite for an epoch,
    but λ/2n Σw² overflows. That must raise, not record cost = inf."""
    X, y = _problem()
    net = fastbp.Network([5, 6, 3], seed=0)
    before = net.parameters.copy()
    with pytest.raises(fastbp.NumericalError, match="diverged in epoch 1"):
        net.fit(X, y, epochs=2, l2=2.760403064104417e154)
    np.testing.assert_array_equal(net.parameters, before)
    assert len(net.history) == 0


def test_compile_time_is_what_the_epoch_spent_compiling(monkeypatch):
    """record["compile_time"]: seconds of the epoch's "time" spent compiling or loading kernels;
    a kernel compiled in the first epoch is not compiled again in the second."""
    from fastbp import kernels

    from conftest import fresh_fastbp_compile
    compile_one, real = fresh_fastbp_compile(), kernels.train_epoch
    calls = []

    def compiling_kernel(*args):
        if not calls:
            compile_one()           # stands for a kernel specialisation met for the first time
        calls.append(1)
        return real(*args)
    X, y = _problem(8)
    net = fastbp.Network([5, 6, 3], seed=0)
    net.fit(X, y, epochs=1)         # this test's own kernels are ready before the clock runs
    monkeypatch.setattr(kernels, "train_epoch", compiling_kernel)
    h = net.fit(X, y, epochs=2)
    assert h["compile_time"][0] > 0 and h["compile_time"][1] == 0.0
    assert all(0.0 <= c <= t for c, t in zip(h["compile_time"], h["time"]))


def test_compile_clock_names_only_the_package_s_compilations_and_counts_this_thread():
    import threading

    from numba import njit

    from fastbp._compile_clock import CompileClock

    from conftest import fresh_fastbp_compile
    named = []
    with CompileClock(started=named.append) as clock:
        fresh_fastbp_compile()()
        njit(lambda x: x * 2.0)(1.0)                   # not fastbp's: timed, not named
    assert named == ["probe"] and clock.seconds > 0
    with CompileClock() as other:
        worker = threading.Thread(target=fresh_fastbp_compile())
        worker.start()
        worker.join()
    assert other.seconds == 0.0


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("decay", [dict(l2=0.0025), dict(l2=0.004), dict(l1=0.001)])
def test_a_small_penalty_acts_in_float32_as_in_float64(decay, parallel):
    """Plain SGD with ηλ/n of 2.5e-8 and 4e-8, at float32's rounding of 1 (2⁻²⁴ ≈ 6e-8): the fused step's
    1 − ηλ/n rounded the L2 decay to 0 and to twice itself, and the L1 shrink rounded away against the
    weights. The penalty's effect on the float32 weights over 2,000 steps must be float64's: float32
    rounding alone moves the trajectories, by 1-10 % of this effect here, so 25 % separates that noise
    from a decay dropped (ratio 0) or doubled (2)."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(1000, 3)), rng.integers(0, 3, 1000)

    def effect(dtype):
        params = []
        for penalty in (decay, {}):
            net = fastbp.Network([3, 4, 3], hidden_activation="tanh", output_activation="softmax",
                                 cost="log_likelihood", dtype=dtype, seed=1)
            net.fit(X, y, epochs=20, batch_size=10, learning_rate=0.01, shuffle=False, parallel=parallel,
                    threads=2 if parallel else None, **penalty)
            params.append(net.parameters.astype(np.float64))
        return (params[0] - params[1])[net._weight_mask]

    exact, single = effect(np.float64), effect(np.float32)
    assert np.dot(single, exact) / np.dot(exact, exact) == pytest.approx(1.0, abs=0.25)


def test_ctrl_c_inside_an_epoch_says_early_stopping_restores_the_best_epoch(monkeypatch):
    """With restore_best, the network ends on its best epoch's parameters, not the mid-epoch ones:
    the warning says which."""
    from fastbp import training
    X, y = _problem(10, n=40)
    net = fastbp.Network([5, 4, 3], seed=0)
    reference = net.copy()
    reference.fit(X, y, epochs=1, batch_size=4)
    monkeypatch.setattr(training, "CHUNK_SAMPLES", 8)      # 2 mini-batches per chunk, 5 per epoch
    _ctrl_c_on_call(monkeypatch, 5 + 2)
    with pytest.warns(RuntimeWarning, match=r"during epoch 2; the network keeps the parameters of its best "
                                            r"epoch, 1 \(early stopping's restore_best\)"):
        net.fit(X, y, epochs=3, batch_size=4, early_stopping=fastbp.EarlyStopping(monitor="cost"))
    np.testing.assert_array_equal(net.parameters, reference.parameters)


class _FirstRateRefused:
    def rate(self, epoch, lr0, records):
        return -1.0


@pytest.mark.parametrize("options", [dict(optimizer="lbfgs", dropout=0.2), dict(schedule=_FirstRateRefused())])
def test_a_fit_refused_after_the_split_seed_was_drawn_leaves_the_generator(options):
    """validation_fraction draws the split seed first; a refusal found after that (an optimizer that
    cannot take dropout, a schedule's first rate) must still leave the network as it was."""
    X, y = _problem(10, n=40)
    net, twin = fastbp.Network([5, 4, 3], seed=7), fastbp.Network([5, 4, 3], seed=7)
    with pytest.raises(ValueError, match="dropout needs a stochastic optimizer|returned -1.0 for epoch 1"):
        net.fit(X, y, epochs=2, validation_fraction=0.25, **options)
    assert net._split_seed is None
    net.fit(X, y, epochs=2, validation_fraction=0.25)
    twin.fit(X, y, epochs=2, validation_fraction=0.25)
    np.testing.assert_array_equal(net.parameters, twin.parameters)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where no file can be created")
def test_a_checkpoint_that_cannot_be_written_is_refused_before_training():
    X, y = _problem(10, n=40)
    net = fastbp.Network([5, 4, 3], seed=1)
    before = net.parameters.copy()
    with pytest.raises(OSError, match=r"cannot write '/proc/ckpt.npz': cannot create files in '/proc'"):
        net.fit(X, y, epochs=2, checkpoint="/proc/ckpt.npz")
    assert len(net.history) == 0
    np.testing.assert_array_equal(net.parameters, before)
