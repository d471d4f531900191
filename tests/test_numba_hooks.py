"""fastbp's hooks into numba (fastbp/_numba_hooks.py, fastbp/_cache_load.py).

A process whose kernels are all cached loads them without numba's registry
refresh, computes what the compiling process computed, and still compiles
other code as usual afterwards; the faster inliner installs at the first
compile, not at import.
"""

import json
import os
import subprocess
import sys
import types
import warnings

import pytest
from numba.core import caching, inline_closurecall

from fastbp import _cache_load, _numba_inline

FIRST_FIT = r'''
import json, sys
import numpy as np
import fastbp

report = {"inliner_imported_at_import": "fastbp._numba_inline" in sys.modules}
X = np.random.default_rng(0).random((40, 6)).astype(np.float32)
y = np.arange(40) % 3
net = fastbp.Network([6, 5, 3], dtype=np.float32, seed=0)
net.fit(X, y, epochs=2, batch_size=8)
report["theta"] = net._theta.tolist()
from numba.core.runtime import rtsys
report["runtime_initialised"] = rtsys._init     # the serial kernels do not use numba's runtime
# The parallel epoch uses numba's runtime (and its thread pool): its load must link them.
Xp = X.astype(np.float64)
parallel = fastbp.Network([6, 8, 3], output_activation="softmax", cost="log_likelihood", seed=1)
parallel.fit(Xp, y, epochs=2, batch_size=10, learning_rate=0.2, l2=0.1, parallel=True)
report["parallel_theta"] = parallel._theta.tolist()
report["registries_imported"] = "numba.np.arraymath" in sys.modules
report["inliner_imported"] = "fastbp._numba_inline" in sys.modules

from numba import njit

@njit
def user_kernel(a):          # needs numba's registries: np.dot, np.median
    return np.dot(a, a) + np.median(a)

report["user_kernel"] = user_kernel(np.arange(4.0))
from fastbp import _numba_inline
report["inliner_installed_after_a_compile"] = _numba_inline.installed() == _numba_inline.numba_matches()
print(json.dumps(report))
'''


def _first_fit():
    # The suite's own cache (inherited environment): the second of two runs loads every kernel.
    out = subprocess.run([sys.executable, "-c", FIRST_FIT], capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not _cache_load.numba_matches(), reason="another numba: it loads fastbp's kernels its own way")
def test_cached_first_fit_skips_numbas_refresh_and_the_process_still_compiles_as_usual():
    first = _first_fit()
    cached = _first_fit()
    assert not first["inliner_imported_at_import"] and not cached["inliner_imported_at_import"]
    assert cached["theta"] == first["theta"]            # bit for bit (compiling vs cached runs: test_float32_ir.py)
    assert cached["parallel_theta"] == first["parallel_theta"]
    assert not cached["registries_imported"]           # the refresh (and scipy.linalg) skipped
    assert not cached["inliner_imported"]              # nothing compiled, so no inliner either
    assert not cached["runtime_initialised"]           # ... and nothing loaded needed the runtime
    assert cached["user_kernel"] == 14.0 + 1.5         # a later compile refreshes the context itself
    assert cached["inliner_installed_after_a_compile"]


def test_installed_exactly_when_numbas_cache_loading_is_the_one_it_mirrors():
    assert _cache_load.installed() == _cache_load.numba_matches()


def test_other_packages_load_through_numbas_own_path_and_fastbps_link_the_runtime_only_when_named(monkeypatch):
    calls = []
    monkeypatch.setattr(_cache_load, "_stock_load_overload", lambda cache, sig, ctx: calls.append(cache) or "stock")
    monkeypatch.setattr(_cache_load._rtsys, "initialize", lambda ctx: calls.append("runtime"))

    class FakeCache:
        """What numba's Cache offers: a cache file holding one compile result's reduced form."""
        _enabled = True

        def __init__(self, module, object_code=b"\x7fELF ... cblas_sgemm ..."):
            self._py_func = types.FunctionType((lambda: None).__code__, {"__name__": module})
            reduced = (("lib", "object", (object_code, b"BC")), "fndesc")
            self._cache_file = types.SimpleNamespace(load=lambda key: reduced)
            self._impl = types.SimpleNamespace(rebuild=lambda ctx, data: ("rebuilt", data[0][2][0]))

        def _index_key(self, sig, codegen):
            return sig

        def _guard_against_spurious_io_errors(self):
            return caching.Cache._guard_against_spurious_io_errors(self)

    ctx = types.SimpleNamespace(codegen=lambda: None)
    other = FakeCache("sklearn.neural_network")
    assert _cache_load._load_overload(other, (), ctx) == "stock" and calls == [other]
    calls.clear()
    assert _cache_load._load_overload(FakeCache("fastbp.kernels.epoch"), (), ctx)[0] == "rebuilt"
    assert calls == []                                   # serial code: no runtime symbol named
    runtime_code = b"\x7fELF ... NRT_MemInfo_alloc_safe_aligned ..."
    assert _cache_load._load_overload(FakeCache("fastbp.kernels.parallel", runtime_code), (), ctx)[0] == "rebuilt"
    assert calls == ["runtime"]


# Each patch to numba: (module, a method it checks, the patched attribute now, numba's own).
PATCHES = {
    "cache_load": (_cache_load, "CompileResult._rebuild", lambda: caching.Cache.load_overload,
                   _cache_load._stock_load_overload),
    "inliner": (_numba_inline, "InlineWorker.inline_ir", lambda: inline_closurecall.InlineWorker.inline_function,
                _numba_inline._stock_inline_function),
}


@pytest.mark.parametrize("patch", sorted(PATCHES))
def test_another_numba_is_left_alone(monkeypatch, patch):
    module, checked, current, numbas_own = PATCHES[patch]
    module.uninstall()
    try:
        monkeypatch.setitem(module.KNOWN_SOURCES, checked, "0" * 16)
        assert not module.numba_matches()
        assert not module.install()
        assert current() is numbas_own
    finally:
        monkeypatch.undo()
        assert module.install() == module.numba_matches()


def test_inliner_uninstalled_before_the_first_compile_stays_numbas():
    """benchmarks/inliner.py compares with numba's inliner this way: the first-compile hook must respect it."""
    code = ("from numba import njit\nimport fastbp\nfrom fastbp import _numba_inline\n_numba_inline.uninstall()\n"
            "njit(lambda x: x + 1)(1)\nprint(_numba_inline.installed())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"]


def test_a_failing_inliner_install_warns_instead_of_failing_the_compile_it_runs_in(monkeypatch):
    from fastbp import _numba_hooks

    def broken():
        raise RuntimeError("injected")
    monkeypatch.setattr(_numba_inline, "install_unless_uninstalled", broken)
    listener = _numba_hooks._InlinerOnFirstCompile()
    with pytest.warns(RuntimeWarning, match="numba's own inliner stays in place"):
        listener.on_start(None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        listener.on_start(None)      # once only: later compiles are not warned about again
