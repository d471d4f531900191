"""Which kernel computes each layer's products: register-blocked loops or BLAS.

Measured on this project's 2-core Xeon (OpenBLAS "SkylakeX" kernels, which
have small-matrix GEMMs) with ``python benchmarks/kernel_choice.py``
(whole epochs over 20,000 x 784 samples, one thread, median of 5, seconds,
loops / BLAS):

    batch   W1 [784,30,10] f32   f64             W2 [784,100,10] f32   f64
    1       0.129 / 0.126   0.194 / 0.205        0.279 / 0.291   0.571 / 0.541
    2       0.075 / 0.071   0.104 / 0.126        0.149 / 0.168   0.303 / 0.341
    4       0.048 / 0.050   0.075 / 0.091        0.104 / 0.116   0.217 / 0.227
    5       0.060 / 0.049   0.090 / 0.089        0.130 / 0.115   0.285 / 0.229
    8       0.044 / 0.041   0.070 / 0.077        0.099 / 0.098   0.213 / 0.196
    32      0.043 / 0.034   0.068 / 0.065        0.093 / 0.094   0.207 / 0.172

Up to 4 rows the loops are as fast or faster (by up to 1.2x: a 4-row block
is exactly the loops' register block); from 5 rows on BLAS (kernels/blas.py:
one GEMM per product with alpha and beta, so gradient accumulation and the
SGD step with L2 decay happen inside it) is faster, by up to 1.3x, in all
but one case (W1 float64 at 8 rows: 1.09x slower). For wide layers BLAS's cache blocking wins by 2-5x (a [784, 1024,
1024, 10] epoch: 16 s on the loops, 2.1 s on BLAS). The loops remain the kernels of
the parallel shard path, where BLAS may not be called.

Where OpenBLAS has no small-matrix kernels it packs both operands on every
call. On a 2-core AMD EPYC (Zen 3, AVX2, OpenBLAS "Haswell" kernels), with
the weight gradient in explicit-vector blocks (kernels/simd.py), seconds
per 20,000-row epoch, loops / BLAS (three runs of kernel_choice.py:
--batches 10,16,32, then 24,32,40 with --repeats 5, then 32,48,64,128):

    batch   W1 f32          f64              W2 f32          f64
    10      0.076 / 0.107   0.125 / 0.161    0.154 / 0.180   0.283 / 0.340
    16      0.067 / 0.083   0.109 / 0.132    0.125 / 0.150   0.241 / 0.251
    24      0.045 / 0.051   0.096 / 0.120    0.108 / 0.118   0.219 / 0.221
    32      0.059 / 0.069   0.097 / 0.117    0.107 / 0.113   0.238 / 0.229
    40      0.044 / 0.049   0.080 / 0.092    0.160 / 0.142   0.297 / 0.262
    64      0.051 / 0.063   0.095 / 0.100    0.122 / 0.107   0.244 / 0.217
    128     0.069 / 0.063   0.116 / 0.116    0.171 / 0.136   0.254 / 0.209

(Before those blocks BLAS won from 12-16 rows on this host.)
"""

import numpy as np

from . import _aligned
from .kernels import blas
from .kernels.codes import N_IN, N_OUT

#: Smallest number of rows per product for which BLAS is used where the BLAS
#: has small-matrix kernels (or is not known): measured with OpenBLAS's
#: "SkylakeX" kernels (AVX-512), the first table above (before the weight
#: gradient's loops were rewritten with explicit vector blocks).
BLAS_MIN_ROWS_SMALL_KERNELS = 5

#: Where OpenBLAS packs even small operands (its "Haswell" kernels, as on AMD
#: Zen 3), BLAS is used from rows x (widest layer's units) of this on. With
#: the explicit-vector weight gradient (kernels/simd.py), loops against BLAS,
#: float32 / float64, median of 5 epochs (kernel_choice.py --batches
#: 24,32,40 --repeats 5): W1 (30 units) loops 1.14 / 1.25x faster at 24
#: rows, 1.16 / 1.20x at 32, 1.12 / 1.15x at 40, BLAS 1.10x faster / even
#: at 128; W2 (100 units) loops 1.10 / 1.01x at 24 rows, 1.06x /
#: BLAS 1.04x at 32, BLAS 1.13 / 1.13x at 40 (and W2 float64 epochs at 32
#: rows 0.630 s on loops against 0.579 s on BLAS in another run). So the
#: crossover goes with the work per product, not the rows alone: BLAS from
#: 32 rows for 100 units, from 107 for 30. Only 784-input layers were
#: measured, and batches up to 128 rows: narrower networks use BLAS from
#: BLAS_MAX_ROWS_PACKING rows at the latest.
BLAS_MIN_ROW_UNITS_PACKING = 3200
BLAS_MAX_ROWS_PACKING = 128

#: When set (an int), every network uses BLAS from this many rows on: the
#: tests and benchmarks/kernel_choice.py force one kind of kernel with it.
#: None: the threshold is chosen per network (blas_min_rows).
BLAS_MIN_ROWS = None


def blas_min_rows(layout):
    """Rows per product from which BLAS computes the layer products of a
    network with ``layout`` on this machine's BLAS (see above)."""
    if BLAS_MIN_ROWS is not None:
        return BLAS_MIN_ROWS
    if blas.CORE and not blas.CORE.startswith(blas.SMALL_MATRIX_CORES):
        widest = max(int(layout[l, N_OUT]) for l in range(layout.shape[0]))
        return min(BLAS_MAX_ROWS_PACKING, max(1, -(-BLAS_MIN_ROW_UNITS_PACKING // widest)))
    return BLAS_MIN_ROWS_SMALL_KERNELS


#: Smallest layer product (2 x rows x n_in x n_out FLOPs) for which BLAS's
#: own threads pay. Serial epochs, one thread against two, median of 3
#: (float32, [784, H, 10], 20,000 rows): 5 MFLOP (H=100, batch 32) 0.99x,
#: 15 MFLOP 1.14x, 20 MFLOP 1.22x, 51 MFLOP (H=1024, batch 32) 1.72x.
#: Below it a second BLAS thread only adds wake-ups, and it can be starved:
#: numpy's and scipy's OpenBLAS each keep a pool that spins after use, so
#: on two cores [784, 100, 10] epochs went from 0.235 to 0.295 s when numpy
#: GEMMs ran between them (benchmarks/compare.py, W2).
BLAS_THREADS_MIN_FLOPS = 10e6


def choose_blas(layout, rows):
    """Which kernels compute the products over ``rows`` rows: None for BLAS in
    every layer (kernels compiled for None contain no loop kernels, so they
    compile faster), else int64 flags per layer, 1 = BLAS, 0 = loops."""
    if rows >= blas_min_rows(layout):
        return None
    return np.zeros(layout.shape[0], dtype=np.int64)


def default_blas_threads(layout, rows):
    """BLAS threads for a fit that did not ask for a number: 1 when the
    largest layer product over ``rows`` rows is too small for threads to
    pay (BLAS_THREADS_MIN_FLOPS), else None (BLAS's own setting)."""
    largest = max(2.0 * rows * int(layout[l, N_IN]) * int(layout[l, N_OUT]) for l in range(layout.shape[0]))
    return 1 if largest < BLAS_THREADS_MIN_FLOPS else None


def work_buffers(layout, n_units, capacity, blas, dtype):
    """The (Zw, Aw, Dw, Gw, Sw) work tuple for ``capacity`` rows (see kernels/propagate.py)."""
    size = capacity * n_units
    gather = capacity * int(layout[0, N_IN]) if blas is None or blas[0] else 0
    return (*_aligned.empty_group((size, size, size, gather), dtype), np.zeros(2, dtype))
