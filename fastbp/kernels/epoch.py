"""The fused training epoch: every mini-batch in compiled code."""

import numpy as np
from numba import njit

from .._config import JIT
from .fpu import flush_subnormals, restore_fp_mode
from .prefetch import prefetch_rows
from .propagate import (
    backward_gradient,
    count_correct,
    input_probe,
    layer_units,
    nonfinite_probe,
    output_error,
    sgd_backward,
    total_sample_weight,
    work_capacity,
)
from .update import hyperparameters, optimizer_step, regularised_gradient
from .views import view_1d


@njit(**JIT)
def train_epoch(theta, layout, acts, leak, cost, X, Y, sw, labels, order, batch_size,
                opt, hyper, first, second, step, grad, mask, ident, work, blas):
    """One epoch of mini-batch training over the rows in ``order`` (a permutation).

    Mini-batches are consecutive slices of ``order``; the last may be short.
    Each step uses the weighted-mean gradient of its batch (sw-weighted; a
    batch whose weights sum to 0 is skipped) plus the L2/L1 terms, with the
    update rule ``opt`` (codes.SGD, MOMENTUM, NESTEROV, ADAM). ``hyper`` is
    the float64 vector indexed by codes.H_*: learning rate, λ2/n, λ1/n,
    momentum, β1, β2, ε, dropout keep probability. ``grad`` None means plain
    SGD (``opt`` must be codes.SGD) fused into the weight-gradient product,
    with no gradient buffer (training.fuses_sgd_step says when that is
    accurate); otherwise each step fills ``grad``
    (n_parameters,) and applies rule ``opt``, updating ``first``/``second``/
    ``step`` (see update.optimizer_step). mask: (n_samples, hidden units)
    uint8 dropout mask for this epoch, or None for no dropout. numba prunes
    the ``is None`` branches before typing, so the common cases (SGD, no
    dropout) compile without the code of the others. ``work``/``blas``: see propagate.py; the
    work buffers must hold ``batch_size`` rows. Nothing is allocated here.
    Subnormals flush to zero meanwhile (fpu.py).

    Returns (Σ sw·C, Σ sw, number correct, batches done). Σ sw·C is taken
    before each batch's step, as a running training cost. The epoch stops at
    the first batch whose cost is not finite, or whose rows of X hold a NaN
    or infinity (that batch's step has been applied: callers restore the
    state they saved before the epoch).
    """
    saved_mode = flush_subnormals()
    dt = theta.dtype.type
    lr, l2n, l1n, mu, beta1, beta2, eps, keep = hyperparameters(hyper, theta)
    keep_w = dt(1.0) - lr * l2n
    shrink = lr * l1n

    n = order.shape[0]
    last = layout.shape[0] - 1
    cap = work_capacity(work[0], layout)
    with_labels = labels.shape[0] > 0
    weighted_cost = 0.0
    total_weight = 0.0
    correct = 0
    batches = 0
    for start in range(0, n, batch_size):
        rows = view_1d(order, start, min(start + batch_size, n) - start)
        if start + batch_size < n:
            # The next batch's targets, weights and labels: short rows at random, each a cache miss when read.
            following = min(start + 2 * batch_size, n)
            prefetch_rows(sw, order, start + batch_size, following)
            if Y.shape[0] > 0:
                prefetch_rows(Y, order, start + batch_size, following)
            if with_labels:
                prefetch_rows(labels, order, start + batch_size, following)
        batch_weight = total_sample_weight(sw, rows)
        if batch_weight == 0.0:
            weighted_cost += nonfinite_probe(X, rows)
            if not np.isfinite(weighted_cost):
                break
            batches += 1
            continue
        inv_weight = dt(1.0 / batch_weight)
        # One forward pass and BP1 for every rule (inlined once: compile time).
        c = output_error(theta, layout, acts, leak, cost, X, Y, sw, rows, ident, inv_weight, work, blas,
                         mask, keep, 0)
        c += input_probe(ident, work, layout, rows.shape[0])     # NaN/inf in X stops the epoch
        if grad is None:
            sgd_backward(theta, layout, acts, leak, X, rows, ident, lr, keep_w, shrink, work, blas, mask, keep)
        else:
            grad[:] = 0
            backward_gradient(theta, layout, acts, leak, X, rows, ident, work, blas, grad, mask, keep)
            regularised_gradient(grad, theta, layout, l2n, l1n)
            optimizer_step(theta, grad, opt, lr, mu, beta1, beta2, eps, first, second, step)
        weighted_cost += c
        if not np.isfinite(c):
            break
        if with_labels:
            correct += count_correct(layer_units(work[1], layout, last, cap), labels, rows)
        total_weight += batch_weight
        batches += 1
    restore_fp_mode(saved_mode)
    return weighted_cost, total_weight, correct, batches
