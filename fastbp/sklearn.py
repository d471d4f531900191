"""scikit-learn's ``MLPClassifier`` and ``MLPRegressor``, trained by fastbp.

Change only the import::

    from sklearn.neural_network import MLPClassifier     # before
    from fastbp.sklearn import MLPClassifier             # after

The estimators take scikit-learn's constructor parameters with its defaults,
expose its fitted attributes (``coefs_`` as (n_in, n_out) matrices,
``intercepts_``, ``loss_``, ``loss_curve_``, ``n_iter_``, ``t_``, ...), and
follow its semantics: the same Glorot initialisation drawn from
``random_state`` in the same order, the same losses, L2 penalty, optimizers
(SGD with momentum/Nesterov, Adam, L-BFGS), learning-rate schedules,
convergence test (``tol``, ``n_iter_no_change``), early stopping on a
held-out split, ``warm_start`` and ``partial_fit``. Whole epochs run in
fastbp's compiled code. With ``shuffle=False`` and mini-batches that divide
the training set, the trajectories equal scikit-learn's to rounding.

Where the results can differ from scikit-learn's (all small):

* the order of shuffled mini-batches: fastbp's generator, seeded from
  ``random_state`` (reproducible, but not scikit-learn's stream). With one
  mini-batch per epoch (``batch_size="auto"`` and at most 200 samples) or
  ``shuffle=False`` the trajectories are scikit-learn's;
* L2 when mini-batches differ in size or weight: scikit-learn's step adds
  (alpha / S_b) W with S_b the batch's size (or weight sum), so a last,
  shorter batch decays more; fastbp applies alpha times the mean of 1 / S_b
  in every batch: the same total decay per epoch, spread evenly;
* ``loss_`` of SGD and Adam with several batches per epoch: its L2 term
  interpolates ||W||^2 linearly over the epoch where scikit-learn takes it
  before each batch (of order 1e-7 with the default alpha); with
  ``sample_weight`` and ``shuffle=True`` its data term is the weighted mean
  over the epoch rather than the mean of per-batch weighted means; and
  classifiers' is computed from the pre-activations, without scikit-learn's
  clipping of probabilities to [eps, 1 - eps] (L-BFGS uses scikit-learn's
  loss exactly);
* a mini-batch whose weights sum to zero is skipped (scikit-learn divides by
  zero and fails with non-finite weights);
* training that diverges with ``early_stopping=True`` stops at the diverged
  epoch and restores the best weights with a ``ConvergenceWarning``
  (scikit-learn trains on with NaN weights to ``max_iter``, then restores
  the same weights);
* sparse input is accepted and converted to a dense array;
* ``momentum`` must be below 1;
* a regressor's ``loss`` may not change under ``warm_start`` or
  ``partial_fit`` (scikit-learn keeps the old output layer and scores it by
  the new loss), and ``loss="poisson"`` needs y >= 0 (``ValueError``).

scikit-learn >= 1.6 is needed (``pip install "scikit-learn>=1.6"``); ``import
fastbp`` itself never imports it.
"""

import copy
import math
import warnings
from numbers import Integral, Real

import numpy as np

try:
    import scipy.optimize
    from scipy.special import xlogy
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils._param_validation import Interval, Options, StrOptions
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
    from sklearn.utils.optimize import _check_optimize_result
    from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(f"fastbp.sklearn needs scikit-learn >= 1.6: pip install 'scikit-learn>=1.6' ({exc})") from exc

from . import optimizers
from .network import Network

__all__ = ["MLPClassifier", "MLPRegressor"]

_STOCHASTIC_SOLVERS = ("sgd", "adam")

#: scikit-learn's hidden activation names -> fastbp's.
_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}

#: scikit-learn's output activation -> (fastbp output activation, fastbp cost). The gradient of
#: each pairing at the output pre-activation is a - y, as in scikit-learn's backprop.
_OUTPUTS = {
    "identity": ("identity", "quadratic"),        # squared error, 1/2 sum_k (a_k - y_k)^2 per sample
    "logistic": ("sigmoid", "cross_entropy"),     # binary log-loss summed over the outputs
    "softmax": ("softmax", "log_likelihood"),     # multiclass log-loss
    "exp": ("exp", "poisson"),                    # half the Poisson deviance summed over the outputs
}

#: MLPRegressor's loss -> its output activation (scikit-learn's out_activation_).
_REGRESSION_OUTPUTS = {"squared_error": "identity", "poisson": "exp"}

_NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain large values and "
               "need to be preprocessed.")


def _layer_slices(sizes):
    """(start, end of W, end of b) of each layer in fastbp's flat parameter vector.

    fastbp documents the layout: W^0 (n_out x n_in, row-major), b^0, W^1, b^1, ...
    """
    slices, start = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w_end = start + n_in * n_out
        slices.append((start, w_end, w_end + n_out))
        start = w_end + n_out
    return slices


def _as_sklearn(flat, sizes, slices):
    """(coefs, intercepts): scikit-learn's (n_in, n_out) matrices and (n_out,) vectors as views of a
    vector in fastbp's layout (W^l (n_out, n_in) row-major, then b^l, layer by layer)."""
    return ([flat[a:b].reshape(n_out, n_in).T for (a, b, _), n_in, n_out in zip(slices, sizes[:-1], sizes[1:])],
            [flat[b:c] for _, b, c in slices])


def _as_fastbp(coefs, intercepts, slices):
    """The float64 vector in fastbp's layout holding scikit-learn's coefs and intercepts."""
    theta = np.empty(slices[-1][2], dtype=np.float64)
    for (a, b, c), coef, intercept in zip(slices, coefs, intercepts):
        theta[a:b] = coef.T.ravel()
        theta[b:c] = intercept
    return theta


def _dense(X, dtype=None):
    """A dense, C-contiguous, writable array (numba compiles a separate kernel for read-only arrays)."""
    if hasattr(X, "toarray"):
        X = X.toarray()
    X = np.ascontiguousarray(X, dtype=dtype)
    if not X.flags.writeable:
        X = X.copy()
    return X


class _Optimizer:
    """scikit-learn's ``_optimizer``: the fastbp update rule (``rule``), the rate fastbp steps with
    (``rate``, which the 'invscaling' and 'adaptive' schedules change after each epoch), the steps
    taken (``steps``, set after each epoch) and, as scikit-learn reports it, ``learning_rate``: for
    Adam the step after its bias correction, η·√(1−β2ᵗ)/(1−β1ᵗ) after t steps, for SGD the rate."""

    def __init__(self, rule, learning_rate):
        self.rule = rule
        self.rate = float(learning_rate)
        self.steps = 0

    @property
    def learning_rate(self):
        if not isinstance(self.rule, optimizers.Adam) or self.steps == 0:
            return self.rate
        t = self.steps
        return self.rate * math.sqrt(1.0 - self.rule.beta2 ** t) / (1.0 - self.rule.beta1 ** t)

    @learning_rate.setter
    def learning_rate(self, value):     # scikit-learn's schedules set SGD's rate
        self.rate = float(value)


class _ParameterList(list):
    """``coefs_`` / ``intercepts_`` of a fitted estimator: views of the network's parameters.

    Replacing an item (``coefs_[0] = W``) copies W into the network, as replacing an item of
    scikit-learn's list changes its model; the shape must match.
    """

    def __init__(self, name, views):
        super().__init__(views)
        self._name = name

    def _checked(self, i, value):
        view = list.__getitem__(self, i)
        new = np.asarray(value)
        if new.shape != view.shape:
            raise ValueError(f"{self._name}[{i}] must have shape {view.shape}; got {new.shape}")
        return new

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            raise TypeError(f"{self._name} items are replaced one at a time; assign the whole list to "
                            f"{self._name} to replace several")
        i = range(len(self))[index]
        list.__getitem__(self, i)[...] = self._checked(i, value)

    def assign(self, values):
        """Copy one array per layer into the network, every shape checked first."""
        values = list(values)
        if len(values) != len(self):
            raise ValueError(f"{self._name} needs {len(self)} arrays; got {len(values)}")
        checked = [self._checked(i, value) for i, value in enumerate(values)]
        for view, new in zip(list(self), checked):
            view[...] = new


#: Network attributes holding training state (generator, optimizer moments, epoch records) that a
#: pickled estimator keeps so that partial_fit continues exactly after unpickling.
_TRAINING_STATE = ("_rng", "_optimizer_state", "_records", "_best_epoch", "_split_seed")


def _network_state(net):
    """A picklable description of a fastbp Network: its configuration, parameters and training state."""
    return {"sizes": list(net.sizes), "hidden_activation": net.hidden_activation,
            "output_activation": net.output_activation, "cost": net.cost_name, "dtype": net.dtype.name,
            "parameters": net.parameters,
            "training": {key: vars(net)[key] for key in _TRAINING_STATE if key in vars(net)}}


def _network_from_state(state):
    """The Network that ``_network_state`` described, with writable arrays (joblib may load them as
    read-only memory maps, for which numba would compile separate kernels)."""
    net = Network(state["sizes"], hidden_activation=state["hidden_activation"],
                  output_activation=state["output_activation"], cost=state["cost"], dtype=state["dtype"],
                  init="zeros")
    net.parameters = np.array(state["parameters"])
    for key, value in state["training"].items():
        value = copy.deepcopy(value)
        for name, item in list(vars(value).items()) if hasattr(value, "__dict__") else ():
            if isinstance(item, np.ndarray):
                setattr(value, name, np.array(item))
        setattr(net, key, value)
    return net


class _EpochLoop:
    """The end-of-epoch block of scikit-learn's ``_fit_stochastic``, as a fastbp schedule (the learning
    rate of the next epoch) and callback (bookkeeping, convergence test; returning True stops)."""

    def __init__(self, est, n_samples, l2, penalty_weights, validation, incremental):
        self.est = est
        self.n = n_samples
        self.l2 = l2
        self.penalty_weights = penalty_weights
        self.validation = validation
        self.incremental = incremental
        self.sq_start = est._weights_squared()
        self.stopped = False

    def rate(self, epoch, lr0, records):
        """The rate the optimizer steps with (before Adam's bias correction)."""
        return self.est._optimizer.rate

    def _loss(self, record_cost):
        """scikit-learn's ``loss_`` for the epoch that just ended.

        fastbp's record is the weighted mean cost over the epoch's batches (taken before each batch's
        step) plus l2/(2n)||W_end||^2. scikit-learn adds (|b|/n) 0.5 alpha ||W_b||^2 / S_b per batch b,
        with the weights W_b before that batch, which fastbp does not report: ||W_b||^2 is interpolated
        linearly between the epoch's start and end. Exact for one batch per epoch; otherwise off by about
        alpha / (2 n) times the spread of ||W||^2 within an epoch (~1e-7 with alpha = 1e-4).
        """
        est = self.est
        sq_end = est._weights_squared()
        data = record_cost - 0.5 * (self.l2 / self.n) * sq_end
        if est.out_activation_ == "identity":
            data /= est.n_outputs_          # scikit-learn's squared loss is a mean over the outputs
        w = self.penalty_weights
        squares = self.sq_start + (sq_end - self.sq_start) * np.arange(w.shape[0]) / w.shape[0]
        self.sq_start = sq_end
        return data + 0.5 * float(np.dot(w, squares))

    def __call__(self, epoch, logs):
        est = self.est
        est.n_iter_ += 1
        est.loss_ = np.float64(self._loss(logs["cost"]))   # as scikit-learn gives it
        est.t_ += self.n
        est._optimizer.steps = int(est._network._optimizer_state.step[0])
        est.loss_curve_.append(est.loss_)
        if est.verbose:
            print("Iteration %d, loss = %.8f" % (est.n_iter_, est.loss_))
        est._update_no_improvement_count(self.validation)
        kind, lr_init, power_t = est._schedule
        if kind == "invscaling":
            est._optimizer.learning_rate = float(lr_init) / (est.t_ + 1) ** power_t
        if est._no_improvement_count > est.n_iter_no_change:
            if est.early_stopping:
                msg = ("Validation score did not improve more than tol=%f for %d consecutive epochs."
                       % (est.tol, est.n_iter_no_change))
            else:
                msg = ("Training loss did not improve more than tol=%f for %d consecutive epochs."
                       % (est.tol, est.n_iter_no_change))
            if self._trigger_stopping(msg):
                self.stopped = True
                return True
            est._no_improvement_count = 0
        return self.incremental

    def _trigger_stopping(self, msg):
        """scikit-learn's ``trigger_stopping``: 'adaptive' SGD divides the rate by 5 until it is <= 1e-6."""
        est = self.est
        if est._schedule[0] != "adaptive":
            if est.verbose:
                print(msg + " Stopping.")
            return True
        if est._optimizer.learning_rate <= 1e-6:
            if est.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        est._optimizer.learning_rate /= 5.0
        if est.verbose:
            print(msg + " Setting learning rate to %f" % est._optimizer.learning_rate)
        return False


class _BaseMLP(BaseEstimator):
    """What ``MLPClassifier`` and ``MLPRegressor`` share. Not for direct use."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
                 learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start,
                 momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon,
                 n_iter_no_change, max_fun):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    # ------------------------------------------------------------ parameters
    @property
    def coefs_(self):
        """Weight matrices, ``coefs_[i]`` of shape (n_units[i], n_units[i + 1]).

        Transposed views of the fastbp network's (n_out, n_in) weights: they follow further training
        (``partial_fit``, ``warm_start``), and writing into them, replacing an item or assigning a list
        of arrays changes the model. Before the first fit, an assigned list is kept as it is (as in
        scikit-learn) and becomes the starting point of ``partial_fit`` or a ``warm_start`` fit.
        """
        net = self.__dict__.get("_network")
        if net is None:
            return self._assigned_list("coefs_")
        return _ParameterList("coefs_", _as_sklearn(net.parameters, self._sizes, self._slices)[0])

    @coefs_.setter
    def coefs_(self, values):
        self._set_parameter_list("coefs_", values)

    @property
    def intercepts_(self):
        """Bias vectors, ``intercepts_[i]`` of shape (n_units[i + 1],): views, like ``coefs_``."""
        net = self.__dict__.get("_network")
        if net is None:
            return self._assigned_list("intercepts_")
        return _ParameterList("intercepts_", _as_sklearn(net.parameters, self._sizes, self._slices)[1])

    @intercepts_.setter
    def intercepts_(self, values):
        self._set_parameter_list("intercepts_", values)

    def _assigned_list(self, name):
        assigned = self.__dict__.get("_assigned", {})
        if name not in assigned:
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet")
        return assigned[name]

    def _set_parameter_list(self, name, values):
        if self.__dict__.get("_network") is None:
            self.__dict__.setdefault("_assigned", {})[name] = list(values)
        else:
            getattr(self, name).assign(values)

    def _has_parameters(self):
        """A network, or both ``coefs_`` and ``intercepts_`` assigned before any fit."""
        return (self.__dict__.get("_network") is not None
                or {"coefs_", "intercepts_"} <= self.__dict__.get("_assigned", {}).keys())

    def _adopt_assigned(self, dtype, layer_units=None):
        """Build the network from ``coefs_`` and ``intercepts_`` assigned before any fit (scikit-learn
        trains or predicts with whatever lists were assigned). Checks every shape before changing
        anything; attributes the user did not set get ``_initialize``'s starting values."""
        assigned = self.__dict__["_assigned"]
        coefs = [np.asarray(c) for c in assigned["coefs_"]]
        intercepts = [np.asarray(b) for b in assigned["intercepts_"]]
        if not coefs or len(coefs) != len(intercepts):
            raise ValueError(f"coefs_ and intercepts_ need one array per layer; got {len(coefs)} and "
                             f"{len(intercepts)}")
        for i, (coef, intercept) in enumerate(zip(coefs, intercepts)):
            if coef.ndim != 2 or intercept.shape != (coef.shape[1],):
                raise ValueError(f"coefs_[{i}] must be 2-D (n_in, n_out) and intercepts_[{i}] (n_out,); got "
                                 f"shapes {coef.shape} and {intercept.shape}")
            if i and coef.shape[0] != coefs[i - 1].shape[1]:
                raise ValueError(f"coefs_[{i}] must have {coefs[i - 1].shape[1]} rows (the outputs of "
                                 f"coefs_[{i - 1}]); got shape {coef.shape}")
        sizes = [coefs[0].shape[0]] + [c.shape[1] for c in coefs]
        if layer_units is not None and list(layer_units) != sizes:
            raise ValueError(f"the assigned coefs_ give layer sizes {sizes}, but X, y and "
                             f"hidden_layer_sizes need {list(layer_units)}")
        slices = _layer_slices(sizes)
        theta = _as_fastbp(coefs, intercepts, slices)
        if not hasattr(self, "out_activation_"):
            self.out_activation_ = (self._regression_output() if not is_classifier(self)
                                    else "softmax" if self._label_binarizer.y_type_ == "multiclass"
                                    else "logistic")
        defaults = {"n_iter_": 0, "t_": 0, "n_layers_": len(sizes), "n_outputs_": sizes[-1],
                    "_best_parameters": None, "_optimizer": None}
        if self.solver in _STOCHASTIC_SOLVERS:
            defaults.update(loss_curve_=[], _no_improvement_count=0, best_loss_=np.inf,
                            validation_scores_=[] if self.early_stopping else None,
                            best_validation_score_=-np.inf if self.early_stopping else None)
        for name, value in defaults.items():
            if name not in self.__dict__:
                setattr(self, name, value)
        self._sizes = tuple(sizes)
        self._slices = slices
        self._dtype = np.dtype(dtype) if self.solver in _STOCHASTIC_SOLVERS else np.dtype(np.float64)
        self._network = self._new_network(theta, seed=int(check_random_state(self.random_state).randint(
            np.iinfo(np.int32).max)))
        del self.__dict__["_assigned"]

    def _fitted_network(self):
        net = self.__dict__.get("_network")
        if net is None:
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet")
        return net

    def __sklearn_is_fitted__(self):
        """True once ``fit`` or ``partial_fit`` has built the network (or both ``coefs_`` and
        ``intercepts_`` were assigned)."""
        return self._has_parameters()

    def _weights_squared(self):
        """sum_l ||W_l||^2 in float64 (biases excluded), scikit-learn's L2 term."""
        theta = self._network.parameters
        return float(sum(np.dot(w, w) for w in (theta[a:b].astype(np.float64) for a, b, _ in self._slices)))

    def __getstate__(self):
        """Pickle the fastbp network as its configuration, parameters and training state."""
        state = dict(super().__getstate__())      # may be the instance's own __dict__: copy it
        if state.get("_network") is not None:
            state["_network"] = _network_state(state["_network"])
        return state

    def __setstate__(self, state):
        """Unpickle, rebuilding the fastbp network."""
        if isinstance(state.get("_network"), dict):
            state = dict(state, _network=_network_from_state(state["_network"]))
        super().__setstate__(state)

    # ------------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden_layer_sizes = self.hidden_layer_sizes
        if not hasattr(hidden_layer_sizes, "__iter__"):
            hidden_layer_sizes = [hidden_layer_sizes]
        hidden_layer_sizes = list(hidden_layer_sizes)
        if not all(isinstance(h, Integral) and not isinstance(h, bool) for h in hidden_layer_sizes):
            # scikit-learn fails with a TypeError when it allocates such a layer; int() would truncate 3.5
            raise TypeError(f"hidden_layer_sizes must hold integer layer sizes; got {self.hidden_layer_sizes!r}")
        hidden_layer_sizes = [int(h) for h in hidden_layer_sizes]
        if np.any(np.array(hidden_layer_sizes) <= 0):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % hidden_layer_sizes)
        first_pass = not self.__sklearn_is_fitted__() or (not self.warm_start and not incremental)
        fitted_output = getattr(self, "out_activation_", None)
        if not first_pass and not is_classifier(self) and fitted_output not in (None, self._regression_output()):
            # scikit-learn would keep the old output layer and score it by the new loss
            fitted_loss = next(loss for loss, output in _REGRESSION_OUTPUTS.items() if output == fitted_output)
            raise ValueError(f"warm_start/partial_fit needs the loss the network was fitted with, "
                             f"loss={fitted_loss!r} (its output layer is {fitted_output!r}); got loss={self.loss!r} "
                             f"(fit without warm_start to start afresh)")

        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        X = _dense(X)
        n_samples, n_features = X.shape
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if y.ndim == 1:
            y = y.reshape((-1, 1))
        layer_units = [n_features] + hidden_layer_sizes + [y.shape[1]]
        if not first_pass and self.__dict__.get("_network") is None:
            self._adopt_assigned(X.dtype, layer_units)
        if not first_pass and tuple(layer_units) != tuple(self._sizes):
            raise ValueError(f"warm_start/partial_fit needs the same layer sizes as the fitted network "
                             f"{list(self._sizes)}; got {layer_units} (hidden_layer_sizes or the number of "
                             f"outputs changed)")
        self.n_outputs_ = y.shape[1]
        random_state = check_random_state(self.random_state)

        theta0 = self._initialize(y, layer_units, X.dtype, random_state) if first_pass else None
        if self.solver in _STOCHASTIC_SOLVERS:
            self._fit_stochastic(X, y, sample_weight, incremental, theta0, random_state)
        else:
            self._fit_lbfgs(X, y, sample_weight, theta0)
        if not np.isfinite(self._network.parameters).all():
            raise ValueError(_NON_FINITE)
        return self

    def _initialize(self, y, layer_units, dtype, random_state):
        """scikit-learn's ``_initialize``: attributes, and the initial parameters in fastbp's layout,
        drawn as scikit-learn draws them (Glorot uniform, coef then intercept, layer by layer)."""
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = self._regression_output()
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        self._network = None
        self.__dict__.pop("_assigned", None)        # coefs_ / intercepts_ assigned before: replaced
        self._sizes = tuple(layer_units)
        self._slices = _layer_slices(layer_units)
        # scikit-learn's L-BFGS ends with float64 coefficients whatever X's dtype; SGD and Adam keep it.
        self._dtype = np.dtype(dtype) if self.solver in _STOCHASTIC_SOLVERS else np.dtype(np.float64)
        factor = 2.0 if self.activation == "logistic" else 6.0
        coefs, intercepts = [], []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            coefs.append(random_state.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype, copy=False))
            intercepts.append(random_state.uniform(-bound, bound, fan_out).astype(dtype, copy=False))
        theta = _as_fastbp(coefs, intercepts, self._slices)
        self._best_parameters = theta.astype(self._dtype)
        self._optimizer = None
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None
        return theta

    def _new_network(self, theta0, seed):
        output, cost = _OUTPUTS[self.out_activation_]
        net = Network(self._sizes, hidden_activation=_ACTIVATIONS[self.activation], output_activation=output,
                      cost=cost, dtype=self._dtype, seed=seed, init="zeros")
        net.parameters = theta0
        return net

    def _targets(self, y):
        """y (n, n_outputs) as fastbp targets of the network's dtype."""
        return _dense(y, dtype=self._dtype)

    def _fit_stochastic(self, X, y, sample_weight, incremental, theta0, random_state):
        if not incremental or self._optimizer is None:
            if self.solver == "sgd":
                rule = optimizers.SGD(momentum=float(self.momentum),
                                      nesterov=bool(self.nesterovs_momentum) and self.momentum > 0)
                self._schedule = (self.learning_rate, self.learning_rate_init, self.power_t)
            else:
                rule = optimizers.Adam(beta1=float(self.beta_1), beta2=float(self.beta_2),
                                       epsilon=float(self.epsilon))
                self._schedule = ("constant", self.learning_rate_init, self.power_t)
            self._optimizer = _Optimizer(rule, self.learning_rate_init)
            if theta0 is None:
                self._network.reset_optimizer()     # scikit-learn starts a new optimizer
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")

        validation = None
        if self.early_stopping:
            # scikit-learn's split, from the same random state after the same initial draws.
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            if sample_weight is None:
                X_train, X_val, y_train, y_val = train_test_split(
                    X, y, random_state=random_state, test_size=self.validation_fraction, stratify=stratify)
                sw_train = sw_val = None
            else:
                X_train, X_val, y_train, y_val, sw_train, sw_val = train_test_split(
                    X, y, sample_weight, random_state=random_state, test_size=self.validation_fraction,
                    stratify=stratify)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size "
                                 "of your dataset.")
            if is_classifier(self):
                y_val = self._label_binarizer.inverse_transform(y_val)
            validation = (_dense(X_val, dtype=self._dtype), y_val, sw_val)
        else:
            X_train, y_train, sw_train = X, y, sample_weight
        if theta0 is not None:
            # Shuffling comes from fastbp's generator, seeded from random_state after scikit-learn's draws.
            self._network = self._new_network(theta0, seed=int(random_state.randint(np.iinfo(np.int32).max)))
        net = self._network

        n_samples = X_train.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            if self.batch_size > n_samples:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                              stacklevel=3)
            batch_size = int(np.clip(self.batch_size, 1, n_samples))
        # scikit-learn's step for batch b adds (alpha / S_b) W, S_b the batch's weight sum (its size
        # without weights); fastbp's adds (l2 / n) W in every batch. l2 = alpha n mean_b(1 / S_b) makes
        # them equal when the batches have equal sums (batch_size divides n, no sample_weight), and
        # otherwise gives the same total decay per epoch, spread evenly over its batches.
        lengths = np.diff(np.r_[np.arange(0, n_samples, batch_size), n_samples]).astype(np.float64)
        if sw_train is None:
            inverse_sums = 1.0 / lengths
        elif self.shuffle:
            # The batches are random: S_b is about |b| times the mean weight.
            inverse_sums = n_samples / (lengths * float(np.sum(sw_train, dtype=np.float64)))
        else:
            # The batches are known: scale each batch's weights to sum to its size. Its gradient (a
            # weighted mean) is unchanged, and the epoch's weighted mean cost becomes scikit-learn's
            # mean over the batches of their weighted mean costs. (fastbp skips batches of weight 0.)
            sw_train = np.array(sw_train, dtype=np.float64)
            inverse_sums = np.zeros_like(lengths)
            for k, start in enumerate(range(0, n_samples, batch_size)):
                part = sw_train[start:start + batch_size]
                total = part.sum()
                if total > 0:
                    inverse_sums[k] = 1.0 / total
                    part *= part.shape[0] / total
        used = inverse_sums > 0             # (none: every weight is 0, which fastbp's fit refuses)
        l2 = self.alpha * n_samples * float(np.mean(inverse_sums[used])) if used.any() else 0.0
        # Weight of each batch's 0.5 ||W_b||^2 in scikit-learn's loss_: (|b| / n) alpha / S_b.
        penalty_weights = self.alpha * lengths / n_samples * inverse_sums
        loop = _EpochLoop(self, n_samples, l2, penalty_weights, validation, incremental)
        self.n_iter_ = 0
        try:
            net.fit(_dense(X_train, dtype=self._dtype), self._targets(y_train),
                    epochs=1 if incremental else self.max_iter, batch_size=batch_size,
                    learning_rate=float(self.learning_rate_init), l2=l2,
                    optimizer=self._optimizer.rule, schedule=loop, shuffle=bool(self.shuffle),
                    sample_weight=None if sw_train is None else _dense(sw_train, dtype=self._dtype),
                    callbacks=[loop])
        except FloatingPointError as exc:
            if not self.early_stopping:
                raise ValueError(_NON_FINITE) from exc
            # scikit-learn trains on with NaN weights and ends by restoring the best ones; fastbp stops
            # at the diverged epoch (its parameters are those of the epoch before), records it as
            # scikit-learn would (NaN loss and validation score), restores the best and says so.
            self.n_iter_ += 1
            self.t_ += n_samples
            self.loss_ = np.float64(np.nan)
            self.loss_curve_.append(self.loss_)
            self.validation_scores_.append(float("nan"))
            warnings.warn(f"Training diverged in iteration {self.n_iter_} (the loss became NaN or infinite); "
                          f"the weights with the best validation score were restored. Try a smaller "
                          f"learning_rate_init.", ConvergenceWarning, stacklevel=3)
            loop.stopped = True

        if not loop.stopped and not incremental and self.n_iter_ == self.max_iter:
            warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization hasn't "
                          "converged yet." % self.max_iter, ConvergenceWarning, stacklevel=3)
        if self.early_stopping:
            # Restore the best weights; afterwards scikit-learn's "best" aliases the current weights.
            if self._best_parameters is not None:
                net.parameters = self._best_parameters
            self._best_parameters = None

    def _update_no_improvement_count(self, validation):
        if self.early_stopping:
            X_val, y_val, sw_val = validation
            score = self._score(X_val, y_val, sample_weight=sw_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print("Validation score: %f" % self.validation_scores_[-1])
            last = self.validation_scores_[-1]
            if last < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last > self.best_validation_score_:
                self.best_validation_score_ = last
                self._best_parameters = self._network.parameters.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _fit_lbfgs(self, X, y, sample_weight, theta0):
        if theta0 is not None:
            self._network = self._new_network(theta0, seed=0)
        net = self._network
        X = _dense(X, dtype=net.dtype)
        Y = self._targets(y)
        sw = None if sample_weight is None else _dense(sample_weight, dtype=net.dtype)
        loss_grad = self._lbfgs_objective(X, Y, sw)

        options = {"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol}
        try:
            from sklearn.utils.fixes import _get_additional_lbfgs_options_dict
            options.update(_get_additional_lbfgs_options_dict("iprint", 1 if self.verbose else -1))
        except ImportError:  # pragma: no cover - older scikit-learn
            pass
        result = scipy.optimize.minimize(loss_grad, net.parameters.astype(np.float64), method="L-BFGS-B",
                                         jac=True, options=options)
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = np.float64(result.fun)
        net.parameters = result.x

    def _lbfgs_objective(self, X, Y, sw):
        """loss_grad(theta) -> (loss, float64 gradient) in fastbp's parameter layout, for X, targets Y
        (n, n_outputs) and sample weights sw (or None), all of the network's dtype. Sets the network's
        parameters to theta."""
        net = self._network
        n = X.shape[0]
        weight_sum = float(n if sw is None else np.sum(sw, dtype=np.float64))
        l2 = self.alpha * n / weight_sum                    # gradient (alpha / S) W, as scikit-learn's
        slices = self._slices

        def loss_grad(theta):
            # scikit-learn's loss (see _data_loss) plus 0.5 alpha ||W||^2 / S, and fastbp's gradient,
            # which is scikit-learn's: for several regression outputs scikit-learn's loss is a mean over
            # the outputs while its gradient sums them, and L-BFGS sees that same pair here.
            net.parameters = theta
            try:
                data = self._data_loss(Y, net.feedforward(X), sw)
                grad = net.gradient(X, Y, l2=l2, sample_weight=sw, flat=True)
            except FloatingPointError:  # overflow at a trial point: let the line search step back
                return np.inf, np.zeros_like(theta)
            squares = sum(float(np.dot(theta[a:b], theta[a:b])) for a, b, _ in slices)
            return data + 0.5 * self.alpha * squares / weight_sum, grad.astype(np.float64)
        return loss_grad

    def _sklearn_order(self):
        """int64 index k -> position in fastbp's parameter vector of scikit-learn's packed element k
        (every coefs_[i] raveled row-major, then every intercepts_[i])."""
        coefs, intercepts = _as_sklearn(np.arange(self._slices[-1][2]), self._sizes, self._slices)
        return np.concatenate([c.ravel() for c in coefs] + intercepts)

    def _loss_grad_lbfgs(self, packed_coef_inter, X, y, sample_weight=None, activations=None, deltas=None,
                         coef_grads=None, intercept_grads=None):
        """scikit-learn's L-BFGS objective at packed parameters, computed by fastbp's compiled kernels.

        Parameters
        ----------
        packed_coef_inter : ndarray of shape (n_parameters,)
            Every ``coefs_[i]`` raveled (row-major), then every ``intercepts_[i]``; becomes the model's
            parameters, as in scikit-learn.
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Targets as the network sees them (binarized labels for a classifier).
        sample_weight : array-like of shape (n_samples,), default=None
        activations, deltas : ignored (scikit-learn's work lists).
        coef_grads, intercept_grads : list, optional
            If given, their items are replaced by the gradient's blocks, as scikit-learn does.

        Returns
        -------
        loss : float
            The data loss plus 0.5 alpha ||W||^2 / (weight sum).
        grad : ndarray of shape (n_parameters,), float64, packed like ``packed_coef_inter``.
        """
        net = self._fitted_network()
        order = self._sklearn_order()
        packed = np.asarray(packed_coef_inter, dtype=np.float64)
        if packed.shape != order.shape:
            raise ValueError(f"packed_coef_inter must have shape {order.shape}; got {packed.shape}")
        X = _dense(X, dtype=net.dtype)
        Y = self._targets(y)
        if Y.ndim == 1:
            Y = Y.reshape((-1, 1))
        sw = None if sample_weight is None else _dense(sample_weight, dtype=net.dtype)
        theta = np.empty_like(packed)
        theta[order] = packed
        loss, grad = self._lbfgs_objective(X, Y, sw)(theta)
        if coef_grads is not None and intercept_grads is not None:
            coefs, intercepts = _as_sklearn(grad, self._sizes, self._slices)
            coef_grads[:len(coefs)] = [c.copy() for c in coefs]
            intercept_grads[:len(intercepts)] = [b.copy() for b in intercepts]
        return loss, grad[order]

    def _data_loss(self, Y, P, sample_weight):
        """scikit-learn's loss of outputs P for targets Y (n, n_outputs): half the squared error averaged
        over the samples and the outputs, or the log-loss (binary: summed over the outputs) of the
        probabilities clipped to [eps, 1 - eps]; sample-weighted means over the samples."""
        if self.out_activation_ == "identity":
            return 0.5 * float(np.average((Y - P) ** 2, weights=sample_weight, axis=0).mean())
        if self.out_activation_ == "exp":
            return float(np.average(xlogy(Y, Y / P) - Y + P, weights=sample_weight, axis=0).sum())
        eps = np.finfo(P.dtype).eps
        P = np.clip(P, eps, 1 - eps)
        if self.out_activation_ == "softmax":
            return -float(np.average(xlogy(Y, P), weights=sample_weight, axis=0).sum())
        return -float(np.average(xlogy(Y, P) + xlogy(1 - Y, 1 - P), weights=sample_weight, axis=0).sum())

    # --------------------------------------------------------------- predict
    def _forward_pass_fast(self, X, check_input=True):
        """Output activations for X ((n_samples, n_features); sparse is made dense)."""
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        if self.__dict__.get("_network") is None:
            assigned = self.__dict__["_assigned"]
            self._adopt_assigned(np.result_type(*assigned["coefs_"], *assigned["intercepts_"]))
        net = self._network
        out = net.feedforward(_dense(X, dtype=net.dtype))
        # scikit-learn multiplies X by the coefficients: float64 X gives float64 outputs from a float32 model.
        return out.astype(np.result_type(X.dtype, out.dtype), copy=False)

    def _score_with_function(self, X, y, sample_weight, score_function):
        try:
            y_pred = self._predict(X, check_input=False)
        except FloatingPointError:      # fastbp refuses outputs that overflowed; scikit-learn scores NaN
            return np.nan
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data (sparse input is converted to a dense array).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights: each mini-batch's loss and gradient are weighted means, and alpha is divided
            by the batch's weight sum, as in scikit-learn.

        Returns
        -------
        self : object
            The fitted model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def __sklearn_tags__(self):
        """scikit-learn's tags for its MLPs: sparse input is accepted."""
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, trained by fastbp.

    Parameters, defaults, attributes and methods are scikit-learn's (see
    ``sklearn.neural_network.MLPClassifier``); the module docstring lists the small differences.
    Binary problems use one logistic output with the binary log-loss, multiclass a softmax output
    with the log-loss, multilabel (an indicator matrix y) logistic outputs with the binary log-loss
    summed over the labels.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Units of each hidden layer.
    activation : {'identity', 'logistic', 'tanh', 'relu'}, default='relu'
        Hidden activation.
    solver : {'lbfgs', 'sgd', 'adam'}, default='adam'
        'sgd' is mini-batch SGD with (Nesterov) momentum, 'adam' Adam, 'lbfgs' full-batch L-BFGS-B.
    alpha : float, default=0.0001
        L2 strength: the loss adds 0.5 * alpha * ||W||^2 / n_batch.
    batch_size : int or 'auto', default='auto'
        Mini-batch size; 'auto' is min(200, n_samples).
    learning_rate : {'constant', 'invscaling', 'adaptive'}, default='constant'
        SGD's schedule.
    learning_rate_init : float, default=0.001
        Initial step size (sgd, adam).
    power_t : float, default=0.5
        Exponent of 'invscaling'.
    max_iter : int, default=200
        Epochs (sgd, adam) or iterations (lbfgs).
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Initial weights, the early-stopping split and (through a seed for fastbp's generator) shuffling.
    tol : float, default=1e-4
        Improvement needed within ``n_iter_no_change`` epochs; lbfgs's gradient tolerance.
    verbose : bool, default=False
        Print the loss after each epoch.
    warm_start : bool, default=False
        Continue from the previous fit.
    momentum : float, default=0.9
        SGD momentum (below 1).
    nesterovs_momentum : bool, default=True
        Nesterov's momentum (when momentum > 0).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when its accuracy stalls; the best
        weights are restored.
    validation_fraction : float, default=0.1
        Held-out part for early stopping.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates.
    epsilon : float, default=1e-8
        Adam's epsilon.
    n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` before stopping (or dividing an adaptive rate by 5).
    max_fun : int, default=15000
        lbfgs's maximum number of loss evaluations.

    Attributes
    ----------
    classes_, loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_, coefs_,
    intercepts_, n_features_in_, feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_
        As in scikit-learn. ``coefs_`` and ``intercepts_`` are views of the fastbp network's parameters.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
            batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun)

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # scikit-learn's rules: a new fit defines classes_; warm_start needs the same classes;
        # partial_fit accepts a subset of the classes given first.
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the "
                                     f"previous call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y

    def predict(self, X):
        """Predict classes.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes (an indicator matrix for multilabel problems).
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight=sample_weight, score_function=accuracy_score)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over (X, y), continuing the optimizer's state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : array-like of shape (n_samples,)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        classes : array of shape (n_classes,), default=None
            Every class across all calls; required on the first call, optional afterwards.

        Returns
        -------
        self : object
            The trained model.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError("partial_fit is only available for stochastic optimizers. %s is not stochastic."
                                 % self.solver)
        return True

    def predict_log_proba(self, X):
        """Log of the class probabilities, ``log(predict_proba(X))``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns ordered as ``classes_``.
        """
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            Probabilities, columns ordered as ``classes_`` (for multilabel problems, each label's own
            probability).
        """
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def __sklearn_tags__(self):
        """scikit-learn's tags for MLPClassifier: multilabel targets are supported."""
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor``, trained by fastbp.

    Parameters, defaults, attributes and methods are scikit-learn's (see
    ``sklearn.neural_network.MLPRegressor``; the parameters are described on ``MLPClassifier``);
    the module docstring lists the small differences. With ``loss='squared_error'`` the output
    layer is linear and ``loss_`` is half the mean squared error over the samples and the outputs,
    while the gradient, as scikit-learn's, is that of half the squared error summed over the
    outputs. Multi-output targets are supported.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        'poisson': an exponential output layer (fastbp's ``output_activation="exp"``) and half the
        Poisson deviance summed over the outputs (``cost="poisson"``), as in scikit-learn >= 1.7;
        y must be non-negative.
    hidden_layer_sizes=(100,), activation='relu', *, solver='adam', alpha=0.0001, ...
        Every other parameter, with its default, as for ``MLPClassifier``; early stopping scores the
        held-out part by R^2.

    Attributes
    ----------
    loss_, best_loss_, loss_curve_, validation_scores_, best_validation_score_, t_, coefs_, intercepts_,
    n_features_in_, feature_names_in_, n_iter_, n_layers_, n_outputs_, out_activation_
        As in scikit-learn.
    """

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001,
                 power_t=0.5, max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False,
                 warm_start=False, momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 max_fun=15000):
        self.loss = loss
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
            batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
            power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
            verbose=verbose, warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
            beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun)

    def _regression_output(self):
        return _REGRESSION_OUTPUTS[self.loss]

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def predict(self, X):
        """Predict the targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight=sample_weight, score_function=r2_score)

    # scikit-learn's regressor offers partial_fit for every solver (with 'lbfgs' it runs a whole fit).
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over (X, y), continuing the optimizer's state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        self : object
            The trained model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
