"""GEMM with alpha and beta, for row-major arrays, callable from njit code.

``np.dot(a, b, out)`` in numba computes out = a·b only; fastbp needs
C = alpha·op(A)·op(B) + beta·C to accumulate gradients in place, to add the
biases prefilled in the output, and to apply an SGD step with L2 decay in
one pass (W = keep·W − η·δᵀa). This calls the same BLAS entry numba's own
``np.dot`` uses (``numba_xxgemm`` in numba's helper library, which resolves
scipy's BLAS at run time), so compiled kernels stay cacheable.

Row-major C (m × n) is column-major Cᵀ, so C = op(A)·op(B) is computed as
Cᵀ = op(B)ᵀ·op(A)ᵀ with the operands swapped.
"""

from numba import types
from numba.extending import overload
from numba.np.linalg import _BLAS


def gemm(trans_a, trans_b, alpha, A, B, beta, C, scalars):
    """C = alpha·op(A)·op(B) + beta·C for C-contiguous 2-D arrays of one float
    dtype; op(X) is Xᵀ when trans_X is True. ``scalars`` is a 2-element
    scratch array of the same dtype (BLAS takes alpha and beta by pointer).
    Pure-Python stub; the compiled implementation is the overload below."""
    raise NotImplementedError("fastbp.kernels.blas.gemm is only callable from numba-compiled code")


@overload(gemm, jit_options={"cache": True})
def _gemm(trans_a, trans_b, alpha, A, B, beta, C, scalars):
    if not isinstance(A, types.Array) or A.dtype not in (types.float32, types.float64):
        return None
    xxgemm = _BLAS().numba_xxgemm(A.dtype)
    kind = ord("s" if A.dtype == types.float32 else "d")
    no_trans, trans = ord("N"), ord("T")

    def impl(trans_a, trans_b, alpha, A, B, beta, C, scalars):
        m, n = C.shape
        k = A.shape[0] if trans_a else A.shape[1]
        scalars[0] = alpha
        scalars[1] = beta
        # Column-major view: Cᵀ (n × m) = op(B)ᵀ (n × k) · op(A)ᵀ (k × m).
        status = xxgemm(kind, trans if trans_b else no_trans, trans if trans_a else no_trans,
                        n, m, k, scalars[0:1].ctypes, B.ctypes, B.shape[1], A.ctypes, A.shape[1],
                        scalars[1:2].ctypes, C.ctypes, n)
        return status
    return impl

