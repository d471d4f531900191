"""fastbp: fully connected networks trained by backpropagation, fast, on the CPU.

>>> import fastbp
>>> net = fastbp.Network([64, 30, 10], seed=0)
"""

from ._version import __version__
from .history import History
from .network import Network

__all__ = ["Network", "History", "__version__"]
