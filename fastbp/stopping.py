"""Early stopping for ``Network.fit(early_stopping=...)``."""

import math
from dataclasses import dataclass

from . import _validation as v

__all__ = ["EarlyStopping", "BestTracker"]


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for
    ``patience`` epochs; with ``restore_best`` the network ends with the
    weights of its best epoch.

    monitor: a recorded metric; costs are minimised, accuracies maximised.
    ``"val_cost"`` and ``"val_accuracy"`` need validation data (or
    ``validation_fraction``).
    """

    monitor: str = "val_cost"
    patience: int = 10
    min_delta: float = 0.0
    restore_best: bool = True

    def __post_init__(self):
        if not isinstance(self.monitor, str):
            raise TypeError(f"monitor must be a metric name such as 'val_cost'; got {self.monitor!r}")
        v.check_int("patience", self.patience, minimum=1)
        v.check_float("min_delta", self.min_delta, 0.0)
        v.check_bool("restore_best", self.restore_best)

    @property
    def mode(self):
        """'max' for accuracies, 'min' for everything else (costs)."""
        return "max" if self.monitor.endswith("accuracy") else "min"

    def improved(self, value, best):
        """Whether ``value`` beats ``best`` by more than min_delta."""
        if best is None:
            return math.isfinite(value)
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta


class BestTracker:
    """Follows one fit's records for an ``EarlyStopping`` rule (or none): keeps
    the best epoch's parameters and says when patience has run out. Every
    training loop (``Network.fit``, full-batch optimizers, MPI) uses this one."""

    def __init__(self, rule):
        self.rule = rule
        self.best = None          # (value, parameters, epoch)
        self.stalled = 0
        self.last_epoch = None    # the last epoch accounted for

    def update(self, record, parameters, epoch):
        """Account for one epoch's record; True when training should stop."""
        self.last_epoch = epoch
        if self.rule is None:
            return False
        value = record.get(self.rule.monitor)
        if value is None:
            raise ValueError(f"early stopping monitors {self.rule.monitor!r}, which is not recorded; "
                             f"recorded: {sorted(record)}")
        if self.rule.improved(value, None if self.best is None else self.best[0]):
            self.best = (value, parameters.copy(), epoch)
            self.stalled = 0
        else:
            self.stalled += 1
        return self.stalled >= self.rule.patience

    def restores(self):
        """The epoch whose parameters ``restore`` will put back, or None."""
        return self.best[2] if self.best is not None and self.rule.restore_best else None

    def catch_up(self, history, parameters):
        """After a Ctrl-C: account for the fit's last recorded epoch if the interruption came
        between recording it and ``update`` (in its callbacks, say)."""
        if len(history) and history.records[-1]["epoch"] != self.last_epoch:
            self.update(history.records[-1], parameters, history.records[-1]["epoch"])

    def restore(self, net, history):
        """With ``restore_best``, put the best epoch's parameters back into ``net``
        and note its epoch on the fit's history and on the network's."""
        if self.restores() is not None:
            net._theta[...] = self.best[1]
            history.best_epoch = net._best_epoch = self.best[2]
