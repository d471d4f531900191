"""``fastbp.Network``: the object users hold. Validates, then calls kernels."""

import time

import numpy as np
from tqdm.auto import tqdm

from . import _validation as v
from . import kernels as K
from ._layout import build_layout, split, weight_mask
from .history import History
from .initializers import INITIALIZERS, draw
from .kernels.codes import ACTIVATIONS, COST_OUTPUTS, COSTS, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS

__all__ = ["Network"]

#: Rows per block when predicting or evaluating: big enough to amortise the
#: per-block call, small enough that the work buffers stay in cache.
EVAL_BLOCK = 256


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
        Any hidden activation or ``"softmax"``. Default ``"sigmoid"``.
    cost : str
        ``"quadratic"`` ½‖a − y‖² (default, any output),
        ``"cross_entropy"`` (sigmoid output) or ``"log_likelihood"``
        (softmax output).
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
    """

    def __init__(self, sizes, hidden_activation="sigmoid", output_activation="sigmoid",
                 cost="quadratic", dtype=np.float64, seed=None, init="nielsen", leaky_slope=0.01):
        self.sizes = v.check_sizes(sizes)
        self.hidden_activation = v.check_choice("hidden_activation", hidden_activation, HIDDEN_ACTIVATIONS)
        self.output_activation = v.check_choice("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        self.cost_name = v.check_choice("cost", cost, tuple(COSTS))
        if self.output_activation not in COST_OUTPUTS[cost]:
            raise ValueError(f"cost {cost!r} needs output_activation in {COST_OUTPUTS[cost]}; "
                             f"got {output_activation!r}")
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
        self._theta = np.zeros(n_params, dtype=self.dtype)
        self.weights, self.biases = split(self._theta, self._layout)
        draw(self.init, self._rng, self.weights, self.biases)

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
    def n_parameters(self):
        return self._theta.shape[0]

    @property
    def n_inputs(self):
        return self.sizes[0]

    @property
    def n_outputs(self):
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
        """Work buffers (Z, A, delta) and the row identity for ``capacity`` rows."""
        size = capacity * self._n_units
        return (np.empty(size, self.dtype), np.empty(size, self.dtype), np.empty(size, self.dtype),
                np.arange(capacity, dtype=np.int64))

    def _data(self, X, y, sample_weight=None):
        X = v.as_features(X, self.n_inputs, self.dtype)
        Y, labels = v.as_targets(y, X.shape[0], self.n_outputs, self.dtype, self.cost_name)
        sw = v.as_sample_weight(sample_weight, X.shape[0], self.dtype)
        return X, Y, labels, sw

    def _l2_term(self, l2, n):
        """λ/(2n) Σ_l ‖W^l‖² in float64."""
        if l2 == 0.0:
            return 0.0
        w = self._theta[self._weight_mask].astype(np.float64)
        return 0.5 * (l2 / n) * float(np.dot(w, w))

    # ------------------------------------------------------------- inference
    def feedforward(self, X):
        """Output activations a^L for each row of X.

        X: (n_samples, sizes[0]) array-like. Returns (n_samples, sizes[-1])
        of the network's dtype.
        """
        X = v.as_features(X, self.n_inputs, self.dtype)
        return self._feedforward(X)

    def _feedforward(self, X):
        n = X.shape[0]
        Zw, Aw, _, ident = self._work(min(n, EVAL_BLOCK))
        out = np.empty((n, self.n_outputs), dtype=self.dtype)
        K.feedforward(self._theta, self._layout, self._acts, self._leak, X,
                      np.arange(n, dtype=np.int64), ident, Zw, Aw, out)
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

    def evaluate(self, X, y, l2=0.0, sample_weight=None):
        """Cost and accuracy on (X, y) without training.

        X: (n_samples, sizes[0]); y: class labels (n_samples,) or targets
        (n_samples, sizes[-1]). Returns ``{"cost": float, "accuracy": float or
        None}``; accuracy is None when y holds real-valued targets. ``cost``
        includes λ/(2n)Σ‖W‖² with n = n_samples, as Nielsen's ``total_cost``.
        """
        l2 = v.check_float("l2", l2, low=0.0)
        X, Y, labels, sw = self._data(X, y, sample_weight)
        return self._evaluate(X, Y, labels, sw, l2)

    def _evaluate(self, X, Y, labels, sw, l2):
        n = X.shape[0]
        Zw, Aw, _, ident = self._work(min(n, EVAL_BLOCK))
        weighted_cost, total_weight, correct = K.evaluate(
            self._theta, self._layout, self._acts, self._leak, self._cost, X, Y, sw, labels,
            np.arange(n, dtype=np.int64), ident, Zw, Aw)
        return {"cost": weighted_cost / total_weight + self._l2_term(l2, n),
                "accuracy": correct / n if labels.shape[0] else None}

    def cost(self, X, y, l2=0.0, sample_weight=None):
        """The cost C = Σ s_x C_x / Σ s_x + λ/(2n) Σ‖W‖² on (X, y) as a float."""
        return self.evaluate(X, y, l2=l2, sample_weight=sample_weight)["cost"]

    def gradient(self, X, y, l2=0.0, sample_weight=None, flat=False):
        """Gradient of ``cost(X, y, l2, sample_weight)`` by backpropagation.

        Returns ``(dW, db)``: lists of arrays shaped like ``weights`` and
        ``biases``; or, with ``flat=True``, one (n_parameters,) vector in the
        layout of ``parameters``. Dtype is the network's.
        """
        l2 = v.check_float("l2", l2, low=0.0)
        X, Y, _, sw = self._data(X, y, sample_weight)
        n = X.shape[0]
        Zw, Aw, Dw, ident = self._work(min(n, EVAL_BLOCK))
        grad = np.empty_like(self._theta)
        K.full_gradient(self._theta, self._layout, self._acts, self._leak, self._cost, X, Y, sw,
                        np.arange(n, dtype=np.int64), ident, Zw, Aw, Dw, grad)
        if l2:
            grad[self._weight_mask] += self.dtype.type(l2 / n) * self._theta[self._weight_mask]
        return grad if flat else split(grad, self._layout)

    # --------------------------------------------------------------- training
    def fit(self, X, y, epochs=30, batch_size=10, learning_rate=3.0, l2=0.0,
            validation_data=None, shuffle=True, sample_weight=None, verbose=False, callbacks=()):
        """Train by mini-batch stochastic gradient descent; returns a ``History``.

        X: (n_samples, sizes[0]) array-like. y: integer class labels
        (n_samples,) indexing the output units, or targets (n_samples,
        sizes[-1]). Each epoch visits the samples in a fresh random order
        (``shuffle``), in mini-batches of ``batch_size`` (the last may be
        smaller); each step moves along the batch's mean gradient (weighted by
        ``sample_weight`` when given) plus the L2 gradient (λ/n)W with
        n = n_samples: w -> (1 - ηλ/n) w - η ∂C/∂w. The whole epoch runs in
        compiled code.

        validation_data: optional (X_val, y_val), evaluated after each epoch.
        verbose: show a progress bar over epochs.
        callbacks: callables ``f(epoch, logs)`` run after each epoch with
        that epoch's record (a dict, see ``History``); returning True stops
        training after that epoch.

        If the cost becomes NaN or infinite, raises FloatingPointError and the
        network keeps the weights it had after the last completed epoch.
        Inputs are validated before anything changes.
        """
        epochs = v.check_int("epochs", epochs, minimum=0)
        batch_size = v.check_int("batch_size", batch_size, minimum=1)
        learning_rate = v.check_float("learning_rate", learning_rate, low=0.0, low_open=True)
        l2 = v.check_float("l2", l2, low=0.0)
        X, Y, labels, sw = self._data(X, y, sample_weight)
        callbacks = list(callbacks)
        for f in callbacks:
            if not callable(f):
                raise TypeError(f"callbacks must be callables f(epoch, logs); got {f!r}")
        validation = None
        if validation_data is not None:
            Xv, yv = v.check_validation_data(validation_data)
            validation = self._data(Xv, yv)

        n = X.shape[0]
        batch_size = min(batch_size, n)
        Zw, Aw, Dw, ident = self._work(batch_size)
        lr = self.dtype.type(learning_rate)
        decay = self.dtype.type(learning_rate * l2 / n)
        history = History()
        bar = tqdm(range(1, epochs + 1), desc="fit", unit="epoch", disable=not verbose, leave=False)
        for epoch in bar:
            started = time.perf_counter()
            order = self._rng.permutation(n) if shuffle else np.arange(n, dtype=np.int64)
            before = self._theta.copy()
            weighted_cost, total_weight, correct, _ = K.train_epoch(
                self._theta, self._layout, self._acts, self._leak, self._cost, X, Y, sw, labels,
                order, batch_size, lr, decay, ident, Zw, Aw, Dw)
            if not (np.isfinite(weighted_cost) and np.isfinite(self._theta).all()):
                self._theta[...] = before
                raise FloatingPointError(
                    f"training diverged in epoch {epoch}: the cost or the weights became "
                    f"{'NaN' if np.isnan(weighted_cost) else 'infinite'} with learning_rate={learning_rate:g}. The network keeps its weights from the end of "
                    f"epoch {epoch - 1}; try a smaller learning rate.")
            record = {"epoch": epoch, "cost": weighted_cost / total_weight + self._l2_term(l2, n)}
            if labels.shape[0]:
                record["accuracy"] = correct / n
            if validation is not None:
                scores = self._evaluate(*validation, l2)
                record["val_cost"] = scores["cost"]
                if scores["accuracy"] is not None:
                    record["val_accuracy"] = scores["accuracy"]
            record["learning_rate"] = learning_rate
            record["time"] = time.perf_counter() - started
            history.append(record)
            bar.set_postfix(cost=f"{record['cost']:.4g}")
            if any([f(epoch, dict(record)) for f in callbacks]):
                break
        bar.close()
        return history
