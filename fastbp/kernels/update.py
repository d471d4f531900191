"""Parameter updates on the flat buffer: SGD, momentum, Nesterov, Adam.

Every rule sees the gradient of the regularised cost: for weights (never
biases) the data gradient plus (λ2/n)·w plus (λ1/n)·sign(w). Velocity and
moment buffers share the parameters' layout. The momentum rules are
scikit-learn's (so its users get the same trajectories):
v ← μv − ηg, then θ ← θ + v (classical) or θ ← θ + μv − ηg (Nesterov).
Adam (Kingma & Ba, with bias correction):
m ← β1 m + (1−β1) g, v ← β2 v + (1−β2) g², θ ← θ − η_t m/(√v + ε),
η_t = η √(1−β2^t)/(1−β1^t).
"""

import numpy as np
from numba import njit

from .._config import JIT, JIT_INLINE
from .codes import ADAM, B_OFF, H_BETA1, H_BETA2, H_EPS, H_KEEP, H_L1, H_L2, H_LR, H_MU, MOMENTUM, NESTEROV, W_OFF


@njit(**JIT_INLINE)
def hyperparameters(hyper, theta):
    """The float64 vector of codes.H_* slots as scalars of theta's dtype:
    (lr, λ2/n, λ1/n, μ, β1, β2, ε, dropout keep probability)."""
    dt = theta.dtype.type
    return (dt(hyper[H_LR]), dt(hyper[H_L2]), dt(hyper[H_L1]), dt(hyper[H_MU]), dt(hyper[H_BETA1]),
            dt(hyper[H_BETA2]), dt(hyper[H_EPS]), dt(hyper[H_KEEP]))


@njit(**JIT_INLINE)
def adam_rate(lr, beta1, beta2, step):
    """Adam's bias-corrected step size η√(1−β2^t)/(1−β1^t) after ``step`` updates."""
    one = type(lr)(1.0)
    t = type(lr)(step)
    return lr * np.sqrt(one - beta2 ** t) / (one - beta1 ** t)


@njit(**JIT)
def regularised_gradient(grad, theta, layout, l2n, l1n):
    """grad += (λ2/n)·w + (λ1/n)·sign(w) on the weights of every layer."""
    zero = theta.dtype.type(0.0)
    for layer in range(layout.shape[0]):
        # 0-based slices: numba then knows indices are non-negative and LLVM vectorises.
        w = theta[layout[layer, W_OFF]:layout[layer, B_OFF]]
        g = grad[layout[layer, W_OFF]:layout[layer, B_OFF]]
        if l2n != zero:
            for k in range(w.shape[0]):
                g[k] += l2n * w[k]
        if l1n != zero:
            for k in range(w.shape[0]):
                g[k] += l1n if w[k] > zero else (-l1n if w[k] < zero else zero)


@njit(**JIT)
def optimizer_step(theta, grad, opt, lr, mu, beta1, beta2, eps, first, second, step):
    """Apply one update of rule ``opt`` with the (regularised) gradient ``grad``.

    first: velocity (momentum, Nesterov) or first moment (Adam); second: Adam's
    second moment; both (n_parameters,) of theta's dtype. step: int64 array of
    one element, Adam's t, incremented here. lr, mu, beta1, beta2, eps are
    scalars of theta's dtype.
    """
    one = theta.dtype.type(1.0)
    zero = theta.dtype.type(0.0)
    # Moments of parameters whose gradient is exactly 0 (saturated or dead
    # units) decay geometrically into subnormal numbers, which cost ~100x per
    # operation on x86: flush them to 0 below float32's smallest normal.
    # Written as "zero if x < tiny": a NaN fails that comparison and stays NaN,
    # so the divergence check sees it (a NaN moment used to become 0).
    tiny = theta.dtype.type(1.1754944e-38)
    n = theta.shape[0]
    if opt == MOMENTUM or opt == NESTEROV:
        for k in range(n):
            f = mu * first[k] - lr * grad[k]
            first[k] = zero if abs(f) < tiny else f
        if opt == MOMENTUM:
            for k in range(n):
                theta[k] += first[k]
        else:
            for k in range(n):
                theta[k] += mu * first[k] - lr * grad[k]
    elif opt == ADAM:
        step[0] += 1
        lr_t = adam_rate(lr, beta1, beta2, step[0])
        for k in range(n):
            g = grad[k]
            m = beta1 * first[k] + (one - beta1) * g
            v = beta2 * second[k] + (one - beta2) * g * g
            m = zero if abs(m) < tiny else m
            v = zero if v < tiny else v
            first[k] = m
            second[k] = v
            theta[k] -= lr_t * m / (np.sqrt(v) + eps)
    else:  # SGD
        for k in range(n):
            theta[k] -= lr * grad[k]
