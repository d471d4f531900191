"""The epoch with each mini-batch computed by several threads, deterministically.

Two parallel loops per mini-batch, neither calling BLAS (its threads would
multiply with numba's):

A. ``prange`` over tasks = blocks of rows of the weight matrices: each task
   applies the previous mini-batch's update to exactly its parameters (the
   gradient Σ_shards Σ_rows δ aᵀ, shards in order, rows in order), and a
   first-layer task then computes its columns of z¹ for the next mini-batch
   with the rows it just updated.
B. ``prange`` over a fixed number of shards of the mini-batch's rows (fixed
   by the caller, not the thread count): each shard applies the first
   layer's activation to its rows, runs the rest of the forward pass, the
   output error and BP2 into its own work buffers, and hands its rows of
   the results back (below).

Every parameter's gradient is therefore summed by one task in one fixed
order, whatever the number of threads: the same seed gives bit-identical
weights on 1, 2 or 64 threads. There are no per-shard gradient buffers to
clear and reduce (a first design with them spent more on zeroing and
summing 4 x 79,510 parameters per 32-row batch than threads saved).

The phases hand the batch over through one batch-wide buffer
(``batch_work``): A writes z¹ there, each shard reads its rows of it and
writes back its errors and hidden activations, so that A's products and
gradients run over the whole batch as one block of rows. With each shard's
rows in its own buffer instead, those kernels ran over 8-row pieces, and
W2 float32 epochs took 1.12x as long on one thread and on two (alternating
in one process, medians of 9, bit-identical weights).

Why the first layer's forward product goes with the update (A) rather than
with the shards (B): its weights are the biggest array, and each thread
then only ever touches its own block of them. With the product in the
shards, every thread read all of W¹ right after the other had written half
of it, and the cache lines moved between the cores twice per mini-batch:
on [784, 100, 10] the first update pass after the shards took 110 ms an
epoch on 2 threads, a second identical pass 71 ms.
"""

import numpy as np
from numba import njit, prange

from .._config import JIT, JIT_INLINE, JIT_PARALLEL
from .activations import activate_rows
from .codes import ADAM, B_OFF, MOMENTUM, N_IN, N_OUT, NESTEROV, SGD, UNIT_OFF, W_OFF
from .dense import dense_products, shard_bounds, weight_gradient
from .fpu import flush_subnormals, restore_fp_mode
from .propagate import (
    _error_below,
    apply_dropout,
    count_correct,
    layer_params,
    layer_units,
    n_units,
    nonfinite_probe,
    output_error,
    total_sample_weight,
    work_capacity,
)
from .update import adam_rate, hyperparameters
from .views import view_1d, view_2d


@njit(**JIT)
def _shard(shard_work, s):
    """Shard s's (Zw, Aw, Dw, Gw, Sw) work tuple (propagate.py's layout): row s
    of each (n_shards, width) buffer, as views without reference counts."""
    Z2, A2, D2, G2, S2 = shard_work
    return (view_1d(Z2, s * Z2.shape[1], Z2.shape[1]), view_1d(A2, s * A2.shape[1], A2.shape[1]),
            view_1d(D2, s * D2.shape[1], D2.shape[1]), view_1d(G2, s * G2.shape[1], G2.shape[1]),
            view_1d(S2, s * S2.shape[1], S2.shape[1]))


@njit(**JIT)
def apply_rule(theta, grad, first, second, lo, hi, opt, lr, l2n, l1n, mu, beta1, beta2, eps, lr_t):
    """One step of rule ``opt`` on theta[lo:hi] with gradient grad[lo:hi] plus
    (λ2/n)w + (λ1/n)sign(w) (pass l2n = l1n = 0 for biases); see update.py."""
    one = theta.dtype.type(1.0)
    zero = theta.dtype.type(0.0)
    tiny = theta.dtype.type(1.1754944e-38)
    for k in range(lo, hi):
        w = theta[k]
        g = grad[k] + l2n * w + (l1n if w > zero else (-l1n if w < zero else zero))
        if opt == MOMENTUM or opt == NESTEROV:
            f = mu * first[k] - lr * g
            f = zero if abs(f) < tiny else f
            first[k] = f
            theta[k] = w + (f if opt == MOMENTUM else mu * f - lr * g)
        elif opt == ADAM:
            m = beta1 * first[k] + (one - beta1) * g
            v = beta2 * second[k] + (one - beta2) * g * g
            m = zero if abs(m) < tiny else m
            v = zero if v < tiny else v
            first[k] = m
            second[k] = v
            theta[k] = w - lr_t * m / (np.sqrt(v) + eps)
        else:
            theta[k] = w - lr * g


#: The parts of batch_work (train_epoch_parallel), in order, and how many.
ERRORS, ACTIVATIONS, FIRST_Z = 0, 1, 2
BATCH_PARTS = 3


@njit(**JIT_INLINE)
def _batch_block(layout, batch_rows, part, layer):
    """Where layer ``layer``'s (batch_rows, n_out) block of ``part`` starts in batch_work."""
    return batch_rows * (part * n_units(layout) + layout[layer, UNIT_OFF])


@njit(**JIT_INLINE)
def _copy_scaled(src, src_at, dst, dst_at, n, scale):
    """dst's elements dst_at.. ← scale · src's elements src_at.. (n of each,
    flat C order; scale 1 copies exactly)."""
    source = view_1d(src, src_at, n)
    target = view_1d(dst, dst_at, n)
    for k in range(n):
        target[k] = source[k] * scale


# _task_update and _task_forward are inlined into phase A's prange body: one
# library level fewer for LLVM to re-optimise (README "Performance").
@njit(**JIT_INLINE)
def _task_update(theta, layout, X, rows, batch_work, task, batch_rows, fused, opt, lr, keep_w, shrink,
                 l2n, l1n, mu, beta1, beta2, eps, lr_t, grad, first, second):
    """Phase A's update of one block of output units of one layer (see module docstring)."""
    layer, j0, j1 = task[0], task[1], task[2]
    zero = theta.dtype.type(0.0)
    size = rows.shape[0]
    n_in = layout[layer, N_IN]
    W, b = layer_params(theta, layout, layer)
    if fused:
        # L2 decay and L1 shrink of these rows, then W += Σ (-lr δ) aᵀ (δ came pre-scaled)
        if keep_w != theta.dtype.type(1.0) or shrink != zero:
            for j in range(j0, j1):
                for k in range(n_in):
                    v = W[j, k]
                    W[j, k] = keep_w * v - (shrink if v > zero else (-shrink if v < zero else zero))
        target_w, target_b = W, b
    else:
        target_w, target_b = layer_params(grad, layout, layer)
        for j in range(j0, j1):
            for k in range(n_in):
                target_w[j, k] = zero
            target_b[j] = zero
    # The whole batch's rows, gathered by the shards, in one pass over each
    # block of W (kernels/simd.py).
    d_off = _batch_block(layout, batch_rows, ERRORS, layer)
    # One call with run-time arguments: literal ones (0, True / False) would
    # compile weight_gradient twice.
    if layer == 0:
        src, src_off = X, np.int64(0)
    else:
        src, src_off = batch_work, _batch_block(layout, batch_rows, ACTIVATIONS, layer - 1)
    weight_gradient(target_w, target_b, batch_work, d_off, src, rows, src_off, layer == 0, size, j0, j1)
    if not fused:
        w0 = layout[layer, W_OFF] + j0 * n_in
        apply_rule(theta, grad, first, second, w0, w0 + (j1 - j0) * n_in, opt, lr, l2n, l1n, mu, beta1, beta2,
                   eps, lr_t)
        b0 = layout[layer, B_OFF] + j0
        apply_rule(theta, grad, first, second, b0, b0 + (j1 - j0), opt, lr, zero, zero, mu, beta1, beta2, eps,
                   lr_t)


@njit(**JIT_INLINE)
def _task_forward(theta, layout, X, rows, batch_work, task, batch_rows):
    """Phase A for a first-layer task: z¹[:, j0:j1] of the mini-batch ``rows``,
    into batch_work's z¹ block (products only: the activation may be a
    softmax over all units, so the shards apply it)."""
    layer, j0, j1 = task[0], task[1], task[2]
    if layer != 0:
        return
    W, b = layer_params(theta, layout, 0)
    Z = view_2d(batch_work, _batch_block(layout, batch_rows, FIRST_Z, 0), rows.shape[0], layout[0, N_OUT])
    dense_products(X, rows, W, b, Z, j0, j1)


@njit(**JIT_PARALLEL)
def train_epoch_parallel(theta, layout, acts, leak, cost, X, Y, sw, labels, order, batch_size,
                         opt, hyper, first, second, step, grad, mask, ident, shard_work, batch_work, blas_off,
                         tasks):
    """``epoch.train_epoch`` with each mini-batch split over threads (module docstring).

    shard_work: (Z2, A2, D2, G2, S2), 2-D arrays whose row s is shard s's work
    buffer (propagate.py's layout), each holding ceil(batch_size / n_shards)
    rows; the number of shards is Z2.shape[0]. blas_off: zero flags (loops
    only). batch_work: (1, 3 · B · n_units) with B = n_shards · rows per
    shard: the mini-batch's errors (scaled by -lr for plain SGD), then its
    hidden activations, then its z¹, each layer a contiguous (B, n_out)
    block (module docstring). tasks: (n_tasks, 3) int64 rows (layer, first
    unit, end unit) covering every output unit of every layer once. grad:
    (n_parameters,), or empty for plain SGD fused into the weight gradient
    (on the epochs training.fuses_sgd_step allows). Returns what
    train_epoch returns.
    """
    saved_mode = flush_subnormals()
    dt = theta.dtype.type
    lr, l2n, l1n, mu, beta1, beta2, eps, keep = hyperparameters(hyper, theta)
    keep_w = dt(1.0) - lr * l2n
    shrink = lr * l1n
    fused = opt == SGD and grad.shape[0] == 0      # training.fuses_sgd_step
    n_shards = shard_work[0].shape[0]
    n_layers = layout.shape[0]
    last = n_layers - 1
    cap = work_capacity(shard_work[0][0], layout)
    batch_rows = n_shards * cap
    shard_cost = np.zeros(n_shards)
    shard_correct = np.zeros(n_shards, dtype=np.int64)
    with_labels = labels.shape[0] > 0
    dropout = mask is not None and mask.shape[0] > 0 and last > 0
    n = order.shape[0]
    weighted_cost = 0.0
    total_weight = 0.0
    correct = 0
    batches = 0
    # The mini-batch whose update is pending: phase B done, phase A not yet.
    pending = False
    prev_rows = view_1d(order, 0, 0)
    prev_cost = 0.0
    prev_weight = 0.0
    prev_correct = 0
    start = 0
    while True:
        # The next mini-batch that weighs anything (the others are only checked for NaN/inf).
        has_next = False
        bad_input = False
        rows = view_1d(order, 0, 0)
        batch_weight = 0.0
        while start < n:
            stop = min(start + batch_size, n)
            rows = view_1d(order, start, stop - start)
            start = stop
            batch_weight = total_sample_weight(sw, rows)
            if batch_weight != 0.0:
                has_next = True
                break
            weighted_cost += nonfinite_probe(X, rows)
            batches += 1
            if not np.isfinite(weighted_cost):
                bad_input = True
                break
        if bad_input:
            break
        lr_t = lr
        if pending and opt == ADAM:
            step[0] += 1
            lr_t = adam_rate(lr, beta1, beta2, step[0])
        # A: the pending update, then the next mini-batch's first-layer products.
        for t in prange(tasks.shape[0]):
            mode = flush_subnormals()          # each worker thread flushes subnormals too
            if pending:
                _task_update(theta, layout, X, prev_rows, batch_work, tasks[t], batch_rows, fused, opt, lr,
                             keep_w, shrink, l2n, l1n, mu, beta1, beta2, eps, lr_t, grad, first, second)
            if has_next:
                _task_forward(theta, layout, X, rows, batch_work, tasks[t], batch_rows)
            restore_fp_mode(mode)
        if pending:
            weighted_cost += prev_cost
            if not np.isfinite(prev_cost):
                break
            correct += prev_correct
            total_weight += prev_weight
            batches += 1
        if not has_next:
            break
        # B: per shard, the first layer's activation, the rest of the forward pass, BP1 and BP2.
        inv_weight = dt(1.0 / batch_weight)
        size = rows.shape[0]
        for s in prange(n_shards):
            mode = flush_subnormals()
            lo, hi = shard_bounds(s, cap, size)
            shard_cost[s] = 0.0
            shard_correct[s] = 0
            if hi > lo:
                shard_rows = view_1d(rows, lo, hi - lo)
                work = _shard(shard_work, np.int64(s))   # the prange index is unsigned here
                A0 = layer_units(work[1], layout, 0, cap)
                n_first = layout[0, N_OUT]
                Z0 = view_2d(batch_work, _batch_block(layout, batch_rows, FIRST_Z, 0) + lo * n_first, hi - lo, n_first)
                activate_rows(Z0, A0, hi - lo, acts[0], leak)
                if last == 0:
                    # The output layer: its cost reads z from the shard's own buffer (copied in a loop:
                    # the slice assignment Z[:k] = Z0 read stale values in this prange body).
                    _copy_scaled(batch_work, _batch_block(layout, batch_rows, FIRST_Z, 0) + lo * n_first, work[0],
                                 0, (hi - lo) * n_first, dt(1.0))
                if dropout:
                    apply_dropout(A0[:hi - lo], mask, shard_rows, layout[0, UNIT_OFF], keep)
                shard_cost[s] = output_error(theta, layout, acts, leak, cost, X, Y, sw, shard_rows, ident,
                                             inv_weight, work, blas_off, mask, keep, 1)
                shard_cost[s] += nonfinite_probe(Z0, view_1d(ident, 0, hi - lo))   # NaN if any input was
                if with_labels:
                    shard_correct[s] = count_correct(layer_units(work[1], layout, last, cap), labels, shard_rows)
                for layer in range(last, 0, -1):
                    _error_below(theta, layout, acts, leak, work, blas_off, layer, hi - lo, shard_rows, mask, keep)
                # Rows lo..hi of the batch-wide blocks (module docstring).
                scale = -lr if fused else dt(1.0)
                for layer in range(n_layers):
                    n_out = layout[layer, N_OUT]
                    own = cap * layout[layer, UNIT_OFF]        # the layer's block in the shard's buffers
                    rows_at = lo * n_out
                    _copy_scaled(work[2], own, batch_work, _batch_block(layout, batch_rows, ERRORS, layer) + rows_at,
                                 (hi - lo) * n_out, scale)
                    if layer < last:
                        _copy_scaled(work[1], own, batch_work,
                                     _batch_block(layout, batch_rows, ACTIVATIONS, layer) + rows_at,
                                     (hi - lo) * n_out, dt(1.0))
            restore_fp_mode(mode)
        prev_cost = 0.0
        prev_correct = 0
        for s in range(n_shards):
            prev_cost += shard_cost[s]
            prev_correct += shard_correct[s]
        prev_rows = rows
        prev_weight = batch_weight
        pending = True
    restore_fp_mode(saved_mode)
    return weighted_cost, total_weight, correct, batches
