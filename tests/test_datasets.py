"""Data loaders: round trips for every format, and hostile or corrupt files refused with clear errors.

Every file is generated small in tmp_path. Hostile files check two things:
the error names the file and the problem, and nothing was executed or
allocated on the file's say-so (tracemalloc bounds the peak).
"""

import gzip
import io
import os
import pickle
import struct
import time
import tracemalloc
import warnings
import zipfile
from typing import ClassVar

import numpy as np
import pytest

from fastbp import datasets
from fastbp.datasets import (
    UnsafePickleError,
    load,
    load_csv,
    load_digits,
    load_mnist_idx,
    load_mnist_pkl,
    load_npz,
    read_idx,
    train_test_split,
)

#: A refused hostile file may use about one read chunk (1 MiB) of memory, never what its header claims.
SMALL_PEAK = 4 * 2**20


@pytest.fixture
def rng():
    return np.random.default_rng(0)


class PeakMemory:
    """Peak bytes allocated (Python and numpy) inside the with block."""

    def __enter__(self):
        tracemalloc.start()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return False


# --------------------------------------------------------------------------- the existing helpers still work


def test_load_digits_and_split_unchanged():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64 and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() == 1.0
    X32, _ = load_digits(scale=False, dtype=np.float32)
    assert X32.dtype == np.float32 and X32.max() == 16.0
    X_train, y_train, X_test, y_test = train_test_split(X, y, test_fraction=0.25, seed=0)
    assert len(X_train) + len(X_test) == 1797 and len(y_train) == len(X_train) and len(y_test) == len(X_test)


@pytest.mark.parametrize("y, fraction, n_test", [
    (np.arange(10), 0.25, 3),                # ten one-row classes: each share rounded down to 0
    (np.array([0, 0, 1, 1]), 0.25, 1),       # 0.5 per class, which Python's round() sends to 0
    (np.arange(10), 0.9, 9),
    (np.repeat([0, 1, 2], 3), 0.5, 5),       # 4.5 rows: half up, not 6 as per-class rounding gave
    (np.repeat([0, 1], [19, 1]), 0.25, 5),
    (np.array([0, 1]), 0.01, 1),
    (np.array([0, 1]), 0.99, 1),
])
def test_stratified_split_holds_out_its_share_and_never_empties_a_part(y, fraction, n_test):
    X = np.arange(2 * len(y)).reshape(len(y), 2)
    X_train, y_train, X_test, y_test = train_test_split(X, y, test_fraction=fraction, seed=3)
    assert len(X_test) == len(y_test) == n_test and len(X_train) == len(y) - n_test
    assert sorted(X_train[:, 0].tolist() + X_test[:, 0].tolist()) == X[:, 0].tolist()   # a partition
    for label in np.unique(y):               # each class within one row of its share
        assert abs(np.sum(y_test == label) - fraction * np.sum(y == label)) < 1
    X_train2, _, X_test2, _ = train_test_split(X, y.astype(float), test_fraction=fraction, seed=3)
    assert len(X_test2) == n_test            # the unstratified split holds out as many


def test_csv_values_too_large_for_float32_raise_without_a_warning(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("1e300,2,0\n1,2,1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="values too large for"):
            load_csv(path, dtype=np.float32)


# --------------------------------------------------------------------------- IDX


def idx_bytes(arr, magic=None, dims=None):
    """An IDX file: big-endian magic and dims, then the data."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
             np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}
    if magic is None:
        magic = (codes[arr.dtype] << 8) | arr.ndim
    dims = arr.shape if dims is None else dims
    big = arr.astype(arr.dtype.newbyteorder(">"))
    return struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + big.tobytes()


def write(path, data, gz=False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def mnist_folder(folder, rng, n=5, prefix="train", gz=False, sep="-", rows=28, cols=28):
    folder.mkdir(exist_ok=True)
    images = rng.integers(0, 256, (n, rows, cols), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    suffix = ".gz" if gz else ""
    write(folder / f"{prefix}-images{sep}idx3-ubyte{suffix}", idx_bytes(images), gz)
    write(folder / f"{prefix}-labels{sep}idx1-ubyte{suffix}", idx_bytes(labels), gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("kind", ["train", "test"])
def test_mnist_idx_round_trip(tmp_path, rng, gz, kind):
    images, labels = mnist_folder(tmp_path, rng, prefix="train" if kind == "train" else "t10k", gz=gz)
    X, y = load_mnist_idx(tmp_path, kind=kind)
    assert X.shape == (5, 784) and X.dtype == np.float64 and X.flags.c_contiguous
    assert y.shape == (5,) and y.dtype == np.int64
    np.testing.assert_array_equal(X * 255.0, images.reshape(5, 784))    # k/255*255 is exact to rounding
    np.testing.assert_array_equal(y, labels)
    assert 0.0 <= X.min() and X.max() <= 1.0


def test_mnist_idx_options_and_spellings(tmp_path, rng):
    images, labels = mnist_folder(tmp_path, rng, n=3, sep=".", rows=4, cols=6)   # Kaggle's spelling, 4x6 images
    X, y = load_mnist_idx(str(tmp_path), scale=False, dtype=np.float32)
    assert X.dtype == np.float32 and X.shape == (3, 24) and y.dtype == np.int64
    np.testing.assert_array_equal(X, images.reshape(3, 24))
    X2, y2 = load(tmp_path)                                     # a folder means idx
    np.testing.assert_array_equal(X2 * 255.0, images.reshape(3, 24))
    np.testing.assert_array_equal(y2, labels)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_read_idx_every_type(tmp_path, rng, dtype, gz):
    arr = (rng.normal(size=(3, 2, 4)) * 50).astype(dtype)
    out = read_idx(write(tmp_path / "any-name", idx_bytes(arr), gz))     # gzip found from the bytes, not the name
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative and out.shape == (3, 2, 4)
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_idx_truncated(tmp_path, rng, gz):
    images, _ = mnist_folder(tmp_path, rng, gz=gz)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    write(tmp_path / name, idx_bytes(images)[:-100], gz)
    with pytest.raises(ValueError, match=rf"{name} is truncated: its header promises 5 x 28 x 28 unsigned bytes "
                                         rf"= 3,920 bytes of data, but the (file holds|decompressed data holds only) "
                                         rf"3,820 bytes after the 16-byte header"):
        load_mnist_idx(tmp_path)


def test_idx_truncated_header(tmp_path):
    with pytest.raises(ValueError, match=r"short.idx is truncated: an IDX file starts with a 4-byte magic number, "
                                         r"but the file holds only 3 bytes"):
        read_idx(write(tmp_path / "short.idx", b"\0\0\x08"))
    with pytest.raises(ValueError, match=r"declares 3 dimensions \(12 bytes of sizes\) but only 5 bytes follow"):
        read_idx(write(tmp_path / "short.idx", struct.pack(">IIB", 0x803, 60000, 28)))


def test_idx_extra_bytes(tmp_path, rng):
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    for gz in (False, True):
        with pytest.raises(ValueError, match=r"labels.idx: its header promises 7 unsigned bytes = 7 bytes of data, "
                                             r"but the (file|decompressed data) holds .*more"):
            read_idx(write(tmp_path / "labels.idx", idx_bytes(labels) + b"junk", gz))


def test_idx_wrong_magic(tmp_path, rng):
    _, labels = mnist_folder(tmp_path, rng)
    # the two files swapped: the labels file where the images belong
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(labels))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: wrong magic number 0x00000801 \(IDX unsigned "
                                         r"bytes with 1 dimension\); expected 0x00000803 \(IDX unsigned bytes with "
                                         r"3 dimensions\)"):
        load_mnist_idx(tmp_path)
    # not an IDX file at all (a PNG signature)
    with pytest.raises(ValueError, match=r"image.png: wrong magic number 0x89504E47; an IDX file starts with "
                                         r"0x0000TTDD"):
        read_idx(write(tmp_path / "image.png", b"\x89PNG\r\n\x1a\n" + bytes(100)))
    # unknown element type 0x07
    with pytest.raises(ValueError, match=r"wrong magic number 0x00000701"):
        read_idx(write(tmp_path / "bad-type", struct.pack(">II", 0x701, 1) + b"\0"))


def test_idx_count_mismatch(tmp_path, rng):
    _, labels = mnist_folder(tmp_path, rng, n=5)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels[:4]))
    with pytest.raises(ValueError, match=r"count mismatch: .*train-images-idx3-ubyte holds 5 images but "
                                         r".*train-labels-idx1-ubyte holds 4 labels"):
        load_mnist_idx(tmp_path)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_idx_huge_claim_refused_without_allocating(tmp_path, gz):
    """A header claiming 2**32 - 1 images (3.4 TB; IDX sizes are uint32, so 10**12 cannot be written)
    is refused from its size alone: compared with the file's size, or with max_bytes for gzip."""
    path = write(tmp_path / "images", struct.pack(">I", 0x803) + struct.pack(">III", 2**32 - 1, 28, 28)
                 + bytes(1000), gz)
    message = (r"images is truncated: its header promises 4294967295 x 28 x 28 unsigned bytes = "
               r"3,367,254,359,280 bytes of data, but the file holds 1,000 bytes" if not gz else
               r"images: its header promises 4294967295 x 28 x 28 .* more than max_bytes=4,294,967,296")
    with PeakMemory() as mem, pytest.raises(ValueError, match=message):
        read_idx(path)
    assert mem.peak < SMALL_PEAK and mem.seconds < 2.0


def test_idx_claim_within_limit_is_read_in_bounded_chunks(tmp_path):
    """Under max_bytes, a gzip stream whose header claims 1,000,000 images is read chunk by chunk:
    memory follows the 100 bytes really there, not the 784 MB claimed."""
    path = write(tmp_path / "images.gz", struct.pack(">IIII", 0x803, 10**6, 28, 28) + bytes(100), gz=True)
    with PeakMemory() as mem, pytest.raises(ValueError, match=r"images.gz is truncated: .* = 784,000,000 bytes "
                                                              r"of data, but the decompressed data holds only 100"):
        read_idx(path)
    assert mem.peak < SMALL_PEAK
    with pytest.raises(ValueError, match=r"more than max_bytes=1,000"):
        read_idx(path, max_bytes=1000)


def test_idx_huge_count_in_both_files(tmp_path):
    """Both headers claim 4e9 images: the counts agree, and each claim is checked against its file."""
    write(tmp_path / "train-images-idx3-ubyte", struct.pack(">IIII", 0x803, 2**32 - 1, 28, 28))
    write(tmp_path / "train-labels-idx1-ubyte", struct.pack(">II", 0x801, 2**32 - 1))
    with PeakMemory() as mem, pytest.raises(ValueError, match=r"train-labels-idx1-ubyte is truncated"):
        load_mnist_idx(tmp_path)
    assert mem.peak < SMALL_PEAK


def test_idx_corrupt_gzip(tmp_path, rng):
    images, _ = mnist_folder(tmp_path, rng, gz=True)
    blob = gzip.compress(idx_bytes(images))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(blob[:len(blob) // 2])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz: corrupt or truncated gzip data"):
        load_mnist_idx(tmp_path)


def test_idx_missing_files(tmp_path, rng):
    with pytest.raises(FileNotFoundError, match="MNIST folder not found.*nowhere"):
        load_mnist_idx(tmp_path / "nowhere")
    mnist_folder(tmp_path, rng)
    with pytest.raises(FileNotFoundError, match=r"no MNIST images file .*t10k-images-idx3-ubyte.gz"):
        load_mnist_idx(tmp_path, kind="test")
    with pytest.raises(ValueError, match="is a file; load_mnist_idx expects the folder"):
        load_mnist_idx(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(ValueError, match="kind must be one of 'train', 'test'; got 'validation'"):
        load_mnist_idx(tmp_path, kind="validation")
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "absent")


# --------------------------------------------------------------------------- Nielsen's mnist.pkl.gz


class Python2Pickler(pickle._Pickler):
    """Writes protocol 2 as Python 2's cPickle did: str and bytes as 8-bit STRING opcodes
    (BINSTRING, SHORT_BINSTRING), not the _codecs.encode calls Python 3 emits."""

    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)

    def save_string8(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[str] = save_string8
    dispatch[bytes] = save_string8


def python2_pickle(obj):
    buf = io.BytesIO()
    Python2Pickler(buf, protocol=2).dump(obj)
    # numpy 1.x (and so Python 2) named the module numpy.core.multiarray
    return buf.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")


def nielsen_data(rng, sizes=(6, 3, 4), n_features=784):
    return tuple((rng.random((n, n_features), dtype=np.float32), rng.integers(0, 10, n).astype(np.int64))
                 for n in sizes)


def test_pkl_genuine_python2_file(tmp_path, rng):
    data = nielsen_data(rng)
    blob = python2_pickle(data)
    assert b"cnumpy.core.multiarray\n_reconstruct" in blob and b"_codecs" not in blob and b"U\x02f4" in blob
    path = write(tmp_path / "mnist.pkl.gz", blob, gz=True)
    parts = load_mnist_pkl(path)
    assert len(parts) == 3
    for (X, y), (X0, y0) in zip(parts, data):
        assert X.dtype == np.float64 and X.shape == X0.shape and X.flags.c_contiguous
        assert y.dtype == np.int64 and y.shape == y0.shape
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(y, y0)
    (X32, _), _, _ = load_mnist_pkl(path, dtype=np.float32)
    assert X32.dtype == np.float32
    X_train, y_train = load(path)                                   # the training pair
    np.testing.assert_array_equal(X_train, data[0][0])
    np.testing.assert_array_equal(y_train, data[0][1])
    X_test, y_test = load(path, format="pkl", kind="test")
    np.testing.assert_array_equal(X_test, data[2][0])
    np.testing.assert_array_equal(y_test, data[2][1])


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pkl_python3_protocols(tmp_path, rng, protocol):
    """Re-pickled copies: Python 3 at protocol 2 writes bytes as _codecs.encode(..., 'latin1'), protocol 5 uses
    numpy's _frombuffer; both are allowed. A plain (not gzipped) .pkl works too."""
    data = nielsen_data(rng, sizes=(2, 1, 3), n_features=5)
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    parts = load_mnist_pkl(path, n_features=5)
    for (X, y), (X0, y0) in zip(parts, data):
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(y, y0)


class RunsShell:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return os.system, (f"echo pwned > {self.target}",)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
@pytest.mark.parametrize("nested", [False, True])
def test_pkl_malicious_refused_without_side_effect(tmp_path, rng, protocol, nested):
    target = tmp_path / "pwned"
    payload = RunsShell(target)
    obj = (nielsen_data(rng)[0], payload, payload) if nested else payload
    path = write(tmp_path / "mnist.pkl.gz", pickle.dumps(obj, protocol=protocol), gz=True)
    with pytest.raises(UnsafePickleError, match=rf"mnist.pkl.gz: refusing to unpickle the global "
                                                rf"{os.system.__module__}.system: only numpy arrays and tuples"):
        load_mnist_pkl(path)
    assert not target.exists()
    assert issubclass(UnsafePickleError, pickle.UnpicklingError) and issubclass(UnsafePickleError, ValueError)


@pytest.mark.parametrize("blob,refused", [
    (b"\x80\x02cbuiltins\neval\nX\x03\x00\x00\x001+1\x85R.", "builtins.eval"),
    (b"\x80\x02c__builtin__\nexec\nU\x011\x85R.", "__builtin__.exec"),
    (b"\x80\x02cnumpy\nload\nU\x01x\x85R.", "numpy.load"),
    (b"\x80\x02csubprocess\nPopen\n.", "subprocess.Popen"),
    (b"\x80\x02ccopy_reg\n_reconstructor\n.", "copy_reg._reconstructor"),
])
def test_pkl_other_globals_refused(tmp_path, blob, refused):
    path = write(tmp_path / "evil.pkl", blob)
    with pytest.raises(UnsafePickleError, match=rf"evil.pkl: refusing to unpickle the global {refused}"):
        load_mnist_pkl(path)


def test_pkl_allowed_globals_cannot_allocate_on_demand(tmp_path):
    """The allowed numpy globals are wrapped: a pickle cannot ask them for 10**12 elements."""
    reconstruct = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
    huge = reconstruct + b"\x8a\x06\x00\x10\xa5\xd4\xe8\x00\x85U\x01b\x87R."          # shape (10**12,)
    with PeakMemory() as mem, pytest.raises(UnsafePickleError, match=r"refusing to unpickle _reconstruct with "
                                                                     r"shape \(1000000000000,\)"):
        load_mnist_pkl(write(tmp_path / "huge.pkl", huge))
    assert mem.peak < SMALL_PEAK
    ndarray_call = b"\x80\x02cnumpy\nndarray\n\x8a\x06\x00\x10\xa5\xd4\xe8\x00\x85R."   # numpy.ndarray((10**12,))
    with pytest.raises(UnsafePickleError, match=r"call.pkl: refusing to unpickle a direct call of numpy.ndarray"):
        load_mnist_pkl(write(tmp_path / "call.pkl", ndarray_call))
    object_dtype = b"\x80\x02cnumpy\ndtype\nU\x02O8\x85R."
    with pytest.raises(UnsafePickleError, match=r"refusing to unpickle numpy.dtype\('O8'\)"):
        load_mnist_pkl(write(tmp_path / "obj.pkl", object_dtype))


def test_pkl_claimed_lengths_checked_before_allocating(tmp_path):
    # BINBYTES8 / BYTEARRAY8 claiming 2**40 bytes, followed by 3 bytes
    for opcode in (b"\x8e", b"\x96"):
        path = write(tmp_path / "claim.pkl", b"\x80\x05" + opcode + struct.pack("<Q", 2**40) + b"abc.")
        with PeakMemory() as mem, pytest.raises(ValueError, match=r"claim.pkl is not a valid pickle: expected "
                                                                  r"1099511627776 bytes"):
            load_mnist_pkl(path)
        assert mem.peak < SMALL_PEAK
    path = write(tmp_path / "memo.pkl", b"\x80\x02Nr\xff\xff\xff\x7f.")          # LONG_BINPUT 2**31 - 1
    with pytest.raises(ValueError, match=r"memo.pkl is not a valid pickle: memo index 2147483647 out of sequence"):
        load_mnist_pkl(path)


def test_pkl_truncated_gzip(tmp_path, rng):
    blob = gzip.compress(python2_pickle(nielsen_data(rng)))
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(blob[:len(blob) // 2])
    with pytest.raises(ValueError, match=r"mnist.pkl.gz: corrupt or truncated gzip data \(Compressed file ended"):
        load_mnist_pkl(path)


def test_pkl_truncated_pickle(tmp_path, rng):
    blob = python2_pickle(nielsen_data(rng))
    path = write(tmp_path / "mnist.pkl.gz", blob[:len(blob) // 2], gz=True)
    with pytest.raises(ValueError, match=r"mnist.pkl.gz is not a valid pickle"):
        load_mnist_pkl(path)


@pytest.mark.parametrize("make,message", [
    (lambda d: d[:2], r"expected a tuple of 3 \(X, y\) pairs \(training, validation, test\); found a tuple of 2"),
    (lambda d: {"X": 1}, r"expected a tuple of 3 .*found a dict"),
    (lambda d: (d[0], d[1], (d[2][0],)), r"the test part must be a pair \(X, y\); found a tuple of 1"),
    (lambda d: (d[0], (d[1][0][:, :700], d[1][1]), d[2]),
     r"the validation X must have 784 features \(columns\); found shape \(3, 700\)"),
    (lambda d: ((d[0][0], d[0][1][:5]), d[1], d[2]), r"the training part has 6 rows in X but 5 labels in y"),
    (lambda d: ((d[0][0], d[0][1] + 0.5), d[1], d[2]), r"the training y must hold integer labels"),
    (lambda d: ((d[0][0][0], d[0][1]), d[1], d[2]),
     r"the training X must be a 2-D numeric array; found an array of shape \(784,\)"),
])
def test_pkl_wrong_structure(tmp_path, rng, make, message):
    path = write(tmp_path / "mnist.pkl.gz", python2_pickle(make(nielsen_data(rng))), gz=True)
    with pytest.raises(ValueError, match="mnist.pkl.gz: " + message):
        load_mnist_pkl(path)


def test_pkl_empty_and_missing(tmp_path):
    with pytest.raises(ValueError, match=r"empty.pkl is empty"):
        load_mnist_pkl(write(tmp_path / "empty.pkl", b""))
    with pytest.raises(FileNotFoundError, match="absent.pkl.gz"):
        load_mnist_pkl(tmp_path / "absent.pkl.gz")


# --------------------------------------------------------------------------- .npz


def test_npz_round_trip(tmp_path, rng):
    X0 = rng.normal(size=(7, 3))
    y0 = rng.integers(0, 4, 7)
    np.savez(tmp_path / "plain.npz", X=X0, y=y0)
    X, y = load_npz(tmp_path / "plain.npz")
    assert X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)

    targets = rng.normal(size=(7, 2))
    np.savez_compressed(tmp_path / "other.npz", features=X0.astype(np.float32), targets=targets, extra=np.zeros(3))
    X, y = load(tmp_path / "other.npz", x_key="features", y_key="targets", dtype=np.float32)
    assert X.dtype == np.float32 and y.dtype == np.float64 and y.shape == (7, 2)
    np.testing.assert_array_equal(y, targets)

    np.savez(tmp_path / "float_labels.npz", X=X0.astype(np.uint8), y=y0.astype(np.float64))   # 2.0 -> 2
    X, y = load_npz(tmp_path / "float_labels.npz")
    assert y.dtype == np.int64 and X.dtype == np.float64


@pytest.mark.parametrize("key", ["X", "y"])
def test_npz_object_array_refused(tmp_path, key):
    arrays = {"X": np.zeros((2, 2)), "y": np.array([0, 1])}
    arrays[key] = np.array([[os.system, "echo pwned"]] * 2, dtype=object) if key == "X" else \
        np.array([1, "a"], dtype=object)
    np.savez(tmp_path / "objects.npz", **arrays)
    with pytest.raises(ValueError, match=rf"objects.npz: array '{key}' is an object array \(dtype object\), which "
                                         rf"can only be loaded by unpickling, and pickles are refused"):
        load_npz(tmp_path / "objects.npz")


def test_npz_missing_key_lists_keys(tmp_path):
    np.savez(tmp_path / "keys.npz", images=np.zeros((2, 2)), labels=np.zeros(2))
    with pytest.raises(ValueError, match=r"keys.npz has no array named 'X' or 'y'; it holds 'images', 'labels' "
                                         r"\(choose them with x_key= and y_key=\)"):
        load_npz(tmp_path / "keys.npz")


@pytest.mark.parametrize("X,y,message", [
    (np.zeros(4), np.zeros(4), r"'X' must be a 2-D numeric array \(n_samples, n_features\); found shape \(4,\)"),
    (np.array([["a", "b"]]), np.zeros(1), r"'X' must be a 2-D numeric array .* dtype <U1"),
    (np.zeros((4, 2)), np.zeros(3), r"'X' has 4 rows but 'y' has 3"),
    (np.zeros((4, 2)), np.zeros((4, 2, 1)), r"'y' must be 1-D labels or 2-D targets of numbers; found shape"),
    (np.zeros((0, 2)), np.zeros(0), r"'X' is empty: shape \(0, 2\)"),
    (np.array([[np.nan, 1.0]]), np.zeros(1), r"'X' contains NaN or infinity"),
])
def test_npz_bad_arrays(tmp_path, X, y, message):
    np.savez(tmp_path / "bad.npz", X=X, y=y)
    with pytest.raises(ValueError, match="bad.npz: " + message):
        load_npz(tmp_path / "bad.npz")


def test_npz_not_an_archive(tmp_path):
    np.save(tmp_path / "single.npy", np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"single.npy is a single .npy array, not an .npz archive"):
        load_npz(tmp_path / "single.npy")
    np.savez(tmp_path / "cut.npz", X=np.zeros((50, 4)), y=np.zeros(50))
    blob = (tmp_path / "cut.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(blob[:len(blob) // 2])
    with pytest.raises(ValueError, match=r"cut.npz is not an .npz archive .* empty, truncated or another format"):
        load_npz(tmp_path / "cut.npz")
    (tmp_path / "pickled.npz").write_bytes(pickle.dumps(np.zeros(3)))
    with pytest.raises(ValueError, match=r"pickled.npz is not an .npz archive"):
        load_npz(tmp_path / "pickled.npz")
    with pytest.raises(FileNotFoundError, match="absent.npz"):
        load_npz(tmp_path / "absent.npz")


def test_npz_header_claiming_huge_array_refused(tmp_path):
    """A member whose .npy header claims a (10**6, 10**6) float64 array (8 TB) in a few bytes."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as zf:
        zf.writestr("X.npy", buf.getvalue() + bytes(64))
        with zf.open("y.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(1000))
    with PeakMemory() as mem, pytest.raises(ValueError, match=r"huge.npz: array 'X' claims shape \(1000000, "
                                                              r"1000000\) of float64 = 8,000,000,000,000 bytes, "
                                                              r"but the archive holds 64 bytes"):
        load_npz(tmp_path / "huge.npz")
    assert mem.peak < SMALL_PEAK


def test_npz_corrupt_member(tmp_path):
    np.savez_compressed(tmp_path / "crc.npz", X=np.arange(4000.0).reshape(1000, 4), y=np.zeros(1000))
    blob = bytearray((tmp_path / "crc.npz").read_bytes())
    with zipfile.ZipFile(tmp_path / "crc.npz") as zf:
        info = zf.getinfo("X.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    blob[start + info.compress_size // 2] ^= 0xFF                       # flip a byte of X's deflated data
    (tmp_path / "crc.npz").write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"crc.npz: corrupt .npz archive"):
        load_npz(tmp_path / "crc.npz")


# --------------------------------------------------------------------------- CSV


def test_csv_with_header_and_label_name(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("label,pixel0,pixel1\n3,0.5,1\n\n1, 0.25 ,0\n")            # a blank line, spaces
    X, y = load_csv(path, label_column="label")
    assert X.dtype == np.float64 and X.shape == (2, 2) and y.dtype == np.int64
    np.testing.assert_array_equal(X, [[0.5, 1.0], [0.25, 0.0]])
    np.testing.assert_array_equal(y, [3, 1])
    X2, y2 = load(path, label_column=0)                                       # header inferred, index 0
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


def test_csv_without_header_label_index(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("1,2,0\n4,5,1\n7,8,1\n")
    X, y = load_csv(path)                                                     # last column by default
    np.testing.assert_array_equal(X, [[1, 2], [4, 5], [7, 8]])
    np.testing.assert_array_equal(y, [0, 1, 1])
    X, y = load_csv(path, label_column=1, header=False, dtype=np.float32)
    assert X.dtype == np.float32
    np.testing.assert_array_equal(X, [[1, 0], [4, 1], [7, 1]])
    np.testing.assert_array_equal(y, [2, 5, 8])
    X, y = load_csv(path, label_column=-3)
    np.testing.assert_array_equal(y, [1, 4, 7])


def test_csv_real_labels_gzip_and_delimiter(tmp_path):
    path = tmp_path / "data.csv.gz"
    path.write_bytes(gzip.compress("\ufeffa;b;target\n1;2;0.5\n3;4;1.5\n".encode()))    # BOM, ';', gzip
    X, y = load(path, delimiter=";", label_column="target")
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [0.5, 1.5])
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])


def test_csv_truncated_gzip(tmp_path):
    blob = gzip.compress("".join(f"{i},{i % 7},{i % 3}\n" for i in range(2000)).encode())
    path = tmp_path / "data.csv.gz"
    path.write_bytes(blob[:len(blob) // 2])
    with pytest.raises(ValueError, match=r"data.csv.gz: corrupt or truncated gzip data"):
        load_csv(path)


def test_csv_non_numeric_cell(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,label\n1,2,0\n3,abc,1\n")
    with pytest.raises(ValueError, match=r"bad.csv: line 3, column 2 \('b'\): 'abc' is not a number"):
        load_csv(path)
    path.write_text("1,2,0\n3,,1\n")
    with pytest.raises(ValueError, match=r"bad.csv: line 2, column 2: an empty cell"):
        load_csv(path)
    path.write_text("1,2,0\n3,inf,1\n")
    with pytest.raises(ValueError, match=r"bad.csv: line 2, column 2: 'inf' is not finite"):
        load_csv(path)
    path.write_text("x,3,label\n1,2,0\n")        # partly numeric first row: taken as data, with a hint
    with pytest.raises(ValueError, match=r"line 1, column 1: 'x' is not a number \(if that line is a header, "
                                         r"pass header=True\)"):
        load_csv(path)
    X, y = load_csv(path, header=True)
    np.testing.assert_array_equal(X, [[1, 2]])
    np.testing.assert_array_equal(y, [0])


def test_csv_ragged(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(ValueError, match=r"ragged.csv: ragged rows: line 3 has 2 columns but line 1 has 3"):
        load_csv(path)
    path.write_text("1,2,3\n4,5,6,7\n")
    with pytest.raises(ValueError, match=r"ragged rows: line 2 has 4 columns but line 1 has 3"):
        load_csv(path)


def test_csv_empty_and_structure_errors(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("")
    with pytest.raises(ValueError, match=r"data.csv is empty: no rows"):
        load_csv(path)
    path.write_text("\n\n")
    with pytest.raises(ValueError, match=r"data.csv is empty"):
        load_csv(path)
    path.write_text("a,b\n")
    with pytest.raises(ValueError, match=r"data.csv has a header row \(line 1\) but no data rows"):
        load_csv(path)
    path.write_text("1;2;3\n")
    with pytest.raises(ValueError, match=r"line 1 has 1 column; .* needs at least 2 .* is delimiter=',' right"):
        load_csv(path)
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"data.csv: no column named 'label' in the header; its columns are "
                                         r"'a', 'b'"):
        load_csv(path, label_column="label")
    with pytest.raises(ValueError, match=r"label_column=2 is outside the 2 columns of .*data.csv \(valid: -2 to 1\)"):
        load_csv(path, label_column=2)
    with pytest.raises(ValueError, match=r"label_column='b' is a column name, which needs a header row"):
        load_csv(path, label_column="b", header=False)
    path.write_bytes(b"a,b\n1,\xff\n")
    with pytest.raises(ValueError, match=r"data.csv is not UTF-8 text"):
        load_csv(path)
    with pytest.raises(FileNotFoundError, match="absent.csv"):
        load_csv(tmp_path / "absent.csv")


# --------------------------------------------------------------------------- the dispatcher


def test_load_dispatch(tmp_path, rng):
    X, y = load(format="digits")
    assert X.shape == (1797, 64)
    X, y = load(None, "digits", dtype=np.float32)
    assert X.dtype == np.float32
    (tmp_path / "table.txt").write_text("1,2,0\n")
    X, y = load(tmp_path / "table.txt", format="csv")
    np.testing.assert_array_equal(y, [0])
    with pytest.raises(ValueError, match=r"cannot tell the format of .*table.txt from its name; pass format= one "
                                         r"of 'idx', 'pkl', 'npz', 'csv', 'digits'"):
        load(tmp_path / "table.txt")
    with pytest.raises(FileNotFoundError, match="absent.bin"):
        load(tmp_path / "absent.bin")
    with pytest.raises(FileNotFoundError, match="absent.csv"):
        load(tmp_path / "absent.csv")
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"")
    with pytest.raises(ValueError, match="give the folder that holds them"):
        load(tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(ValueError, match="format must be one of 'idx', 'pkl', 'npz', 'csv', 'digits'; got 'hdf5'"):
        load(tmp_path / "table.txt", format="hdf5")
    with pytest.raises(TypeError, match="load needs a path"):
        load()
    with pytest.raises(ValueError, match="kind must be one of 'train', 'validation', 'test'"):
        load(tmp_path / "x.pkl.gz", kind="dev")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike; got int"):
        load_csv(3)


def test_loaders_are_exported():
    for name in ("load", "load_csv", "load_mnist_idx", "load_mnist_pkl", "load_npz", "read_idx"):
        assert name in datasets.__all__
        assert getattr(datasets, name).__doc__
