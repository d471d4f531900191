"""Learning-rate schedules for ``Network.fit(schedule=...)``.

A schedule maps the epoch about to run and the records of the epochs before
it to that epoch's learning rate, or to None to stop training. Every
built-in is a pure function of that history, so a fit continued over several
calls follows the same rates as one long fit.
"""

import math
from dataclasses import dataclass

from . import _validation as v

__all__ = ["Constant", "InverseScaling", "StepDecay", "Adaptive", "Halving", "get"]


def _better(value, best, mode, delta):
    return value < best - delta if mode == "min" else value > best + delta


def _mode(monitor):
    return "max" if monitor.endswith("accuracy") else "min"


def _stall_events(records, monitor, delta, limit):
    """How many times the monitored value went ``limit`` epochs without beating
    its best by more than ``delta``; the count restarts after each event and
    the best is kept (scikit-learn's ``_no_improvement_count``). Epochs of
    earlier fits that did not record the monitor (no validation data then)
    are passed over; the fit itself checks that it records it."""
    mode = _mode(monitor)
    best = math.inf if mode == "min" else -math.inf
    stalled = events = 0
    for record in records:
        if monitor not in record:
            continue
        value = record[monitor]
        if value is None or not math.isfinite(value):
            raise ValueError(f"schedule monitors {monitor!r}, which the history does not record; "
                             f"recorded: {sorted(record)}")
        if _better(value, best, mode, delta):
            stalled = 0
        else:
            stalled += 1
        if (value < best) if mode == "min" else (value > best):
            best = value
        if stalled >= limit:
            events += 1
            stalled = 0
    return events


@dataclass(frozen=True)
class Constant:
    """η every epoch."""

    def rate(self, epoch, lr0, records):
        """The learning rate (a float) for ``epoch`` (1-based) from the base rate ``lr0`` and the
        records (dicts) of the epochs before it; None stops training."""
        return lr0


@dataclass(frozen=True)
class InverseScaling:
    """η / epoch^power_t (epoch counted from 1): scikit-learn's 'invscaling', which counts
    samples seen instead of epochs."""

    power_t: float = 0.5

    def __post_init__(self):
        v.check_float("power_t", self.power_t, 0.0)

    def rate(self, epoch, lr0, records):
        """The learning rate (a float) for ``epoch`` (1-based) from the base rate ``lr0`` and the
        records (dicts) of the epochs before it; None stops training."""
        return lr0 / epoch ** self.power_t


@dataclass(frozen=True)
class StepDecay:
    """η · gamma^⌊(epoch − 1)/step_size⌋: multiply by gamma every step_size epochs."""

    step_size: int = 10
    gamma: float = 0.5

    def __post_init__(self):
        v.check_int("step_size", self.step_size, minimum=1)
        v.check_float("gamma", self.gamma, 0.0, 1.0, low_open=True)

    def rate(self, epoch, lr0, records):
        """The learning rate (a float) for ``epoch`` (1-based) from the base rate ``lr0`` and the
        records (dicts) of the epochs before it; None stops training."""
        return lr0 * self.gamma ** ((epoch - 1) // self.step_size)


@dataclass(frozen=True)
class Adaptive:
    """scikit-learn's 'adaptive': keep η while the monitored value improves;
    after more than ``patience`` epochs without an improvement of ``tol``,
    divide η by 5 (``factor``=0.2) and start counting again; when that
    happens with η already at or below ``min_lr``, stop."""

    monitor: str = "cost"
    patience: int = 10          # scikit-learn's n_iter_no_change
    tol: float = 1e-4
    factor: float = 0.2
    min_lr: float = 1e-6

    def __post_init__(self):
        v.check_monitor("monitor", self.monitor)
        v.check_int("patience", self.patience, minimum=0)
        v.check_float("tol", self.tol, 0.0)
        v.check_float("factor", self.factor, 0.0, 1.0, low_open=True, high_open=True)
        v.check_float("min_lr", self.min_lr, 0.0)

    def rate(self, epoch, lr0, records):
        """The learning rate (a float) for ``epoch`` (1-based) from the base rate ``lr0`` and the
        records (dicts) of the epochs before it; None stops training."""
        lr = lr0
        for _ in range(_stall_events(records, self.monitor, self.tol, self.patience + 1)):
            if lr <= self.min_lr:
                return None
            lr *= self.factor
        return lr


@dataclass(frozen=True)
class Halving:
    """Nielsen's exercise: halve η when the monitored value (validation
    accuracy by default) has not improved for ``patience`` epochs; stop when η
    has fallen to ``min_fraction`` (1/128) of its start."""

    monitor: str = "val_accuracy"
    patience: int = 10
    min_fraction: float = 1 / 128

    def __post_init__(self):
        v.check_monitor("monitor", self.monitor)
        v.check_int("patience", self.patience, minimum=1)
        v.check_float("min_fraction", self.min_fraction, 0.0, 1.0, low_open=True, high_open=True)

    def rate(self, epoch, lr0, records):
        """The learning rate (a float) for ``epoch`` (1-based) from the base rate ``lr0`` and the
        records (dicts) of the epochs before it; None stops training."""
        lr = lr0 / 2 ** _stall_events(records, self.monitor, 0.0, self.patience)
        return None if lr <= lr0 * self.min_fraction * (1 + 1e-12) else lr


_NAMES = {"constant": Constant, "invscaling": InverseScaling, "step": StepDecay,
          "adaptive": Adaptive, "halving": Halving}


def get(schedule):
    """A schedule from an instance (anything with ``rate(epoch, lr0, records)``)
    or a name in {'constant', 'invscaling', 'step', 'adaptive', 'halving'}."""
    if isinstance(schedule, str):
        if schedule in _NAMES:
            return _NAMES[schedule]()
    elif isinstance(schedule, type):
        raise TypeError(f"schedule must be an instance such as {schedule.__name__}(); got the class "
                        f"{schedule.__name__}")
    elif callable(getattr(schedule, "rate", None)):
        return schedule
    raise ValueError(f"schedule must be one of {', '.join(map(repr, _NAMES))} or an object with a "
                     f"rate(epoch, lr0, records) method; got {schedule!r}")
