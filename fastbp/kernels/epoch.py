"""The fused training epoch: every mini-batch in compiled code."""

import numpy as np
from numba import njit

from .._config import JIT
from .propagate import accumulate_gradient, count_correct, layer_units, work_capacity
from .update import sgd_update


@njit(**JIT)
def train_epoch(theta, layout, acts, leak, cost, X, Y, sw, labels, order, batch_size,
                lr, decay, ident, Zw, Aw, Dw, grad):
    """One epoch of mini-batch SGD over the rows in ``order`` (a permutation).

    Mini-batches are consecutive slices of ``order``; the last may be short.
    Each step moves theta along the weighted-mean gradient of its batch
    (sw-weighted; a batch whose weights sum to 0 is skipped). ``decay`` is
    lr·λ/n for L2. Work buffers must hold ``batch_size`` rows; nothing is
    allocated here.

    Returns (Σ sw·C, Σ sw, number correct, batches done). Σ sw·C is taken
    before each batch's step, as a running training cost. If a batch's cost
    is not finite the epoch stops before that step, leaving theta as it was.
    """
    n = order.shape[0]
    last = layout.shape[0] - 1
    cap = work_capacity(Zw, layout)
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
        grad[:] = 0
        c = accumulate_gradient(theta, layout, acts, leak, cost, X, Y, sw, rows, ident,
                                grad.dtype.type(1.0 / batch_weight), Zw, Aw, Dw, grad)
        if not np.isfinite(c):
            weighted_cost += c
            break
        if with_labels:
            correct += count_correct(layer_units(Aw, layout, last, cap), labels, rows)
        sgd_update(theta, grad, layout, lr, decay)
        weighted_cost += c
        total_weight += batch_weight
        batches += 1
    return weighted_cost, total_weight, correct, batches
