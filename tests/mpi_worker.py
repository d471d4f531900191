"""Run by tests/test_distributed.py under ``mpiexec -n K``: trains the jobs of a JSON spec
with fastbp.distributed.fit and writes each rank's results beside the spec.

    mpiexec -n 2 python tests/mpi_worker.py SPEC.json

A job is ``{"name", "net": Network kwargs, "fit": fit kwargs, "data": npz path}`` plus
optional ``"shard_rows"`` (one list of row indices per rank: fit with shard=True on
those rows), ``"epochs_by_rank"``, ``"fail"`` (``{"kind": "features" | "callback" |
"sigint", "rank": r, "epoch": e}``: make rank r fail, or send itself Ctrl-C) and ``"expect_error"`` (record the error
and go on instead of exiting). Each rank writes ``NAME-rankR.npz`` (parameters,
history, one draw of the network's generator, parameters after each epoch) or, on an
error, ``NAME-rankR.error.json`` (type and message) before re-raising it, so a
failing rank exits with a non-zero status.
"""

import json
import os
import signal
import sys
import warnings

import numpy as np
from mpi4py import MPI

import fastbp
from fastbp import distributed


def optimizer(spec):
    if isinstance(spec, dict):
        kind, options = next(iter(spec.items()))
        return fastbp.optimizers.Adam(**options) if kind == "adam" else fastbp.optimizers.SGD(**options)
    return spec


def run_job(job, folder, comm):
    rank = comm.rank
    data = np.load(job["data"])
    X, y = data["X"], data["y"]
    sw = data["sw"] if "sw" in data else None
    kwargs = dict(job["fit"])
    kwargs["optimizer"] = optimizer(kwargs.get("optimizer", "sgd"))
    if "Xv" in data and "validation_fraction" not in kwargs:
        kwargs["validation_data"] = (data["Xv"], data["yv"])
    if "shard_rows" in job:
        rows = np.asarray(job["shard_rows"][rank], dtype=np.int64)
        X, y = X[rows], y[rows]
        sw = None if sw is None else sw[rows]
        kwargs["shard"] = True
    if "epochs_by_rank" in job:
        kwargs["epochs"] = job["epochs_by_rank"][rank]
    fail = job.get("fail", {})
    if fail.get("kind") == "features" and rank == fail["rank"]:
        X = X[:, :-1]
    net = fastbp.Network(**job["net"])
    snapshots = [net.parameters.copy()]

    def record(epoch, logs):
        snapshots.append(net.parameters.copy())
        if rank == fail.get("rank") and epoch == fail.get("epoch"):
            if fail["kind"] == "callback":
                raise RuntimeError(f"callback failed on purpose on rank {rank} in epoch {epoch}")
            if fail["kind"] == "sigint":
                os.kill(os.getpid(), signal.SIGINT)         # Ctrl-C, on this rank only

    name = os.path.join(folder, f"{job['name']}-rank{rank}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = distributed.fit(net, X, y, comm=comm, sample_weight=sw, callbacks=[record], **kwargs)
    except Exception as error:
        with open(name + ".error.json", "w") as f:
            json.dump({"type": type(error).__name__, "message": str(error)}, f)
        np.savez(name + ".npz", params=net.parameters, snapshots=np.array(snapshots))
        if job.get("expect_error"):
            return
        raise
    np.savez(name + ".npz", params=net.parameters, snapshots=np.array(snapshots),
             draw=net._rng.random(4), history=json.dumps(history.records), interrupted=history.interrupted,
             warnings=json.dumps([str(w.message) for w in caught]),
             optimizer_step=net._optimizer_state.step if net._optimizer_state is not None else np.zeros(1))


def main(spec_path):
    comm = MPI.COMM_WORLD
    with open(spec_path) as f:
        spec = json.load(f)
    if comm.size != spec["ranks"]:
        raise SystemExit(f"expected {spec['ranks']} ranks, got {comm.size}: mpiexec and mpi4py's MPI library "
                         f"({MPI.Get_library_version().splitlines()[0]}) do not match")
    folder = os.path.dirname(os.path.abspath(spec_path))
    for job in spec["jobs"]:
        run_job(job, folder, comm)


if __name__ == "__main__":
    main(sys.argv[1])
