"""Per-sample costs and the output error delta^L (BP1), one row of a batch at a time.

Costs are evaluated from z as well as a, so they stay finite where the
activation saturates (log of a sigmoid that rounded to exactly 1.0).
"""

import numpy as np
from numba import njit

from .._config import JIT
from .activations import derivative_at
from .codes import CROSS_ENTROPY, LOG_LIKELIHOOD, POISSON, QUADRATIC, SOFTMAX
from .vexp import exp_nonpositive


@njit(**JIT)
def cost_of(Z, A, Y, i, r, cost):
    """C_x as a float64 for row i of Z and A (2-D, one dtype) against target
    row r of Y. Rows are indexed, not sliced (see activations.activate_rows).

    quadratic:      ½ Σ (a - y)²                                 (Nielsen)
    cross_entropy:  Σ y·softplus(-z) + (1-y)·softplus(z)         = -Σ y ln a + (1-y) ln(1-a)
    log_likelihood: Σ y·(logsumexp(z) - z)                        = -Σ y ln softmax(z)
    poisson:        Σ e^z - y·z + y ln y - y      (half the Poisson deviance, 0 where a = e^z = y)
    """
    n = Z.shape[1]
    c = 0.0
    if cost == QUADRATIC:
        for k in range(n):
            diff = np.float64(A[i, k]) - np.float64(Y[r, k])
            c += diff * diff
        return 0.5 * c
    if cost == CROSS_ENTROPY:
        for k in range(n):
            zk = np.float64(Z[i, k])
            yk = np.float64(Y[r, k])
            tail = np.log1p(np.exp(-abs(zk)))
            softplus_pos = max(zk, 0.0) + tail
            softplus_neg = max(-zk, 0.0) + tail
            c += yk * softplus_neg + (1.0 - yk) * softplus_pos
        return c
    if cost == POISSON:
        for k in range(n):
            zk = np.float64(Z[i, k])
            yk = np.float64(Y[r, k])
            c += np.exp(zk) - yk * zk
            if yk > 0.0:
                c += yk * np.log(yk) - yk
        return c
    # LOG_LIKELIHOOD
    m = np.float64(Z[i, 0])
    for k in range(1, n):
        if Z[i, k] > m:
            m = np.float64(Z[i, k])
    s = 0.0
    for k in range(n):
        s += exp_nonpositive(np.float64(Z[i, k]) - m)
    lse = m + np.log(s)
    for k in range(n):
        c += np.float64(Y[r, k]) * (lse - np.float64(Z[i, k]))
    return c


@njit(**JIT)
def output_delta(A, Y, i, r, cost, act, leak, scale, D):
    """D[i] = scale · ∂C_x/∂z^L for row i of A against target row r of Y (BP1).

    quadratic:                 (a - y) ⊙ f'(z), or the softmax Jacobian applied
                               to (a - y) when the output is softmax;
    cross_entropy + sigmoid:   a - y (the σ' factors cancel);
    poisson + exp:             a - y (likewise);
    log_likelihood + softmax:  a·Σy - y, which is a - y for one-hot targets.
    """
    n = A.shape[1]
    one = D.dtype.type(1.0)
    if cost == QUADRATIC:
        if act == SOFTMAX:
            # (J_softmax)ᵀ g with J = diag(a) - a aᵀ:  a ⊙ (g - <g, a>)
            dot = D.dtype.type(0.0)
            for k in range(n):
                dot += (A[i, k] - Y[r, k]) * A[i, k]
            for k in range(n):
                D[i, k] = scale * (A[i, k] * ((A[i, k] - Y[r, k]) - dot))
        else:
            for k in range(n):
                D[i, k] = scale * ((A[i, k] - Y[r, k]) * derivative_at(A[i, k], act, leak, one))
    elif cost == LOG_LIKELIHOOD:
        total = D.dtype.type(0.0)
        for k in range(n):
            total += Y[r, k]
        for k in range(n):
            D[i, k] = scale * (A[i, k] * total - Y[r, k])
    else:  # CROSS_ENTROPY with sigmoid, POISSON with exp
        for k in range(n):
            D[i, k] = scale * (A[i, k] - Y[r, k])
