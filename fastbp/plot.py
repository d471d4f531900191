"""Training curves as matplotlib figures (needs the ``fastbp[plot]`` extra).

matplotlib is imported only when a function here is called. The figures are
plain ``matplotlib.figure.Figure`` objects drawn on the non-interactive Agg
canvas: no pyplot state, no window, no change to the user's backend, so they
work on a headless machine and from threads. Save one with ``path=`` (or
``fig.savefig``); in Jupyter a returned figure displays itself.

>>> from fastbp import plot                                  # doctest: +SKIP
>>> fig = plot.history(net.fit(X, y, validation_data=(Xv, yv)), "history.png")
"""

import math
import os

from ._atomic import atomic_write

__all__ = ["history", "gradient_norms"]

_INSTALL = 'pip install "fastbp[plot]"'


def _require_matplotlib():
    """Import matplotlib's Figure and Agg canvas, or raise an ImportError saying how to install them."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(f"fastbp.plot needs matplotlib, which is not installed: {_INSTALL}") from error
    return Figure, FigureCanvasAgg


def _new_figure(n_axes, width):
    Figure, FigureCanvasAgg = _require_matplotlib()
    fig = Figure(figsize=(width, 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, n_axes, i + 1) for i in range(n_axes)]
    return fig, axes


# ------------------------------------------------------------------ input
def _number(value):
    """A float, or NaN for anything missing or not a number (None, lists)."""
    if value is None or isinstance(value, (list, tuple, dict, str)):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _records(history):
    """(list of per-epoch dicts, best_epoch or None) from a History, a dict of
    lists ({metric: values over epochs}) or a list of per-epoch dicts."""
    best = getattr(history, "best_epoch", None)
    if hasattr(history, "records"):
        records = list(history.records)
    elif isinstance(history, dict):
        for key, values in history.items():
            if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
                raise TypeError(f"history dict must map each metric to a list over epochs; "
                                f"{key!r} holds {values!r:.60}")
        columns = {key: list(values) for key, values in history.items()}
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"history dict must hold lists of one length (one entry per epoch); "
                             f"got lengths {sorted(lengths)}")
        n = lengths.pop() if lengths else 0
        records = [{key: values[i] for key, values in columns.items()} for i in range(n)]
    elif isinstance(history, (list, tuple)):
        records = list(history)
        if not all(isinstance(record, dict) for record in records):
            raise TypeError("a history list must hold one dict per epoch, like History.records")
    else:
        raise TypeError(f"history must be a fastbp.History, a dict of lists or a list of per-epoch dicts; "
                        f"got {type(history).__name__}")
    if not records:
        raise ValueError("history has no epochs to plot")
    return records, best


def _epochs(records):
    epochs = [_number(record.get("epoch")) for record in records]
    if all(math.isfinite(e) for e in epochs):
        return epochs
    return list(range(1, len(records) + 1))


def _column(records, key):
    """The metric over epochs (NaN where missing), or None when never recorded."""
    values = [_number(record.get(key)) for record in records]
    return values if any(math.isfinite(v) for v in values) else None


# ----------------------------------------------------------------- output
def _save(fig, path):
    """Save ``fig`` to ``path`` atomically: into a temporary file in the same
    directory, then ``os.replace``. The format follows the suffix (``.png``,
    ``.pdf``, ``.svg``, ...), PNG when there is none or matplotlib does not know it."""
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower().lstrip(".")
    fmt = suffix if suffix in fig.canvas.get_supported_filetypes() else "png"
    with atomic_write(path) as handle:
        fig.savefig(handle, format=fmt)

def _mark_best(ax, best):
    if best is not None:
        ax.axvline(best, color="0.4", linestyle="--", linewidth=1, label=f"best epoch {best}")


# ------------------------------------------------------------------ plots
_COST_LINES = (("cost", "training (running mean)"), ("train_cost", "training (full pass)"),
               ("val_cost", "validation"))
_ACCURACY_LINES = (("accuracy", "training (running mean)"), ("train_accuracy", "training (full pass)"),
                   ("val_accuracy", "validation"))


def history(history, path=None, title=None):
    """Cost and accuracy per epoch, side by side, as a matplotlib Figure.

    history : fastbp.History, dict or list
        What ``Network.fit`` returned, its ``as_dict()`` ({metric: list over
        epochs}) or its ``records`` (a list of per-epoch dicts).
    path : str or path-like, optional
        Also save the figure there (PNG, or the format of a known suffix such
        as ``.pdf`` or ``.svg``), atomically: a reader never sees a partial file.
    title : str, optional
        A title over both panels.

    The left axes show ``cost`` (the running mean over each epoch's
    mini-batches), ``train_cost`` and ``val_cost`` when recorded; the right
    axes ``accuracy``, ``train_accuracy`` and ``val_accuracy`` (for a
    regression history, with no accuracy, they say so). A dashed vertical
    line marks ``history.best_epoch`` (early stopping) when it is set.
    Returns the Figure (two axes); it is not shown: display it in Jupyter,
    or save it.
    """
    _require_matplotlib()
    records, best = _records(history)
    plotted = [key for key, _ in _COST_LINES + _ACCURACY_LINES]
    if not any(key in record for record in records for key in plotted):
        # Keras's History.history says "loss" and "val_loss": an empty figure would not say why.
        raise ValueError(f"history holds none of the metrics plotted here ({', '.join(plotted)}); "
                         f"got {sorted({key for record in records for key in record})}")
    epochs = _epochs(records)
    fig, (cost_ax, accuracy_ax) = _new_figure(2, 10.0)
    marker = "o" if len(records) <= 30 else None

    for key, label in _COST_LINES:
        values = _column(records, key)
        if values is not None:
            cost_ax.plot(epochs, values, marker=marker, markersize=3, label=label)
    cost_ax.set_xlabel("epoch")
    cost_ax.set_ylabel("cost")
    cost_ax.set_title("cost")
    cost_ax.grid(True, alpha=0.3)
    _mark_best(cost_ax, best)
    if cost_ax.lines:
        cost_ax.legend()

    accuracy_lines = [(key, label, _column(records, key)) for key, label in _ACCURACY_LINES]
    accuracy_lines = [(key, label, values) for key, label, values in accuracy_lines if values is not None]
    accuracy_ax.set_title("accuracy")
    if accuracy_lines:
        accuracy_ax.set_xlabel("epoch")
        for _, label, values in accuracy_lines:
            accuracy_ax.plot(epochs, values, marker=marker, markersize=3, label=label)
        accuracy_ax.set_ylabel("accuracy")
        accuracy_ax.grid(True, alpha=0.3)
        _mark_best(accuracy_ax, best)
        accuracy_ax.legend()
    else:
        accuracy_ax.text(0.5, 0.5, "no accuracy recorded\n(real-valued targets)", ha="center", va="center",
                         transform=accuracy_ax.transAxes, color="0.4")
        accuracy_ax.set_xticks([])
        accuracy_ax.set_yticks([])
    if title:
        fig.suptitle(title)
    if path is not None:
        _save(fig, path)
    return fig


def gradient_norms(history, path=None, title=None):
    """Per-layer gradient norms ‖∂C/∂W^l‖ per epoch, on a log scale, as a Figure.

    history : fastbp.History, dict or list
        From ``Network.fit(..., diagnostics=True)``, which records
        ``grad_norms`` (one norm per weight layer) each epoch; its
        ``as_dict()`` or ``records`` work too.
    path : str or path-like, optional
        Also save the figure there, atomically (PNG unless the suffix names
        another format matplotlib knows).
    title : str, optional

    One line per weight layer, labelled "layer 1" (inputs to the first
    hidden layer) to "layer L" (into the outputs). Early layers far below
    later ones mean vanishing gradients. Zero norms are left out (log
    scale). Raises ValueError when no epoch recorded ``grad_norms``.
    Returns the Figure (one axes).
    """
    _require_matplotlib()
    records, best = _records(history)
    rows = [record.get("grad_norms") for record in records]
    rows = [row if hasattr(row, "__len__") and not isinstance(row, (str, dict)) else None for row in rows]
    if all(row is None for row in rows):
        raise ValueError("the history has no 'grad_norms': train with net.fit(..., diagnostics=True) "
                         "to record per-layer gradient norms each epoch")
    n_layers = max(len(row) for row in rows if row is not None)
    epochs = _epochs(records)
    fig, (ax,) = _new_figure(1, 6.5)
    marker = "o" if len(records) <= 30 else None
    for layer in range(n_layers):
        values = []
        for row in rows:
            value = _number(row[layer]) if row is not None and layer < len(row) else math.nan
            values.append(value if value > 0 else math.nan)
        ax.plot(epochs, values, marker=marker, markersize=3, label=f"layer {layer + 1}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("‖∂C/∂W‖ (Frobenius)")
    ax.set_title("gradient norm per layer")
    ax.grid(True, which="both", alpha=0.3)
    _mark_best(ax, best)
    ax.legend()
    if title:
        fig.suptitle(title)
    if path is not None:
        _save(fig, path)
    return fig
