"""Compile latency: the first fit in a fresh interpreter, without and with numba's cache."""

import os
import subprocess
import sys
import tempfile

FIRST_FIT = """
import numpy as np
import fastbp
X = np.random.default_rng(0).random((64, 20)).astype("{dtype}")
y = np.arange(64) % 3
fastbp.Network([20, 8, 3], dtype="{dtype}", seed=0).fit(X, y, epochs=1, batch_size=8)
"""


class Compile:
    """timeraw_*: asv runs the returned code in a fresh process and times it
    (interpreter start and imports included)."""

    params = (["float32", "float64"],)
    param_names = ["dtype"]
    timeout = 600
    number = 1
    repeat = 1

    def setup(self, dtype):
        # A cache directory filled by one run, for the cached case.
        self.cached = tempfile.mkdtemp(prefix="fastbp-asv-cache-")
        env = dict(os.environ, NUMBA_CACHE_DIR=self.cached)
        subprocess.run([sys.executable, "-c", FIRST_FIT.format(dtype=dtype)], env=env, check=True)

    def timeraw_first_fit_cold(self, dtype):
        return ("import os, tempfile\n"
                "os.environ['NUMBA_CACHE_DIR'] = tempfile.mkdtemp()\n" + FIRST_FIT.format(dtype=dtype))

    def timeraw_first_fit_cached(self, dtype):
        return f"import os\nos.environ['NUMBA_CACHE_DIR'] = {self.cached!r}\n" + FIRST_FIT.format(dtype=dtype)


TRIVIAL_KERNEL = """
from numba import njit


@njit(cache=True)
def add_one(x):
    return x + 1.0
"""


class NumbaFloor:
    """The same latency for a one-line cached numba function: what a
    numba-compiled library pays in a fresh interpreter when it loads through
    numba's own path (importing numba; on the first cached load numba also
    imports its typing registries and, through numba.np.arraymath,
    scipy.linalg). fastbp loads its cached kernels without that refresh
    (fastbp/_cache_load.py), so its cached first fit can beat this."""

    timeout = 120
    number = 1
    repeat = 1

    def setup(self):
        self.module_dir = tempfile.mkdtemp(prefix="fastbp-asv-floor-")
        with open(os.path.join(self.module_dir, "trivial_kernel.py"), "w") as f:
            f.write(TRIVIAL_KERNEL)
        self.cached = os.path.join(self.module_dir, "cache")
        env = dict(os.environ, NUMBA_CACHE_DIR=self.cached, PYTHONPATH=self.module_dir)
        subprocess.run([sys.executable, "-c", "import trivial_kernel; trivial_kernel.add_one(1.0)"], env=env,
                       check=True)

    def timeraw_cached_call(self):
        return (f"import os, sys\nos.environ['NUMBA_CACHE_DIR'] = {self.cached!r}\n"
                f"sys.path.insert(0, {self.module_dir!r})\n"
                "import trivial_kernel\ntrivial_kernel.add_one(1.0)\n")
