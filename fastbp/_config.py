"""The one place that sets how kernels are compiled.

Every ``@njit`` in fastbp takes its options from here, so numerics switches
cannot drift apart between kernels (a check in the tests enforces it).

fastmath: only flags that cannot make results depend on where and when a
kernel was compiled. ``nnan`` and ``ninf`` are deliberately absent: they
would let the compiler fold away the NaN/inf checks that divergence
detection relies on. ``reassoc`` is absent too, except for the forward dot
products (``JIT_DOT``): see below.
"""

from numba.core.cpu import CPUTargetOptions as _TargetOptions

#: contract: fused multiply-adds; nsz, arcp: signed zeros and reciprocals.
#: Not reassoc: with it LLVM may re-associate a sum differently each time it
#: optimises the code, and numba optimises a kernel once on its own and
#: again as the copy linked into each caller. With reassoc everywhere the
#: same seed gave different weights on a first, compiling run than on later
#: runs that loaded the kernels from numba's cache (float32 and float64,
#: loops and BLAS paths), while every leaf kernel called on its own agreed:
#: the two kinds of run evidently execute different copies. The test is in
#: tests/test_float32_ir.py.
FASTMATH = {"contract", "nsz", "arcp"}

#: The forward products' dot products (kernels/dense.py ``dense_products``)
#: are reductions that LLVM vectorises only when allowed to reassociate;
#: without it W1 epochs took 2.1x as long. They keep reassoc, and the test
#: above checks that their results do not change between compiling and
#: cached runs either.
FASTMATH_DOT = FASTMATH | {"reassoc"}

#: Options for every serial kernel. ``error_model="numpy"`` turns a division by
#: zero into inf/NaN (caught by the divergence checks) instead of a costly
#: exception branch in every loop. ``_nrt=False``: compiled without numba's
#: reference-counted runtime. The kernels allocate nothing (an allocation now
#: fails to compile, so that stays true), and numba no longer emits and LLVM no
#: longer prunes an incref/decref for every array view: cold first fit about
#: 7% faster in float32 and 2% in float64 (README "Architecture").
JIT = dict(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy",
           **({"_nrt": False} if hasattr(_TargetOptions, "_nrt") else {}))   # a private option: kept optional

#: The forward products' register-blocked dot products (FASTMATH_DOT).
JIT_DOT = dict(JIT, fastmath=FASTMATH_DOT)

#: Thin composite kernels that only sequence calls: inlined into their callers
#: at numba-IR level, so they are not compiled (and code-generated, with all
#: they call inlined) once more as libraries of their own. See README
#: "Architecture" for the measured effect on compile time.
JIT_INLINE = dict(JIT, inline="always")

#: Options for code whose rounding order is part of the algorithm (the
#: Cody-Waite range reduction in kernels/vexp.py): no reassociation, which
#: would fold x - n*C1 - n*C2 into x - n*(C1+C2) and cost up to 200 ulp.
#: LLVM keeps these per-instruction flags when it inlines the code into
#: kernels compiled with FASTMATH.
JIT_ORDERED = dict(JIT, fastmath={"contract"})

#: Options for the kernels with a prange loop (kernels/parallel.py), which
#: allocate their per-shard results and need numba's runtime.
JIT_PARALLEL = dict(JIT, parallel=True)
JIT_PARALLEL.pop("_nrt", None)

#: Flush subnormal floats to zero while kernels run (x86 FTZ/DAZ, restored on
#: return). Subnormals arise from saturated units and decaying optimizer
#: moments and cost ~100x per operation; see kernels/fpu.py for the measurement.
FLUSH_SUBNORMALS = True
