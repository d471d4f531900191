"""``fastbp.Network``: the object users hold. Validates, then calls kernels."""


import copy
import threading

import numpy as np

from . import _aligned
from . import _validation as v
from . import kernels as K
from ._dispatch import choose_blas, work_buffers
from ._layout import build_layout, split, weight_mask
from .errors import NumericalError
from .history import History, copy_record
from .initializers import INITIALIZERS, draw
from .kernels.codes import ACTIVATIONS, COST_OUTPUTS, COSTS, HIDDEN_ACTIVATIONS, N_OUT, OUTPUT_ACTIVATIONS, UNIT_OFF

__all__ = ["Network"]

#: Rows per block when predicting or evaluating: big enough to amortise the
#: per-block call, small enough that the work buffers stay in cache.
EVAL_BLOCK = 256


class _Fixed:
    """A configuration attribute that ``__init__`` sets once: the layer table, the kernels' codes and
    every input check are built from it, so changing it afterwards would make them disagree (a wrong
    ``sizes`` lets a kernel read past the end of X)."""

    def __set_name__(self, owner, name):
        self.name, self.slot = name, "_fixed_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        try:
            return obj.__dict__[self.slot]
        except KeyError:
            raise AttributeError(self.name) from None

    def __set__(self, obj, value):
        if self.slot in obj.__dict__:
            raise AttributeError(f"{self.name} is fixed when a Network is built; build a new Network "
                                 f"(Network({list(obj.sizes)}, ...)) for another {self.name}")
        obj.__dict__[self.slot] = value


class _LayerViews(list):
    """``weights`` or ``biases``: views of one kind into the flat parameters, a layer each.

    Replacing an item (``net.weights[0] = W``) copies W into the network after checking its shape,
    dtype conversion and finiteness; layers cannot be added, removed or reordered.
    """

    def __init__(self, views, name, dtype):
        super().__init__(views)
        self._name, self._dtype = name, dtype

    def _checked(self, i, value):
        view = list.__getitem__(self, i)
        arr = v._as_numeric(f"{self._name}[{i}]", value)
        if arr.shape != view.shape:
            raise ValueError(f"{self._name}[{i}] must have shape {view.shape}; got shape {arr.shape}")
        return v._to_dtype(f"{self._name}[{i}]", arr, self._dtype)

    def _checked_items(self, index, value):
        """(layer indices, checked arrays) for ``self[index] = value``; nothing is written."""
        if isinstance(index, slice):
            indices = range(len(self))[index]
            values = list(value)
            if len(values) != len(indices):
                raise ValueError(f"{self._name}[{index.start}:{index.stop}] needs {len(indices)} arrays; "
                                 f"got {len(values)}")
        else:
            indices, values = [range(len(self))[index]], [value]
        return indices, [self._checked(i, val) for i, val in zip(indices, values)]

    def __setitem__(self, index, value):
        for i, arr in zip(*self._checked_items(index, value)):
            list.__getitem__(self, i)[...] = arr

    def checked(self, values):
        """One checked array per layer for ``values`` (an array per layer); nothing is written."""
        values = list(values)
        if len(values) != len(self):
            raise ValueError(f"{self._name} needs {len(self)} arrays (one per layer after the input); "
                             f"got {len(values)}")
        return [self._checked(i, value) for i, value in enumerate(values)]

    def assign(self, values):
        """Copy one array per layer into the network, every one checked first."""
        for view, arr in zip(list(self), self.checked(values)):
            view[...] = arr

    def __reduce_ex__(self, protocol):
        # copy.deepcopy(net.weights) and pickling give a plain list of independent arrays
        return (list, (list(self),))

    def _fixed(self, *args, **kwargs):
        raise TypeError(f"the layers in {self._name} cannot be added, removed or reordered; "
                        f"build a new Network for other sizes")

    __delitem__ = append = extend = insert = pop = remove = clear = sort = reverse = _fixed
    __iadd__ = __imul__ = _fixed


class Network:
    """A fully connected network trained by backpropagation.

    Parameters
    ----------
    sizes : sequence of int
        Units per layer, inputs first: ``[784, 30, 10]``. At least two.
    hidden_activation : str
        ``"sigmoid"`` (default), ``"tanh"``, ``"relu"``, ``"leaky_relu"`` or
        ``"identity"``, for every hidden layer.
    output_activation : str
        Any hidden activation, ``"softmax"`` or ``"exp"`` (a positive rate
        e^z, for counts). Default ``"sigmoid"``.
    cost : str
        ``"quadratic"`` ½‖a − y‖² (default, any output),
        ``"cross_entropy"`` (sigmoid output), ``"log_likelihood"``
        (softmax output) or ``"poisson"``, half the Poisson deviance
        Σ a − y ln a + y ln y − y (exp output, non-negative targets).
    dtype : float32 or float64
        The one dtype of parameters and computation. Default float64.
    seed : int, numpy.random.Generator or None
        Seeds the generator used for initial weights and shuffling.
    init : str
        ``"nielsen"`` (default: W ~ N(0, 1/n_in), b ~ N(0, 1)), ``"large"``
        (everything N(0, 1)), ``"uniform"`` (Ng's U(±0.12)),
        ``"glorot_normal"``, ``"glorot_uniform"``, ``"he_normal"``,
        ``"he_uniform"`` or ``"zeros"``.
    leaky_slope : float
        Slope of ``leaky_relu`` for negative inputs, in (0, 1). Default 0.01.

    Attributes
    ----------
    parameters : (n_parameters,) array of dtype
        The flat buffer holding every W^l then b^l, layer by layer.
    weights, biases : lists of views into ``parameters``
        ``weights[l]`` is (sizes[l+1], sizes[l]): ``weights[l][j, k]`` joins
        unit k of layer l to unit j of layer l+1. ``biases[l]`` is (sizes[l+1],).
        Writing into them, replacing an item (``net.weights[0] = W``) or
        assigning a list changes the network; shapes are checked.
    sizes, hidden_activation, output_activation, cost_name, dtype, leaky_slope
        The configuration, fixed once built (setting one raises AttributeError).
    """

    sizes = _Fixed()
    hidden_activation = _Fixed()
    output_activation = _Fixed()
    cost_name = _Fixed()
    dtype = _Fixed()
    leaky_slope = _Fixed()

    def __init__(self, sizes, hidden_activation="sigmoid", output_activation="sigmoid",
                 cost="quadratic", dtype=np.float64, seed=None, init="nielsen", leaky_slope=0.01):
        self.sizes = v.check_sizes(sizes)
        self.hidden_activation = v.check_choice("hidden_activation", hidden_activation, HIDDEN_ACTIVATIONS)
        self.output_activation = v.check_choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        self.cost_name = v.check_choice("cost", cost, tuple(COSTS))
        if self.output_activation not in COST_OUTPUTS[cost]:
            raise ValueError(f"cost {cost!r} needs output_activation in {COST_OUTPUTS[cost]}; "
                             f"got {output_activation!r}")
        if self.output_activation == "softmax" and self.sizes[-1] < 2:
            raise ValueError(f"a softmax output needs at least 2 units (one unit would always output 1); "
                             f"got sizes {list(self.sizes)}: use output_activation='sigmoid' for one output")
        self.dtype = v.check_dtype(dtype)
        self.init = v.check_choice("init", init, tuple(INITIALIZERS))
        self.leaky_slope = v.check_float("leaky_slope", leaky_slope, 0.0, 1.0, low_open=True, high_open=True)
        if seed is not None and not isinstance(seed, np.random.Generator):
            seed = v.check_int("seed", seed, minimum=0)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

        self._layout, n_params, self._n_units = build_layout(self.sizes)
        self._weight_mask = weight_mask(self._layout, n_params)
        names = [self.hidden_activation] * (len(self.sizes) - 2) + [self.output_activation]
        self._acts = np.array([ACTIVATIONS[a] for a in names], dtype=np.int64)
        self._cost = COSTS[self.cost_name]
        self._leak = self.dtype.type(self.leaky_slope)
        self._theta = _aligned.zeros(n_params, self.dtype)
        self._views = split(self._theta, self._layout)
        draw(self.init, self._rng, *self._views)
        self._optimizer_state = None    # velocity / moments, carried between fits
        self._records = []              # every epoch ever trained, for schedules and `history`
        self._best_epoch = None         # the recorded epoch whose parameters early stopping put back
        self._split_seed = None         # validation_fraction's split, drawn on first use and kept
        self._stopping_progress = None  # early stopping's, from a checkpoint of an unfinished fit
        self._fit_lock = threading.RLock()   # fits on one network run one after the other

    def __deepcopy__(self, memo):
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        # Every reference to the parameters in the copy gets one aligned copy (unless one was made already).
        if id(self._theta) not in memo:
            memo[id(self._theta)] = _aligned.copy(self._theta)
        for key, value in self.__dict__.items():
            if key not in ("_fit_lock", "_views"):
                clone.__dict__[key] = copy.deepcopy(value, memo)
        clone._fit_lock = threading.RLock()
        clone._views = split(clone._theta, clone._layout)
        return clone

    def _share_parameters(self, other):
        """Use ``other``'s parameter buffer (a Network of the same sizes): writes through either show
        in both, and views taken from ``other`` stay live (fastbp.nielsen's change of cost)."""
        if other._theta.shape != self._theta.shape or other._theta.dtype != self._theta.dtype:
            raise ValueError(f"cannot share parameters of shape {other._theta.shape} {other._theta.dtype} with a "
                             f"network of {self._theta.shape} {self._theta.dtype}")
        self._theta = other._theta
        self._views = split(self._theta, self._layout)

    def _move_parameters(self):
        """Give the parameters a fresh buffer with the same values: arrays viewing the old buffer keep
        the values they had (fastbp.nielsen's snapshot semantics). Only between fits, or from a fit's
        callback: the trainer reads ``_theta`` anew for every chunk of an epoch."""
        self._theta = _aligned.copy(self._theta)
        self._views = split(self._theta, self._layout)

    def __getstate__(self):
        # The lock and the per-layer views are rebuilt on unpickling.
        return {k: v for k, v in self.__dict__.items() if k not in ("_fit_lock", "_views")}

    def __setstate__(self, state):
        # Networks pickled before the configuration became fixed kept it under the plain names.
        state = {("_fixed_" + k if isinstance(vars(Network).get(k), _Fixed) else k): value
                 for k, value in state.items()}
        self.__dict__.update(state)
        self.__dict__.setdefault("_best_epoch", None)     # pickled before networks kept these
        self.__dict__.setdefault("_split_seed", None)
        self.__dict__.setdefault("_stopping_progress", None)
        self._fit_lock = threading.RLock()
        if self._theta.ctypes.data % _aligned.ALIGNMENT:   # unpickled: numpy's 16 bytes (copy.copy keeps ours)
            self._theta = _aligned.copy_shared(self._theta)   # networks that shared it still do
        self._views = split(self._theta, self._layout)

    def copy(self):
        """An independent deep copy: parameters, optimizer state, history, generator."""
        return copy.deepcopy(self)

    # ------------------------------------------------------------------ state
    @property
    def parameters(self):
        """The live flat parameter vector (W^0, b^0, W^1, b^1, ...); writes change the network."""
        return self._theta

    @parameters.setter
    def parameters(self, values):
        arr = v._as_numeric("parameters", values)
        if arr.shape != self._theta.shape:
            raise ValueError(f"parameters must have shape {self._theta.shape}; got shape {arr.shape}")
        self._theta[...] = v._to_dtype("parameters", arr, self.dtype)

    @property
    def weights(self):
        """weights[l]: (sizes[l+1], sizes[l]) view of the parameters, of the network's dtype."""
        return _LayerViews(self._views[0], "weights", self.dtype)

    @weights.setter
    def weights(self, values):
        self.weights.assign(values)

    @property
    def biases(self):
        """biases[l]: (sizes[l+1],) view of the parameters, of the network's dtype."""
        return _LayerViews(self._views[1], "biases", self.dtype)

    @biases.setter
    def biases(self, values):
        self.biases.assign(values)

    @property
    def n_parameters(self):
        """How many parameters (weights and biases) the network has: an int."""
        return self._theta.shape[0]

    @property
    def n_inputs(self):
        """Features per sample, ``sizes[0]`` (an int): X is (n_samples, n_inputs)."""
        return self.sizes[0]

    @property
    def n_outputs(self):
        """Output units, ``sizes[-1]`` (an int): outputs are (n_samples, n_outputs)."""
        return self.sizes[-1]

    @property
    def is_classifier(self):
        """True when outputs are probabilities (sigmoid or softmax output layer)."""
        return self.output_activation in ("sigmoid", "softmax")

    def __repr__(self):
        return (f"Network({list(self.sizes)}, hidden_activation={self.hidden_activation!r}, "
                f"output_activation={self.output_activation!r}, cost={self.cost_name!r}, "
                f"dtype={self.dtype.name})")

    def _work(self, capacity):
        """(work buffers, row identity, kernel choice) for products over ``capacity``
        rows; the choice is None (BLAS everywhere) or per-layer flags (_dispatch.py)."""
        blas = choose_blas(self._layout, capacity)
        work = work_buffers(self._layout, self._n_units, capacity, blas, self.dtype)
        return work, np.arange(capacity, dtype=np.int64), blas

    def _data(self, X, y, sample_weight=None, finite_x=True):
        X = v.as_features(X, self.n_inputs, self.dtype, finite=finite_x)
        Y, labels = v.as_targets(y, X.shape[0], self.n_outputs, self.dtype, self.cost_name)
        sw = v.as_sample_weight(sample_weight, X.shape[0], self.dtype)
        return X, Y, labels, sw

    def _penalty(self, l2, l1, n):
        """λ2/(2n) Σ_l ‖W^l‖² + λ1/n Σ_l |W^l| in float64 (biases excluded)."""
        if l2 == 0.0 and l1 == 0.0:
            return 0.0
        w = self._theta[self._weight_mask].astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):   # huge weights: inf, which callers check
            return 0.5 * (l2 / n) * float(np.dot(w, w)) + (l1 / n) * float(np.abs(w).sum())

    @property
    def history(self):
        """Every epoch this network has been trained for, over all ``fit`` calls.

        Its ``best_epoch`` is the epoch whose parameters the network holds
        when the last fit's early stopping put them back (``restore_best``),
        and None once the parameters have moved on from it."""
        h = History()
        for record in self._records:
            h.append(record)
        h.best_epoch = self._best_epoch
        return h

    def _add_record(self, record):
        """Record a trained epoch; its parameters replace any restored best epoch's."""
        self._records.append(copy_record(record))
        self._best_epoch = None
        self._stopping_progress = None      # a fit that records an epoch has taken it over (or not)

    def reset_optimizer(self):
        """Forget optimizer state (velocity, Adam moments) and the epoch count
        that schedules follow; the parameters stay as they are."""
        self._optimizer_state = None
        self._records = []
        self._best_epoch = None
        self._stopping_progress = None

    # ------------------------------------------------------------- inference
    def feedforward(self, X):
        """Output activations a^L for each row of X.

        X: (n_samples, sizes[0]) array-like. Returns (n_samples, sizes[-1])
        of the network's dtype.
        """
        X = v.as_features(X, self.n_inputs, self.dtype)
        return self._feedforward(X)

    def _check_finite(self, values, what, X):
        """NumericalError instead of returning NaN/inf computed from finite inputs."""
        if not np.isfinite(values).all():
            raise NumericalError(f"the network's {what} overflowed to NaN or infinity on these inputs "
                                 f"(largest |x| {float(np.max(np.abs(X))):.3g}, largest |parameter| "
                                 f"{float(np.max(np.abs(self._theta))):.3g}); scale X to a moderate range "
                                 f"such as [0, 1]")

    def _feedforward(self, X):
        n = X.shape[0]
        work, ident, blas = self._work(min(n, EVAL_BLOCK))
        out = np.empty((n, self.n_outputs), dtype=self.dtype)
        K.feedforward(self._theta, self._layout, self._acts, self._leak, X,
                      np.arange(n, dtype=np.int64), ident, work, blas, out)
        self._check_finite(out, "outputs", X)
        return out

    def predict(self, X):
        """Predictions for each row of X ((n_samples, sizes[0]) array-like).

        For a classifier (sigmoid or softmax output) the class index as int64
        (n_samples,): argmax of the outputs, or output >= 0.5 for a single
        unit. Otherwise the outputs themselves, (n_samples, sizes[-1]).
        """
        out = self.feedforward(X)
        if not self.is_classifier:
            return out
        if self.n_outputs == 1:
            return (out[:, 0] >= 0.5).astype(np.int64)
        return np.argmax(out, axis=1).astype(np.int64)

    def predict_proba(self, X):
        """Class probabilities (n_samples, sizes[-1]) of the network's dtype.

        Softmax outputs sum to one per row; sigmoid outputs are independent
        per-unit probabilities. Only for sigmoid or softmax output layers.
        """
        if not self.is_classifier:
            raise ValueError(f"predict_proba needs a sigmoid or softmax output layer; "
                             f"this network's output is {self.output_activation!r}")
        return self.feedforward(X)

    def evaluate(self, X, y, l2=0.0, l1=0.0, sample_weight=None):
        """Cost and accuracy on (X, y) without training.

        X: (n_samples, sizes[0]); y: class labels (n_samples,) or targets
        (n_samples, sizes[-1]). Returns ``{"cost": float, "accuracy": float or
        None}``; accuracy is None when y holds real-valued targets. ``cost``
        includes λ2/(2n)Σ‖W‖² + λ1/n Σ|W| with n = n_samples, as Nielsen's
        ``total_cost``.
        """
        l2 = v.check_float("l2", l2, low=0.0)
        l1 = v.check_float("l1", l1, low=0.0)
        X, Y, labels, sw = self._data(X, y, sample_weight)
        return self._evaluate(X, Y, labels, sw, l2, l1)

    def _evaluate(self, X, Y, labels, sw, l2, l1, n_reg=None):
        n = X.shape[0]
        work, ident, blas = self._work(min(n, EVAL_BLOCK))
        weighted_cost, total_weight, correct = K.evaluate(
            self._theta, self._layout, self._acts, self._leak, self._cost, X, Y, sw, labels,
            np.arange(n, dtype=np.int64), ident, work, blas)
        cost = weighted_cost / total_weight + self._penalty(l2, l1, n if n_reg is None else n_reg)
        self._check_finite(cost, "cost", X)
        return {"cost": cost, "accuracy": correct / n if labels.shape[0] else None}

    def cost(self, X, y, l2=0.0, l1=0.0, sample_weight=None):
        """C = Σ s_x C_x / Σ s_x + λ2/(2n) Σ‖W‖² + λ1/n Σ|W| on (X, y), as a float.

        X: (n_samples, sizes[0]); y: labels (n_samples,) or targets
        (n_samples, sizes[-1]); sample_weight: (n_samples,) non-negative, a
        scalar (every row alike) or None. n is n_samples, zero-weight rows
        included.
        """
        return self.evaluate(X, y, l2=l2, l1=l1, sample_weight=sample_weight)["cost"]

    def gradient(self, X, y, l2=0.0, l1=0.0, sample_weight=None, flat=False):
        """Gradient of ``cost(X, y, l2, l1, sample_weight)`` by backpropagation.

        Returns ``(dW, db)``: lists of arrays shaped like ``weights`` and
        ``biases``; or, with ``flat=True``, one (n_parameters,) vector in the
        layout of ``parameters``. Dtype is the network's. The L1 term
        contributes (λ1/n)·sign(w) (0 at w = 0). X, y, sample_weight as for
        ``cost``.
        """
        l2 = v.check_float("l2", l2, low=0.0)
        l1 = v.check_float("l1", l1, low=0.0)
        X, Y, _, sw = self._data(X, y, sample_weight)
        _, grad = self._cost_and_gradient(X, Y, sw, l2, l1)
        return grad if flat else split(grad, self._layout)

    def _cost_and_gradient(self, X, Y, sw, l2, l1):
        """(cost as float64, flat gradient of the network's dtype) on validated data."""
        n = X.shape[0]
        work, ident, blas = self._work(min(n, EVAL_BLOCK))
        grad = np.empty_like(self._theta)
        weighted_cost, total_weight = K.full_gradient(
            self._theta, self._layout, self._acts, self._leak, self._cost, X, Y, sw,
            np.arange(n, dtype=np.int64), ident, work, blas, grad, K.NO_MASK,
            self.dtype.type(1.0))
        K.regularised_gradient(grad, self._theta, self._layout, self.dtype.type(l2 / n), self.dtype.type(l1 / n))
        cost = weighted_cost / total_weight + self._penalty(l2, l1, n)
        self._check_finite(cost, "cost", X)
        self._check_finite(grad, "gradient", X)
        return cost, grad

    def diagnose(self, X, y, sample_weight=None):
        """What the training dynamics look like on (X, y), per layer l = 0..L-1:

        ``grad_norms``: ‖∂C/∂W^l‖ (Frobenius) of the data cost; small values in
        early layers are vanishing gradients. ``saturation``: the fraction of
        (sample, unit) activations of a sigmoid or tanh layer within 1% of its
        limits (|a - 0.5| > 0.49, resp. |a| > 0.98), NaN for other
        activations. ``dead_units``: the fraction of a ReLU / leaky-ReLU
        layer's units that are never positive on X, NaN for other
        activations. Returns a dict of three lists of floats.
        """
        X, Y, _, sw = self._data(X, y, sample_weight)
        return self._diagnose(X, Y, sw)

    def _diagnose(self, X, Y, sw):
        _, grad = self._cost_and_gradient(X, Y, sw, 0.0, 0.0)
        dW, _ = split(grad, self._layout)
        n = X.shape[0]
        work, ident, blas = self._work(n)
        K.forward(self._theta, self._layout, self._acts, self._leak, X, np.arange(n, dtype=np.int64),
                  ident, work, blas, K.NO_MASK, self.dtype.type(1.0), 0)
        Aw = work[1]
        saturation, dead = [], []
        for layer, name in enumerate(self.activations):
            units, start = int(self._layout[layer, N_OUT]), n * int(self._layout[layer, UNIT_OFF])
            A = Aw[start:start + n * units].reshape(n, units)   # numpy view: it owns a reference to Aw
            if name == "sigmoid":
                saturation.append(float(np.mean(np.abs(A - 0.5) > 0.49)))
            elif name == "tanh":
                saturation.append(float(np.mean(np.abs(A) > 0.98)))
            else:
                saturation.append(float("nan"))
            if name in ("relu", "leaky_relu"):
                dead.append(float(np.mean(np.all(A <= 0, axis=0))))
            else:
                dead.append(float("nan"))
        return {"grad_norms": [float(np.linalg.norm(g)) for g in dW], "saturation": saturation,
                "dead_units": dead}

    @property
    def activations(self):
        """Activation name of each weight layer, the output layer last."""
        return [self.hidden_activation] * (len(self.sizes) - 2) + [self.output_activation]

    # --------------------------------------------------------------- training
    def fit(self, X, y, epochs=30, batch_size=10, learning_rate=3.0, l2=0.0, l1=0.0, dropout=0.0,
            optimizer="sgd", schedule="constant", validation_data=None, validation_fraction=None,
            early_stopping=None, evaluate_training=False, diagnostics=False, shuffle=True,
            sample_weight=None, verbose=False, callbacks=(), checkpoint=None, checkpoint_every=1,
            threads=None, parallel=False):
        """Train by backpropagation; returns the ``History`` of this call.

        X: (n_samples, sizes[0]) array-like. y: integer class labels
        (n_samples,) indexing the output units, or targets (n_samples,
        sizes[-1]). sample_weight: (n_samples,) non-negative, a scalar (every
        row alike), or None.

        Each epoch visits the samples in a fresh random order (``shuffle``), in
        mini-batches of ``batch_size`` (the last may be smaller), each step
        following the batch's (weighted) mean gradient of the regularised cost
        C0 + λ2/(2n)Σw² + λ1/n Σ|w| (n = n_samples, biases excluded). The whole
        epoch runs in compiled code.

        optimizer: ``"sgd"`` (default), ``"momentum"``, ``"nesterov"``,
            ``"adam"``, ``"lbfgs"``, ``"cg"`` or a ``fastbp.optimizers``
            instance. Its state carries over to the next ``fit`` call (see
            ``reset_optimizer``), so n calls of one epoch equal one of n.
        schedule: the learning rate per epoch: ``"constant"``,
            ``"invscaling"``, ``"step"``, ``"adaptive"``, ``"halving"`` or a
            ``fastbp.schedules`` instance; it may stop training.
        dropout: probability of dropping each hidden unit (inverted dropout;
            masks from the network's generator; none at prediction time).
        validation_data: (X_val, y_val), or ``validation_fraction`` to split a
            stratified part off the training data (the same rows in every fit of
            this network); evaluated after each epoch.
        early_stopping: True or ``fastbp.EarlyStopping(monitor, patience,
            min_delta, restore_best)``; the best weights are restored.
        evaluate_training: also record the cost and accuracy of a full pass
            over the training data after each epoch (Nielsen's monitors).
        diagnostics: record per-layer gradient norms, saturation and dead
            units each epoch (see ``diagnose``), on up to 1,000 training samples.
        verbose: a progress bar over epochs. callbacks: ``f(epoch, logs)``
            after each epoch; returning True stops training.
        threads, parallel: with ``parallel=True`` each mini-batch is split into
            4 shards whose gradients ``threads`` numba threads (default: all
            cores) compute at once with the loop kernels, summed in a fixed
            order: the same seed gives bit-identical weights for any thread
            count. Without it, ``threads`` caps the BLAS threads that wide
            layers' products use (threadpoolctl). See the README's
            "Threads" for which to choose.
        checkpoint: a path; every ``checkpoint_every`` epochs and at the end
            the network is saved there with its training state (atomically),
            so ``fastbp.load(checkpoint).fit(...)`` continues exactly as an
            uninterrupted run would (a checkpoint written before the fit ended
            also holds early stopping's progress, which a fit with the same
            rule goes on from).

        If the cost becomes NaN or infinite, raises FloatingPointError; the
        network keeps its parameters and optimizer state from the end of the
        last completed epoch. Ctrl-C stops training between mini-batches,
        with a warning, and returns. Inputs are validated before anything
        changes.
        """
        from .training import NonFiniteX, Trainer, check_fit_arguments, split_validation

        (epochs, batch_size, learning_rate, l2, l1, dropout, optimizer, schedule, validation_fraction,
         early_stopping, callbacks) = check_fit_arguments(
            epochs, batch_size, learning_rate, l2, l1, dropout, optimizer, schedule, validation_fraction,
            early_stopping, callbacks)
        checkpoint_every = v.check_int("checkpoint_every", checkpoint_every, minimum=1)
        from .training import check_threads
        threads = check_threads(threads, parallel)
        if checkpoint is not None:
            checkpoint = v.check_writable_path("checkpoint", checkpoint)
        # The epoch kernels check every row of X they read (a NaN/inf stops the
        # epoch like divergence, and Trainer reports it as bad X): scanning a
        # 157 MB X up front took 10 ms of a 0.1 s epoch. Full-batch optimizers
        # and held-out parts are scanned here.
        deferred = not optimizer.full_batch
        data = self._data(X, y, sample_weight, finite_x=not deferred)
        validation = None
        if validation_data is not None:
            if validation_fraction is not None:
                raise ValueError("give validation_data or validation_fraction, not both")
            Xv, yv = v.check_validation_data(validation_data)
            validation = self._data(Xv, yv)
        # Bad X found after the generator has been used (split, shuffles, dropout
        # masks) must leave it as it was too, as an up-front check would have.
        flags = {name: v.check_bool(name, value) for name, value in
                 (("evaluate_training", evaluate_training), ("diagnostics", diagnostics), ("shuffle", shuffle),
                  ("verbose", verbose))}
        rng_state, split_seed = self._rng.bit_generator.state, self._split_seed

        def as_before():        # a refused fit leaves the generator as it was
            self._rng.bit_generator.state, self._split_seed = rng_state, split_seed
        try:
            if validation_data is None and validation_fraction is not None:
                data, validation = split_validation(*data, validation_fraction,
                                                    np.random.default_rng(self._validation_split_seed()))
                if deferred and not v.all_finite(validation[0]):
                    raise ValueError("X contains NaN or infinity")
            trainer = Trainer(self, data, validation, epochs, batch_size, learning_rate, l2, l1, dropout,
                              optimizer, schedule, early_stopping, flags["evaluate_training"],
                              flags["diagnostics"], flags["shuffle"], flags["verbose"], callbacks, checkpoint,
                              checkpoint_every, threads, parallel, x_checked=not deferred)
        except BaseException:
            as_before()
            raise
        with self._fit_lock:
            try:
                return trainer.run()
            except NonFiniteX as bad:
                as_before()
                raise ValueError(str(bad)) from None
            except BaseException:
                if not trainer.trained:      # refused before its first step (a schedule's first rate)
                    as_before()
                raise

    def _validation_split_seed(self):
        """The seed of ``validation_fraction``'s split: drawn from the network's generator by its
        first fit with one and kept, so every later fit on the same data (one resumed from a
        checkpoint too) holds the same rows out, and a row never trains in one fit and
        validates in the next."""
        if self._split_seed is None:
            self._split_seed = int(self._rng.integers(0, 2 ** 63))
        return self._split_seed

    def save(self, path, training_state=True):
        """Write the network to ``path`` (``.npz``: flat parameters + JSON header), atomically.

        With ``training_state`` the optimizer state, random generator state
        and epoch records are saved too, so training resumes exactly.
        ``fastbp.load(path)`` reads it back; loading never executes code.
        """
        from . import io
        # probe=False: the write follows at once (a checkpoint's too), and fails the same way
        io.save(self, v.check_writable_path("path", path, probe=False), training_state=training_state)

    def partial_fit(self, X, y, batch_size=10, learning_rate=3.0, **options):
        """One more epoch on (X, y), continuing the optimizer state and the
        schedule (``fit`` with ``epochs=1``); returns that epoch's ``History``."""
        return self.fit(X, y, epochs=1, batch_size=batch_size, learning_rate=learning_rate, **options)
