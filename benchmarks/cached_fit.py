"""Cached first fit with fastbp's cache-load hook against numba's own load, alternating.

A first fit in a fresh interpreter whose kernels are all in numba's cache:
numba's own load refreshes its whole target context first (every typing and
lowering registry, and scipy.linalg); fastbp's hook (``fastbp/_cache_load.py``)
skips that. Each round runs, per dtype, one fresh interpreter with the hook
removed (``fastbp._cache_load.uninstall()`` right after import) and one with
it, on the same filled cache, plus the first call of a one-line cached numba
function for scale. Times are import + fit, as asv's ``timeraw_`` measures
them (interpreter start-up excluded). Prints medians and checks the weights
are bit-identical in every run.

    python benchmarks/cached_fit.py --rounds 7
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

RUN = """
import time
start = time.perf_counter()
import hashlib, json
import numpy as np
import fastbp
if {stock}:
    fastbp._cache_load.uninstall()
X = np.random.default_rng(0).random((64, 20)).astype("{dtype}")
y = np.arange(64) % 3
net = fastbp.Network([20, 8, 3], dtype="{dtype}", seed=0)
net.fit(X, y, epochs=1, batch_size=8)
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "weights": hashlib.sha256(net._theta.tobytes()).hexdigest()}}))
"""

FLOOR = """
import time
start = time.perf_counter()
import trivial_kernel
trivial_kernel.add_one(1.0)
print(time.perf_counter() - start)
"""


def _run(code, env):
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tempfile.gettempdir(), check=True,
                         capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    root = tempfile.mkdtemp(prefix="fastbp-cached-fit-")
    env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(root, "cache"))
    with open(os.path.join(root, "trivial_kernel.py"), "w") as f:
        f.write("from numba import njit\n\n\n@njit(cache=True)\ndef add_one(x):\n    return x + 1.0\n")
    floor_env = dict(env, PYTHONPATH=root)
    dtypes = ("float32", "float64")
    for dtype in dtypes:                                  # fill the cache
        _run(RUN.format(stock=False, dtype=dtype), env)
    _run(FLOOR, floor_env)
    seconds, weights = {}, {}
    for _ in range(args.rounds):
        for dtype in dtypes:
            for stock in (True, False):
                got = json.loads(_run(RUN.format(stock=stock, dtype=dtype), env))
                seconds.setdefault((dtype, stock), []).append(got["seconds"])
                weights.setdefault(dtype, set()).add(got["weights"])
        seconds.setdefault("floor", []).append(float(_run(FLOOR, floor_env)))
    print(f"cached first fit, import included, median of {args.rounds} alternating fresh processes")
    for dtype in dtypes:
        stock, hooked = (statistics.median(seconds[dtype, s]) for s in (True, False))
        print(f"  {dtype}: numba's load {stock:.3f} s, fastbp's hook {hooked:.3f} s ({stock / hooked:.2f}x); "
              f"weights identical in every run: {len(weights[dtype]) == 1}")
    print(f"  a one-line cached numba function: {statistics.median(seconds['floor']):.3f} s")


if __name__ == "__main__":
    main()
