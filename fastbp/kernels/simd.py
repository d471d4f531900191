"""Explicit-vector micro-kernels, written as LLVM IR through numba intrinsics.

The weight gradient G += Dᵀ X[rows] wants its accumulators in registers:
a block of G (4 rows x 2 vectors) loaded once, every sample of the batch
multiplied into it, stored once. Written as numba loops, LLVM cannot keep G
in registers (it cannot prove G, D and X do not overlap) and does not
vectorise the same block written as scalars, so the loop kernels streamed G
through memory once per 8 samples instead. Here the block is built directly
as <lanes x float> values: per sample, 2 vector loads of X and 4 broadcasts
of D feed 8 fused multiply-adds.

The deltas (and, past the first layer, the inputs) are read from the
first row of a work buffer, from an offset: a layer's block of the
serial path's buffer or of the parallel path's batch-wide one
(kernels/parallel.py).

Every element is computed the same way in every block shape, vector or
scalar: g ← fmuladd(D[t, j], X[t, k], g) for the samples t = 0, 1, ... of
the batch in order, starting from G[j, k]. So G comes out bit-identical
however its rows and columns are split into blocks (parallel tasks split
the rows).
"""

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core import config as numba_config
from numba.extending import intrinsic


def _vector_bytes():
    """64 where the features numba compiles for include AVX-512, else 32
    (AVX2). Those are NUMBA_CPU_FEATURES when set, else the host's, whatever
    NUMBA_CPU_NAME says (numba's CPUCodegen._get_host_cpu_features)."""
    features = numba_config.CPU_FEATURES
    if features is None:
        features = llvm.get_host_cpu_features().flatten()
    return 64 if "+avx512f" in features.split(",") else 32


#: Bytes per vector. AVX-512's 512-bit registers (16 float32 / 8 float64)
#: where the target has them: with the buffers on cache lines (_aligned.py),
#: the parallel path's epochs were 1.08x faster than with 256-bit vectors
#: (W2 float64; float32 1.02x, 6 rounds of fresh processes alternating) and
#: W1 float32's 1.08-1.09x (parallel, and serial on 4-row batches, where
#: the loops run). Elsewhere AVX2's 256 bits: there a 512-bit vector is two
#: registers, and the 4 x 2 block's 16 accumulators would fill all 16. LLVM
#: splits wider-than-native vectors on older targets, so either is correct
#: everywhere. Which one a kernel was compiled with follows from the CPU
#: numba compiles for, which is part of numba's cache key.
VECTOR_BYTES = _vector_bytes()


def _outer_block(n_rows, n_vectors, scalar):
    """An intrinsic ``block(G, j, k0, src, rows, src_off, by_row, D2, d_off, size)``:

    G[j+q, k0+c] += Σ_t D[t, j+q] · X[t, k0+c]
    for q < n_rows and c < n_vectors·lanes (lanes = 1 if ``scalar``), over
    the ``size`` samples t of a batch. Sample t has its deltas at
    D2[0, d_off + t·n_out ...] and its input row at src[rows[t]] if
    ``by_row``, else at src[0, src_off + t·n_in ...] (src_off, or rows, is
    then unused). The choice is one branch per call, outside the loops.

    G: (n_out, n_in); D2: (m, width); src: (n_src, n_in) or (m, width); all
    C-contiguous, one float dtype (others do not type); rows: (size,) int64.
    No bounds checks: the caller keeps the block inside G.
    """

    @intrinsic
    def block(typingctx, G, j, k0, src, rows, src_off, by_row, D2, d_off, size):
        # The vector loads reinterpret src and D2 as G's dtype, contiguous rows.
        arrays = (G, src, D2)
        if not all(isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C" and a.dtype == G.dtype
                   for a in arrays) or not (isinstance(rows, types.Array) and rows.ndim == 1):
            return None
        sig = types.void(G, j, k0, src, rows, src_off, by_row, D2, d_off, size)

        def codegen(context, builder, signature, args):
            G_ty, _, _, src_ty, rows_ty, _, by_row_ty, D_ty = signature.args[:8]
            j, k0, src_off, d_off, size = (
                context.cast(builder, args[a], signature.args[a], types.intp) for a in (1, 2, 5, 8, 9))
            by_row = context.cast(builder, args[6], by_row_ty, types.boolean)
            G_arr = context.make_array(G_ty)(context, builder, args[0])
            src_arr = context.make_array(src_ty)(context, builder, args[3])
            rows_arr = context.make_array(rows_ty)(context, builder, args[4])
            D_arr = context.make_array(D_ty)(context, builder, args[7])
            fty = context.get_value_type(G_ty.dtype)
            itemsize = context.get_abi_sizeof(fty)
            lanes = 1 if scalar else VECTOR_BYTES // itemsize
            vty = fty if scalar else ir.VectorType(fty, lanes)
            intp = context.get_value_type(types.intp)
            # fmuladd: fused where the CPU has FMA, never a slow library call where not.
            suffix = f"f{8 * itemsize}" if scalar else f"v{lanes}f{8 * itemsize}"
            fmuladd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                                     f"llvm.fmuladd.{suffix}")
            n_out, n_in = cgutils.unpack_tuple(builder, G_arr.shape, 2)
            column = [builder.add(k0, ir.Constant(intp, v * lanes)) for v in range(n_vectors)]
            unit = [builder.add(j, ir.Constant(intp, q)) for q in range(n_rows)]

            def pointer(ty, arr, r, k):
                ptr = cgutils.get_item_pointer(context, builder, ty, arr, [r, k])
                return ptr if scalar else builder.bitcast(ptr, vty.as_pointer())

            def splat(x):
                if scalar:
                    return x
                one = builder.insert_element(ir.Constant(vty, ir.Undefined), x, ir.Constant(ir.IntType(32), 0))
                return builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined),
                                              ir.Constant(ir.VectorType(ir.IntType(32), lanes), [0] * lanes))

            # Accumulators live in allocas that LLVM promotes to registers.
            acc = {}
            for q in range(n_rows):
                for v in range(n_vectors):
                    acc[q, v] = cgutils.alloca_once(builder, vty)
                    builder.store(builder.load(pointer(G_ty, G_arr, unit[q], column[v]), align=itemsize),
                                  acc[q, v])

            def multiply_in_samples(inputs_by_row):
                first_row = ir.Constant(intp, 0)
                with cgutils.for_range(builder, size) as samples:
                    t = samples.index
                    if inputs_by_row:
                        r = builder.load(cgutils.get_item_pointer(context, builder, rows_ty, rows_arr, [t]))
                        x_row, x_col = context.cast(builder, r, rows_ty.dtype, types.intp), ir.Constant(intp, 0)
                    else:
                        x_row, x_col = first_row, builder.add(src_off, builder.mul(t, n_in))
                    x = [builder.load(pointer(src_ty, src_arr, x_row, builder.add(x_col, column[v])),
                                      align=itemsize) for v in range(n_vectors)]
                    d_col = builder.add(d_off, builder.mul(t, n_out))
                    for q in range(n_rows):
                        d = splat(builder.load(cgutils.get_item_pointer(context, builder, D_ty, D_arr,
                                                                        [first_row, builder.add(d_col, unit[q])])))
                        for v in range(n_vectors):
                            builder.store(builder.call(fmuladd, [d, x[v], builder.load(acc[q, v])]), acc[q, v])

            with builder.if_else(by_row) as (from_rows, from_offset):
                with from_rows:
                    multiply_in_samples(True)
                with from_offset:
                    multiply_in_samples(False)
            for q in range(n_rows):
                for v in range(n_vectors):
                    builder.store(builder.load(acc[q, v]), pointer(G_ty, G_arr, unit[q], column[v]),
                                  align=itemsize)
            return context.get_dummy_value()

        return sig, codegen

    return block


#: The weight gradient's blocks: 4 rows x 2 vectors (8 accumulators, enough
#: independent chains to cover FMA latency on 2 ports), 1-row and 1-vector
#: remainders, and a scalar column for n_in not a multiple of the lanes.
outer_4x2 = _outer_block(4, 2, False)
outer_1x2 = _outer_block(1, 2, False)
outer_4x1 = _outer_block(4, 1, False)
outer_1x1 = _outer_block(1, 1, False)
outer_4_scalar = _outer_block(4, 1, True)
outer_1_scalar = _outer_block(1, 1, True)
