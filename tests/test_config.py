"""Numerics switches live in one place (fastbp/_config.py) and nowhere else."""

import pathlib
import re

import numpy as np
import pytest
from numba import njit
from numba.core.errors import NumbaError

from fastbp import _config

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "fastbp"


def test_fastmath_never_assumes_away_nan_or_inf():
    # nnan/ninf would let LLVM fold away the isfinite checks divergence detection needs.
    for flags in (_config.FASTMATH, _config.FASTMATH_DOT):
        assert not {"nnan", "ninf", "fast"} & set(flags)
    assert _config.JIT["fastmath"] == _config.FASTMATH
    # reassoc makes results depend on whether the process compiled or loaded a kernel (_config.py)
    assert "reassoc" not in _config.FASTMATH
    assert _config.JIT["cache"] is True


def test_serial_kernels_cannot_allocate():
    # Compiled without numba's runtime: an allocation fails to compile
    # instead of slipping into a per-mini-batch loop.
    options = dict(_config.JIT, cache=False)     # a test-local function has no cache locator
    with pytest.raises(NumbaError):
        njit(**options)(lambda n: np.zeros(n).sum())(3)
    assert njit(**dict(options, _nrt=True))(lambda n: np.zeros(n).sum())(3) == 0.0
    views = njit(**options)(lambda a: a[1:].sum())   # views and reductions need no runtime
    assert views(np.arange(4.0)) == 6.0


def test_every_kernel_takes_its_options_from_config():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"\s*@(numba\.)?(njit|jit)\b", line) and not re.search(r"@njit\(\*\*JIT\w*\)", line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{lineno}: {line.strip()}")
            if "fastmath" in line and path.name != "_config.py":
                offenders.append(f"{path.relative_to(PACKAGE)}:{lineno}: {line.strip()}")
    assert not offenders, "kernels must use @njit(**JIT...) from fastbp._config:\n" + "\n".join(offenders)


def test_every_kernel_cache_entry_depends_on_all_kernel_sources():
    """A change in any kernel file must invalidate every cached kernel (numba
    alone checks only a function's own file, so a caller in epoch.py would
    load machine code built against an old dense.py)."""
    from numba.core.registry import CPUDispatcher

    from fastbp import kernels
    from fastbp.kernels import _cache
    stamp = _cache.package_stamp()
    dispatchers = [obj for module in (kernels.dense, kernels.epoch, kernels.propagate, kernels.parallel,
                                      kernels.update, kernels.costs, kernels.activations)
                   for obj in vars(module).values() if isinstance(obj, CPUDispatcher)]
    assert len(dispatchers) > 20
    for d in dispatchers:
        assert d._cache._cache_file._source_stamp[1] == stamp, d.__name__
