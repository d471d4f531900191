"""Bad input raises a clear ValueError/TypeError before any state changes."""

import numpy as np
import pytest

import fastbp


@pytest.fixture
def net():
    return fastbp.Network([4, 5, 3], seed=0)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(10, 4)), rng.integers(0, 3, 10)


@pytest.mark.parametrize("sizes,error,match", [
    ([4], ValueError, "at least two layers"),
    ([], ValueError, "at least two layers"),
    ([4, 0, 2], ValueError, r"sizes\[1\] must be >= 1"),
    ([4, -3], ValueError, r"sizes\[1\] must be >= 1"),
    ([4, 2.5], TypeError, r"sizes\[1\] must be an integer"),
    ("784,30", TypeError, "sequence of layer sizes"),
    ({64, 30, 10}, TypeError, "ordered sequence of layer sizes"),     # a set iterates as 64, 10, 30
    (7, TypeError, "sequence of layer sizes"),
    ([2**31, 2**31], ValueError, "parameters, more than"),
])
def test_bad_sizes(sizes, error, match):
    with pytest.raises(error, match=match):
        fastbp.Network(sizes)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(hidden_activation="swish"), ValueError, "hidden_activation must be one of 'identity', 'sigmoid'"),
    (dict(hidden_activation="softmax"), ValueError, "hidden_activation must be one of"),
    (dict(output_activation="gelu"), ValueError, "output_activation must be one of"),
    (dict(cost="hinge"), ValueError, "cost must be one of 'quadratic', 'cross_entropy', 'log_likelihood'"),
    (dict(cost="log_likelihood"), ValueError, r"needs output_activation in \('softmax',\)"),
    (dict(cost="cross_entropy", output_activation="identity"), ValueError, "needs output_activation"),
    (dict(dtype=np.int32), TypeError, "float32 or float64; got int32"),
    (dict(dtype="float16"), TypeError, "float32 or float64"),
    (dict(init="orthogonal"), ValueError, "init must be one of"),
    (dict(seed=-1), ValueError, "seed must be >= 0"),
    (dict(seed=1.5), TypeError, "seed must be an integer"),
    (dict(leaky_slope=0.0), ValueError, "leaky_slope must be > 0"),
])
def test_bad_constructor_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastbp.Network([4, 3], **kwargs)


def test_one_unit_softmax_is_refused():
    # softmax over one unit is always 1: every prediction would be class 0
    with pytest.raises(ValueError, match=r"softmax output needs at least 2 units.*sigmoid"):
        fastbp.Network([4, 1], output_activation="softmax", cost="log_likelihood")


@pytest.mark.parametrize("make_X,error,match", [
    (lambda X: X[:, :3], ValueError, r"must have 4 features .* got shape \(10, 3\)"),
    (lambda X: X[0], ValueError, r"must be 2-D .* got 1-D with shape \(4,\).*reshape\(1, -1\)"),
    (lambda X: X[:0], ValueError, "X is empty"),
    (lambda X: np.where(X > 1, np.nan, X), ValueError, "X contains NaN or infinity"),
    (lambda X: np.where(X > 1, np.inf, X), ValueError, "X contains NaN or infinity"),
    (lambda X: X.astype(str), TypeError, "X must contain real numbers; got dtype <U"),
    (lambda X: X + 1j, TypeError, "X must contain real numbers; got dtype complex128"),
    (lambda X: [[1, 2, 3, 4], [1, 2]], ValueError, "rectangular numeric array"),
    (lambda X: np.array([["a", 1, 2, 3]], dtype=object), TypeError, "must contain numbers"),
    (lambda X: X[:, :, None], ValueError, "must be 2-D"),
])
def test_bad_X_is_rejected_before_training(net, data, make_X, error, match):
    X, y = data
    before = net.parameters.copy()
    bad = make_X(X)
    with pytest.raises(error, match=match):
        net.fit(bad, y[:len(bad)] if hasattr(bad, "__len__") and len(bad) <= len(y) else y, epochs=1)
    np.testing.assert_array_equal(net.parameters, before)


@pytest.mark.parametrize("make_y,error,match", [
    (lambda y: y[:5], ValueError, "y has 5 rows but X has 10 samples"),
    (lambda y: np.where(y == 0, 3, y), ValueError, r"labels outside 0..2 .*got \[3\]"),
    (lambda y: y - 1, ValueError, r"labels outside 0..2 .*got \[-1\]"),
    (lambda y: y + 0.5, ValueError, "must hold integer class labels"),
    (lambda y: np.zeros((10, 4)), ValueError, r"must have 3 columns .* got shape \(10, 4\)"),
    (lambda y: np.full((10, 3), np.nan), ValueError, "y contains NaN"),
    (lambda y: np.array(["a"] * 10), TypeError, "y must contain real numbers"),
    (lambda y: np.zeros((10, 3, 1)), ValueError, "got 3-D"),
])
def test_bad_y_is_rejected_before_training(net, data, make_y, error, match):
    X, y = data
    before = net.parameters.copy()
    with pytest.raises(error, match=match):
        net.fit(X, make_y(y), epochs=1)
    np.testing.assert_array_equal(net.parameters, before)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(batch_size=0), ValueError, "batch_size must be >= 1; got 0"),
    (dict(batch_size=-5), ValueError, "batch_size must be >= 1"),
    (dict(batch_size=2.0), TypeError, "batch_size must be an integer"),
    (dict(epochs=-1), ValueError, "epochs must be >= 0"),
    (dict(learning_rate=0.0), ValueError, "learning_rate must be > 0"),
    (dict(learning_rate=float("nan")), ValueError, "learning_rate must be finite"),
    (dict(learning_rate="fast"), TypeError, "learning_rate must be a real number"),
    (dict(l2=-0.1), ValueError, "l2 must be >= 0"),
    (dict(sample_weight=np.ones(9)), ValueError, r"sample_weight must have shape \(10,\)"),
    (dict(sample_weight=-np.ones(10)), ValueError, "sample_weight must be non-negative"),
    (dict(sample_weight=np.zeros(10)), ValueError, "must not be all zero"),
    (dict(sample_weight=np.full(10, np.inf)), ValueError, "sample_weight contains NaN or infinity"),
    (dict(validation_data=np.zeros((3, 4))), TypeError, "validation_data must be a pair"),
    (dict(validation_data=(np.zeros((3, 5)), [0, 1, 2])), ValueError, "must have 4 features"),
    (dict(validation_data=(np.zeros((3, 4)), [0, 1, 7])), ValueError, "labels outside"),
    # a weight the kernels would flush to zero (subnormal) beside the largest
    (dict(sample_weight=np.r_[1e-310, np.ones(9)]), ValueError,
     r"sample_weight spans too wide a range for float64: its smallest positive weight is 1e-310 of the "
     r"largest, below 2.22507e-308"),
    (dict(shuffle="no"), TypeError, "shuffle must be True or False; got 'no'"),
    (dict(evaluate_training=1), TypeError, "evaluate_training must be True or False"),
    (dict(verbose="no"), TypeError, "verbose must be True or False; got 'no'"),
    (dict(parallel=1), TypeError, "parallel must be True or False; got 1"),
    # after the split one part would carry no weight: its cost is 0/0
    (dict(sample_weight=np.r_[np.zeros(9), 1.0], validation_fraction=0.5), ValueError,
     r"sample_weight is zero on all 5 rows of the (training|validation) part"),
    # monitors are checked against what the fit records before the first epoch
    (dict(early_stopping=fastbp.EarlyStopping(monitor="val_acc"), validation_fraction=0.3), ValueError,
     r"early stopping on 'val_acc' is not a metric fastbp records; this fit records \['accuracy', "
     r"'compile_time', 'cost'"),
    (dict(early_stopping=fastbp.EarlyStopping(monitor="train_cost")), ValueError,
     "early stopping on 'train_cost' needs evaluate_training=True"),
    (dict(schedule="halving"), ValueError, "schedule Halving on 'val_accuracy' needs validation_data or "
                                           "validation_fraction"),
    (dict(schedule=fastbp.schedules.Adaptive(monitor="val_cost")), ValueError,
     "schedule Adaptive on 'val_cost' needs validation_data"),
    (dict(schedule="halving", optimizer="lbfgs"), ValueError,
     r"schedule Halving\(.*\) needs a stochastic optimizer .* L-BFGS-B takes its own steps by line search"),
    (dict(schedule=fastbp.schedules.StepDecay(), optimizer="cg"), ValueError, "CG takes its own steps"),
    (dict(schedule=fastbp.schedules.StepDecay), TypeError, r"instance such as StepDecay\(\); got the class"),
])
def test_bad_fit_arguments_change_nothing(net, data, kwargs, error, match):
    X, y = data
    before = net.parameters.copy()
    generator = net._rng.bit_generator.state
    with pytest.raises(error, match=match):
        net.fit(X, y, **{"epochs": 2, **kwargs})
    np.testing.assert_array_equal(net.parameters, before)
    assert net._rng.bit_generator.state == generator and not net._records and net._optimizer_state is None


class _Rate:
    def __init__(self, value):
        self.value = value

    def rate(self, epoch, lr0, records):
        return self.value if epoch > 1 else lr0


class _Broken:
    def rate(self, epoch, lr0, records):
        raise TypeError("a bug in the user's schedule")


def test_any_error_before_the_first_step_leaves_the_generator_as_it_was(net, data):
    # validation_fraction draws the split seed from the generator before the schedule's first rate
    X, y = data
    generator = net._rng.bit_generator.state
    with pytest.raises(TypeError, match="a bug in the user's schedule"):
        net.fit(X, y, epochs=2, schedule=_Broken(), validation_fraction=0.3)
    assert net._rng.bit_generator.state == generator and net._split_seed is None


@pytest.mark.parametrize("rule", [fastbp.schedules.Adaptive, fastbp.schedules.Halving, fastbp.EarlyStopping])
def test_a_monitor_must_be_a_metric_name(rule):
    with pytest.raises(TypeError, match="monitor must be a metric name such as 'val_cost'; got None"):
        rule(monitor=None)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0, -3.0, "0.1", True])
def test_a_schedules_rate_is_checked_before_its_epoch(net, data, value):
    # A custom schedule's answer: a finite number > 0, or None to stop (-3 would climb the cost).
    X, y = data
    net.fit(X, y, epochs=1)
    after_one = net.parameters.copy()
    with pytest.raises(ValueError, match=f"returned {value!r} for epoch 2: a learning rate must be a finite"):
        net.fit(X, y, epochs=2, schedule=_Rate(value))
    np.testing.assert_array_equal(net.parameters, after_one)
    assert len(net._records) == 1


def test_one_callable_is_a_list_of_one_callback(net, data):
    # Keras users pass callbacks=f; True from a callback stops training.
    X, y = data
    history = net.fit(X, y, epochs=5, callbacks=lambda epoch, logs: epoch >= 2)
    assert len(history) == 2


def test_overflow_in_the_validation_pass_undoes_its_epoch():
    # The epoch cannot be recorded, so it must not stay applied: schedules and the optimizer's step
    # count follow the recorded epochs.
    rng = np.random.default_rng(0)
    X, Y = rng.random((20, 3)), rng.random((20, 1))
    net = fastbp.Network([3, 4, 1], hidden_activation="identity", output_activation="identity", seed=0)
    net.fit(X, Y, epochs=1, optimizer="adam", learning_rate=0.01)
    before, step = net.parameters.copy(), net._optimizer_state.step
    with pytest.raises(FloatingPointError, match="overflowed"):
        net.fit(X, Y, epochs=3, optimizer="adam", learning_rate=0.01, validation_data=(X * 1e306, Y))
    np.testing.assert_array_equal(net.parameters, before)
    assert net._optimizer_state.step == step and len(net._records) == 1


def test_full_batch_failure_to_converge_warns():
    # CG giving up at once (precision loss on a huge cost) used to return an empty history in silence.
    X = np.random.default_rng(0).random((20, 3))
    Y = np.random.default_rng(1).normal(size=(20, 1)) * 1e100
    net = fastbp.Network([3, 4, 1], hidden_activation="identity", output_activation="identity", seed=0)
    with pytest.warns(UserWarning, match="CG stopped after 0 of 5 iterations without converging"):
        net.fit(X, Y, epochs=5, optimizer="cg")
    assert np.isfinite(net.parameters).all()


def test_ctrl_c_during_lbfgs_returns_the_last_iterate(monkeypatch):
    # As for the stochastic optimizers (README): a warning, the history so far, history.interrupted, and
    # the parameters of the last completed iteration (not a trial point of the line search).
    X, y = np.random.default_rng(0).random((30, 4)), np.arange(30) % 3
    net = fastbp.Network([4, 5, 3], seed=0)
    calls = {"n": 0}
    original = fastbp.Network._cost_and_gradient

    def interrupted_on_the_eighth_evaluation(self, *args):
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return original(self, *args)
    monkeypatch.setattr(fastbp.Network, "_cost_and_gradient", interrupted_on_the_eighth_evaluation)
    with pytest.warns(RuntimeWarning, match="interrupted during iteration"):
        history = net.fit(X, y, epochs=50, optimizer="lbfgs")
    assert history.interrupted and 1 <= len(history) < 8
    monkeypatch.undo()
    assert net.cost(X, y) == pytest.approx(history.records[-1]["cost"], rel=1e-12)


def test_float32_overflow_is_reported():
    net = fastbp.Network([2, 1], dtype=np.float32)
    with pytest.raises(ValueError, match="too large for float32"):
        net.feedforward([[1e39, 0.0]])


def test_cost_specific_target_ranges():
    ce = fastbp.Network([2, 2], cost="cross_entropy")
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\] for the cross_entropy cost"):
        ce.fit(np.zeros((2, 2)), np.array([[0.0, 2.0], [1.0, 0.0]]), epochs=1)
    ll = fastbp.Network([2, 2], output_activation="softmax", cost="log_likelihood")
    with pytest.raises(ValueError, match="non-negative for the log_likelihood cost"):
        ll.fit(np.zeros((2, 2)), np.array([[0.0, -1.0], [1.0, 0.0]]), epochs=1)


def test_inference_methods_validate_too(net):
    with pytest.raises(ValueError, match="must have 4 features"):
        net.predict(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="labels outside"):
        net.evaluate(np.zeros((2, 4)), [0, 5])
    with pytest.raises(ValueError, match="l2 must be >= 0"):
        net.gradient(np.zeros((2, 4)), [0, 1], l2=-1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("options", [
    dict(batch_size=2),                                   # loop kernels
    dict(batch_size=8),                                   # BLAS kernels
    dict(batch_size=8, optimizer="adam"),
    dict(batch_size=4, parallel=True, threads=2),
    dict(batch_size=8, optimizer="lbfgs"),                # full batch: scanned before training
    dict(batch_size=8, validation_fraction=0.5),          # the bad row may land in either part
])
def test_nan_or_inf_in_X_of_the_network_dtype_is_rejected_and_changes_nothing(dtype, bad, options):
    # X already of the network's dtype is not scanned before training: the
    # epoch kernels check each row as they read it (fastbp/network.py, fit).
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 4)).astype(dtype)
    y = rng.integers(0, 3, 40)
    net = fastbp.Network([4, 5, 3], dtype=dtype, seed=0)
    net.fit(X, y, epochs=1, batch_size=8, learning_rate=0.1)
    before, records = net.parameters.copy(), len(net.history)
    for row in (0, 17, 39):
        Xb = X.copy()
        Xb[row, 2] = bad
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            net.fit(Xb, y, epochs=3, learning_rate=0.1, **options)
        np.testing.assert_array_equal(net.parameters, before)
        assert len(net.history) == records
    # The generator is as it was too: the next fit matches a twin's that never saw bad X.
    twin = fastbp.Network([4, 5, 3], dtype=dtype, seed=0)
    twin.fit(X, y, epochs=1, batch_size=8, learning_rate=0.1)
    for model in (net, twin):
        model.fit(X, y, epochs=2, learning_rate=0.1, **options)
    np.testing.assert_array_equal(net.parameters, twin.parameters)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("options", [dict(batch_size=2), dict(batch_size=8), dict(batch_size=4, parallel=True)])
def test_bad_input_is_caught_even_where_every_weight_on_it_is_zero(bad, options):
    """The epoch kernels detect bad X through the first layer's z = Σ w·x:
    a zero weight must not hide it (0·NaN and 0·inf are NaN, never 0)."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(16, 4))
    y = rng.integers(0, 3, 16)
    net = fastbp.Network([4, 5, 3], seed=0)
    net.parameters[:20].reshape(5, 4)[:, 2] = 0.0     # W¹'s column for input 2
    before = net.parameters.copy()
    X[5, 2] = bad
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        net.fit(X, y, epochs=1, **options)
    np.testing.assert_array_equal(net.parameters, before)


@pytest.mark.parametrize("parallel", [False, True])
def test_nan_in_X_rows_of_zero_weight_is_still_rejected(parallel):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(16, 4))
    y = rng.integers(0, 3, 16)
    sw = np.ones(16)
    sw[8:] = 0.0                       # the second batch weighs nothing and is skipped
    X[12, 0] = np.nan
    net = fastbp.Network([4, 5, 3], seed=0)
    before = net.parameters.copy()
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        net.fit(X, y, sample_weight=sw, epochs=1, batch_size=8, shuffle=False, parallel=parallel)
    np.testing.assert_array_equal(net.parameters, before)


def test_divergence_with_finite_X_is_still_a_numerical_error():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 4)) * 1e3
    y = rng.integers(0, 3, 40)
    net = fastbp.Network([4, 5, 3], hidden_activation="relu", output_activation="identity", cost="quadratic",
                         seed=0)
    with pytest.raises(fastbp.NumericalError, match="diverged"):
        net.fit(X, np.eye(3)[y] * 1e30, epochs=5, batch_size=8, learning_rate=10.0)
