"""The epoch with each mini-batch's gradient accumulated by several threads.

Each mini-batch is split into ``n_shards`` contiguous shards of its rows (a
number fixed by the caller, independent of the thread count); ``prange``
computes each shard's gradient into its own buffer with the loop kernels (no
BLAS call inside the parallel region: its threads would multiply with
numba's); the shards are then summed in shard order and the update applied,
in a second parallel loop over blocks of parameters. Every floating-point
sum therefore happens in the same order whatever the number of threads, so
the same seed gives bit-identical weights on 1, 2 or 64 threads.
"""

import numpy as np
from numba import njit, prange

from .._config import JIT, JIT_PARALLEL
from .codes import ADAM, H_BETA1, H_BETA2, H_EPS, H_KEEP, H_L1, H_L2, H_LR, H_MU, MOMENTUM, NESTEROV
from .fpu import flush_subnormals, restore_fp_mode
from .propagate import accumulate_gradient, count_correct, layer_units, work_capacity

#: Parameters per block of the parallel sum-and-update loop.
UPDATE_BLOCK = 4096


@njit(**JIT)
def update_block(theta, grads, weight_mask, lo, hi, opt, lr, l2n, l1n, mu, beta1, beta2, eps, lr_t,
                 first, second):
    """g = Σ_s grads[s, k] (in shard order) plus the L2/L1 terms on weights,
    then one step of rule ``opt`` on theta[k], for k in [lo, hi) (see update.py)."""
    one = theta.dtype.type(1.0)
    zero = theta.dtype.type(0.0)
    tiny = theta.dtype.type(1.1754944e-38)
    n_shards = grads.shape[0]
    for k in range(lo, hi):
        g = grads[0, k]
        for s in range(1, n_shards):
            g += grads[s, k]
        if weight_mask[k]:
            w = theta[k]
            g += l2n * w + (l1n if w > zero else (-l1n if w < zero else zero))
        if opt == MOMENTUM or opt == NESTEROV:
            f = mu * first[k] - lr * g
            f = f if abs(f) >= tiny else zero
            first[k] = f
            theta[k] += f if opt == MOMENTUM else mu * f - lr * g
        elif opt == ADAM:
            m = beta1 * first[k] + (one - beta1) * g
            v = beta2 * second[k] + (one - beta2) * g * g
            m = m if abs(m) >= tiny else zero
            v = v if v >= tiny else zero
            first[k] = m
            second[k] = v
            theta[k] -= lr_t * m / (np.sqrt(v) + eps)
        else:
            theta[k] -= lr * g


@njit(**JIT_PARALLEL)
def train_epoch_parallel(theta, layout, acts, leak, cost, X, Y, sw, labels, order, batch_size,
                         opt, hyper, first, second, step, mask, ident, shard_work, blas_off,
                         grads, weight_mask):
    """``epoch.train_epoch`` with each mini-batch's gradient split over shards.

    shard_work: (Z2, A2, D2, G2, T2), 2-D arrays whose row s is shard s's work
    buffer (see propagate.py), each holding ceil(batch_size / n_shards) rows;
    blas_off: zero flags (loops only inside prange); grads: (n_shards,
    n_parameters) per-shard gradients; weight_mask: (n_parameters,) uint8, 1
    on weights. Returns what train_epoch returns.
    """
    saved_mode = flush_subnormals()
    dt = theta.dtype.type
    lr = dt(hyper[H_LR])
    l2n = dt(hyper[H_L2])
    l1n = dt(hyper[H_L1])
    mu = dt(hyper[H_MU])
    beta1 = dt(hyper[H_BETA1])
    beta2 = dt(hyper[H_BETA2])
    eps = dt(hyper[H_EPS])
    keep = dt(hyper[H_KEEP])
    Z2, A2, D2, G2, T2 = shard_work
    n_shards = grads.shape[0]
    n_params = theta.shape[0]
    n_blocks = (n_params + UPDATE_BLOCK - 1) // UPDATE_BLOCK
    last = layout.shape[0] - 1
    cap = work_capacity(Z2[0], layout)
    shard_cost = np.zeros(n_shards)
    shard_correct = np.zeros(n_shards, dtype=np.int64)
    with_labels = labels.shape[0] > 0
    n = order.shape[0]
    weighted_cost = 0.0
    total_weight = 0.0
    correct = 0
    batches = 0
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        rows = order[start:stop]
        batch_weight = 0.0
        for i in range(rows.shape[0]):
            batch_weight += np.float64(sw[rows[i]])
        if batch_weight == 0.0:
            batches += 1
            continue
        inv_weight = dt(1.0 / batch_weight)
        size = stop - start
        for s in prange(n_shards):
            mode = flush_subnormals()          # each worker thread flushes subnormals too
            lo = (s * size) // n_shards
            hi = ((s + 1) * size) // n_shards
            g = grads[s]
            for k in range(n_params):
                g[k] = 0
            shard_cost[s] = 0.0
            shard_correct[s] = 0
            if hi > lo:
                shard_rows = rows[lo:hi]
                work = (Z2[s], A2[s], D2[s], G2[s], T2[s])
                shard_cost[s] = accumulate_gradient(theta, layout, acts, leak, cost, X, Y, sw, shard_rows,
                                                    ident, inv_weight, work, blas_off, g, mask, keep)
                if with_labels:
                    shard_correct[s] = count_correct(layer_units(A2[s], layout, last, cap), labels,
                                                     shard_rows)
            restore_fp_mode(mode)
        c = 0.0
        for s in range(n_shards):
            c += shard_cost[s]
        lr_t = lr
        if opt == ADAM:
            step[0] += 1
            t = dt(step[0])
            lr_t = lr * np.sqrt(dt(1.0) - beta2 ** t) / (dt(1.0) - beta1 ** t)
        for blk in prange(n_blocks):
            mode = flush_subnormals()
            update_block(theta, grads, weight_mask, blk * UPDATE_BLOCK, min((blk + 1) * UPDATE_BLOCK, n_params),
                         opt, lr, l2n, l1n, mu, beta1, beta2, eps, lr_t, first, second)
            restore_fp_mode(mode)
        weighted_cost += c
        if not np.isfinite(c):
            break
        for s in range(n_shards):
            correct += shard_correct[s]
        total_weight += batch_weight
        batches += 1
    restore_fp_mode(saved_mode)
    return weighted_cost, total_weight, correct, batches
