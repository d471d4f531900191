"""Software prefetch of rows picked by an index array (LLVM's llvm.prefetch)."""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Bytes per cache line on x86-64 and most AArch64 cores.
LINE_BYTES = 64


@intrinsic
def prefetch_rows(typingctx, A, rows, start, stop):
    """Hint the CPU to load rows A[rows[t]] for start <= t < stop into cache.

    A: 1-D (one element per row) or 2-D C-contiguous; rows: 1-D int64. A
    hint only: it never faults and changes no values."""
    sig = types.void(A, rows, start, stop)

    def codegen(context, builder, signature, args):
        A_ty, rows_ty, start_ty, stop_ty = signature.args
        A_arr = context.make_array(A_ty)(context, builder, args[0])
        rows_arr = context.make_array(rows_ty)(context, builder, args[1])
        start = context.cast(builder, args[2], start_ty, types.intp)
        stop = context.cast(builder, args[3], stop_ty, types.intp)
        intp = context.get_value_type(types.intp)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        # "p0i8" with typed pointers (LLVM < 15); newer LLVM upgrades the name to "p0".
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), f"llvm.prefetch.{i8p.intrinsic_name}")
        itemsize = context.get_abi_sizeof(context.get_value_type(A_ty.dtype))
        if A_ty.ndim == 2:
            n_cols = cgutils.unpack_tuple(builder, A_arr.shape, 2)[1]
            row_bytes = builder.mul(n_cols, ir.Constant(intp, itemsize))
        else:
            row_bytes = ir.Constant(intp, itemsize)
        line_bytes = ir.Constant(intp, LINE_BYTES)
        with cgutils.for_range(builder, builder.sub(stop, start)) as loop:
            t = builder.add(start, loop.index)
            r = builder.load(cgutils.get_item_pointer(context, builder, rows_ty, rows_arr, [t]))
            r = context.cast(builder, r, rows_ty.dtype, types.intp)
            index = [r, ir.Constant(intp, 0)] if A_ty.ndim == 2 else [r]
            base = builder.bitcast(cgutils.get_item_pointer(context, builder, A_ty, A_arr, index), i8p)
            # Exactly the lines the row touches: from its start's offset within a line to its last byte.
            offset = builder.and_(builder.ptrtoint(base, intp), ir.Constant(intp, LINE_BYTES - 1))
            last = builder.sub(builder.add(offset, row_bytes), ir.Constant(intp, 1))
            n_lines = builder.add(builder.udiv(last, line_bytes), ir.Constant(intp, 1))
            with cgutils.for_range(builder, n_lines) as line:
                address = builder.gep(base, [builder.mul(line.index, line_bytes)])
                # read, high locality, data cache
                builder.call(prefetch, [address, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen
