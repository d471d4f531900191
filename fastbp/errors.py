"""Exceptions fastbp raises beyond the built-in ValueError and TypeError."""

__all__ = ["NumericalError"]


class NumericalError(FloatingPointError, ValueError):
    """The arithmetic left the finite floating-point range: training diverged
    (the cost or the parameters became NaN or infinite), or inputs are so
    large that the network's outputs overflow.

    It is a FloatingPointError (what numpy users expect from overflow) and a
    ValueError (bad input or hyperparameters caused it), so either ``except``
    catches it. The network's state is left as documented where it is raised.
    """
