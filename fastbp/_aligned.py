"""Arrays whose data starts on a 64-byte boundary (a cache line, an AVX-512 vector).

numpy's allocator guarantees 16 bytes: a large array's data sits 16 bytes past
a page boundary, a small one anywhere 16 bytes apart. When the first layer's
weights or the gathered batch start off a cache line, every 64-byte load the
BLAS kernels make straddles two lines. W1 epochs (benchmarks/alignment.py,
serial, median of 7 alternating, the 2-vCPU AVX-512 Xeon): float32 84 ms
with both 16 bytes off a line, 72 ms with both on one; float64 160 -> 132 ms.
Each buffer alone gave half of that. Rows stay aligned where the row length
is a multiple of 64 bytes (784 inputs: 49 lines in float32, 98 in float64).
Only the base is aligned: padding the layers' offsets would change the flat
parameter vector users see.
"""

import math

import numpy as np

#: Bytes: one cache line, one AVX-512 register.
ALIGNMENT = 64


def empty(shape, dtype):
    """An uninitialised C-contiguous array of ``shape`` and ``dtype``, data 64-byte aligned."""
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (int(shape),)
    size = math.prod(shape)
    if size == 0:       # nothing to align: skip the address lookup
        return np.empty(shape, dtype=dtype)
    return empty_group([size], dtype)[0].reshape(shape)


def empty_group(sizes, dtype):
    """Uninitialised 1-D arrays of the given sizes and ``dtype``, each 64-byte
    aligned, sliced from one allocation: finding an array's address costs
    about a microsecond, which a fit of one small batch would otherwise pay
    once per work buffer (benchmarks/bench_training.py SmallFit). The
    itemsize must be 1, 2, 4, 8 or 16 bytes: numpy's allocator aligns to 16,
    so an aligned address is a whole number of elements away."""
    dtype = np.dtype(dtype)
    if dtype.itemsize > 16 or 16 % dtype.itemsize:
        raise TypeError(f"dtype must have an itemsize of 1, 2, 4, 8 or 16 bytes, got {dtype} ({dtype.itemsize})")
    per_line = ALIGNMENT // dtype.itemsize
    sizes = [int(n) for n in sizes]
    raw = np.empty(sum(sizes) + per_line * len(sizes), dtype=dtype)   # room to round each start up to a line
    start = (-raw.ctypes.data % ALIGNMENT) // dtype.itemsize
    out = []
    for n in sizes:
        out.append(raw[start:start + n])
        start += -(-n // per_line) * per_line
    return out


def zeros(shape, dtype):
    """``empty`` filled with zeros."""
    out = empty(shape, dtype)
    out[...] = 0
    return out


def copy(array):
    """A C-contiguous, 64-byte-aligned copy of ``array`` (same shape and dtype)."""
    out = empty(array.shape, array.dtype)
    out[...] = array
    return out
