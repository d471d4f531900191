"""Datasets: the built-in digits, and splitting data for held-out evaluation."""

import importlib.resources

import numpy as np

from . import _validation as v

__all__ = ["load_digits", "train_test_split"]


def load_digits(scale=True, dtype=np.float64):
    """The UCI optical-recognition digits shipped with fastbp (no download).

    1,797 images of 8x8 pixels with 17 grey levels, and their digit 0-9
    (the same data as scikit-learn's ``load_digits``; E. Alpaydin and
    C. Kaynak, UCI Machine Learning Repository, CC BY 4.0).

    Returns ``(X, y)``: X (1797, 64) of ``dtype``, scaled to [0, 1] when
    ``scale`` (else the raw 0-16 counts); y (1797,) int64 labels.
    """
    dtype = v.check_dtype(dtype)
    with importlib.resources.files("fastbp").joinpath("data/digits.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as data:
            X = data["X"].astype(dtype)
            y = data["y"].astype(np.int64)
    if scale:
        X /= dtype.type(16.0)
    return X, y


def train_test_split(X, y, test_fraction=0.25, seed=0, stratify=True):
    """Split rows into a training and a held-out part.

    X: (n, ...) array-like; y: (n,) labels or (n, ...) targets. With
    ``stratify`` and 1-D integer labels each class keeps its proportion in both
    parts. Returns ``(X_train, y_train, X_test, y_test)`` as numpy arrays.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    test_fraction = v.check_float("test_fraction", test_fraction, 0.0, 1.0, low_open=True, high_open=True)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if len(X) < 2:
        raise ValueError(f"need at least 2 samples to split; got {len(X)}")
    rng = np.random.default_rng(seed)
    if stratify and y.ndim == 1 and y.dtype.kind in "iub":
        test = []
        for label in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == label))
            test.extend(members[:int(round(test_fraction * len(members)))])
        is_test = np.zeros(len(y), dtype=bool)
        is_test[test] = True
    else:
        is_test = np.zeros(len(y), dtype=bool)
        is_test[rng.permutation(len(y))[:max(1, int(round(test_fraction * len(y))))]] = True
    train_idx = rng.permutation(np.flatnonzero(~is_test))
    test_idx = np.flatnonzero(is_test)
    return X[train_idx], y[train_idx], X[test_idx], y[test_idx]
