"""float32 networks never upcast: the LLVM IR of the float32 kernel
specialisations holds no float64 arithmetic.

A file of its own because it compiles every kernel afresh in a subprocess
(about 65 s on one core): alone, pytest-xdist can run it beside the other
files instead of after the kernel tests.
"""

import json
import os
import subprocess
import sys


def test_float32_kernels_never_compute_in_float64(tmp_path):
    """The float32 specialisations of the hot kernels contain no float64 arithmetic.

    Compiled fresh in a subprocess (an empty numba cache) because cached code
    carries no LLVM IR to inspect; see ``float32_ir_check.py``.
    """
    script = os.path.join(os.path.dirname(__file__), "float32_ir_check.py")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["missing"] == [], f"compiled nowhere on their own, so not read: {found['missing']}"
    assert found["bad"] == [], found["bad"]
