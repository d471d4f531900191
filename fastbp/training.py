"""The loop behind ``Network.fit``: epochs, schedules, monitoring, stopping.

Everything per mini-batch happens in the compiled ``train_epoch``; this
module runs once per epoch (or per chunk of an epoch, so that Ctrl-C is
answered within a fraction of a second) and keeps the network's state
consistent: an epoch that fails leaves parameters, optimizer state and
history as they were after the last completed one.
"""

import math
import time
import warnings

import numpy as np

from . import _aligned
from . import _validation as v
from . import kernels as K
from . import optimizers as optim
from . import schedules as sched
from ._blas_threads import limited as blas_threads_limited
from ._compile_clock import CompileClock
from ._dispatch import default_blas_threads
from .datasets import train_test_split
from .errors import NumericalError
from .history import History, copy_record
from .kernels import codes
from .stopping import BestTracker, EarlyStopping

#: Samples per compiled call within an epoch: the kernel returns this often,
#: so an interrupt lands between mini-batches within milliseconds, while the
#: per-call overhead (tens of microseconds) stays negligible.
CHUNK_SAMPLES = 8192

#: Samples the per-epoch diagnostics are computed on.
DIAGNOSTIC_SAMPLES = 1000

#: Shards each mini-batch is split into with ``parallel=True``: fixed, not
#: the thread count, so results do not depend on how many threads run them.
PARALLEL_SHARDS = 4


class OptimizerState:
    """Velocity / moments / step count of a stochastic optimizer, in the
    parameters' flat layout, kept on the network between fits."""

    def __init__(self, optimizer, n_parameters, dtype):
        self.optimizer = optimizer
        self.first = _aligned.zeros(n_parameters if optimizer.code != codes.SGD else 0, dtype)
        self.second = _aligned.zeros(n_parameters if optimizer.code == codes.ADAM else 0, dtype)
        self.step = np.zeros(1, dtype=np.int64)

    def snapshot(self):
        return self.first.copy(), self.second.copy(), self.step.copy()

    def restore(self, saved):
        self.first[...], self.second[...], self.step[...] = saved


#: Row multiples of the parallel tasks: the first layer's also computes the
#: next mini-batch's forward products, whose register block is 3 outputs
#: wide, and every layer's weight gradient is 4 wide (kernels/dense.py).
TASK_ROWS_FIRST_LAYER = 12
TASK_ROWS = 4


def parallel_tasks(layout, threads=1, n_tasks=16):
    """(n_tasks', 3) int64 rows (layer, first unit, end unit): the parallel
    update split into about ``n_tasks`` blocks of rows of the weight matrices
    of equal cost (rows x inputs), in multiples of TASK_ROWS_FIRST_LAYER rows
    in the first layer and TASK_ROWS in the others, so every task runs whole
    register blocks.

    The blocks depend on the layout alone, and each parameter's gradient is
    summed in the same order whichever task owns it, so results never
    depend on the thread count. Only the order does: prange hands each of
    ``threads`` threads an equal, contiguous share of the iterations. The
    first layer's blocks are cut into ``threads`` contiguous runs (each cut
    at the block boundary nearest its share of the whole cost), so that each
    thread's columns of z¹ and of the first-layer biases lie together; the
    other layers' blocks are then dealt largest first to the least-loaded
    thread, and each thread's list is padded with empty tasks to equal
    lengths. With the first layer's blocks dealt the same way as the others
    the two threads' 12-column blocks alternated, and both wrote to most
    cache lines of z¹: [784, 100, 10] 2-thread epochs, alternating in one
    process, ran 1.07x (float32, medians of 25) and 1.11x (float64, 15)
    faster with contiguous runs, with bit-identical weights."""
    costs = [int(layout[l, codes.N_OUT] * layout[l, codes.N_IN]) for l in range(layout.shape[0])]
    total = sum(costs)
    per_task = max(1, total // n_tasks)
    blocks = []
    for layer in range(layout.shape[0]):
        n_out, n_in = int(layout[layer, codes.N_OUT]), int(layout[layer, codes.N_IN])
        unit = TASK_ROWS_FIRST_LAYER if layer == 0 else TASK_ROWS
        rows = max(unit, -(-per_task // n_in) // unit * unit)
        blocks += [(layer, j, min(j + rows, n_out)) for j in range(0, n_out, rows)]

    def cost(block):
        layer, j0, j1 = block
        return (j1 - j0) * int(layout[layer, codes.N_IN])

    threads = max(1, int(threads))
    first = [block for block in blocks if block[0] == 0]
    ends = np.cumsum([cost(block) for block in first])
    cuts = [0]
    for k in range(1, threads):
        target = total * k / threads
        after = int(np.searchsorted(ends, target))   # the first block ending at or past the target
        before = ends[after - 1] if after else 0
        nearest = after + 1 if after < len(first) and ends[after] - target <= target - before else after
        cuts.append(max(cuts[-1], nearest))
    cuts.append(len(first))
    shares = [first[a:b] for a, b in zip(cuts, cuts[1:])]
    loads = [sum(cost(block) for block in share) for share in shares]
    for block in sorted(blocks[len(first):], key=lambda b: -cost(b)):
        k = min(range(threads), key=lambda k: loads[k])
        shares[k].append(block)
        loads[k] += cost(block)
    per_thread = max(len(share) for share in shares)
    last = layout.shape[0] - 1
    empty = (last, int(layout[last, codes.N_OUT]), int(layout[last, codes.N_OUT]))
    tasks = [task for share in shares for task in share + [empty] * (per_thread - len(share))]
    return np.array(tasks, dtype=np.int64)


#: Largest relative error of the L2 decay that plain SGD may apply fused (below).
FUSED_DECAY_RTOL = 1e-3


def fuses_sgd_step(hyper, dtype):
    """Whether an epoch of plain SGD with the float64 hyperparameter vector ``hyper`` (codes.H_*) may
    fuse its step into backpropagation (kernels/propagate.py ``sgd_backward``), for a network of ``dtype``.

    The fused step is W ← keep·W − η·∂C/∂W with keep = 1 − ηλ2/n rounded to ``dtype``: in float32 a
    multiple of 2⁻²⁴, so a decay ηλ2/n below about 3e-8 vanished and one just above it doubled, on every
    step alike. It is fused only while that rounding moves the decay by at most FUSED_DECAY_RTOL, and
    never with L1, whose shrink would round away against the weights likewise; otherwise the step goes
    through the gradient buffer, W − η(∂C/∂W + (λ2/n)·W + (λ1/n)·sign W), rounded once, as PyTorch's
    ``weight_decay`` does (about 1.6x the epoch time at W1's shapes, so not always).
    """
    if hyper[codes.H_L1] != 0.0:
        return False
    dt = np.dtype(dtype).type
    lr, l2n = dt(hyper[codes.H_LR]), dt(hyper[codes.H_L2])
    decay = float(lr) * float(l2n)                  # as the kernel means it
    applied = 1.0 - float(dt(1.0) - lr * l2n)       # as its rounded keep applies it
    return abs(applied - decay) <= FUSED_DECAY_RTOL * decay


def check_threads(threads, parallel):
    """``threads``: None or 1..NUMBA_NUM_THREADS (numba's pool is sized at import)."""
    import numba
    parallel = v.check_bool("parallel", parallel)
    if threads is None:
        return None
    most = numba.config.NUMBA_NUM_THREADS
    return v.check_int("threads", threads, minimum=1, maximum=most if parallel else None)


def check_fit_arguments(epochs, batch_size, learning_rate, l2, l1, dropout, optimizer, schedule,
                        validation_fraction, early_stopping, callbacks):
    """Validate and normalise fit's hyperparameters (before any state changes)."""
    epochs = v.check_int("epochs", epochs, minimum=0)
    batch_size = v.check_int("batch_size", batch_size, minimum=1)
    learning_rate = v.check_float("learning_rate", learning_rate, low=0.0, low_open=True)
    l2 = v.check_float("l2", l2, low=0.0)
    l1 = v.check_float("l1", l1, low=0.0)
    dropout = v.check_float("dropout", dropout, 0.0, 1.0, high_open=True)
    optimizer = optim.get(optimizer)
    schedule = sched.get(schedule)
    if validation_fraction is not None:
        validation_fraction = v.check_float("validation_fraction", validation_fraction, 0.0, 1.0,
                                            low_open=True, high_open=True)
    if early_stopping is True:
        early_stopping = EarlyStopping()
    elif early_stopping in (None, False):
        early_stopping = None
    elif not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping must be True, False, None or a fastbp.EarlyStopping; "
                        f"got {early_stopping!r}")
    if callbacks is None:
        callbacks = []
    elif callable(callbacks):
        callbacks = [callbacks]
    else:
        try:
            callbacks = list(callbacks)
        except TypeError:
            raise TypeError(f"callbacks must be a callable f(epoch, logs), a list of them or None; "
                            f"got {callbacks!r}") from None
    for f in callbacks:
        if not callable(f):
            raise TypeError(f"callbacks must be callables f(epoch, logs); got {f!r}")
    if dropout and optimizer.full_batch:
        raise ValueError("dropout needs a stochastic optimizer ('sgd', 'momentum', 'nesterov', 'adam')")
    if optimizer.full_batch and not isinstance(schedule, sched.Constant):
        raise ValueError(f"schedule {schedule!r} needs a stochastic optimizer ('sgd', 'momentum', 'nesterov', "
                         f"'adam'): {optimizer.method} takes its own steps by line search, with no learning rate")
    return (epochs, batch_size, learning_rate, l2, l1, dropout, optimizer, schedule,
            validation_fraction, early_stopping, callbacks)


class _NoBar:
    """What ``fit`` calls on its progress bar, doing nothing (``verbose=False``)."""

    def set_description_str(self, *args, **kwargs):
        pass

    update = set_postfix = close = set_description_str


def _progress_bar(epochs, verbose):
    """A tqdm bar over the epochs when verbose; tqdm (with the asyncio its
    ``auto`` module imports, 0.04 s) is imported only then."""
    if not verbose:
        return _NoBar()
    from tqdm.auto import tqdm
    return tqdm(total=epochs, desc="fit", unit="epoch", leave=False)


def callbacks_stop(callbacks, epoch, record):
    """Call every ``f(epoch, logs)`` (each with its own copy of the epoch's record);
    True when one returned True. None and False go on; any other return value is
    a TypeError naming the callback (a truthy "no" or dict must not stop
    training by accident)."""
    stop = False
    for f in callbacks:
        said = f(epoch, copy_record(record))
        if said is not None and not isinstance(said, (bool, np.bool_)):
            raise TypeError(f"callback {f!r} returned {said!r} after epoch {epoch}: return True to stop "
                            f"training, or None or False to go on")
        stop = stop or bool(said)
    return stop


def split_validation(X, Y, labels, sw, fraction, rng):
    """Split a stratified (by label, when there are labels) validation part off."""
    n = X.shape[0]
    if n < 2:       # (train_test_split keeps a row in each part of anything larger)
        raise ValueError(f"validation_fraction={fraction} needs at least 2 samples to split a validation "
                         f"part off; got {n}")
    keys = labels if labels.shape[0] else np.zeros(n, dtype=np.int64)
    index = np.arange(n)
    train, _, held, _ = train_test_split(index, keys, fraction, seed=rng, stratify=bool(labels.shape[0]))
    for name, idx in (("training", train), ("validation", held)):
        if not (sw[idx] > 0).any():
            raise ValueError(f"sample_weight is zero on all {len(idx)} rows of the {name} part that "
                             f"validation_fraction={fraction} leaves; give weight to rows of both parts")
    def part(idx):
        return X[idx], Y[idx], labels[idx] if labels.shape[0] else labels, sw[idx]
    return part(np.sort(train)), part(np.sort(held))


class NonFiniteX(ValueError):
    """X held NaN or infinity, found while training read it (the parameters
    and optimizer state are restored; Network.fit restores its generator
    too and raises a plain ValueError)."""


def recorded_metrics(full_batch, labels, evaluate_training, validation_labels, extra=()):
    """The scalar metrics every epoch's record of a fit will hold: ``labels`` whether the training
    targets are class labels; ``validation_labels`` None without validation data, else whether its
    targets are; ``extra`` names more (distributed.fit's ``comm_time``)."""
    keys = {"epoch", "cost", "time", "compile_time", *extra} | (set() if full_batch else {"learning_rate"})
    if labels:
        keys.add("accuracy")
    if evaluate_training:
        keys |= {"train_cost", "train_accuracy"} if labels else {"train_cost"}
    if validation_labels is not None:
        keys |= {"val_cost", "val_accuracy"} if validation_labels else {"val_cost"}
    return keys


def check_monitors(early_stopping, schedule, recorded):
    """Early stopping's and the schedule's monitors must be among the ``recorded`` metrics: found
    out before the first epoch, not after it has changed the network."""
    monitors = []
    if early_stopping is not None:
        monitors.append(("early stopping", early_stopping.monitor))
    if isinstance(getattr(schedule, "monitor", None), str):
        monitors.append((f"schedule {type(schedule).__name__}", schedule.monitor))
    for what, monitor in monitors:
        if monitor in recorded:
            continue
        if monitor.endswith("accuracy") and monitor.replace("accuracy", "cost") in recorded:
            hint = "needs class labels (accuracies are recorded for classification)"
        elif monitor.startswith("val_") and "val_cost" not in recorded:
            hint = "needs validation_data or validation_fraction"
        elif monitor.startswith("train_") and "train_cost" not in recorded:
            hint = "needs evaluate_training=True"
        else:
            hint = "is not a metric fastbp records"
        raise ValueError(f"{what} on {monitor!r} {hint}; this fit records {sorted(recorded)}")


def checked_rate(schedule, lr, epoch):
    """A schedule's rate for ``epoch`` as a Python float (a numpy scalar would not serialise into the
    saved records), or None to stop; anything but a finite number > 0 is a ValueError."""
    if lr is None:
        return None
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"schedule {schedule!r} returned {lr!r} for epoch {epoch}: a learning "
                         f"rate must be a finite number > 0 (or None to stop training)")
    return float(lr)


class Checkpoints:
    """A fit's checkpoint file (``path`` None: none): written after every ``every``-th epoch and at
    the fit's end, unless the last write already holds the network as it ends (no epoch recorded
    since, no best epoch put back, the same parameters): then the file is written once, not twice.

    Every write before the fit's normal end also holds early stopping's progress (``tracker``,
    set by the fit), so that a fit resumed from the file goes on counting its patience."""

    def __init__(self, path, every):
        self.path, self.every = path, every
        self.tracker = None
        self._written = None        # (epochs recorded, best epoch, parameters, with progress) of the last write

    def _save(self, net, in_progress):
        progress = self.tracker.progress(len(net._records)) if in_progress and self.tracker is not None else None
        before, net._stopping_progress = net._stopping_progress, progress
        try:
            net.save(self.path)
        finally:
            net._stopping_progress = before
        return progress is not None

    def after_epoch(self, net, epoch):
        if self.path is not None and epoch % self.every == 0:
            resumable = self._save(net, in_progress=True)
            self._written = (len(net._records), net._best_epoch, net._theta.copy(), resumable)

    def at_end(self, net, recorded, interrupted=False):
        """The final checkpoint, when the fit ``recorded`` epochs; an ``interrupted`` fit's holds
        early stopping's progress, so call it before the best epoch is put back."""
        if self.path is None or not recorded:
            return
        resumable = interrupted and self.tracker is not None and self.tracker.rule is not None
        if self._written is not None:
            epochs, best_epoch, theta, written_resumable = self._written
            if (epochs == len(net._records) and best_epoch == net._best_epoch and written_resumable == resumable
                    and np.array_equal(theta, net._theta)):
                return
        self._save(net, in_progress=interrupted)

    def finish(self, net, history, write=None):
        """At the end of a fit that did not stop inside an epoch: early stopping's best epoch back,
        and the final checkpoint. After a Ctrl-C that is written first, as the last recorded epoch
        with early stopping's progress (a resume point); otherwise after, as the network ends.
        ``write(f)`` runs each write (``distributed.fit``: on rank 0, its error on every rank)."""
        write = write or (lambda f: f())
        recorded = len(history) > 0
        if history.interrupted:
            write(lambda: self.at_end(net, recorded, interrupted=True))
        self.tracker.restore(net, history)
        if not history.interrupted:
            write(lambda: self.at_end(net, recorded))

    def whole_epoch(self, net, recorded, theta, state, snapshot, rng_state):
        """After a Ctrl-C inside an epoch, when the fit ``recorded`` epochs: write the network as it
        stood after its last whole epoch (parameters ``theta``, optimizer state ``snapshot`` of
        ``state``, generator state ``rng_state``), with early stopping's progress; the network
        itself keeps the parameters it has now. A write that fails is a warning, so that the
        interrupted fit still returns its history."""
        if self.path is None or not recorded:
            return
        now = net._theta.copy(), state.snapshot(), net._rng.bit_generator.state, net._best_epoch
        net._theta[...] = theta
        state.restore(snapshot)
        net._rng.bit_generator.state = rng_state
        net._best_epoch = None          # the last recorded epoch's parameters, not a restored best
        try:
            self._save(net, in_progress=True)
        except Exception as error:
            warnings.warn(f"could not write the checkpoint {self.path!r} after the interruption: {error}",
                          RuntimeWarning, stacklevel=4)
        finally:
            net._theta[...] = now[0]
            state.restore(now[1])
            net._rng.bit_generator.state, net._best_epoch = now[2], now[3]


def track_early_stopping(net, rule, checkpoints):
    """The fit's ``BestTracker`` for ``rule``, also followed by its ``checkpoints``; it goes on from
    the progress a checkpoint of an unfinished fit left on ``net`` when the rule is the same."""
    tracker = BestTracker(rule, len(net._records) + 1)
    progress = net._stopping_progress
    if progress is not None and rule is not None:
        if progress.rule == rule:
            tracker.resume(progress, net._records, net._theta)
        else:
            warnings.warn(f"early stopping starts afresh: the checkpoint's unfinished fit used {progress.rule}, "
                          f"this fit {rule}", RuntimeWarning, stacklevel=4)
    checkpoints.tracker = tracker
    return tracker


class Trainer:
    """One call of ``Network.fit``."""

    def __init__(self, net, data, validation, epochs, batch_size, learning_rate, l2, l1, dropout,
                 optimizer, schedule, early_stopping, evaluate_training, diagnostics, shuffle,
                 verbose, callbacks, checkpoint=None, checkpoint_every=1, threads=None, parallel=False,
                 x_checked=True):
        self.net = net
        self.trained = False        # whether a step may have run: before it, errors are refusals
        self.X, self.Y, self.labels, self.sw = data
        self.validation = validation
        self.n = self.X.shape[0]
        self.epochs = epochs
        self.batch_size = min(batch_size, self.n)
        self._all_weighted = bool((self.sw > 0).all())
        self.lr0 = learning_rate
        self.l2, self.l1, self.dropout = l2, l1, dropout
        self.optimizer = optimizer
        self.schedule = schedule
        self.early_stopping = early_stopping
        self.evaluate_training = evaluate_training
        self.diagnostics = diagnostics
        self.shuffle = shuffle
        self.verbose = verbose
        self.callbacks = callbacks
        self.checkpoints = Checkpoints(checkpoint, checkpoint_every)
        self.threads = threads
        self.parallel = parallel
        # False: X was not scanned for NaN/inf; the epoch kernels stop on one
        # (as on divergence) and _run reports it as bad input.
        self.x_checked = x_checked
        self.history = History()
        # Seconds spent compiling kernels or loading them from numba's cache (first use only),
        # recorded per epoch as "compile_time".
        self.compile_clock = CompileClock()
        check_monitors(self.early_stopping, self.schedule, recorded_metrics(
            self.optimizer.full_batch, self.labels.shape[0] > 0, self.evaluate_training,
            None if self.validation is None else self.validation[2].shape[0] > 0))

    def _restore(self, saved_theta, state, saved_state, previous_state):
        """Put the parameters and optimizer state back as they were before the epoch."""
        net = self.net
        net._theta[...] = saved_theta
        state.restore(saved_state)
        if not len(self.history):
            net._optimizer_state = previous_state     # a new optimizer's state is dropped

    # ----------------------------------------------------------------- helpers
    def _state(self):
        net = self.net
        state = net._optimizer_state
        if state is None or state.optimizer != self.optimizer:
            state = OptimizerState(self.optimizer, net.n_parameters, net.dtype)
        return state

    def _regularisation(self):
        """λ2/(2n) Σw² + λ1/n Σ|w| for the training-set size n (float64)."""
        return self.net._penalty(self.l2, self.l1, self.n)

    def _dropout_mask(self):
        hidden = self.net._n_units - self.net.n_outputs
        if self.dropout == 0.0 or hidden == 0:
            return None
        keep = self.net._rng.random((self.n, hidden), dtype=np.float32) >= self.dropout
        return keep.view(np.uint8)

    def _diagnostic_rows(self):
        rng = np.random.default_rng(0)
        m = min(self.n, DIAGNOSTIC_SAMPLES)
        return np.sort(rng.choice(self.n, m, replace=False)) if m < self.n else np.arange(self.n)

    # -------------------------------------------------------------------- run
    def run(self):
        """Train with the thread settings asked for, restoring them afterwards."""
        import numba

        previous = numba.get_num_threads()
        blas_threads = 1 if self.parallel else self.threads
        if blas_threads is None:
            rows = self.n if self.optimizer.full_batch else self.batch_size
            blas_threads = default_blas_threads(self.net._layout, rows)
        try:
            if self.parallel and self.threads is not None:
                numba.set_num_threads(self.threads)
            with self.compile_clock:
                if blas_threads is None:
                    return self._run()
                with blas_threads_limited(blas_threads):
                    return self._run()
        finally:
            numba.set_num_threads(previous)

    def _kernel(self):
        """A function(order_chunk, hyper, state, mask) running the epoch kernel on a chunk."""
        import numba

        net = self.net
        opt = self.optimizer
        plain_sgd = opt.code == codes.SGD
        # A gradient buffer for the rules that need one; for plain SGD only on epochs that cannot fuse.
        buffer = _aligned.empty(net.n_parameters if not plain_sgd or self.l2 or self.l1 else 0, net.dtype)

        def fused(hyper):
            return plain_sgd and fuses_sgd_step(hyper, net.dtype)
        if not self.parallel:
            work, ident, blas = net._work(self.batch_size)

            def run(order, hyper, state, mask):
                grad = None if fused(hyper) else buffer
                return K.train_epoch(
                    net._theta, net._layout, net._acts, net._leak, net._cost, self.X, self.Y, self.sw,
                    self.labels, order, self.batch_size, opt.code, hyper, state.first, state.second,
                    state.step, grad, mask, ident, work, blas)
            return run
        shards = PARALLEL_SHARDS
        capacity = -(-self.batch_size // shards)
        size = capacity * net._n_units
        shard_work = tuple(_aligned.empty((shards, size), net.dtype) for _ in range(3)) + (
            np.empty((shards, 0), dtype=net.dtype), np.zeros((shards, 2), dtype=net.dtype))
        batch_work = _aligned.empty((1, K.parallel.BATCH_PARTS * shards * size), net.dtype)
        blas_off = np.zeros(net._layout.shape[0], dtype=np.int64)
        no_buffer = np.empty(0, dtype=net.dtype)
        tasks = parallel_tasks(net._layout, numba.get_num_threads())   # set by run()
        ident = np.arange(capacity, dtype=np.int64)

        def run(order, hyper, state, mask):
            return K.train_epoch_parallel(
                net._theta, net._layout, net._acts, net._leak, net._cost, self.X, self.Y, self.sw,
                self.labels, order, self.batch_size, opt.code, hyper, state.first, state.second, state.step,
                no_buffer if fused(hyper) else buffer,
                K.NO_MASK if mask is None else mask, ident, shard_work, batch_work, blas_off, tasks)
        return run

    def _run(self):
        net = self.net
        if self.optimizer.full_batch:
            return self._run_full_batch()
        previous_state = net._optimizer_state
        state = self._state()
        hyper = np.zeros(codes.N_HYPER, dtype=np.float64)
        opt = self.optimizer
        if isinstance(opt, optim.SGD):
            hyper[codes.H_MU] = opt.momentum
        else:
            hyper[codes.H_BETA1], hyper[codes.H_BETA2], hyper[codes.H_EPS] = opt.beta1, opt.beta2, opt.epsilon
        hyper[codes.H_L2] = self.l2 / self.n
        hyper[codes.H_L1] = self.l1 / self.n
        hyper[codes.H_KEEP] = 1.0 - self.dropout
        epoch_kernel = self._kernel()
        chunk = max(1, CHUNK_SAMPLES // self.batch_size) * self.batch_size
        diag_rows = self._diagnostic_rows() if self.diagnostics else None
        tracker = track_early_stopping(net, self.early_stopping, self.checkpoints)
        bar = _progress_bar(self.epochs, self.verbose)
        if self.verbose:
            self.compile_clock.started = lambda name: bar.set_description_str("fit (compiling kernels, first use)")
        mid_epoch = False       # the parameters have left the last recorded epoch's
        try:
            for _ in range(self.epochs):
                if tracker.exhausted():     # resumed from the checkpoint of the epoch it stopped on
                    break
                epoch = len(net._records) + 1
                lr = checked_rate(self.schedule, self.schedule.rate(epoch, self.lr0, net._records), epoch)
                if lr is None:
                    break
                hyper[codes.H_LR] = lr
                started = time.perf_counter()
                compiled = self.compile_clock.seconds
                saved_theta = net._theta.copy()
                saved_state = state.snapshot()
                saved_rng = net._rng.bit_generator.state
                self.trained = True
                order = net._rng.permutation(self.n) if self.shuffle else np.arange(self.n, dtype=np.int64)
                mask = self._dropout_mask()
                weighted_cost = total_weight = 0.0
                correct = 0
                net._optimizer_state = state
                mid_epoch = True
                for start in range(0, self.n, chunk):
                    c, w, k, _ = epoch_kernel(order[start:start + chunk], hyper, state, mask)
                    weighted_cost += c
                    total_weight += w
                    correct += k
                    if not math.isfinite(c):
                        break
                cost = weighted_cost / total_weight + self._regularisation() if total_weight else weighted_cost
                if not (math.isfinite(cost) and np.isfinite(net._theta).all()):
                    self._restore(saved_theta, state, saved_state, previous_state)
                    if not self.x_checked and not v.all_finite(self.X):
                        raise NonFiniteX("X contains NaN or infinity")
                    raise NumericalError(
                        f"training diverged in epoch {epoch}: the cost or the parameters became "
                        f"{'NaN' if math.isnan(cost) else 'infinite'} with learning_rate={lr:g}. "
                        f"The network keeps its parameters from the end of epoch {epoch - 1}; "
                        f"try a smaller learning rate.")
                record = {"epoch": epoch, "cost": cost}
                if self.labels.shape[0]:
                    record["accuracy"] = correct / self._rows_trained(order)
                try:
                    self._evaluations(record, diag_rows)
                except FloatingPointError:
                    # Outputs overflowed on the evaluation data: the epoch is not recorded, so it must not
                    # stay applied either (schedules and optimizers count recorded epochs).
                    self._restore(saved_theta, state, saved_state, previous_state)
                    raise
                record["learning_rate"] = lr
                record["time"] = time.perf_counter() - started
                record["compile_time"] = self.compile_clock.seconds - compiled
                self.history.append(record)
                net._add_record(record)
                mid_epoch = False
                bar.set_description_str("fit", refresh=False)
                bar.update(1)
                bar.set_postfix(cost=f"{record['cost']:.4g}")

                # Callbacks see every recorded epoch, the one early stopping ends on too; early
                # stopping's snapshot and the checkpoint (with its progress) hold what they leave.
                stop = callbacks_stop(self.callbacks, epoch, record)
                stop = tracker.update(record, net._theta, epoch) or stop
                self.checkpoints.after_epoch(net, epoch)
                if stop:
                    break
        except KeyboardInterrupt:
            # Compiled chunks cannot be interrupted midway: Python sees the
            # signal between them, so the parameters (and optimizer state)
            # are those after the last completed mini-batch.
            self.history.interrupted = True
            if mid_epoch:
                net._best_epoch = None
                net._stopping_progress = None       # the parameters have left its last epoch's
                best = tracker.restores()
                keeps = (f"the parameters of its best epoch, {best} (early stopping's restore_best)"
                         if best is not None else "the parameters after its last completed mini-batch")
                warnings.warn(f"training interrupted during epoch {len(net._records) + 1}; the network keeps "
                              f"{keeps}", RuntimeWarning, stacklevel=3)
                self.checkpoints.whole_epoch(net, len(self.history) > 0, saved_theta, state, saved_state, saved_rng)
            else:
                warnings.warn(f"training interrupted after epoch {len(net._records)}", RuntimeWarning, stacklevel=3)
                tracker.catch_up(self.history, net._theta)     # its callbacks were cut short
        finally:
            bar.close()
        if (not self.x_checked and not len(self.history) and not self.history.interrupted
                and not v.all_finite(self.X)):
            raise NonFiniteX("X contains NaN or infinity")    # no epoch ran to check it
        # A checkpoint only ever holds whole epochs (an interrupted one wrote the last above).
        if not mid_epoch:
            self.checkpoints.finish(net, self.history)
        else:
            tracker.restore(net, self.history)
        return self.history

    def _rows_trained(self, order):
        """Rows of the epoch's mini-batches that trained: the kernels skip a
        mini-batch whose weights sum to zero, so its rows are not counted
        for the running accuracy either (they would count as misses)."""
        if self._all_weighted:
            return self.n
        starts = np.arange(0, self.n, self.batch_size)
        weighted = np.add.reduceat(self.sw[order], starts) > 0
        return max(1, int(np.diff(np.append(starts, self.n))[weighted].sum()))

    def _evaluations(self, record, diag_rows):
        """Full-pass metrics after an epoch: training set, validation set, diagnostics."""
        net = self.net
        if self.evaluate_training:
            scores = net._evaluate(self.X, self.Y, self.labels, self.sw, self.l2, self.l1, n_reg=self.n)
            record["train_cost"] = scores["cost"]
            if scores["accuracy"] is not None:
                record["train_accuracy"] = scores["accuracy"]
        if self.validation is not None:
            scores = net._evaluate(*self.validation, self.l2, self.l1, n_reg=self.n)
            record["val_cost"] = scores["cost"]
            if scores["accuracy"] is not None:
                record["val_accuracy"] = scores["accuracy"]
        if diag_rows is not None:
            record.update(net._diagnose(self.X[diag_rows], self.Y[diag_rows], self.sw[diag_rows]))

    # ------------------------------------------------------------- full batch
    def _run_full_batch(self):
        """L-BFGS / CG over the whole training set with scipy.optimize.minimize;
        one history record per iteration."""
        from scipy.optimize import minimize

        net = self.net
        if self.epochs == 0:
            return self.history
        self.trained = True
        start_theta = net._theta.copy()
        accepted = [start_theta]            # the last iterate recorded (fun visits trial points)
        stopped = [False]
        dt = net.dtype
        tracker = track_early_stopping(net, self.early_stopping, self.checkpoints)
        if tracker.exhausted():     # resumed from the checkpoint of the iteration it stopped on
            return self._finish_full_batch()
        started = [time.perf_counter()]
        compiled = [self.compile_clock.seconds]
        records_before = len(net._records)

        def fun(theta64):
            net._theta[...] = theta64.astype(dt)
            try:
                cost, grad = net._cost_and_gradient(self.X, self.Y, self.sw, self.l2, self.l1)
            except NumericalError as error:     # said as a training failure, not as an inference one
                kept = ("of the last completed iteration" if len(net._records) > records_before
                        else "from before this fit")
                raise NumericalError(f"{self.optimizer.method} diverged during iteration "
                                     f"{len(net._records) + 1}: {error}; the network keeps its parameters "
                                     f"{kept}") from error
            return cost, grad.astype(np.float64)

        def callback(intermediate_result):
            net._theta[...] = intermediate_result.x.astype(dt)
            epoch = len(net._records) + 1
            record = {"epoch": epoch, "cost": float(intermediate_result.fun)}
            if self.labels.shape[0]:
                record["accuracy"] = net._evaluate(self.X, self.Y, self.labels, self.sw, 0.0, 0.0)["accuracy"]
            self._evaluations(record, None)
            record["time"] = time.perf_counter() - started[0]
            record["compile_time"] = self.compile_clock.seconds - compiled[0]
            started[0], compiled[0] = time.perf_counter(), self.compile_clock.seconds
            self.history.append(record)
            net._add_record(record)
            accepted[0] = net._theta.copy()     # recorded: a Ctrl-C from here on keeps this iterate
            stop = callbacks_stop(self.callbacks, epoch, record)
            stop = tracker.update(record, net._theta, epoch) or stop
            self.checkpoints.after_epoch(net, epoch)
            if stop:
                stopped[0] = True
                raise StopIteration

        options = {"maxiter": self.epochs}
        if isinstance(self.optimizer, optim.LBFGS):
            options["maxfun"] = self.optimizer.max_fun
        try:
            result = minimize(fun, start_theta.astype(np.float64), jac=True, method=self.optimizer.method,
                              options=options, callback=callback)
        except KeyboardInterrupt:
            net._theta[...] = accepted[0]
            tracker.catch_up(self.history, net._theta)     # an iteration whose callbacks were cut short
            self.history.interrupted = True
            warnings.warn(f"training interrupted during iteration {len(net._records) + 1}; the network keeps "
                          f"the parameters of the last completed iteration", RuntimeWarning, stacklevel=3)
            return self._finish_full_batch()
        except BaseException:
            net._theta[...] = accepted[0]       # not a trial point of the line search
            raise
        if not result.success and not stopped[0] and result.nit < self.epochs:
            warnings.warn(f"{self.optimizer.method} stopped after {result.nit} of {self.epochs} iterations "
                          f"without converging: {result.message}", UserWarning, stacklevel=3)
        final = result.x.astype(dt)
        if not np.isfinite(final).all():
            net._theta[...] = start_theta
            raise NumericalError(f"{self.optimizer.method} diverged: the parameters became NaN or "
                                     f"infinite; the network keeps its parameters from before this fit")
        net._theta[...] = final
        self.history.optimizer_result = result
        return self._finish_full_batch()

    def _finish_full_batch(self):
        """Early stopping's best iterate back, and the final checkpoint (whole iterations only)."""
        self.checkpoints.finish(self.net, self.history)
        return self.history
