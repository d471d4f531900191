"""Early stopping for ``Network.fit(early_stopping=...)``."""

import math
from dataclasses import dataclass

from . import _validation as v

__all__ = ["EarlyStopping", "BestTracker", "StoppingProgress"]


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
        # Kept as the Python types the checks return (numpy scalars would not go into a checkpoint's JSON).
        for name, value in (("monitor", str(v.check_monitor("monitor", self.monitor))),
                            ("patience", v.check_int("patience", self.patience, minimum=1)),
                            ("min_delta", v.check_float("min_delta", self.min_delta, 0.0)),
                            ("restore_best", v.check_bool("restore_best", self.restore_best))):
            object.__setattr__(self, name, value)

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


@dataclass(frozen=True)
class StoppingProgress:
    """Where a fit's early stopping stood at a checkpoint written before the fit ended, so
    that a fit resumed from the file goes on counting as the uninterrupted one would have:
    its ``rule``, the fit's ``first_epoch``, its ``best_epoch`` so far (None before one) and,
    with ``restore_best``, that epoch's parameters (``best_parameters``, a flat array of the
    network's dtype; None while the best epoch is the last recorded one, whose parameters
    the file holds anyway)."""

    rule: EarlyStopping
    first_epoch: int
    best_epoch: object = None
    best_parameters: object = None


class BestTracker:
    """Follows one fit's records for an ``EarlyStopping`` rule (or none): keeps
    the best epoch's parameters and says when patience has run out. Every
    training loop (``Network.fit``, full-batch optimizers, MPI) uses this one.

    ``first_epoch`` is the fit's first epoch (what a checkpoint's ``progress`` says)."""

    def __init__(self, rule, first_epoch=1):
        self.rule = rule
        self.first_epoch = first_epoch
        self.best = None          # (value, parameters, epoch)
        self.stalled = 0
        self.last_epoch = None    # the last epoch accounted for
        self.resumed = False      # went on from a checkpoint's progress
        self.accounted = False    # accounted for an epoch of this fit

    def update(self, record, parameters, epoch):
        """Account for one epoch's record; True when training should stop."""
        self.last_epoch = epoch
        self.accounted = True
        if self.rule is None:
            return False
        value = record.get(self.rule.monitor)
        if value is None:
            raise ValueError(f"early stopping monitors {self.rule.monitor!r}, which is not recorded; "
                             f"recorded: {sorted(record)}")
        if self.rule.improved(value, None if self.best is None else self.best[0]):
            self.best = (value, None if parameters is None else parameters.copy(), epoch)
            self.stalled = 0
        else:
            self.stalled += 1
        return self.stalled >= self.rule.patience

    def exhausted(self):
        """Whether patience has run out (a fit resumed from its last epoch's checkpoint trains none)."""
        return self.rule is not None and self.stalled >= self.rule.patience

    def progress(self, last_epoch):
        """A ``StoppingProgress`` for a checkpoint holding the parameters of ``last_epoch``
        (None without a rule)."""
        if self.rule is None:
            return None
        best_epoch = None if self.best is None else self.best[2]
        keep = self.rule.restore_best and best_epoch is not None and best_epoch != last_epoch
        return StoppingProgress(self.rule, self.first_epoch, best_epoch, self.best[1] if keep else None)

    def resume(self, progress, records, parameters):
        """Go on from ``progress`` (read from a checkpoint whose epoch records are ``records``
        and whose parameters are ``parameters``): replay the fit's recorded epochs under the
        rule, and take the best epoch's parameters from the progress, or from ``parameters``
        when it is the last recorded epoch. ValueError when the progress does not match the
        records (so ``load`` can refuse such a file); nothing changes then."""
        if progress.rule != self.rule:
            raise ValueError(f"early stopping's progress is for {progress.rule}, not {self.rule}")
        if not 1 <= progress.first_epoch <= len(records):
            raise ValueError(f"early stopping's first epoch {progress.first_epoch} is not a recorded epoch "
                             f"(1 to {len(records)})")
        replay = BestTracker(self.rule, progress.first_epoch)
        for record in records[progress.first_epoch - 1:]:
            replay.update(record, None, record["epoch"])
        best_epoch = None if replay.best is None else replay.best[2]
        if best_epoch != progress.best_epoch:
            raise ValueError(f"early stopping's best epoch is {progress.best_epoch}, but its records make it "
                             f"{best_epoch}")
        if best_epoch is not None and self.rule.restore_best:
            if best_epoch == len(records):
                best = parameters.copy()
            elif progress.best_parameters is None:
                raise ValueError(f"early stopping's progress lacks the parameters of its best epoch, {best_epoch}")
            else:
                best = progress.best_parameters.copy()
            replay.best = (replay.best[0], best, best_epoch)
        self.__dict__.update(vars(replay), resumed=True, accounted=False)

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
        and note its epoch on the fit's history and on the network's. A resumed fit
        that trained no epoch does so only if patience had run out (then the
        interrupted fit has ended, and its progress is used up); otherwise it
        leaves the network, and the progress, alone."""
        if self.resumed and not self.accounted:
            if not self.exhausted():
                return
            net._stopping_progress = None
        if self.restores() is not None:
            net._theta[...] = self.best[1]
            history.best_epoch = net._best_epoch = self.best[2]
