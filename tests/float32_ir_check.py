"""Print, as JSON, the float32 kernel specialisations whose LLVM IR does
float64 arithmetic ("bad"), the listed kernels that were never compiled
on their own, so had no IR to read ("missing"), and a hash of the
parameters after each fit ("params"). With ``--params-only`` (a second run
on the now-filled cache, where kernels load as machine code without IR),
only the hashes: they must equal the compiling run's.

Run in a fresh process with an empty NUMBA_CACHE_DIR (cached code has no IR).
Costs are summed in float64 on purpose (``cost_of``, and the passes that
inline it such as ``sgd_backward``, are not listed); products,
activations, derivatives and updates must stay float32: no ``fpext float``
and no fadd/fsub/fmul/fdiv on doubles.

Only kernels compiled as libraries of their own can be read here. Those
with ``inline="always"`` (the BLAS layer wrappers, ``dense_forward``, the
register blocks) are compiled inside their callers, whose IR also holds
the float64 cost sums, so they are not listed. No BLAS-path fit either:
its one library of its own, ``gather_rows``, only copies.
"""

import hashlib
import json
import re
import sys

import numpy as np

import fastbp
from fastbp import kernels as K
from fastbp.kernels import dense, parallel


def fingerprint(network):
    return hashlib.sha256(network.parameters.tobytes()).hexdigest()


net = fastbp.Network([6, 5, 3], hidden_activation="tanh", output_activation="softmax",
                     cost="log_likelihood", dtype=np.float32, seed=0)
X, y = np.random.default_rng(0).random((8, 6)), np.arange(8) % 3
params = []
for optimizer in ("sgd", "adam", "momentum"):
    net.fit(X, y, epochs=1, batch_size=3, learning_rate=0.1, dropout=0.2, l1=0.1, l2=0.1, optimizer=optimizer)
    params.append(fingerprint(net))
    net.fit(X, y, epochs=1, batch_size=3, learning_rate=0.1, optimizer=optimizer, parallel=True)
    params.append(fingerprint(net))
# The default network on the fused SGD loops: with reassoc in every kernel
# (before FASTMATH dropped it) its weights differed between this compiling
# run and a cached one.
wide = fastbp.Network([50, 24, 12, 4], dtype=np.float32, seed=0)
wide.fit(np.random.default_rng(0).random((60, 50)), np.arange(60) % 4, epochs=2, batch_size=10, learning_rate=0.5)
params.append(fingerprint(wide))
if "--params-only" in sys.argv:
    print(json.dumps({"params": params}))
    sys.exit(0)
pattern = re.compile(r"(fpext float[^\n]*|\b(?:fadd|fsub|fmul|fdiv)\b[^\n]*double[^\n]*)")
bad, missing = [], []
for kernel in (K.dense_backward_delta, K.activate_rows, K.scale_by_derivative, K.optimizer_step,
               K.regularised_gradient, K.output_delta, K.apply_dropout, parallel.apply_rule,
               dense.dense_products, dense.weight_gradient):
    read = 0
    for sig, ir in kernel.inspect_llvm().items():
        if "float32" in str(sig):
            read += 1
            hits = pattern.findall(ir)
            if hits:
                bad.append([kernel.__name__, str(sig), hits[:3]])
    if not read:
        missing.append(kernel.__name__)
print(json.dumps({"bad": bad, "missing": missing, "params": params}))
