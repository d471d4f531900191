"""A drop-in for ``network2.py`` of Michael Nielsen's *Neural Networks and Deep Learning*.

Change the import, nothing else::

    import network2                               # his code
    import fastbp.nielsen.network2 as network2    # the same calls, compiled

    net = network2.Network([784, 30, 10], cost=network2.CrossEntropyCost)
    evaluation_cost, evaluation_accuracy, training_cost, training_accuracy = net.SGD(
        training_data, 30, 10, 0.5, lmbda=5.0, evaluation_data=validation_data,
        monitor_evaluation_accuracy=True, monitor_training_cost=True)
    net.save("net.json")
    net = network2.load("net.json")

His classes and functions with his semantics: ``QuadraticCost`` and
``CrossEntropyCost`` (static ``fn`` and ``delta``), ``Network(sizes, cost)``
with ``default_weight_initializer`` (W ~ N(0, 1/n_in)) and
``large_weight_initializer``, ``SGD`` with L2 regularisation (w -> (1 -
eta*lmbda/n) w - (eta/m) sum nabla_w) and his four monitors, returning the
four per-epoch lists, ``update_mini_batch``, ``backprop``, ``accuracy``,
``total_cost`` (mean cost + 0.5*(lmbda/len(data))*sum ||w||^2), ``save`` and
``load`` in his JSON format (files move both ways between his code and
this), and ``vectorized_result``.

Every epoch of ``SGD`` runs in fastbp's compiled kernels; the monitors are
computed once per epoch by compiled passes over the data. Shuffling,
parameter views, data formats and subclass overrides work as described in
``fastbp.nielsen.network``. The cost must be this module's
``QuadraticCost`` or ``CrossEntropyCost`` (the two the kernels compile);
it can be changed later with ``net.cost = QuadraticCost``. Cross-entropy
costs are computed stably from z, so a saturated output gives a large finite
cost where his ``np.nan_to_num`` gives 1.8e308. He prints an empty line
after each epoch in Python 2 (``print``); like his Python 3 ports, this
prints none.
"""

import json
import os

import numpy as np

from .. import _validation as v
from .._atomic import atomic_write
from .mnist_loader import vectorized_result
from .network import _as_list, _CoreBacked, _labels_of, sigmoid, sigmoid_prime

__all__ = ["QuadraticCost", "CrossEntropyCost", "Network", "load", "vectorized_result", "sigmoid",
           "sigmoid_prime"]


# -------------------------------------------------------------------- costs
class QuadraticCost:

    @staticmethod
    def fn(a, y):
        """Return the cost associated with an output ``a`` and desired output ``y``."""
        return 0.5 * np.linalg.norm(a - y) ** 2

    @staticmethod
    def delta(z, a, y):
        """Return the error delta from the output layer."""
        return (a - y) * sigmoid_prime(z)


class CrossEntropyCost:

    @staticmethod
    def fn(a, y):
        """Return the cost associated with an output ``a`` and desired output ``y``;
        np.nan_to_num turns 0*log(0) into 0 (no warning for a of exactly 0 or 1)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))

    @staticmethod
    def delta(z, a, y):
        """Return the error delta from the output layer (``z`` is unused)."""
        return (a - y)


#: The costs by the name his ``save`` writes, with the compiled cost each one is.
_COSTS = {"QuadraticCost": (QuadraticCost, "quadratic"), "CrossEntropyCost": (CrossEntropyCost, "cross_entropy")}


def _cost_class(cost):
    """QuadraticCost or CrossEntropyCost, given as the class or (his methods being static) an instance."""
    for cls, _ in _COSTS.values():
        if cost is cls or type(cost) is cls:
            return cls
    raise ValueError(f"cost must be fastbp.nielsen.network2.QuadraticCost or CrossEntropyCost, the class or an "
                     f"instance (the costs the compiled kernels implement); got {cost!r}")


def _core_cost(cost):
    return _COSTS[_cost_class(cost).__name__][1]


# ------------------------------------------------------------------ network
class Network(_CoreBacked):
    """His ``network2.Network``: sigmoid neurons, a choice of cost, L2 regularisation."""

    def __init__(self, sizes, cost=CrossEntropyCost):
        """``sizes`` lists the neurons per layer, inputs first; weights and biases come from
        ``default_weight_initializer`` (``np.random.randn``, his order)."""
        self._setup(sizes, _core_cost(cost))
        self._cost = cost
        self.default_weight_initializer()

    @property
    def cost(self):
        """The cost, ``QuadraticCost`` or ``CrossEntropyCost`` (or an instance), as given; assignable."""
        return self._cost

    @cost.setter
    def cost(self, cost):
        self._set_core_cost(_core_cost(cost))
        self._cost = cost

    def default_weight_initializer(self):
        """Weights N(0, 1/n_in) (Gaussian over sqrt of the neuron's inputs), biases N(0, 1)."""
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) / np.sqrt(x) for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def large_weight_initializer(self):
        """Weights and biases N(0, 1), as in ``network.py``."""
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def SGD(self, training_data, epochs, mini_batch_size, eta, lmbda=0.0, evaluation_data=None,
            monitor_evaluation_cost=False, monitor_evaluation_accuracy=False,
            monitor_training_cost=False, monitor_training_accuracy=False, early_stopping_n=0):
        """Train by mini-batch SGD with L2 regularisation ``lmbda``, every epoch compiled.

        Returns ``(evaluation_cost, evaluation_accuracy, training_cost,
        training_accuracy)``: per-epoch lists, empty unless monitored. Costs
        are ``total_cost`` (the L2 term with that data set's size),
        accuracies counts of correct outputs; training accuracy compares
        the argmax of the output with the argmax of y.

        ``early_stopping_n`` (from the widely used Python 3 port of his code;
        0 = off): stop once the monitored accuracy (evaluation accuracy if
        monitored, else training accuracy) has not beaten its best for
        ``early_stopping_n`` epochs in a row. The weights are the last
        epoch's, as in the port.
        """
        if not isinstance(early_stopping_n, (int, np.integer)) or isinstance(early_stopping_n, bool) \
                or early_stopping_n < 0:
            raise ValueError(f"early_stopping_n must be an int >= 0; got {early_stopping_n!r}")
        if early_stopping_n and not (monitor_evaluation_accuracy or monitor_training_accuracy):
            raise ValueError("early_stopping_n watches an accuracy: set monitor_evaluation_accuracy or "
                             "monitor_training_accuracy")
        training_data = _as_list(training_data, "training_data")
        n = len(training_data)
        if evaluation_data is not None:
            evaluation_data = _as_list(evaluation_data, "evaluation_data")
        n_data = len(evaluation_data) if evaluation_data else 0
        if (monitor_evaluation_cost or monitor_evaluation_accuracy) and not evaluation_data:
            raise ValueError("monitor_evaluation_cost / monitor_evaluation_accuracy need evaluation_data "
                             "(a non-empty list of (x, y) pairs)")
        evaluation_cost, evaluation_accuracy = [], []
        training_cost, training_accuracy = [], []
        stopping = {"best": 0, "stalled": 0}

        fast_scoring = not self._overrides("total_cost", "accuracy", "feedforward")
        if fast_scoring and (monitor_training_cost or monitor_training_accuracy):
            X_train, y_train = self._arrays(training_data, "training_data")
        if fast_scoring and (monitor_evaluation_cost or monitor_evaluation_accuracy):
            X_eval, y_eval = self._arrays(evaluation_data, "evaluation_data")

        def after_epoch(j):
            print("Epoch %s training complete" % j)
            if monitor_training_cost or monitor_training_accuracy:
                if fast_scoring:
                    cost, accuracy = self._scores(X_train, y_train, lmbda, monitor_training_cost,
                                                  monitor_training_accuracy)
                else:
                    cost = self.total_cost(training_data, lmbda) if monitor_training_cost else None
                    accuracy = self.accuracy(training_data, convert=True) if monitor_training_accuracy else None
                if monitor_training_cost:
                    training_cost.append(cost)
                    print("Cost on training data: {}".format(cost))
                if monitor_training_accuracy:
                    training_accuracy.append(accuracy)
                    print("Accuracy on training data: {} / {}".format(accuracy, n))
            if monitor_evaluation_cost or monitor_evaluation_accuracy:
                if fast_scoring:
                    cost, accuracy = self._scores(X_eval, y_eval, lmbda, monitor_evaluation_cost,
                                                  monitor_evaluation_accuracy)
                else:
                    cost = (self.total_cost(evaluation_data, lmbda, convert=True)
                            if monitor_evaluation_cost else None)
                    accuracy = self.accuracy(evaluation_data) if monitor_evaluation_accuracy else None
                if monitor_evaluation_cost:
                    evaluation_cost.append(cost)
                    print("Cost on evaluation data: {}".format(cost))
                if monitor_evaluation_accuracy:
                    evaluation_accuracy.append(accuracy)
                    print("Accuracy on evaluation data: {} / {}".format(accuracy, n_data))
            if early_stopping_n:
                watched = evaluation_accuracy[-1] if monitor_evaluation_accuracy else training_accuracy[-1]
                if watched > stopping["best"]:
                    stopping["best"], stopping["stalled"] = watched, 0
                else:
                    stopping["stalled"] += 1
                return stopping["stalled"] == early_stopping_n      # True stops training
            return False

        self._train(training_data, epochs, mini_batch_size, eta, lmbda,
                    lambda batch: self.update_mini_batch(batch, eta, lmbda, n), after_epoch)
        return evaluation_cost, evaluation_accuracy, training_cost, training_accuracy

    def _scores(self, X, y, lmbda, want_cost, want_correct):
        """(total_cost, number correct) on arrays, each None unless wanted: one compiled pass
        for both when the core's accuracy is his (argmax over several outputs)."""
        cost = correct = None
        if want_cost:
            scores = self._core.evaluate(X, y, l2=lmbda)     # L2 term with n = len(X), as his total_cost
            cost = np.float64(scores["cost"])          # his sums of numpy floats are np.float64
            if want_correct and scores["accuracy"] is not None and self.sizes[-1] > 1:
                correct = int(round(scores["accuracy"] * X.shape[0]))
        if want_correct and correct is None:
            correct = self._correct(X, _labels_of(y))
        return cost, correct

    def update_mini_batch(self, mini_batch, eta, lmbda, n):
        """One step on ``mini_batch``: w -> (1 - eta*lmbda/n) w - (eta/m) sum nabla_w, n the
        size of the whole training set."""
        self._step(mini_batch, eta, lmbda, n)

    def backprop(self, x, y):
        """Return ``(nabla_b, nabla_w)``, the gradient of this network's cost C_x for one sample."""
        return self._gradient(x, y)

    def accuracy(self, data, convert=False):
        """Return the number of inputs in ``data`` whose most active output neuron is the right one.

        His ``convert`` says whether y is a one-hot column (True, training
        data) or an int label (False); here each y's own form decides, so
        ``convert`` is accepted and not needed.
        """
        data = _as_list(data, "data")
        if self._overrides("feedforward") or not data:      # his sum over no data is 0
            return sum(int(np.argmax(self.feedforward(x)) == (np.argmax(y) if np.ndim(y) else y))
                       for (x, y) in data)
        X, y = self._arrays(data, "data")
        return self._correct(X, _labels_of(y))

    def total_cost(self, data, lmbda, convert=False):
        """Return the mean cost over ``data`` plus 0.5*(lmbda/len(data))*sum ||w||^2.

        As in ``accuracy``, each y may be a column or an int label (one-hot
        inside); ``convert`` is accepted and not needed.
        """
        data = _as_list(data, "data")
        lmbda = v.check_float("lmbda", lmbda, 0.0)
        if self._overrides("feedforward"):
            cost = 0.0
            for x, y in data:
                target = vectorized_result(y) if np.ndim(y) == 0 else y
                cost += self.cost.fn(self.feedforward(x), target) / len(data)
            return cost + 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in self.weights)
        X, y = self._arrays(data, "data")
        return np.float64(self._core.cost(X, y, l2=lmbda))

    def save(self, filename):
        """Save the network to ``filename`` in his JSON format (written to a temporary file
        in the same directory, then renamed over ``filename``)."""
        data = {"sizes": self.sizes,
                "weights": [w.tolist() for w in self.weights],
                "biases": [b.tolist() for b in self.biases],
                "cost": _cost_class(self.cost).__name__}
        with atomic_write(filename, "w", encoding="utf-8") as f:
            f.write(json.dumps(data))


Network._BASE = Network


# ------------------------------------------------------------ save and load
def _saved_array(value, shape, what, filename):
    try:
        arr = np.array(value)
    except (TypeError, ValueError):        # ragged nesting
        arr = None
    if arr is None or arr.dtype.kind not in "iuf":
        raise ValueError(f"{filename}: {what} must be a rectangular array of numbers of shape {shape}")
    if arr.shape != shape:
        raise ValueError(f"{filename}: {what} must have shape {shape} for the layer sizes; got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{filename}: {what} contains NaN or infinity")
    return arr


def _parse_saved(data, filename):
    """(sizes, cost class, weights, biases) from his JSON structure, checked; ValueError if malformed."""
    if not isinstance(data, dict):
        raise ValueError(f"{filename}: expected a JSON object with sizes, weights, biases and cost; "
                         f"found {type(data).__name__}")
    missing = [key for key in ("sizes", "weights", "biases", "cost") if key not in data]
    if missing:
        raise ValueError(f"{filename}: missing {', '.join(missing)} (a network saved by Network.save has "
                         f"sizes, weights, biases and cost)")
    cost = data["cost"]
    if not isinstance(cost, str) or cost not in _COSTS:
        raise ValueError(f"{filename}: unknown cost {cost!r}; expected one of {', '.join(_COSTS)}")
    sizes = data["sizes"]
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes)):
        raise ValueError(f"{filename}: sizes must be a list of at least two positive integers; got {sizes!r:.200}")
    layers = len(sizes) - 1
    for key in ("weights", "biases"):
        if not isinstance(data[key], list) or len(data[key]) != layers:
            raise ValueError(f"{filename}: {key} must be a list of {layers} arrays, one per layer after the input")
    weights = [_saved_array(w, (sizes[l + 1], sizes[l]), f"weights[{l}]", filename)
               for l, w in enumerate(data["weights"])]
    biases = [_saved_array(b, (sizes[l + 1], 1), f"biases[{l}]", filename) for l, b in enumerate(data["biases"])]
    return sizes, _COSTS[cost][0], weights, biases


def load(filename):
    """Load a network saved by ``Network.save`` here or in his ``network2.py``.

    The cost is looked up by name among ``QuadraticCost`` and
    ``CrossEntropyCost`` only; a file that is not valid JSON, names another
    cost, lacks a key, or holds arrays of the wrong shape or non-finite
    numbers raises ValueError.
    """
    with open(filename, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except ValueError as exc:          # JSONDecodeError, UnicodeDecodeError
            raise ValueError(f"{os.fspath(filename)} is not a JSON network file: {exc}") from None
    sizes, cost, weights, biases = _parse_saved(data, os.fspath(filename))
    net = Network(sizes, cost=cost)        # draws initial weights, as his load does
    net.weights = weights
    net.biases = biases
    return net
