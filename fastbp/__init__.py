"""fastbp: fully connected networks trained by backpropagation, fast, on the CPU.

>>> import fastbp
>>> net = fastbp.Network([64, 30, 10], seed=0)
"""

from . import optimizers, schedules
from ._version import __version__
from .errors import NumericalError
from .history import History
from .io import load, save
from .network import Network
from .stopping import EarlyStopping

__all__ = ["Network", "History", "EarlyStopping", "NumericalError", "load", "save", "optimizers", "schedules",
           "__version__"]
