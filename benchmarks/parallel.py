"""Serial against parallel mini-batches, side by side in one process.

For each workload and dtype, one network per mode trains ``--epochs``
epochs (default 2) per round, the modes interleaved, and the median over
the rounds of ``fit``'s own time for the *last* epoch of each round
(``history["time"]``, which leaves out argument checking) is printed,
with the same ratio for the first epochs of the rounds beside it: the
first epoch after a switch of mode may pay for the switch (the other
mode's threads still spinning or asleep). On the shared 2-vCPU Zen 3 host
neither is steady: the float32 ratio came out 1.28-1.57x over four runs
on one day, and 1.40-1.59x over three runs on the evening of 2026-12-01.

- serial: ``threads=1`` (one BLAS thread, the serial kernels);
- parallel: ``parallel=True, threads=2`` (sharded mini-batches, loop kernels);
- parallel-1: ``parallel=True, threads=1`` (the same kernels on one thread:
  the parallel path's own speed-up is parallel-1 / parallel).

    python benchmarks/parallel.py                         # W2, float32 and float64
    python benchmarks/parallel.py --workloads W1,W2,W3 --repeats 7
"""

import argparse
import statistics

try:                    # imported by asv as part of the benchmarks package
    from .common import WORKLOADS, mnist_shaped, network
except ImportError:     # run as a script
    from common import WORKLOADS, mnist_shaped, network

MODES = {
    "serial": dict(threads=1),
    "parallel": dict(parallel=True, threads=2),
    "parallel-1": dict(parallel=True, threads=1),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", default="W2")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per round; the last one is timed")
    args = parser.parse_args(argv)
    print(f"{'workload':8s} {'dtype':8s} " + " ".join(f"{m:>11s}" for m in MODES)
          + "  serial/parallel  (first epochs of the rounds)")
    for workload in args.workloads.split(","):
        spec = WORKLOADS[workload]
        for dtype in args.dtypes.split(","):
            X, y = mnist_shaped(dtype)
            nets = {}
            for mode, options in MODES.items():
                nets[mode] = network(workload, dtype)
                nets[mode].fit(X[:100], y[:100], epochs=1, batch_size=spec["batch_size"], learning_rate=1e-3,
                               **options)   # compile outside the timing
            times = {mode: [] for mode in MODES}
            firsts = {mode: [] for mode in MODES}
            for _ in range(args.repeats):
                for mode, options in MODES.items():
                    history = nets[mode].fit(X, y, epochs=args.epochs, batch_size=spec["batch_size"],
                                             learning_rate=spec["learning_rate"], **options)
                    times[mode].append(history["time"][-1])
                    firsts[mode].append(history["time"][0])
            median = {mode: statistics.median(t) for mode, t in times.items()}
            first = {mode: statistics.median(t) for mode, t in firsts.items()}
            print(f"{workload:8s} {dtype:8s} " + " ".join(f"{median[m]:11.4f}" for m in MODES)
                  + f"  {median['serial'] / median['parallel']:.2f}x"
                  + f"  ({first['serial']:.4f} / {first['parallel']:.4f} = {first['serial'] / first['parallel']:.2f}x)")


if __name__ == "__main__":
    main()
