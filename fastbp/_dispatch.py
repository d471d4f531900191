"""Which kernel computes each layer's products: register-blocked loops or BLAS.

Measured on this project's 2-core Xeon with ``python benchmarks/kernel_choice.py``
(whole epochs over 20,000 x 784 samples, one thread, median of 3, seconds,
loops / BLAS):

    batch   W1 [784,30,10] f32   f64             W2 [784,100,10] f32   f64
    1       0.169 / 0.143   0.222 / 0.221        0.310 / 0.313   0.586 / 0.560
    2       0.091 / 0.087   0.133 / 0.133        0.169 / 0.188   0.319 / 0.354
    4       0.066 / 0.060   0.101 / 0.101        0.133 / 0.132   0.258 / 0.242
    8       0.060 / 0.049   0.095 / 0.084        0.124 / 0.104   0.242 / 0.191
    32      0.055 / 0.039   0.091 / 0.071        0.116 / 0.099   0.240 / 0.180

From 4 rows on BLAS (kernels/blas.py: one GEMM per product with alpha and
beta, so gradient accumulation and the SGD step with L2 decay happen inside
it) is as fast or faster, by up to 1.4x; below that the two are even. For
wide layers BLAS's cache blocking wins by 2-5x (a [784, 1024, 1024, 10]
epoch: 16 s on the loops, 2.1 s on BLAS). The loops remain the kernels of
the parallel shard path, where BLAS may not be called.
"""

import numpy as np

from .kernels.codes import N_IN

#: Smallest number of rows per product for which BLAS is used.
BLAS_MIN_ROWS = 4


def choose_blas(layout, rows):
    """int64 flags per layer: 1 = BLAS, 0 = loops, for products over ``rows`` rows."""
    flags = np.zeros(layout.shape[0], dtype=np.int64)
    if rows >= BLAS_MIN_ROWS:
        flags[:] = 1
    return flags


def work_buffers(layout, n_units, capacity, blas, dtype):
    """The (Zw, Aw, Dw, Gw, Sw) work tuple for ``capacity`` rows (see kernels/propagate.py)."""
    size = capacity * n_units
    gather = capacity * int(layout[0, N_IN]) if blas[0] else 0
    return (np.empty(size, dtype), np.empty(size, dtype), np.empty(size, dtype),
            np.empty(gather, dtype), np.zeros(2, dtype))
