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

import numpy as np

#: Bytes: one cache line, one AVX-512 register.
ALIGNMENT = 64


def empty(shape, dtype):
    """An uninitialised C-contiguous array of ``shape`` and ``dtype``, data 64-byte aligned."""
    dtype = np.dtype(dtype)
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + nbytes].view(dtype).reshape(shape)


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
