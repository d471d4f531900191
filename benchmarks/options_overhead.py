"""Do the training options slow plain SGD when they are switched off?

Times a plain-SGD epoch of [784, 30, 10], batch 10, on 50,000 x 784 data
with this checkout and with an earlier commit (default: 2e26e52, the last
one before momentum, Adam, L1, dropout, schedules and early stopping were
added), alternating fresh processes (A B A B ...), and prints the medians and
their ratio. Both run the register-blocked loop kernels (the old commit has
no BLAS path), so the difference is what the options' code costs when off.

    python benchmarks/options_overhead.py [--ref 2e26e52] [--rounds 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

TIMING = r"""
import sys, time, numpy as np
sys.path.insert(0, {root!r})
import fastbp
try:
    from fastbp import _dispatch
    _dispatch.BLAS_MIN_ROWS = 10**9          # the loop kernels, as in the old commit
except ImportError:
    pass
dtype = np.{dtype}
rng = np.random.default_rng(0)
X = rng.random((50000, 784)).astype(dtype)
y = rng.integers(0, 10, 50000)
net = fastbp.Network([784, 30, 10], dtype=dtype, seed=0)
net.fit(X[:100], y[:100], epochs=1)
times = []
for _ in range(3):
    h = net.fit(X, y, epochs=1, batch_size=10, learning_rate=3.0)
    times.append(h["time"][0])
print(min(times))
"""


def run(root, dtype, cache):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", TIMING.format(root=root, dtype=dtype)], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", default="2e26e52")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        old = os.path.join(tmp, "old")
        subprocess.run(["git", "-C", here, "worktree", "add", "--detach", old, args.ref], check=True,
                       capture_output=True)
        try:
            for dtype in ("float32", "float64"):
                times = {"now": [], args.ref: []}
                caches = {"now": os.path.join(tmp, "cache-now"), args.ref: os.path.join(tmp, "cache-old")}
                roots = {"now": here, args.ref: old}
                for _ in range(args.rounds):
                    for key in times:
                        times[key].append(run(roots[key], dtype, caches[key]))
                now, then = statistics.median(times["now"]), statistics.median(times[args.ref])
                print(f"{dtype}: plain-SGD epoch now {now:.4f} s, at {args.ref} {then:.4f} s, "
                      f"ratio {now / then:.3f} (median of {args.rounds} alternating processes, best of 3 epochs each)")
        finally:
            subprocess.run(["git", "-C", here, "worktree", "remove", "--force", old], capture_output=True)


if __name__ == "__main__":
    main()
