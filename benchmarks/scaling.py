"""Does data-parallel training over MPI pay? Epoch and all-reduce times on 1 and
2 ranks, and the constants of the model

    time per step(k) ≈ compute(B/k) + 2(k−1)/k · P/β + α·log2 k,
    compute(b) = a + c·b

for k ranks, global mini-batch B, P bytes of parameters (what one all-reduce
moves), bandwidth β and latency α measured from all-reduces of several
buffer sizes. ``compute/k`` of the simple model is ``c·B/k`` here: the fixed
part ``a`` of each step (kernel calls, the O(P) update every rank repeats)
does not shrink with k, which is what makes small batches scale worst.

    python benchmarks/scaling.py                 # runs mpiexec -n 1, then -n 2, itself
    python benchmarks/scaling.py --quick         # fewer samples and repeats
    python benchmarks/scaling.py --save r.json   # keep the raw numbers; --load r.json reprints
    mpiexec -n 2 python benchmarks/scaling.py --worker OUT.json    # one launch by hand

Each rank runs one BLAS thread and one numba thread, so k ranks use k cores:
"adding a machine" here is adding a core that talks over shared memory. The
script also prints what the measured compute constants predict for real
interconnects (10 Gb Ethernet, 100 Gb InfiniBand), where α and β are
assumptions, stated in the table. Data: 50,000 x 784 uniform random pixels,
float32, the README's workloads W2 ([784, 100, 10], sigmoid + softmax,
batch 32) and W3 ([784, 1024, 1024, 10], relu + softmax, batch 256), plus
[784, 30, 10] at batch 10, the network that never pays.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

import numpy as np

N_SAMPLES = 50_000
N_FEATURES = 784

NETWORKS = {
    "W1 [784,30,10]": dict(sizes=[784, 30, 10], hidden_activation="sigmoid", output_activation="sigmoid",
                           cost="quadratic", batch_size=10, learning_rate=3.0),
    "W2 [784,100,10]": dict(sizes=[784, 100, 10], hidden_activation="sigmoid", output_activation="softmax",
                            cost="log_likelihood", batch_size=32, learning_rate=0.5),
    "W3 [784,1024,1024,10]": dict(sizes=[784, 1024, 1024, 10], hidden_activation="relu",
                                  output_activation="softmax", cost="log_likelihood", batch_size=256,
                                  learning_rate=0.05),
}

#: Local batch sizes at which compute(b) = a + c·b is measured (1 rank).
COMPUTE_BATCHES = (2, 5, 10, 16, 32, 64, 128, 256)

#: Buffer sizes (float32 elements) of the all-reduce measurements.
ALLREDUCE_SIZES = (2, 256, 4096, 65_536, 262_144, 1_048_576, 4_194_304)

#: Interconnects to extrapolate to: (name, latency α in s, bandwidth β in B/s). Assumed, not measured.
ASSUMED = (("10 Gb Ethernet (assumed α=50 µs, β=1.1 GB/s)", 50e-6, 1.1e9),
           ("100 Gb InfiniBand (assumed α=3 µs, β=10 GB/s)", 3e-6, 10e9))


# ---------------------------------------------------------------- the ranks
def _network(spec, seed=0):
    import fastbp
    return fastbp.Network(spec["sizes"], hidden_activation=spec["hidden_activation"],
                          output_activation=spec["output_activation"], cost=spec["cost"], dtype=np.float32,
                          seed=seed)


def _epochs(comm, X, y, epochs):
    """Median epoch time and all-reduce time (rank 0's) of distributed.fit per network."""
    from fastbp import distributed
    out = {}
    for name, spec in NETWORKS.items():
        net = _network(spec)
        options = dict(batch_size=spec["batch_size"], learning_rate=spec["learning_rate"], threads=1)
        warm = 4 * spec["batch_size"] * comm.size
        distributed.fit(net, X[:warm], y[:warm], comm=comm, epochs=1, **options)     # load the kernels
        history = distributed.fit(net, X, y, comm=comm, epochs=epochs, **options)
        out[name] = {"epoch": statistics.median(history["time"]),
                     "comm": statistics.median(history["comm_time"]),
                     "steps": math.ceil(X.shape[0] / spec["batch_size"]),
                     "parameter_bytes": net.n_parameters * net.parameters.itemsize}
    return out


def _single_process(X, y, epochs):
    """Network.fit (no MPI) with 1 and 2 BLAS threads, for reference."""
    out = {}
    for name, spec in NETWORKS.items():
        net = _network(spec)
        options = dict(batch_size=spec["batch_size"], learning_rate=spec["learning_rate"])
        net.fit(X[:4 * spec["batch_size"]], y[:4 * spec["batch_size"]], epochs=1, **options)
        out[name] = {f"threads{t}": statistics.median(net.fit(X, y, epochs=epochs, threads=t, **options)["time"])
                     for t in (1, 2)}
    return out


def _compute(comm, X, y, seconds):
    """Seconds per step at each local batch size b (one rank, no communication)."""
    from fastbp import distributed
    out = {}
    for name, spec in NETWORKS.items():
        net = _network(spec)
        per_step = {}
        for b in COMPUTE_BATCHES:
            distributed.fit(net, X[:2 * b], y[:2 * b], comm=comm, epochs=1, batch_size=b, learning_rate=1e-3,
                            threads=1)
            rows = b * 20
            started = time.perf_counter()
            distributed.fit(net, X[:rows], y[:rows], comm=comm, epochs=1, batch_size=b, learning_rate=1e-3,
                            threads=1)
            took = time.perf_counter() - started        # a first estimate, to size the timed run
            steps = max(20, min(N_SAMPLES // b, int(seconds / (took / 20))))
            history = distributed.fit(net, X[:steps * b], y[:steps * b], comm=comm, epochs=2, batch_size=b,
                                      learning_rate=1e-3, threads=1)
            per_step[b] = min(t - c for t, c in zip(history["time"], history["comm_time"])) / steps
        out[name] = per_step
    return out


def _allreduce(comm, seconds):
    """Median seconds of one in-place Allreduce(SUM) of n float32s, per n."""
    from mpi4py import MPI
    out = {}
    for n in ALLREDUCE_SIZES:
        buf = np.ones(n, dtype=np.float32)
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        comm.Barrier()
        started = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        first = comm.allreduce(time.perf_counter() - started, op=MPI.MAX)
        repeats = max(10, min(2000, int(seconds / max(first, 1e-6))))
        times = []
        for _ in range(repeats):
            comm.Barrier()
            started = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            times.append(time.perf_counter() - started)
        out[n * 4] = comm.allreduce(statistics.median(times), op=MPI.MAX)
    return out


def worker(path, samples, epochs, seconds):
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rng = np.random.default_rng(0)
    X = rng.random((samples, N_FEATURES), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    result = {"ranks": comm.size, "epochs": _epochs(comm, X, y, epochs)}
    if comm.size == 1:
        result["compute"] = _compute(comm, X, y, seconds)
        result["single_process"] = _single_process(X, y, epochs)
    else:
        result["allreduce"] = _allreduce(comm, seconds)
    if comm.rank == 0:
        with open(path, "w") as f:
            json.dump(result, f)


# ------------------------------------------------------------------ driver
def find_mpiexec():
    for folder in (os.path.dirname(sys.executable), sysconfig.get_path("scripts")):
        path = os.path.join(folder, "mpiexec")
        if os.access(path, os.X_OK):
            return path
    return shutil.which("mpiexec") or shutil.which("mpirun")


def launch(ranks, folder, args):
    out = os.path.join(folder, f"ranks{ranks}.json")
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    command = [find_mpiexec(), "-n", str(ranks), sys.executable, os.path.abspath(__file__), "--worker", out,
               "--samples", str(args.samples), "--epochs", str(args.epochs), "--seconds", str(args.seconds)]
    print(f"$ {' '.join(command[:3])} python benchmarks/scaling.py --worker ...", flush=True)
    subprocess.run(command, env=env, check=True, stdin=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)


def fit_line(xs, ys, relative=False):
    """Least-squares (intercept, slope); ``relative`` minimises relative errors."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    slope, intercept = np.polyfit(xs, ys, 1, w=1 / ys if relative else None)
    return float(intercept), float(slope)


def step_time(a, c, batch, k, parameter_bytes, alpha, beta):
    comm = 0.0 if k == 1 else 2 * (k - 1) / k * parameter_bytes / beta + alpha * math.log2(k)
    return a + c * batch / k + comm


def break_even(c, parameter_bytes, alpha, beta, k):
    """The global batch B above which k ranks beat one: T(1) > T(k) ⇔
    c·B·(1 − 1/k) > 2(k−1)/k·P/β + α·log2 k."""
    return (2 * (k - 1) / k * parameter_bytes / beta + alpha * math.log2(k)) / (c * (1 - 1 / k))


def report(one, two):
    us = 1e6
    print("\n== Measured (2 vCPUs; float32; each rank 1 BLAS thread) ==")
    print(f"{'network':24} {'batch':>5} {'1 rank':>8} {'2 ranks':>8} {'speed-up':>8} {'all-reduce':>10} "
          f"{'per step':>9} {'Network.fit 1 thr':>17} {'2 thr':>6}")
    for name, spec in NETWORKS.items():
        e1, e2 = one["epochs"][name], two["epochs"][name]
        single = one["single_process"][name]
        print(f"{name:24} {spec['batch_size']:5d} {e1['epoch']:7.3f}s {e2['epoch']:7.3f}s "
              f"{e1['epoch'] / e2['epoch']:7.2f}x {e2['comm']:9.3f}s {e2['comm'] / e2['steps'] * us:7.0f}µs "
              f"{single['threads1']:16.3f}s {single['threads2']:5.3f}s")

    sizes = sorted(int(b) for b in two["allreduce"])
    times = [two["allreduce"][str(b)] for b in sizes]
    alpha = times[0]
    large = [(b, t) for b, t in zip(sizes, times) if b >= 256 * 1024]
    _, slope = fit_line([b for b, _ in large], [t - alpha for _, t in large])
    beta = 1.0 / slope
    print("\n== All-reduce of n bytes on 2 ranks (median) ==")
    print("   " + "  ".join(f"{b:>9,d} B: {t * us:8.1f}µs" for b, t in zip(sizes, times)))
    print(f"   latency α = {alpha * us:.1f} µs (8-byte all-reduce), bandwidth β = {beta / 1e9:.2f} GB/s "
          f"(slope over ≥ 256 KiB; with k=2 the model's 2(k−1)/k = 1)")

    print("\n== Compute per step, one rank: compute(b) = a + c·b (least squares over b = "
          f"{', '.join(map(str, COMPUTE_BATCHES))}) ==")
    constants = {}
    for name in NETWORKS:
        per_step = {int(b): t for b, t in one["compute"][name].items()}
        a, c = fit_line(list(per_step), list(per_step.values()), relative=True)
        a = max(a, 0.0)
        constants[name] = (a, c)
        worst = max(abs(a + c * b - t) / t for b, t in per_step.items())
        print(f"   {name:24} a = {a * us:8.1f} µs/step, c = {c * us:7.2f} µs/sample (within {worst:.0%} of "
              f"every b; measured b=10: {per_step[10] * us:.0f} µs, b=256: {per_step[256] * us:.0f} µs)")

    print("\n== Model against measurement, 2 ranks, whole epoch (compute | all-reduce) ==")
    for name, spec in NETWORKS.items():
        a, c = constants[name]
        e2 = two["epochs"][name]
        steps, p = e2["steps"], e2["parameter_bytes"]
        compute = steps * (a + c * spec["batch_size"] / 2)
        comm = steps * step_time(0.0, 0.0, spec["batch_size"], 2, p, alpha, beta)
        print(f"   {name:24} predicted {compute + comm:6.3f} s ({compute:.3f} | {comm:.3f}), measured "
              f"{e2['epoch']:6.3f} s ({e2['epoch'] - e2['comm']:.3f} | {e2['comm']:.3f}; the all-reduce "
              f"time includes waiting for the slower rank)")

    links = (("measured here (shared memory)", alpha, beta),) + ASSUMED
    ks = (2, 4, 8, 16, 64)
    print("\n== Predicted speed-up T(1)/T(k) per step (k ≤ batch: at least one row per rank) ==")
    for link, la, lb in links:
        print(f"-- {link}")
        print(f"   {'network':24} {'batch':>5} " + " ".join(f"{'k=' + str(k):>7}" for k in ks) + "  pays?")
        for name, spec in NETWORKS.items():
            a, c = constants[name]
            p = one["epochs"][name]["parameter_bytes"]
            for batch in sorted({10, spec["batch_size"], 256, 1024}):
                t1 = step_time(a, c, batch, 1, p, la, lb)
                cells = [f"{t1 / step_time(a, c, batch, k, p, la, lb):6.2f}x" if k <= batch else f"{'—':>7}"
                         for k in ks]
                best, best_k = max((t1 / step_time(a, c, batch, k, p, la, lb), k)
                                   for k in range(2, min(batch, 1024) + 1))
                verdict = (f"yes: {best:.1f}x at k={best_k}" if best > 1.05 else
                           f"no: at best {best:.2f}x (k={best_k})")
                print(f"   {name:24} {batch:5d} " + " ".join(cells) + f"  {verdict}")
        print("   break-even global batch (k ranks pay above it): " + "; ".join(
            f"{name.split()[0]} " + ", ".join(
                f"k={k}: {break_even(constants[name][1], one['epochs'][name]['parameter_bytes'], la, lb, k):.0f}"
                for k in (2, 8)) for name in NETWORKS))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", metavar="OUT.json", help="run as one rank of an mpiexec launch")
    parser.add_argument("--samples", type=int, default=N_SAMPLES)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per network (median)")
    parser.add_argument("--seconds", type=float, default=0.3, help="time per compute / all-reduce measurement")
    parser.add_argument("--quick", action="store_true", help="10,000 samples, 2 epochs, shorter measurements")
    parser.add_argument("--save", metavar="RESULTS.json", help="also write the raw measurements here")
    parser.add_argument("--load", metavar="RESULTS.json", help="only print the report of saved measurements")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.epochs, args.seconds = 10_000, 2, 0.1
    if args.worker:
        worker(args.worker, args.samples, args.epochs, args.seconds)
        return
    if args.load:
        with open(args.load) as f:
            report(*json.load(f))
        return
    if find_mpiexec() is None:
        raise SystemExit('no mpiexec found: pip install "fastbp[mpi]"')
    with tempfile.TemporaryDirectory() as folder:
        one = launch(1, folder, args)
        two = launch(2, folder, args)
    if args.save:
        with open(args.save, "w") as f:
            json.dump([one, two], f)
    report(one, two)


if __name__ == "__main__":
    main()
