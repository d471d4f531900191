"""Plain-numpy backpropagation, written to be obviously right.

No numba here. One layer at a time, in the notation of Nielsen's chapter 2,
with samples as rows (so a batch is a matrix and the equations are
transposed relative to his column vectors):

    z^l = a^{l-1} (W^l)ᵀ + b^l,     a^l = f_l(z^l)
    BP1   δ^L = ∇_a C ⊙ f_L'(z^L)
    BP2   δ^l = (δ^{l+1} W^{l+1}) ⊙ f_l'(z^l)
    BP3   ∂C/∂b^l = Σ_x δ^l_x
    BP4   ∂C/∂W^l = (δ^l)ᵀ a^{l-1}

Costs are weighted means over the samples (weights default to 1) plus the L2
term λ/(2n) Σ_l ‖W^l‖² (biases excluded). ``weights[l]`` is (n_out, n_in),
``biases[l]`` is (n_out,), X is (n, n_in), Y is (n, n_out). The tests compare
every compiled kernel against these functions and these functions against
finite differences.
"""

import numpy as np

__all__ = [
    "activation", "activation_prime", "sample_costs", "output_error", "feedforward",
    "total_cost", "backprop", "sgd_epoch",
]


def _sigmoid(z):
    # exp only sees -|z|: no overflow for any finite z.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def activation(z, name, leak=0.01):
    """f(z) for an activation name; z is (n, units), any float dtype."""
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, leak * z).astype(z.dtype, copy=False)
    if name == "identity":
        return z.copy()
    if name == "softmax":
        return _softmax(z)
    if name == "exp":
        return np.exp(z)
    raise ValueError(f"unknown activation {name!r}")


def activation_prime(z, name, leak=0.01):
    """f'(z) element-wise, computed from z (softmax has no element-wise form)."""
    if name == "sigmoid":
        s = _sigmoid(z)
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, leak).astype(z.dtype)
    if name == "identity":
        return np.ones_like(z)
    if name == "exp":
        return np.exp(z)
    raise ValueError(f"no element-wise derivative for {name!r}")


def sample_costs(z, a, y, cost):
    """C_x for each row: (n,) float64.

    quadratic      ½‖a − y‖²
    cross_entropy  −Σ_j [y ln a + (1 − y) ln(1 − a)], with −ln σ(z) = ln(1 + e^{−z})
                   evaluated as logaddexp so it stays finite when a rounds to 0 or 1
    log_likelihood −Σ_j y_j ln softmax(z)_j
    poisson        Σ_j [e^z − y z + y ln y − y]: half the Poisson deviance of the rate a = e^z
    """
    z, a, y = (np.asarray(v, dtype=np.float64) for v in (z, a, y))
    if cost == "quadratic":
        return 0.5 * np.sum((a - y) ** 2, axis=1)
    if cost == "cross_entropy":
        return np.sum(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z), axis=1)
    if cost == "log_likelihood":
        m = z.max(axis=1, keepdims=True)
        log_softmax = z - (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))
        return -np.sum(y * log_softmax, axis=1)
    if cost == "poisson":
        y_log_y = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)
        return np.sum(np.exp(z) - y * z + y_log_y - y, axis=1)
    raise ValueError(f"unknown cost {cost!r}")


def output_error(z, a, y, cost, output, leak=0.01):
    """BP1: δ^L = ∂C_x/∂z^L for each row, (n, n_out).

    quadratic:   ∇_a C = a − y, times f'(z), or times the softmax Jacobian
                 diag(a) − a aᵀ for a softmax output;
    cross_entropy with sigmoid:  (a − y)/(a(1 − a)) · a(1 − a) = a − y;
    log_likelihood with softmax: −y + a Σ_j y_j  (= a − y for one-hot y);
    poisson with exp:            (1 − y/a) · a = a − y.
    """
    if cost == "quadratic":
        grad_a = a - y
        if output == "softmax":
            jacobian = np.einsum("ij,jk->ijk", a, np.eye(a.shape[1])) - np.einsum("ij,ik->ijk", a, a)
            return np.einsum("ijk,ik->ij", jacobian, grad_a)
        return grad_a * activation_prime(z, output, leak)
    if cost == "cross_entropy" and output == "sigmoid":
        return a - y
    if cost == "log_likelihood" and output == "softmax":
        return a * y.sum(axis=1, keepdims=True) - y
    if cost == "poisson" and output == "exp":
        return a - y
    raise ValueError(f"cost {cost!r} is not defined for a {output!r} output")


def feedforward(weights, biases, X, activations, leak=0.01):
    """Return (zs, activations_out): per-layer z^l and a^l, with a^0 = X first."""
    a = X
    zs, outs = [], [X]
    for W, b, name in zip(weights, biases, activations):
        z = a @ W.T + b
        a = activation(z, name, leak)
        zs.append(z)
        outs.append(a)
    return zs, outs


def _mean_weights(n, sample_weight, dtype):
    s = np.ones(n, dtype=np.float64) if sample_weight is None else np.asarray(sample_weight, np.float64)
    return s / s.sum()


def total_cost(weights, biases, X, Y, activations, cost, l2=0.0, sample_weight=None,
               n_total=None, leak=0.01):
    """Σ_x s_x C_x / Σ_x s_x + λ/(2n) Σ‖W‖²  as a float (n = n_total or len(X))."""
    zs, outs = feedforward(weights, biases, X, activations, leak)
    c = sample_costs(zs[-1], outs[-1], Y, cost)
    data = float(np.dot(_mean_weights(len(X), sample_weight, X.dtype), c))
    n = len(X) if n_total is None else n_total
    return data + 0.5 * (l2 / n) * sum(float(np.sum(np.asarray(W, np.float64) ** 2)) for W in weights)


def backprop(weights, biases, X, Y, activations, cost, l2=0.0, sample_weight=None,
             n_total=None, leak=0.01):
    """Gradient of ``total_cost``: returns (nabla_w, nabla_b) lists like weights, biases."""
    zs, outs = feedforward(weights, biases, X, activations, leak)
    scale = _mean_weights(len(X), sample_weight, X.dtype).astype(X.dtype)[:, None]
    n = len(X) if n_total is None else n_total
    nabla_w = [None] * len(weights)
    nabla_b = [None] * len(weights)
    delta = output_error(zs[-1], outs[-1], Y, cost, activations[-1], leak) * scale   # BP1
    for l in range(len(weights) - 1, -1, -1):
        nabla_b[l] = delta.sum(axis=0)                                             # BP3
        nabla_w[l] = delta.T @ outs[l] + (l2 / n) * weights[l]                     # BP4 + L2
        if l > 0:
            delta = (delta @ weights[l]) * activation_prime(zs[l - 1], activations[l - 1], leak)  # BP2
    return nabla_w, nabla_b


def sgd_epoch(weights, biases, X, Y, activations, cost, order, batch_size, learning_rate,
              l2=0.0, sample_weight=None, leak=0.01):
    """One epoch of mini-batch SGD in place, batches taken from ``order`` in turn.

    Each step uses the batch's weighted-mean gradient plus (λ/n)W with n = len(X),
    which is Nielsen's update w -> (1 − ηλ/n) w − (η/m) Σ ∇C_x. A batch whose
    sample weights sum to 0 is skipped.
    """
    sw = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        if sw[rows].sum() == 0:
            continue
        nabla_w, nabla_b = backprop(weights, biases, X[rows], Y[rows], activations, cost,
                                    l2=l2, sample_weight=sw[rows], n_total=len(X), leak=leak)
        for l in range(len(weights)):
            weights[l] -= learning_rate * nabla_w[l]
            biases[l] -= learning_rate * nabla_b[l]
    return weights, biases
