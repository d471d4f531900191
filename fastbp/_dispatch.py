"""Which kernel computes each layer's products: register-blocked loops or BLAS.

Measured on this project's 2-core Xeon (benchmarks/blas_vs_loops.py,
forward + weight-gradient products, GFLOP/s, one thread, float32 / float64):

    batch x n_in x n_out     loops         BLAS
    10 x 784 x 30            45 / 30       32 / 34
    32 x 784 x 100           28 / 33       37 / 33
    32 x 100 x 10            8 / 6         66 / 18
    64 x 256 x 256           16 / 16       35 / 49
    256 x 1024 x 1024        25 / 12       60 / 46

The loops win only for small mini-batches, where a GEMM call's fixed cost
and the gather of the batch's rows are not amortised; from 16 rows on BLAS
is as fast or faster at every shape, and 2-5x faster for wide layers, whose
weights the loops must stream from beyond L2 once per block of rows.
"""

import numpy as np

from .kernels.codes import N_IN, N_OUT

#: Smallest number of rows per product for which BLAS is used.
BLAS_MIN_ROWS = 16


def choose_blas(layout, rows):
    """int64 flags per layer: 1 = BLAS, 0 = loops, for products over ``rows`` rows."""
    flags = np.zeros(layout.shape[0], dtype=np.int64)
    if rows >= BLAS_MIN_ROWS:
        flags[:] = 1
    return flags


def work_buffers(layout, n_units, capacity, blas, dtype):
    """The (Zw, Aw, Dw, Gw, Tw) work tuple for ``capacity`` rows (see kernels/propagate.py)."""
    size = capacity * n_units
    gather = capacity * int(layout[0, N_IN]) if blas[0] else 0
    scratch = max([int(layout[l, N_IN] * layout[l, N_OUT]) for l in range(layout.shape[0]) if blas[l]],
                  default=0)
    return (np.empty(size, dtype), np.empty(size, dtype), np.empty(size, dtype),
            np.empty(gather, dtype), np.empty(scratch, dtype))
