"""GEMM with alpha and beta, for row-major arrays, callable from njit code.

``np.dot(a, b, out)`` in numba computes out = a·b only; fastbp needs
C = alpha·op(A)·op(B) + beta·C to accumulate gradients in place, to add the
biases prefilled in the output, and to apply an SGD step with L2 decay in
one pass (W = keep·W − η·δᵀa).

Which BLAS: the OpenBLAS that numpy's wheel ships (and has already loaded),
called through its CBLAS entry, which takes row-major arrays and scalars by
value. numba's own route (``numba_xxgemm``, kept as the fallback) calls
scipy's OpenBLAS, a second library with a thread pool of its own; on a
2-core Zen 3 the direct route made W1 epochs 1.3x and W2 1.2x faster (see
README, Architecture). The symbol is registered with LLVM
by name (``llvmlite.binding.add_symbol``), so no address is baked into the
machine code and cached kernels stay valid across processes; which route a
kernel was compiled for is part of the cache stamp (``PROVIDER``).

Set ``FASTBP_BLAS=numba`` before importing fastbp to force the fallback.
"""

import ctypes
import glob
import importlib.util
import os

import llvmlite.binding as llvm
import numpy as np
from numba import types
from numba.extending import overload
from numba.np.linalg import _BLAS

# CBLAS enum values (cblas.h)
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112


def _library_dirs(package):
    """Where a wheel keeps its bundled shared libraries, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    root = list(spec.submodule_search_locations)[0]
    return [root + ".libs", os.path.join(root, ".dylibs")]


def _find_cblas():
    """(name, {dtype: address}, int type) of a bundled OpenBLAS's cblas_?gemm, or None.

    Only symbols whose integer width is certain are taken: a ``64_`` suffix
    means 64-bit integers (ILP64); an unsuffixed symbol counts only in a
    library whose name does not mention 64.
    """
    for package in ("numpy", "scipy"):
        for directory in _library_dirs(package):
            for path in sorted(glob.glob(os.path.join(directory, "*openblas*"))):
                try:
                    lib = ctypes.CDLL(path)
                except OSError:
                    continue
                wide = "64" in os.path.basename(path)
                candidates = [("64_", types.int64)] + ([] if wide else [("", types.int32)])
                for prefix in ("scipy_", ""):
                    for suffix, int_type in candidates:
                        try:
                            found = {kind: ctypes.cast(getattr(lib, f"{prefix}cblas_{kind}gemm{suffix}"),
                                                       ctypes.c_void_p).value for kind in "sd"}
                        except AttributeError:
                            continue
                        return (f"{package}:{os.path.basename(path)}:{prefix}cblas_gemm{suffix}", found, int_type,
                                _core_name(lib, prefix, suffix))
    return None


def _core_name(lib, prefix, suffix):
    """The CPU kernel set OpenBLAS picked at load time ("Haswell", "SkylakeX", ...), or ""."""
    try:
        get = getattr(lib, f"{prefix}openblas_get_corename{suffix}")
    except AttributeError:
        return ""
    get.restype = ctypes.c_char_p
    return (get() or b"").decode(errors="replace")


def _numba_route():
    """Load scipy's BLAS for numba's route now: numba loads it only when a
    kernel first runs a product, inside fit's thread limits (threadpoolctl),
    which then did not cover it; the first fit of a process ran its products
    on every core and gave other weights than the same fit run later."""
    from numba.np.linalg import ensure_blas
    try:
        ensure_blas()
    except ImportError:       # no scipy: numba says so when it compiles a product
        pass
    return "numba", None, ""


def _register():
    if os.environ.get("FASTBP_BLAS", "").lower() == "numba":
        return _numba_route()
    found = _find_cblas()
    if found is None:
        return _numba_route()
    name, addresses, int_type, core = found
    for kind, address in addresses.items():
        llvm.add_symbol(f"fastbp_cblas_{kind}gemm", address)
    return name, int_type, core


#: The BLAS route kernels are compiled for ("numba" = numba's scipy route);
#: CORE is OpenBLAS's kernel set on this CPU ("" when unknown).
PROVIDER, _INT, CORE = _register()

#: OpenBLAS kernel sets with dedicated small-matrix GEMM kernels (no packing
#: of the operands), which is what makes BLAS beat fastbp's loops on
#: mini-batches of a few rows (fastbp/_dispatch.py).
SMALL_MATRIX_CORES = ("SkylakeX", "Cooperlake", "SapphireRapids")


def gemm(trans_a, trans_b, alpha, A, B, beta, C, scalars):
    """C = alpha·op(A)·op(B) + beta·C for C-contiguous 2-D arrays of one float
    dtype; op(X) is Xᵀ when trans_X is True. ``scalars`` is a 2-element
    scratch array of the same dtype (the fallback BLAS takes alpha and beta
    by pointer). Pure-Python stub; the compiled implementation is the
    overload below."""
    raise NotImplementedError("fastbp.kernels.blas.gemm is only callable from numba-compiled code")


def _cblas_impl(dtype):
    n_ = _INT
    cblas = types.ExternalFunction(
        f"fastbp_cblas_{'s' if dtype == types.float32 else 'd'}gemm",
        types.void(types.int32, types.int32, types.int32, n_, n_, n_, dtype, types.voidptr, n_,
                   types.voidptr, n_, dtype, types.voidptr, n_))

    def impl(trans_a, trans_b, alpha, A, B, beta, C, scalars):
        m, n = C.shape
        k = A.shape[0] if trans_a else A.shape[1]
        no_trans, trans = np.int32(_NO_TRANS), np.int32(_TRANS)
        cblas(np.int32(_ROW_MAJOR), trans if trans_a else no_trans, trans if trans_b else no_trans,
              m, n, k, alpha, A.ctypes, A.shape[1], B.ctypes, B.shape[1], beta, C.ctypes, n)
        return 0
    return impl


def _numba_impl(dtype):
    xxgemm = _BLAS().numba_xxgemm(dtype)
    kind = ord("s" if dtype == types.float32 else "d")
    no_trans, trans = ord("N"), ord("T")

    def impl(trans_a, trans_b, alpha, A, B, beta, C, scalars):
        m, n = C.shape
        k = A.shape[0] if trans_a else A.shape[1]
        scalars[0] = alpha
        scalars[1] = beta
        # Fortran BLAS is column-major: Cᵀ (n × m) = op(B)ᵀ (n × k) · op(A)ᵀ (k × m).
        status = xxgemm(kind, trans if trans_b else no_trans, trans if trans_a else no_trans,
                        n, m, k, scalars[0:1].ctypes, B.ctypes, B.shape[1], A.ctypes, A.shape[1],
                        scalars[1:2].ctypes, C.ctypes, n)
        return status
    return impl


@overload(gemm, jit_options={"cache": True})
def _gemm(trans_a, trans_b, alpha, A, B, beta, C, scalars):
    if not isinstance(A, types.Array) or A.dtype not in (types.float32, types.float64):
        return None
    return _numba_impl(A.dtype) if PROVIDER == "numba" else _cblas_impl(A.dtype)
