"""A drop-in for Andrew Ng's Machine Learning exercise 4 (neural network learning).

Code written against the exercise's functions (``nnCostFunction``,
``sigmoidGradient``, ``randInitializeWeights``, ``debugInitializeWeights``,
``computeNumericalGradient``, ``checkNNGradients``, ``predict``) can import
them from here under those names (aliases of the snake_case functions);
the cost and gradient come from fastbp's compiled kernels.

Ng's conventions, followed exactly here:

* Θ^(l) is (s_{l+1}, s_l + 1): column 0 multiplies the bias unit, columns
  1..s_l the units of layer l. X is (m, n) *without* the bias column.
* Labels y are 1..K (digit 0 is label 10 in the Octave data), as (m,) or
  (m, 1); any integral dtype, or floats holding integers.
* The network is sigmoid throughout, with the cross-entropy cost

      J = (1/m) Σ_i Σ_k [−y_k log h_k − (1 − y_k) log(1 − h_k)]
          + (λ/2m) Σ_l Σ_{j, k≥1} (Θ^(l)_jk)²       (bias column not regularised)

* Parameters are unrolled column-major, as Octave's ``Theta1(:)``::

      nn_params = np.concatenate([Theta1.ravel(order="F"), Theta2.ravel(order="F")])

In fastbp terms this is ``Network(sizes, "sigmoid", "sigmoid", "cross_entropy")``
with ``l2=λ`` (fastbp's λ/(2n) is Ng's λ/(2m)). fastbp stores W^l (the Θ
columns 1..s_l, row-major) then b^l (Θ column 0) per layer, so each call
gathers ``nn_params`` into that layout and the gradient back, through index
arrays built once per layer-size tuple.

>>> import numpy as np
>>> from fastbp import ng
>>> T1, T2 = ng.debug_initialize_weights(5, 3), ng.debug_initialize_weights(3, 5)
>>> p = np.concatenate([T1.ravel(order="F"), T2.ravel(order="F")])
>>> X = ng.debug_initialize_weights(5, 2)
>>> J, grad = ng.nn_cost_function(p, 3, 5, 3, X, [2, 3, 1, 2, 3], 1.0)
>>> grad.shape
(38,)
"""

import functools
import itertools
import numbers

import numpy as np

from . import _validation as v
from ._layout import build_layout
from .kernels.codes import B_OFF, W_OFF
from .network import Network

__all__ = [
    "check_nn_gradients",
    "checkNNGradients",
    "compute_numerical_gradient",
    "computeNumericalGradient",
    "debugInitializeWeights",
    "debug_initialize_weights",
    "network_from_thetas",
    "nnCostFunction",
    "nn_cost_function",
    "nn_cost_function_layers",
    "predict",
    "predict_layers",
    "randInitializeWeights",
    "rand_initialize_weights",
    "reshape_thetas",
    "sigmoid",
    "sigmoidGradient",
    "sigmoid_gradient",
    "unroll_thetas",
]


# ----------------------------------------------------------------- layout maps
@functools.lru_cache(maxsize=64)
def _index_maps(sizes):
    """(ng_to_fb, fb_to_ng) int64 permutations for layer sizes ``sizes`` (a tuple).

    ``fb_params = nn_params[ng_to_fb]`` puts Ng's column-major unrolled Θs in
    fastbp's (W^l row-major, b^l) layout; ``grad_ng = grad_fb[fb_to_ng]``
    does the reverse. Both arrays are read-only (they are cached and shared).
    """
    layout, n_params, _ = build_layout(sizes)
    pieces = []
    for layer, row in enumerate(layout):
        n_in, n_out = sizes[layer], sizes[layer + 1]
        # fastbp flat index of each Θ entry: Θ[j, 0] = b[j], Θ[j, k + 1] = W[j, k].
        theta_index = np.empty((n_out, n_in + 1), dtype=np.int64)
        theta_index[:, 0] = row[B_OFF] + np.arange(n_out)
        theta_index[:, 1:] = row[W_OFF] + np.arange(n_out * n_in).reshape(n_out, n_in)
        pieces.append(theta_index.ravel(order="F"))
    fb_to_ng = np.concatenate(pieces)
    ng_to_fb = np.empty(n_params, dtype=np.int64)
    ng_to_fb[fb_to_ng] = np.arange(n_params, dtype=np.int64)
    fb_to_ng.flags.writeable = False
    ng_to_fb.flags.writeable = False
    return ng_to_fb, fb_to_ng


def _n_params(sizes):
    return sum(n_out * (n_in + 1) for n_in, n_out in itertools.pairwise(sizes))


# ------------------------------------------------------------------ validation
def _check_size(name, value, minimum=1):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        # Octave code often carries sizes as doubles (400.0); accept integral floats.
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            kind = "positive" if minimum == 1 else "non-negative"
            raise TypeError(f"{name} must be a {kind} integer; got {value!r} of type {type(value).__name__}")
    return v.check_int(name, int(value), minimum=minimum)


def _check_layer_sizes(layer_sizes):
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(f"layer_sizes must be a sequence such as [400, 25, 10]; got {layer_sizes!r}")
    if len(layer_sizes) < 2:
        raise ValueError(f"layer_sizes needs at least two layers (inputs and labels); got {list(layer_sizes)!r}")
    return tuple(_check_size(f"layer_sizes[{i}]", s) for i, s in enumerate(layer_sizes))


def _check_params(nn_params, sizes):
    arr = v._as_numeric("nn_params", nn_params)
    if arr.ndim == 2 and 1 in arr.shape:          # an Octave-style column (or row) vector
        arr = arr.ravel()
    expected = _n_params(sizes)
    if arr.ndim != 1:
        raise ValueError(f"nn_params must be a 1-D unrolled parameter vector of length {expected}; "
                         f"got shape {arr.shape}")
    if arr.shape[0] != expected:
        terms = " + ".join(f"{b}*({a}+1)" for a, b in itertools.pairwise(sizes))
        raise ValueError(f"nn_params must have length {expected} = {terms} for layer sizes {list(sizes)}; "
                         f"got length {arr.shape[0]}")
    return v._to_dtype("nn_params", arr, np.float64)


def _check_X(X, n_features, allow_1d=False):
    arr = v._as_numeric("X", X)
    if arr.ndim == 1 and allow_1d:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"X must be 2-D (m, {n_features}) without the bias column; "
                         f"got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"X must hold at least one example; got shape {arr.shape}")
    if arr.shape[1] != n_features:
        hint = (" (it looks like X includes the bias column of ones: pass X without it)"
                if arr.shape[1] == n_features + 1 else "")
        raise ValueError(f"X must have {n_features} columns (input_layer_size, without the bias column); "
                         f"got shape {arr.shape}{hint}")
    return v._to_dtype("X", arr, np.float64)


def _one_hot(y, m, num_labels):
    """Ng's labels 1..K as an (m, K) float64 one-hot matrix (row i has a 1 in column y_i − 1)."""
    arr = v._as_numeric("y", y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"y must hold labels 1..{num_labels} as shape ({m},) or ({m}, 1); got shape {arr.shape}")
    if arr.shape[0] != m:
        raise ValueError(f"y must have {m} labels, one per row of X; got {arr.shape[0]}")
    if not v.all_finite(arr):
        raise ValueError(f"y must hold labels 1..{num_labels}; got NaN or infinity")
    if arr.dtype.kind == "f" and not np.all(np.floor(arr) == arr):
        raise ValueError(f"y must hold integer labels 1..{num_labels}; got non-integer values such as "
                         f"{arr[np.floor(arr) != arr][0]!r}")
    labels = arr.astype(np.int64)
    bad = (labels < 1) | (labels > num_labels)
    if bad.any():
        hint = (f" (Ng's labels are 1-based: for digits, 0 is label {num_labels}: np.where(y == 0, "
                f"{num_labels}, y); for other 0-based classes use y + 1)" if (labels == 0).any() else "")
        raise ValueError(f"y must hold labels 1..{num_labels} (num_labels = {num_labels}); "
                         f"got {np.unique(labels[bad])[:10].tolist()}{hint}")
    Y = np.zeros((m, num_labels), dtype=np.float64)
    Y[np.arange(m), labels - 1] = 1.0
    return Y


def _check_thetas(thetas):
    """A list of 2-D float64 Θ matrices whose shapes chain; returns (thetas, sizes)."""
    if isinstance(thetas, np.ndarray) or not hasattr(thetas, "__len__") or len(thetas) == 0:
        raise TypeError(f"thetas must be a non-empty list of Θ matrices; got {type(thetas).__name__}")
    out = []
    sizes = []
    for i, theta in enumerate(thetas):
        name = f"thetas[{i}]"
        arr = v._as_numeric(name, theta)
        if arr.ndim != 2 or arr.shape[1] < 2 or arr.shape[0] < 1:
            raise ValueError(f"{name} must be 2-D (s_next, s_prev + 1) with the bias as column 0; "
                             f"got shape {arr.shape}")
        if i == 0:
            sizes.append(arr.shape[1] - 1)
        elif arr.shape[1] != sizes[-1] + 1:
            raise ValueError(f"{name} must have {sizes[-1] + 1} columns (the {sizes[-1]} units of the "
                             f"previous layer plus the bias); got shape {arr.shape}")
        sizes.append(arr.shape[0])
        out.append(v._to_dtype(name, arr, np.float64))
    return out, tuple(sizes)


# --------------------------------------------------------------- conversions
def unroll_thetas(thetas):
    """Ng's unrolled vector: Θ^(1), Θ^(2), ... each flattened column-major (Octave's ``Theta(:)``).

    thetas: list of 2-D arrays, Θ^(l) of shape (s_{l+1}, s_l + 1).
    Returns a float64 (Σ_l s_{l+1}(s_l + 1),) vector.
    """
    thetas, _ = _check_thetas(thetas)
    return np.concatenate([t.ravel(order="F") for t in thetas])


def reshape_thetas(nn_params, layer_sizes):
    """The inverse of ``unroll_thetas``: a list of float64 Θ^(l) of shape (s_{l+1}, s_l + 1).

    nn_params: (Σ_l s_{l+1}(s_l + 1),) unrolled column-major.
    layer_sizes: [s_1, ..., s_L], inputs first, e.g. [400, 25, 10].
    """
    sizes = _check_layer_sizes(layer_sizes)
    p = _check_params(nn_params, sizes)
    thetas, start = [], 0
    for n_in, n_out in itertools.pairwise(sizes):
        stop = start + n_out * (n_in + 1)
        thetas.append(p[start:stop].reshape((n_out, n_in + 1), order="F").copy())
        start = stop
    return thetas


def _network(sizes, fb_params):
    net = Network(sizes, hidden_activation="sigmoid", output_activation="sigmoid",
                  cost="cross_entropy", dtype=np.float64, init="zeros")
    net.parameters = fb_params
    return net


def network_from_thetas(thetas):
    """A float64 ``fastbp.Network`` (sigmoid, cross-entropy) holding Ng's Θ matrices.

    thetas: list of Θ^(l), each (s_{l+1}, s_l + 1) with the bias as column 0.
    The network's ``weights[l]`` is Θ^(l)[:, 1:] and ``biases[l]`` is Θ^(l)[:, 0];
    it can be trained further with ``fit`` (labels then are 0-based: y − 1).
    """
    thetas, sizes = _check_thetas(thetas)
    ng_to_fb, _ = _index_maps(sizes)
    return _network(sizes, np.concatenate([t.ravel(order="F") for t in thetas])[ng_to_fb])


# ------------------------------------------------------------ cost function
def nn_cost_function_layers(nn_params, layer_sizes, X, y, lambda_=0.0):
    """Ng's regularised cost and its gradient for any number of hidden layers.

    nn_params : (Σ_l s_{l+1}(s_l + 1),) array
        Θ^(1), Θ^(2), ... unrolled column-major (``Theta.ravel(order="F")``);
        Θ^(l) has shape (s_{l+1}, s_l + 1), bias column first. A (N, 1)
        column vector is accepted too.
    layer_sizes : sequence of int
        [s_1, ..., s_L], inputs first: [400, 25, 25, 10] is two hidden
        layers of 25 and 10 labels.
    X : (m, s_1) array
        One example per row, without the bias column.
    y : (m,) or (m, 1) array
        Labels 1..s_L (integers; float arrays holding integers are fine).
    lambda_ : float >= 0
        Regularisation strength λ.

    Returns ``(J, grad)``: J a Python float, grad a float64 array shaped
    like nn_params (1-D) in the same unrolled order. Computed in float64 by
    fastbp's compiled kernels. Raises ValueError naming the argument on a
    wrong nn_params length, wrong X columns, or labels outside 1..s_L.
    """
    sizes = _check_layer_sizes(layer_sizes)
    p = _check_params(nn_params, sizes)
    lambda_ = v.check_float("lambda_", lambda_, low=0.0)
    X = _check_X(X, sizes[0])
    Y = _one_hot(y, X.shape[0], sizes[-1])
    ng_to_fb, fb_to_ng = _index_maps(sizes)
    net = _network(sizes, p[ng_to_fb])
    Xc, Yc, _, sw = net._data(X, Y)
    J, grad = net._cost_and_gradient(Xc, Yc, sw, lambda_, 0.0)   # one forward pass for both
    return float(J), grad[fb_to_ng]


def nn_cost_function(nn_params, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_=0.0):
    """Ng's ``nnCostFunction``: cost and gradient of the one-hidden-layer network.

    nn_params : (hidden*(input+1) + labels*(hidden+1),) array
        ``np.concatenate([Theta1.ravel(order="F"), Theta2.ravel(order="F")])``
        with Theta1 (hidden_layer_size, input_layer_size + 1) and Theta2
        (num_labels, hidden_layer_size + 1), bias column first.
    input_layer_size, hidden_layer_size, num_labels : int
    X : (m, input_layer_size) array, without the bias column.
    y : (m,) or (m, 1) array of labels 1..num_labels.
    lambda_ : float >= 0, the regularisation strength λ.

    Returns ``(J, grad)``: J a float; grad float64 (len(nn_params),) in the
    same unrolled order, i.e. ``[Theta1_grad.ravel("F"), Theta2_grad.ravel("F")]``.
    Ready for ``scipy.optimize.minimize(f, x0, jac=True)``.
    """
    sizes = [_check_size("input_layer_size", input_layer_size),
             _check_size("hidden_layer_size", hidden_layer_size),
             _check_size("num_labels", num_labels)]
    return nn_cost_function_layers(nn_params, sizes, X, y, lambda_)


# ------------------------------------------------------------------ sigmoid
def _float_array(z):
    arr = np.asarray(z)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"z must be a real number or an array of them; got {type(z).__name__} of dtype {arr.dtype}")
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    return arr


def sigmoid(z):
    """g(z) = 1 / (1 + e^{−z}) element-wise, without overflow for any finite z.

    z: scalar or array; float inputs keep their dtype, others become float64.
    Returns an array of z's shape (a float for a scalar input).
    """
    z = _float_array(z)
    e = np.exp(-np.abs(z))                       # never overflows
    one = z.dtype.type(1)
    out = np.where(z >= 0, one / (one + e), e / (one + e))
    return out[()] if out.ndim == 0 else out


def sigmoid_gradient(z):
    """g'(z) = g(z)(1 − g(z)) element-wise (0.25 at z = 0), stable for any finite z.

    z: scalar or array; returns the same shape (a float for a scalar input),
    float64 unless z is a float array.
    """
    z = _float_array(z)
    e = np.exp(-np.abs(z))                       # g(|z|) = 1/(1+e), 1 − g(|z|) = e/(1+e)
    one = z.dtype.type(1)
    out = e / ((one + e) * (one + e))            # g'(z) = g'(−z), so |z| suffices
    return out[()] if out.ndim == 0 else out


# ------------------------------------------------------------ initialisation
def rand_initialize_weights(L_in, L_out, epsilon_init=0.12, rng=None):
    """Ng's ``randInitializeWeights``: a (L_out, 1 + L_in) float64 matrix uniform in [−ε, ε).

    rng: a ``numpy.random.Generator``, an int seed, or None: numpy's global
    generator (``np.random.rand``), as the exercise's code and its Python
    ports draw, so ``np.random.seed(s)`` reproduces their matrices.
    Column 0 (the bias column) is drawn like the others, as in Ng's code.
    """
    L_in = _check_size("L_in", L_in)
    L_out = _check_size("L_out", L_out)
    epsilon_init = v.check_float("epsilon_init", epsilon_init, low=0.0)
    if rng is None:
        uniform = np.random.rand(L_out, 1 + L_in)
    else:
        uniform = (rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)).random(
            (L_out, 1 + L_in))
    return uniform * 2 * epsilon_init - epsilon_init


def debug_initialize_weights(fan_out, fan_in):
    """Ng's ``debugInitializeWeights``: a deterministic (fan_out, 1 + fan_in) float64 matrix.

    ``sin(1), sin(2), ...`` filled column-major and divided by 10, so the
    gradient check is reproducible.
    """
    fan_out = _check_size("fan_out", fan_out)
    fan_in = _check_size("fan_in", fan_in, minimum=0)
    n = fan_out * (1 + fan_in)
    return np.sin(np.arange(1, n + 1)).reshape((fan_out, 1 + fan_in), order="F") / 10


# ------------------------------------------------------------ gradient check
def compute_numerical_gradient(J, theta, e=1e-4):
    """Central differences (J(θ + e·u_i) − J(θ − e·u_i)) / 2e for every i.

    J: callable taking a (n,) vector and returning the cost, or a pair (tuple
    or list) whose first element is the cost (as ``nn_cost_function`` returns).
    theta: (n,) array. Returns a float64 (n,) array.
    """
    theta = np.array(theta, dtype=np.float64).ravel()
    e = v.check_float("e", e, low=0.0, low_open=True)

    def cost(t):
        out = J(t)
        return float(out[0] if isinstance(out, (tuple, list)) else out)

    numgrad = np.zeros_like(theta)
    perturbed = theta.copy()
    for i in range(theta.size):
        perturbed[i] = theta[i] - e
        loss1 = cost(perturbed.copy())
        perturbed[i] = theta[i] + e
        loss2 = cost(perturbed.copy())
        perturbed[i] = theta[i]
        numgrad[i] = (loss2 - loss1) / (2 * e)
    return numgrad


_UNSET = object()


def _gradient_check_arguments(args, lambda_, cost_function, verbose, nnCostFunction):
    """(lambda_, cost_function, verbose, port) from check_nn_gradients' positional and keyword
    arguments, in Ng's order or the Python port's (a callable first)."""
    port = bool(args) and callable(args[0])
    if len(args) > 3:
        raise TypeError(f"check_nn_gradients takes at most 3 positional arguments; got {len(args)}")
    given = {"lambda_": lambda_, "cost_function": cost_function, "verbose": verbose}
    if nnCostFunction is not _UNSET:          # the port's keyword name
        if cost_function is not _UNSET:
            raise TypeError("check_nn_gradients: give cost_function or nnCostFunction, not both")
        given["cost_function"], port = nnCostFunction, True
    for name, value in zip(("cost_function", "lambda_", "verbose") if port and args else
                           ("lambda_", "cost_function", "verbose"), args):
        if given[name] is not _UNSET:
            raise TypeError(f"check_nn_gradients got two values for {name}")
        given[name] = value
    lambda_ = v.check_float("lambda_", 0.0 if given["lambda_"] is _UNSET else given["lambda_"], low=0.0)
    cost_function = given["cost_function"]
    if cost_function is _UNSET or cost_function is None:
        cost_function = nn_cost_function
    elif not callable(cost_function):
        raise TypeError(f"cost_function must be callable; got {type(cost_function).__name__}")
    verbose = True if given["verbose"] is _UNSET else v.check_bool("verbose", given["verbose"])
    return lambda_, cost_function, verbose, port


def check_nn_gradients(*args, lambda_=_UNSET, cost_function=_UNSET, verbose=_UNSET, nnCostFunction=_UNSET):
    """Ng's ``checkNNGradients``: backpropagation against central differences.

    Builds the exercise's small 3-5-3 network with m = 5 examples from
    ``debug_initialize_weights`` (X = debug_initialize_weights(5, 2),
    y = 1 + (1..5 mod 3)), compares the analytical gradient of
    ``cost_function`` (default ``nn_cost_function``; any function with its
    signature, such as your own, works) with ``compute_numerical_gradient``,
    prints both side by side (unless ``verbose=False``) and returns the
    relative difference ‖num − grad‖ / ‖num + grad‖ as a float (below 1e-9
    when backpropagation is right).

    Called as ``check_nn_gradients(lambda_=0.0, cost_function=None,
    verbose=True)``, positionally or by keyword. The Python port's order,
    ``checkNNGradients(nnCostFunction, lambda_)`` (or ``lambda_=`` by
    keyword, or ``nnCostFunction=``), works too: a callable first argument
    is taken as the cost function. The
    port's functions take labels 0..K-1 where the exercise's take 1..K, and
    either may come in that order (the port's own, or a wrapper of this
    module's), so the check then uses labels 1 and 2 only, valid under both
    (y = 2, 1, 2, 1, 2): a gradient check needs a valid y, not a particular
    one, and the unrolling order does not matter to it either.
    """
    lambda_, cost_function, verbose, port = _gradient_check_arguments(args, lambda_, cost_function, verbose,
                                                                      nnCostFunction)
    input_layer_size, hidden_layer_size, num_labels, m = 3, 5, 3, 5
    Theta1 = debug_initialize_weights(hidden_layer_size, input_layer_size)
    Theta2 = debug_initialize_weights(num_labels, hidden_layer_size)
    X = debug_initialize_weights(m, input_layer_size - 1)
    y = 1 + np.arange(1, m + 1) % (num_labels - 1 if port else num_labels)
    nn_params = np.concatenate([Theta1.ravel(order="F"), Theta2.ravel(order="F")])

    def cost_func(p):
        return cost_function(p, input_layer_size, hidden_layer_size, num_labels, X, y, lambda_)

    _, grad = cost_func(nn_params)
    grad = np.asarray(grad, dtype=np.float64).ravel()
    if grad.shape != nn_params.shape:
        raise ValueError(f"the cost function's gradient must have {nn_params.size} entries, one per parameter "
                         f"of the 3-5-3 test network; got {grad.size}")
    numgrad = compute_numerical_gradient(cost_func, nn_params)
    diff = float(np.linalg.norm(numgrad - grad) / np.linalg.norm(numgrad + grad))
    if verbose:
        print(np.stack([numgrad, grad], axis=1))
        print("The above two columns you get should be very similar.\n"
              "(Left-Your Numerical Gradient, Right-Analytical Gradient)\n")
        print("If your backpropagation implementation is correct, then \n"
              "the relative difference will be small (less than 1e-9). \n"
              f"\nRelative Difference: {diff:g}")
    return diff


# --------------------------------------------------------------- prediction
def predict_layers(thetas, X):
    """Ng's ``predict`` for any depth: the label 1..K of the largest output unit.

    thetas: list of Θ^(l), each (s_{l+1}, s_l + 1) with the bias as column 0.
    X: (m, s_1) array without the bias column (a 1-D (s_1,) row is one example).
    Returns int64 labels of shape (m,), in 1..K; ties go to the lower label,
    as Octave's ``max``.
    """
    net = network_from_thetas(thetas)
    X = _check_X(X, net.sizes[0], allow_1d=True)
    return np.argmax(net.feedforward(X), axis=1).astype(np.int64) + 1


def predict(Theta1, Theta2, X):
    """Ng's ``predict(Theta1, Theta2, X)``: labels 1..K as an int64 (m,) array.

    Theta1: (hidden, n + 1); Theta2: (K, hidden + 1); X: (m, n) without the
    bias column (a 1-D (n,) row is one example, giving shape (1,)).
    """
    return predict_layers([Theta1, Theta2], X)


# ------------------------------------------------------- the exercise's names
nnCostFunction = nn_cost_function
sigmoidGradient = sigmoid_gradient
randInitializeWeights = rand_initialize_weights
debugInitializeWeights = debug_initialize_weights
computeNumericalGradient = compute_numerical_gradient
checkNNGradients = check_nn_gradients
