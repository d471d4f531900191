"""Per-epoch training records."""

import math
import numbers

__all__ = ["History"]


def _fresh(value):
    """A metric's value, a per-layer list copied (numbers are immutable)."""
    return list(value) if isinstance(value, list) else value


def copy_record(record):
    """A copy of one epoch's record sharing nothing mutable with it."""
    return {key: _fresh(value) for key, value in record.items()}


class History:
    """What ``Network.fit`` measured, one record per completed epoch.

    ``history["cost"]`` is the list of one metric across epochs (float, or
    NaN where a metric was not measured that epoch); ``history.records`` is
    the list of per-epoch dicts; ``history.keys()`` the metrics present.
    Keys: ``epoch`` (1-based, counted over the network's life), ``cost``
    (training cost: the running mean over the epoch's mini-batches plus the
    L2/L1 penalty at the epoch's end), ``accuracy`` (training accuracy over
    the same running pass, when targets are class labels: over the rows of
    the mini-batches that trained, since one whose sample weights sum to
    zero is skipped), ``train_cost`` and
    ``train_accuracy`` (a full pass over the training set after the epoch,
    with ``evaluate_training=True``), ``val_cost`` and ``val_accuracy``
    (after the epoch, when validation data is given), ``grad_norms``,
    ``saturation`` and ``dead_units`` (per layer, with ``diagnostics=True``),
    ``learning_rate`` and ``time`` (seconds).
    """

    def __init__(self):
        self.records = []
        #: True when Ctrl-C ended training early (the last epoch is not recorded).
        self.interrupted = False
        #: With early stopping, the epoch whose parameters the network kept.
        self.best_epoch = None
        #: For full-batch optimizers, scipy's OptimizeResult.
        self.optimizer_result = None

    def append(self, record):
        """Add one epoch's record (a dict of metric name -> value; copied)."""
        self.records.append(copy_record(record))

    def keys(self):
        """Every metric name any record holds, in the order first seen (a list of str)."""
        seen = {}
        for record in self.records:
            seen.update(dict.fromkeys(record))
        return list(seen)

    def __getitem__(self, key):
        """``history["cost"]``: one metric over the epochs (a list); ``history[-1]``: one
        epoch's record (a dict copy); ``history[a:b]``: those records (a list of dicts)."""
        if isinstance(key, slice):
            return [copy_record(record) for record in self.records[key]]
        if isinstance(key, numbers.Integral) and not isinstance(key, bool):
            try:
                return copy_record(self.records[key])
            except IndexError:
                raise IndexError(f"epoch index {key} is out of range for {len(self)} recorded epochs") from None
        if key not in self.keys():
            raise KeyError(f"{key!r} was not recorded; recorded: {self.keys()}")
        return [_fresh(record.get(key, math.nan)) for record in self.records]

    def __contains__(self, key):
        return key in self.keys()

    def __len__(self):
        return len(self.records)

    def __iter__(self):
        """The epochs' records, as copies (as ``history[i]`` gives them)."""
        return (copy_record(record) for record in self.records)

    def as_dict(self):
        """{metric: list over epochs}, like Keras' ``History.history``."""
        return {key: self[key] for key in self.keys()}

    @property
    def history(self):
        """``as_dict()`` under Keras' name, so ``h.history["val_cost"]`` works as ``h.history["val_loss"]``
        does in Keras (a fresh dict: editing it changes nothing recorded)."""
        return self.as_dict()

    def __repr__(self):
        if not self.records:
            return "History(no epochs)"
        last = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in self.records[-1].items())
        return f"History({len(self)} epochs; last: {last})"
