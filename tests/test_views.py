"""Reference-count-free views (kernels/views.py) address the same memory as numpy's."""

import numpy as np
from numba import njit

from fastbp.kernels.views import view_1d, view_2d


@njit(cache=False)
def _views(flat, grid, offset, rows, cols, s):
    block = view_2d(flat, offset, rows, cols)
    tail = view_1d(flat, offset, rows * cols)
    row = view_1d(grid, s * grid.shape[1], grid.shape[1])
    block[rows - 1, cols - 1] = -1.0          # writes land in the parent
    row[0] = -2.0
    return block.copy(), tail.copy(), row.copy(), block[1:].shape, block.strides


def test_views_match_numpy_slices_and_write_through():
    flat = np.arange(40, dtype=np.float32)
    grid = np.arange(12, dtype=np.float32).reshape(3, 4)
    expected_block = flat[5:17].reshape(3, 4).copy()
    expected_block[2, 3] = -1.0
    block, tail, row, sliced_shape, strides = _views(flat, grid, 5, 3, 4, 2)
    np.testing.assert_array_equal(block, expected_block)
    np.testing.assert_array_equal(tail, expected_block.ravel())
    np.testing.assert_array_equal(row, [-2.0, 9.0, 10.0, 11.0])
    assert flat[16] == -1.0 and grid[2, 0] == -2.0
    assert sliced_shape == (2, 4) and strides == (16, 4)


@njit(cache=False)
def _make_many(flat, n):
    total = 0.0
    for i in range(n):
        total += view_2d(flat, i % 8, 2, 4)[1, 3]
    return total


def test_views_made_in_a_loop_address_their_own_offsets():
    flat = np.arange(16, dtype=np.float64)
    assert _make_many(flat, 1000) == sum(float(7 + i % 8) for i in range(1000))


def test_prefetch_rows_compiles_for_every_array_kind_and_changes_nothing():
    """kernels/prefetch.py is a hint (llvm.prefetch never faults): it must
    compile for 1-D and 2-D arrays of every dtype the epoch passes it
    (targets, sample weights, int64 labels), including the last row and
    rows that end mid cache line, and leave every value as it was."""
    from fastbp.kernels.prefetch import prefetch_rows

    @njit
    def touch(A, rows):
        prefetch_rows(A, rows, 0, rows.shape[0])
        prefetch_rows(A, rows, 1, 1)          # an empty range

    rows = np.array([4, 0, 2], dtype=np.int64)
    for A in (np.arange(5 * 3, dtype=np.float32).reshape(5, 3), np.arange(5 * 17, dtype=np.float64).reshape(5, 17),
              np.arange(5, dtype=np.int64), np.ones(5, dtype=np.float32)):
        before = A.copy()
        touch(A, rows)
        np.testing.assert_array_equal(A, before)
