"""Data-parallel training over MPI: ``fastbp.distributed.fit``.

Every rank (process) holds a copy of the network. Each step of training, every
rank computes the sample-weighted *sum* of the per-sample gradients of its
rows of the global mini-batch with the compiled kernels, plus the sums of its
sample weights and sample costs; one in-place ``Allreduce`` of one flat buffer
holding all of these adds them up, and every rank then divides by the global
weight sum, adds the L2/L1 terms and applies the same update (the optimizer
codes and state of ``Network.fit``), so all ranks keep identical parameters.
This is the scheme of Horovod and PyTorch's DistributedDataParallel: one
all-reduce of the flat gradient buffer per step. Summing (rather than
averaging per-rank means) keeps uneven batches and sample weights exact.

Run a script that calls ``fit`` under ``mpiexec -n K python script.py``. With
the same seed and global batch size, K ranks end with the weights of one
process (``Network.fit``) up to floating-point summation order.

Data
----
``shard=False`` (default): every rank holds the whole data set. The global
order (the network's generator shuffles, as ``Network.fit`` does) is cut into
mini-batches of ``batch_size``; rank r of K takes the contiguous part
``batch[r*m//K:(r+1)*m//K]`` of each batch of m rows.

``shard=True``: each rank holds different rows (its own file, say), n_r of
them, N = Σ n_r in all. An epoch has S = ⌈N / batch_size⌉ steps; each rank
shuffles its own rows (with a generator seeded from the network's, different
per rank) and contributes positions ⌊s·n_r/S⌋ ≤ i < ⌊(s+1)·n_r/S⌋ of its
order to step s. Global mini-batches thus hold N/S ≤ batch_size rows on average
(±1 per rank), every rank contributes in proportion to its shard, and every
row is used once per epoch. Validation data follow the same mode.

Faults
------
Every collective is reached by every rank: errors are not raised where they
happen but carried to the next collective (a flag inside the step's
all-reduced buffer, or a status exchange after set-up and after each epoch),
and then every rank raises the same exception with the same message, naming
the rank that failed. Divergence (a NaN or infinite cost or parameter) raises
``fastbp.NumericalError`` on every rank, with parameters and optimizer state
restored to the start of the epoch; other errors during an epoch's steps
restore them too. Ctrl-C on any rank stops every rank after the current step.
A rank that dies outright (killed, segfault) is beyond this: run scripts as
``mpiexec -n K python -m mpi4py script.py`` so that an error *outside* ``fit``
aborts all ranks instead of leaving them waiting.

History
-------
Every rank returns the same records: the costs and accuracies are reduced
over ranks, ``time`` is rank 0's, and ``comm_time`` (added here) is rank 0's
seconds inside the step all-reduces, waiting for slower ranks included. A
float32 network reduces its per-step cost and weight sums in float32 too
(one buffer, one all-reduce), so its recorded costs differ from
``Network.fit``'s in the 7th digit.
"""

import math
import os
import signal
import sys
import threading
import time
import warnings
import zlib

import numpy as np
from numba import njit

from . import _validation as v
from . import kernels as K
from ._blas_threads import limited as blas_threads_limited
from ._compile_clock import CompileClock
from ._config import JIT
from .errors import NumericalError
from .history import History
from .kernels import _cache, codes
from .kernels.fpu import flush_subnormals, restore_fp_mode
from .kernels.propagate import accumulate_gradient, count_correct, layer_units, total_sample_weight, work_capacity
from .kernels.update import optimizer_step, regularised_gradient
from .training import Checkpoints, checked_rate, track_early_stopping

__all__ = ["fit", "communicator", "shard_slice", "MPI_INSTALL_HINT"]

MPI_INSTALL_HINT = ('pip install "fastbp[mpi]" (mpi4py and the MPICH wheel, which brings mpiexec), '
                    'or pip install mpi4py built against your cluster\'s MPI')

#: Slots after the gradient in the all-reduced step buffer.
S_COST = 0       # Σ sw·C of the rank's rows
S_WEIGHT = 1     # Σ sw of the rank's rows
S_CORRECT = 2    # correctly classified rows
S_ERROR = 3      # 1 if this rank failed computing its part
S_STOP = 4       # 1 if this rank was interrupted (Ctrl-C)
N_SLOTS = 5

#: Rows per block when evaluating (as Network.evaluate).
EVAL_BLOCK = 256

#: Rows sampled from the data to check that ranks hold the same data (shard=False).
FINGERPRINT_ROWS = 64


def _mpi():
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as error:
        raise ImportError(f"fastbp.distributed needs mpi4py and an MPI library ({error}); install them "
                          f"with {MPI_INSTALL_HINT}") from error
    return MPI


# --------------------------------------------------------------------- kernels
@njit(**JIT)
def local_gradient(theta, layout, acts, leak, cost, X, Y, sw, labels, rows, ident, work, blas, buf,
                   mask, keep):
    """buf[:n] = Σ_i sw[r_i] ∇C_{x_i} over the rows r_i (not divided by anything),
    buf[n + S_COST] = Σ sw·C, buf[n + S_WEIGHT] = Σ sw, buf[n + S_CORRECT] =
    correctly classified rows (0 without labels); n = len(theta)."""
    saved_mode = flush_subnormals()
    n = theta.shape[0]
    grad = buf[:n]
    grad[:] = 0
    weight = total_sample_weight(sw, rows)
    weighted_cost = 0.0
    correct = 0
    if rows.shape[0] > 0:
        weighted_cost = accumulate_gradient(theta, layout, acts, leak, cost, X, Y, sw, rows, ident,
                                            theta.dtype.type(1.0), work, blas, grad, mask, keep)
        if labels.shape[0] > 0:
            cap = work_capacity(work[0], layout)
            correct = count_correct(layer_units(work[1], layout, layout.shape[0] - 1, cap), labels, rows)
    buf[n + S_COST] = weighted_cost
    buf[n + S_WEIGHT] = weight
    buf[n + S_CORRECT] = correct
    restore_fp_mode(saved_mode)


@njit(**JIT)
def apply_update(theta, layout, buf, inv_weight, l2n, l1n, opt, lr, mu, beta1, beta2, eps, first, second,
                 step):
    """grad = buf[:n]·inv_weight plus the L2/L1 terms, then one step of rule ``opt``
    (update.optimizer_step) on theta."""
    saved_mode = flush_subnormals()
    n = theta.shape[0]
    grad = buf[:n]
    for k in range(n):
        grad[k] *= inv_weight
    regularised_gradient(grad, theta, layout, l2n, l1n)
    optimizer_step(theta, grad, opt, lr, mu, beta1, beta2, eps, first, second, step)
    restore_fp_mode(saved_mode)


_cache.stamp_caches([sys.modules[__name__]])     # recompile when any kernel source changes


# --------------------------------------------------------------------- helpers
def communicator(comm=None):
    """``comm``, or mpi4py's ``MPI.COMM_WORLD`` (an ImportError naming the install
    command if mpi4py or its MPI library is missing). ``.rank`` and ``.size``
    tell a script which rank it is, e.g. to print or save on rank 0 only."""
    return _mpi().COMM_WORLD if comm is None else comm


def shard_slice(n, comm=None):
    """The contiguous part ``slice(r*n//K, (r+1)*n//K)`` of n rows that rank r of K
    holds, e.g. to load a shard: ``X[shard_slice(len(X), comm)]``."""
    comm = communicator(comm)
    n = v.check_int("n", n, minimum=0)
    return slice(comm.rank * n // comm.size, (comm.rank + 1) * n // comm.size)


def _rebuild_error(module, name):
    """The exception class to raise on every rank for a failure elsewhere:
    the original built-in or fastbp class when it can be made from a message."""
    import builtins

    from . import errors
    source = {"builtins": builtins, "fastbp.errors": errors}.get(module)
    cls = getattr(source, name, None) if source is not None else None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            cls("probe")
            return cls
        except Exception:  # a class that cannot be made from a message
            pass
    return None


def _describe(error, where):
    """What other ranks need to raise ``error`` (None: no error)."""
    return None if error is None else (type(error).__module__, type(error).__qualname__, str(error), where)


def _raise_first(infos, size, local_error):
    """Raise, on every rank, the first failure of ``infos`` (one entry per rank)."""
    failed = [(rank, info) for rank, info in enumerate(infos) if info is not None]
    if not failed:
        return
    rank, (module, name, message, where) = failed[0]
    cls = _rebuild_error(module, name)
    others = f" (ranks {', '.join(str(r) for r, _ in failed)} failed; the first is shown)" if len(failed) > 1 else ""
    text = f"rank {rank} of {size} failed {where}: {message}{others}"
    if cls is None:
        cls, text = RuntimeError, f"rank {rank} of {size} failed {where}: {name}: {message}{others}"
    raise cls(text) from local_error


def _agree(comm, error, where):
    """Collective: every rank learns of every rank's error and raises the same one."""
    _raise_first(comm.allgather(_describe(error, where)), comm.size, error)


def _describe_schedule(schedule):
    """What ranks compare of their schedules: its repr, or its class when the repr is object's
    (which holds the object's address, different on every rank)."""
    cls = type(schedule)
    if cls.__repr__ is object.__repr__:
        return f"a {cls.__module__}.{cls.__qualname__} instance"
    return repr(schedule)


def _fingerprint(*arrays):
    """crc32 of up to FINGERPRINT_ROWS evenly spaced rows of each array."""
    n = arrays[0].shape[0]
    rows = np.unique(np.linspace(0, n - 1, min(n, FINGERPRINT_ROWS)).astype(np.int64))
    crc = zlib.crc32(repr([a.shape for a in arrays]).encode())
    for a in arrays:
        if a.shape[0]:
            crc = zlib.crc32(np.ascontiguousarray(a[rows]).tobytes(), crc)
    return crc


def _blas_threads(MPI, comm, threads):
    """BLAS threads per rank: ``threads``, or the cores this rank may use divided
    by the ranks on its node (so K ranks never oversubscribe the cores)."""
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    per_node = local.Get_size()
    local.Free()
    if threads is not None:
        return threads
    total = os.cpu_count() or 1
    visible = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else total
    if visible < total:         # the launcher bound this rank to its own cores
        return max(1, visible)
    return max(1, total // per_node)


class _Interrupt:
    """Ctrl-C sets a flag instead of raising, so a rank never leaves a collective
    half-way; the flag travels in the next all-reduce and every rank stops.
    A second Ctrl-C raises KeyboardInterrupt at once (a way out if another
    rank no longer answers)."""

    def __init__(self):
        self.hit = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _sums(net, data, lo, hi):
    """float64 [Σ sw·C, Σ sw, correct, rows] of rows lo..hi-1 of validated data."""
    X, Y, labels, sw = data
    count = hi - lo
    if count <= 0:
        return [0.0, 0.0, 0.0, 0.0]
    work, ident, blas = net._work(min(count, EVAL_BLOCK))
    weighted_cost, total_weight, correct = K.evaluate(
        net._theta, net._layout, net._acts, net._leak, net._cost, X, Y, sw, labels,
        np.arange(lo, hi, dtype=np.int64), ident, work, blas)
    return [weighted_cost, total_weight, float(correct), float(count)]


# ------------------------------------------------------------------------- fit
def fit(net, X, y, comm=None, epochs=30, batch_size=10, learning_rate=3.0, l2=0.0, l1=0.0, dropout=0.0,
        optimizer="sgd", schedule="constant", sample_weight=None, validation_data=None, validation_fraction=None,
        evaluate_training=False, early_stopping=None, shuffle=True, shard=False, callbacks=(),
        verbose=False, checkpoint=None, checkpoint_every=1, threads=None):
    """Train ``net`` by data-parallel backpropagation over the MPI communicator
    ``comm`` (default ``MPI.COMM_WORLD``); call it on every rank with the same
    arguments. Returns the ``History`` of this call, the same on every rank.

    X, y, sample_weight: the whole data set on every rank (``shard=False``),
    or this rank's rows (``shard=True``); see the module docstring for how
    global mini-batches are formed. validation_data: (X_val, y_val), whole or
    sharded like X; its metrics are reduced over ranks. validation_fraction:
    split a stratified part off the training data instead, as Network.fit
    does (with shards, off each rank's shard).

    The options mean what they mean in ``Network.fit``: epochs, batch_size
    (the *global* mini-batch), learning_rate, l2, l1, dropout, optimizer
    (``"sgd"``, ``"momentum"``, ``"nesterov"``, ``"adam"`` or a
    ``fastbp.optimizers.SGD``/``Adam``; full-batch L-BFGS/CG are not
    distributed), schedule, evaluate_training, early_stopping, shuffle,
    callbacks (``f(epoch, logs)`` on every rank; training stops when one
    returns True on any rank), checkpoint/checkpoint_every (written by rank
    0 only). verbose: rank 0 prints one line per epoch. threads: BLAS
    threads per rank; default the rank's cores divided by the ranks on its
    node.

    At the start, rank 0's parameters, random generator, optimizer state and
    epoch records are broadcast to all ranks. Optimizer state stays on the
    network, so later ``fit`` calls (distributed or not) continue it. With
    shard=False and the same seed and batch size, the result equals
    ``net.fit(X, y, ...)`` in one process up to summation order.

    Errors on any rank are raised on every rank with the same message (see
    the module docstring); on divergence every rank raises
    ``fastbp.NumericalError`` with parameters from the end of the last
    completed epoch.
    """
    MPI = _mpi()
    if comm is None:
        comm = MPI.COMM_WORLD
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError(f"comm must be an mpi4py intracommunicator such as MPI.COMM_WORLD; got {comm!r}")
    from .network import Network
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {type(net).__name__}")
    with net._fit_lock, _Interrupt() as interrupt:
        run = _Run(MPI, comm, net, interrupt)
        run.setup(X, y, epochs, batch_size, learning_rate, l2, l1, dropout, optimizer, schedule,
                  sample_weight, validation_data, validation_fraction, evaluate_training, early_stopping, shuffle,
                  shard, callbacks, verbose, checkpoint, checkpoint_every, threads)
        with blas_threads_limited(run.blas_threads), run.compile_clock:
            return run.train()


class _Run:
    """One call of ``fit`` on one rank."""

    def __init__(self, MPI, comm, net, interrupt):
        self.MPI = MPI
        self.comm = comm
        self.rank = comm.rank
        self.size = comm.size
        self.net = net
        self.interrupt = interrupt
        self.history = History()
        self.compile_clock = CompileClock()        # rank 0's seconds are recorded, as "time" is

    # ------------------------------------------------------------------ setup
    def setup(self, X, y, epochs, batch_size, learning_rate, l2, l1, dropout, optimizer, schedule,
              sample_weight, validation_data, validation_fraction, evaluate_training, early_stopping, shuffle,
              shard, callbacks, verbose, checkpoint, checkpoint_every, threads):
        """Validate locally, agree across ranks, then broadcast rank 0's state."""
        from .training import check_fit_arguments, check_monitors, recorded_metrics
        net, comm = self.net, self.comm
        error, items = None, {}
        try:
            (self.epochs, batch_size, self.lr0, self.l2, self.l1, self.dropout, self.optimizer, self.schedule,
             self.validation_fraction, self.early_stopping, self.callbacks) = check_fit_arguments(
                epochs, batch_size, learning_rate, l2, l1, dropout, optimizer, schedule, validation_fraction,
                early_stopping, callbacks)
            if self.optimizer.full_batch:
                raise ValueError(f"distributed training needs a stochastic optimizer ('sgd', 'momentum', "
                                 f"'nesterov', 'adam'); got {self.optimizer!r}")
            for name, flag in (("shard", shard), ("shuffle", shuffle), ("evaluate_training", evaluate_training),
                               ("verbose", verbose)):
                if not isinstance(flag, (bool, np.bool_)):
                    raise TypeError(f"{name} must be True or False; got {flag!r}")
            self.shard, self.shuffle = bool(shard), bool(shuffle)
            self.evaluate_training, self.verbose = bool(evaluate_training), bool(verbose)
            self.checkpoints = Checkpoints(None if checkpoint is None else
                                           v.check_writable_path("checkpoint", checkpoint),
                                           v.check_int("checkpoint_every", checkpoint_every, minimum=1))
            if threads is not None:
                threads = v.check_int("threads", threads, minimum=1)
            self.data = net._data(X, y, sample_weight)
            self.validation = None
            if validation_data is not None:
                if self.validation_fraction is not None:
                    raise ValueError("give validation_data or validation_fraction, not both")
                Xv, yv = v.check_validation_data(validation_data)
                self.validation = net._data(Xv, yv)
            X_, Y_, labels, sw = self.data
            # validation_fraction splits the training data (below): its targets are of the same kind.
            validation_labels = (self.validation[2].shape[0] > 0 if self.validation is not None
                                 else labels.shape[0] > 0 if self.validation_fraction is not None else None)
            check_monitors(self.early_stopping, self.schedule, recorded_metrics(
                False, labels.shape[0] > 0, self.evaluate_training, validation_labels, extra=("comm_time",)))
            items = {
                "network": repr(net), "leaky_slope": net.leaky_slope, "epochs": self.epochs,
                "batch_size": batch_size, "learning_rate": self.lr0, "l2": self.l2, "l1": self.l1,
                "dropout": self.dropout, "optimizer": self.optimizer, "schedule": _describe_schedule(self.schedule),
                "early_stopping": self.early_stopping, "shuffle": self.shuffle, "shard": self.shard,
                "evaluate_training": self.evaluate_training, "checkpoint_every": self.checkpoints.every,
                "kind of targets": "class labels" if labels.shape[0] else "real-valued targets",
                "validation_data": "given" if self.validation is not None else "None",
                "validation_fraction": self.validation_fraction,
            }
            if not self.shard:
                items["data (shape and sampled rows; use shard=True for different rows per rank)"] = (
                    X_.shape, _fingerprint(X_, Y_, sw, labels))
                if self.validation is not None:
                    items["validation data (shape and sampled rows)"] = (
                        self.validation[0].shape, _fingerprint(*self.validation))
        except Exception as caught:  # carried to every rank by _agree
            error = caught
        gathered = comm.allgather((_describe(error, "while checking its arguments and data"), items))
        _raise_first([g[0] for g in gathered], self.size, error)
        reference = gathered[0][1]
        for rank, (_, theirs) in enumerate(gathered):
            for name, value in reference.items():
                if theirs.get(name) != value:
                    raise ValueError(f"every rank must call fastbp.distributed.fit with the same {name}: "
                                     f"rank 0 has {value!r}, rank {rank} has {theirs.get(name)!r}")
        if self.shard:
            self._share_weight_scale(sample_weight)
        self.blas_threads = _blas_threads(self.MPI, comm, threads)

        # Rank 0's parameters, generator, optimizer state and epoch records everywhere.
        comm.Bcast(net._theta, root=0)
        state = net._optimizer_state
        rng, records, best, split_seed, state, progress = comm.bcast(
            (net._rng, net._records, net._best_epoch, net._split_seed, state, net._stopping_progress)
            if self.rank == 0 else None, root=0)
        if self.rank != 0:
            net._rng, net._records, net._best_epoch, net._split_seed, net._optimizer_state = (
                rng, [dict(r) for r in records], best, split_seed, state)
            net._stopping_progress = progress

        if self.validation_fraction is not None:
            # As Network.fit: from the network's split seed, the same on every rank (with
            # shards, each rank splits its own rows with a generator of its own).
            error = None
            try:
                from .training import split_validation
                seed = net._validation_split_seed()
                rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(self.rank,)) if self.shard
                                            else seed)
                self.data, self.validation = split_validation(*self.data, self.validation_fraction, rng)
            except Exception as caught:  # carried to every rank
                error = caught
            _agree(comm, error, "splitting off its validation part")
        self.counts = comm.allgather(self.data[0].shape[0])
        self.n = sum(self.counts) if self.shard else self.counts[0]
        self.batch_size = min(batch_size, self.n)

    def _share_weight_scale(self, sample_weight):
        """Collective: every shard's weights divided by the same power of two, the one that
        brings the largest weight on any rank into (0.5, 1] (see _validation.as_sample_weight):
        the ranks' weighted sums are added together."""
        local = 0 if sample_weight is None else v.weight_exponent(np.asarray(sample_weight, dtype=np.float64))
        common = max(self.comm.allgather(local))
        error = None
        try:
            X_, Y_, labels, _ = self.data
            self.data = X_, Y_, labels, v.as_sample_weight(sample_weight, X_.shape[0], self.net.dtype,
                                                           exponent=common)
        except Exception as caught:  # carried to every rank
            error = caught
        _agree(self.comm, error, "scaling its sample weights to the other ranks'")

    # -------------------------------------------------------------- the steps
    def _optimizer_state(self):
        from .training import OptimizerState
        net = self.net
        state = net._optimizer_state
        if state is None or state.optimizer != self.optimizer:
            state = OptimizerState(self.optimizer, net.n_parameters, net.dtype)
        return state

    def _epoch_plan(self, rng):
        """(order, step bounds (lo, hi) into it, dropout mask) for this rank's part of an epoch."""
        net = self.net
        n_local = self.data[0].shape[0]
        hidden = net._n_units - net.n_outputs
        if not self.shard:
            order = rng.permutation(n_local) if self.shuffle else np.arange(n_local, dtype=np.int64)
            bs, r, k = self.batch_size, self.rank, self.size
            starts = np.arange(0, self.n, bs)
            m = np.minimum(bs, self.n - starts)
            bounds = np.stack([starts + r * m // k, starts + (r + 1) * m // k], axis=1)
        else:
            steps = -(-self.n // self.batch_size)
            s = np.arange(steps + 1)
            edges = s * n_local // steps
            bounds = np.stack([edges[:-1], edges[1:]], axis=1)
            order = rng.permutation(n_local) if self.shuffle else np.arange(n_local, dtype=np.int64)
        if self.dropout == 0.0 or hidden == 0:
            mask = K.NO_MASK
        else:
            mask = (rng.random((n_local, hidden), dtype=np.float32) >= self.dropout).view(np.uint8)
        return order.astype(np.int64, copy=False), bounds, mask

    def _step_rows(self):
        """Rows of every rank together in each step of an epoch (as _epoch_plan cuts them)."""
        if not self.shard:
            starts = np.arange(0, self.n, self.batch_size)
            return np.minimum(self.batch_size, self.n - starts)
        steps = -(-self.n // self.batch_size)
        s = np.arange(steps + 1)
        return sum(np.diff(s * count // steps) for count in self.counts)

    def _rank_rng(self):
        """The generator to draw from: the network's own (the same on every rank) for
        whole data, as Network.fit; with shards, one per rank seeded from it (None
        when an epoch draws nothing)."""
        if not self.shard:
            return self.net._rng
        if not self.shuffle and self.dropout == 0.0:
            return None
        seed = int(self.net._rng.integers(0, 2 ** 63))
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(self.rank,)))

    def _restore(self, saved_theta, state, saved_state, previous_state):
        """Back to the start of the epoch (after a failure or divergence)."""
        self.net._theta[...] = saved_theta
        state.restore(saved_state)
        if not len(self.history):
            self.net._optimizer_state = previous_state     # a new optimizer's state is dropped

    def train(self):
        net, comm, MPI = self.net, self.comm, self.MPI
        previous_state = net._optimizer_state
        state = self._optimizer_state()
        opt = self.optimizer
        dt = net.dtype.type
        mu = opt.momentum if opt.code != codes.ADAM else 0.0
        beta1, beta2, eps = (opt.beta1, opt.beta2, opt.epsilon) if opt.code == codes.ADAM else (0.0, 0.0, 0.0)
        l2n, l1n, keep = dt(self.l2 / self.n), dt(self.l1 / self.n), dt(1.0 - self.dropout)
        X, Y, labels, sw = self.data
        n_local = X.shape[0]
        if self.shard:
            capacity = max(1, -(-n_local // -(-self.n // self.batch_size)))
        else:
            capacity = max(1, -(-self.batch_size // self.size))
        work, ident, blas = net._work(capacity)
        n_params = net.n_parameters
        buf = np.zeros(n_params + N_SLOTS, dtype=net.dtype)
        tracker = track_early_stopping(net, self.early_stopping, self.checkpoints)
        mid_epoch = False       # a Ctrl-C left the parameters between two recorded epochs
        for _ in range(self.epochs):
            if tracker.exhausted():     # resumed from the checkpoint of the epoch it stopped on
                break
            epoch = len(net._records) + 1
            lr = checked_rate(self.schedule, self.schedule.rate(epoch, self.lr0, net._records), epoch)
            if lr is None:
                break
            started = time.perf_counter()
            compiled = self.compile_clock.seconds
            comm_time = 0.0
            saved_theta = net._theta.copy()
            saved_state = state.snapshot()
            saved_rng = net._rng.bit_generator.state
            net._optimizer_state = state
            order, bounds, mask = self._epoch_plan(self._rank_rng())
            weighted_cost = total_weight = correct = 0.0
            rows_trained = 0
            step_rows = self._step_rows().tolist()
            failure = None
            stop = False
            lr_dt = dt(lr)
            for step, (lo, hi) in enumerate(bounds.tolist()):
                rows = order[lo:hi]
                try:
                    if failure is None:
                        local_gradient(net._theta, net._layout, net._acts, net._leak, net._cost, X, Y, sw, labels,
                                       rows, ident, work, blas, buf, mask, keep)
                except Exception as caught:  # carried to every rank in the buffer
                    failure = caught
                buf[n_params + S_ERROR] = 1.0 if failure is not None else 0.0
                buf[n_params + S_STOP] = 1.0 if self.interrupt.hit else 0.0
                t0 = time.perf_counter()
                comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
                comm_time += time.perf_counter() - t0
                if buf[n_params + S_ERROR] != 0 or buf[n_params + S_STOP] != 0:
                    stop = True
                    break
                step_weight = float(buf[n_params + S_WEIGHT])
                if step_weight == 0.0:          # a batch of zero weight is skipped, as in Network.fit
                    continue
                c = float(buf[n_params + S_COST])
                weighted_cost += c
                total_weight += step_weight
                correct += float(buf[n_params + S_CORRECT])
                rows_trained += step_rows[step]     # (a skipped step's rows do not count, as in Network.fit)
                apply_update(net._theta, net._layout, buf, dt(1.0 / step_weight), l2n, l1n, opt.code, lr_dt,
                             dt(mu), dt(beta1), dt(beta2), dt(eps), state.first, state.second, state.step)
                if not math.isfinite(c):
                    break
            if stop and buf[n_params + S_ERROR] != 0:
                self._restore(saved_theta, state, saved_state, previous_state)
                _agree(comm, failure, f"in epoch {epoch}")
            if stop:        # Ctrl-C on some rank: every rank stops after the same step
                self.history.interrupted = mid_epoch = True
                net._best_epoch = None
                net._stopping_progress = None       # the parameters have left its last epoch's
                warnings.warn(f"training interrupted during epoch {epoch} (Ctrl-C on a rank); every rank keeps "
                              f"the parameters after the last completed mini-batch", RuntimeWarning, stacklevel=3)
                break
            cost = (weighted_cost / total_weight + net._penalty(self.l2, self.l1, self.n) if total_weight
                    else weighted_cost)
            if not (math.isfinite(cost) and np.isfinite(net._theta).all()):
                # Every rank sees the same reduced cost and holds the same parameters.
                self._restore(saved_theta, state, saved_state, previous_state)
                raise NumericalError(
                    f"training diverged in epoch {epoch}: the cost or the parameters became "
                    f"{'NaN' if math.isnan(cost) else 'infinite'} with learning_rate={lr:g}. "
                    f"The network keeps its parameters from the end of epoch {epoch - 1}; "
                    f"try a smaller learning rate.")
            record = {"epoch": epoch, "cost": cost}
            if labels.shape[0]:
                record["accuracy"] = correct / max(1, rows_trained)
            try:
                elapsed, rank0_comm_time, compile_time = self._evaluations(record, epoch, started, comm_time,
                                                                           self.compile_clock.seconds - compiled)
            except Exception:
                # The epoch cannot be recorded, so it must not stay applied (as in Network.fit).
                self._restore(saved_theta, state, saved_state, previous_state)
                raise
            record["learning_rate"] = lr
            record["time"], record["comm_time"], record["compile_time"] = elapsed, rank0_comm_time, compile_time
            # the same decision on every rank: the records agree
            patience_ran_out = tracker.update(record, net._theta, epoch)
            if self._end_of_epoch(record, epoch, state) or patience_ran_out:
                break
        if mid_epoch:       # a checkpoint only ever holds whole epochs
            tracker.restore(net, self.history)
            self._write_on_rank_0(lambda: self.checkpoints.whole_epoch(net, True, saved_theta, state, saved_state,
                                                                       saved_rng))
        else:
            self.checkpoints.finish(net, self.history, write=self._write_on_rank_0)
        return self.history

    def _write_on_rank_0(self, write):
        """``write()`` on rank 0, when the fit has a checkpoint and recorded epochs; its error on every rank."""
        if self.checkpoints.path is None or not len(self.history):      # the same on every rank
            return
        error = None
        if self.rank == 0:
            try:
                write()
            except Exception as caught:  # carried to every rank
                error = caught
        _agree(self.comm, error, "writing the checkpoint")

    # ---------------------------------------------------------- epoch's end
    def _evaluations(self, record, epoch, started, comm_time, compile_time):
        """train_cost/accuracy and val_cost/accuracy from sums reduced over ranks,
        with rank 0's timings, so that every rank records the same numbers.
        Returns rank 0's (epoch seconds, all-reduce seconds, compiling seconds)."""
        parts = []
        if self.evaluate_training:
            parts.append(("train", self.data))
        if self.validation is not None:
            parts.append(("val", self.validation))
        sums = np.zeros(4 * len(parts) + 4)
        error = None
        try:
            for i, (_, data) in enumerate(parts):
                n_local = data[0].shape[0]
                lo, hi = (0, n_local) if self.shard else (self.rank * n_local // self.size,
                                                          (self.rank + 1) * n_local // self.size)
                sums[4 * i:4 * i + 4] = _sums(self.net, data, lo, hi)
        except Exception as caught:  # carried to every rank
            error = caught
            sums[-4] = 1.0
        if self.rank == 0:
            sums[-3], sums[-2], sums[-1] = time.perf_counter() - started, comm_time, compile_time
        self.comm.Allreduce(self.MPI.IN_PLACE, sums, op=self.MPI.SUM)
        if sums[-4]:
            _agree(self.comm, error, f"evaluating epoch {epoch}")
        for i, (prefix, data) in enumerate(parts):
            weighted_cost, total_weight, correct, count = sums[4 * i:4 * i + 4].tolist()
            record[f"{prefix}_cost"] = weighted_cost / total_weight + self.net._penalty(self.l2, self.l1, self.n)
            if data[2].shape[0]:
                record[f"{prefix}_accuracy"] = correct / count
            if not math.isfinite(record[f"{prefix}_cost"]):
                raise NumericalError(f"the network's {prefix} cost overflowed to NaN or infinity after epoch "
                                     f"{epoch}; scale X to a moderate range such as [0, 1]")
        return float(sums[-3]), float(sums[-2]), float(sums[-1])

    def _end_of_epoch(self, record, epoch, state):
        """Record; callbacks (every rank) and checkpoint (rank 0); then one status
        exchange: errors, stop requests, Ctrl-C and a parameter checksum.
        Returns True when training should stop."""
        net, comm = self.net, self.comm
        self.history.append(record)
        net._add_record(record)
        if self.verbose and self.rank == 0:
            shown = ", ".join(f"{k.replace('_', ' ')} {record[k]:.4f}" for k in
                              ("cost", "accuracy", "train_cost", "train_accuracy", "val_cost", "val_accuracy")
                              if k in record)
            print(f"epoch {epoch}: {shown}, {record['time']:.2f} s ({record['comm_time']:.2f} s in all-reduce) "
                  f"on {self.size} rank{'s' if self.size > 1 else ''}", flush=True)
        error, where, stop = None, "", False
        try:
            where = f"in a callback after epoch {epoch}"
            from .training import callbacks_stop
            stop = callbacks_stop(self.callbacks, epoch, record)
            if self.rank == 0:
                where = f"writing the checkpoint after epoch {epoch}"
                self.checkpoints.after_epoch(net, epoch)        # what the callbacks left
        except Exception as caught:  # carried to every rank
            error = caught
        crc = zlib.crc32(net._theta.view(np.uint8))
        status = comm.allgather((_describe(error, where), bool(stop), self.interrupt.hit, crc))
        _raise_first([s[0] for s in status], self.size, error)
        if len({s[3] for s in status}) > 1:
            # MPI does not promise bitwise-identical all-reduce results on every
            # rank; should they ever differ, rank 0's parameters and state win.
            comm.Bcast(net._theta, root=0)
            for array in (state.first, state.second, state.step):
                comm.Bcast(array, root=0)
        if any(s[2] for s in status):
            self.history.interrupted = True
            warnings.warn(f"training interrupted after epoch {epoch} (Ctrl-C on a rank)", RuntimeWarning,
                          stacklevel=4)
        return any(s[1] or s[2] for s in status)
