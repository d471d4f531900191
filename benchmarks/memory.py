"""Peak memory that fit allocates, against the budget

    data + 4 x parameters + the per-batch work buffers + 20 MB,

and its growth with the number of epochs (there should be none).

    python benchmarks/memory.py

tracemalloc sees every numpy allocation (numba's kernels allocate nothing
inside the epoch loop), so the peak is what fit adds on top of the data the
caller already holds.
"""

import tracemalloc

import numpy as np

try:                    # imported by asv as part of the benchmarks package
    from .common import WORKLOADS, mnist_shaped, network
except ImportError:     # run as a script: python benchmarks/memory.py
    from common import WORKLOADS, mnist_shaped, network


def peak_of_fit(net, X, y, epochs, batch_size, **options):
    tracemalloc.start()
    net.fit(X, y, epochs=epochs, batch_size=batch_size, learning_rate=0.05, **options)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main():
    print(f"{'workload':8s} {'dtype':8s} {'optimizer':9s} {'1 epoch MB':>10s} {'5 (W3: 2) MB':>12s} "
          f"{'budget MB':>9s}")
    for workload in ("W1", "W2", "W3"):
        for dtype in ("float32", "float64"):
            for optimizer in ("sgd", "adam"):
                X, y = mnist_shaped(dtype)
                spec = WORKLOADS[workload]
                net = network(workload, dtype)
                net.fit(X[:512], y[:512], epochs=1, batch_size=spec["batch_size"], optimizer=optimizer)
                one = peak_of_fit(net, X, y, 1, spec["batch_size"], optimizer=optimizer)
                five = peak_of_fit(net, X, y, 5 if workload != "W3" else 2, spec["batch_size"], optimizer=optimizer)
                itemsize = np.dtype(dtype).itemsize
                # "data" as fit holds it: X is used in place; y becomes one-hot targets,
                # int64 labels and unit sample weights
                data = len(y) * (10 * itemsize + 8 + itemsize)
                work = 5 * spec["batch_size"] * (sum(spec["sizes"]) + 784) * itemsize
                budget = data + 4 * net.n_parameters * itemsize + work + 20e6
                print(f"{workload:8s} {dtype:8s} {optimizer:9s} {one / 1e6:10.1f} {five / 1e6:12.1f} "
                      f"{budget / 1e6:9.1f}{'' if max(one, five) <= budget else '  OVER'}")


if __name__ == "__main__":
    main()
