"""Update rules for ``Network.fit(optimizer=...)``.

Stochastic rules run inside the compiled epoch on the flat parameter buffer;
their state (velocity, Adam moments and step count) lives on the network and
carries over from one ``fit`` call to the next, so n calls of one epoch equal
one call of n epochs. Full-batch rules hand the compiled cost and gradient to
``scipy.optimize.minimize``, the route Ng's ex4 takes.
"""

from dataclasses import dataclass

from . import _validation as v
from .kernels import codes

__all__ = ["SGD", "Adam", "LBFGS", "CG", "get"]


@dataclass(frozen=True)
class SGD:
    """Mini-batch SGD, optionally with momentum μ (scikit-learn's form):
    v ← μv − ηg, θ ← θ + v; with ``nesterov=True``, θ ← θ + μv − ηg.
    ``momentum=0`` is plain SGD, whose update is fused into backpropagation.
    """

    momentum: float = 0.0
    nesterov: bool = False

    def __post_init__(self):
        v.check_float("momentum", self.momentum, 0.0, 1.0, high_open=True)
        if not isinstance(self.nesterov, bool):
            raise TypeError(f"nesterov must be True or False; got {self.nesterov!r}")
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")

    @property
    def code(self):
        """The kernels' integer code for this rule: codes.SGD, MOMENTUM or NESTEROV."""
        if self.momentum == 0.0:
            return codes.SGD
        return codes.NESTEROV if self.nesterov else codes.MOMENTUM

    full_batch = False


@dataclass(frozen=True)
class Adam:
    """Adam (Kingma & Ba 2015) with bias correction; defaults from the paper.

    The step is scikit-learn's form, θ ← θ − η·√(1−β2ᵗ)/(1−β1ᵗ)·m/(√v + ε) with
    the raw moments m, v: PyTorch's ``torch.optim.Adam`` (and the paper's
    Algorithm 1) with ε/√(1−β2ᵗ) in place of ε. The two agree while ε is
    small next to √v; with a large ε (1e-3, say) the early steps differ.
    """

    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8

    def __post_init__(self):
        v.check_float("beta1", self.beta1, 0.0, 1.0, high_open=True)
        v.check_float("beta2", self.beta2, 0.0, 1.0, high_open=True)
        v.check_float("epsilon", self.epsilon, 0.0, low_open=True)

    code = codes.ADAM
    full_batch = False


@dataclass(frozen=True)
class LBFGS:
    """Full-batch L-BFGS-B through scipy.optimize.minimize; each epoch is one
    iteration. ``max_fun`` bounds cost/gradient evaluations per fit."""

    max_fun: int = 15000
    method = "L-BFGS-B"
    full_batch = True

    def __post_init__(self):
        v.check_int("max_fun", self.max_fun, minimum=1)


@dataclass(frozen=True)
class CG:
    """Full-batch nonlinear conjugate gradient through scipy.optimize.minimize."""

    method = "CG"
    full_batch = True


_NAMES = {
    "sgd": SGD,
    "momentum": lambda: SGD(momentum=0.9),
    "nesterov": lambda: SGD(momentum=0.9, nesterov=True),
    "adam": Adam,
    "lbfgs": LBFGS,
    "cg": CG,
}


def get(optimizer):
    """An optimizer instance from an instance or a name in
    {'sgd', 'momentum', 'nesterov', 'adam', 'lbfgs', 'cg'}."""
    for rule in (SGD, Adam):
        if isinstance(optimizer, rule):
            # A subclass runs as the rule the compiled kernels implement; naming that rule keeps its
            # state (and saved files) interchangeable with the rule's own instances.
            return optimizer if type(optimizer) is rule else rule(
                **{name: getattr(optimizer, name) for name in rule.__dataclass_fields__})
    if isinstance(optimizer, (LBFGS, CG)):
        return optimizer    # as given: a subclass may name another scipy method; there is no state
    if isinstance(optimizer, str) and optimizer in _NAMES:
        return _NAMES[optimizer]()
    raise ValueError(f"optimizer must be one of {', '.join(map(repr, _NAMES))} or an instance of "
                     f"fastbp.optimizers.SGD/Adam/LBFGS/CG; got {optimizer!r}")
