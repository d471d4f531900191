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
    for _ in range(4):      # numpy would put some on a line by chance
        assert _aligned_data(fastbp.Network([784, 30, 10], dtype=dtype)._theta)
    net = fastbp.Network([784, 30, 10], dtype=dtype, seed=0)
    moved = fastbp.Network([784, 30, 10], dtype=dtype, seed=0)
    moved._move_parameters()
    clones = {"copy": net.copy(), "deepcopy": copy.deepcopy(net), "pickle": pickle.loads(pickle.dumps(net)),
              "moved": moved}
    for how, clone in clones.items():
        assert _aligned_data(clone._theta), how
        np.testing.assert_array_equal(clone._theta, net._theta)
        assert np.shares_memory(clone.weights[0], clone._theta), how


def test_copies_keep_what_shared_the_parameters_shared():
    net = fastbp.Network([6, 4, 2], seed=0)
    other = fastbp.Network([6, 4, 2], seed=1)
    other._share_parameters(net)             # as fastbp.nielsen's change of cost does
    theta_copy, net_copy = copy.deepcopy((net._theta, net))
    assert theta_copy is net_copy._theta
    for a, b in (copy.deepcopy([net, other]), pickle.loads(pickle.dumps([net, other]))):
        assert a._theta is b._theta and _aligned_data(a._theta)
        a.parameters[0] = 42.0
        assert b.parameters[0] == 42.0 and b.weights[0][0, 0] == 42.0
    assert copy.copy(net)._theta is net._theta   # a shallow copy shares, as before


def test_optimizer_state_is_aligned():
    from fastbp import optimizers
    from fastbp.training import OptimizerState
    state = OptimizerState(optimizers.Adam(), 23860, np.float32)
    assert _aligned_data(state.first) and _aligned_data(state.second)


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


@pytest.mark.parametrize("dtype", [np.dtype([("a", np.float32, 3)]), np.dtype("V32"), np.complex128])
def test_any_itemsize_is_aligned(dtype):
    # 12 and 32 bytes: numpy's 16-byte allocation is no whole number of them from a line.
    for _ in range(8):
        group = _aligned.empty_group([3, 5], dtype)
        assert all(_aligned_data(a) and a.dtype == dtype and a.shape == (n,) for a, n in zip(group, [3, 5]))


def test_bad_sizes_and_empty_dtypes_are_refused():
    with pytest.raises(ValueError, match="negative"):
        _aligned.empty(-1, np.float32)
    with pytest.raises(ValueError, match="negative"):
        _aligned.empty((2, -3), np.float32)
    with pytest.raises(ValueError, match=">= 0"):
        _aligned.empty_group([4, -1], np.float32)
    with pytest.raises(TypeError, match="nonzero itemsize"):
        _aligned.empty(3, "V0")
    assert _aligned.empty(np.array([3, 4]), np.float32).shape == (3, 4)   # any sequence of ints, as np.empty
