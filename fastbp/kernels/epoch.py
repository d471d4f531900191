"""The fused training epoch: every mini-batch in compiled code."""

import numpy as np
from numba import njit

from .._config import JIT
from .propagate import count_correct, layer_units, sgd_step, work_capacity


@njit(**JIT)
def train_epoch(theta, layout, acts, leak, cost, X, Y, sw, labels, order, batch_size,
                lr, decay, ident, Zw, Aw, Dw):
    """One epoch of mini-batch SGD over the rows in ``order`` (a permutation).

    Mini-batches are consecutive slices of ``order``; the last may be short.
    Each step moves theta along the weighted-mean gradient of its batch
    (sw-weighted; a batch whose weights sum to 0 is skipped) and shrinks the
    weights by (1 - decay), decay = lr·λ/n for L2. Work buffers must hold
    ``batch_size`` rows; nothing is allocated here.

    Returns (Σ sw·C, Σ sw, number correct, batches done). Σ sw·C is taken
    before each batch's step, as a running training cost. The epoch stops at
    the first batch whose cost is not finite (that batch's step has been
    applied: callers restore the parameters they saved before the epoch).
    """
    n = order.shape[0]
    last = layout.shape[0] - 1
    cap = work_capacity(Zw, layout)
    keep = theta.dtype.type(1.0) - decay
    with_labels = labels.shape[0] > 0
    weighted_cost = 0.0
    total_weight = 0.0
    correct = 0
    batches = 0
    for start in range(0, n, batch_size):
        rows = order[start:min(start + batch_size, n)]
        batch_weight = 0.0
        for i in range(rows.shape[0]):
            batch_weight += np.float64(sw[rows[i]])
        if batch_weight == 0.0:
            batches += 1
            continue
        c = sgd_step(theta, layout, acts, leak, cost, X, Y, sw, rows, ident,
                     theta.dtype.type(1.0 / batch_weight), lr, keep, Zw, Aw, Dw)
        weighted_cost += c
        if not np.isfinite(c):
            break
        if with_labels:
            correct += count_correct(layer_units(Aw, layout, last, cap), labels, rows)
        total_weight += batch_weight
        batches += 1
    return weighted_cost, total_weight, correct, batches
