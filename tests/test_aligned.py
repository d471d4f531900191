"""64-byte alignment of the buffers the BLAS kernels stream (fastbp/_aligned.py)."""

import copy
import pickle

import numpy as np
import pytest

import fastbp
from fastbp import _aligned


def _aligned_data(a):
    return a.ctypes.data % _aligned.ALIGNMENT == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.uint8])
@pytest.mark.parametrize("shape", [0, 1, 7, 23860, (3, 5), (2, 0), (4, 784)])
def test_arrays_start_on_a_cache_line(shape, dtype):
    # Many allocations: numpy's own are 16 bytes apart, so some would be off a line by chance.
    for _ in range(8):
        out = _aligned.empty(shape, dtype)
        assert out.shape == ((shape,) if np.ndim(shape) == 0 else shape)
        assert out.dtype == dtype and out.flags.c_contiguous and out.flags.writeable
        assert out.size == 0 or _aligned_data(out)
    assert not _aligned.zeros(shape, dtype).any()


def test_copy_keeps_values_and_is_independent():
    source = np.arange(35, dtype=np.float32).reshape(5, 7)[:, ::2]    # not contiguous
    out = _aligned.copy(source)
    np.testing.assert_array_equal(out, source)
    assert _aligned_data(out) and out.flags.c_contiguous
    out[0, 0] = -1
    assert source[0, 0] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_stay_aligned_through_copies_and_pickling(dtype):
    net = fastbp.Network([784, 30, 10], dtype=dtype, seed=0)
    clones = {"new": net, "copy": net.copy(), "deepcopy": copy.deepcopy(net),
              "pickle": pickle.loads(pickle.dumps(net))}
    net._move_parameters()
    clones["moved"] = net
    for how, clone in clones.items():
        assert _aligned_data(clone._theta), how
        np.testing.assert_array_equal(clone._theta, clones["copy"]._theta)
        assert clone.weights[0].base is not None and np.shares_memory(clone.weights[0], clone._theta), how


def test_deepcopy_keeps_references_to_the_parameters_shared():
    net = fastbp.Network([4, 3, 2], seed=0)
    clone, theta = copy.deepcopy((net, net._theta))
    assert theta is clone._theta


def test_work_buffers_are_aligned():
    net = fastbp.Network([784, 30, 10], dtype=np.float32, seed=0)
    for rows in (3, 10):     # loop kernels and BLAS
        work, _, _ = net._work(rows)
        for buffer in work[:4]:
            assert buffer.size == 0 or _aligned_data(buffer)


@pytest.mark.parametrize("make", [lambda X: X, lambda X: np.asfortranarray(X), lambda X: X[:, ::1].copy()])
def test_converted_inputs_are_aligned_copies_and_usable_ones_are_not_copied(make):
    from fastbp._validation import as_features
    X64 = make(np.random.default_rng(0).random((50, 784)))
    X32 = as_features(X64, 784, np.float32)
    assert _aligned_data(X32) and X32.flags.c_contiguous and X32.dtype == np.float32
    np.testing.assert_array_equal(X32, X64.astype(np.float32))
    read_only = np.ascontiguousarray(X32.copy())
    read_only.flags.writeable = False
    copied = as_features(read_only, 784, np.float32)
    assert copied.flags.writeable and _aligned_data(copied) and not np.shares_memory(copied, read_only)
    usable = np.ascontiguousarray(X64)
    assert as_features(usable, 784, np.float64) is usable     # no copy of data fit can use as it is


def test_conversion_still_refuses_float32_overflow():
    from fastbp._validation import as_features
    with pytest.raises(ValueError, match="too large for float32"):
        as_features(np.full((2, 3), 1e300), 3, np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_group_of_arrays_is_aligned_and_disjoint(dtype):
    sizes = (300, 0, 17, 7840, 1)
    group = _aligned.empty_group(sizes, dtype)
    assert [a.shape for a in group] == [(n,) for n in sizes]
    for i, a in enumerate(group):
        assert a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
        assert a.size == 0 or _aligned_data(a)
        a[...] = i
    for i, a in enumerate(group):        # no array overlaps another
        assert (a == i).all()


@pytest.mark.parametrize("dtype", [np.dtype([("a", np.float32, 3)]), np.dtype("V32")])
def test_dtypes_without_a_whole_number_of_elements_per_line_are_refused(dtype):
    with pytest.raises(TypeError, match="itemsize of 1, 2, 4, 8 or 16"):
        _aligned.empty(4, dtype)
