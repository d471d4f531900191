"""Early stopping for ``Network.fit(early_stopping=...)``."""

import math
from dataclasses import dataclass

from . import _validation as v

__all__ = ["EarlyStopping"]


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

    @property
    def mode(self):
        return "max" if self.monitor.endswith("accuracy") else "min"

    def improved(self, value, best):
        """Whether ``value`` beats ``best`` by more than min_delta."""
        if best is None:
            return math.isfinite(value)
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta
