"""A drop-in for ``mnist_loader.py`` of Michael Nielsen's *Neural Networks and Deep Learning*.

Change the import, nothing else::

    import mnist_loader                                 # his code
    import fastbp.nielsen.mnist_loader as mnist_loader  # the same calls

    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()

``mnist.pkl.gz`` is read through fastbp's restricted unpickler
(``fastbp.datasets.load_mnist_pkl``), which rebuilds numpy arrays and tuples
only, so a tampered file cannot run code. Without a ``path`` the file is
looked for where his code looks (``../data/mnist.pkl.gz``, relative to the
working directory, as when running from his ``src/``), then at
``data/mnist.pkl.gz`` and ``mnist.pkl.gz``.

``load_data_wrapper`` returns lists, as his Python 2 code does (his Python 3
ports return ``zip`` objects, which can be iterated only once; a list serves
every use of those).
"""

import os

import numpy as np

from ..datasets import load_mnist_pkl

__all__ = ["load_data", "load_data_wrapper", "vectorized_result", "DEFAULT_PATHS"]

#: Where ``load_data()`` looks for the file when no path is given, in order.
DEFAULT_PATHS = ("../data/mnist.pkl.gz", "data/mnist.pkl.gz", "mnist.pkl.gz")


def _find(path):
    if path is not None:
        return path
    for candidate in DEFAULT_PATHS:
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"mnist.pkl.gz not found at {', '.join(DEFAULT_PATHS)} (relative to "
                            f"{os.getcwd()}); pass its path, e.g. load_data_wrapper('path/to/mnist.pkl.gz'). "
                            f"The file comes with github.com/mnielsen/neural-networks-and-deep-learning (data/)")


def load_data(path=None):
    """Return ``(training_data, validation_data, test_data)``, each a pair ``(X, y)``:
    X float32 (n, 784) pixels in [0, 1], y int64 (n,) digits; 50,000 / 10,000 / 10,000
    rows in his file."""
    return load_mnist_pkl(_find(path), dtype=np.float32, n_features=None)


def load_data_wrapper(path=None):
    """Return ``(training_data, validation_data, test_data)`` as lists of ``(x, y)`` tuples.

    x is a (784, 1) float32 column. In ``training_data`` y is the (10, 1)
    one-hot column of the digit (``vectorized_result``); in
    ``validation_data`` and ``test_data`` y is the digit (an int64).
    """
    tr_d, va_d, te_d = load_data(path)

    def columns(X):
        return list(X.reshape(X.shape[0], X.shape[1], 1))   # (784, 1) views, one per image

    if len(tr_d[1]) and (tr_d[1].min() < 0 or tr_d[1].max() > 9):
        raise ValueError(f"the training labels must be digits 0..9 for the one-hot (10, 1) targets; "
                         f"found {tr_d[1].min()}..{tr_d[1].max()}")
    one_hot = np.zeros((len(tr_d[1]), 10, 1))
    one_hot[np.arange(len(tr_d[1])), tr_d[1], 0] = 1.0       # vectorized_result for every label at once
    training_data = list(zip(columns(tr_d[0]), list(one_hot)))
    validation_data = list(zip(columns(va_d[0]), va_d[1]))
    test_data = list(zip(columns(te_d[0]), te_d[1]))
    return (training_data, validation_data, test_data)


def vectorized_result(j):
    """Return a (10, 1) unit vector with 1.0 in the j'th position: the desired output for digit j."""
    e = np.zeros((10, 1))
    e[j] = 1.0
    return e
