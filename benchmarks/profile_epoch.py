"""Where an epoch's time goes, by compiled function: ``perf record`` on fastbp's kernels.

Compiles the kernels for one workload in this process (into a fresh numba
cache directory, so that every library's machine code is at hand), writes
``/tmp/perf-<pid>.map`` naming the address range of each compiled
function, records ``--epochs`` epochs with ``perf record -p <pid>`` and
prints ``perf report``'s share per symbol (fastbp's kernels, BLAS, the
interpreter). Linux with ``perf`` installed only; nothing is timed here, use
compare.py or parallel.py for that.

    python benchmarks/profile_epoch.py                          # W2, float32, serial
    python benchmarks/profile_epoch.py --workload W2 --mode parallel
    python benchmarks/profile_epoch.py --workload W1 --mode loops --dtype float64

Modes: ``serial`` (threads=1, the kernels fastbp picks), ``loops`` (serial,
every product on the loop kernels), ``blas`` (serial, every product on
BLAS), ``parallel`` (parallel=True, threads=2), ``parallel-1`` (the same
kernels on one thread).
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

MODES = {
    "serial": dict(threads=1),
    "loops": dict(threads=1),
    "blas": dict(threads=1),
    "parallel": dict(parallel=True, threads=2),
    "parallel-1": dict(parallel=True, threads=1),
}


def _compiled_functions():
    """(address, size, name) of every function in the libraries of fastbp's
    dispatchers and the libraries they link, sorted by address."""
    from numba.core.registry import CPUDispatcher

    entries, seen = [], set()
    for module in list(sys.modules.values()):
        if not getattr(module, "__name__", "").startswith("fastbp"):
            continue
        for obj in vars(module).values():
            if not isinstance(obj, CPUDispatcher):
                continue
            todo = [cres.library for cres in obj.overloads.values()]
            while todo:
                library = todo.pop()
                if id(library) in seen:
                    continue
                seen.add(id(library))
                todo.extend(getattr(library, "_linking_libraries", ()))
                module_ir = getattr(library, "_final_module", None)
                if module_ir is None:        # loaded from a cache: no IR to name
                    continue
                for fn in module_ir.functions:
                    if fn.is_declaration:
                        continue
                    try:
                        address = library.get_pointer_to_function(fn.name)
                    except Exception:        # not emitted (inlined everywhere)
                        continue
                    if address:
                        entries.append((address, fn.name))
    entries = sorted(set(entries))
    # A function's size is not recorded: take the distance to the next one.
    return [(a, min(entries[i + 1][0] - a if i + 1 < len(entries) else 1 << 16, 1 << 20), name)
            for i, (a, name) in enumerate(entries)]


def _short(name):
    """numba's mangled name reduced to module.function (e.g. dense.weight_gradient),
    or to parfor_gufunc_0x... for a prange body."""
    gufunc = re.search(r"parfor_gufunc_0x[0-9a-f]+", name)
    if gufunc:
        return ("wrapper of " if name.startswith("__gufunc__") else "") + gufunc.group(0)
    tail, parts = name.split("kernels", 1)[-1], []
    while len(parts) < 2:
        length = re.match(r"\d+", tail)
        if not length:
            break
        start = length.end()
        parts.append(tail[start:start + int(length.group(0))])
        tail = tail[start + int(length.group(0)):]
    return ".".join(parts) if parts else name[:80]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="W2")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--mode", default="serial", choices=sorted(MODES))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    perf = shutil.which("perf")
    if perf is None:
        sys.exit("profile_epoch.py needs Linux perf on the PATH")
    # A fresh cache, so that this process compiles (and can name) every kernel.
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="fastbp-profile-cache-")
    try:
        from .common import WORKLOADS, mnist_shaped, network
    except ImportError:
        from common import WORKLOADS, mnist_shaped, network
    from fastbp import _dispatch

    spec = WORKLOADS[args.workload]
    if args.mode in ("loops", "blas"):
        _dispatch.BLAS_MIN_ROWS = 10**9 if args.mode == "loops" else 1
    options = MODES[args.mode]
    X, y = mnist_shaped(args.dtype)
    net = network(args.workload, args.dtype)
    print(f"compiling {args.workload} {args.dtype} {args.mode} ...", flush=True)
    net.fit(X[:100], y[:100], epochs=1, batch_size=spec["batch_size"], learning_rate=1e-3, **options)
    functions = _compiled_functions()
    map_path = f"/tmp/perf-{os.getpid()}.map"
    with open(map_path, "w") as f:
        for address, size, name in functions:
            f.write(f"{address:x} {size:x} {_short(name)}\n")
    data = os.path.join(tempfile.mkdtemp(prefix="fastbp-profile-"), "perf.data")
    recorder = subprocess.Popen([perf, "record", "-F", "2000", "-o", data, "-p", str(os.getpid())],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)                          # let perf attach
    history = net.fit(X, y, epochs=args.epochs, batch_size=spec["batch_size"],
                      learning_rate=spec["learning_rate"], **options)
    recorder.send_signal(signal.SIGINT)
    recorder.wait()
    print(f"{len(functions)} compiled functions mapped; epochs (s): "
          + " ".join(f"{t:.3f}" for t in history["time"]))
    report = subprocess.run([perf, "report", "-i", data, "--no-children", "--sort", "sym", "--stdio"],
                            capture_output=True, text=True).stdout
    lines = [line for line in report.splitlines() if line.strip() and not line.startswith("#")]
    print("\n".join(line[:120] for line in lines[:args.top]))
    os.remove(map_path)


if __name__ == "__main__":
    main()
