"""One fully connected layer: forward product, weight gradient, back-propagated error.

Weights are (n_out, n_in) rows, so the long input dimension is the
contiguous inner loop of every product (2.6x faster than (n_in, n_out) on
[784, 30, 10] in the measurements recorded in PERFORMANCE-NOTES). The layer
input is addressed through a row-index array: for the first layer those are
the mini-batch's rows of X, so no gathered copy of the batch is ever made.

The products are register-blocked. The forward pass computes 4 samples x
3 outputs per sweep over the inputs, so each loaded element feeds several
multiply-adds. In cache, on 8 x 784 x 32 blocks, a 4 x 4 forward block ran
at 46 (float64) and 101 (float32) GFLOP/s on the AVX-512 Xeon, against
20-32 / 44-67 for 1x8, 2x2 or 2x4 blocks. On AVX2 (16 vector registers)
the 4 x 4 forward block spilled; 4 x 3 fits, and made the forward product
of 50,000 rows 1.36-1.50x faster at 32-row batches (float32 and float64,
30 and 100 outputs) and 1.08-1.27x at 10-row batches; 3 x 4 was 1.15-1.33x
slower than 4 x 4; 6 x 2, which streams W from L2 once per 6 samples
instead of 4, was no faster (W1 and W2 shapes). What the forward pass of
W1 waits for is X: the same products over rows already in cache ran at
69 GFLOP/s against 46 over the shuffled rows of the 157 MB array, and no
software prefetch of the next batch's rows (into L1 or L2, whole rows or
their first lines) recovered it (benchmarks/input_rows.py). The same 4 x 3
block written as explicit 512-bit vectors (one accumulator per dot
product, its lanes summed at the end, as in simd.py) ran no faster than
LLVM's vectorisation of these loops: 37.7 / 26.3 ms against 38.8 / 26.7
(shuffled / cached rows, W1 shape, float32), so it was not kept. The weight
gradient keeps a block of 4 rows x 2 vectors of dW in registers while
every sample of the batch is multiplied into it (explicit vectors,
kernels/simd.py): W1 float32 epochs 1.07-1.18x faster
than with the former 8-samples x 4-rows loop, which loaded and stored dW
once per 8 samples (whole epochs alternating in one process; 4 x 3,
6 x 2, 5 x 2 and 2 x 4 blocks were no faster).
Which products use these loops and which use BLAS is decided in
fastbp/_dispatch.py.
"""

import numpy as np
from numba import njit

from .._config import JIT, JIT_DOT, JIT_INLINE
from .activations import activate_rows, scale_by_derivative
from .blas import gemm
from .simd import (
    VECTOR_BYTES,
    outer_1_scalar,
    outer_1x1,
    outer_1x2,
    outer_4_scalar,
    outer_4x1,
    outer_4x2,
)
from .views import view_2d


@njit(**JIT_INLINE)
def _dot4x3(src, r0, r1, r2, r3, W, j, Z, i0, i1, i2, i3, b):
    """Z[i_c, j+q] = src[r_c] · W[j+q] + b[j+q] for 4 input rows x 3 weight rows.

    Each loaded element feeds three or four multiply-adds, and the twelve
    sums, three weight vectors and one input vector fill AVX2's 16 vector
    registers exactly (a 4 x 4 block spilled 6 sums to the stack there).
    Rows may repeat (i_c equal): they write equal values.
    """
    zero = W.dtype.type(0.0)
    s00 = s01 = s02 = s10 = s11 = s12 = zero
    s20 = s21 = s22 = s30 = s31 = s32 = zero
    for k in range(W.shape[1]):
        a0 = W[j, k]
        a1 = W[j + 1, k]
        a2 = W[j + 2, k]
        v = src[r0, k]
        s00 += a0 * v
        s01 += a1 * v
        s02 += a2 * v
        v = src[r1, k]
        s10 += a0 * v
        s11 += a1 * v
        s12 += a2 * v
        v = src[r2, k]
        s20 += a0 * v
        s21 += a1 * v
        s22 += a2 * v
        v = src[r3, k]
        s30 += a0 * v
        s31 += a1 * v
        s32 += a2 * v
    b0, b1, b2 = b[j], b[j + 1], b[j + 2]
    # Written last row first so a repeated row ends with its own values.
    Z[i3, j], Z[i3, j + 1], Z[i3, j + 2] = s30 + b0, s31 + b1, s32 + b2
    Z[i2, j], Z[i2, j + 1], Z[i2, j + 2] = s20 + b0, s21 + b1, s22 + b2
    Z[i1, j], Z[i1, j + 1], Z[i1, j + 2] = s10 + b0, s11 + b1, s12 + b2
    Z[i0, j], Z[i0, j + 1], Z[i0, j + 2] = s00 + b0, s01 + b1, s02 + b2


@njit(**JIT_INLINE)
def _dot4x1(src, r0, r1, r2, r3, W, j, Z, i0, i1, i2, i3, bj):
    """Z[i_c, j] = src[r_c] · W[j] + bj for 4 input rows and one weight row."""
    zero = W.dtype.type(0.0)
    s0 = s1 = s2 = s3 = zero
    for k in range(W.shape[1]):
        a = W[j, k]
        s0 += a * src[r0, k]
        s1 += a * src[r1, k]
        s2 += a * src[r2, k]
        s3 += a * src[r3, k]
    Z[i3, j] = s3 + bj
    Z[i2, j] = s2 + bj
    Z[i1, j] = s1 + bj
    Z[i0, j] = s0 + bj


@njit(**JIT_INLINE)
def _dot2x3(src, r0, r1, W, j, Z, i0, i1, b):
    """Z[i_c, j+q] = src[r_c] · W[j+q] + b[j+q] for 2 input rows x 3 weight rows."""
    zero = W.dtype.type(0.0)
    s00 = s01 = s02 = s10 = s11 = s12 = zero
    for k in range(W.shape[1]):
        a0 = W[j, k]
        a1 = W[j + 1, k]
        a2 = W[j + 2, k]
        v = src[r0, k]
        s00 += a0 * v
        s01 += a1 * v
        s02 += a2 * v
        v = src[r1, k]
        s10 += a0 * v
        s11 += a1 * v
        s12 += a2 * v
    b0, b1, b2 = b[j], b[j + 1], b[j + 2]
    Z[i1, j], Z[i1, j + 1], Z[i1, j + 2] = s10 + b0, s11 + b1, s12 + b2
    Z[i0, j], Z[i0, j + 1], Z[i0, j + 2] = s00 + b0, s01 + b1, s02 + b2


@njit(**JIT_INLINE)
def _dot2x1(src, r0, r1, W, j, Z, i0, i1, bj):
    """Z[i_c, j] = src[r_c] · W[j] + bj for 2 input rows and one weight row."""
    zero = W.dtype.type(0.0)
    s0 = s1 = zero
    for k in range(W.shape[1]):
        a = W[j, k]
        s0 += a * src[r0, k]
        s1 += a * src[r1, k]
    Z[i1, j] = s1 + bj
    Z[i0, j] = s0 + bj


@njit(**JIT_INLINE)
def dense_forward(src, rows, W, b, Z, A, act, leak):
    """Z[i] = src[rows[i]] Wᵀ + b and A[i] = f(Z[i]) for i < len(rows).

    src: (n_src, n_in); rows: (B,) int64; W: (n_out, n_in); b: (n_out,);
    Z, A: (>= B, n_out) outputs. All one float dtype.
    """
    # np.int64(0), not 0: a literal argument is a specialisation of its own, and
    # the parallel path calls dense_products with a run-time start.
    dense_products(src, rows, W, b, Z, np.int64(0), W.shape[0])
    activate_rows(Z, A, rows.shape[0], act, leak)


@njit(**JIT_DOT)
def dense_products(src, rows, W, b, Z, j_start, j_stop):
    """Z[i, j] = src[rows[i]] · W[j] + b[j] for i < len(rows), j_start <= j < j_stop.

    The parallel path gives each thread its own block of W's rows. Every
    element comes out exactly as over the full range when j_start is a
    multiple of 3 (the register block), as the parallel path's blocks are
    (multiples of 12 rows, training.parallel_tasks).
    """
    n = rows.shape[0]
    j3 = j_start + (j_stop - j_start) - (j_stop - j_start) % 3
    n4 = n - n % 4 if n % 4 < 3 else n + 1   # a remainder of 3 rows goes in a padded 4-row block
    for i in range(0, n4, 4):
        # A padded block repeats its last row rather than branch per row.
        i1 = min(i + 1, n - 1)
        i2 = min(i + 2, n - 1)
        i3 = min(i + 3, n - 1)
        r0, r1, r2, r3 = rows[i], rows[i1], rows[i2], rows[i3]
        for j in range(j_start, j3, 3):
            _dot4x3(src, r0, r1, r2, r3, W, j, Z, i, i1, i2, i3, b)
        for j in range(j3, j_stop):
            _dot4x1(src, r0, r1, r2, r3, W, j, Z, i, i1, i2, i3, b[j])
    if n4 < n:   # 1 or 2 rows left: a 2-row block
        i = n4
        i1 = min(i + 1, n - 1)
        r0, r1 = rows[i], rows[i1]
        for j in range(j_start, j3, 3):
            _dot2x3(src, r0, r1, W, j, Z, i, i1, b)
        for j in range(j3, j_stop):
            _dot2x1(src, r0, r1, W, j, Z, i, i1, b[j])


@njit(**JIT_INLINE)
def dense_backward_params(delta, src, rows, dW, db):
    """dW += deltaᵀ src[rows] and db += Σ_i delta[i] (BP4, BP3).

    delta: (>= B, n_out) with B = len(rows); dW: (n_out, n_in); db: (n_out,).
    """
    dense_backward_params_rows(delta, src, rows, dW, db, 0, dW.shape[0])


@njit(**JIT_INLINE)
def shard_bounds(s, shard_rows, size):
    """Shard s of a ``size``-row batch: rows s·shard_rows up to (s+1)·shard_rows,
    clipped to the batch."""
    return min(s * shard_rows, size), min((s + 1) * shard_rows, size)


@njit(**JIT_INLINE)
def dense_backward_params_rows(delta, src, rows, dW, db, j_start, j_stop):
    """``dense_backward_params`` for the output units j_start <= j < j_stop only.

    delta must be C-contiguous with n_out columns (a work buffer's view).
    """
    D2 = view_2d(delta, 0, 1, delta.shape[0] * delta.shape[1])   # the batch as one row
    weight_gradient(dW, db, D2, 0, src, rows, 0, True, rows.shape[0], j_start, j_stop)


@njit(**JIT)
def weight_gradient(dW, db, D2, d_off, src, rows, src_off, by_row, size, j_start, j_stop):
    """dW[j] += Σ_t D[t, j] x_t and db[j] += Σ_t D[t, j] for j_start <= j < j_stop
    over the ``size`` samples t of a batch.

    Addressing as in ``simd._outer_block``: sample t has its deltas at
    D2[0, d_off + t·n_out ...]; its input x_t is src[rows[t]] if ``by_row``,
    else src[0, src_off + t·n_in ...]. dW: (n_out, n_in); db: (n_out,). The
    parallel path splits dW's rows over threads and passes its batch-wide
    buffer; the serial path passes its batch's deltas as one row.

    Blocks of 4 rows x 2 vectors of dW take every sample of the batch in
    registers (simd.py); the column loop is outermost so the batch's slice
    of those columns stays in L1. Every element is accumulated in the same
    order whatever block it falls in, so any split of the rows gives the
    same dW.
    """
    n_out, n_in = dW.shape
    lanes = VECTOR_BYTES // dW.itemsize
    k2 = n_in - n_in % (2 * lanes)
    k1 = n_in - n_in % lanes
    j4 = j_start + (j_stop - j_start) - (j_stop - j_start) % 4
    for k0 in range(0, k2, 2 * lanes):
        for j in range(j_start, j4, 4):
            outer_4x2(dW, j, k0, src, rows, src_off, by_row, D2, d_off, size)
        for j in range(j4, j_stop):
            outer_1x2(dW, j, k0, src, rows, src_off, by_row, D2, d_off, size)
    if k1 > k2:   # one vector of columns left
        for j in range(j_start, j4, 4):
            outer_4x1(dW, j, k2, src, rows, src_off, by_row, D2, d_off, size)
        for j in range(j4, j_stop):
            outer_1x1(dW, j, k2, src, rows, src_off, by_row, D2, d_off, size)
    for k in range(k1, n_in):
        for j in range(j_start, j4, 4):
            outer_4_scalar(dW, j, k, src, rows, src_off, by_row, D2, d_off, size)
        for j in range(j4, j_stop):
            outer_1_scalar(dW, j, k, src, rows, src_off, by_row, D2, d_off, size)
    for t in range(size):
        base = d_off + t * n_out
        for j in range(j_start, j_stop):
            db[j] += D2[0, base + j]


@njit(**JIT)
def dense_backward_delta(delta, W, A_prev, act_prev, leak, a_scale, delta_prev, n_rows):
    """delta_prev[i] = (delta[i] W) ⊙ f'(z_prev[i]) for i < n_rows (BP2).

    f' is taken from the previous layer's activations A_prev, which hold
    f(z)/a_scale (see ``activations.scale_by_derivative``).
    """
    n_out, n_in = W.shape
    zero = W.dtype.type(0.0)
    for i in range(n_rows):
        for k in range(n_in):
            delta_prev[i, k] = zero
        for j in range(n_out):
            dij = delta[i, j]
            for k in range(n_in):
                delta_prev[i, k] += dij * W[j, k]
    scale_by_derivative(delta_prev, A_prev, n_rows, act_prev, leak, a_scale)


# ---------------------------------------------------------------- BLAS layers
# For wide layers and batches BLAS's cache-blocked GEMM wins (a 1024 x 1024
# layer's weights do not fit in L2, so the loop kernels stream them again for
# every block of rows). These variants take their input rows contiguous (the
# first layer's batch is gathered into a buffer first) and call GEMM with
# alpha/beta (kernels/blas.py), so biases, gradient accumulation and the SGD
# step with L2 decay happen inside the GEMM, without temporaries or extra
# passes. ``S`` is a 2-element scratch for BLAS's scalar arguments. Never call
# them inside a prange body: BLAS threads would multiply with numba's.

@njit(**JIT)
def gather_rows(src, rows, G):
    """G[i] = src[rows[i]] for i < len(rows).

    Five rows are copied side by side (then pairs, then one), so several
    rows' cache misses are in flight at once instead of one row's: the
    shuffled rows of X come from memory. W1 serial epochs, fresh processes
    alternating, medians: row by row 72.6 ms, four rows side by side 69.3
    (float64 129.0 / 123.0); four 66.8, five 65.3 (8 rounds); ten 71.5
    against five's 68.4 (float32). W2 and W3 even (their products
    dominate). A cache line of every row at a time was slower still.
    """
    n = rows.shape[0]
    n5 = n - n % 5
    for i in range(0, n5, 5):
        r0, r1, r2, r3, r4 = rows[i], rows[i + 1], rows[i + 2], rows[i + 3], rows[i + 4]
        for k in range(src.shape[1]):
            G[i, k] = src[r0, k]
            G[i + 1, k] = src[r1, k]
            G[i + 2, k] = src[r2, k]
            G[i + 3, k] = src[r3, k]
            G[i + 4, k] = src[r4, k]
    n2 = n - (n - n5) % 2
    for i in range(n5, n2, 2):
        r0, r1 = rows[i], rows[i + 1]
        for k in range(src.shape[1]):
            G[i, k] = src[r0, k]
            G[i + 1, k] = src[r1, k]
    if n2 < n:
        r = rows[n2]
        for k in range(src.shape[1]):
            G[n2, k] = src[r, k]


@njit(**JIT_INLINE)
def dense_forward_blas(src, W, b, Z, A, act, leak, n_rows, S):
    """Z[:n] = src[:n] Wᵀ + b (biases prefilled, one GEMM with beta = 1) and A[:n] = f(Z[:n])."""
    one = W.dtype.type(1.0)
    for i in range(n_rows):
        for j in range(Z.shape[1]):
            Z[i, j] = b[j]
    gemm(False, True, one, src[:n_rows], W, one, Z[:n_rows], S)
    activate_rows(Z, A, n_rows, act, leak)


@njit(**JIT_INLINE)
def dense_backward_params_blas(delta, src, n_rows, dW, db, alpha, beta, S):
    """dW ← beta·dW + alpha·delta[:n]ᵀ src[:n] and db ← db + alpha·Σ_i delta[i]
    in one GEMM. With alpha = 1, beta = 1 this accumulates the gradient (BP4,
    BP3); with alpha = -η and beta = 1 - ηλ/n it is the SGD step itself."""
    gemm(True, False, alpha, delta[:n_rows], src[:n_rows], beta, dW, S)
    for i in range(n_rows):
        for j in range(db.shape[0]):
            db[j] += alpha * delta[i, j]


@njit(**JIT_INLINE)
def dense_backward_delta_blas(delta, W, A_prev, act_prev, leak, a_scale, delta_prev, n_rows, S):
    """delta_prev[:n] = (delta[:n] W) ⊙ f'(z_prev) (BP2) by one GEMM."""
    gemm(False, False, W.dtype.type(1.0), delta[:n_rows], W, W.dtype.type(0.0), delta_prev[:n_rows], S)
    scale_by_derivative(delta_prev, A_prev, n_rows, act_prev, leak, a_scale)
