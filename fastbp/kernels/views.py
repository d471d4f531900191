"""Views into the flat buffers without reference counting.

Every numba array view (a slice, a reshape, a row ``A[s]``) increments the
parent buffer's reference count when made and decrements it when dropped,
each an atomic ``lock`` instruction. A mini-batch step makes ~80 such views
of theta and the work buffers (per-layer weights, units, deltas): on
[784, 30, 10] at batch 10 the two atomics were 7 % of an epoch
(``perf``), and in the parallel path both threads hit the same counters,
whose cache line then bounces between the cores.

The views made here carry no reference to their parent (meminfo NULL, as
for ``numba.carray`` over a raw pointer), so making and dropping them costs
nothing. They are valid while the parent array is alive: kernels make them
from arrays passed in as arguments and never return them.
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array


def _borrowed_view(context, builder, base_type, base, offset, shape, result_type):
    """Array struct of ``result_type`` over base's data from element ``offset``, C order, no meminfo."""
    ary = make_array(base_type)(context, builder, base)
    out = make_array(result_type)(context, builder)
    itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(base_type.dtype)))
    strides = []
    stride = itemsize
    for extent in reversed(shape):
        strides.insert(0, stride)
        stride = builder.mul(stride, extent)
    populate_array(out, data=builder.gep(ary.data, [offset]), shape=cgutils.pack_array(builder, shape),
                   strides=cgutils.pack_array(builder, strides), itemsize=itemsize, meminfo=None)
    return out._getvalue()


def _as_intp(context, builder, value, value_type):
    return context.cast(builder, value, value_type, types.intp)


@intrinsic
def view_1d(typingctx, base, offset, n):
    """Elements offset .. offset + n - 1 (in C order) of a C-contiguous array, as
    a 1-D array without a reference to base: base[offset:offset + n] for 1-D,
    row s of a 2-D (m, n) base for offset = s·n."""
    if not (isinstance(base, types.Array) and base.layout == "C"):
        return None
    result = types.Array(base.dtype, 1, "C")

    def codegen(context, builder, signature, args):
        base_type, offset_type, n_type = signature.args
        offset_v = _as_intp(context, builder, args[1], offset_type)
        shape = [_as_intp(context, builder, args[2], n_type)]
        return _borrowed_view(context, builder, base_type, args[0], offset_v, shape, result)
    return result(base, offset, n), codegen


@intrinsic
def view_2d(typingctx, base, offset, n_rows, n_cols):
    """base[offset:offset + n_rows·n_cols] as a C-ordered (n_rows, n_cols) array,
    without a reference to base (any C-contiguous base; offset in elements, C order)."""
    if not (isinstance(base, types.Array) and base.layout == "C"):
        return None
    result = types.Array(base.dtype, 2, "C")

    def codegen(context, builder, signature, args):
        base_type, offset_type, rows_type, cols_type = signature.args
        offset_v = _as_intp(context, builder, args[1], offset_type)
        shape = [_as_intp(context, builder, args[2], rows_type), _as_intp(context, builder, args[3], cols_type)]
        return _borrowed_view(context, builder, base_type, args[0], offset_v, shape, result)
    return result(base, offset, n_rows, n_cols), codegen
