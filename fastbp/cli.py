"""The ``fastbp`` command line: ``fastbp train`` and friends."""

import argparse
import sys
import time

from . import __version__
from .datasets import load_digits, train_test_split
from .kernels.codes import COSTS, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .network import Network


def _sizes(text):
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes must be comma-separated integers such as 64,30,10; "
                                         f"got {text!r}") from None
    return sizes


def _parser():
    parser = argparse.ArgumentParser(prog="fastbp", description="Train fully connected networks fast.")
    parser.add_argument("--version", action="version", version=f"fastbp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train", help="train a network and report held-out accuracy",
        description="Train a network by mini-batch SGD. With no options: [64, 30, 10] on the built-in "
                    "8x8 digits, 25%% held out.")
    train.add_argument("--sizes", type=_sizes, default=None,
                       help="layer sizes, inputs first, e.g. 64,30,10 (default: features,30,classes)")
    train.add_argument("--hidden-activation", choices=HIDDEN_ACTIVATIONS, default="sigmoid")
    train.add_argument("--output-activation", choices=OUTPUT_ACTIVATIONS, default="sigmoid")
    train.add_argument("--cost", choices=tuple(COSTS), default="quadratic")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=10)
    train.add_argument("--learning-rate", "--eta", type=float, default=3.0)
    train.add_argument("--l2", type=float, default=0.0, help="L2 strength λ (cost += λ/2n Σw²)")
    train.add_argument("--test-fraction", type=float, default=0.25)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    train.add_argument("--quiet", action="store_true", help="print only the final summary")
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
        if "accuracy" in logs:
            fields.append(f"accuracy {logs['accuracy']:.4f}")
        fields.append(f"{rate:,.0f} samples/s")
        if self.bar is not None:
            self.bar.set_postfix_str(", ".join(fields))
            self.bar.update(1)
        elif not self.quiet:
            print(f"epoch {epoch}: " + ", ".join(fields), file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def train(args, out=None):
    out = sys.stdout if out is None else out
    X, y = load_digits()
    source = "built-in digits (1,797 8x8 images)"
    X_train, y_train, X_test, y_test = train_test_split(X, y, args.test_fraction, seed=args.seed)
    n_classes = int(y.max()) + 1
    sizes = args.sizes or [X.shape[1], 30, n_classes]
    net = Network(sizes, hidden_activation=args.hidden_activation, output_activation=args.output_activation,
                  cost=args.cost, dtype=args.dtype, seed=args.seed)
    if not args.quiet:
        print(f"fastbp {__version__}: {net} on {source}, {len(X_train)} training / {len(X_test)} held out",
              file=out, flush=True)
    progress = _Progress(args.epochs, len(X_train), args.quiet, out)
    started = time.perf_counter()
    try:
        history = net.fit(X_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                          learning_rate=args.learning_rate, l2=args.l2, callbacks=[progress])
    finally:
        progress.close()
    wall = time.perf_counter() - started
    scores = net.evaluate(X_test, y_test, l2=args.l2)
    train_time = sum(history["time"]) if len(history) else 0.0
    rate = len(X_train) * len(history) / max(train_time, 1e-12)
    accuracy = "n/a" if scores["accuracy"] is None else f"{scores['accuracy']:.4f}"
    print(f"held-out accuracy {accuracy}, cost {scores['cost']:.4f}, {len(history)} epochs, "
          f"{wall:.2f} s wall (compile included), {rate:,.0f} samples/s", file=out, flush=True)
    return 0


def main(argv=None):
    """Entry point of the ``fastbp`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return train(args)
    except (ValueError, TypeError, FloatingPointError) as exc:
        print(f"fastbp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
