"""fastbp.distributed: data-parallel training over MPI.

Two ranks are started with ``mpiexec -n 2`` (tests/mpi_worker.py) and must end
with the weights of one process (``Network.fit``) trained with the same seed and
global batch size; a failing rank must make every rank stop with the same error.
Without mpi4py or mpiexec the MPI tests are skipped with the reason, unless
FASTBP_REQUIRE_MPI=1 (set by CI), where they fail instead.
"""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import sysconfig

import numpy as np
import pytest

import fastbp
from fastbp import distributed

WORKER = pathlib.Path(__file__).resolve().with_name("mpi_worker.py")
RANKS = 2
REQUIRE_MPI = os.environ.get("FASTBP_REQUIRE_MPI") == "1"
LAUNCH_TIMEOUT = 120        # seconds; a hang in a collective fails the test instead of blocking it

#: float64: the 2-rank run sums each mini-batch's gradient as two partial sums
#: added by MPI, one process in one pass, and applies the step as
#: θ − η(g/W + λw) instead of the fused (1 − ηλ)θ − η·g/W. Each step thus
#: differs by a few ulps (~1e-16 relative); over the ~60 steps here training
#: amplifies that by well under 1e3 (measured max deviations are ~1e-14), so
#: 1e-10 leaves a 10,000x margin while any wrong weighting, batch split or
#: update is off by > 1e-3. float32: the same reasoning with eps = 1.2e-7.
TOLERANCE = {"float64": 1e-12, "float32": 1e-4}


def find_mpiexec():
    """mpiexec beside this Python first (the MPICH/Open MPI wheels put it there),
    then on PATH."""
    folders = [os.path.dirname(sys.executable), sysconfig.get_path("scripts"),
               os.path.join(sysconfig.get_path("data"), "bin")]
    for folder in folders:
        for name in ("mpiexec", "mpirun"):
            path = os.path.join(folder, name)
            if os.access(path, os.X_OK):
                return path
    return shutil.which("mpiexec") or shutil.which("mpirun")


def mpi_or_skip():
    """(MPI module, mpiexec path), or skip (fail under FASTBP_REQUIRE_MPI=1)."""
    problem, MPI = None, None
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as error:
        problem = f"mpi4py cannot be imported ({error})"
    mpiexec = find_mpiexec()
    if problem is None and mpiexec is None:
        problem = "no mpiexec or mpirun beside Python or on PATH"
    if problem is not None:
        message = f"MPI tests need mpi4py and an MPI launcher: {problem}; {distributed.MPI_INSTALL_HINT}"
        if REQUIRE_MPI:
            pytest.fail(message)
        pytest.skip(message)
    return MPI, mpiexec


# ------------------------------------------------------------------ data
def make_data(folder, n=203, n_val=61, features=8, classes=3, targets=None, seed=0):
    """An npz of (X, y, sw, Xv, yv): labels (or `targets` real outputs), weights
    in [0, 2] with every 7th zero."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, features))
    centres = rng.random((classes, features))
    y = np.argmin(((X[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    Xv = rng.random((n_val, features))
    yv = np.argmin(((Xv[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
    if targets:
        W = rng.normal(size=(features, targets))
        y, yv = np.tanh(X @ W), np.tanh(Xv @ W)
    sw = rng.random(n) * 2
    sw[::7] = 0.0
    path = os.path.join(folder, f"data-{seed}-{targets}.npz")
    np.savez(path, X=X, y=y, sw=sw, Xv=Xv, yv=yv)
    return path


SOFTMAX = dict(output_activation="softmax", cost="log_likelihood")


def scaled_weights(path, shards, factors):
    """A copy of the data at ``path`` whose weights are multiplied by factors[r] on shard r's rows."""
    data = dict(np.load(path))
    for rows, factor in zip(shards, factors):
        data["sw"][rows] *= factor
    scaled = path.replace(".npz", "-scaled.npz")
    np.savez(scaled, **data)
    return scaled


def jobs_for(folder):
    """The jobs run on two ranks and compared with one process."""
    labels = make_data(folder)
    targets = make_data(folder, targets=2, seed=1)
    common = dict(epochs=4, shuffle=True, evaluate_training=True)
    return [
        # 203 rows in batches of 16: the last batch has 11 rows, split 5 / 6.
        dict(name="sgd", data=labels, net=dict(sizes=[8, 12, 3], seed=1, **SOFTMAX),
             fit=dict(common, batch_size=16, learning_rate=0.5, l2=0.5)),
        dict(name="adam", data=labels,
             net=dict(sizes=[8, 10, 3], hidden_activation="tanh", output_activation="sigmoid",
                      cost="cross_entropy", seed=2),
             fit=dict(common, batch_size=20, learning_rate=0.02, l1=0.2, optimizer="adam",
                      validation_fraction=0.2)),
        dict(name="nesterov_dropout", data=labels,
             net=dict(sizes=[8, 16, 16, 3], hidden_activation="relu", init="he_normal", seed=3, **SOFTMAX),
             fit=dict(common, batch_size=10, learning_rate=0.05, dropout=0.2,
                      optimizer={"sgd": {"momentum": 0.9, "nesterov": True}})),
        dict(name="float32", data=labels, net=dict(sizes=[8, 12, 3], dtype="float32", seed=4, **SOFTMAX),
             fit=dict(common, batch_size=16, learning_rate=0.5, l2=0.5)),
        # One row per step: rank 0 gets none of it, rank 1 all of it.
        dict(name="batch1_regression", data=targets,
             net=dict(sizes=[8, 6, 2], hidden_activation="tanh", output_activation="identity", seed=5),
             fit=dict(epochs=2, batch_size=1, learning_rate=0.01, optimizer="momentum")),
    ]


def reference_fit(job):
    """The same training in one process with Network.fit."""
    data = np.load(job["data"])
    net = fastbp.Network(**job["net"])
    kwargs = dict(job["fit"])
    opt = kwargs.pop("optimizer", "sgd")
    if isinstance(opt, dict):
        kind, options = next(iter(opt.items()))
        opt = fastbp.optimizers.Adam(**options) if kind == "adam" else fastbp.optimizers.SGD(**options)
    if "validation_fraction" not in kwargs:
        kwargs["validation_data"] = (data["Xv"], data["yv"])
    history = net.fit(data["X"], data["y"], sample_weight=data["sw"], optimizer=opt, **kwargs)
    return net, history


# -------------------------------------------------------------- launching
def launch(mpiexec, folder, jobs, name="spec"):
    """Run the worker on RANKS ranks; (return code, output). Kills the whole
    process group if it has not finished within LAUNCH_TIMEOUT."""
    spec = os.path.join(folder, f"{name}.json")
    with open(spec, "w") as f:
        json.dump({"ranks": RANKS, "jobs": jobs}, f)
    # One numba and BLAS thread per rank: 2 ranks x N threads must fit the cores.
    # The Open MPI variables let its mpirun run as root (CI); MPICH ignores them.
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([mpiexec, "-n", str(RANKS), sys.executable, str(WORKER), spec], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=LAUNCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"mpiexec did not finish within {LAUNCH_TIMEOUT} s (a rank hanging in a collective?):\n"
                    f"{output[-4000:]}")
    return proc.returncode, output


def result(folder, name, rank):
    out = dict(np.load(os.path.join(folder, f"{name}-rank{rank}.npz")))
    if "history" in out:
        out["history"] = json.loads(str(out["history"]))
    error = os.path.join(folder, f"{name}-rank{rank}.error.json")
    if os.path.exists(error):
        with open(error) as f:
            out["error"] = json.load(f)
    return out


@pytest.fixture(scope="module")
def mpi():
    """(MPI, mpiexec), with every kernel the ranks use compiled into numba's cache
    by this process first, so that the ranks only read the cache (never two
    writers of one cache entry)."""
    MPI, mpiexec = mpi_or_skip()
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        net = fastbp.Network([3, 4, 2], dtype=dtype, seed=0, **SOFTMAX)
        X, y = rng.random((12, 3)), rng.integers(0, 2, 12)
        distributed.fit(net, X, y, comm=MPI.COMM_SELF, epochs=1, batch_size=5, learning_rate=0.1, dropout=0.1,
                        optimizer="adam", validation_data=(X, y), evaluate_training=True)
    return MPI, mpiexec


@pytest.fixture(scope="module")
def two_ranks(mpi, tmp_path_factory):
    """One launch running the equality jobs plus two whose errors are expected:
    divergence, and ranks that disagree on the number of epochs."""
    folder = str(tmp_path_factory.mktemp("mpi"))
    jobs = jobs_for(folder)
    labels, targets = jobs[0]["data"], jobs[-1]["data"]
    order = np.random.default_rng(7).permutation(203)
    shards = [order[:120].tolist(), order[120:].tolist()]        # uneven shards: 120 and 83 rows
    jobs += [
        dict(name="shard_adam", data=labels, net=dict(sizes=[8, 12, 3], seed=6, **SOFTMAX), shard_rows=shards,
             fit=dict(epochs=2, batch_size=16, learning_rate=0.02, optimizer="adam", shuffle=False)),
        dict(name="shard_shuffled", data=labels, net=dict(sizes=[8, 12, 3], seed=6, **SOFTMAX), shard_rows=shards,
             fit=dict(epochs=6, batch_size=16, learning_rate=0.5, dropout=0.1,
                      checkpoint=os.path.join(folder, "ckpt.npz"), checkpoint_every=2)),
        # float32 weights near 1e37 on one shard and 1e30 on the other: every rank must divide
        # them by the same power of two (the largest weight's) to keep their ratio.
        dict(name="shard_float32_scaled", data=scaled_weights(labels, shards, (2.0 ** 124, 2.0 ** 100)),
             net=dict(sizes=[8, 12, 3], dtype="float32", seed=6, **SOFTMAX), shard_rows=shards,
             fit=dict(epochs=2, batch_size=16, learning_rate=0.5, shuffle=False)),
        dict(name="diverge", data=targets, expect_error=True,
             net=dict(sizes=[8, 6, 2], hidden_activation="identity", output_activation="identity", seed=5),
             fit=dict(epochs=3, batch_size=8, learning_rate=1e3)),
        dict(name="disagree", data=labels, expect_error=True, epochs_by_rank=[2, 3],
             net=dict(sizes=[8, 12, 3], seed=1, **SOFTMAX), fit=dict(batch_size=16, learning_rate=0.5)),
        dict(name="sigint", data=labels, fail=dict(kind="sigint", rank=1, epoch=2),
             net=dict(sizes=[8, 12, 3], seed=1, **SOFTMAX), fit=dict(epochs=5, batch_size=16, learning_rate=0.5)),
    ]
    code, output = launch(mpi[1], folder, jobs)
    assert code == 0, output[-4000:]
    return folder, jobs, shards


# ------------------------------------------------------------------ tests
def test_without_mpi4py_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)       # makes `from mpi4py import MPI` fail
    net = fastbp.Network([2, 2, 1], seed=0)
    with pytest.raises(ImportError, match=r'pip install "fastbp\[mpi\]"'):
        distributed.fit(net, np.zeros((4, 2)), [0, 1, 0, 1], epochs=1)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "nesterov"])
def test_one_rank_equals_network_fit(mpi, tmp_path, optimizer):
    MPI = mpi[0]
    data = np.load(make_data(str(tmp_path)))
    kwargs = dict(epochs=3, batch_size=16, learning_rate=0.02 if optimizer == "adam" else 0.5, l2=0.3,
                  optimizer=optimizer, sample_weight=data["sw"], validation_data=(data["Xv"], data["yv"]),
                  evaluate_training=True, dropout=0.1 if optimizer == "nesterov" else 0.0)
    ours = fastbp.Network([8, 12, 3], seed=0, **SOFTMAX)
    theirs = ours.copy()
    history = distributed.fit(ours, data["X"], data["y"], comm=MPI.COMM_SELF, **kwargs)
    expected = theirs.fit(data["X"], data["y"], **kwargs)
    np.testing.assert_allclose(ours.parameters, theirs.parameters, rtol=0, atol=TOLERANCE["float64"])
    for key in ("accuracy", "train_accuracy", "val_accuracy"):
        assert history[key] == expected[key]
    for key in ("cost", "train_cost", "val_cost"):
        np.testing.assert_allclose(history[key], expected[key], rtol=1e-12)
    # The optimizer state stays on the network: a Network.fit afterwards continues it.
    ours.fit(data["X"], data["y"], **kwargs)
    theirs.fit(data["X"], data["y"], **kwargs)
    np.testing.assert_allclose(ours.parameters, theirs.parameters, rtol=0, atol=TOLERANCE["float64"])


@pytest.mark.parametrize("every", [1, 3])
def test_one_rank_ctrl_c_inside_an_epoch_leaves_the_checkpoint_at_the_last_whole_one(mpi, tmp_path, monkeypatch,
                                                                                      every):
    data = np.load(make_data(str(tmp_path)))
    path = tmp_path / "ckpt.npz"
    kwargs = dict(batch_size=16, learning_rate=0.02, optimizer="adam")
    reference = fastbp.Network([8, 12, 3], seed=0, **SOFTMAX)
    net = reference.copy()
    reference.fit(data["X"], data["y"], epochs=1, **kwargs)
    real, calls = distributed.local_gradient, []

    def ctrl_c_in_epoch_2(*args):
        calls.append(1)
        if len(calls) == -(-len(data["X"]) // 16) + 3:    # the third step of epoch 2
            os.kill(os.getpid(), signal.SIGINT)     # fit's handler turns it into a flag
        return real(*args)
    monkeypatch.setattr(distributed, "local_gradient", ctrl_c_in_epoch_2)
    with pytest.warns(RuntimeWarning, match="interrupted during epoch 2"):
        history = distributed.fit(net, data["X"], data["y"], comm=mpi[0].COMM_SELF, epochs=4, checkpoint=str(path),
                                  checkpoint_every=every, **kwargs)
    assert history.interrupted and len(history) == 1
    saved = fastbp.load(path)
    np.testing.assert_allclose(saved.parameters, reference.parameters, rtol=0, atol=TOLERANCE["float64"])
    assert saved._optimizer_state.step[0] == reference._optimizer_state.step[0]


def test_one_rank_accuracy_leaves_out_steps_of_zero_weight_as_network_fit(mpi):
    rng = np.random.default_rng(5)
    X, y = rng.random((20, 8)), rng.integers(0, 3, 20)
    kwargs = dict(epochs=1, batch_size=1, learning_rate=1e-12, shuffle=False, sample_weight=np.tile([0.0, 1.0], 10))
    ours = fastbp.Network([8, 12, 3], seed=3, **SOFTMAX)
    theirs = ours.copy()
    history = distributed.fit(ours, X, y, comm=mpi[0].COMM_SELF, **kwargs)
    expected = theirs.fit(X, y, **kwargs)
    assert history["accuracy"] == expected["accuracy"] == [theirs.evaluate(X[1::2], y[1::2])["accuracy"]]


def test_one_rank_undoes_an_epoch_whose_validation_overflows_as_network_fit(mpi):
    # Validation inputs whose e^z overflows: the epoch cannot be recorded, so neither keeps it.
    rng = np.random.default_rng(0)
    X, counts = rng.random((40, 3)), rng.poisson(2.0, (40, 1)).astype(float)
    Xv = np.repeat([[1e4], [-1e4]], 3, axis=1)       # a linear network's z is huge one way or the other
    kwargs = dict(epochs=2, batch_size=8, learning_rate=0.01, validation_data=(Xv, counts[:2]))
    for train in (lambda net: distributed.fit(net, X, counts, comm=mpi[0].COMM_SELF, **kwargs),
                  lambda net: net.fit(X, counts, **kwargs)):
        net = fastbp.Network([3, 4, 1], hidden_activation="identity", output_activation="exp", cost="poisson",
                             seed=0)
        before = net.parameters.copy()
        with pytest.raises(fastbp.NumericalError, match="val cost overflowed|cost overflowed"):
            train(net)
        np.testing.assert_array_equal(net.parameters, before)
        assert len(net.history) == 0 and net._optimizer_state is None


@pytest.mark.parametrize("options, message", [
    (dict(early_stopping=fastbp.EarlyStopping("val_accuracy"), validation_fraction=0.25),
     "early stopping on 'val_accuracy' needs class labels"),
    (dict(schedule="halving", validation_fraction=0.25), "schedule Halving on 'val_accuracy' needs class labels"),
    (dict(early_stopping=fastbp.EarlyStopping("val_cost")), "early stopping on 'val_cost' needs validation_data"),
])
def test_one_rank_checks_monitors_before_training_as_network_fit(mpi, options, message):
    rng = np.random.default_rng(0)
    X, counts = rng.random((40, 3)), rng.poisson(2.0, (40, 1)).astype(float)
    for train in (lambda net: distributed.fit(net, X, counts, comm=mpi[0].COMM_SELF, epochs=2, **options),
                  lambda net: net.fit(X, counts, epochs=2, **options)):
        net = fastbp.Network([3, 4, 1], output_activation="exp", cost="poisson", seed=0)
        before = net.parameters.copy()
        with pytest.raises(ValueError, match=message):
            train(net)
        np.testing.assert_array_equal(net.parameters, before)


@pytest.mark.parametrize("every, early_stopping, saves", [
    (1, None, [1, 2, 3]),               # the last epoch's checkpoint is the final one
    (2, None, [2, 3]),
    (1, fastbp.EarlyStopping("val_cost", patience=10), None),     # a best epoch put back: written again
])
def test_one_rank_writes_its_last_checkpoint_once_as_network_fit(mpi, tmp_path, monkeypatch, every,
                                                                  early_stopping, saves):
    from fastbp import io
    data = np.load(make_data(str(tmp_path)))
    written = []
    save = io.save
    monkeypatch.setattr(io, "save", lambda n, p, **kw: (written.append((len(n._records), p)), save(n, p, **kw)))
    kwargs = dict(epochs=3, batch_size=16, learning_rate=4.0, checkpoint_every=every, early_stopping=early_stopping,
                  validation_data=(data["Xv"], data["yv"]))
    ours = fastbp.Network([8, 12, 3], seed=0, **SOFTMAX)
    theirs = ours.copy()
    distributed.fit(ours, data["X"], data["y"], comm=mpi[0].COMM_SELF, checkpoint=str(tmp_path / "ours.npz"),
                    **kwargs)
    theirs.fit(data["X"], data["y"], checkpoint=str(tmp_path / "theirs.npz"), **kwargs)
    by_fit = {path: [epochs for epochs, p in written if p == path] for path in {p for _, p in written}}
    assert by_fit[str(tmp_path / "ours.npz")] == by_fit[str(tmp_path / "theirs.npz")]
    if saves is not None:
        assert by_fit[str(tmp_path / "ours.npz")] == saves
    loaded = fastbp.load(tmp_path / "ours.npz")
    assert np.array_equal(loaded.parameters, ours.parameters) and loaded.history.best_epoch == ours.history.best_epoch


class _Halve:
    """A user's schedule, without a __repr__ of its own."""

    def __init__(self, factor=0.5):
        self.factor = factor

    def rate(self, epoch, lr0, records):
        return np.float32(lr0 * self.factor ** (epoch - 1))


def test_one_rank_custom_schedules_as_network_fit(mpi, tmp_path):
    data = np.load(make_data(str(tmp_path)))
    ours = fastbp.Network([8, 12, 3], seed=3, **SOFTMAX)
    theirs = ours.copy()
    kwargs = dict(epochs=3, batch_size=16, learning_rate=0.5, schedule=_Halve())
    history = distributed.fit(ours, data["X"], data["y"], comm=mpi[0].COMM_SELF,
                              checkpoint=str(tmp_path / "c.npz"), **kwargs)
    expected = theirs.fit(data["X"], data["y"], **kwargs)
    assert history["learning_rate"] == expected["learning_rate"] == [0.5, 0.25, 0.125]
    assert all(type(lr) is float for lr in history["learning_rate"])
    # Ranks compare a schedule by its repr, or by its class where that repr is object's (an address).
    assert distributed._describe_schedule(_Halve()) == distributed._describe_schedule(_Halve(0.5))
    for bad in (-0.05, float("nan")):
        net = fastbp.Network([8, 12, 3], seed=3, **SOFTMAX)
        with pytest.raises(ValueError, match="a learning rate must be a finite number > 0"):
            distributed.fit(net, data["X"], data["y"], comm=mpi[0].COMM_SELF, epochs=2,
                            schedule=type("Bad", (), {"rate": lambda self, e, lr0, r, bad=bad: bad})())
        assert len(net.history) == 0


def test_one_rank_schedule_early_stopping_and_checkpoint_as_network_fit(mpi, tmp_path):
    data = np.load(make_data(str(tmp_path)))
    kwargs = dict(epochs=12, batch_size=8, learning_rate=2.0, schedule=fastbp.schedules.StepDecay(3, 0.5),
                  validation_data=(data["Xv"], data["yv"]),
                  early_stopping=fastbp.EarlyStopping(monitor="val_accuracy", patience=2))
    ours = fastbp.Network([8, 12, 3], seed=3, **SOFTMAX)
    theirs = ours.copy()
    history = distributed.fit(ours, data["X"], data["y"], comm=mpi[0].COMM_SELF,
                              checkpoint=str(tmp_path / "ours.npz"), **kwargs)
    expected = theirs.fit(data["X"], data["y"], checkpoint=str(tmp_path / "theirs.npz"), **kwargs)
    assert len(history) == len(expected) < 12 and history.best_epoch == expected.best_epoch
    assert ours.history.best_epoch == theirs.history.best_epoch == expected.best_epoch is not None
    assert fastbp.load(tmp_path / "ours.npz").history.best_epoch == expected.best_epoch
    assert history["learning_rate"] == expected["learning_rate"]
    np.testing.assert_allclose(ours.parameters, theirs.parameters, rtol=0, atol=TOLERANCE["float64"])
    saved = fastbp.load(str(tmp_path / "ours.npz"))
    assert np.array_equal(saved.parameters, ours.parameters)
    assert [r["epoch"] for r in saved.history] == expected["epoch"]


def _stopping_fit_one_rank(mpi, data, epochs, net=None, **extra):
    """(net, history) of distributed.fit on one rank with early stopping on validation accuracy."""
    net = fastbp.Network([8, 12, 3], seed=3, **SOFTMAX) if net is None else net
    history = distributed.fit(net, data["X"], data["y"], comm=mpi[0].COMM_SELF, epochs=epochs, batch_size=8,
                              learning_rate=2.0, validation_data=(data["Xv"], data["yv"]),
                              early_stopping=fastbp.EarlyStopping(monitor="val_accuracy", patience=2), **extra)
    return net, history


def test_one_rank_resumes_early_stopping_from_an_unfinished_fits_checkpoint(mpi, tmp_path):
    data = np.load(make_data(str(tmp_path)))
    straight, expected = _stopping_fit_one_rank(mpi, data, 12)
    assert 3 <= len(expected) < 12

    def crash(epoch, logs):
        if epoch == len(expected) - 1:
            raise RuntimeError("the machine went down")
    path = str(tmp_path / "ckpt.npz")
    with pytest.raises(RuntimeError, match="went down"):
        _stopping_fit_one_rank(mpi, data, 12, checkpoint=path, callbacks=[crash])
    resumed = fastbp.load(path)
    assert len(resumed.history) == len(expected) - 2
    _stopping_fit_one_rank(mpi, data, 12 - len(resumed.history), net=resumed)
    assert len(resumed.history) == len(expected)
    assert resumed.history.best_epoch == expected.best_epoch
    assert np.array_equal(resumed.parameters, straight.parameters)


def test_one_rank_ctrl_c_between_epochs_leaves_a_resume_point(mpi, tmp_path):
    import signal
    data = np.load(make_data(str(tmp_path)))
    straight, expected = _stopping_fit_one_rank(mpi, data, 12)
    stop_after = len(expected) - 1
    assert expected.best_epoch < stop_after

    def ctrl_c(epoch, logs):
        if epoch == stop_after:
            os.kill(os.getpid(), signal.SIGINT)      # caught by distributed.fit: it stops after this epoch
    path = str(tmp_path / "ckpt.npz")
    with pytest.warns(RuntimeWarning):
        net, history = _stopping_fit_one_rank(mpi, data, 12, checkpoint=path, checkpoint_every=100,
                                              callbacks=[ctrl_c])
    assert history.interrupted and net.history.best_epoch == expected.best_epoch      # the network: its best
    resumed = fastbp.load(path)
    assert len(resumed.history) == stop_after and resumed.history.best_epoch is None      # the file: its last
    _stopping_fit_one_rank(mpi, data, 12 - stop_after, net=resumed)
    assert len(resumed.history) == len(expected) and resumed.history.best_epoch == expected.best_epoch
    assert np.array_equal(resumed.parameters, straight.parameters)


@pytest.mark.parametrize("name", ["sgd", "adam", "nesterov_dropout", "float32", "batch1_regression"])
def test_two_ranks_equal_one_process(two_ranks, name):
    folder, jobs, _ = two_ranks
    job = next(j for j in jobs if j["name"] == name)
    rank0, rank1 = result(folder, name, 0), result(folder, name, 1)
    # Every rank applies the same update to the same parameters: bitwise equal.
    assert np.array_equal(rank0["params"], rank1["params"])
    assert rank0["history"] == [dict(r) for r in rank1["history"]]
    assert np.array_equal(rank0["draw"], rank1["draw"])          # generators still in step
    net, expected = reference_fit(job)
    tolerance = TOLERANCE[net.dtype.name]
    scale = max(1.0, float(np.abs(net.parameters).max()))
    np.testing.assert_allclose(rank0["params"], net.parameters, rtol=0, atol=tolerance * scale)
    history = rank0["history"]
    assert [r["epoch"] for r in history] == expected["epoch"]
    for key in expected.keys():
        if key.endswith("accuracy"):
            # Counts of correct rows, reduced over ranks: equal to the count in one process.
            assert [r[key] for r in history] == expected[key], key
        elif key.endswith("cost"):
            np.testing.assert_allclose([r[key] for r in history], expected[key], rtol=10 * tolerance, err_msg=key)
    assert all(r["comm_time"] >= 0 for r in history)
    assert all(0 <= r["compile_time"] <= r["time"] for r in history)       # rank 0's, like "time"


@pytest.mark.parametrize("name", ["shard_adam", "shard_float32_scaled"])
def test_shards_follow_the_documented_order(two_ranks, name):
    """shard=True, shuffle=False: step s takes rows ⌊s·n_r/S⌋..⌊(s+1)·n_r/S⌋ of each
    rank's shard (S = ⌈N/batch_size⌉): the same as one process fed those batches."""
    folder, jobs, shards = two_ranks
    job = next(j for j in jobs if j["name"] == name)
    data = np.load(job["data"])
    net = fastbp.Network(**job["net"])
    n = sum(len(s) for s in shards)
    steps = -(-n // job["fit"]["batch_size"])
    for _ in range(job["fit"]["epochs"]):
        for s in range(steps):
            rows = np.concatenate([np.asarray(shard)[s * len(shard) // steps:(s + 1) * len(shard) // steps]
                                   for shard in shards])
            net.fit(data["X"][rows], data["y"][rows], sample_weight=data["sw"][rows], epochs=1, batch_size=len(rows),
                    learning_rate=job["fit"]["learning_rate"], optimizer=job["fit"].get("optimizer", "sgd"),
                    shuffle=False)
    rank0, rank1 = result(folder, name, 0), result(folder, name, 1)
    assert np.array_equal(rank0["params"], rank1["params"])
    if "optimizer" in job["fit"]:
        assert int(rank0["optimizer_step"][0]) == job["fit"]["epochs"] * steps
    np.testing.assert_allclose(rank0["params"], net.parameters, rtol=0, atol=TOLERANCE[net.dtype.name])


def test_shuffled_shards_train_and_stay_in_step(two_ranks):
    folder, _, _ = two_ranks
    rank0, rank1 = result(folder, "shard_shuffled", 0), result(folder, "shard_shuffled", 1)
    assert np.array_equal(rank0["params"], rank1["params"])
    assert np.array_equal(rank0["draw"], rank1["draw"])
    costs = [r["cost"] for r in rank0["history"]]
    assert costs[-1] < costs[0]
    assert rank0["history"][-1]["accuracy"] > 0.6      # of all 203 rows, counted over both shards
    saved = fastbp.load(os.path.join(folder, "ckpt.npz"))    # written by rank 0
    assert np.array_equal(saved.parameters, rank0["params"])
    assert [r["epoch"] for r in saved.history] == [1, 2, 3, 4, 5, 6]


def test_divergence_raises_the_same_numerical_error_on_every_rank(two_ranks):
    folder, _, _ = two_ranks
    rank0, rank1 = result(folder, "diverge", 0), result(folder, "diverge", 1)
    assert rank0["error"] == rank1["error"]
    assert rank0["error"]["type"] == "NumericalError"
    assert "training diverged in epoch" in rank0["error"]["message"]
    # Parameters are those at the start of the diverging epoch, on both ranks.
    for out in (rank0, rank1):
        assert np.array_equal(out["params"], out["snapshots"][-1])


def test_ranks_that_disagree_fail_together(two_ranks):
    folder, _, _ = two_ranks
    rank0, rank1 = result(folder, "disagree", 0), result(folder, "disagree", 1)
    assert rank0["error"] == rank1["error"]
    assert rank0["error"]["type"] == "ValueError"
    assert "same epochs: rank 0 has 2, rank 1 has 3" in rank0["error"]["message"]


def test_ctrl_c_on_one_rank_stops_every_rank_after_the_same_epoch(two_ranks):
    folder, _, _ = two_ranks
    rank0, rank1 = result(folder, "sigint", 0), result(folder, "sigint", 1)
    for out in (rank0, rank1):
        assert bool(out["interrupted"])
        assert [r["epoch"] for r in out["history"]] == [1, 2]
        assert "interrupted after epoch 2" in str(out["warnings"])
    assert np.array_equal(rank0["params"], rank1["params"])


@pytest.mark.parametrize("kind, expected", [
    ("features", ("ValueError", "rank 1 of 2 failed while checking its arguments and data")),
    ("callback", ("RuntimeError", "rank 1 of 2 failed in a callback after epoch 2: callback failed on purpose")),
])
def test_a_failing_rank_stops_every_rank_with_the_same_error(mpi, tmp_path, kind, expected):
    folder = str(tmp_path)
    job = dict(name=kind, data=make_data(folder), net=dict(sizes=[8, 12, 3], seed=1, **SOFTMAX),
               fit=dict(epochs=4, batch_size=16, learning_rate=0.5), fail=dict(kind=kind, rank=1, epoch=2))
    if kind == "features":
        job["shard_rows"] = [list(range(0, 100)), list(range(100, 203))]
    code, output = launch(mpi[1], folder, [job])
    assert code != 0, output[-4000:]
    errors = [result(folder, kind, rank)["error"] for rank in range(RANKS)]
    assert errors[0] == errors[1], errors                 # both ranks raised, with one message
    assert errors[0]["type"] == expected[0]
    assert errors[0]["message"].startswith(expected[1]), errors[0]["message"]
    if kind == "features":
        assert "features" in errors[0]["message"]
