"""A drop-in for ``network.py`` of Michael Nielsen's *Neural Networks and Deep Learning*.

Change the import, nothing else::

    import network                              # his code
    import fastbp.nielsen.network as network    # the same calls, compiled

    net = network.Network([784, 30, 10])
    net.SGD(training_data, 30, 10, 3.0, test_data=test_data)

``Network(sizes)`` has his attributes (``num_layers``, ``sizes``, ``biases`` as
(n, 1) columns, ``weights`` as (n_out, n_in) matrices) and methods
(``feedforward``, ``SGD``, ``update_mini_batch``, ``backprop``, ``evaluate``,
``cost_derivative``), and prints his lines (``Epoch 0: 9000 / 10000``). Initial
weights come from ``np.random.randn`` in his order, so ``np.random.seed(s)``
gives his initial network.

What differs, and why:

* ``SGD`` converts the data once to arrays and runs every epoch in fastbp's
  compiled kernels (``fastbp.Network.fit``): no Python per mini-batch. The
  numbers are his algorithm's to rounding (tested against a numpy copy).
* Shuffling: instead of ``random.shuffle`` on the list each epoch, each
  ``SGD`` call draws ``shuffle_seed = random.getrandbits(64)`` from Python's
  ``random`` module and epoch e visits the samples in the order
  ``epoch_orders(shuffle_seed, n, epochs)[e]``. ``random.seed(s)`` therefore
  still makes a run reproducible. The caller's list is not reordered (as in
  the Python 3 ports, which copy it with ``list()``).
* ``weights`` and ``biases`` are views of the compiled network's
  parameters: writing into them (``net.weights[0][...] = W``,
  ``net.weights[0] = W`` or ``net.weights = [...]``) changes the network,
  and shapes are checked. ``net.weights[0] = W`` copies W's values into
  the network, so later writes to W do not reach it (in his code the slot
  holds W itself): write through ``net.weights[0]`` instead. As in his code, where every step builds new
  arrays, lists taken before training keep their values: ``best =
  net.weights`` is a snapshot once training goes on (training moves the
  parameters to a fresh buffer when views were handed out), and ``net.weights
  = best`` restores it. Read ``net.weights`` again for the trained values.
* Data: lists, tuples or iterators (his ``zip`` objects, consumed once) of
  ``(x, y)``; x any array of ``sizes[0]`` numbers (usually an (n, 1)
  column); y a column of ``sizes[-1]`` targets or an int class label. Each
  y's representation decides how it is read, so an int label works where
  his code expects a one-hot column and vice versa. With one output
  neuron a plain number y is the target value, as his ``a - y`` reads it.
* ``SGD`` needs ``eta > 0`` and non-empty training data, and raises
  ``FloatingPointError`` (keeping the last good weights) if training
  diverges to NaN or infinity, where his code would carry on with NaN.
* A subclass that overrides ``update_mini_batch``, ``backprop`` or
  ``cost_derivative`` (or ``feedforward`` / ``evaluate`` for scoring) gets
  his pure-Python loop calling those overrides, with the same shuffles.
"""

import copy
import itertools
import random

import numpy as np

from .. import _validation as v
from ..network import Network as _CoreNetwork
from ..network import _LayerViews

__all__ = ["Network", "sigmoid", "sigmoid_prime", "epoch_orders"]


# --------------------------------------------------------------------- maths
def sigmoid(z):
    """The sigmoid function, his formula (no overflow warning for very negative z)."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function."""
    return sigmoid(z) * (1 - sigmoid(z))


def epoch_orders(seed, n, epochs):
    """The sample order of each epoch of an ``SGD`` call whose ``shuffle_seed`` was ``seed``.

    Epoch e visits the n training samples in the order ``orders[e]`` (an int64
    permutation), in mini-batches of consecutive entries: the orders are the
    successive ``permutation(n)`` draws of ``numpy.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(epochs)]


# ---------------------------------------------------------------- data format
def _as_list(data, name):
    """Data as a list of (x, y) pairs (iterators such as zip objects are consumed once)."""
    if isinstance(data, np.ndarray):
        raise TypeError(f"{name} must be a list of (x, y) tuples (as load_data_wrapper returns); "
                        f"got an array of shape {data.shape}")
    try:
        return data if isinstance(data, list) else list(data)
    except TypeError:
        raise TypeError(f"{name} must be a list or iterable of (x, y) tuples; got {type(data).__name__}") from None


def _split_pairs(data, name):
    if not data:
        raise ValueError(f"{name} is empty: it needs at least one (x, y) pair")
    for i, item in enumerate(data):
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            what = (f"an array of shape {item.shape}" if isinstance(item, np.ndarray)
                    else f"a {type(item).__name__} of length {len(item)}" if isinstance(item, (tuple, list))
                    else repr(type(item).__name__))
            raise ValueError(f"{name} must hold (x, y) pairs; item {i} is {what}. (The output of "
                             f"mnist_loader.load_data is (X, y) arrays; use load_data_wrapper for pairs.)")
    xs, ys = zip(*data)
    return xs, ys


def _rows_of_one_matrix(columns, width):
    """When every column is a view of a row of one C-contiguous matrix — as
    mnist_loader builds them, one (784, 1) view per image — that matrix's rows
    in the columns' order (one C-level gather; no copy when in order), else None."""
    first = columns[0]
    if not isinstance(first, np.ndarray) or first.size != width:
        return None
    root = first
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not root.flags.c_contiguous or root.size % width or root.dtype != first.dtype:
        return None
    start = root.__array_interface__["data"][0]
    row_bytes = width * root.itemsize
    try:
        offsets = np.fromiter((c.__array_interface__["data"][0] for c in columns), dtype=np.int64,
                              count=len(columns)) - start
    except (AttributeError, TypeError):
        return None
    rows = offsets // row_bytes
    matrix = root.reshape(-1, width)
    if (offsets % row_bytes).any() or rows.min() < 0 or rows.max() >= matrix.shape[0]:
        return None
    # every column must be a contiguous row view of that same buffer
    if not all(isinstance(c, np.ndarray) and c.size == width and c.dtype == root.dtype and c.flags.c_contiguous
               for c in columns):
        return None
    if np.array_equal(rows, np.arange(matrix.shape[0])):
        return matrix
    return matrix[rows]


def _stack(columns, width, name):
    """Stack arrays of ``width`` numbers each (columns, rows, anything) as the rows of one float64 array."""
    fast = _rows_of_one_matrix(columns, width)
    if fast is not None:
        return _finite(np.asarray(fast, dtype=np.float64), name)
    try:
        out = np.concatenate([np.reshape(c, (1, -1)) for c in columns], axis=0, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must each be an array of {width} numbers (a ({width}, 1) column); "
                         f"{exc}") from None
    if out.shape[1] != width:
        raise ValueError(f"{name} must each hold {width} numbers (a ({width}, 1) column); "
                         f"got {out.shape[1]} numbers")
    return _finite(out, name)


def _finite(rows, name):
    """``rows``, after checking that they hold no NaN or infinity (naming the first item that does)."""
    finite = np.isfinite(rows).reshape(rows.shape[0], -1).all(axis=1)
    if not finite.all():
        raise ValueError(f"{name} contains NaN or infinity (item {int(np.argmin(finite))})")
    return rows


def _stack_targets(ys, width, name):
    """Int labels -> (n,) array; target columns -> (n, width) float64."""
    if np.ndim(ys[0]) == 0:
        try:
            labels = np.asarray(ys)
        except ValueError:
            labels = None
        if labels is None or labels.ndim != 1:
            raise ValueError(f"{name} must be all int labels or all ({width}, 1) columns, not a mixture")
        if width == 1 and labels.dtype.kind in "iuf":
            return _finite(labels.astype(np.float64), name)     # one output: y is its target value
        whole = labels.dtype.kind in "iu" or (labels.dtype.kind == "f" and bool(np.all(labels == np.round(labels))))
        if not whole:
            raise ValueError(f"{name} must be int labels 0..{width - 1} or ({width}, 1) columns; "
                             f"got {labels.dtype} values such as {labels[:3].tolist()!r:.80}")
        if labels.size and not 0 <= labels.min() <= labels.max() <= width - 1:
            raise ValueError(f"{name} must be labels 0..{width - 1} (one per output unit); got labels from "
                             f"{labels.min()} to {labels.max()}")
        return labels
    return _stack(ys, width, name)


def _target_row(y, width):
    """One sample's y (int label or column of ``width`` targets) as a batch of one."""
    if np.ndim(y) == 0:
        return np.asarray([y])
    return _stack([y], width, "y")


def _labels_of(y):
    """Class labels: int labels as they are, target rows by argmax (his ``np.argmax(y)``)."""
    return y if y.ndim == 1 else np.argmax(y, axis=1)


def _layer_values(value, shape, name):
    """A float64 copy of ``value`` with ``shape`` ((n, 1) bias columns also accept (n,))."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array of shape {shape}; {exc}") from None
    if arr.shape != shape:
        if shape[1:] == (1,) and arr.shape == shape[:1]:
            arr = arr.reshape(shape)
        else:
            raise ValueError(f"{name} must have shape {shape}; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


class _Layers(_LayerViews):
    """His ``net.weights`` or ``net.biases`` list: ``fastbp.Network``'s checked list of views, with his
    conventions for the values (any float64-convertible array of the layer's shape, and an (n,)
    vector for an (n, 1) bias column) and for replacing one (``net.weights[l] = W``, below)."""

    def __init__(self, owner, name):
        super().__init__(owner._views(name), name, np.float64)
        self._owner = owner
        self._buffer = owner._core.parameters

    def _checked(self, i, value):
        return _layer_values(value, list.__getitem__(self, i).shape, f"{self._name}[{i}]")

    def _current(self):
        """Whether this is still the network's list (training replaces his lists with new ones)."""
        return self._owner._core.parameters is self._buffer

    def _rebind(self):
        """Point this list at the network's parameters again, after they moved to a new buffer."""
        list.__setitem__(self, slice(None), self._owner._views(self._name))
        self._buffer = self._owner._core.parameters

    def __setitem__(self, index, value):
        """His list-slot replacement: the network and this list then hold the new array, and an
        array taken from the slot before keeps its values (as his replaced array does). A list the
        network no longer uses (from before training) changes alone, as his old list would."""
        if not isinstance(index, slice) and value is list.__getitem__(self, index):
            return          # ``ws[l] += d`` ends by storing the slot's own array: already done in place
        indices, checked = self._checked_items(index, value)
        if not self._current():
            for i, arr in zip(indices, checked):
                list.__setitem__(self, i, arr)      # a new array in the slot (a checked copy)
            return
        self._owner._replace(self._name, indices, checked)


# ------------------------------------------------------------ shared machinery
class _CoreBacked:
    """His network's interface over a ``fastbp.Network`` (sigmoid layers, float64).

    Subclasses set ``_BASE`` to themselves: a method differing from the one
    on ``_BASE`` is a user's override, and the code that calls it then runs
    his pure-Python loops instead of the compiled ones.
    """

    _BASE = None

    def _setup(self, sizes, cost_name):
        self._rng = np.random.default_rng()        # reseeded by every SGD call; the core shuffles with it
        self._core = _CoreNetwork(sizes, "sigmoid", "sigmoid", cost_name, np.float64, seed=self._rng,
                                  init="zeros")
        self.sizes = [int(s) for s in self._core.sizes]
        self.num_layers = len(self.sizes)
        self.shuffle_seed = None
        slices, offset = [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            slices.append((offset, offset + n_out * n_in, n_out, n_in))
            offset += n_out * n_in + n_out
        self._slices = slices

    def _set_core_cost(self, cost_name):
        """Rebuild the compiled network for another cost on the same parameter buffer and generator:
        his cost is only an attribute, so arrays taken from the lists stay the network's."""
        if cost_name == self._core.cost_name:
            return
        core = _CoreNetwork(self.sizes, "sigmoid", "sigmoid", cost_name, np.float64, seed=self._rng, init="zeros")
        core._share_parameters(self._core)
        self._core = core

    # ------------------------------------------------------------ parameters
    def _weight_views(self):
        p = self._core.parameters
        return [p[w0:b0].reshape(n_out, n_in) for w0, b0, n_out, n_in in self._slices]

    def _bias_views(self):
        p = self._core.parameters
        return [p[b0:b0 + n_out].reshape(n_out, 1) for _, b0, n_out, _ in self._slices]

    def _views(self, name):
        return self._weight_views() if name == "weights" else self._bias_views()

    def _detach_views(self):
        """Before the parameters change: if views were handed out, move the parameters to a fresh buffer
        so that those keep their values, as his arrays do when a step replaces them."""
        if self.__dict__.pop("_views_out", False):
            self._core._move_parameters()

    def _layers(self, name):
        """The network's ``name`` list: the same list object until training replaces it, as his is."""
        lists = self.__dict__.setdefault("_lists", {})
        if name not in lists or not lists[name]._current():
            lists[name] = _Layers(self, name)
        self._views_out = True
        return lists[name]

    @property
    def weights(self):
        """weights[l]: (sizes[l+1], sizes[l]) view; weights[l][j, k] joins unit k to unit j. Writes change
        the network; after further training the list keeps the values it had (his semantics)."""
        return self._layers("weights")

    @weights.setter
    def weights(self, values):
        self._assign("weights", values)

    @property
    def biases(self):
        """biases[l]: (sizes[l+1], 1) view, like ``weights``."""
        return self._layers("biases")

    @biases.setter
    def biases(self, values):
        self._assign("biases", values)

    def _assign(self, name, values):
        """His ``net.weights = values``: afterwards the network holds those values, and when ``values``
        is one of this network's own lists (``best = net.weights``, more training, ``net.weights =
        best``), that list object is the network's again, as in his code."""
        own = isinstance(values, _Layers) and values._owner is self and values._name == name
        if own and values._current():
            return          # the list assigned to itself: nothing changes, as in his code
        self._replace(name, range(len(self._slices)), _Layers(self, name).checked(values), whole=True)
        if own:
            values._rebind()
            self.__dict__.setdefault("_lists", {})[name] = values
            self._views_out = True

    def _replace(self, name, indices, arrays, whole=False):
        """Replace layers ``indices`` of ``name`` by the checked ``arrays``, as his code replaces list
        slots (or, ``whole``, the list): arrays taken from the replaced slots (or list) keep their
        values, so if views were handed out the parameters move to a fresh buffer first, and the lists
        that stay the network's follow them there. An array taken from another slot then no longer
        reaches the network (his would): take it from the list again."""
        lists = self.__dict__.get("_lists", {})
        staying = [lst for key, lst in lists.items() if lst._current() and not (whole and key == name)]
        self._detach_views()
        for target, value in zip([self._views(name)[i] for i in indices], arrays):
            target[...] = value
        for lst in staying:
            lst._rebind()
            self._views_out = True

    def __copy__(self):
        """An independent network, as ``copy.deepcopy`` gives: a shallow copy would share the compiled
        network, and training it would change this one (his shallow copy shares arrays only until a
        step replaces them)."""
        return copy.deepcopy(self)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_lists", None)       # views of this network's buffer, rebuilt on use
        return state

    # ------------------------------------------------------------------ data
    def _overrides(self, *names):
        """True if a subclass or the instance replaces any of the named methods."""
        cls = type(self)
        return any(name in vars(self) or getattr(cls, name, None) is not getattr(self._BASE, name, None)
                   for name in names)

    def _arrays(self, data, name):
        """A list of (x, y) pairs as (X (n, sizes[0]) float64, y labels (n,) or targets (n, sizes[-1]))."""
        xs, ys = _split_pairs(data, name)
        return (_stack(xs, self.sizes[0], f"the x of {name}"),
                _stack_targets(ys, self.sizes[-1], f"the y of {name}"))

    def _correct(self, X, labels):
        """How many rows of X the network classifies as ``labels`` (argmax of the outputs)."""
        return int(np.count_nonzero(np.argmax(self._core.feedforward(X), axis=1) == labels))

    def _reseed(self):
        """Draw this SGD call's shuffle seed from Python's ``random`` and reset the core's generator."""
        seed = random.getrandbits(64)
        self.shuffle_seed = seed
        self._rng.bit_generator.state = np.random.PCG64(seed).state
        return seed

    # ------------------------------------------------------------- inference
    def feedforward(self, a):
        """Return the output of the network if ``a`` is input.

        a: an (sizes[0], 1) column, giving an (sizes[-1], 1) column; or
        (sizes[0], k) columns, giving (sizes[-1], k); or a 1-D (sizes[0],)
        vector, giving a 1-D (sizes[-1],) vector.
        """
        arr = np.asarray(a)
        if arr.ndim == 1:
            return self._core.feedforward(arr.reshape(1, -1))[0]
        if arr.ndim != 2 or arr.shape[0] != self.sizes[0] or arr.shape[1] == 0:
            raise ValueError(f"a must be a ({self.sizes[0]}, 1) column or ({self.sizes[0]}, k) columns, k >= 1; "
                             f"got shape {arr.shape}")
        out = self._core.feedforward(arr.T)
        return out.reshape(-1, 1) if out.shape[0] == 1 else np.ascontiguousarray(out.T)

    # -------------------------------------------------------------- training
    def _gradient(self, x, y):
        """(nabla_b, nabla_w) of C_x for one sample, from the compiled backpropagation."""
        dW, db = self._core.gradient(_stack([x], self.sizes[0], "x"), _target_row(y, self.sizes[-1]))
        return [g.reshape(-1, 1) for g in db], list(dW)

    def _python_backprop(self, x, y, output_delta):
        """His backprop, literally (used when a subclass overrides what it calls)."""
        weights, biases = self.weights, self.biases
        nabla_b = [np.zeros(b.shape) for b in biases]
        nabla_w = [np.zeros(w.shape) for w in weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(biases, weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = output_delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            sp = sigmoid_prime(zs[-l])
            delta = np.dot(weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def _step(self, mini_batch, eta, lmbda, n):
        """w -> (1 - eta*lmbda/n) w - (eta/m) sum nabla_w, b -> b - (eta/m) sum nabla_b: one SGD step."""
        mini_batch = _as_list(mini_batch, "mini_batch")
        decay = 1 - eta * (lmbda / n)
        if self._overrides("backprop", "cost_derivative"):
            if not mini_batch:
                raise ValueError("mini_batch is empty: it needs at least one (x, y) pair")
            nabla_b = [np.zeros(b.shape) for b in self.biases]
            nabla_w = [np.zeros(w.shape) for w in self.weights]
            for x, y in mini_batch:
                delta_nabla_b, delta_nabla_w = self.backprop(x, y)
                nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
                nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
            scale = eta / len(mini_batch)
            new_w = [decay * w - scale * nw for w, nw in zip(self.weights, nabla_w)]
            new_b = [b - scale * nb for b, nb in zip(self.biases, nabla_b)]
            self.weights, self.biases = new_w, new_b
            return
        X, y = self._arrays(mini_batch, "mini_batch")
        dW, db = self._core.gradient(X, y)          # the batch mean, (1/m) sum: one compiled pass
        self._detach_views()                        # only now: a step refused above changes nothing
        for w, g in zip(self._weight_views(), dW):
            if decay != 1:
                w *= decay
            w -= eta * g
        for b, g in zip(self._bias_views(), db):
            b -= eta * g.reshape(-1, 1)

    def _train(self, training_data, epochs, mini_batch_size, eta, lmbda, step, after_epoch):
        """Every epoch: the compiled kernels, or his loop over ``step`` when a subclass overrides it.

        ``after_epoch(j)`` runs after epoch j (0-based), where he prints and monitors; a true result
        ends training there.
        """
        # Checked under his names, before anything runs (the core would name its own arguments).
        epochs = v.check_int("epochs", epochs, minimum=0)
        mini_batch_size = v.check_int("mini_batch_size", mini_batch_size, minimum=1)
        eta = v.check_float("eta", eta, 0.0, low_open=True)
        lmbda = v.check_float("lmbda", lmbda, 0.0)
        if self._overrides("update_mini_batch", "backprop", "cost_derivative"):
            n = len(training_data)
            if n == 0:
                raise ValueError("training_data is empty: it needs at least one (x, y) pair")
            for j, order in enumerate(epoch_orders(self._reseed(), n, epochs)):
                for k in range(0, n, mini_batch_size):
                    step([training_data[i] for i in order[k:k + mini_batch_size]])
                if after_epoch(j):
                    return
            return
        X, y = self._arrays(training_data, "training_data")
        self._reseed()          # after the checks: a refused call leaves shuffle_seed and `random` alone
        counter = itertools.count()

        def end_of_epoch(_epoch, _logs):
            stop = after_epoch(next(counter))
            self._detach_views()        # views taken while monitoring keep this epoch's values
            return bool(stop)

        self._detach_views()
        self._core.fit(X, y, epochs=epochs, batch_size=mini_batch_size, learning_rate=eta, l2=lmbda,
                       callbacks=[end_of_epoch])


# ----------------------------------------------------------------- network.py
class Network(_CoreBacked):
    """His ``network.Network``: sigmoid neurons, quadratic cost, plain SGD."""

    def __init__(self, sizes):
        """``sizes`` lists the neurons per layer, inputs first, e.g. [784, 30, 10].

        Biases then weights are drawn from ``np.random.randn`` as in his code,
        so ``np.random.seed(s)`` gives the same initial network.
        """
        self._setup(sizes, "quadratic")
        self.biases = [np.random.randn(y, 1) for y in self.sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(self.sizes[:-1], self.sizes[1:])]

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Train by mini-batch stochastic gradient descent, every epoch compiled.

        training_data: (x, y) pairs, y the desired output column. With
        ``test_data`` ((x, label) pairs) prints ``Epoch j: correct / n_test``
        after each epoch, else ``Epoch j complete``.
        """
        training_data = _as_list(training_data, "training_data")
        if test_data is not None:
            test_data = _as_list(test_data, "test_data")
        n_test = len(test_data) if test_data else 0
        fast_scoring = bool(test_data) and not self._overrides("evaluate", "feedforward")
        if fast_scoring:
            X_test, y_test = self._arrays(test_data, "test_data")
            labels = _labels_of(y_test)

        def after_epoch(j):
            if test_data:
                correct = self._correct(X_test, labels) if fast_scoring else self.evaluate(test_data)
                print("Epoch {0}: {1} / {2}".format(j, correct, n_test))
            else:
                print("Epoch {0} complete".format(j))

        self._train(training_data, epochs, mini_batch_size, eta, 0.0,
                    lambda batch: self.update_mini_batch(batch, eta), after_epoch)

    def update_mini_batch(self, mini_batch, eta):
        """One gradient-descent step on the (x, y) pairs of ``mini_batch`` with learning rate ``eta``."""
        self._step(mini_batch, eta, 0.0, 1)

    def backprop(self, x, y):
        """Return ``(nabla_b, nabla_w)``, the gradient of C_x = ||a - y||^2 / 2 for one sample,
        layer by layer in the shapes of ``biases`` and ``weights``."""
        if self._overrides("cost_derivative"):
            return self._python_backprop(
                x, y, lambda z, a, target: self.cost_derivative(a, target) * sigmoid_prime(z))
        return self._gradient(x, y)

    def evaluate(self, test_data):
        """Return the number of test inputs whose most active output neuron is the label."""
        test_data = _as_list(test_data, "test_data")
        if self._overrides("feedforward") or not test_data:       # his sum over no data is 0
            return sum(int(np.argmax(self.feedforward(x)) == y) for (x, y) in test_data)
        X, y = self._arrays(test_data, "test_data")
        return self._correct(X, _labels_of(y))

    def cost_derivative(self, output_activations, y):
        """Return the vector of partial derivatives dC_x/da for the output activations."""
        return output_activations - y


Network._BASE = Network
