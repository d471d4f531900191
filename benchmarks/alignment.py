"""What a cache-line-aligned parameter buffer and work buffers are worth.

Trains four copies of one workload's network, serial, with the parameters
and the work buffers (gathered rows, z, a, delta) each either on a 64-byte
boundary (what fastbp allocates, fastbp/_aligned.py) or 16 bytes past one
(numpy's guarantee, and where a large numpy array's data lands). Epochs
alternate between the four; prints median epoch milliseconds.

    python benchmarks/alignment.py                       # W1, float32
    python benchmarks/alignment.py --workload W1 --dtype float64
"""

import argparse
import statistics
import time

import numpy as np

try:                    # imported by asv as part of the benchmarks package
    from .common import WORKLOADS, mnist_shaped, network
except ImportError:     # run as a script
    from common import WORKLOADS, mnist_shaped, network

import fastbp.network
from fastbp import _aligned, _dispatch
from fastbp._layout import split


def at_offset(shape, dtype, offset):
    """An array whose data starts ``offset`` bytes past a 64-byte boundary."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    raw = _aligned.empty(n * dtype.itemsize + _aligned.ALIGNMENT, np.uint8)
    return raw[offset:offset + n * dtype.itemsize].view(dtype).reshape(shape)


def work_at(offset):
    """A replacement for _dispatch.work_buffers putting every buffer at ``offset``."""
    def work_buffers(*args):
        moved = []
        for buffer in _dispatch.work_buffers(*args):
            out = at_offset(buffer.shape, buffer.dtype, offset)
            out[...] = buffer
            moved.append(out)
        return tuple(moved)
    return work_buffers


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="W1", choices=sorted(WORKLOADS))
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    spec = WORKLOADS[args.workload]
    X, y = mnist_shaped(args.dtype)
    fit = dict(epochs=1, batch_size=spec["batch_size"], learning_rate=spec["learning_rate"], threads=1)

    cases = {}
    for theta_offset in (16, 0):
        for work_offset in (16, 0):
            net = network(args.workload, args.dtype)
            theta = at_offset(net._theta.shape, net.dtype, theta_offset)
            theta[...] = net._theta
            net._theta, net._views = theta, split(theta, net._layout)
            cases[f"parameters +{theta_offset:2d} B, work +{work_offset:2d} B"] = (net, work_at(work_offset))
    times = {name: [] for name in cases}
    try:
        for rep in range(args.repeats + 1):
            for name, (net, work_buffers) in cases.items():
                fastbp.network.work_buffers = work_buffers
                start = time.perf_counter()
                net.fit(X, y, **fit)
                if rep:         # the first round compiles
                    times[name].append(time.perf_counter() - start)
    finally:
        fastbp.network.work_buffers = _dispatch.work_buffers
    print(f"{args.workload} {args.dtype}, serial; median of {args.repeats} alternating epochs")
    for name, values in times.items():
        print(f"  {name}   {statistics.median(values) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
