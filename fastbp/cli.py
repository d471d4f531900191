"""The ``fastbp`` command line: ``train``, ``gradcheck`` and ``bench``."""

import argparse
import os
import sys
import time
import warnings

import numpy as np

from . import __version__, schedules
from . import _validation as v
from ._compile_clock import CompileClock
from .datasets import FORMATS, load, load_mnist_idx, load_mnist_pkl, train_test_split
from .kernels.codes import COST_OUTPUTS, COSTS, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .network import Network

#: Default ``fastbp gradcheck --tolerance`` for ``--dtype float32``: the
#: float32 gradient carries float32 rounding (up to about 1e-4 relative on
#: small random networks), so 1e-6 would fail a correct backpropagation.
FLOAT32_TOLERANCE = 1e-3


def _sizes(text):
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes must be comma-separated integers such as 64,30,10; "
                                         f"got {text!r}") from None
    return sizes


def _number(kind, low=None, high=None, low_open=False, high_open=False):
    """An argparse ``type`` reading a finite ``kind`` (int or float) within
    [low, high] (open at an end when ``low_open`` / ``high_open``)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        ok = value is not None and np.isfinite(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            bounds = []
            if low is not None:
                bounds.append(f"{'>' if low_open else '>='} {low:g}")
            if high is not None:
                bounds.append(f"{'<' if high_open else '<='} {high:g}")
            what = "an integer" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(f"expected {what}{' ' + ' and '.join(bounds) if bounds else ''}; "
                                             f"got {text!r}")
        return value
    parse.__name__ = kind.__name__      # argparse names the type in its messages
    return parse


_POSITIVE = _number(float, 0.0, low_open=True)
_COUNT = _number(int, 1)
_UNIT = _number(float, 0.0, 1.0, high_open=True)        # momentum, Adam's betas, dropout
_FRACTION = _number(float, 0.0, 1.0, low_open=True, high_open=True)


def _add_network_options(parser, sizes_help):
    parser.add_argument("--sizes", type=_sizes, default=None, help=sizes_help)
    parser.add_argument("--hidden-activation", choices=HIDDEN_ACTIVATIONS, default="sigmoid")
    parser.add_argument("--output-activation", choices=OUTPUT_ACTIVATIONS, default=None,
                        help="default: softmax for the log_likelihood cost, sigmoid otherwise")
    parser.add_argument("--cost", choices=tuple(COSTS), default="quadratic")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    parser.add_argument("--seed", type=_number(int, 0), default=0)


def _parser():
    parser = argparse.ArgumentParser(prog="fastbp", description="Train fully connected networks fast.")
    parser.add_argument("--version", action="version", version=f"fastbp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train a network and report held-out accuracy",
        description="Train a network by backpropagation. With no options: [64, 30, 10] on the built-in "
                    "8x8 digits, 25% held out.")
    train.add_argument("--data", default=None,
                       help="dataset path: an MNIST IDX folder, mnist.pkl.gz, .npz (X, y) or .csv "
                            "(default: the built-in digits)")
    train.add_argument("--format", choices=FORMATS, default=None, help="dataset format (default: from the path)")
    train.add_argument("--label-column", default="-1", help="CSV label column: a name or an index (default -1)")
    _add_network_options(train, "layer sizes, inputs first, e.g. 64,30,10 "
                                "(default: features,30,largest class label + 1)")
    train.add_argument("--epochs", type=_number(int, 0), default=30)
    train.add_argument("--batch-size", type=_COUNT, default=10)
    train.add_argument("--learning-rate", "--eta", type=_POSITIVE, default=None,
                       help="default: 3.0 for sgd, 0.001 for adam, 0.1 otherwise")
    train.add_argument("--optimizer", choices=("sgd", "momentum", "nesterov", "adam", "lbfgs", "cg"),
                       default="sgd")
    train.add_argument("--momentum", type=_UNIT, default=0.9, help="for momentum / nesterov, in [0, 1)")
    train.add_argument("--beta1", type=_UNIT, default=0.9, help="Adam's β1, in [0, 1)")
    train.add_argument("--beta2", type=_UNIT, default=0.999, help="Adam's β2, in [0, 1)")
    train.add_argument("--schedule", choices=("constant", "invscaling", "step", "adaptive", "halving"),
                       default="constant")
    train.add_argument("--l2", type=_number(float, 0.0), default=0.0, help="L2 strength λ (cost += λ/2n Σw²)")
    train.add_argument("--l1", type=_number(float, 0.0), default=0.0, help="L1 strength λ (cost += λ/n Σ|w|)")
    train.add_argument("--dropout", type=_UNIT, default=0.0, help="drop probability of hidden units")
    train.add_argument("--early-stopping", type=_COUNT, default=None, metavar="PATIENCE",
                       help="stop after PATIENCE epochs without a better validation cost")
    train.add_argument("--validation-fraction", type=_FRACTION, default=None,
                       help="split this fraction off the training data for validation metrics")
    train.add_argument("--test-fraction", type=_FRACTION, default=0.25,
                       help="held-out fraction when the dataset has no test part")
    train.add_argument("--diagnostics", action="store_true", help="record gradient norms and saturation")
    train.add_argument("--threads", type=_COUNT, default=None,
                       help="threads for BLAS (or, with --parallel, for the sharded mini-batches)")
    train.add_argument("--parallel", action="store_true",
                       help="split each mini-batch into shards computed by several threads")
    train.add_argument("--distributed", action="store_true",
                       help="data-parallel over MPI ranks: mpiexec -n K fastbp train --distributed ...")
    train.add_argument("--shard", action="store_true",
                       help="with --distributed: each rank reads its own file; {rank} in --data is "
                            "replaced by the rank")
    train.add_argument("--save", default=None, metavar="PATH", help="save the trained model (.npz)")
    train.add_argument("--checkpoint", default=None, metavar="PATH", help="checkpoint every epoch (.npz)")
    train.add_argument("--plot", default=None, metavar="PATH", help="save training curves as PNG")
    train.add_argument("--quiet", action="store_true", help="print only the final summary")

    check = commands.add_parser(
        "gradcheck", help="compare compiled gradients with finite differences and the numpy reference",
        description="Exit status 1 when any relative error exceeds the tolerance.")
    _add_network_options(check, "layer sizes (default 4,5,3)")
    check.add_argument("--all", action="store_true", help="check every activation x cost pairing")
    check.add_argument("--samples", type=_COUNT, default=8)
    check.add_argument("--l2", type=_number(float, 0.0), default=0.0)
    check.add_argument("--tolerance", type=_POSITIVE, default=None,
                       help="largest relative error accepted (default: 1e-6 for float64, "
                            f"{FLOAT32_TOLERANCE:g} for float32)")

    bench = commands.add_parser(
        "bench", help="time one epoch of the compiled trainer against the numpy reference")
    _add_network_options(bench, "layer sizes (default 784,30,10)")
    bench.add_argument("--samples", type=_COUNT, default=10000)
    bench.add_argument("--batch-size", type=_COUNT, default=10)
    bench.add_argument("--learning-rate", type=_POSITIVE, default=0.5)
    bench.add_argument("--repeats", type=_COUNT, default=3)
    return parser


class _Progress:
    """Per-epoch progress: a tqdm bar on a terminal, plain lines otherwise."""

    def __init__(self, epochs, n_samples, quiet, stream):
        self.n_samples = n_samples
        self.quiet = quiet
        self.stream = stream
        self.bar = None
        self.announced = False
        if not quiet and stream.isatty():
            from tqdm.auto import tqdm
            self.bar = tqdm(total=epochs, unit="epoch", file=stream, desc="train")

    def compiling(self, name):
        """Said once, when numba starts compiling a kernel: why the first epoch takes seconds."""
        if self.quiet or self.announced:
            return
        self.announced = True
        text = "compiling the kernels for this configuration (once: numba caches them for later runs)"
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def __call__(self, epoch, logs):
        compiling = logs["compile_time"]
        rate = self.n_samples / max(logs["time"] - compiling, 1e-12)
        fields = [f"cost {logs['cost']:.4f}"]
        for key in ("accuracy", "val_cost", "val_accuracy"):
            if key in logs:
                fields.append(f"{key.replace('_', ' ')} {logs[key]:.4f}")
        fields.append(f"{rate:,.0f} samples/s")
        if compiling >= 0.05:
            fields.append(f"+{compiling:.1f} s {'compiling' if self.announced else 'loading'} kernels")
        if self.bar is not None:
            self.bar.set_postfix_str(", ".join(fields))
            self.bar.update(1)
        elif not self.quiet:
            print(f"epoch {epoch}: " + ", ".join(fields), file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _load_dataset(args):
    """(X_train, y_train, X_test, y_test, description) from the options."""
    if args.data is None and args.format in (None, "digits"):
        X, y = load(format="digits")
        X_train, y_train, X_test, y_test = train_test_split(X, y, args.test_fraction, seed=args.seed)
        return X_train, y_train, X_test, y_test, "built-in digits (1,797 8x8 images)"
    if args.data is None:
        raise ValueError(f"--format {args.format} needs --data PATH")
    fmt = args.format or _infer(args.data)
    if fmt == "idx":
        X_train, y_train = load_mnist_idx(args.data, "train")
        try:
            X_test, y_test = load_mnist_idx(args.data, "test")
        except FileNotFoundError:
            X_train, y_train, X_test, y_test = train_test_split(X_train, y_train, args.test_fraction,
                                                                seed=args.seed)
        return X_train, y_train, X_test, y_test, f"MNIST IDX files in {args.data}"
    if fmt == "pkl":
        (X_train, y_train), _, (X_test, y_test) = load_mnist_pkl(args.data)
        return X_train, y_train, X_test, y_test, f"{args.data} (Nielsen's format)"
    options = {}
    if fmt == "csv":
        label = args.label_column
        options["label_column"] = int(label) if label.lstrip("-").isdigit() else label
    X, y = load(args.data, format=fmt, **options)
    X_train, y_train, X_test, y_test = train_test_split(X, y, args.test_fraction, seed=args.seed)
    return X_train, y_train, X_test, y_test, args.data


def _infer(path):
    from .datasets import _infer_format
    return _infer_format(path)


def _has_class_labels(y):
    """True when y holds integer class labels (1-D, integral dtype) rather than real targets."""
    return y.ndim == 1 and y.dtype.kind in "iub"


def _class_indices(y_train, y_test, n_outputs=None, all_labels=None):
    """Match integer class labels with output units, as ``Network.fit`` does.

    ``all_labels``: the sorted class labels of the whole dataset when y_train
    and y_test hold only part of it (one rank's file with ``--shard``);
    default the labels in y_train and y_test. Returns ``(y_train, y_test,
    n_outputs, classes)``. Non-negative integer
    labels index the output units directly (label j is unit j), so a saved
    model's ``predict`` returns the data's own labels: labels 1..3 give 4
    outputs, unit 0 never a target. That needs ``n_outputs`` (the ``--sizes``
    output count, None for the default) above the largest label, or by
    default a largest label below twice the number of classes (sparse labels
    such as 0, 100, 200 would waste most units). Other labels (negative, or
    sparse) are mapped to 0..K-1 in sorted order and ``classes`` (shape
    (K,)) holds the labels, ``classes[i]`` being unit i's; it is None when
    no mapping was needed. Real-valued targets pass through.
    """
    if not _has_class_labels(y_train):
        outputs = 1 if y_train.ndim == 1 else y_train.shape[1]
        return y_train, y_test, outputs if n_outputs is None else n_outputs, None
    classes = np.unique(np.concatenate([y_train, y_test])) if all_labels is None else all_labels
    top = int(classes[-1])
    if classes[0] >= 0 and (top < n_outputs if n_outputs is not None else top < 2 * len(classes)):
        return y_train, y_test, top + 1 if n_outputs is None else n_outputs, None
    if np.array_equal(classes, np.arange(len(classes))):
        # 0..K-1 already, e.g. 0/1 labels for a single sigmoid output
        return y_train, y_test, len(classes) if n_outputs is None else n_outputs, None
    y_train, y_test = np.searchsorted(classes, y_train), np.searchsorted(classes, y_test)
    return y_train, y_test, len(classes) if n_outputs is None else n_outputs, classes


def _labels_of_all_ranks(comm, y_train, y_test):
    """Collective: the sorted union of every rank's integer class labels (shape (K,)), or None
    when every rank has real-valued targets. Raises ValueError on every rank when some ranks
    have class labels and others real-valued targets."""
    mine = np.unique(np.concatenate([y_train, y_test])).astype(np.int64) if _has_class_labels(y_train) else None
    gathered = comm.allgather(mine)
    kinds = {labels is None for labels in gathered}
    if len(kinds) > 1:
        ranks = [rank for rank, labels in enumerate(gathered) if labels is None]
        raise ValueError(f"--shard: the files of ranks {ranks} hold real-valued targets, the others integer "
                         f"class labels; every rank's file must hold the same kind of target")
    return None if kinds == {True} else np.unique(np.concatenate(gathered))


def _held_out_scores(net, X_test, y_test, l2, comm=None):
    """``net.evaluate`` on the held-out rows; with ``comm`` (``--shard``: each rank holds its own part of
    them), over every rank's part together, the same on every rank."""
    if comm is None:
        return net.evaluate(X_test, y_test, l2=l2)
    from . import distributed
    error, mine = None, (0.0, 0.0, 0)
    try:
        local = net.evaluate(X_test, y_test)
        mine = (local["cost"] * len(X_test), None if local["accuracy"] is None else local["accuracy"] * len(X_test),
                len(X_test))
    except Exception as caught:
        error = caught
    distributed._agree(comm, error, "evaluating its held-out part")
    parts = comm.allgather(mine)
    total = sum(n for _, _, n in parts)
    accuracy = None if parts[0][1] is None else sum(correct for _, correct, _ in parts) / total
    return {"cost": sum(cost for cost, _, _ in parts) / total + net._penalty(l2, 0.0, total), "accuracy": accuracy}


def _describe(classes):
    if len(classes) <= 8:
        return ", ".join(f"{c} -> {i}" for i, c in enumerate(classes.tolist()))
    return f"{classes[0]} -> 0, {classes[1]} -> 1, ..., {classes[-1]} -> {len(classes) - 1}"


def _optimizer(args):
    from . import optimizers
    if args.optimizer in ("momentum", "nesterov"):
        return optimizers.SGD(momentum=args.momentum, nesterov=args.optimizer == "nesterov")
    if args.optimizer == "adam":
        return optimizers.Adam(beta1=args.beta1, beta2=args.beta2)
    return args.optimizer


def _output_activation(args):
    if args.output_activation is not None:
        return args.output_activation
    return COST_OUTPUTS[args.cost][0] if args.cost != "quadratic" else "sigmoid"


def train(args, out=None):
    """``fastbp train``: load a dataset, train a network, report held-out accuracy.

    ``args`` is the parsed namespace of the ``train`` subcommand (see
    ``fastbp train --help``). The data X is (n_samples, n_features) and y
    either integer class labels, shape (n_samples,), or real targets, shape
    (n_samples,) or (n_samples, n_outputs). Non-negative integer labels index
    the output units directly, so the default network is [n_features, 30,
    largest label + 1] and a model saved with ``--save`` predicts the data's
    labels; labels that cannot index units (negative, or sparse) are mapped
    to 0..K-1 for training and evaluation, with a note, and then ``--save``
    and ``--checkpoint`` are refused (ValueError). With ``--cost poisson``,
    y holds counts (targets), never class labels. The network has
    ``--dtype`` (float64 or float32) throughout. Progress goes to ``out``
    (default stdout), warnings to stderr. Returns the exit status: 0, or 130
    when Ctrl-C interrupted training (the model is still saved).
    """
    out = sys.stdout if out is None else out
    comm, rank0 = None, True
    if args.distributed:
        from . import distributed
        comm = distributed.communicator()
        rank0 = comm.rank == 0
        if args.parallel or args.diagnostics:
            raise ValueError("--distributed trains one rank per process: use --threads for threads per rank; "
                             "--parallel and --diagnostics are not available with it")
        if args.shard:
            if args.data is None or "{rank}" not in args.data:
                raise ValueError("--shard needs --data with {rank} in the path, e.g. data-{rank}.npz")
            args.data = args.data.replace("{rank}", str(comm.rank))
    elif args.shard:
        raise ValueError("--shard needs --distributed")
    quiet = args.quiet or not rank0
    error = None
    try:
        X_train, y_train, X_test, y_test, source = _load_dataset(args)
    except Exception as caught:
        if comm is None:
            raise
        error = caught      # with --shard only some ranks may fail: every rank must learn of it
    if comm is not None:
        distributed._agree(comm, error, "loading its data")
    if args.cost == "poisson":      # integers here are counts, one per output, never class labels
        y_train, y_test = y_train.astype(np.float64), y_test.astype(np.float64)
    # With --shard each rank reads its own file, which may lack some classes: every rank maps
    # labels to units by the classes of all the files, so all build the same network.
    all_labels = _labels_of_all_ranks(comm, y_train, y_test) if args.shard else None
    y_train, y_test, n_outputs, classes = _class_indices(y_train, y_test, args.sizes[-1] if args.sizes else None,
                                                         all_labels)
    if classes is not None:
        outputs = [f"--{name}" for name in ("save", "checkpoint") if getattr(args, name) is not None]
        if outputs:
            hint = ("relabel the data as 0..K-1" if classes[0] < 0 else
                    f"relabel the data as 0..K-1, or give each label its own output unit with "
                    f"--sizes ...,{int(classes[-1]) + 1}")
            raise ValueError(f"the class labels ({len(classes)} of them, from {classes[0]} to {classes[-1]}) "
                             f"cannot index the output units directly, so training would map them to "
                             f"0..{len(classes) - 1} and the model written by {' and '.join(outputs)} would "
                             f"predict those indices, not your labels: {hint}")
        if not quiet:
            print(f"note: class labels mapped to output units for training and evaluation: {_describe(classes)}",
                  file=out, flush=True)
    sizes = args.sizes or [X_train.shape[1], 30, n_outputs]
    net = Network(sizes, hidden_activation=args.hidden_activation, output_activation=_output_activation(args),
                  cost=args.cost, dtype=args.dtype, seed=args.seed)
    learning_rate = args.learning_rate
    if learning_rate is None:
        learning_rate = {"sgd": 3.0, "adam": 0.001}.get(args.optimizer, 0.1)
    early = None
    validation_fraction = args.validation_fraction
    if args.early_stopping is not None:
        from .stopping import EarlyStopping
        early = EarlyStopping(monitor="val_cost", patience=args.early_stopping)
        validation_fraction = validation_fraction or 0.1
    if getattr(schedules.get(args.schedule), "monitor", "").startswith("val_"):
        validation_fraction = validation_fraction or 0.1    # never tuned on the held-out part
    if args.plot is not None:
        from .plot import _require_matplotlib
        _require_matplotlib()
    for name in ("save", "checkpoint", "plot"):
        path = getattr(args, name)
        if path is not None:        # checked before training, not after it
            v.check_writable_path(f"--{name}", path)
    if not quiet:
        ranks = f" on {comm.size} MPI ranks" if comm is not None else ""
        print(f"fastbp {__version__}: {net} on {source}, {len(X_train)} training / {len(X_test)} held out{ranks}",
              file=out, flush=True)
    progress = _Progress(args.epochs, len(X_train), quiet, out)
    clock = CompileClock(started=progress.compiling)      # for the notice; the records time it
    options = dict(epochs=args.epochs, batch_size=args.batch_size, learning_rate=learning_rate, l2=args.l2,
                   l1=args.l1, dropout=args.dropout, optimizer=_optimizer(args), schedule=args.schedule,
                   validation_fraction=validation_fraction, early_stopping=early,
                   # without a validation split, watch the held-out set (monitoring only)
                   validation_data=None if validation_fraction else (X_test, y_test),
                   callbacks=[progress], checkpoint=args.checkpoint, threads=args.threads)
    started = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught, clock:
            warnings.simplefilter("always", RuntimeWarning)
            if comm is not None:
                history = distributed.fit(net, X_train, y_train, comm=comm, shard=args.shard, **options)
            else:
                history = net.fit(X_train, y_train, diagnostics=args.diagnostics, parallel=args.parallel,
                                  **options)
    finally:
        progress.close()
    for w in caught:
        if rank0:
            print(f"fastbp train: {w.message}", file=sys.stderr)
    wall = time.perf_counter() - started
    if rank0 and args.save is not None:
        net.save(args.save)
    if rank0 and args.plot is not None and len(history):
        from . import plot
        plot.history(history, args.plot, title=f"{net.sizes} on {os.path.basename(str(source))}")
        if args.diagnostics:
            root, ext = os.path.splitext(args.plot)
            plot.gradient_norms(history, f"{root}-gradients{ext or '.png'}")
    scores = _held_out_scores(net, X_test, y_test, args.l2, comm if args.shard else None)
    train_time = sum(history["time"]) if len(history) else 0.0
    kernel_time = sum(history["compile_time"]) if len(history) else 0.0
    rate = len(X_train) * len(history) / max(train_time - kernel_time, 1e-12)
    compiling = (f" ({kernel_time:.2f} s of it {'compiling' if progress.announced else 'loading'} kernels)"
                 if kernel_time >= 0.05 else "")
    accuracy = "n/a" if scores["accuracy"] is None else f"{scores['accuracy']:.4f}"
    note = " (interrupted)" if history.interrupted else ""
    if rank0:
        print(f"held-out accuracy {accuracy}, cost {scores['cost']:.4f}, {len(history)} epochs{note}, "
              f"{wall:.2f} s wall{compiling}, {rate:,.0f} samples/s", file=out, flush=True)
        if args.save is not None and not args.quiet:
            print(f"saved the model to {args.save}", file=out)
    return 130 if history.interrupted else 0


def _pairings(args):
    if not args.all:
        return [(args.hidden_activation, _output_activation(args), args.cost)]
    return [(hidden, output, cost) for hidden in HIDDEN_ACTIVATIONS
            for cost, outputs in COST_OUTPUTS.items() for output in outputs]


def gradcheck(args, out=None):
    """``fastbp gradcheck``: check the compiled gradient of small random networks.

    ``args`` is the parsed namespace: ``sizes`` (layer sizes, default
    [4, 5, 3]), the activations and ``cost`` (or ``all`` for every pairing),
    ``dtype`` ("float64" or "float32"), ``samples`` (inputs of shape
    (samples, sizes[0])), ``l2``, ``seed`` and ``tolerance`` (default 1e-6 in
    float64, ``FLOAT32_TOLERANCE`` in float32). For each pairing it compares
    the network's compiled gradient with float64 central finite differences
    and the numpy reference (see ``fastbp.gradcheck``); a float32 network's
    own float32 gradient is checked. Prints one report per pairing to ``out``
    (default stdout) and returns the exit status: 0 when every relative error
    is within the tolerance, 1 otherwise.
    """
    from .gradcheck import gradcheck as check
    out = sys.stdout if out is None else out
    sizes = args.sizes or [4, 5, 3]
    tolerance = args.tolerance
    if tolerance is None:
        tolerance = FLOAT32_TOLERANCE if args.dtype == "float32" else 1e-6
    failed = 0
    for hidden, output, cost in _pairings(args):
        result = check(sizes, hidden_activation=hidden, output_activation=output, cost=cost,
                       n_samples=args.samples, seed=args.seed, l2=args.l2, tolerance=tolerance, dtype=args.dtype)
        ok = result.passed(tolerance)
        failed += not ok
        print(f"{hidden} hidden, {output} output, {cost}: {'ok' if ok else 'FAILED'}", file=out)
        print(result, file=out)
    print(f"{'all passed' if not failed else f'{failed} failed'} (tolerance {tolerance:g})", file=out)
    return 1 if failed else 0


def bench(args, out=None):
    """``fastbp bench``: time one training epoch, compiled against the numpy reference.

    ``args`` holds ``sizes`` (default [784, 30, 10]), the activations,
    ``cost``, ``dtype``, ``samples``, ``batch_size``, ``learning_rate``,
    ``repeats`` and ``seed``. Draws X uniform in [0, 1), shape (samples,
    sizes[0]) in ``dtype``, and random labels 0..sizes[-1]-1 (Poisson counts of
    mean 1 for ``cost="poisson"``); times ``repeats``
    SGD epochs of the compiled ``Network.fit`` and of
    ``reference.sgd_epoch`` (after one small compiling fit) and prints the
    medians, samples/s and the speed-up to ``out`` (default stdout). Returns 0.
    """
    from . import reference
    out = sys.stdout if out is None else out
    sizes = args.sizes or [784, 30, 10]
    output = _output_activation(args)
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(args.seed)
    X = rng.random((args.samples, sizes[0])).astype(dtype)
    if args.cost == "poisson":      # counts, the same targets for both sides
        y = Y = rng.poisson(1.0, (args.samples, sizes[-1])).astype(dtype)
    else:
        y = rng.integers(0, sizes[-1], args.samples)
        Y = np.eye(sizes[-1], dtype=dtype)[y]
    net = Network(sizes, hidden_activation=args.hidden_activation, output_activation=output, cost=args.cost,
                  dtype=dtype, seed=args.seed)
    acts = net.activations
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    net.fit(X[:64], y[:64], epochs=1, batch_size=args.batch_size, learning_rate=args.learning_rate)  # compile
    compiled, numpy_times = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        net.fit(X, y, epochs=1, batch_size=args.batch_size, learning_rate=args.learning_rate)
        compiled.append(time.perf_counter() - t)
        t = time.perf_counter()
        reference.sgd_epoch(weights, biases, X, Y, acts, args.cost, rng.permutation(args.samples),
                            args.batch_size, args.learning_rate, leak=net.leaky_slope)
        numpy_times.append(time.perf_counter() - t)
    fast, slow = float(np.median(compiled)), float(np.median(numpy_times))
    print(f"{net}, {args.samples} samples, batch {args.batch_size}, median of {args.repeats}", file=out)
    print(f"  fastbp compiled epoch  {fast:8.4f} s  {args.samples / fast:12,.0f} samples/s", file=out)
    print(f"  numpy reference epoch  {slow:8.4f} s  {args.samples / slow:12,.0f} samples/s", file=out)
    print(f"  speed-up {slow / fast:.1f}x", file=out)
    return 0


def main(argv=None):
    """Entry point of the ``fastbp`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    commands = {"train": train, "gradcheck": gradcheck, "bench": bench}
    try:
        return commands[args.command](args)
    except (ValueError, TypeError, FloatingPointError, OSError, ImportError) as exc:   # OSError: a path
        print(f"fastbp {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
