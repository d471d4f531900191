"""exp_nonpositive (kernels/vexp.py) against exp in extended precision."""

import numpy as np
import pytest
from numba import njit

from fastbp.kernels.vexp import exp_nonpositive

# Cephes' own bounds for these algorithms are ~1 ulp; 2 ulp leaves room for
# the FMA contractions LLVM may or may not make, and is far below what a
# reassociated range reduction would give (~200 ulp near -700 in float64).
MAX_ULP = 2.0
LOWEST_NORMAL_ARG = {np.float32: -87.3, np.float64: -708.0}


@njit(cache=False)
def _exp_all(x, out):
    for i in range(x.shape[0]):
        out[i] = exp_nonpositive(x[i])


def _ulp_error(x, dtype):
    out = np.empty_like(x)
    _exp_all(x, out)
    exact = np.exp(x.astype(np.longdouble))
    return np.abs(out.astype(np.longdouble) - exact) / np.spacing(exact.astype(dtype)).astype(np.longdouble)


@pytest.mark.skipif(np.finfo(np.longdouble).nmant < 60, reason="needs an 80-bit long double reference")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_within_two_ulp_over_the_normal_range(dtype):
    lo = LOWEST_NORMAL_ARG[dtype]
    x = np.concatenate([-np.geomspace(1e-30, -lo, 200_000), np.linspace(lo, 0.0, 200_000),
                        np.random.default_rng(0).uniform(lo, 0.0, 200_000)]).astype(dtype)
    err = _ulp_error(x, dtype)
    assert err.max() <= MAX_ULP, f"{err.max():.2f} ulp at x = {x[np.argmax(err)]!r}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edges_zero_underflow_and_nan(dtype):
    tiny = np.finfo(dtype).smallest_subnormal
    x = np.array([0.0, -0.0, -tiny, -1e4, -np.inf, np.nan], dtype)
    out = np.empty_like(x)
    _exp_all(x, out)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out[:5], [1.0, 1.0, 1.0, 0.0, 0.0])
    assert np.isnan(out[5])
    # results that would be subnormal are 0, as flush-to-zero makes them in the kernels
    below = np.array([LOWEST_NORMAL_ARG[dtype] - 1.0], dtype)
    _exp_all(below, out[:1])
    assert out[0] == 0.0
