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
import weakref

import numpy as np

#: Bytes: one cache line, one AVX-512 register.
ALIGNMENT = 64


def empty(shape, dtype):
    """An uninitialised C-contiguous array of ``shape`` and ``dtype``, data 64-byte aligned."""
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise ValueError(f"negative dimensions are not allowed, got shape {shape}")
    size = math.prod(shape)
    if size == 0:       # nothing to align: skip the address lookup
        return np.empty(shape, dtype=dtype)
    return empty_group([size], dtype)[0].reshape(shape)


def empty_group(sizes, dtype):
    """Uninitialised 1-D arrays of the given sizes and ``dtype``, each 64-byte
    aligned, sliced from one allocation: finding an array's address costs
    about a microsecond, which a fit of one small batch would otherwise pay
    once per work buffer (benchmarks/bench_training.py SmallFit)."""
    dtype = np.dtype(dtype)
    itemsize = dtype.itemsize
    if itemsize == 0:
        raise TypeError(f"dtype must have a nonzero itemsize, got {dtype}")
    sizes = [int(n) for n in sizes]
    if sizes and min(sizes) < 0:
        raise ValueError(f"sizes must be >= 0, got {sizes}")
    starts, total = [], 0            # byte offsets of each array, each a whole number of lines
    for n in sizes:
        starts.append(total)
        total += -(-n * itemsize // ALIGNMENT) * ALIGNMENT
    if ALIGNMENT % itemsize == 0:
        # In the dtype itself, slices need no .view (0.4 us each), when the
        # allocation lands a whole number of elements from a line.
        raw = np.empty((total + ALIGNMENT) // itemsize, dtype=dtype)
        first = -raw.ctypes.data % ALIGNMENT
        if first % itemsize == 0:
            return [raw[(first + at) // itemsize:(first + at) // itemsize + n] for n, at in zip(sizes, starts)]
    raw = np.empty(total + ALIGNMENT, dtype=np.uint8)
    first = -raw.ctypes.data % ALIGNMENT
    return [raw[first + at:first + at + n * itemsize].view(dtype) for n, at in zip(sizes, starts)]


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


_copies_of = {}   # id(array) -> (weak reference to it, its aligned copy), while the array lives


def copy_shared(array):
    """``copy(array)``, the same copy for every call while ``array`` lives.

    Unpickling gives networks that shared one parameter buffer one array
    between them; each re-homes it onto a cache line through this, so they
    share the copy as they shared the original."""
    key = id(array)
    hit = _copies_of.get(key)
    if hit is not None and hit[0]() is array:
        return hit[1]
    out = copy(array)
    _copies_of[key] = (weakref.ref(array, lambda _, key=key: _copies_of.pop(key, None)), out)
    return out
