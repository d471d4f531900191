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
