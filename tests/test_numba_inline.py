"""fastbp's faster numba-IR inliner (fastbp/_numba_inline.py) against numba's own.

Small kernels with nested ``inline="always"`` callees are compiled twice from
the same source, once through each inliner, and must compute bit-identical
results; the fast path must run numba's untyped pipeline once per callee
where numba runs it once per call site. Every other test of the suite
compiles fastbp's real kernels through the fast path and checks them against
the numpy reference.
"""

import contextlib

import numpy as np
import pytest
from numba.core import inline_closurecall

from fastbp import _numba_inline

# A leaf with a branch, a composite calling it twice (nested inlining), and a
# kernel inlining both at several sites, with a loop between.
SOURCE = '''
from numba import njit

@njit(inline="always")
def scale(x, a):
    if a > 0.0:
        return x * a
    return x - a

@njit(inline="always")
def twice(x, a):
    y = scale(x, a)
    return scale(y, a + 1.0)

@njit
def kernel(v, a):
    out = np.empty_like(v)
    for i in range(v.shape[0]):
        out[i] = twice(v[i], a) + scale(v[i], -a)
    return out + twice(a, a)
'''


def _compile(module, source=SOURCE):
    namespace = {"np": np} if module is None else {"__name__": module, "np": np}
    exec(source, namespace)
    return namespace["kernel"]


# The same callees under a parallel caller: numba's parfor pipeline.
PARALLEL_SOURCE = SOURCE.replace("@njit\ndef kernel", "@njit(parallel=True)\ndef kernel").replace(
    "for i in range(v.shape[0])", "for i in prange(v.shape[0])").replace(
    "from numba import njit", "from numba import njit, prange")


@contextlib.contextmanager
def numbas_own_inliner():
    """numba's inliner for the block, fastbp's again after it."""
    _numba_inline.uninstall()
    try:
        yield
    finally:
        assert _numba_inline.install()


@pytest.fixture
def untyped_runs(monkeypatch):
    """Counts of numba's untyped pipeline runs on inlined callees, by name."""
    counts = {}
    stock = inline_closurecall.InlineWorker.run_untyped_passes

    def counting(self, func, enable_ssa=False):
        counts[func.__name__] = counts.get(func.__name__, 0) + 1
        return stock(self, func, enable_ssa)
    monkeypatch.setattr(inline_closurecall.InlineWorker, "run_untyped_passes", counting)
    return counts


def test_installed_exactly_when_numba_is_the_version_it_mirrors():
    _compile("not_fastbp_probe")(np.ones(3), 1.0)   # fastbp installs it at numba's first compile
    assert _numba_inline.installed() == _numba_inline.numba_matches()


@pytest.mark.skipif(not _numba_inline.numba_matches(), reason="another numba: its own inliner runs")
def test_fast_inlining_computes_what_numba_inlining_computes_and_runs_the_pipeline_once_per_callee(untyped_runs):
    v = np.linspace(-3.0, 3.0, 7)
    fast = _compile("fastbp._inline_probe_fast")
    fast_out = [fast(v, a) for a in (0.5, -2.0)]
    fast_runs = dict(untyped_runs)
    untyped_runs.clear()
    with numbas_own_inliner():
        stock = _compile("fastbp._inline_probe_stock")
        stock_out = [stock(v, a) for a in (0.5, -2.0)]
    for got, expected in zip(fast_out, stock_out):
        np.testing.assert_array_equal(got, expected)   # same IR, same machine code: bit for bit
    expected = v * 0.5 * 1.5 + (v + 0.5) + 0.5 * 0.5 * 1.5
    np.testing.assert_allclose(fast_out[0], expected, rtol=1e-15)   # float64, a few roundings
    # numba: twice at 2 sites, scale at 1 site plus 2 inside each inlining of twice.
    assert untyped_runs == {"twice": 2, "scale": 5}
    assert fast_runs == {"twice": 1, "scale": 1}


@pytest.mark.skipif(not _numba_inline.numba_matches(), reason="another numba: its own inliner runs")
def test_other_packages_keep_numbas_inliner(untyped_runs):
    kernel = _compile("not_fastbp_probe")
    kernel(np.ones(3), 1.0)
    assert untyped_runs == {"twice": 2, "scale": 5}


def test_each_call_site_gets_its_own_deep_copy_with_one_scope_and_identity():
    from numba.core import ir
    from numba.core.compiler import run_frontend

    def callee(x, a):
        if a > 0.0:
            y = x * a
        else:
            y = x - a
        return y + 1.0

    canonical = run_frontend(callee)
    first, second = _numba_inline._copy_ir(canonical), _numba_inline._copy_ir(canonical)

    def variables(func_ir):
        return [v for block in func_ir.blocks.values() for stmt in block.body for v in stmt.list_vars()]
    assert len(canonical.blocks) > 1
    for copy in (first, second):
        assert copy.blocks.keys() == canonical.blocks.keys()
        assert [str(b) for b in copy.blocks.values()] == [str(b) for b in canonical.blocks.values()]
        scopes = {id(v.scope) for v in variables(copy)} | {id(b.scope) for b in copy.blocks.values()}
        assert len(scopes) == 1                                  # one memo: the scope copied once
        assert not scopes & {id(b.scope) for b in canonical.blocks.values()}
        assert not {id(b) for b in copy.blocks.values()} & {id(b) for b in canonical.blocks.values()}
        assert all(isinstance(v, ir.Var) for v in variables(copy))
    assert len({canonical.func_id.unique_name, first.func_id.unique_name, second.func_id.unique_name}) == 3
    assert first.func_id.func is callee


@pytest.mark.skipif(not _numba_inline.numba_matches(), reason="another numba: its own inliner runs")
def test_a_parallel_caller_computes_the_same_through_both_inliners():
    assert "prange(" in PARALLEL_SOURCE and "parallel=True" in PARALLEL_SOURCE
    v = np.linspace(-3.0, 3.0, 11)
    fast = _compile("fastbp._inline_probe_parallel_fast", PARALLEL_SOURCE)(v, 0.5)
    with numbas_own_inliner():
        stock = _compile("fastbp._inline_probe_parallel_stock", PARALLEL_SOURCE)(v, 0.5)
    np.testing.assert_array_equal(fast, stock)


def test_functions_without_a_module_take_numbas_path(untyped_runs):
    # exec without __name__ in the globals leaves __module__ None
    kernel = _compile(None)
    assert kernel.py_func.__module__ is None
    # twice(1, 1) = 1 * 1 * 2, scale(1, -1) = 1 + 1, twice(1, 1) again: exact in float64
    np.testing.assert_array_equal(kernel(np.ones(2), 1.0), np.full(2, 2.0 + 2.0 + 2.0))
    assert untyped_runs == {"twice": 2, "scale": 5}


@pytest.mark.skipif(not _numba_inline.numba_matches(), reason="another numba: its own inliner runs")
def test_canonical_ir_is_kept_for_one_compile_only():
    first = _compile("fastbp._inline_probe_first")
    first(np.ones(2), 1.0)
    entries_first = set(_numba_inline._canonical_ir)
    second = _compile("fastbp._inline_probe_second")
    second(np.ones(2), 1.0)
    entries = set(_numba_inline._canonical_ir)
    assert entries and not entries & entries_first
    assert {key[0].__module__ for key in entries} == {"fastbp._inline_probe_second"}
    assert len({id(key[2]) for key in entries}) == 1     # one target context: one compile
