"""Explicit-vector micro-kernels, written as LLVM IR through numba intrinsics.

The weight gradient G += Dᵀ X[rows] wants its accumulators in registers:
a block of G (4 rows x 2 vectors) loaded once, every sample of the batch
multiplied into it, stored once. Written as numba loops, LLVM cannot keep G
in registers (it cannot prove G, D and X do not overlap) and does not
vectorise the same block written as scalars, so the loop kernels streamed G
through memory once per 8 samples instead. Here the block is built directly
as <lanes x float> values: per sample, 2 vector loads of X and 4 broadcasts
of D feed 8 fused multiply-adds.

Every element is computed the same way in every block shape, vector or
scalar: g ← fmuladd(D[i, j], X[rows[i], k], g) for i = 0, 1, ... in order,
starting from G[j, k]. So G comes out bit-identical however its rows and
columns are split into blocks (parallel tasks split the rows).
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Bytes per vector: AVX2's 256-bit registers (8 float32 / 4 float64). LLVM
#: splits wider-than-native vectors on older targets, so this is portable.
VECTOR_BYTES = 32


def _outer_block(n_rows, n_vectors, scalar=False):
    """An intrinsic ``block(G, j, k0, X, rows, n, D)``:

    G[j+q, k0+c] += Σ_{i<n} D[i, j+q] · X[rows[i], k0+c]
    for q < n_rows and c < n_vectors·lanes (lanes = 1 if ``scalar``).

    G: (n_out, n_in), X: (n_src, n_in), D: (>= n, n_out), one float dtype;
    rows: (>= n,) int64. No bounds checks: the caller keeps the block inside G.
    """

    @intrinsic
    def block(typingctx, G, j, k0, X, rows, n, D):
        sig = types.void(G, j, k0, X, rows, n, D)

        def codegen(context, builder, signature, args):
            G_val, j_val, k0_val, X_val, rows_val, n_val, D_val = args
            G_ty, j_ty, k0_ty, X_ty, rows_ty, n_ty, D_ty = signature.args
            fty = context.get_value_type(G_ty.dtype)
            itemsize = context.get_abi_sizeof(fty)
            lanes = 1 if scalar else VECTOR_BYTES // itemsize
            vty = fty if scalar else ir.VectorType(fty, lanes)
            # fmuladd: fused where the CPU has FMA, never a slow library call where not.
            suffix = f"f{8 * itemsize}" if scalar else f"v{lanes}f{8 * itemsize}"
            fmuladd = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty] * 3),
                                                     f"llvm.fmuladd.{suffix}")
            G_arr = context.make_array(G_ty)(context, builder, G_val)
            X_arr = context.make_array(X_ty)(context, builder, X_val)
            rows_arr = context.make_array(rows_ty)(context, builder, rows_val)
            D_arr = context.make_array(D_ty)(context, builder, D_val)
            j = context.cast(builder, j_val, j_ty, types.intp)
            k0 = context.cast(builder, k0_val, k0_ty, types.intp)
            n = context.cast(builder, n_val, n_ty, types.intp)
            intp = context.get_value_type(types.intp)
            column = [builder.add(k0, ir.Constant(intp, v * lanes)) for v in range(n_vectors)]
            unit = [builder.add(j, ir.Constant(intp, q)) for q in range(n_rows)]

            def vector_at(ty, arr, r, k):
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
                    builder.store(builder.load(vector_at(G_ty, G_arr, unit[q], column[v]), align=itemsize),
                                  acc[q, v])
            with cgutils.for_range(builder, n) as loop:
                i = loop.index
                r = builder.load(cgutils.get_item_pointer(context, builder, rows_ty, rows_arr, [i]))
                r = context.cast(builder, r, rows_ty.dtype, types.intp)
                x = [builder.load(vector_at(X_ty, X_arr, r, column[v]), align=itemsize) for v in range(n_vectors)]
                for q in range(n_rows):
                    d = splat(builder.load(cgutils.get_item_pointer(context, builder, D_ty, D_arr, [i, unit[q]])))
                    for v in range(n_vectors):
                        builder.store(builder.call(fmuladd, [d, x[v], builder.load(acc[q, v])]), acc[q, v])
            for q in range(n_rows):
                for v in range(n_vectors):
                    builder.store(builder.load(acc[q, v]), vector_at(G_ty, G_arr, unit[q], column[v]),
                                  align=itemsize)
            return context.get_dummy_value()

        return sig, codegen

    return block


#: The weight gradient's blocks: 4 rows x 2 vectors (8 accumulators, enough
#: independent chains to cover FMA latency on 2 ports), 1-row and 1-vector
#: remainders, and a scalar column for n_in not a multiple of the lanes.
outer_4x2 = _outer_block(4, 2)
outer_1x2 = _outer_block(1, 2)
outer_4x1 = _outer_block(4, 1)
outer_1x1 = _outer_block(1, 1)
outer_4_scalar = _outer_block(4, 1, scalar=True)
outer_1_scalar = _outer_block(1, 1, scalar=True)

