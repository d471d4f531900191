"""Per-sample costs and the output error delta^L (BP1), one row at a time.

Costs are evaluated from z as well as a, so they stay finite where the
activation saturates (log of a sigmoid that rounded to exactly 1.0).
"""

import numpy as np
from numba import njit

from .._config import JIT
from .activations import scale_by_derivative
from .codes import CROSS_ENTROPY, QUADRATIC, SOFTMAX


@njit(**JIT)
def cost_of(z, a, y, cost):
    """C_x for one sample as a float64; z, a, y are 1-D rows of one dtype.

    quadratic:      ½ Σ (a - y)²                                 (Nielsen)
    cross_entropy:  Σ y·softplus(-z) + (1-y)·softplus(z)         = -Σ y ln a + (1-y) ln(1-a)
    log_likelihood: Σ y·(logsumexp(z) - z)                        = -Σ y ln softmax(z)
    """
    n = z.shape[0]
    c = 0.0
    if cost == QUADRATIC:
        for k in range(n):
            diff = np.float64(a[k]) - np.float64(y[k])
            c += diff * diff
        return 0.5 * c
    if cost == CROSS_ENTROPY:
        for k in range(n):
            zk = np.float64(z[k])
            yk = np.float64(y[k])
            tail = np.log1p(np.exp(-abs(zk)))
            softplus_pos = max(zk, 0.0) + tail
            softplus_neg = max(-zk, 0.0) + tail
            c += yk * softplus_neg + (1.0 - yk) * softplus_pos
        return c
    # LOG_LIKELIHOOD
    m = np.float64(z[0])
    for k in range(1, n):
        if z[k] > m:
            m = np.float64(z[k])
    s = 0.0
    for k in range(n):
        s += np.exp(np.float64(z[k]) - m)
    lse = m + np.log(s)
    for k in range(n):
        c += np.float64(y[k]) * (lse - np.float64(z[k]))
    return c


@njit(**JIT)
def output_delta(a, y, cost, act, leak, scale, d):
    """d = scale · ∂C_x/∂z^L for one sample (BP1).

    quadratic:                 (a - y) ⊙ f'(z), or the softmax Jacobian applied
                               to (a - y) when the output is softmax;
    cross_entropy + sigmoid:   a - y (the σ' factors cancel);
    log_likelihood + softmax:  a·Σy - y, which is a - y for one-hot targets.
    """
    n = a.shape[0]
    if cost == QUADRATIC:
        for k in range(n):
            d[k] = a[k] - y[k]
        if act == SOFTMAX:
            # (J_softmax)ᵀ g with J = diag(a) - a aᵀ:  a ⊙ (g - <g, a>)
            dot = d.dtype.type(0.0)
            for k in range(n):
                dot += d[k] * a[k]
            for k in range(n):
                d[k] = a[k] * (d[k] - dot)
        else:
            scale_by_derivative(d, a, act, leak, d.dtype.type(1.0))
    elif cost == CROSS_ENTROPY:
        for k in range(n):
            d[k] = a[k] - y[k]
    else:  # LOG_LIKELIHOOD
        total = d.dtype.type(0.0)
        for k in range(n):
            total += y[k]
        for k in range(n):
            d[k] = a[k] * total - y[k]
    for k in range(n):
        d[k] *= scale
