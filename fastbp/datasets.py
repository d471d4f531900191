"""Datasets: the built-in digits, loaders for data files, and splitting data for held-out evaluation.

Loaders: MNIST in its original IDX files (``load_mnist_idx``, ``read_idx``),
Nielsen's ``mnist.pkl.gz`` (``load_mnist_pkl``), numpy ``.npz`` archives
(``load_npz``), CSV text (``load_csv``), and ``load``, which picks one from a
format name or the path.

Loading never runs code from a file: ``.npz`` files are read with
``allow_pickle=False``, and the pickle loader rebuilds numpy arrays and tuples
only, through an unpickler that refuses every other global. Sizes claimed by
a file's header are checked against the bytes actually present before
anything is allocated. Problems raise ``ValueError`` or ``TypeError`` naming
the file, what was expected and what was found; a missing file raises
``FileNotFoundError`` with its path.
"""

import contextlib
import csv
import errno
import gzip
import importlib.resources
import io
import math
import os
import pickle
import pickletools
import struct
import zipfile
import zlib

import numpy as np

from . import _validation as v

__all__ = ["UnsafePickleError", "load", "load_csv", "load_digits", "load_mnist_idx", "load_mnist_pkl", "load_npz",
           "read_idx", "train_test_split"]

#: Default cap on the bytes a loader reads or decompresses from one file (4 GiB; MNIST is 55 MB).
MAX_BYTES = 2**32

_CHUNK = 1 << 20                      # bytes per read from a compressed stream
_GZIP_MAGIC = b"\x1f\x8b"
_NPY_MAGIC = b"\x93NUMPY"


def load_digits(scale=True, dtype=np.float64):
    """The UCI optical-recognition digits shipped with fastbp (no download).

    1,797 images of 8x8 pixels with 17 grey levels, and their digit 0-9
    (the same data as scikit-learn's ``load_digits``; E. Alpaydin and
    C. Kaynak, UCI Machine Learning Repository, CC BY 4.0).

    Returns ``(X, y)``: X (1797, 64) of ``dtype``, scaled to [0, 1] when
    ``scale`` (else the raw 0-16 counts); y (1797,) int64 labels.
    """
    dtype = v.check_dtype(dtype)
    with importlib.resources.files("fastbp").joinpath("data/digits.npz").open("rb") as f, \
            np.load(f, allow_pickle=False) as data:
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
    # Both parts keep at least one row; ties round half up, not to even.
    n_test = min(len(y) - 1, max(1, int(np.floor(test_fraction * len(y) + 0.5))))
    is_test = np.zeros(len(y), dtype=bool)
    if stratify and y.ndim == 1 and y.dtype.kind in "iub":
        classes = [rng.permutation(np.flatnonzero(y == label)) for label in np.unique(y)]
        counts = _stratified_counts([len(members) for members in classes], test_fraction, n_test)
        for members, count in zip(classes, counts):
            is_test[members[:count]] = True
    else:
        is_test[rng.permutation(len(y))[:n_test]] = True
    train_idx = rng.permutation(np.flatnonzero(~is_test))
    test_idx = np.flatnonzero(is_test)
    return X[train_idx], y[train_idx], X[test_idx], y[test_idx]


# --------------------------------------------------------------------------- helpers


def _stratified_counts(sizes, fraction, total):
    """Test rows per class: each class's fraction·size rounded down, then the
    ``total`` - Σ left over given one each to the classes with the largest
    remainders (the first such class on ties), so the parts add up to
    ``total`` and every class keeps its proportion to within one row."""
    exact = [fraction * size for size in sizes]
    counts = [int(np.floor(e)) for e in exact]
    by_remainder = sorted(range(len(sizes)), key=lambda c: -(exact[c] - counts[c]))
    for c in by_remainder[:max(0, total - sum(counts))]:
        counts[c] += 1
    return counts


def _fspath(path, name="path"):
    if path is None or not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike; got {type(path).__name__}")
    return os.fspath(path)


def _check_max_bytes(max_bytes):
    return v.check_int("max_bytes", max_bytes, minimum=1)


def _bytes_text(n):
    return f"{n:,} byte{'s' if n != 1 else ''}"


class _GzipReader:
    """``read`` from a gzip stream, turning corrupt or truncated data into a ValueError naming the file."""

    def __init__(self, stream, path):
        self._stream = stream
        self._path = path

    def read(self, size=-1):
        try:
            return self._stream.read(size)
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise ValueError(f"{self._path}: corrupt or truncated gzip data ({exc})") from None


@contextlib.contextmanager
def _open_binary(path):
    """Yield ``(stream, size)``: a plain file and its size in bytes, or, when the
    file starts with the gzip magic bytes, a decompressing stream and None."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            yield raw, os.fstat(raw.fileno()).st_size
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            yield _GzipReader(stream, path), None


def _read_at_most(stream, limit):
    """Up to ``limit + 1`` bytes from ``stream``, in chunks: memory grows with the
    data actually present, never with a size the file merely claims."""
    buf = bytearray()
    while len(buf) <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _read_all(path, max_bytes):
    """The whole content of a plain or gzipped file as bytes, refusing more than ``max_bytes``."""
    with _open_binary(path) as (stream, size):
        if size is not None and size > max_bytes:
            raise ValueError(f"{path} holds {_bytes_text(size)}, more than max_bytes={max_bytes:,}")
        data = _read_at_most(stream, max_bytes)
    if len(data) > max_bytes:
        raise ValueError(f"{path} decompresses to more than max_bytes={max_bytes:,} bytes; refusing to read it")
    return bytes(data)


def _as_labels(name, y, path):
    """int64 when every value is integral (bool and integer arrays always), else float64."""
    if y.dtype.kind in "biu":
        if y.dtype.kind == "u" and y.size and int(y.max()) > np.iinfo(np.int64).max:
            raise ValueError(f"{path}: {name} has values too large for int64 (largest {int(y.max())})")
        return np.ascontiguousarray(y, dtype=np.int64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if y.size and np.all(np.floor(y) == y) and np.abs(y).max() <= 2.0**53:
        return y.astype(np.int64)
    return y


# --------------------------------------------------------------------------- IDX (MNIST's own format)

#: IDX type byte -> element dtype (big-endian), as specified on Yann LeCun's MNIST page.
_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_TYPE_NAMES = {0x08: "unsigned bytes", 0x09: "signed bytes", 0x0B: "int16", 0x0C: "int32",
                   0x0D: "float32", 0x0E: "float64"}
_IDX_IMAGES = 0x00000803               # unsigned bytes, 3 dimensions (n, rows, cols)
_IDX_LABELS = 0x00000801               # unsigned bytes, 1 dimension (n,)


def _describe_magic(magic):
    type_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    if magic >> 16 == 0 and type_code in _IDX_TYPES and ndim > 0:
        return f"IDX {_IDX_TYPE_NAMES[type_code]} with {ndim} dimension{'s' if ndim != 1 else ''}"
    return "not an IDX magic number"


def _read_idx_header(stream, path, expected_magic=None):
    """(dims, element dtype, header length in bytes) from an open IDX stream."""
    head = stream.read(4)
    if len(head) < 4:
        raise ValueError(f"{path} is truncated: an IDX file starts with a 4-byte magic number, "
                         f"but the file holds only {_bytes_text(len(head))}")
    magic = int.from_bytes(head, "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"{path}: wrong magic number 0x{magic:08X} ({_describe_magic(magic)}); "
                         f"expected 0x{expected_magic:08X} ({_describe_magic(expected_magic)})")
    if head[:2] != b"\0\0" or head[2] not in _IDX_TYPES or head[3] == 0:
        raise ValueError(f"{path}: wrong magic number 0x{magic:08X}; an IDX file starts with 0x0000TTDD, "
                         f"TT the element type (08, 09, 0B, 0C, 0D or 0E) and DD >= 1 the number of dimensions")
    ndim = head[3]
    raw = stream.read(4 * ndim)
    if len(raw) < 4 * ndim:
        raise ValueError(f"{path} is truncated: its header declares {ndim} dimensions ({4 * ndim} bytes of sizes) "
                         f"but only {_bytes_text(len(raw))} follow the magic number")
    return struct.unpack(f">{ndim}I", raw), _IDX_TYPES[head[2]], 4 + 4 * ndim


def _read_idx_data(stream, path, size, dims, dtype, header_len, max_bytes):
    """The data block after the header, checked to hold exactly the bytes the header promises."""
    n_bytes = math.prod(dims) * dtype.itemsize
    promise = (f"its header promises {' x '.join(map(str, dims))} {_IDX_TYPE_NAMES[_type_code(dtype)]} "
               f"= {_bytes_text(n_bytes)} of data")
    if size is not None:                               # plain file: compare with its size before reading
        present = size - header_len
        if present < n_bytes:
            raise ValueError(f"{path} is truncated: {promise}, but the file holds {_bytes_text(present)} after the "
                             f"{header_len}-byte header")
        if present > n_bytes:
            raise ValueError(f"{path}: {promise}, but the file holds {_bytes_text(present - n_bytes)} more "
                             f"after them (not an IDX file, or a wrong header)")
    if n_bytes > max_bytes:
        raise ValueError(f"{path}: {promise}, more than max_bytes={max_bytes:,}; refusing to read it")
    data = _read_at_most(stream, n_bytes)
    if len(data) < n_bytes:
        raise ValueError(f"{path} is truncated: {promise}, but the decompressed data holds only "
                         f"{_bytes_text(len(data))} after the {header_len}-byte header")
    if len(data) > n_bytes:
        raise ValueError(f"{path}: {promise}, but the decompressed data holds more "
                         f"(not an IDX file, or a wrong header)")
    arr = np.frombuffer(data, dtype=dtype).reshape(dims)
    return arr if dtype.itemsize == 1 else arr.astype(dtype.newbyteorder("="))


def _type_code(dtype):
    return next(code for code, dt in _IDX_TYPES.items() if dt == dtype)


def read_idx(path, max_bytes=MAX_BYTES):
    """Read one IDX file (the format of the MNIST distribution), plain or gzipped.

    The gzip format is recognised from the file's first bytes, whatever its
    name. The header (magic number 0x0000TTDD: element type TT, DD dimensions,
    then DD big-endian uint32 sizes) is checked, and the file must hold
    exactly the bytes it promises; a claimed size is compared with the file's
    size (or, for gzip, the stream is read in bounded chunks) before any
    large allocation. At most ``max_bytes`` bytes of data are read.

    Returns a numpy array of the header's shape in native byte order, with
    dtype uint8, int8, int16, int32, float32 or float64 per the type byte
    (MNIST images: uint8 (n, 28, 28); labels: uint8 (n,)).
    """
    path = _fspath(path)
    max_bytes = _check_max_bytes(max_bytes)
    with _open_binary(path) as (stream, size):
        dims, dtype, header_len = _read_idx_header(stream, path)
        return _read_idx_data(stream, path, size, dims, dtype, header_len, max_bytes)


def _find_idx(folder, prefix, what, ndim):
    """The first existing file among the usual spellings of an MNIST IDX file name."""
    names = [f"{prefix}-{what}-idx{ndim}-ubyte", f"{prefix}-{what}.idx{ndim}-ubyte"]
    candidates = [name + suffix for name in names for suffix in ("", ".gz")]
    for name in candidates:
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(errno.ENOENT, f"no MNIST {what} file in the folder (looked for {', '.join(candidates)})",
                            os.path.join(folder, candidates[0]))


def load_mnist_idx(folder, kind="train", scale=True, dtype=np.float64, max_bytes=MAX_BYTES):
    """MNIST (or Fashion-MNIST) from the original IDX files in ``folder``.

    ``kind="train"`` reads ``train-images-idx3-ubyte`` and
    ``train-labels-idx1-ubyte``; ``kind="test"`` the ``t10k-`` pair. Each file
    may be plain or gzipped (``.gz``; also the ``train-images.idx3-ubyte``
    spelling). The magic numbers (0x00000803 images, 0x00000801 labels), the
    dimensions, the byte counts, and that there are as many images as labels
    are all checked before the pixel data is read.

    Returns ``(X, y)``: X (n, rows * cols) of ``dtype`` (float64 or float32;
    (60000, 784) for MNIST's training set), the pixels scaled to [0, 1] when
    ``scale`` (else the raw 0-255 values); y (n,) int64 labels.
    """
    folder = _fspath(folder, "folder")
    kind = v.check_choice("kind", kind, ("train", "test"))
    dtype = v.check_dtype(dtype)
    max_bytes = _check_max_bytes(max_bytes)
    if not os.path.isdir(folder):
        if not os.path.exists(folder):
            raise FileNotFoundError(errno.ENOENT, "MNIST folder not found", folder)
        raise ValueError(f"{folder} is a file; load_mnist_idx expects the folder holding the MNIST IDX files "
                         f"(use read_idx to read a single IDX file)")
    prefix = "train" if kind == "train" else "t10k"
    images_path = _find_idx(folder, prefix, "images", 3)
    labels_path = _find_idx(folder, prefix, "labels", 1)
    with _open_binary(images_path) as (images_stream, images_size), \
            _open_binary(labels_path) as (labels_stream, labels_size):
        image_dims, image_dtype, image_header = _read_idx_header(images_stream, images_path, _IDX_IMAGES)
        label_dims, label_dtype, label_header = _read_idx_header(labels_stream, labels_path, _IDX_LABELS)
        n, rows, cols = image_dims
        if n != label_dims[0]:
            raise ValueError(f"count mismatch: {images_path} holds {n:,} images but {labels_path} holds "
                             f"{label_dims[0]:,} labels; they must match")
        if n == 0 or rows == 0 or cols == 0:
            raise ValueError(f"{images_path} holds no pixels: its header gives {n} images of {rows} x {cols}")
        labels = _read_idx_data(labels_stream, labels_path, labels_size, label_dims, label_dtype, label_header,
                                max_bytes)
        images = _read_idx_data(images_stream, images_path, images_size, image_dims, image_dtype, image_header,
                                max_bytes)
    X = images.reshape(n, rows * cols).astype(dtype)
    if scale:
        X /= dtype.type(255.0)
    return X, labels.astype(np.int64)


# --------------------------------------------------------------------------- Nielsen's mnist.pkl.gz


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle asked for something the restricted unpickler does not allow."""


class _Refused(Exception):
    """Raised by the allowed callables when their arguments are outside what numpy pickles use."""


class _NdarrayToken:
    """Stands in for ``numpy.ndarray`` in a pickle: it can only be passed to ``_reconstruct``,
    never called (calling the real class from a pickle could allocate any size)."""

    def __repr__(self):
        return "numpy.ndarray"

    def __call__(self, *args, **kwargs):
        raise _Refused("a direct call of numpy.ndarray (only numpy's _reconstruct may use it)")


_NDARRAY = _NdarrayToken()


def _numeric_dtype(spec):
    dt = np.dtype(spec) if isinstance(spec, np.dtype) else None
    if dt is None or dt.kind not in "biuf" or dt.fields is not None or dt.subdtype is not None:
        raise _Refused(f"dtype {spec!r} (only plain numeric dtypes are allowed)")
    return dt


def _safe_reconstruct(subtype, shape, dtype):
    """numpy's ``_reconstruct``, restricted to the empty array numpy's pickles start from."""
    if subtype is not _NDARRAY:
        raise _Refused(f"_reconstruct of {subtype!r} (only numpy.ndarray)")
    if not (isinstance(shape, tuple) and all(isinstance(s, int) and s >= 0 for s in shape)
            and math.prod(shape) == 0):
        raise _Refused(f"_reconstruct with shape {shape!r} (numpy pickles start from an empty array)")
    if not isinstance(dtype, (str, bytes)) or len(dtype) > 8:
        raise _Refused(f"_reconstruct with dtype {dtype!r}")
    return np.ndarray(shape, dtype=dtype.decode("latin1") if isinstance(dtype, bytes) else dtype)


def _safe_dtype(spec, align=False, copy=False):
    """``numpy.dtype(spec, align, copy)`` for plain numeric type codes such as 'f4' or 'i8'."""
    if not isinstance(spec, str) or len(spec) > 8:
        raise _Refused(f"numpy.dtype({spec!r}) (only numeric type codes such as 'f4')")
    try:
        return _numeric_dtype(np.dtype(spec, bool(align), bool(copy)))
    except (TypeError, _Refused):
        raise _Refused(f"numpy.dtype({spec!r}) (only plain numeric dtypes such as 'f4' or 'i8')") from None


def _safe_frombuffer(buf, dtype, shape, order="C"):
    """numpy's ``_frombuffer`` (protocol-5 pickles): a view of bytes already in the file."""
    if not isinstance(buf, (bytes, bytearray)):
        raise _Refused(f"_frombuffer of {type(buf).__name__}")
    _numeric_dtype(dtype)
    if order not in ("C", "F"):
        raise _Refused(f"_frombuffer with order {order!r}")
    return np.frombuffer(buf, dtype=dtype).reshape(shape, order=order)


def _latin1_encode(text, encoding="utf-8"):
    """``_codecs.encode(text, 'latin1')``: how Python 3 writes bytes at pickle protocol 2."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused(f"_codecs.encode with encoding {encoding!r} (only latin1)")
    return text.encode("latin1")


def _empty_bytes(*args):
    """``bytes()``: how Python 3 writes b'' at pickle protocol 2."""
    if args:
        raise _Refused("bytes() with arguments")
    return b""


#: (module, name) -> what a pickle gets for it. Python 2 wrote numpy.core.multiarray; numpy 2 writes numpy._core.
_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _safe_dtype,
    ("numpy.core.numeric", "_frombuffer"): _safe_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _safe_frombuffer,
    ("_codecs", "encode"): _latin1_encode,
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
}

_MEMO_PUTS = {"PUT", "BINPUT", "LONG_BINPUT"}


class _RestrictedUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and tuples, and refuses every other global (so a file cannot run code)."""

    def __init__(self, file, source):
        super().__init__(file, encoding="latin1")   # Python 2 str -> str; numpy decodes array data from it
        self._source = source

    def find_class(self, module, name):
        try:
            return _PICKLE_GLOBALS[(module, name)]
        except (KeyError, TypeError):
            raise UnsafePickleError(f"{self._source}: refusing to unpickle the global {module}.{name}: only numpy "
                                    f"arrays and tuples may be loaded, and loading never runs code from a file"
                                    ) from None

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self._source}: refusing a persistent id in the pickle")


def _prescan_pickle(data, source):
    """Walk the opcodes without executing them: every length the pickle claims must be
    backed by bytes actually present, and memo indices must be sequential, so the
    real unpickler never allocates more than the data's size."""
    n_ops = 0
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
            if opcode.name in _MEMO_PUTS and int(arg) > n_ops:
                raise ValueError(f"memo index {arg} out of sequence")
            n_ops += 1
    except ValueError as exc:
        raise ValueError(f"{source} is not a valid pickle: {exc}") from None


_CORRUPT_PICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
                          KeyError, struct.error, OverflowError)


def _restricted_unpickle(data, source):
    _prescan_pickle(data, source)
    try:
        return _RestrictedUnpickler(io.BytesIO(data), source).load()
    except UnsafePickleError:
        raise
    except _Refused as exc:
        raise UnsafePickleError(f"{source}: refusing to unpickle {exc}") from None
    except _CORRUPT_PICKLE_ERRORS as exc:     # unpickling arbitrary bytes fails in many ways; all mean corrupt
        raise ValueError(f"{source} is not a valid pickle of numpy arrays: {type(exc).__name__}: {exc}") from None


def _describe_object(obj):
    if isinstance(obj, np.ndarray):
        return f"an array of {v.describe(obj)}"
    if isinstance(obj, (tuple, list)):
        return f"a {type(obj).__name__} of {len(obj)}"
    return f"a {type(obj).__name__}"


def load_mnist_pkl(path, dtype=np.float64, n_features=784, max_bytes=MAX_BYTES):
    """Nielsen's ``mnist.pkl.gz`` (from *Neural Networks and Deep Learning*), or a pickle like it.

    The file is a gzipped (or plain) pickle, written by Python 2, of
    ``(training_data, validation_data, test_data)``, each a pair ``(X, y)``:
    X float32 (n, 784) in [0, 1], y int64 (n,) digits (50,000 / 10,000 /
    10,000 rows). It is read through a restricted unpickler that rebuilds
    numpy arrays and tuples only and refuses any other global with an
    ``UnsafePickleError`` (a ``ValueError`` and ``pickle.UnpicklingError``),
    so a malicious file cannot run code; lengths the pickle claims are checked
    against its size first. The structure is checked: three pairs, X 2-D
    numeric with ``n_features`` columns (None: any, the same in all three), y
    1-D integer labels with as many rows as X, all values finite.

    Returns ``((X_train, y_train), (X_val, y_val), (X_test, y_test))``: each
    X (n, 784) of ``dtype`` (float64 or float32), each y (n,) int64.
    """
    path = _fspath(path)
    dtype = v.check_dtype(dtype)
    max_bytes = _check_max_bytes(max_bytes)
    if n_features is not None:
        n_features = v.check_int("n_features", n_features, minimum=1)
    data = _read_all(path, max_bytes)
    if not data:
        raise ValueError(f"{path} is empty")
    obj = _restricted_unpickle(data, path)
    del data

    names = ("training", "validation", "test")
    if not isinstance(obj, (tuple, list)) or len(obj) != 3:
        raise ValueError(f"{path}: expected a tuple of 3 (X, y) pairs ({', '.join(names)}); "
                         f"found {_describe_object(obj)}")
    out = []
    for name, part in zip(names, obj):
        if not isinstance(part, (tuple, list)) or len(part) != 2:
            raise ValueError(f"{path}: the {name} part must be a pair (X, y); found {_describe_object(part)}")
        X, y = part
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.dtype.kind not in "biuf":
            raise ValueError(f"{path}: the {name} X must be a 2-D numeric array; found {_describe_object(X)}")
        expected = n_features if n_features is not None else (out[0][0].shape[1] if out else X.shape[1])
        if X.shape[1] != expected:
            raise ValueError(f"{path}: the {name} X must have {expected} features (columns); "
                             f"found shape {X.shape}")
        if not isinstance(y, np.ndarray) or y.ndim != 1 or y.dtype.kind not in "biuf":
            raise ValueError(f"{path}: the {name} y must be a 1-D array of labels; found {_describe_object(y)}")
        if len(X) != len(y):
            raise ValueError(f"{path}: the {name} part has {len(X):,} rows in X but {len(y):,} labels in y")
        if not v.all_finite(X) or not v.all_finite(y):
            raise ValueError(f"{path}: the {name} part contains NaN or infinity")
        labels = _as_labels(f"the {name} y", y, path)
        if labels.dtype != np.int64:
            raise ValueError(f"{path}: the {name} y must hold integer labels; found non-integer values")
        out.append((np.ascontiguousarray(X, dtype=dtype), labels))
    return tuple(out)


# --------------------------------------------------------------------------- .npz


def _npz_member_header(zf, member, path, key, max_bytes):
    """Check a .npy member's header against the member's size before numpy allocates for it."""
    info = zf.getinfo(member)
    if info.file_size > max_bytes:
        raise ValueError(f"{path}: array {key!r} is {_bytes_text(info.file_size)}, more than max_bytes={max_bytes:,}")
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise ValueError(f"{path}: array {key!r} claims {_bytes_text(info.file_size)} but stores "
                         f"{_bytes_text(info.compress_size)} (corrupt archive)")
    if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > 1100 * info.compress_size + 1024:
        raise ValueError(f"{path}: array {key!r} claims {_bytes_text(info.file_size)} from "
                         f"{_bytes_text(info.compress_size)} of deflated data, more than deflate can produce")
    with zf.open(member) as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dt = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dt = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"{path}: array {key!r} uses .npy format version {version[0]}.{version[1]} "
                             f"(structured arrays with non-latin-1 field names); expected a plain numeric array")
        header_len = fp.tell()
    if dt.hasobject:
        raise ValueError(f"{path}: array {key!r} is an object array (dtype {dt}), which can only be loaded by "
                         f"unpickling, and pickles are refused (allow_pickle=False); save it as a numeric array")
    n_bytes = math.prod(shape) * dt.itemsize
    if n_bytes != info.file_size - header_len:
        raise ValueError(f"{path}: array {key!r} claims shape {shape} of {dt} = {_bytes_text(n_bytes)}, but "
                         f"the archive holds {_bytes_text(info.file_size - header_len)} of data for it")


def load_npz(path, x_key="X", y_key="y", dtype=np.float64, max_bytes=MAX_BYTES):
    """Features and targets from a numpy ``.npz`` archive (``np.savez``/``np.savez_compressed``).

    Read with ``np.load(path, allow_pickle=False)``: object arrays are refused
    with a clear error. Each array's header is checked against its size in
    the archive before loading. X (``x_key``) must be a 2-D numeric array
    with at least one row; y (``y_key``) 1-D labels or 2-D targets with as
    many rows; all values finite.

    Returns ``(X, y)``: X (n, d) of ``dtype`` (float64 or float32); y (n,) or
    (n, k), int64 when every value is integral, else float64.
    """
    path = _fspath(path)
    dtype = v.check_dtype(dtype)
    max_bytes = _check_max_bytes(max_bytes)
    for name, key in (("x_key", x_key), ("y_key", y_key)):
        if not isinstance(key, str):
            raise TypeError(f"{name} must be a str; got {key!r} of type {type(key).__name__}")
    with open(path, "rb") as f:              # FileNotFoundError with the path
        start = f.read(6)
    if not zipfile.is_zipfile(path):
        if start == _NPY_MAGIC:
            raise ValueError(f"{path} is a single .npy array, not an .npz archive; load_npz needs an archive "
                             f"holding {x_key!r} and {y_key!r} (np.savez(path, {x_key}=X, {y_key}=y))")
        raise ValueError(f"{path} is not an .npz archive (a zip file written by np.savez); "
                         f"it is empty, truncated or another format")
    try:
        with zipfile.ZipFile(path) as zf:
            members = {name.removesuffix(".npy"): name for name in zf.namelist()}
            missing = [key for key in (x_key, y_key) if key not in members]
            if missing:
                raise ValueError(f"{path} has no array named {' or '.join(map(repr, missing))}; it holds "
                                 f"{', '.join(map(repr, sorted(members))) or 'no arrays'} "
                                 f"(choose them with x_key= and y_key=)")
            for key in (x_key, y_key):
                _npz_member_header(zf, members[key], path, key, max_bytes)
        with np.load(path, allow_pickle=False) as data:
            X = data[x_key]
            y = data[y_key]
    except ValueError as exc:
        if str(exc).startswith(str(path)):
            raise
        if "allow_pickle" in str(exc):
            raise ValueError(f"{path}: holds an object array, which can only be loaded by unpickling, and "
                             f"pickles are refused (allow_pickle=False)") from None
        raise ValueError(f"{path}: corrupt .npz archive: {exc}") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ValueError(f"{path}: corrupt .npz archive: {type(exc).__name__}: {exc}") from None

    if X.ndim != 2 or X.dtype.kind not in "biuf":
        raise ValueError(f"{path}: {x_key!r} must be a 2-D numeric array (n_samples, n_features); "
                         f"found {v.describe(X)}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{path}: {x_key!r} is empty: shape {X.shape}")
    if y.ndim not in (1, 2) or y.dtype.kind not in "biuf":
        raise ValueError(f"{path}: {y_key!r} must be 1-D labels or 2-D targets of numbers; found {v.describe(y)}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"{path}: {x_key!r} has {X.shape[0]:,} rows but {y_key!r} has {y.shape[0]:,}")
    for key, arr in ((x_key, X), (y_key, y)):
        if not v.all_finite(arr):
            raise ValueError(f"{path}: {key!r} contains NaN or infinity")
    with np.errstate(over="ignore"):
        X_out = np.ascontiguousarray(X, dtype=dtype)
    if not v.all_finite(X_out):
        raise ValueError(f"{path}: {x_key!r} has values too large for {dtype}")
    return X_out, _as_labels(repr(y_key), y, path)


# --------------------------------------------------------------------------- CSV


def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def load_csv(path, label_column=-1, header="infer", delimiter=",", dtype=np.float64):
    """Features and a label column from a CSV file (plain or gzipped, UTF-8).

    ``label_column`` picks the label: an int index (negative counts from the
    end; default the last column) or a column name, which needs a header row.
    ``header`` is True (the first row names the columns), False, or "infer":
    the first row is a header when none of its cells is a number (always,
    when ``label_column`` is a name). Blank lines are skipped; every other row
    must have the same number of cells, all numbers (``float`` syntax).

    Returns ``(X, y)``: X (n, d) of ``dtype`` (float64 or float32; d = the
    number of columns - 1); y (n,) int64 when every label is integral, else
    float64.
    """
    path = _fspath(path)
    dtype = v.check_dtype(dtype)
    if header not in ("infer", True, False):
        raise ValueError(f"header must be 'infer', True or False; got {header!r}")
    if isinstance(label_column, str):
        if header is False:
            raise ValueError(f"label_column={label_column!r} is a column name, which needs a header row; "
                             f"pass header=True or give the column's index")
        header = True
    else:
        label_column = v.check_int("label_column", label_column)
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise TypeError(f"delimiter must be a single character; got {delimiter!r}")

    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            rows, names = _parse_csv(csv.reader(f, delimiter=delimiter, strict=True), path, header)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text: {exc}") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: malformed CSV: {exc}") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from None

    n_cols = rows.shape[1]
    if isinstance(label_column, str):
        matches = [j for j, name in enumerate(names) if name == label_column]
        if len(matches) != 1:
            problem = "no column" if not matches else f"{len(matches)} columns"
            raise ValueError(f"{path}: {problem} named {label_column!r} in the header; "
                             f"its columns are {', '.join(map(repr, names))}")
        label = matches[0]
    else:
        if not -n_cols <= label_column < n_cols:
            raise ValueError(f"label_column={label_column} is outside the {n_cols} columns of {path} "
                             f"(valid: {-n_cols} to {n_cols - 1})")
        label = label_column % n_cols
    with np.errstate(over="ignore"):          # too large for dtype: the error below says so
        X = np.delete(rows, label, axis=1).astype(dtype)
    if not v.all_finite(X):
        raise ValueError(f"{path}: values too large for {dtype}")
    return X, _as_labels("the label column", rows[:, label], path)


def _parse_csv(reader, path, header):
    """(float64 (n, d) array of every cell, header names or None), with errors naming the line and column."""
    names = None
    first_line = None
    buf = None
    n = 0
    for row in reader:
        if not row:
            continue                                           # blank line
        if first_line is None:
            first_line = reader.line_num
            if len(row) < 2:
                raise ValueError(f"{path}: line {first_line} has {len(row)} column; a CSV of samples needs at "
                                 f"least 2 (features and a label); is delimiter={reader.dialect.delimiter!r} right?")
            buf = np.empty((1024, len(row)), dtype=np.float64)
            if header is True or (header == "infer" and not any(_is_number(cell) for cell in row)):
                names = [cell.strip() for cell in row]
                continue
        if len(row) != buf.shape[1]:
            raise ValueError(f"{path}: ragged rows: line {reader.line_num} has {len(row)} columns but line "
                             f"{first_line} has {buf.shape[1]}")
        try:
            values = [float(cell) for cell in row]
        except ValueError:
            values = None
        if values is None or not math.isfinite(math.fsum(abs(x) for x in values)):
            _raise_bad_cell(row, reader.line_num, names, path, first_line if names is None else None)
        if n == len(buf):
            buf = np.concatenate([buf, np.empty_like(buf)])
        buf[n] = values
        n += 1
    if first_line is None:
        raise ValueError(f"{path} is empty: no rows")
    if n == 0:
        raise ValueError(f"{path} has a header row (line {first_line}) but no data rows")
    return buf[:n], names


def _raise_bad_cell(row, line, names, path, header_candidate):
    for j, cell in enumerate(row):
        try:
            value = float(cell)
        except ValueError:
            problem = "an empty cell" if not cell.strip() else f"{cell!r} is not a number"
        else:
            if math.isfinite(value):
                continue
            problem = f"{cell!r} is not finite"
        column = f"column {j + 1}" + (f" ({names[j]!r})" if names else "")
        hint = " (if that line is a header, pass header=True)" if line == header_candidate else ""
        raise ValueError(f"{path}: line {line}, {column}: {problem}{hint}")
    raise ValueError(f"{path}: line {line}: values too large")    # fsum overflowed on finite values


# --------------------------------------------------------------------------- dispatcher

FORMATS = ("idx", "pkl", "npz", "csv", "digits")


def _infer_format(path):
    if os.path.isdir(path):
        return "idx"
    name = os.path.basename(os.fsdecode(path)).lower()
    for suffixes, fmt in (((".pkl.gz", ".pkl", ".pickle", ".pickle.gz"), "pkl"), ((".npz",), "npz"),
                          ((".csv", ".csv.gz"), "csv")):
        if name.endswith(suffixes):
            return fmt
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
    hint = (" (for MNIST IDX files give the folder that holds them)"
            if "idx" in name and "ubyte" in name else "")
    raise ValueError(f"cannot tell the format of {os.fsdecode(path)} from its name{hint}; pass format= one of "
                     f"{', '.join(map(repr, FORMATS))}")


def load(path=None, format=None, **options):
    """Load ``(X, y)`` with the loader for ``format``, or the one the path implies.

    ``format``: "idx" (``load_mnist_idx``: ``path`` is the folder of MNIST IDX
    files; option ``kind="train"|"test"``), "pkl" (``load_mnist_pkl``; this
    returns one part, chosen by ``kind="train"|"validation"|"test"``, default
    the training pair; call ``load_mnist_pkl`` for all three), "npz"
    (``load_npz``), "csv" (``load_csv``) or "digits" (``load_digits``; no
    path). When ``format`` is None it comes from the path: a folder is idx,
    ``.pkl.gz``/``.pkl`` pkl, ``.npz`` npz, ``.csv``/``.csv.gz`` csv. Other
    keyword options go to the chosen loader (``dtype=``, ``scale=``,
    ``label_column=``, ...).

    Returns ``(X, y)``: X (n, d) float64 (or ``dtype=``), y (n,) int64 labels
    (or, for npz and csv, float64 / 2-D targets as those loaders document).
    """
    if format is None:
        if path is None:
            raise TypeError("load needs a path (or format='digits' for the built-in digits)")
        path = _fspath(path)
        format = _infer_format(path)
    else:
        v.check_choice("format", format, FORMATS)
    if format == "digits":
        if path is not None:
            raise ValueError(f"format 'digits' is the built-in digits and takes no path; got {path!r}")
        return load_digits(**options)
    if path is None:
        raise TypeError(f"format {format!r} needs a path")
    if format == "idx":
        return load_mnist_idx(path, **options)
    if format == "pkl":
        kind = v.check_choice("kind", options.pop("kind", "train"), ("train", "validation", "test"))
        parts = load_mnist_pkl(path, **options)
        return parts[("train", "validation", "test").index(kind)]
    if format == "npz":
        return load_npz(path, **options)
    return load_csv(path, **options)
