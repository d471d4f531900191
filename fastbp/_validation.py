"""The one validation layer: every public entry point checks input here.

Compiled kernels trust their input (a wrong shape or index reads or writes
outside an array), so everything that reaches them is converted and checked
first: C-contiguous arrays of the network's dtype, shapes that match the
network, finite values, labels within the outputs. Each error names the
argument, what was expected, and what was received.
"""

import math
import numbers
import operator

import numpy as np

from . import _aligned

#: Copies of inputs from this size on are made 64-byte aligned (_aligned.py):
#: small ones gain nothing from it, and finding an address costs a
#: microsecond or two, which a partial_fit loop of small batches pays per call.
ALIGNED_COPY_BYTES = 1 << 16

MAX_PARAMETERS = 2**40   # a flat buffer beyond this cannot be allocated anyway


def describe(a):
    return f"shape {a.shape} and dtype {a.dtype}"


def check_dtype(dtype):
    """np.dtype float32 or float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64; got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64; got {dt}")
    return dt


def check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_monitor(name, value):
    """A monitored metric's name (a str such as 'val_cost'); TypeError otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a metric name such as 'val_cost'; got {value!r}")
    return value


def check_bool(name, value):
    """``value`` as a bool: True, False or a numpy bool (not a string or number, whose truth
    would be a guess: shuffle="no" is true)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def check_int(name, value, minimum=None, maximum=None):
    """An integral number (not bool) within [minimum, maximum], as a Python int."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer; got {value!r} of type {type(value).__name__}")
    value = operator.index(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}; got {value}")
    return value


def check_float(name, value, low=None, high=None, low_open=False, high_open=False):
    """A finite real number within the given bounds, as a Python float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number; got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}; got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}; got {value}")
    return value


def check_sizes(sizes):
    """Layer sizes as a tuple of at least two positive ints."""
    if isinstance(sizes, (str, bytes, set, frozenset, dict)) or not hasattr(sizes, "__len__"):
        # (a set or dict has no dependable order: {64, 30, 10} iterates as 64, 10, 30)
        raise TypeError(f"sizes must be an ordered sequence of layer sizes such as [784, 30, 10]; got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least two layers (inputs and outputs); got {list(sizes)!r}")
    out = tuple(check_int(f"sizes[{i}]", s, minimum=1) for i, s in enumerate(sizes))
    n_params = sum(a * b + b for a, b in zip(out[:-1], out[1:]))
    if n_params > MAX_PARAMETERS:
        raise ValueError(f"sizes {list(out)} need {n_params} parameters, more than the {MAX_PARAMETERS} supported")
    return out


def _as_numeric(name, data):
    """np.asarray with clear errors for ragged, non-numeric and complex input."""
    try:
        arr = np.asarray(data)
    except ValueError as exc:   # ragged nested sequences
        raise ValueError(f"{name} must be a rectangular numeric array; {exc}") from None
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must contain numbers; got an object array that is not numeric") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must contain real numbers; got dtype {arr.dtype}")
    return arr


def all_finite(arr):
    """True when a float array holds no NaN or infinity.

    The sum is finite exactly when every element is, unless it overflows:
    one pass with no temporary (scikit-learn's trick), and the exact
    element-wise test only when the sum is not finite.
    """
    if arr.dtype.kind != "f":
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(arr)):
            return True
    return bool(np.isfinite(arr).all())


def _to_dtype(name, arr, dtype, finite=True):
    """C-contiguous copy-if-needed in ``dtype``, rejecting NaN/inf and overflow.

    finite=False skips the NaN/inf scan when ``arr`` is already of ``dtype``
    (the caller's kernels check every element as they read it); a
    conversion is always checked, since it can overflow."""
    if (finite or arr.dtype != np.dtype(dtype)) and not all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinity")
    needs_copy = arr.dtype != np.dtype(dtype) or not arr.flags.c_contiguous or not arr.flags.writeable
    if needs_copy and arr.size * np.dtype(dtype).itemsize >= ALIGNED_COPY_BYTES:
        # On a cache line, as the kernels read it fastest (_aligned.py; W2 parallel epochs 1.05x).
        out = _aligned.empty(arr.shape, dtype)
        with np.errstate(over="ignore"):
            out[...] = arr
    else:
        with np.errstate(over="ignore"):
            out = np.ascontiguousarray(arr, dtype=dtype)    # arr itself, or a 0-d value as shape (1,)
        if not out.flags.writeable:
            # numba types read-only arrays apart: passing one would compile
            # every kernel again (~10 s), so take a writable copy instead.
            out = out.copy()
    if out.dtype.kind == "f" and arr.dtype != out.dtype and not all_finite(out):
        raise ValueError(f"{name} has values too large for {np.dtype(dtype)} (largest {np.finfo(dtype).max:.3g})")
    return out


def as_features(X, n_features, dtype, name="X", finite=True):
    """X as a C-contiguous (n_samples, n_features) array of ``dtype``, n_samples >= 1.

    finite=False: NaN/inf are left for the caller to detect (see _to_dtype)."""
    arr = _as_numeric(name, X)
    if arr.ndim != 2:
        hint = " (use X.reshape(1, -1) for a single sample)" if arr.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (n_samples, {n_features}); got {arr.ndim}-D with shape {arr.shape}{hint}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one sample; got shape {arr.shape}")
    if arr.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} features (columns) to match the network's input layer; "
                         f"got shape {arr.shape}")
    return _to_dtype(name, arr, dtype, finite)


def _integral(arr):
    if arr.dtype.kind in "biu":
        return True
    return bool(np.all(np.floor(arr) == arr))


def as_targets(y, n_samples, n_outputs, dtype, cost, name="y"):
    """Targets for ``n_samples`` rows of a network with ``n_outputs`` outputs.

    Accepts integer class labels (1-D, or an (n, 1) column when n_outputs > 1),
    one-hot indexed into the outputs, or an (n, n_outputs) target array.
    For the poisson cost y holds counts: (n, n_outputs), or 1-D for one output.
    Returns (Y, labels): Y a C-contiguous (n, n_outputs) array of ``dtype``;
    labels an int64 (n,) array of class indices when accuracy is defined
    (labels given, one-hot rows, or a single 0/1 output; never for counts),
    else an empty array.
    """
    arr = _as_numeric(name, y)
    if arr.ndim == 0 or arr.ndim > 2:
        raise ValueError(f"{name} must be 1-D class labels or 2-D (n_samples, {n_outputs}) targets; "
                         f"got {arr.ndim}-D with shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} rows but X has {n_samples} samples")
    if not all_finite(arr):
        raise ValueError(f"{name} contains NaN or infinity")
    shape = f"{arr.ndim}-D" if arr.ndim == 1 else f"a {arr.shape} column"
    no_labels = np.empty(0, dtype=np.int64)
    if cost == "poisson":       # counts, never class labels: no accuracy either
        if arr.ndim == 1 and n_outputs == 1:
            arr = arr.reshape(-1, 1)
        if arr.shape[1:] != (n_outputs,):
            raise ValueError(f"{name} holds counts for the poisson cost, so it must be (n_samples, {n_outputs}) "
                             f"(or 1-D for one output); got shape {arr.shape}")
        Y = _to_dtype(name, arr, dtype)
        _check_target_range(name, Y, cost)
        return Y, no_labels
    if arr.ndim == 2 and arr.shape[1] == 1 and n_outputs > 1:
        arr = arr[:, 0]

    if arr.ndim == 1:
        if n_outputs == 1:
            Y = _to_dtype(name, arr.reshape(-1, 1), dtype)
            _check_target_range(name, Y, cost)
            binary = bool(np.all((arr == 0) | (arr == 1)))
            return Y, (arr.astype(np.int64) if binary else no_labels)
        if not _integral(arr):
            raise ValueError(f"{name} is {shape}, so it must hold integer class labels 0..{n_outputs - 1}; "
                             f"got non-integer values such as {arr[np.floor(arr) != arr][0]!r}. "
                             f"Give a 2-D (n_samples, {n_outputs}) array for real-valued targets")
        labels = arr.astype(np.int64)
        bad = (labels < 0) | (labels >= n_outputs)
        if bad.any():
            raise ValueError(f"{name} has class labels outside 0..{n_outputs - 1} (one per output unit); "
                             f"got {np.unique(labels[bad])[:10].tolist()}")
        Y = np.zeros((n_samples, n_outputs), dtype=dtype)
        Y[np.arange(n_samples), labels] = 1
        return Y, labels

    if arr.shape[1] != n_outputs:
        raise ValueError(f"{name} must have {n_outputs} columns to match the network's output layer; "
                         f"got shape {arr.shape}")
    Y = _to_dtype(name, arr, dtype)
    _check_target_range(name, Y, cost)
    if n_outputs == 1:
        binary = bool(np.all((Y == 0) | (Y == 1)))
        return Y, (Y[:, 0].astype(np.int64) if binary else no_labels)
    one_hot = bool(np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=1) == 1))
    return Y, (np.argmax(Y, axis=1).astype(np.int64) if one_hot else no_labels)


def _check_target_range(name, Y, cost):
    if cost == "cross_entropy" and (Y.min() < 0 or Y.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1] for the cross_entropy cost; "
                         f"got values from {Y.min():g} to {Y.max():g}")
    if cost in ("log_likelihood", "poisson") and Y.min() < 0:
        raise ValueError(f"{name} must be non-negative for the {cost} cost; got minimum {Y.min():g}")


def weight_exponent(weights):
    """The integer e with max(weights) / 2**e in (0.5, 1], for a float64 array
    of finite non-negative ``weights``, not all zero."""
    mantissa, exponent = math.frexp(float(weights.max()))
    return exponent - 1 if mantissa == 0.5 else exponent


def as_sample_weight(sample_weight, n_samples, dtype, name="sample_weight", exponent=None):
    """(n_samples,) non-negative weights of ``dtype``, not all zero, divided by
    2**exponent; ones if None.

    Only the weights' ratios matter, so by default they are divided by the
    power of two that brings the largest into (0.5, 1]. That division is
    exact, so results are those of the weights as given, but a float32
    network no longer overflows its weighted sums (weights near 1e36) or
    flushes its reciprocal of a batch's total weight to zero (totals above
    1e38). ``exponent`` (int): the division to use instead (distributed
    training gives every rank's shard the one of the largest weight
    anywhere; see ``weight_exponent``).
    """
    if sample_weight is None:
        if not exponent:
            return np.ones(n_samples, dtype=dtype)
        sample_weight = 1.0
    arr = _as_numeric(name, sample_weight)
    if arr.ndim == 0:
        arr = np.full(n_samples, arr, dtype=np.float64)
    if arr.shape != (n_samples,):
        raise ValueError(f"{name} must have shape ({n_samples},), one weight per sample; got shape {arr.shape}")
    arr = _to_dtype(name, arr, np.float64)
    if (arr < 0).any():
        raise ValueError(f"{name} must be non-negative; got minimum {arr.min():g}")
    if not (arr > 0).any():
        raise ValueError(f"{name} must not be all zero")
    scaled = np.ldexp(arr, -(weight_exponent(arr) if exponent is None else exponent))
    tiny = np.finfo(dtype).tiny
    positive = scaled[scaled > 0]
    if positive.min() < tiny:
        # The kernels flush subnormal numbers to zero (kernels/fpu.py): such a weight would count as 0.
        raise ValueError(f"{name} spans too wide a range for {np.dtype(dtype).name}: its smallest positive "
                         f"weight is {positive.min():g} of the largest, below {tiny:g}, the smallest normal "
                         f"{np.dtype(dtype).name}, which the kernels treat as zero; drop those rows or use "
                         f"float64")
    return scaled.astype(dtype)


def check_validation_data(validation_data):
    """A (X, y) pair, as a tuple."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise TypeError("validation_data must be a pair (X_val, y_val); "
                        f"got {type(validation_data).__name__}")
    return tuple(validation_data)


def check_writable_path(name, path, probe=True):
    """A path whose directory exists, as a string (the file itself may not).

    probe: also create and remove a temporary file in that directory, so a
    directory that takes no new file is refused now rather than at a write
    that comes after training; a caller writing at once leaves it to the
    write, which raises the same error (``_atomic``)."""
    import os
    try:
        path = os.fspath(path)
    except TypeError:
        raise TypeError(f"{name} must be a file path; got {path!r}") from None
    if not path:
        raise ValueError(f"{name} must be a file path; got an empty one")
    target = os.path.realpath(path) if os.path.islink(path) else path    # where the write will go (_atomic)
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        raise ValueError(f"{name}: the directory {directory!r} does not exist"
                         + (f" (the link {path!r} points into it)" if target != path else ""))
    if os.path.isdir(path):
        raise ValueError(f"{name} must be a file path, not the directory {path!r}")
    if probe:
        from ._atomic import check_creatable
        check_creatable(target, directory)
    return path
