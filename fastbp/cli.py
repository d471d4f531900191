"""The ``fastbp`` command line: ``train``, ``gradcheck`` and ``bench``."""

import argparse
import os
import sys
import time
import warnings

import numpy as np

from . import __version__
from .datasets import FORMATS, load, load_mnist_idx, load_mnist_pkl, train_test_split
from .kernels.codes import COST_OUTPUTS, COSTS, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .network import Network


def _sizes(text):
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes must be comma-separated integers such as 64,30,10; "
                                         f"got {text!r}") from None
    return sizes


def _add_network_options(parser, sizes_help):
    parser.add_argument("--sizes", type=_sizes, default=None, help=sizes_help)
    parser.add_argument("--hidden-activation", choices=HIDDEN_ACTIVATIONS, default="sigmoid")
    parser.add_argument("--output-activation", choices=OUTPUT_ACTIVATIONS, default=None,
                        help="default: softmax for the log_likelihood cost, sigmoid otherwise")
    parser.add_argument("--cost", choices=tuple(COSTS), default="quadratic")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    parser.add_argument("--seed", type=int, default=0)


def _parser():
    parser = argparse.ArgumentParser(prog="fastbp", description="Train fully connected networks fast.")
    parser.add_argument("--version", action="version", version=f"fastbp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train a network and report held-out accuracy",
        description="Train a network by backpropagation. With no options: [64, 30, 10] on the built-in "
                    "8x8 digits, 25%% held out.")
    train.add_argument("--data", default=None,
                       help="dataset path: an MNIST IDX folder, mnist.pkl.gz, .npz (X, y) or .csv "
                            "(default: the built-in digits)")
    train.add_argument("--format", choices=FORMATS, default=None, help="dataset format (default: from the path)")
    train.add_argument("--label-column", default="-1", help="CSV label column: a name or an index (default -1)")
    _add_network_options(train, "layer sizes, inputs first, e.g. 64,30,10 (default: features,30,classes)")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=10)
    train.add_argument("--learning-rate", "--eta", type=float, default=None,
                       help="default: 3.0 for sgd, 0.001 for adam, 0.1 otherwise")
    train.add_argument("--optimizer", choices=("sgd", "momentum", "nesterov", "adam", "lbfgs", "cg"),
                       default="sgd")
    train.add_argument("--momentum", type=float, default=0.9, help="for momentum / nesterov")
    train.add_argument("--beta1", type=float, default=0.9, help="Adam's β1")
    train.add_argument("--beta2", type=float, default=0.999, help="Adam's β2")
    train.add_argument("--schedule", choices=("constant", "invscaling", "step", "adaptive", "halving"),
                       default="constant")
    train.add_argument("--l2", type=float, default=0.0, help="L2 strength λ (cost += λ/2n Σw²)")
    train.add_argument("--l1", type=float, default=0.0, help="L1 strength λ (cost += λ/n Σ|w|)")
    train.add_argument("--dropout", type=float, default=0.0, help="drop probability of hidden units")
    train.add_argument("--early-stopping", type=int, default=None, metavar="PATIENCE",
                       help="stop after PATIENCE epochs without a better validation cost")
    train.add_argument("--validation-fraction", type=float, default=None,
                       help="split this fraction off the training data for validation metrics")
    train.add_argument("--test-fraction", type=float, default=0.25,
                       help="held-out fraction when the dataset has no test part")
    train.add_argument("--diagnostics", action="store_true", help="record gradient norms and saturation")
    train.add_argument("--threads", type=int, default=None,
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
    check.add_argument("--samples", type=int, default=8)
    check.add_argument("--l2", type=float, default=0.0)
    check.add_argument("--tolerance", type=float, default=1e-6)

    bench = commands.add_parser(
        "bench", help="time one epoch of the compiled trainer against the numpy reference")
    _add_network_options(bench, "layer sizes (default 784,30,10)")
    bench.add_argument("--samples", type=int, default=10000)
    bench.add_argument("--batch-size", type=int, default=10)
    bench.add_argument("--learning-rate", type=float, default=0.5)
    bench.add_argument("--repeats", type=int, default=3)
    return parser


class _Progress:
    """Per-epoch progress: a tqdm bar on a terminal, plain lines otherwise."""

    def __init__(self, epochs, n_samples, quiet, stream):
        self.n_samples = n_samples
        self.quiet = quiet
        self.stream = stream
        self.bar = None
        if not quiet and stream.isatty():
            from tqdm.auto import tqdm
            self.bar = tqdm(total=epochs, unit="epoch", file=stream, desc="train")

    def __call__(self, epoch, logs):
        rate = self.n_samples / max(logs["time"], 1e-12)
        fields = [f"cost {logs['cost']:.4f}"]
        for key in ("accuracy", "val_cost", "val_accuracy"):
            if key in logs:
                fields.append(f"{key.replace('_', ' ')} {logs[key]:.4f}")
        fields.append(f"{rate:,.0f} samples/s")
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


def _class_indices(y_train, y_test):
    """Map arbitrary integer labels to 0..K-1; regression targets pass through."""
    if y_train.ndim != 1 or y_train.dtype.kind not in "iub":
        return y_train, y_test, None
    classes = np.unique(np.concatenate([y_train, y_test]))
    if np.array_equal(classes, np.arange(len(classes))):
        return y_train, y_test, classes
    return np.searchsorted(classes, y_train), np.searchsorted(classes, y_test), classes


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
    X_train, y_train, X_test, y_test, source = _load_dataset(args)
    y_train, y_test, classes = _class_indices(y_train, y_test)
    n_outputs = len(classes) if classes is not None else (1 if y_train.ndim == 1 else y_train.shape[1])
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
    if args.plot is not None:
        from .plot import _require_matplotlib
        _require_matplotlib()
    for name in ("save", "checkpoint", "plot"):
        path = getattr(args, name)
        if path is not None and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise ValueError(f"--{name}: the directory of {path!r} does not exist")
    if not quiet:
        ranks = f" on {comm.size} MPI ranks" if comm is not None else ""
        print(f"fastbp {__version__}: {net} on {source}, {len(X_train)} training / {len(X_test)} held out{ranks}",
              file=out, flush=True)
    progress = _Progress(args.epochs, len(X_train), quiet, out)
    options = dict(epochs=args.epochs, batch_size=args.batch_size, learning_rate=learning_rate, l2=args.l2,
                   l1=args.l1, dropout=args.dropout, optimizer=_optimizer(args), schedule=args.schedule,
                   validation_fraction=validation_fraction, early_stopping=early,
                   # without a validation split, watch the held-out set (monitoring only)
                   validation_data=None if validation_fraction else (X_test, y_test),
                   callbacks=[progress], checkpoint=args.checkpoint, threads=args.threads)
    started = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
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
    if args.shard and len(history) and "val_cost" in history:
        # each rank holds its own held-out part: report the metrics reduced over all ranks
        scores = {"cost": history["val_cost"][-1], "accuracy": history.records[-1].get("val_accuracy")}
    else:
        scores = net.evaluate(X_test, y_test, l2=args.l2)
    train_time = sum(history["time"]) if len(history) else 0.0
    rate = len(X_train) * len(history) / max(train_time, 1e-12)
    accuracy = "n/a" if scores["accuracy"] is None else f"{scores['accuracy']:.4f}"
    note = " (interrupted)" if history.interrupted else ""
    if rank0:
        print(f"held-out accuracy {accuracy}, cost {scores['cost']:.4f}, {len(history)} epochs{note}, "
              f"{wall:.2f} s wall, {rate:,.0f} samples/s", file=out, flush=True)
        if args.save is not None and not args.quiet:
            print(f"saved the model to {args.save}", file=out)
    return 130 if history.interrupted else 0


def _pairings(args):
    if not args.all:
        return [(args.hidden_activation, _output_activation(args), args.cost)]
    return [(hidden, output, cost) for hidden in HIDDEN_ACTIVATIONS
            for cost, outputs in COST_OUTPUTS.items() for output in outputs]


def gradcheck(args, out=None):
    from .gradcheck import gradcheck as check
    out = sys.stdout if out is None else out
    sizes = args.sizes or [4, 5, 3]
    failed = 0
    for hidden, output, cost in _pairings(args):
        result = check(sizes, hidden_activation=hidden, output_activation=output, cost=cost,
                       n_samples=args.samples, seed=args.seed, l2=args.l2, tolerance=args.tolerance)
        ok = result.passed(args.tolerance)
        failed += not ok
        print(f"{hidden} hidden, {output} output, {cost}: {'ok' if ok else 'FAILED'}", file=out)
        print(result, file=out)
    print(f"{'all passed' if not failed else f'{failed} failed'} (tolerance {args.tolerance:g})", file=out)
    return 1 if failed else 0


def bench(args, out=None):
    from . import reference
    out = sys.stdout if out is None else out
    sizes = args.sizes or [784, 30, 10]
    output = _output_activation(args)
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(args.seed)
    X = rng.random((args.samples, sizes[0])).astype(dtype)
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
    except (ValueError, TypeError, FloatingPointError, FileNotFoundError, ImportError) as exc:
        print(f"fastbp {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
