"""Flush subnormal numbers to zero while a kernel runs (x86: MXCSR FTZ + DAZ).

Saturated sigmoids give exactly-zero or tiny errors, and decaying optimizer
moments of such units pass through the subnormal range (below 1.2e-38 in
float32), where every x86 floating-point operation takes ~100 cycles. On
[784, 30, 10] float32 with Adam this made epochs 3.5x slower (0.70 s instead
of 0.20 s, benchmarks/compare.py shapes). Entry-point kernels therefore
switch the calling thread to flush-to-zero / denormals-are-zero on entry and
restore its previous mode on exit; values that small contribute nothing
measurable to an update. Other platforms keep their default mode.
"""

import platform

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .._config import FLUSH_SUBNORMALS, JIT

_FTZ_DAZ = 0x8040          # MXCSR bit 15 (flush to zero) | bit 6 (denormals are zero)
X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def _mxcsr_pointer(builder):
    slot = builder.alloca(ir.IntType(32))
    return slot, builder.bitcast(slot, ir.PointerType(ir.IntType(8)))


@intrinsic
def _read_mxcsr(typingctx):
    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic(
            "llvm.x86.sse.stmxcsr", fnty=ir.FunctionType(ir.VoidType(), [ir.PointerType(ir.IntType(8))]))
        slot, pointer = _mxcsr_pointer(builder)
        builder.call(fn, [pointer])
        return builder.load(slot)
    return types.int32(), codegen


@intrinsic
def _write_mxcsr(typingctx, value):
    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic(
            "llvm.x86.sse.ldmxcsr", fnty=ir.FunctionType(ir.VoidType(), [ir.PointerType(ir.IntType(8))]))
        slot, pointer = _mxcsr_pointer(builder)
        builder.store(args[0], slot)
        builder.call(fn, [pointer])
        return context.get_dummy_value()
    return types.void(types.int32), codegen


if X86 and FLUSH_SUBNORMALS:
    @njit(**JIT)
    def flush_subnormals():
        """Turn on FTZ/DAZ for this thread; returns the previous mode for ``restore_fp_mode``."""
        saved = _read_mxcsr()
        _write_mxcsr(saved | _FTZ_DAZ)
        return saved

    @njit(**JIT)
    def restore_fp_mode(saved):
        _write_mxcsr(saved)
else:
    @njit(**JIT)
    def flush_subnormals():
        """No-op where the mode is not an x86 MXCSR (or flushing is configured off)."""
        return 0

    @njit(**JIT)
    def restore_fp_mode(saved):
        pass
