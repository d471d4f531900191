"""fastbp.sklearn: scikit-learn's MLPClassifier / MLPRegressor, trained by fastbp.

The reference is scikit-learn's own implementation. Where its trajectory is
deterministic (shuffle=False, or one mini-batch per epoch) fastbp must follow
it to rounding: coefficients agree to 1e-10 relative in float64 (different
summation orders give ~1e-15 per operation; a few dozen steps stay far below
1e-10, while any wrong formula is off by O(alpha * lr) or more).
"""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn", minversion="1.6")
from scipy import sparse  # noqa: E402
from sklearn import neural_network as sk  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.datasets import load_diabetes, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastbp import sklearn as fb  # noqa: E402
from fastbp.datasets import load_digits  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

EXACT = 1e-10     # relative to the largest coefficient; see the module docstring


def assert_params_equal(ours, theirs, rtol=EXACT):
    """coefs_ and intercepts_ of two fitted MLPs agree to rtol of each array's largest entry."""
    assert len(ours.coefs_) == len(theirs.coefs_)
    for name in ("coefs_", "intercepts_"):
        for a, b in zip(getattr(ours, name), getattr(theirs, name)):
            assert a.shape == b.shape
            scale = max(float(np.max(np.abs(b))), 1e-300)
            np.testing.assert_allclose(a, b, rtol=0, atol=rtol * scale, err_msg=name)


def both(kind, **params):
    """(fastbp's estimator, scikit-learn's) built with the same parameters."""
    return getattr(fb, kind)(**params), getattr(sk, kind)(**params)


@pytest.fixture(scope="module")
def data():
    """Small standardised problems of every target kind: 120 samples (batches of 40 and 60 divide it)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 6))
    Y = np.c_[X[:, 0] * X[:, 1], np.sin(X[:, 2]), X[:, 3] - X[:, 4]]
    return {
        "X": X,
        "multiclass": (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5),
        "binary": np.where(X[:, 0] + X[:, 2] > 0, "yes", "no"),
        "multilabel": (Y > 0).astype(int),
        "regression": Y[:, 0],
        "multioutput": Y,
    }


TARGETS = {"multiclass": "MLPClassifier", "binary": "MLPClassifier", "multilabel": "MLPClassifier",
           "regression": "MLPRegressor", "multioutput": "MLPRegressor"}


# ------------------------------------------------------------- drop-in use
SCRIPTS = [
    # scikit-learn's own docstring examples, verbatim but for the import line.
    """
from sklearn.neural_network import MLPClassifier
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
X, y = make_classification(n_samples=100, random_state=1)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=1)
clf = MLPClassifier(random_state=1, max_iter=300).fit(X_train, y_train)
result = clf.predict_proba(X_test[:1]), clf.predict(X_test[:5, :]), clf.score(X_test, y_test)
""",
    """
from sklearn.neural_network import MLPRegressor
from sklearn.datasets import make_regression
from sklearn.model_selection import train_test_split
X, y = make_regression(n_samples=200, n_features=20, random_state=1)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=1)
regr = MLPRegressor(random_state=1, max_iter=2000, tol=0.1)
regr.fit(X_train, y_train)
result = regr.predict(X_test[:2]), regr.score(X_test, y_test), regr.n_iter_
""",
]


@pytest.mark.parametrize("script", SCRIPTS, ids=["classifier", "regressor"])
def test_users_script_runs_unchanged_but_for_the_import(script):
    # Both examples train on fewer than 200 samples: one mini-batch per epoch, so even the shuffled
    # runs follow scikit-learn's trajectory, and the results agree to rounding.
    theirs, ours = {}, {}
    exec(script, theirs)
    exec(script.replace("from sklearn.neural_network import", "from fastbp.sklearn import"), ours)
    for a, b in zip(ours["result"], theirs["result"]):
        np.testing.assert_allclose(a, b, rtol=1e-8)


def test_import_fastbp_does_not_import_sklearn():
    code = "import sys, fastbp; assert not any(m.split('.')[0] == 'sklearn' for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


@parametrize_with_checks([
    fb.MLPClassifier(hidden_layer_sizes=(5,), max_iter=50, learning_rate_init=0.01, random_state=0),
    fb.MLPRegressor(hidden_layer_sizes=(5,), max_iter=50, learning_rate_init=0.01, random_state=0),
])
def test_sklearn_estimator_checks(estimator, check):
    # learning_rate_init=0.01: with scikit-learn's default 0.001, 50 epochs are too few for
    # check_classifiers_train / check_regressors_train, for scikit-learn's own MLPs as well.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# ------------------------------------------------- scikit-learn's trajectory
SOLVERS = {
    "sgd": dict(solver="sgd", momentum=0.0, learning_rate_init=0.05),
    "nesterov": dict(solver="sgd", momentum=0.9, learning_rate_init=0.02),
    "momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False, learning_rate_init=0.02),
    "adam": dict(solver="adam", learning_rate_init=0.01),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("batch_size", [40, 120])
def test_same_trajectory_as_sklearn(data, target, solver, alpha, batch_size):
    params = dict(hidden_layer_sizes=(7, 5), activation="tanh", batch_size=batch_size, alpha=alpha,
                  shuffle=False, max_iter=15, random_state=0, **SOLVERS[solver])
    ours, theirs = both(TARGETS[target], **params)
    ours.fit(data["X"], data[target])
    theirs.fit(data["X"], data[target])
    assert_params_equal(ours, theirs)
    assert ours.n_iter_ == theirs.n_iter_ == 15 and ours.t_ == theirs.t_ == 15 * 120
    # One batch per epoch: loss_ is exact. Several: the L2 term inside loss_ interpolates ||W||^2
    # over the epoch's batches (documented), off by up to ~4e-5 with alpha = 0.1 here.
    atol = 1e-12 if batch_size == 120 or alpha == 0 else 1e-4
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12, atol=atol)
    assert type(ours.loss_) is type(theirs.loss_) and type(ours.loss_curve_[-1]) is type(theirs.loss_curve_[-1])
    method = "predict_proba" if TARGETS[target] == "MLPClassifier" else "predict"
    np.testing.assert_allclose(getattr(ours, method)(data["X"]), getattr(theirs, method)(data["X"]),
                               rtol=1e-8, atol=1e-10)
    if method == "predict_proba":
        np.testing.assert_array_equal(ours.predict(data["X"]), theirs.predict(data["X"]))


@pytest.mark.parametrize("activation", ["identity", "logistic", "relu"])
def test_same_trajectory_for_each_activation(data, activation):
    params = dict(hidden_layer_sizes=(6,), activation=activation, solver="sgd", momentum=0.5, batch_size=30,
                  alpha=0.01, learning_rate_init=0.05, shuffle=False, max_iter=10, random_state=3)
    ours, theirs = both("MLPClassifier", **params)
    assert_params_equal(ours.fit(data["X"], data["multiclass"]), theirs.fit(data["X"], data["multiclass"]))


@pytest.mark.parametrize("target", TARGETS)
def test_lbfgs_follows_sklearn(data, target):
    # Full batch: the same objective (for several regression outputs scikit-learn's loss is a mean over
    # the outputs while its gradient sums them; fastbp reproduces that pairing) and scikit-learn's
    # options gtol=tol, maxiter, maxfun. L-BFGS amplifies rounding a little over 40 iterations
    # (GEMMs from another BLAS build round differently): parameters and loss agree to 1e-8.
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", alpha=0.01, max_iter=40, random_state=1)
    ours, theirs = both(TARGETS[target], **params)
    ours.fit(data["X"], data[target])
    theirs.fit(data["X"], data[target])
    assert_params_equal(ours, theirs, rtol=1e-8)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8) and type(ours.loss_) is type(theirs.loss_)
    assert not hasattr(ours, "loss_curve_") and not hasattr(theirs, "loss_curve_")


def test_lbfgs_stops_at_sklearn_tolerance(data):
    params = dict(hidden_layer_sizes=(4,), solver="lbfgs", tol=1e-2, max_iter=500, random_state=0)
    ours, theirs = both("MLPRegressor", **params)
    ours.fit(data["X"], data["regression"])
    theirs.fit(data["X"], data["regression"])
    assert ours.n_iter_ == theirs.n_iter_ < 500
    assert_params_equal(ours, theirs, rtol=1e-8)


@pytest.mark.parametrize("schedule", [
    dict(learning_rate="adaptive", tol=1e-2, n_iter_no_change=2),     # divide by 5 until <= 1e-6, then stop
    dict(learning_rate="constant", tol=1e-2, n_iter_no_change=2),     # stop when the loss stalls
    dict(learning_rate="invscaling", power_t=0.3, learning_rate_init=0.5, max_iter=40),
    # Adam's reported rate is its bias-corrected step after t steps
    dict(solver="adam", learning_rate_init=0.01, tol=1e-2, n_iter_no_change=2),
])
def test_schedules_and_stopping_follow_sklearn(schedule):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(hidden_layer_sizes=(6,), solver="sgd", batch_size=30, shuffle=False, random_state=0,
                  max_iter=300)
    params.update(schedule)
    ours, theirs = both("MLPClassifier", **params)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)
    assert_params_equal(ours, theirs)


@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_early_stopping_follows_sklearn(kind, solver):
    # The same validation split (scikit-learn's train_test_split from the same random state after the
    # same initial draws), scores (accuracy / R^2), stopping epoch and restored best weights.
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    if kind == "MLPRegressor":
        y = X[:, 0] * 2 + np.sin(X[:, 1])
    params = dict(hidden_layer_sizes=(6,), solver=solver, batch_size=27, learning_rate_init=0.03, shuffle=False,
                  early_stopping=True, n_iter_no_change=4, tol=1e-3, random_state=3, max_iter=300)
    ours, theirs = both(kind, **params)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 300
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-10)
    assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_, rel=1e-12)
    assert ours.best_loss_ is None
    assert_params_equal(ours, theirs)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_warm_start_and_partial_fit_follow_sklearn(data, solver):
    X, y = data["X"], data["multiclass"]
    params = dict(hidden_layer_sizes=(6,), solver=solver, batch_size=40, learning_rate_init=0.02, shuffle=False,
                  max_iter=5, random_state=0)
    # warm_start: a second fit continues from the weights with a new optimizer (momentum, moments reset).
    ours, theirs = both("MLPClassifier", warm_start=True, **params)
    ours.fit(X, y).fit(X, y)
    theirs.fit(X, y).fit(X, y)
    assert_params_equal(ours, theirs)
    assert ours.t_ == theirs.t_ and len(ours.loss_curve_) == len(theirs.loss_curve_) == 10
    # partial_fit: one epoch per call, continuing the optimizer.
    ours, theirs = both("MLPClassifier", **params)
    for _ in range(4):
        ours.partial_fit(X, y, classes=[0, 1, 2])
        theirs.partial_fit(X, y, classes=[0, 1, 2])
    assert_params_equal(ours, theirs)
    assert ours.n_iter_ == theirs.n_iter_ == 1 and ours.t_ == theirs.t_ == 480


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_calls_equal_one_fit(data, solver):
    # Shuffled: the shuffles come from the network's generator, which partial_fit continues.
    params = dict(hidden_layer_sizes=(6,), solver=solver, batch_size=32, learning_rate="invscaling",
                  learning_rate_init=0.1, n_iter_no_change=np.inf, random_state=4)
    whole = fb.MLPRegressor(max_iter=6, **params).fit(data["X"], data["multioutput"])
    parts = fb.MLPRegressor(**params)
    for _ in range(6):
        parts.partial_fit(data["X"], data["multioutput"])
    assert_params_equal(parts, whole, rtol=1e-13)
    assert parts.loss_curve_ == pytest.approx(whole.loss_curve_, rel=1e-13)


def test_partial_fit_classes():
    X, y = load_iris(return_X_y=True)
    clf = fb.MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])        # a subset of the classes is fine
    assert list(clf.classes_) == [0, 1, 2] and clf.predict_proba(X).shape == (150, 3)
    clf.partial_fit(X[y == 2], y[y == 2])
    with pytest.raises(ValueError, match="classes not in"):
        clf.partial_fit(X, y + 1)
    assert not hasattr(fb.MLPClassifier(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="early_stopping"):
        fb.MLPClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])


def test_sample_weight_follows_sklearn(data):
    # sklearn weights each batch's loss and gradient by a weighted mean and divides alpha by the
    # batch's weight sum. With alpha = 0 (no alpha mapping involved) fastbp is exact with several
    # batches; with alpha > 0 unequal batch sums get the mean 1/S_b (documented), ~2e-6 here.
    X, y = data["X"], data["multiclass"]
    sw = np.random.RandomState(1).randint(0, 4, 120).astype(float)
    for alpha, rtol in [(0.0, EXACT), (0.1, 1e-5)]:
        params = dict(hidden_layer_sizes=(6,), solver="sgd", momentum=0, batch_size=40, alpha=alpha, shuffle=False,
                      learning_rate_init=0.05, max_iter=10, random_state=0)
        ours, theirs = both("MLPClassifier", **params)
        ours.fit(X, y, sample_weight=sw)
        theirs.fit(X, y, sample_weight=sw)
        assert_params_equal(ours, theirs, rtol=rtol)
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12, atol=1e-12 if alpha == 0 else 1e-4)


@pytest.mark.parametrize("params", [
    dict(solver="lbfgs", max_iter=30),
    dict(solver="sgd", max_iter=20, learning_rate_init=0.05),       # batch_size 'auto': one batch
    dict(solver="adam", max_iter=20, learning_rate_init=0.01),
])
def test_zero_sample_weight_equals_dropping_samples(data, params):
    X, y = data["X"], data["multioutput"]
    keep = np.arange(120) % 3 != 0
    weighted = fb.MLPRegressor(hidden_layer_sizes=(5,), alpha=0.1, random_state=0, **params)
    weighted.fit(X, y, sample_weight=keep.astype(float))
    dropped = fb.MLPRegressor(hidden_layer_sizes=(5,), alpha=0.1, random_state=0, **params).fit(X[keep], y[keep])
    assert_params_equal(weighted, dropped, rtol=1e-9)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_float32(data, solver):
    # Like scikit-learn: SGD and Adam keep float32; its L-BFGS ends with float64 coefficients.
    X = data["X"].astype(np.float32)
    params = dict(hidden_layer_sizes=(6,), solver=solver, batch_size=40, shuffle=False, learning_rate_init=0.01,
                  max_iter=10, random_state=0)
    ours, theirs = both("MLPClassifier", **params)
    ours.fit(X, data["multiclass"])
    theirs.fit(X, data["multiclass"])
    expected = np.float64 if solver == "lbfgs" else np.float32
    assert {w.dtype for w in ours.coefs_ + ours.intercepts_} == {np.dtype(expected)}
    assert {w.dtype for w in theirs.coefs_} == {np.dtype(expected)}
    assert ours.predict_proba(X).dtype == expected
    # float32 rounding (eps 1.2e-7) accumulated over 30 steps and two summation orders.
    assert_params_equal(ours, theirs, rtol=1e-4)


def test_multilabel(data):
    Y = data["multilabel"]
    clf = fb.MLPClassifier(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=300, random_state=0)
    clf.fit(data["X"], Y)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 3
    assert clf.predict(data["X"]).shape == Y.shape and set(np.unique(clf.predict(data["X"]))) <= {0, 1}
    proba = clf.predict_proba(data["X"])
    assert proba.shape == (120, 3) and not np.allclose(proba.sum(axis=1), 1)
    assert clf.score(data["X"], Y) > 0.9


def test_sparse_input_equals_dense(data):
    X = data["X"] * (np.abs(data["X"]) > 0.5)
    params = dict(hidden_layer_sizes=(5,), solver="sgd", batch_size=40, shuffle=False, max_iter=5, random_state=0)
    dense = fb.MLPRegressor(**params).fit(X, data["regression"])
    for container in (sparse.csr_matrix, sparse.csc_matrix):
        fitted = fb.MLPRegressor(**params).fit(container(X), data["regression"])
        assert_params_equal(fitted, dense, rtol=1e-14)
        np.testing.assert_array_equal(fitted.predict(container(X)), fitted.predict(X))


# ------------------------------------------------------- fitted attributes
def test_fitted_attributes_classifier(data):
    clf = fb.MLPClassifier(hidden_layer_sizes=(7, 5), max_iter=3, random_state=0).fit(data["X"], data["binary"])
    assert [c.shape for c in clf.coefs_] == [(6, 7), (7, 5), (5, 1)]
    assert [b.shape for b in clf.intercepts_] == [(7,), (5,), (1,)]
    assert list(clf.classes_) == ["no", "yes"]
    assert (clf.n_layers_, clf.n_outputs_, clf.out_activation_, clf.n_features_in_) == (4, 1, "logistic", 6)
    assert clf.n_iter_ == 3 and clf.t_ == 360 and len(clf.loss_curve_) == 3
    assert isinstance(clf.loss_, float) and clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None and clf.best_validation_score_ is None
    assert not hasattr(clf, "feature_names_in_")
    assert set(clf.predict(data["X"])) <= {"no", "yes"}
    proba = clf.predict_proba(data["X"])
    assert proba.shape == (120, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_allclose(clf.predict_log_proba(data["X"]), np.log(proba))
    multi = fb.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).fit(data["X"], data["multiclass"])
    assert multi.out_activation_ == "softmax" and multi.n_outputs_ == 3


def test_fitted_attributes_regressor(data):
    reg = fb.MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, early_stopping=True, random_state=0)
    reg.fit(data["X"], data["multioutput"])
    assert [c.shape for c in reg.coefs_] == [(6, 4), (4, 3)]
    assert (reg.n_layers_, reg.n_outputs_, reg.out_activation_) == (3, 3, "identity")
    assert len(reg.validation_scores_) == 3 and reg.best_loss_ is None
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.predict(data["X"]).shape == (120, 3)
    single = fb.MLPRegressor(hidden_layer_sizes=(), max_iter=2).fit(data["X"], data["regression"])
    assert single.predict(data["X"]).shape == (120,) and single.n_layers_ == 2


def test_coefs_are_live_views(data):
    clf = fb.MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    clf.partial_fit(data["X"], data["multiclass"], classes=[0, 1, 2])
    held = clf.coefs_
    before = held[0].copy()
    clf.partial_fit(data["X"], data["multiclass"])
    assert not np.array_equal(held[0], before)
    np.testing.assert_array_equal(held[0], clf.coefs_[0])      # consistent after further training
    clf.coefs_ = [np.zeros_like(c) for c in clf.coefs_]
    clf.intercepts_ = [np.zeros_like(b) for b in clf.intercepts_]
    np.testing.assert_allclose(clf.predict_proba(data["X"]), 1 / 3)
    with pytest.raises(ValueError, match="shape"):
        clf.coefs_ = [np.zeros((2, 2))] * 2


def test_coefs_items_can_be_replaced(data):
    # scikit-learn's coefs_ is a list: replacing one of its arrays changes the model.
    clf = fb.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(data["X"], data["multiclass"])
    clf.coefs_[1] = np.zeros((4, 3))
    clf.intercepts_[1] = np.array([0.0, 5.0, 0.0])
    np.testing.assert_array_equal(clf.coefs_[1], 0)
    assert (clf.predict(data["X"]) == 1).all()
    with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape \(6, 4\); got \(4, 6\)"):
        clf.coefs_[0] = np.zeros((4, 6))
    np.testing.assert_array_equal(clf.intercepts_[1], [0.0, 5.0, 0.0])   # the refused write changed nothing


def _set_up_by_hand(est, coefs, intercepts, out_activation):
    """scikit-learn's own test_fit: an unfitted MLP given its weights and starting attributes by hand."""
    est.coefs_ = [0] * len(coefs)
    est.intercepts_ = [0] * len(coefs)
    for i, (coef, intercept) in enumerate(zip(coefs, intercepts)):
        est.coefs_[i] = coef
        est.intercepts_[i] = intercept
    est.n_features_in_ = coefs[0].shape[0]
    est.n_iter_ = 0
    est.n_layers_ = len(coefs) + 1
    est.out_activation_ = out_activation
    est.t_ = 0
    est.best_loss_ = np.inf
    est.loss_curve_ = []
    est._no_improvement_count = 0
    return est


@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
def test_weights_assigned_before_fit_start_partial_fit(kind):
    # The same hand-set start, one partial_fit step: scikit-learn's own worked example, both libraries.
    X = np.array([[0.6, 0.8, 0.7], [0.1, -0.4, 0.3], [-0.5, 0.2, 0.9]])
    y = np.array([0, 1, 1]) if kind == "MLPClassifier" else np.array([0.5, -1.0, 2.0])
    coefs = [np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]]), np.array([[0.1], [0.2]])]
    intercepts = [np.array([0.1, 0.1]), np.array([1.0])]
    output = "logistic" if kind == "MLPClassifier" else "identity"
    params = dict(solver="sgd", learning_rate_init=0.1, alpha=0.1, activation="logistic", hidden_layer_sizes=2,
                  momentum=0, random_state=1)
    ours, theirs = (_set_up_by_hand(est, coefs, intercepts, output) for est in both(kind, **params))
    fit_args = dict(classes=[0, 1]) if kind == "MLPClassifier" else {}
    ours.partial_fit(X, y, **fit_args)
    theirs.partial_fit(X, y, **fit_args)
    assert_params_equal(ours, theirs)
    assert ours.t_ == theirs.t_ == 3 and ours.n_iter_ == theirs.n_iter_ == 1
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-12)


def test_weights_assigned_before_fit_are_checked():
    X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
    est = fb.MLPClassifier(hidden_layer_sizes=(3,), solver="sgd")
    est.coefs_ = [np.zeros((3, 2)), np.zeros((2, 1))]
    est.intercepts_ = [np.zeros(2), np.zeros(1)]
    with pytest.raises(ValueError, match=r"layer sizes \[3, 2, 1\], but X, y and hidden_layer_sizes need "
                                         r"\[3, 3, 1\]"):
        est.partial_fit(X, y, classes=[0, 1])
    est.intercepts_ = [np.zeros(3), np.zeros(1)]
    with pytest.raises(ValueError, match=r"intercepts_\[0\] \(n_out,\); got shapes \(3, 2\) and \(3,\)"):
        est.set_params(hidden_layer_sizes=(2,)).partial_fit(X, y, classes=[0, 1])
    # A plain fit (no warm_start) starts afresh, as scikit-learn's does.
    est.fit(X, y)
    assert [c.shape for c in est.coefs_] == [(3, 2), (2, 1)] and np.abs(est.coefs_[0]).max() > 0


@pytest.mark.parametrize("target", ["multiclass", "binary", "multilabel", "multioutput"])
def test_loss_grad_lbfgs_equals_sklearns(data, target):
    # scikit-learn's L-BFGS objective evaluated by scikit-learn itself: an independent loss and gradient,
    # at random packed parameters (coefs_ raveled row-major, then intercepts_). float64 throughout; the
    # two differ only in summation order (~1e-15 relative).
    kind = TARGETS[target]
    ours, theirs = both(kind, hidden_layer_sizes=(5, 4), solver="lbfgs", alpha=0.3, max_iter=2, random_state=0)
    ours.fit(data["X"], data[target])
    theirs.fit(data["X"], data[target])
    X = data["X"]
    Y = theirs._label_binarizer.transform(data[target]) if kind == "MLPClassifier" else data[target]
    Y = Y.reshape(len(X), -1)
    sizes = [X.shape[1], 5, 4, Y.shape[1]]
    n = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    packed = np.random.default_rng(0).normal(size=n)
    work = ([X] + [np.empty((len(X), k)) for k in sizes[1:]], [np.empty((len(X), k)) for k in sizes[1:]],
            [np.empty((a, b)) for a, b in zip(sizes[:-1], sizes[1:])], [np.empty(b) for b in sizes[1:]])
    their_loss, their_grad = theirs._loss_grad_lbfgs(packed, X, Y, None, *work)
    coef_grads, intercept_grads = [None] * 3, [None] * 3
    our_loss, our_grad = ours._loss_grad_lbfgs(packed, X, Y, None, None, None, coef_grads, intercept_grads)
    assert our_loss == pytest.approx(their_loss, rel=1e-12)
    np.testing.assert_allclose(our_grad, their_grad, rtol=0, atol=1e-12 * np.abs(their_grad).max())
    np.testing.assert_array_equal(np.concatenate([g.ravel() for g in coef_grads + intercept_grads]), our_grad)
    assert_params_equal(ours, theirs, rtol=0)     # both now hold the packed parameters
    with pytest.raises(ValueError, match=f"packed_coef_inter must have shape \\({n},\\)"):
        ours._loss_grad_lbfgs(packed[1:], X, Y)


@pytest.fixture(scope="module")
def counts(data):
    """Poisson counts for two outputs, their rates log-linear in X."""
    X = data["X"]
    rates = np.exp(0.4 * X[:, :2] + np.array([0.2, -0.3]))
    return np.random.RandomState(1).poisson(rates).astype(float)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("batch_size", [40, 120])
def test_poisson_loss_follows_sklearn(data, counts, solver, batch_size):
    # An exponential output layer and half the Poisson deviance summed over the outputs, as scikit-learn's
    # MLPRegressor(loss="poisson"): the same trajectory, and loss_ exact with one batch per epoch.
    params = dict(loss="poisson", hidden_layer_sizes=(7, 5), activation="tanh", batch_size=batch_size, alpha=0.1,
                  shuffle=False, max_iter=15, random_state=0, **SOLVERS[solver])
    ours, theirs = both("MLPRegressor", **params)
    ours.fit(data["X"], counts)
    theirs.fit(data["X"], counts)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert_params_equal(ours, theirs)
    atol = 1e-12 if batch_size == 120 else 1e-4       # the L2 term inside loss_, see above
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12, atol=atol)
    np.testing.assert_allclose(ours.predict(data["X"]), theirs.predict(data["X"]), rtol=1e-8)


def test_poisson_lbfgs_objective_equals_sklearns(data, counts):
    # scikit-learn's own L-BFGS loss and gradient at random parameters (see test_loss_grad_lbfgs_equals_sklearns).
    ours, theirs = both("MLPRegressor", loss="poisson", hidden_layer_sizes=(5,), solver="lbfgs", alpha=0.3,
                        max_iter=2, random_state=0)
    X = data["X"]
    ours.fit(X, counts)
    theirs.fit(X, counts)
    sizes = [X.shape[1], 5, 2]
    packed = 0.3 * np.random.default_rng(0).normal(size=sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])))
    work = ([X] + [np.empty((len(X), k)) for k in sizes[1:]], [np.empty((len(X), k)) for k in sizes[1:]],
            [np.empty((a, b)) for a, b in zip(sizes[:-1], sizes[1:])], [np.empty(b) for b in sizes[1:]])
    their_loss, their_grad = theirs._loss_grad_lbfgs(packed, X, counts, None, *work)
    our_loss, our_grad = ours._loss_grad_lbfgs(packed, X, counts)
    assert our_loss == pytest.approx(their_loss, rel=1e-12)
    np.testing.assert_allclose(our_grad, their_grad, rtol=0, atol=1e-12 * np.abs(their_grad).max())


@pytest.mark.parametrize("seed", [0, 42])
def test_poisson_regression_without_hidden_nonlinearity_is_the_glm(seed):
    # scikit-learn's test_mlp_vs_poisson_glm_equivalent: one identity hidden unit, so the MLP is a Poisson GLM.
    from sklearn.linear_model import PoissonRegressor
    rng = np.random.default_rng(seed)
    X = np.linspace(0, 1, 100)
    y = rng.poisson(np.exp(X + 1))
    X = X.reshape(-1, 1)
    glm = PoissonRegressor(alpha=0, tol=1e-7).fit(X, y)
    mlp = fb.MLPRegressor(loss="poisson", hidden_layer_sizes=(1,), activation="identity", alpha=0, solver="lbfgs",
                          tol=1e-7, random_state=np.random.RandomState(seed + 1)).fit(X, y)
    np.testing.assert_allclose(mlp.predict(X), glm.predict(X), rtol=1e-4)


def test_poisson_loss_refuses_negative_targets(data):
    with pytest.raises(ValueError, match="must be non-negative for the poisson cost; got minimum -1"):
        fb.MLPRegressor(loss="poisson", max_iter=2).fit(data["X"], np.r_[-1.0, np.ones(119)])


def test_divergence_with_early_stopping_restores_the_best_weights():
    # scikit-learn's test_mlp_diverging_loss setting, without shuffling so that both trajectories are the
    # same: scikit-learn trains on with NaN weights to max_iter and restores the best ones; fastbp stops at
    # the diverged epoch, records it as NaN, restores the same weights and says so.
    X, y = load_iris(return_X_y=True)
    params = dict(hidden_layer_sizes=100, activation="identity", solver="sgd", learning_rate_init=1,
                  shuffle=False, max_iter=20, early_stopping=True, n_iter_no_change=10, random_state=0)
    ours, theirs = both("MLPRegressor", **params)
    with pytest.warns(ConvergenceWarning, match="diverged in iteration 5 .* best validation score were restored"):
        ours.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit(X, y)
    assert isinstance(ours.validation_scores_[-1], float) and np.isnan(ours.validation_scores_[-1])
    np.testing.assert_allclose(ours.validation_scores_[:-1], theirs.validation_scores_[:4], rtol=1e-12)
    assert np.isnan(ours.loss_) and ours.n_iter_ == len(ours.loss_curve_) == 5
    assert {type(v) for v in ours.loss_curve_} == {type(theirs.loss_curve_[0])} == {np.float64}
    assert_params_equal(ours, theirs)
    with pytest.raises(ValueError, match="non-finite parameter weights"):    # without early stopping
        fb.MLPRegressor(**{**params, "early_stopping": False}).fit(X, y)


def test_float32_model_gives_float64_outputs_for_float64_input(data):
    # As scikit-learn's (float64 X times float32 coefficients is float64).
    X32 = data["X"].astype(np.float32)
    clf = fb.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X32, data["multiclass"])
    assert clf.coefs_[0].dtype == np.float32
    assert clf.predict_proba(X32).dtype == np.float32
    proba = clf.predict_proba(data["X"])
    assert proba.dtype == np.float64
    np.testing.assert_array_equal(proba, clf.predict_proba(X32))
    reg = fb.MLPRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X32, data["regression"])
    assert reg.predict(data["X"]).dtype == np.float64 and reg.predict(X32).dtype == np.float32


def test_pickle_keeps_training_state(data):
    params = dict(hidden_layer_sizes=(5,), batch_size=32, random_state=0)
    uninterrupted = fb.MLPClassifier(**params)
    resumed = fb.MLPClassifier(**params)
    for est in (uninterrupted, resumed):
        est.partial_fit(data["X"], data["multiclass"], classes=[0, 1, 2])
    resumed = pickle.loads(pickle.dumps(resumed))
    for est in (uninterrupted, resumed):
        est.partial_fit(data["X"], data["multiclass"])
    assert_params_equal(resumed, uninterrupted, rtol=0)
    np.testing.assert_array_equal(resumed.predict(data["X"]), uninterrupted.predict(data["X"]))


def test_reproducible_with_random_state(data):
    params = dict(hidden_layer_sizes=(5,), batch_size=16, max_iter=5, random_state=7)
    a = fb.MLPRegressor(**params).fit(data["X"], data["regression"])
    b = fb.MLPRegressor(**params).fit(data["X"], data["regression"])
    c = fb.MLPRegressor(**{**params, "random_state": 8}).fit(data["X"], data["regression"])
    assert_params_equal(a, b, rtol=0)
    assert not np.allclose(a.coefs_[0], c.coefs_[0])


def test_convergence_warning(data):
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\) reached"):
        fb.MLPRegressor(hidden_layer_sizes=(3,), max_iter=3).fit(data["X"], data["regression"])
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        fb.MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=3).fit(data["X"], data["regression"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        # No epoch improves the loss by tol = 1: the count starts at epoch 2 and must exceed 10.
        converged = fb.MLPRegressor(hidden_layer_sizes=(3,), tol=1.0, max_iter=50)
        assert converged.fit(data["X"], data["regression"]).n_iter_ == 12
        fb.MLPRegressor(hidden_layer_sizes=(3,), max_iter=1).partial_fit(data["X"], data["regression"])


def test_errors(data):
    X, y = data["X"], data["regression"]
    with pytest.raises(InvalidParameterError, match="solver"):
        fb.MLPRegressor(solver="newton").fit(X, y)
    with pytest.raises(ValueError, match="poisson"):
        fb.MLPRegressor(loss="poisson").fit(X, y)
    with pytest.raises(ValueError, match="non-finite parameter weights"):
        fb.MLPRegressor(solver="sgd", learning_rate_init=10.0, max_iter=5).fit(X * 1e3, y * 1e3)
    fitted = fb.MLPRegressor(hidden_layer_sizes=(3,), max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :4])
    with pytest.raises(ValueError, match="layer sizes"):
        fitted.set_params(warm_start=True, hidden_layer_sizes=(4,)).fit(X, y)
    with pytest.raises(TypeError, match=r"hidden_layer_sizes must hold integer layer sizes; got \(3.5,\)"):
        fb.MLPRegressor(hidden_layer_sizes=(3.5,), max_iter=1).fit(X, y)     # not truncated to 3 units


def test_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = load_iris(return_X_y=True, as_frame=False)
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    clf = fb.MLPClassifier(hidden_layer_sizes=(3,), max_iter=2).fit(frame, y)
    assert list(clf.feature_names_in_) == ["sl", "sw", "pl", "pw"]
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)


# ----------------------------------------------------------- meta-estimators
def test_clone_pipeline_grid_search_cross_val(data):
    X, y = data["X"], data["multiclass"]
    clf = fb.MLPClassifier(hidden_layer_sizes=(5,), max_iter=30, learning_rate_init=0.01, random_state=0)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params() and not hasattr(copy, "coefs_")
    pipe = make_pipeline(StandardScaler(), clf)
    assert pipe.fit(X, y).score(X, y) > 0.5
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=3).fit(X, y)
    assert search.best_params_["mlpclassifier__alpha"] in (1e-4, 1e-1)
    scores = cross_val_score(fb.MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=50),
                             X, data["regression"], cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


# ---------------------------------------------------------------- accuracy
@pytest.mark.slow
def test_digits_accuracy_matches_sklearn():
    # scikit-learn's defaults (100 relu units, Adam, batches of 200, 200 epochs) on fastbp's
    # built-in digits. The runs differ only in the shuffled order of the batches, so single
    # seeds differ by about +-0.5 percentage points; the mean over three seeds must agree within 1.
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scores = {}
    for module in (fb, sk):
        scores[module] = np.mean([module.MLPClassifier(random_state=seed).fit(X_train, y_train).score(X_test, y_test)
                                  for seed in range(3)])
    assert scores[fb] > 0.97
    assert abs(scores[fb] - scores[sk]) <= 0.01


@pytest.mark.slow
def test_diabetes_r2_matches_sklearn():
    # Standardised inputs and targets, 10 relu units, Adam with batches of 32 and a strong L2: both
    # converge stably (R^2 about 0.38 on this split; linear regression gets 0.36). Single seeds
    # differ by about 0.005; the mean over three seeds must agree within 0.02.
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scores = {}
    for module in (fb, sk):
        scores[module] = np.mean([
            TransformedTargetRegressor(
                make_pipeline(StandardScaler(), module.MLPRegressor(
                    hidden_layer_sizes=(10,), alpha=3.0, batch_size=32, learning_rate_init=0.003, max_iter=500,
                    random_state=seed)),
                transformer=StandardScaler()).fit(X_train, y_train).score(X_test, y_test)
            for seed in range(3)])
    assert scores[fb] > 0.35
    assert abs(scores[fb] - scores[sk]) <= 0.02


@pytest.mark.parametrize("first, second", [("squared_error", "poisson"), ("poisson", "squared_error")])
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_changing_the_loss_of_a_fitted_regressor_is_refused(data, counts, first, second, how):
    # scikit-learn keeps the first loss's output layer and scores it by the second loss; fastbp refuses,
    # as it does when hidden_layer_sizes changes, and leaves the fitted model as it was.
    est = fb.MLPRegressor(loss=first, hidden_layer_sizes=(4,), max_iter=3, warm_start=how == "warm_start",
                          random_state=0).fit(data["X"], counts[:, 0])
    coefs = [c.copy() for c in est.coefs_]
    est.set_params(loss=second)
    with pytest.raises(ValueError, match=f"needs the loss the network was fitted with, loss='{first}'"):
        est.fit(data["X"], counts[:, 0]) if how == "warm_start" else est.partial_fit(data["X"], counts[:, 0])
    assert all(np.array_equal(a, b) for a, b in zip(est.coefs_, coefs)) and est.n_iter_ == 3
    est.set_params(loss=second, warm_start=False).fit(data["X"], counts[:, 0])       # afresh: allowed
    assert est.out_activation_ == ("exp" if second == "poisson" else "identity")
