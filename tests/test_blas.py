"""kernels/blas.py: C = alpha·op(A)·op(B) + beta·C through either BLAS route."""

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from numba import njit

from fastbp.kernels import _cache, blas
from fastbp.kernels.blas import gemm

CASES = [(dtype, ta, tb) for dtype in ("float32", "float64") for ta in (False, True) for tb in (False, True)]


@njit(cache=False)
def _gemm(trans_a, trans_b, alpha, A, B, beta, C, scalars):
    gemm(trans_a, trans_b, alpha, A, B, beta, C, scalars)


def _operands(dtype, trans_a, trans_b, m=7, n=5, k=13, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    C = rng.standard_normal((m, n)).astype(dtype)
    return A, B, C


def _expected(A, B, C, trans_a, trans_b, alpha, beta):
    a = (A.T if trans_a else A).astype(np.float64)
    b = (B.T if trans_b else B).astype(np.float64)
    return alpha * a @ b + beta * C.astype(np.float64)


def _tolerance(dtype, k):
    # k rounded products plus the two scalings, each within eps of terms of
    # size ~|a||b| ~ 1 (standard normal operands): a k·eps-sized bound.
    return 4 * (k + 2) * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype,trans_a,trans_b", CASES)
def test_gemm_matches_float64_product(dtype, trans_a, trans_b):
    A, B, C = _operands(dtype, trans_a, trans_b)
    expected = _expected(A, B, C, trans_a, trans_b, 0.5, -2.0)
    kind = np.dtype(dtype).type
    _gemm(trans_a, trans_b, kind(0.5), A, B, kind(-2.0), C, np.zeros(2, dtype))
    assert C.dtype == np.dtype(dtype)
    np.testing.assert_allclose(C, expected, rtol=0, atol=_tolerance(dtype, 13))


def test_gemm_with_beta_zero_ignores_nan_in_output():
    # beta = 0 must overwrite C (BLAS does not read it), as the BP2 product relies on.
    A, B, C = _operands("float64", False, False)
    C[:] = np.nan
    _gemm(False, False, 1.0, A, B, 0.0, C, np.zeros(2))
    np.testing.assert_allclose(C, A @ B, rtol=1e-13)


# Runs in a fresh interpreter, where FASTBP_BLAS is read at import: the
# same operands through this file's own _gemm, on the route chosen there.
_SCRIPT = """
import json, os, sys
import numpy as np
sys.path.insert(0, %r)
from fastbp.kernels.blas import PROVIDER
from threadpoolctl import threadpool_info
pools = [i["filepath"].split(os.sep)[:-1] for i in threadpool_info() if i["user_api"] == "blas"]
from test_blas import CASES, _gemm, _operands
results = []
for dtype, ta, tb in CASES:
    A, B, C = _operands(dtype, ta, tb)
    kind = np.dtype(dtype).type
    _gemm(ta, tb, kind(0.5), A, B, kind(-2.0), C, np.zeros(2, dtype))
    results.append(C.astype(np.float64).tolist())
print(json.dumps({"provider": PROVIDER, "results": results, "pools_at_import": pools}))
"""


def test_numba_fallback_route_gives_the_same_products(tmp_path):
    env = dict(os.environ, FASTBP_BLAS="numba", NUMBA_CACHE_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", _SCRIPT % os.path.dirname(__file__)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["provider"] == "numba"
    # scipy's BLAS is loaded at import, so fit's thread limits cover it from the first fit on
    assert any({"scipy", "scipy.libs"} & set(directories) for directories in out["pools_at_import"])
    for (dtype, ta, tb), got in zip(CASES, out["results"]):
        A, B, C = _operands(dtype, ta, tb)
        np.testing.assert_allclose(got, _expected(A, B, C, ta, tb, 0.5, -2.0), rtol=0,
                                   atol=_tolerance(dtype, 13))


def test_numpys_bundled_openblas_is_used_when_present():
    root = os.path.dirname(np.__file__)
    bundled = glob.glob(os.path.join(root + ".libs", "*openblas*")) + \
        glob.glob(os.path.join(root, ".dylibs", "*openblas*"))
    if os.environ.get("FASTBP_BLAS", "").lower() == "numba" or not bundled:
        pytest.skip("numpy here does not ship OpenBLAS, or the fallback was forced")
    assert blas.PROVIDER.startswith("numpy:")


def test_blas_route_is_part_of_the_cache_stamp(monkeypatch):
    stamp = _cache.package_stamp()
    monkeypatch.setattr(blas, "PROVIDER", "numba" if blas.PROVIDER != "numba" else "other")
    assert _cache.package_stamp() != stamp


def test_loop_or_blas_threshold_follows_the_blas_kernels_and_the_widest_layer(monkeypatch):
    """Where OpenBLAS packs small operands ("Haswell" kernels), BLAS takes over
    from rows x widest layer = BLAS_MIN_ROW_UNITS_PACKING, capped at the
    largest measured batch; with small-matrix kernels from a fixed row
    count; BLAS_MIN_ROWS overrides both (the tests force kernels with it)."""
    import fastbp
    from fastbp import _dispatch
    from fastbp.kernels import blas

    def threshold(sizes):
        return _dispatch.blas_min_rows(fastbp.Network(sizes)._layout)

    monkeypatch.setattr(_dispatch, "BLAS_MIN_ROWS", None)
    monkeypatch.setattr(blas, "CORE", "Haswell")
    assert threshold([784, 100, 10]) == 32           # 3200 / 100
    assert threshold([784, 30, 10]) == 107           # ceil(3200 / 30)
    assert threshold([784, 10]) == _dispatch.BLAS_MAX_ROWS_PACKING
    assert threshold([784, 1024, 1024, 10]) == 4
    monkeypatch.setattr(blas, "CORE", "SkylakeX")
    assert threshold([784, 30, 10]) == _dispatch.BLAS_MIN_ROWS_SMALL_KERNELS
    monkeypatch.setattr(_dispatch, "BLAS_MIN_ROWS", 7)
    assert threshold([784, 30, 10]) == 7
    layout = fastbp.Network([784, 30, 10])._layout
    assert _dispatch.choose_blas(layout, 7) is None           # every layer on BLAS
    assert not _dispatch.choose_blas(layout, 6).any()         # every layer on loops
