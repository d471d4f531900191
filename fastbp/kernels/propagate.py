"""Whole-network passes over one block of rows, on the flat buffers.

Parameters live in one flat vector ``theta``; gradients use the same layout.
``work`` is a tuple of five flat buffers of the network's dtype,
(Zw, Aw, Dw, Gw, Sw): z, a and delta for up to ``capacity`` rows, laid out
layer after layer (layer l occupies ``capacity * layout[l, UNIT_OFF]``
onward, as a (capacity, n_out) block); Gw the first layer's gathered input
rows (BLAS layers only) and Sw two scalars' scratch for BLAS calls.
``blas`` says which kernels compute each layer's products: None for BLAS
GEMMs (dense.*_blas) in every layer, or an int64 array with one flag per
layer, 1 for BLAS and 0 for the register-blocked loops. numba prunes the
``blas is None`` branches before typing, so kernels compiled for None
contain no loop kernels at all: the first fit in a fresh process with an
empty cache takes 7.6 s instead of 12.7 s ([784, 30, 10], float32).
"""

import numpy as np
from numba import njit

from .._config import JIT, JIT_INLINE
from .codes import B_OFF, N_IN, N_OUT, UNIT_OFF, W_OFF
from .costs import cost_of, output_delta
from .dense import (
    dense_backward_delta,
    dense_backward_delta_blas,
    dense_backward_params,
    dense_backward_params_blas,
    dense_forward,
    dense_forward_blas,
    gather_rows,
)
from .fpu import flush_subnormals, restore_fp_mode
from .views import view_1d, view_2d

#: "No dropout" for kernels that take a mask array either way: an empty
#: (0, 0) uint8 mask rather than None, so one compiled specialisation serves
#: networks with and without dropout. (Not read-only: numba types read-only
#: arrays apart, which would be a second specialisation.) The parallel epoch
#: compiled as long with the dropout code as without it (float32 41 / 38 s,
#: float64 35 / 35 s in one test run), so pruning it saved nothing.
NO_MASK = np.zeros((0, 0), dtype=np.uint8)


@njit(**JIT_INLINE)
def layer_params(flat, layout, layer):
    """(W, b) views of layer ``layer`` in a flat parameter-shaped buffer."""
    n_in = layout[layer, N_IN]
    n_out = layout[layer, N_OUT]
    w0 = layout[layer, W_OFF]
    b0 = layout[layer, B_OFF]
    return view_2d(flat, w0, n_out, n_in), view_1d(flat, b0, n_out)


@njit(**JIT_INLINE)
def n_units(layout):
    """Units (layer outputs) per row of a work buffer, over all layers."""
    last = layout.shape[0] - 1
    return layout[last, UNIT_OFF] + layout[last, N_OUT]


@njit(**JIT_INLINE)
def work_capacity(work, layout):
    """How many rows a work buffer holds."""
    return work.shape[0] // n_units(layout)


@njit(**JIT_INLINE)
def layer_units(work, layout, layer, capacity):
    """(capacity, n_out) view of layer ``layer`` in a flat work buffer."""
    n = layout[layer, N_OUT]
    start = capacity * layout[layer, UNIT_OFF]
    return view_2d(work, start, capacity, n)


@njit(**JIT)
def apply_dropout(U, mask, rows, column, keep):
    """Inverted dropout on a hidden layer's rows: U[i, k] ← U[i, k]/keep where
    mask[rows[i], column + k] is set, else 0. Used on activations going
    forward and on errors going back, so dropped units pass nothing either way.
    """
    inv_keep = U.dtype.type(1.0) / keep
    zero = U.dtype.type(0.0)
    n = U.shape[1]
    for i in range(rows.shape[0]):
        r = rows[i]
        for k in range(n):
            U[i, k] = U[i, k] * inv_keep if mask[r, column + k] else zero


@njit(**JIT_INLINE)
def _layer_forward(theta, layout, acts, leak, X, rows, ident, work, blas, layer):
    """Z, A of one layer for the rows: BLAS when flagged for it, else the loops."""
    Zw, Aw, Dw, Gw, Sw = work
    cap = work_capacity(Zw, layout)
    n_rows = rows.shape[0]
    W, b = layer_params(theta, layout, layer)
    Z = layer_units(Zw, layout, layer, cap)
    A = layer_units(Aw, layout, layer, cap)
    if blas is None or blas[layer]:
        if layer == 0:
            G = view_2d(Gw, 0, cap, layout[0, N_IN])
            gather_rows(X, rows, G)
            dense_forward_blas(G, W, b, Z, A, acts[0], leak, n_rows, Sw)
        else:
            dense_forward_blas(layer_units(Aw, layout, layer - 1, cap), W, b, Z, A, acts[layer], leak, n_rows,
                               Sw)
    elif layer == 0:
        dense_forward(X, rows, W, b, Z, A, acts[0], leak)
    else:
        dense_forward(layer_units(Aw, layout, layer - 1, cap), view_1d(ident, 0, n_rows), W, b, Z, A, acts[layer], leak)


@njit(**JIT_INLINE)
def forward(theta, layout, acts, leak, X, rows, ident, work, blas, mask, keep, first):
    """Forward pass of the rows X[rows] (len(rows) <= capacity) into the work
    buffers, from layer ``first`` on (0, unless the layers below are in the
    buffers already: the parallel path computes layer 0 separately).

    ident is arange(capacity): hidden layers read their input rows in order.
    mask: (n_samples, hidden units) uint8 dropout mask for the rows, or None
    (or an empty (0, 0) array) for no dropout; keep is the keep probability.
    Kernels compiled for mask=None contain no dropout code.
    """
    Aw = work[1]
    cap = work_capacity(Aw, layout)
    n_rows = rows.shape[0]
    last = layout.shape[0] - 1
    for layer in range(first, layout.shape[0]):
        _layer_forward(theta, layout, acts, leak, X, rows, ident, work, blas, layer)
        if mask is not None and mask.shape[0] > 0 and layer < last:
            A = layer_units(Aw, layout, layer, cap)
            apply_dropout(A[:n_rows], mask, rows, layout[layer, UNIT_OFF], keep)


@njit(**JIT)
def count_correct(A_out, labels, rows):
    """Rows whose prediction equals labels[row]: argmax, or a >= 0.5 for one unit."""
    correct = 0
    n_out = A_out.shape[1]
    for i in range(rows.shape[0]):
        if n_out == 1:
            guess = 1 if A_out[i, 0] >= 0.5 else 0
        else:
            guess = 0
            for k in range(1, n_out):
                if A_out[i, k] > A_out[i, guess]:
                    guess = k
        if guess == labels[rows[i]]:
            correct += 1
    return correct


@njit(**JIT_INLINE)
def output_error(theta, layout, acts, leak, cost, X, Y, sw, rows, ident, inv_weight, work, blas,
                 mask, keep, first):
    """Forward pass from layer ``first`` (see ``forward``), then δ^L (BP1) for
    each row scaled by sw[r]·inv_weight.

    Returns Σ_i sw[r_i] C_{x_i} (float64) over the rows r_i = rows[i].
    """
    Zw, Aw, Dw, Gw, Sw = work
    cap = work_capacity(Zw, layout)
    last = layout.shape[0] - 1
    forward(theta, layout, acts, leak, X, rows, ident, work, blas, mask, keep, first)
    Z = layer_units(Zw, layout, last, cap)
    A = layer_units(Aw, layout, last, cap)
    D = layer_units(Dw, layout, last, cap)
    weighted_cost = 0.0
    for i in range(rows.shape[0]):
        r = rows[i]
        s = sw[r]
        weighted_cost += np.float64(s) * cost_of(Z, A, Y, i, r, cost)
        output_delta(A, Y, i, r, cost, acts[last], leak, s * inv_weight, D)
    return weighted_cost


@njit(**JIT_INLINE)
def _error_below(theta, layout, acts, leak, work, blas, layer, n_rows, rows, mask, keep):
    """BP2 from layer ``layer`` into layer - 1, with its dropout mask if any."""
    Zw, Aw, Dw, Gw, Sw = work
    cap = work_capacity(Aw, layout)
    W, _ = layer_params(theta, layout, layer)
    D = layer_units(Dw, layout, layer, cap)
    A_prev = layer_units(Aw, layout, layer - 1, cap)
    D_prev = layer_units(Dw, layout, layer - 1, cap)
    if mask is None:
        _layer_delta(D, W, A_prev, acts[layer - 1], leak, W.dtype.type(1.0), D_prev, n_rows, blas, layer, work[4])
        return
    dropout = mask.shape[0] > 0
    a_scale = keep if dropout else W.dtype.type(1.0)
    _layer_delta(D, W, A_prev, acts[layer - 1], leak, a_scale, D_prev, n_rows, blas, layer, work[4])
    if dropout:
        apply_dropout(D_prev[:n_rows], mask, rows, layout[layer - 1, UNIT_OFF], keep)


@njit(**JIT_INLINE)
def _layer_delta(D, W, A_prev, act_prev, leak, a_scale, D_prev, n_rows, blas, layer, Sw):
    if blas is None or blas[layer]:
        dense_backward_delta_blas(D, W, A_prev, act_prev, leak, a_scale, D_prev, n_rows, Sw)
    else:
        dense_backward_delta(D, W, A_prev, act_prev, leak, a_scale, D_prev, n_rows)


@njit(**JIT_INLINE)
def _layer_input(layout, work, layer, X, rows, ident):
    """(source array, its row indices) holding layer ``layer``'s input rows."""
    Zw, Aw, Dw, Gw, Sw = work
    cap = work_capacity(Zw, layout)
    if layer == 0:
        return X, rows
    return layer_units(Aw, layout, layer - 1, cap), view_1d(ident, 0, rows.shape[0])


@njit(**JIT_INLINE)
def _weight_gradient(layout, work, blas, layer, X, rows, ident, D, dW, db):
    """dW += Dᵀ a^{l-1} and db += Σ D over the rows (BP4, BP3), loops or BLAS."""
    Zw, Aw, Dw, Gw, Sw = work
    cap = work_capacity(Zw, layout)
    one = dW.dtype.type(1.0)
    if blas is None or blas[layer]:
        src = view_2d(Gw, 0, cap, layout[0, N_IN]) if layer == 0 else layer_units(Aw, layout, layer - 1, cap)
        dense_backward_params_blas(D, src, rows.shape[0], dW, db, one, one, Sw)
    else:
        src, src_rows = _layer_input(layout, work, layer, X, rows, ident)
        dense_backward_params(D, src, src_rows, dW, db)


@njit(**JIT_INLINE)
def _sgd_layer(layout, work, blas, layer, X, rows, ident, D, W, b, lr, keep_w):
    """W ← keep_w·W − lr·Dᵀa^{l-1}, b ← b − lr·ΣD: the SGD step of one layer.

    BLAS does it in one GEMM (alpha = −lr, beta = keep_w); the loops scale D
    by −lr, W by keep_w, then add Dᵀa^{l-1} into W.
    """
    Zw, Aw, Dw, Gw, Sw = work
    cap = work_capacity(Zw, layout)
    n_rows = rows.shape[0]
    if blas is None or blas[layer]:
        src = view_2d(Gw, 0, cap, layout[0, N_IN]) if layer == 0 else layer_units(Aw, layout, layer - 1, cap)
        dense_backward_params_blas(D, src, n_rows, W, b, -lr, keep_w, Sw)
        return
    for i in range(n_rows):
        for j in range(D.shape[1]):
            D[i, j] *= -lr
    if keep_w != W.dtype.type(1.0):
        for j in range(W.shape[0]):
            for k in range(W.shape[1]):
                W[j, k] *= keep_w
    src, src_rows = _layer_input(layout, work, layer, X, rows, ident)
    dense_backward_params(D, src, src_rows, W, b)


@njit(**JIT_INLINE)
def backward_gradient(theta, layout, acts, leak, X, rows, ident, work, blas, grad, mask, keep):
    """After ``output_error``: for each layer from the top, BP3/BP4 into grad
    (added) and BP2 into the layer below."""
    Dw = work[2]
    cap = work_capacity(Dw, layout)
    n_rows = rows.shape[0]
    for layer in range(layout.shape[0] - 1, -1, -1):
        D = layer_units(Dw, layout, layer, cap)
        dW, db = layer_params(grad, layout, layer)
        _weight_gradient(layout, work, blas, layer, X, rows, ident, D, dW, db)
        if layer > 0:
            _error_below(theta, layout, acts, leak, work, blas, layer, n_rows, rows, mask, keep)


@njit(**JIT_INLINE)
def accumulate_gradient(theta, layout, acts, leak, cost, X, Y, sw, rows, ident,
                        inv_weight, work, blas, grad, mask, keep):
    """grad += inv_weight · Σ_i sw[r_i] ∇C_{x_i} over the rows r_i = rows[i].

    Forward pass, output error (BP1), then for each layer from the top
    BP3/BP4 into grad and BP2 into the layer below. Regularisation is not
    included. Returns Σ_i sw[r_i] C_{x_i} (float64) for the running cost.
    """
    weighted_cost = output_error(theta, layout, acts, leak, cost, X, Y, sw, rows, ident,
                                 inv_weight, work, blas, mask, keep, 0)
    backward_gradient(theta, layout, acts, leak, X, rows, ident, work, blas, grad, mask, keep)
    return weighted_cost


@njit(**JIT_INLINE)
def sgd_backward(theta, layout, acts, leak, X, rows, ident, lr, keep_w, shrink, work, blas, mask, keep):
    """After ``output_error``: one plain-SGD step with the update fused into BP4.

    Equal to backward_gradient followed by an SGD update, without a
    gradient buffer: for each layer from the top, δ^{l-1} is formed from the
    old W^l (BP2) first, then W^l ← keep_w·W^l - shrink·sign(W^l)
    - lr·δ^lᵀ a^{l-1} and b^l ← b^l - lr Σ δ^l, where keep_w = 1 - ηλ2/n
    (L2) and shrink = ηλ1/n (L1). This skips zeroing, filling and re-reading
    a gradient buffer every mini-batch.
    """
    Dw = work[2]
    cap = work_capacity(Dw, layout)
    n_rows = rows.shape[0]
    zero = theta.dtype.type(0.0)
    for layer in range(layout.shape[0] - 1, -1, -1):
        if layer > 0:
            _error_below(theta, layout, acts, leak, work, blas, layer, n_rows, rows, mask, keep)
        D = layer_units(Dw, layout, layer, cap)
        W, b = layer_params(theta, layout, layer)
        decay = keep_w
        if shrink != zero:   # L1 (rare): decay and shrink in one pass, then a plain step
            for j in range(W.shape[0]):
                for k in range(W.shape[1]):
                    v = W[j, k]
                    W[j, k] = keep_w * v - (shrink if v > zero else (-shrink if v < zero else zero))
            decay = theta.dtype.type(1.0)
        _sgd_layer(layout, work, blas, layer, X, rows, ident, D, W, b, lr, decay)


@njit(**JIT)
def nonfinite_probe(X, rows):
    """0.0 when every X[rows[i], k] is finite, NaN otherwise (float64).

    x - x is 0 for finite x and NaN for NaN or ±inf (the compile flags never
    assume finite values, so it is not folded away). The comparisons are
    OR-ed as integers, which LLVM vectorises; the former float sum Σ x·0
    could not be without reassociation (32 x 100 float32: 4.5 -> 0.5 µs).
    Epoch kernels add the result to a batch's cost, so bad input stops the
    epoch the way divergence does, and X need not be scanned before training.
    """
    zero = X.dtype.type(0.0)
    bad = False
    for i in range(rows.shape[0]):
        r = rows[i]
        for k in range(X.shape[1]):
            x = X[r, k]
            bad |= x - x != zero
    return np.nan if bad else 0.0


@njit(**JIT_INLINE)
def input_probe(ident, work, layout, n_rows):
    """``nonfinite_probe`` of the first layer's pre-activations z¹ for the
    n_rows rows just propagated: NaN when any input was NaN or ±inf, since
    every z¹_j sums w·x over all the inputs (NaN·w is NaN, ±inf·w is ±inf or
    NaN, and a sum with a non-finite term is non-finite). One check for the
    loop and BLAS layers alike, reading n_out values a row instead of the
    784 of an MNIST row again (on W1 float32 epochs the difference was below
    this host's noise). A z¹ that overflowed from finite input reads as
    non-finite too, and the epoch stops as diverged."""
    cap = work_capacity(work[0], layout)
    return nonfinite_probe(layer_units(work[0], layout, 0, cap), view_1d(ident, 0, n_rows))


@njit(**JIT_INLINE)
def total_sample_weight(sw, rows):
    """Σ sw[r] over the rows, in float64."""
    total = 0.0
    for i in range(rows.shape[0]):
        total += np.float64(sw[rows[i]])
    return total


@njit(**JIT)
def full_gradient(theta, layout, acts, leak, cost, X, Y, sw, order, ident, work, blas, grad, mask,
                  keep):
    """grad = the weighted-mean gradient of the data cost over the rows ``order``.

    Processes the rows in blocks of the work buffers' capacity; L2 is not
    included. mask/keep: a fixed dropout mask (empty for none), as in training.
    Returns (Σ sw·C, Σ sw) as float64.
    """
    cap = work_capacity(work[0], layout)
    n = order.shape[0]
    total_weight = total_sample_weight(sw, order)
    grad[:] = 0
    if total_weight == 0.0:
        return 0.0, 0.0
    saved_mode = flush_subnormals()
    inv_weight = grad.dtype.type(1.0 / total_weight)
    weighted_cost = 0.0
    for start in range(0, n, cap):
        rows = view_1d(order, start, min(start + cap, n) - start)
        weighted_cost += accumulate_gradient(theta, layout, acts, leak, cost, X, Y, sw,
                                             rows, ident, inv_weight, work, blas, grad,
                                             mask, keep)
    restore_fp_mode(saved_mode)
    return weighted_cost, total_weight


@njit(**JIT)
def evaluate(theta, layout, acts, leak, cost, X, Y, sw, labels, order, ident, work, blas):
    """Cost and accuracy counts over the rows ``order`` without gradients.

    Returns (Σ sw·C as float64, Σ sw as float64, number correct); the count
    is 0 when ``labels`` is empty.
    """
    Zw, Aw = work[0], work[1]
    cap = work_capacity(Zw, layout)
    last = layout.shape[0] - 1
    n = order.shape[0]
    saved_mode = flush_subnormals()
    weighted_cost = 0.0
    total_weight = 0.0
    correct = 0
    for start in range(0, n, cap):
        rows = view_1d(order, start, min(start + cap, n) - start)
        forward(theta, layout, acts, leak, X, rows, ident, work, blas, None,
                theta.dtype.type(1.0), 0)
        Z = layer_units(Zw, layout, last, cap)
        A = layer_units(Aw, layout, last, cap)
        for i in range(rows.shape[0]):
            r = rows[i]
            s = np.float64(sw[r])
            total_weight += s
            weighted_cost += s * cost_of(Z, A, Y, i, r, cost)
        if labels.shape[0] > 0:
            correct += count_correct(A, labels, rows)
    restore_fp_mode(saved_mode)
    return weighted_cost, total_weight, correct


@njit(**JIT)
def feedforward(theta, layout, acts, leak, X, order, ident, work, blas, out):
    """out[i] = network output for X[order[i]]; out is (len(order), n_out)."""
    Zw, Aw = work[0], work[1]
    cap = work_capacity(Zw, layout)
    last = layout.shape[0] - 1
    n = order.shape[0]
    saved_mode = flush_subnormals()
    for start in range(0, n, cap):
        stop = min(start + cap, n)
        rows = view_1d(order, start, stop - start)
        forward(theta, layout, acts, leak, X, rows, ident, work, blas, None,
                theta.dtype.type(1.0), 0)
        A = layer_units(Aw, layout, last, cap)
        for i in range(stop - start):
            for j in range(A.shape[1]):
                out[start + i, j] = A[i, j]
    restore_fp_mode(saved_mode)
