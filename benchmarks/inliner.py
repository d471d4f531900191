"""Cold first fit with fastbp's numba-IR inliner against numba's own, alternating.

Each round runs, for each configuration, one fresh interpreter with numba's
inliner (``fastbp._numba_inline.uninstall()`` before anything compiles) and
one with fastbp's, each on an empty numba cache, and records the first
``fit``'s seconds and a hash of the trained weights. Prints the medians, their
ratio, and whether the weights were bit-identical in every run (they must
be: the inlined IR is the same).

    python benchmarks/inliner.py                       # 3 rounds, float32 and float64 defaults
    python benchmarks/inliner.py --configs default32,adam_dropout,parallel64 --rounds 3
"""

import argparse
import json
import statistics
import subprocess
import sys

CONFIGS = {
    "default32": ("[20, 8, 3]", "dtype='float32'", "batch_size=8"),
    "default64": ("[20, 8, 3]", "dtype='float64'", "batch_size=8"),
    "adam_dropout": ("[20, 8, 6, 3]",
                     "dtype='float32', hidden_activation='relu', output_activation='softmax', cost='log_likelihood'",
                     "batch_size=8, optimizer='adam', dropout=0.2, learning_rate=0.01"),
    "parallel64": ("[20, 8, 3]", "dtype='float64'", "batch_size=8, parallel=True, threads=2, optimizer='momentum'"),
}

RUN = """
import hashlib, json, os, tempfile, time
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp()
import numpy as np
import fastbp
from fastbp import _numba_inline
if {stock}:
    _numba_inline.uninstall()
net = fastbp.Network({sizes}, seed=0, {net})
X = np.random.default_rng(0).random((64, {sizes}[0])).astype(net.dtype)
y = np.arange(64) % {sizes}[-1]
start = time.perf_counter()
net.fit(X, y, epochs=2, {fit})
seconds = time.perf_counter() - start
digest = hashlib.sha256(b"".join(w.tobytes() for w in net.weights + net.biases)).hexdigest()
print(json.dumps({{"seconds": seconds, "weights": digest, "fast": _numba_inline.installed()}}))
"""


def run(config, stock):
    sizes, net, fit = CONFIGS[config]
    code = RUN.format(stock=stock, sizes=sizes, net=net, fit=fit)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="default32,default64")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    configs = args.configs.split(",")
    results = {(c, stock): [] for c in configs for stock in (True, False)}
    for _ in range(args.rounds):
        for config in configs:
            for stock in (True, False):
                results[config, stock].append(run(config, stock))
    print(f"{'config':13s} {'numba inliner':>14s} {'fastbp inliner':>15s}  ratio  weights")
    for config in configs:
        stock, fast = results[config, True], results[config, False]
        if not all(r["fast"] for r in fast):
            print(f"{config:13s} fastbp's inliner is not installed with this numba: nothing to compare")
            continue
        s = statistics.median(r["seconds"] for r in stock)
        f = statistics.median(r["seconds"] for r in fast)
        same = len({r["weights"] for r in stock + fast}) == 1
        print(f"{config:13s} {s:13.2f}s {f:14.2f}s  {s / f:.2f}x  {'bit-identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()
