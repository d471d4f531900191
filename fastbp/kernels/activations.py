"""Activation functions and their derivatives, one row of a batch at a time.

Derivatives are computed from the activation's *output* a = f(z), which every
activation here allows (sigmoid: a(1-a), tanh: 1-a², relu: [a>0], leaky relu:
1 or the slope, identity: 1). The backward pass therefore never stores z for
hidden layers and never calls exp again.
"""

import numpy as np
from numba import njit

from .._config import JIT
from .codes import LEAKY_RELU, RELU, SIGMOID, SOFTMAX, TANH


@njit(**JIT)
def activate_row(z, a, act, leak):
    """a[k] = f(z[k]) for one sample; z, a are 1-D of the same float dtype."""
    n = z.shape[0]
    one = z.dtype.type(1.0)
    zero = z.dtype.type(0.0)
    if act == SIGMOID:
        # Stable on both sides: exp only ever sees -|z|, so |z| up to 1e4 and
        # beyond neither overflows nor loses the tiny tail.
        for k in range(n):
            e = np.exp(-abs(z[k]))
            if z[k] >= zero:
                a[k] = one / (one + e)
            else:
                a[k] = e / (one + e)
    elif act == TANH:
        for k in range(n):
            a[k] = np.tanh(z[k])
    elif act == RELU:
        for k in range(n):
            a[k] = z[k] if z[k] > zero else zero
    elif act == LEAKY_RELU:
        for k in range(n):
            a[k] = z[k] if z[k] > zero else leak * z[k]
    elif act == SOFTMAX:
        m = z[0]
        for k in range(1, n):
            if z[k] > m:
                m = z[k]
        s = zero
        for k in range(n):
            a[k] = np.exp(z[k] - m)
            s += a[k]
        inv = one / s
        for k in range(n):
            a[k] *= inv
    else:  # IDENTITY
        for k in range(n):
            a[k] = z[k]


@njit(**JIT)
def scale_by_derivative(d, a, act, leak, a_scale):
    """d[k] *= f'(z[k]), with f' written in terms of a = f(z) = a[k]·a_scale.

    ``a_scale`` undoes a scaling of the stored activations (inverted dropout
    stores a/keep; pass keep), and is 1 otherwise. Element-wise activations
    only; the softmax Jacobian is applied where the output error is formed
    (see ``costs.output_delta``).
    """
    n = d.shape[0]
    one = d.dtype.type(1.0)
    zero = d.dtype.type(0.0)
    if act == SIGMOID:
        for k in range(n):
            s = a[k] * a_scale
            d[k] *= s * (one - s)
    elif act == TANH:
        for k in range(n):
            t = a[k] * a_scale
            d[k] *= one - t * t
    elif act == RELU:
        for k in range(n):
            if a[k] <= zero:
                d[k] = zero
    elif act == LEAKY_RELU:
        # The slope is positive, so a > 0 exactly where z > 0.
        for k in range(n):
            if a[k] <= zero:
                d[k] *= leak
    # IDENTITY: f' = 1, nothing to do.


@njit(**JIT)
def activate_rows(Z, A, act, leak):
    """A = f(Z) row by row; Z, A are (n_samples, n_units)."""
    for i in range(Z.shape[0]):
        activate_row(Z[i], A[i], act, leak)
