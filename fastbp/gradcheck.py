"""Gradient checking: is ``Network.gradient`` the derivative of ``Network.cost``?

``check_gradient(net, X, y)`` compares the compiled backpropagation gradient
of a network with two independent answers:

* central finite differences of ``cost`` in float64,
  (C(θ + h e_i) − C(θ − h e_i)) / 2h, one parameter at a time;
* the plain-numpy reference, ``fastbp.reference.backprop``, written line by
  line from BP1–BP4.

and reports, per layer, the largest *relative error* over the layer's
weights and biases together:

    rel_i = |a_i − b_i| / max(|a_i| + |b_i|, tiny)

with a = the compiled gradient and b = the other answer, plus Ng's overall
measure ‖a − b‖ / ‖a + b‖ over every checked parameter (the ratio is 0 when
both gradients are exactly zero). A correct backpropagation gives about 1e-8
or less against finite differences and about 1e-15 against the reference in
float64; a wrong formula gives errors of order 1e-3 to 1.

``tiny`` keeps entries that are (nearly) zero from dividing rounding noise by
nothing. Against finite differences it is the resolution of the difference
quotient: cost evaluations are exact to a few ulps, so the quotient carries a
rounding error of about ``ε·max(|C|, 1)/h`` (ε = 2.2e-16), about 2e-10 at the
default h = 1e-6; ``tiny`` is 2e7 times that (4.4e-3·max(|C|, 1) at
h = 1e-6), so an entry that small whose difference quotient is off by its
rounding error reads as a relative error of 5e-8, a twentieth of the usual
tolerance 1e-6 (the rounding grows a little with the size of the network and
the data: a few units on [20, 30, 30, 10] with 64 samples). Below ``tiny``
the comparison therefore becomes an absolute one, |a − b| ≤ tolerance·tiny,
about twenty times the resolution of the finite differences. Against the
reference it is ``sqrt(ε_dtype)`` times the largest reference gradient entry
(1.5e-8 of it in float64), far above the rounding of two different
summation orders.

Precision: finite differences need float64 (in float32 the quotient's
rounding error would be about 1e-1 at h = 1e-6). The check always perturbs a
float64 copy of the network (``as_float64``), never the network itself. For a
float32 network the compiled gradient is still the network's own, float32 one,
so the errors then measure float32 rounding (typically 1e-5 to 1e-3 relative
for small entries) as well as any mistake; to verify the backpropagation
formulas to 1e-6, check ``as_float64(net)`` instead.

ReLU kinks: ReLU and leaky ReLU are not differentiable at z = 0, and the L1
term is not at w = 0. If some pre-activation z lies within about h·|input|
of 0, the perturbation crosses the kink and the finite difference is wrong
(the backpropagation gradient is right: it uses the one-sided derivative).
``check_gradient`` counts such near-kink pre-activations and weights in
``near_kinks``; ``gradcheck`` draws its random network and data again (up to
100 times) until none is within 1e-4 of a kink (and no ReLU layer is dead on
every sample, which would leave nothing to check), so its result is free of
them.
"""

from dataclasses import dataclass, field

import numpy as np

from . import _validation as v
from . import reference
from ._layout import split
from .kernels.codes import B_OFF, N_IN, N_OUT, W_OFF
from .network import Network

__all__ = ["GradientCheck", "check_gradient", "gradcheck", "as_float64"]

_EPS64 = float(np.finfo(np.float64).eps)
_TINY = float(np.finfo(np.float64).tiny)

#: ``tiny`` against finite differences, in units of the difference quotient's
#: rounding error ε·max(|C|, 1)/h (see the module docstring).
FD_FLOOR = 2e7

#: Minimum distance of every ReLU pre-activation (and L1 weight) from its
#: kink in the networks and data ``gradcheck`` draws.
KINK_MARGIN = 1e-4


def _as_dtype(net, dtype):
    """An equivalent ``Network`` of ``dtype``: same sizes, activations, cost, leaky slope and
    parameter values (converted), independent of ``net``."""
    copy = Network(net.sizes, hidden_activation=net.hidden_activation,
                   output_activation=net.output_activation, cost=net.cost_name, dtype=dtype,
                   init="zeros", leaky_slope=net.leaky_slope)
    copy.parameters = np.asarray(net.parameters, dtype=dtype)
    return copy


def as_float64(net):
    """An equivalent float64 ``Network``: same sizes, activations, cost, leaky
    slope and parameter values (converted to float64), independent of ``net``.

    Use it to gradient-check a float32 network to float64 precision:
    ``check_gradient(as_float64(net), X, y)``.
    """
    return _as_dtype(net, np.float64)


@dataclass
class GradientCheck:
    """The result of ``check_gradient``.

    layers : list of dict, one per weight layer, in order
        ``layer`` (1-based: layer 1 holds ``net.weights[0]`` and
        ``net.biases[0]``), ``n_in``, ``n_out``, ``n_checked`` (parameters of
        the layer that were checked), ``max_rel_error_fd`` and
        ``max_rel_error_reference`` (the largest relative error over the
        checked weights and biases of the layer; None when none was checked).
    norm_ratio_fd, norm_ratio_reference : float
        ‖a − b‖ / ‖a + b‖ over every checked parameter (0 when both are zero).
    n_checked, n_parameters : int
        How many parameters were checked, out of how many.
    near_kinks : int
        ReLU / leaky-ReLU pre-activations (sample, unit) within h·(1 + max|input|)
        of 0, plus weights within h of 0 when l1 > 0: places where finite
        differences may be wrong. 0 means the check is free of kinks.
    cost : float
        The cost at the checked parameters (float64).
    eps : float
        The finite-difference step h.
    dtype : str
        The dtype of the network whose gradient was checked.
    network : str
        ``repr`` of the network.
    tolerance : float
        The default tolerance of ``passed()``.
    """

    layers: list
    norm_ratio_fd: float
    norm_ratio_reference: float
    n_checked: int
    n_parameters: int
    near_kinks: int = 0
    cost: float = float("nan")
    eps: float = 1e-6
    dtype: str = "float64"
    network: str = ""
    tolerance: float = 1e-6
    _errors: dict = field(default_factory=dict, repr=False)

    def max_rel_error(self):
        """Largest per-layer relative error, finite differences and reference together."""
        values = [layer[key] for layer in self.layers for key in ("max_rel_error_fd", "max_rel_error_reference")
                  if layer[key] is not None]
        return max(values, default=0.0)

    def passed(self, tolerance=None):
        """True when every per-layer maximum relative error and both norm ratios
        are at most ``tolerance`` (default: ``self.tolerance``, 1e-6 unless set).
        NaN anywhere fails."""
        tolerance = self.tolerance if tolerance is None else float(tolerance)
        values = [self.norm_ratio_fd, self.norm_ratio_reference]
        values += [layer[key] for layer in self.layers for key in ("max_rel_error_fd", "max_rel_error_reference")
                   if layer[key] is not None]
        return all(value <= tolerance for value in values)

    def __str__(self):
        def fmt(x):
            return "-" if x is None else f"{x:.2e}"

        head = f"gradient check of {self.network}" if self.network else "gradient check"
        lines = [f"{head}: {self.n_checked} of {self.n_parameters} parameters, h={self.eps:g}, "
                 f"cost {self.cost:.6g}",
                 f"{'layer':>5} {'n_in':>6} {'n_out':>6} {'checked':>8} {'max rel err (finite diff)':>26} "
                 f"{'max rel err (reference)':>24}"]
        for layer in self.layers:
            lines.append(f"{layer['layer']:>5} {layer['n_in']:>6} {layer['n_out']:>6} {layer['n_checked']:>8} "
                         f"{fmt(layer['max_rel_error_fd']):>26} {fmt(layer['max_rel_error_reference']):>24}")
        lines.append(f"norm ratio |a-b|/|a+b|: finite differences {fmt(self.norm_ratio_fd)}, "
                     f"reference {fmt(self.norm_ratio_reference)}")
        if self.near_kinks:
            lines.append(f"warning: {self.near_kinks} ReLU pre-activations or L1 weights lie within the step of "
                         f"a kink; finite differences may be wrong there")
        verdict = "passed" if self.passed() else "FAILED"
        lines.append(f"{verdict} (tolerance {self.tolerance:g})")
        return "\n".join(lines)


def _relative_errors(a, b, tiny):
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), tiny)


def _norm_ratio(a, b):
    num = float(np.linalg.norm(a - b))
    den = float(np.linalg.norm(a + b))
    if den == 0.0:
        return 0.0 if num == 0.0 else float("inf")
    return num / den


def _choose(net, max_parameters, seed):
    """Sorted parameter indices to check: all, or ``max_parameters`` at random
    with at least one from each layer (while the budget lasts)."""
    n = net.n_parameters
    if max_parameters is None or max_parameters >= n:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    picked = []
    for row in net._layout[:max_parameters]:
        start, stop = int(row[W_OFF]), int(row[B_OFF] + row[N_OUT])
        picked.append(int(rng.integers(start, stop)))
    rest = np.setdiff1d(np.arange(n), picked)
    extra = rng.choice(rest, max_parameters - len(picked), replace=False)
    return np.sort(np.concatenate([np.asarray(picked, dtype=np.int64), extra.astype(np.int64)]))


def _near_kinks(net64, X, eps, l1):
    """How many ReLU pre-activations lie within eps·(1 + max|input|) of 0
    (and weights within eps of 0 when l1 > 0)."""
    weights, biases = split(net64.parameters, net64._layout)
    zs, outs = reference.feedforward(weights, biases, X, net64.activations, net64.leaky_slope)
    count = 0
    for z, a_in, name in zip(zs, outs[:-1], net64.activations):
        if name in ("relu", "leaky_relu"):
            margin = eps * (1.0 + float(np.max(np.abs(a_in), initial=0.0)))
            count += int(np.count_nonzero(np.abs(z) <= margin))
    if l1 > 0:
        count += int(np.count_nonzero(np.abs(net64.parameters[net64._weight_mask]) <= eps))
    return count


def check_gradient(net, X, y, l2=0.0, l1=0.0, eps=1e-6, max_parameters=None, seed=0, tolerance=1e-6):
    """Check ``net.gradient`` against finite differences and the numpy reference.

    Parameters
    ----------
    net : fastbp.Network
        Not modified: finite differences perturb a float64 copy. For a float32
        network the compiled gradient checked is the float32 one, and the
        errors include float32 rounding; check ``as_float64(net)`` to verify
        the formulas to float64 precision (see the module docstring).
    X, y : the data, as for ``net.cost`` (a few samples are enough).
    l2, l1 : regularisation strengths, as for ``net.cost``.
    eps : float
        The central-difference step h. 1e-6 balances truncation error
        (about h²) against rounding (about 2e-16/h) in float64.
    max_parameters : int or None
        Check a random subset of this many parameters (at least one per layer
        while the budget lasts), for big networks: each checked parameter
        costs two evaluations of the cost. None checks all.
    seed : int
        Seeds the choice of the subset.
    tolerance : float
        Stored on the result as the default of ``passed()`` and shown by ``str``.

    Returns
    -------
    GradientCheck
        Per-layer maximum relative errors |a − b| / max(|a| + |b|, tiny)
        against both answers, the norm ratios ‖a − b‖ / ‖a + b‖, and
        ``passed(tolerance)``; ``print(result)`` shows a table.

    ReLU and leaky ReLU have a kink at z = 0 (and L1 at w = 0): if a
    pre-activation lies within about ``eps`` of it, the finite difference is
    wrong there, not the gradient. ``result.near_kinks`` counts such places;
    use other data or another seed when it is not 0.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {type(net).__name__}")
    eps = v.check_float("eps", eps, low=0.0, low_open=True)
    l2, l1 = v.check_float("l2", l2, low=0.0), v.check_float("l1", l1, low=0.0)
    if max_parameters is not None:
        max_parameters = v.check_int("max_parameters", max_parameters, minimum=1)

    grad = np.asarray(net.gradient(X, y, l2=l2, l1=l1, flat=True), dtype=np.float64)
    work = as_float64(net)
    X64, Y64, _, _ = work._data(X, y)
    n = X64.shape[0]

    # The numpy reference (it knows L2; the L1 subgradient is (λ1/n)·sign(w), as in the kernels).
    weights, biases = split(work.parameters.copy(), work._layout)
    nabla_w, nabla_b = reference.backprop(weights, biases, X64, Y64, work.activations, work.cost_name,
                                          l2=l2, leak=work.leaky_slope)
    ref = np.empty(work.n_parameters, dtype=np.float64)
    ref_w, ref_b = split(ref, work._layout)
    for l in range(len(weights)):
        ref_w[l][...] = nabla_w[l] + (l1 / n) * np.sign(weights[l])
        ref_b[l][...] = nabla_b[l]

    # Central differences of the float64 copy's cost.
    indices = _choose(work, max_parameters, seed)
    theta = work.parameters
    cost0 = float(work.cost(X64, Y64, l2=l2, l1=l1))
    fd = np.empty(indices.shape[0], dtype=np.float64)
    for k, i in enumerate(indices):
        old = theta[i]
        up, down = old + eps, old - eps
        try:
            theta[i] = up
            c_up = work.cost(X64, Y64, l2=l2, l1=l1)
            theta[i] = down
            c_down = work.cost(X64, Y64, l2=l2, l1=l1)
        finally:
            theta[i] = old
        fd[k] = (c_up - c_down) / (up - down)     # the step actually taken, after rounding

    a = grad[indices]
    b_ref = ref[indices]
    tiny_fd = max(FD_FLOOR * _EPS64 * max(abs(cost0), 1.0) / eps, _TINY)
    ref_scale = float(np.max(np.abs(ref), initial=0.0))
    tiny_ref = max(float(np.sqrt(np.finfo(net.dtype).eps)) * ref_scale, _TINY)
    rel_fd = _relative_errors(a, fd, tiny_fd)
    rel_ref = _relative_errors(a, b_ref, tiny_ref)

    layers = []
    for number, row in enumerate(work._layout, start=1):
        start, stop = int(row[W_OFF]), int(row[B_OFF] + row[N_OUT])
        inside = (indices >= start) & (indices < stop)
        checked = int(np.count_nonzero(inside))
        layers.append({
            "layer": number, "n_in": int(row[N_IN]), "n_out": int(row[N_OUT]), "n_checked": checked,
            "max_rel_error_fd": float(np.max(rel_fd[inside])) if checked else None,
            "max_rel_error_reference": float(np.max(rel_ref[inside])) if checked else None,
        })
    return GradientCheck(
        layers=layers, norm_ratio_fd=_norm_ratio(a, fd), norm_ratio_reference=_norm_ratio(a, b_ref),
        n_checked=int(indices.shape[0]), n_parameters=int(work.n_parameters),
        near_kinks=_near_kinks(work, X64, eps, l1), cost=cost0, eps=eps, dtype=net.dtype.name,
        network=repr(net), tolerance=float(tolerance),
        _errors={"indices": indices, "gradient": a, "finite_differences": fd, "reference": b_ref,
                 "rel_fd": rel_fd, "rel_reference": rel_ref},
    )


def _random_problem(rng, sizes, hidden_activation, output_activation, cost, n_samples):
    """A float64 network and data valid for the pairing: class labels for a
    softmax output or the log-likelihood, targets in [0, 1] for cross-entropy,
    counts for the Poisson cost, standard normal targets for the quadratic cost."""
    net = Network(sizes, hidden_activation=hidden_activation, output_activation=output_activation, cost=cost,
                  dtype=np.float64, seed=rng, init="nielsen")
    X = rng.normal(size=(n_samples, net.n_inputs))
    if output_activation == "softmax" or cost == "log_likelihood":
        y = rng.integers(0, net.n_outputs, n_samples)
    elif cost == "cross_entropy":
        y = rng.random((n_samples, net.n_outputs))
    elif cost == "poisson":
        y = rng.poisson(2.0, size=(n_samples, net.n_outputs)).astype(np.float64)
    else:
        y = rng.normal(size=(n_samples, net.n_outputs))
    return net, X, y


def _well_posed(net, X, l1):
    """True when no ReLU pre-activation (nor, with l1, any weight) is within
    ``KINK_MARGIN`` of its kink, and no ReLU layer is dead on every sample
    (which would make every gradient below it exactly zero: nothing to check)."""
    zs, _ = reference.feedforward(net.weights, net.biases, X, net.activations, net.leaky_slope)
    for z, name in zip(zs, net.activations):
        if name in ("relu", "leaky_relu") and np.min(np.abs(z)) <= KINK_MARGIN:
            return False
        if name == "relu" and not np.any(z > 0):
            return False
    return not (l1 > 0 and np.min(np.abs(net.parameters[net._weight_mask])) <= KINK_MARGIN)


def gradcheck(sizes, hidden_activation="sigmoid", output_activation="sigmoid", cost="quadratic", n_samples=8,
              seed=0, l2=0.0, tolerance=1e-6, l1=0.0, eps=1e-6, max_parameters=None, dtype=np.float64):
    """Gradient-check a random network of the given shape, pairing and ``dtype``.

    Draws a network (``init="nielsen"``: W ~ N(0, 1/n_in), b ~ N(0, 1)) and
    ``n_samples`` standard normal inputs from ``seed``, with targets valid
    for the pairing (class labels for a softmax output or the
    log-likelihood, uniform targets in [0, 1] for cross-entropy, standard
    normal targets for the quadratic cost), and returns
    ``check_gradient(net, X, y, l2=l2, l1=l1, eps=eps, ...)`` with
    ``tolerance`` stored for ``result.passed()``. If a ReLU pre-activation
    (or, with l1, a weight) lies within 1e-4 of its kink, where finite
    differences would be wrong, or a ReLU layer is dead on every sample (all
    gradients below it exactly zero), network and data are drawn again (up
    to 100 times), so the check is about the gradient, not about the kink.
    With ``dtype=np.float32`` the float64 network drawn is rounded to float32
    and its compiled float32 gradient is checked (against float64 finite
    differences and reference, so the errors include float32 rounding).

    ``fastbp gradcheck`` calls this and exits non-zero when
    ``not result.passed(tolerance)``.
    """
    n_samples = int(n_samples)
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1; got {n_samples}")
    rng = np.random.default_rng(seed)
    for _ in range(100):
        net, X, y = _random_problem(rng, sizes, hidden_activation, output_activation, cost, n_samples)
        if _well_posed(net, X, l1):
            break
    if np.dtype(dtype) != np.float64:
        net = _as_dtype(net, dtype)
    return check_gradient(net, X, y, l2=l2, l1=l1, eps=eps, max_parameters=max_parameters, seed=seed,
                          tolerance=tolerance)
