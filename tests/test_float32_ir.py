"""Compiled code: float32 networks never upcast (the LLVM IR of the float32
kernel specialisations holds no float64 arithmetic), and a process that
compiles the kernels computes exactly what later processes that load them
from numba's cache compute.

A file of its own because it compiles every kernel afresh in a subprocess
(about 90 s on one core): alone, pytest-xdist can run it beside the other
files instead of after the kernel tests.
"""

import json
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "float32_ir_check.py")


def _run(cache_dir, *args):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    out = subprocess.run([sys.executable, SCRIPT, *args], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def compiling_run(tmp_path_factory):
    """(report, cache dir) of the script run on an empty numba cache: it compiles everything."""
    cache_dir = tmp_path_factory.mktemp("numba-cache")
    return _run(cache_dir), cache_dir


def test_float32_kernels_never_compute_in_float64(compiling_run):
    """The float32 specialisations of the hot kernels contain no float64 arithmetic.

    Compiled fresh in a subprocess (an empty numba cache) because cached code
    carries no LLVM IR to inspect; see ``float32_ir_check.py``.
    """
    found, _ = compiling_run
    assert found["missing"] == [], f"compiled nowhere on their own, so not read: {found['missing']}"
    assert found["bad"] == [], found["bad"]


def test_cached_kernels_give_the_compiling_run_s_weights_bit_for_bit(compiling_run):
    """Same seed, same weights, whether this process compiled the kernels or
    loaded them from the cache: numba runs a kernel's own copy in the
    compiling process and the copy optimised again inside its caller after a
    cache load, so any flag that lets LLVM re-associate sums differently the
    second time (fastbp/_config.py) shows up here as different hashes."""
    found, cache_dir = compiling_run
    cached = _run(cache_dir, "--params-only")
    assert len(found["params"]) == 7
    assert cached["params"] == found["params"]
