"""Model files: one ``.npz`` holding the flat parameters and a JSON header.

Loading never executes code: the archive is read with ``allow_pickle=False``
and only numeric arrays and one JSON string are accepted. Writes are atomic
(a temporary file in the same directory, then ``os.replace``), so an
interrupted save never leaves a broken model behind.
"""

import errno
import json
import math
import os
import weakref
import zipfile

import numpy as np

from ._atomic import atomic_write
from ._version import __version__
from .history import copy_record

__all__ = ["save", "load", "FORMAT_VERSION"]

FORMAT = "fastbp-model"
#: Version of the file layout; files from a newer version are refused.
#: 2 added the training state's ``best_epoch`` and ``split_seed``; 3 its ``early_stopping`` progress
#: (and the member ``best_parameters``). Files of versions 1 and 2 still load.
FORMAT_VERSION = 3


def _rng_state(rng):
    """The Generator's bit-generator state as JSON-safe data (big ints as strings)."""
    state = rng.bit_generator.state

    def convert(value):
        if isinstance(value, dict):
            return {k: convert(x) for k, x in value.items()}
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return {"int": str(int(value))}
        if isinstance(value, np.ndarray):
            return {"array": value.tolist(), "dtype": str(value.dtype)}
        return value
    return convert(state)


_U32 = (0, 2**32 - 1)
_U128 = (0, 2**128 - 1)
_FLAG = (0, 1)
_PCG = {"state": {"state": _U128, "inc": _U128}, "has_uint32": _FLAG, "uinteger": _U32}
#: The state layout of each bit generator a model file may name, and the allowed range of every
#: number in it: numpy's setters accept out-of-range positions (MT19937's ``pos``, Philox's
#: ``buffer_pos``) that make the next draw read outside the generator's buffer.
_RNG_LAYOUTS = {
    "PCG64": _PCG,
    "PCG64DXSM": _PCG,
    "MT19937": {"state": {"key": ("uint32", 624), "pos": (0, 624)}},
    "Philox": {"state": {"counter": ("uint64", 4), "key": ("uint64", 2)}, "buffer": ("uint64", 4),
               "buffer_pos": (0, 4), "has_uint32": _FLAG, "uinteger": _U32},
    "SFC64": {"state": {"state": ("uint64", 4)}, "has_uint32": _FLAG, "uinteger": _U32},
}


def _decode_rng(value, layout, where):
    """Check one piece of a saved generator state against its layout and decode it."""
    if isinstance(layout, dict):
        if not isinstance(value, dict) or set(value) != set(layout):
            got = sorted(value) if isinstance(value, dict) else type(value).__name__
            raise ValueError(f"{where} must hold the keys {sorted(layout)}; got {got}")
        return {k: _decode_rng(value[k], layout[k], f"{where}.{k}") for k in layout}
    if isinstance(layout[0], str):                     # (dtype, length): an array of integers
        dtype, length = layout
        if (not isinstance(value, dict) or set(value) != {"array", "dtype"} or value["dtype"] != dtype
                or not isinstance(value["array"], list) or len(value["array"]) != length):
            raise ValueError(f"{where} must be an array of {length} {dtype}; got {value!r:.100}")
        high = np.iinfo(dtype).max
        if not all(type(x) is int and 0 <= x <= high for x in value["array"]):
            raise ValueError(f"{where} must hold integers in [0, {high}]")
        return np.array(value["array"], dtype=dtype)
    low, high = layout                                 # an integer, saved as a string of digits
    digits = value.get("int") if isinstance(value, dict) and set(value) == {"int"} else None
    if not (isinstance(digits, str) and 0 < len(digits) <= 40 and digits.isascii() and digits.isdigit()):
        raise ValueError(f"{where} must be an integer saved as {{'int': 'digits'}}; got {value!r:.100}")
    number = int(digits)
    if not low <= number <= high:
        raise ValueError(f"{where} must be in [{low}, {high}]; got {number}")
    return number


def _restore_rng(data, path):
    """The Generator saved by ``_rng_state``, every field checked first."""
    name = data.get("bit_generator") if isinstance(data, dict) else None
    if not isinstance(name, str) or name not in _RNG_LAYOUTS:
        raise ValueError(f"{path}: header field 'rng' names an unsupported random generator {name!r:.100}; "
                         f"expected one of {', '.join(_RNG_LAYOUTS)}")
    state = _decode_rng({k: x for k, x in data.items() if k != "bit_generator"}, _RNG_LAYOUTS[name],
                        f"{path}: header field 'rng'")
    bit_generator = getattr(np.random, name)()
    try:
        bit_generator.state = {"bit_generator": name, **state}
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise ValueError(f"{path}: header field 'rng' is not a valid {name} state ({exc})") from None
    return np.random.Generator(bit_generator)


def save(net, path, training_state=True):
    """Write ``net`` (a fastbp.Network) to ``path`` (a ``.npz`` file) atomically; ``fastbp.save``.

    The file holds the flat parameters and a JSON header with the format
    version, sizes, activations, cost, dtype and fastbp version. With
    ``training_state`` (default) it also holds what continuing training
    needs to match an uninterrupted run: the optimizer's velocity/moments,
    the random generator's state, the epoch records, the epoch whose
    parameters early stopping restored (``history.best_epoch``), the
    seed of the ``validation_fraction`` split and, in a checkpoint of a fit
    that has not ended, early stopping's progress (its rule, the fit's first
    epoch, the best epoch so far and that epoch's parameters).
    """
    from . import _validation as v
    from .network import Network
    from .stopping import EarlyStopping
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp.Network; got {type(net).__name__} (the order is save(net, path))")
    training_state = v.check_bool("training_state", training_state)
    header = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastbp_version": __version__,
        "sizes": list(net.sizes),
        "hidden_activation": net.hidden_activation,
        "output_activation": net.output_activation,
        "cost": net.cost_name,
        "dtype": net.dtype.name,
        "leaky_slope": net.leaky_slope,
        "init": net.init,
        "n_parameters": int(net.n_parameters),
        "training_state": bool(training_state),
    }
    arrays = {"parameters": net.parameters}
    if training_state:
        state = net._optimizer_state
        header["optimizer"] = None if state is None else _optimizer_config(state.optimizer)
        header["rng"] = _rng_state(net._rng)
        header["best_epoch"] = net._best_epoch
        header["split_seed"] = net._split_seed
        progress = net._stopping_progress
        if progress is not None and type(progress.rule) is not EarlyStopping:
            progress = None         # a subclass's fields and behaviour are its own: not resumed
        header["early_stopping"] = None if progress is None else {
            **{k: getattr(progress.rule, k) for k in progress.rule.__dataclass_fields__},
            "first_epoch": progress.first_epoch, "best_epoch": progress.best_epoch}
        if progress is not None and progress.best_parameters is not None:
            arrays["best_parameters"] = progress.best_parameters
        if state is not None:
            arrays["optimizer_first"] = state.first
            arrays["optimizer_second"] = state.second
            arrays["optimizer_step"] = state.step
    text = json.dumps(header)
    if training_state:
        text = f'{text[:-1]}, "records": {_records_json(net)}}}'
    arrays["header"] = np.array(text)
    with atomic_write(path) as f:
        np.savez(f, **arrays)


#: Per network, copies of the epoch records it last saved and their JSON texts: a checkpoint after every
#: epoch then encodes only the new records, instead of the whole history each time (quadratic in the epochs).
_encoded_records = weakref.WeakKeyDictionary()


def _records_json(net):
    """``json.dumps(net._records)``, reusing the text of each record that still equals the copy of it
    taken when it was last saved (a record can change in place: a schedule is handed the live list)."""
    records = net._records
    saved, texts = _encoded_records.get(net, ([], []))
    if len(saved) <= len(records) and records[:len(saved)] == saved:      # the usual case, compared in C
        kept = len(saved)
    else:
        kept = 0
        while kept < min(len(records), len(saved)) and records[kept] == saved[kept]:
            kept += 1
    new = records[kept:]
    saved, texts = saved[:kept] + [copy_record(r) for r in new], texts[:kept] + [json.dumps(r) for r in new]
    _encoded_records[net] = (saved, texts)
    return "[" + ", ".join(texts) + "]"


def _optimizer_config(optimizer):
    from . import optimizers
    if type(optimizer) not in (optimizers.SGD, optimizers.Adam):     # (optimizers.get resolves subclasses)
        return None
    return {"name": type(optimizer).__name__,
            **{k: getattr(optimizer, k) for k in optimizer.__dataclass_fields__}}


#: Every member a model file may hold, and every field of its header.
_MEMBERS = ("header", "parameters", "optimizer_first", "optimizer_second", "optimizer_step", "best_parameters")
_HEADER_FIELDS = ("format", "format_version", "fastbp_version", "sizes", "hidden_activation",
                  "output_activation", "cost", "dtype", "leaky_slope", "init", "n_parameters", "training_state")
_TRAINING_FIELDS = ("optimizer", "rng", "records", "best_epoch", "split_seed", "early_stopping")
#: Training-state fields that first appeared in a format version after 1.
_TRAINING_FIELDS_SINCE = {"best_epoch": 2, "split_seed": 2, "early_stopping": 3}
_READ_CHUNK = 1 << 20

try:                                   # errors a corrupt zip member can raise while it is decompressed
    import zlib
    _DECOMPRESS_ERRORS = (zlib.error,)
except ImportError:                    # pragma: no cover
    _DECOMPRESS_ERRORS = ()
try:
    import lzma
    _DECOMPRESS_ERRORS += (lzma.LZMAError,)
except ImportError:                    # pragma: no cover
    pass
_CORRUPT = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, KeyError,
            NotImplementedError, RuntimeError, OverflowError) + _DECOMPRESS_ERRORS


class _Member:
    """One ``.npy`` member of the archive: its header is read and checked at once; its data only
    by ``read``, in chunks, so memory follows the bytes really stored, never a size a header claims."""

    def __init__(self, archive, info, path):
        self.archive, self.info, self.path = archive, info, path
        self.key = info.filename[:-len(".npy")]
        with archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                self.shape, fortran, self.dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                self.shape, fortran, self.dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unsupported .npy format version {version} in member {self.key!r}")
            self.offset = f.tell()
        if self.dtype.hasobject or self.dtype.kind not in "biufU":
            raise ValueError(f"member {self.key!r} has dtype {self.dtype}; model files hold only numbers "
                             f"and one string (nothing is unpickled)")
        self.order = "F" if fortran else "C"

    def expect(self, shape, dtype):
        if self.shape != shape or self.dtype != dtype:
            raise ValueError(f"{self.path}: member {self.key!r} must have shape {shape} and dtype {dtype}; "
                             f"got shape {self.shape} and dtype {self.dtype}")

    def read(self):
        count = math.prod(self.shape)
        remaining = count * self.dtype.itemsize
        buffer = bytearray()
        with self.archive.open(self.info) as f:
            f.seek(self.offset)
            while remaining:
                chunk = f.read(min(remaining, _READ_CHUNK))
                if not chunk:
                    raise ValueError(f"member {self.key!r} is truncated")
                buffer += chunk
                remaining -= len(chunk)
        return np.frombuffer(buffer, dtype=self.dtype, count=count).reshape(self.shape, order=self.order)


def _open_members(path):
    """The archive and its members' checked .npy headers, without reading any array data."""
    if not zipfile.is_zipfile(path):
        raise ValueError("not a zip archive")
    archive = zipfile.ZipFile(path)
    try:
        infos = archive.infolist()
        odd = sorted(i.filename for i in infos if not i.filename.endswith(".npy"))
        if odd:
            raise ValueError(f"members {odd} are not numpy arrays")
        packed = sorted(i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED)
        if packed:
            # save never compresses; a compressed member could need thousands of times its size in memory
            raise ValueError(f"members {packed} are compressed; model files hold uncompressed members "
                             f"(np.savez, as fastbp.save writes them)")
        return archive, {i.filename[:-len(".npy")]: _Member(archive, i, path) for i in infos}
    except BaseException:
        archive.close()
        raise


def _fail(path, field, expected, got):
    raise ValueError(f"{path}: header field {field!r} must be {expected}; got {got!r:.200}")


def _check_header(path, header):
    """Validate every header field (pure Python: nothing is allocated from the sizes)."""
    from . import _validation as v
    from .initializers import INITIALIZERS
    from .kernels.codes import COSTS, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS

    if not isinstance(header, dict):
        raise ValueError(f"{path}: malformed model header: expected a JSON object, got {type(header).__name__}")
    if header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fastbp model file (format {header.get('format')!r:.100})")
    version = header.get("format_version")
    if type(version) is not int or version < 1:
        _fail(path, "format_version", "a positive integer", version)
    if version > FORMAT_VERSION:
        raise ValueError(f"{path} was written in model format version {version!r} (by fastbp "
                         f"{header.get('fastbp_version')!s:.40}); this fastbp {__version__} reads versions up "
                         f"to {FORMAT_VERSION}: upgrade fastbp")
    if not isinstance(header.get("training_state", False), bool):
        _fail(path, "training_state", "true or false", header["training_state"])
    training = {f for f in _TRAINING_FIELDS if version >= _TRAINING_FIELDS_SINCE.get(f, 1)}
    expected = set(_HEADER_FIELDS) | (training if header.get("training_state") else set())
    missing, extra = sorted(expected - set(header)), sorted(set(header) - expected)
    if missing or extra:
        raise ValueError(f"{path}: malformed model header:" + (f" it lacks fields {missing}" if missing else "")
                         + (f" unexpected fields {extra}" if extra else ""))
    if not isinstance(header["fastbp_version"], str):
        _fail(path, "fastbp_version", "a string", header["fastbp_version"])
    if not isinstance(header["sizes"], list):
        _fail(path, "sizes", "a list of layer sizes", header["sizes"])
    try:
        sizes = v.check_sizes(header["sizes"])
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{path}: header field 'sizes': {exc}") from None
    n_parameters = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if type(header["n_parameters"]) is not int or header["n_parameters"] != n_parameters:
        raise ValueError(f"{path}: the header's sizes {list(sizes)} need {n_parameters} parameters, but its "
                         f"field 'n_parameters' says {header['n_parameters']!r:.100}")
    if header["dtype"] not in ("float32", "float64"):
        _fail(path, "dtype", "'float32' or 'float64'", header["dtype"])
    if type(header["leaky_slope"]) is not float:
        _fail(path, "leaky_slope", "a number in (0, 1)", header["leaky_slope"])
    # The options' names; the network checks them again, with any rule that involves the sizes, once
    # the file is known to hold the parameters the sizes need.
    for field, choices in (("hidden_activation", HIDDEN_ACTIVATIONS), ("output_activation", OUTPUT_ACTIVATIONS),
                           ("cost", tuple(COSTS)), ("init", tuple(INITIALIZERS))):
        try:
            v.check_choice(field, header[field], choices)
        except ValueError as exc:
            raise ValueError(f"{path}: invalid model header: {exc}") from None
    try:
        v.check_float("leaky_slope", header["leaky_slope"], 0.0, 1.0, low_open=True, high_open=True)
    except ValueError as exc:
        raise ValueError(f"{path}: invalid model header: {exc}") from None
    return sizes, n_parameters


def _check_records(path, records):
    """Epoch records: a list of {metric: number or list of numbers}, epochs numbered 1, 2, ..."""
    if not isinstance(records, list):
        _fail(path, "records", "a list of epoch records", records)
    for i, record in enumerate(records):
        where = f"{path}: header field 'records', record {i}"
        if not isinstance(record, dict):
            raise ValueError(f"{where} must be a dict of metrics; got {record!r:.100}")
        if type(record.get("epoch")) is not int or record["epoch"] != i + 1:
            raise ValueError(f"{where} must have 'epoch' {i + 1}; got {record.get('epoch')!r:.100}")
        for key, value in record.items():
            numbers = value if isinstance(value, list) else [value]
            if not all(type(x) in (int, float) for x in numbers):
                raise ValueError(f"{where}: metric {key!r:.100} must be a number or a list of numbers; "
                                 f"got {value!r:.100}")
    return [dict(r) for r in records]


def _optimizer_from(config, path):
    from . import optimizers
    classes = {"SGD": optimizers.SGD, "Adam": optimizers.Adam}
    name = config.get("name") if isinstance(config, dict) else None
    if not isinstance(name, str) or name not in classes:
        _fail(path, "optimizer", "null or {'name': 'SGD' or 'Adam', ...}", config)
    cls = classes[name]
    fields = set(cls.__dataclass_fields__) | {"name"}
    if set(config) != fields:
        raise ValueError(f"{path}: header field 'optimizer' for {name} must hold {sorted(fields)}; "
                         f"got {sorted(config)}")
    try:
        return cls(**{k: config[k] for k in cls.__dataclass_fields__})
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{path}: header field 'optimizer': {exc}") from None


def _progress_from(config, path):
    """Early stopping's progress from the header (its parameters not yet read)."""
    from .stopping import EarlyStopping, StoppingProgress
    fields = set(EarlyStopping.__dataclass_fields__) | {"first_epoch", "best_epoch"}
    if not isinstance(config, dict) or set(config) != fields:
        _fail(path, "early_stopping", f"null or an object with the fields {sorted(fields)}", config)
    try:
        rule = EarlyStopping(**{k: config[k] for k in EarlyStopping.__dataclass_fields__})
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{path}: header field 'early_stopping': {exc}") from None
    first, best = config["first_epoch"], config["best_epoch"]
    if type(first) is not int or not (best is None or type(best) is int):
        _fail(path, "early_stopping", "first_epoch an integer and best_epoch null or an integer", config)
    return StoppingProgress(rule, first, best)


def _check_progress(path, progress, members, read, records, theta, dtype):
    """``progress`` with its best parameters read, once they and the records are known to agree
    with it (replayed by the tracker that will go on from it)."""
    from . import _validation as v
    from .stopping import BestTracker
    best = None
    if "best_parameters" in members:
        members["best_parameters"].expect(theta.shape, dtype)
        best = read(members["best_parameters"])
        if not v.all_finite(best):
            raise ValueError(f"{path}: member 'best_parameters' contains NaN or infinity")
    progress = type(progress)(progress.rule, progress.first_epoch, progress.best_epoch, best)
    try:
        BestTracker(progress.rule).resume(progress, records, theta)
    except (TypeError, ValueError) as exc:       # TypeError: a monitor whose records are lists
        raise ValueError(f"{path}: header field 'early_stopping': {exc}") from None
    needed = progress.rule.restore_best and progress.best_epoch not in (None, len(records))
    if best is not None and not needed:
        raise ValueError(f"{path}: member 'best_parameters' is not used: early stopping's progress needs the "
                         f"parameters of a best epoch only with restore_best, when that is not the last recorded one")
    return progress


def load(path):
    """Read a network written by ``save`` / ``Network.save``.

    Raises ValueError for a file that is not a fastbp model, is truncated or
    corrupt, comes from a newer format version, or whose header, parameters
    or training state are malformed or do not match each other (the message
    names the file and the field). Every field is checked before the network
    is built, and nothing is allocated from the header's sizes until the file
    is known to hold that many parameters. Never unpickles.
    """
    from . import _validation as v
    from .network import Network
    from .training import OptimizerState

    try:
        path = os.fsdecode(path)        # a bytes path too (zipfile would take bytes for a file object)
    except TypeError:
        raise TypeError(f"path must be a file path; got {type(path).__name__}") from None
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such model file: {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, f"{path!r} is a directory, not a model file", path)
    with open(path, "rb"):      # an unreadable file is said as such (zipfile would call it "not a zip archive")
        pass
    try:
        archive, members = _open_members(path)
    except _CORRUPT as exc:
        raise ValueError(f"{path} is not a readable fastbp model file (.npz): {exc}") from None
    with archive:
        if "header" not in members or "parameters" not in members:
            raise ValueError(f"{path} is not a fastbp model file: it lacks 'header' or 'parameters' "
                             f"(found {sorted(members)})")
        unexpected = sorted(set(members) - set(_MEMBERS))
        if unexpected:
            raise ValueError(f"{path}: unexpected members {unexpected} (a model file holds {list(_MEMBERS)})")

        def read(member):
            try:
                return member.read()
            except _CORRUPT as exc:
                raise ValueError(f"{path} is not a readable fastbp model file (.npz): {exc}") from None

        if members["header"].dtype.kind != "U" or members["header"].shape != ():
            raise ValueError(f"{path}: the model header is not a JSON string")
        try:
            header = json.loads(str(read(members["header"])[()]))
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"{path}: the model header is not valid JSON ({exc})") from None
        sizes, n = _check_header(path, header)
        dtype = np.dtype(header["dtype"])
        theta = members["parameters"]
        if theta.shape != (n,):
            raise ValueError(f"{path}: the header's sizes {list(sizes)} need {n} parameters, but the file "
                             f"holds {theta.shape}")
        theta.expect((n,), dtype)

        # Training state, all checked before the network is built.
        optimizer = rng = None
        records = []
        best_epoch = split_seed = None
        if header["training_state"]:
            records = _check_records(path, header["records"])
            best_epoch = header.get("best_epoch")       # version 1 files have none
            if best_epoch is not None and not (type(best_epoch) is int and 1 <= best_epoch <= len(records)):
                _fail(path, "best_epoch", f"null or a recorded epoch (1 to {len(records)})", best_epoch)
            split_seed = header.get("split_seed")       # version 1 files have none
            if split_seed is not None and not (type(split_seed) is int and 0 <= split_seed < 2 ** 63):
                _fail(path, "split_seed", "null or an integer in [0, 2**63)", split_seed)
            if header["rng"] is not None:
                rng = _restore_rng(header["rng"], path)
            if header["optimizer"] is not None:
                optimizer = _optimizer_from(header["optimizer"], path)
        progress = None
        if header["training_state"] and header.get("early_stopping") is not None:     # versions 1, 2: none
            progress = _progress_from(header["early_stopping"], path)
        if progress is None and "best_parameters" in members:
            raise ValueError(f"{path}: member 'best_parameters' holds early stopping's best parameters, but the "
                             f"header has no early stopping progress")
        stored = sorted(set(members) & {"optimizer_first", "optimizer_second", "optimizer_step"})
        if optimizer is None and stored:
            raise ValueError(f"{path}: members {stored} hold optimizer state, but the header names no optimizer")
        theta = read(theta)
        if not v.all_finite(theta):
            raise ValueError(f"{path}: member 'parameters' contains NaN or infinity")
        if progress is not None:
            if best_epoch is not None:
                raise ValueError(f"{path}: header field 'best_epoch' is {best_epoch}, but a checkpoint with early "
                                 f"stopping's progress holds its last epoch, not a best one put back")
            progress = _check_progress(path, progress, members, read, records, theta, dtype)
        state = None
        if optimizer is not None:
            state = OptimizerState(optimizer, n, dtype)     # sized by parameters the file really holds
            for key, target in (("optimizer_first", state.first), ("optimizer_second", state.second),
                                ("optimizer_step", state.step)):
                if key not in members:
                    raise ValueError(f"{path}: member {key!r} of the {type(optimizer).__name__} state is missing")
                members[key].expect(target.shape, target.dtype)
                target[...] = read(members[key])
                if not v.all_finite(target):
                    raise ValueError(f"{path}: member {key!r} contains NaN or infinity")
            if (state.second < 0).any():
                raise ValueError(f"{path}: member 'optimizer_second' (Adam's second moments) must be >= 0; "
                                 f"got {state.second.min()}")
            if state.step[0] < 0:
                raise ValueError(f"{path}: member 'optimizer_step' must be >= 0; got {state.step[0]}")

    try:        # sized by parameters the file really holds; checks the rules that involve the sizes
        net = Network(sizes, hidden_activation=header["hidden_activation"],
                      output_activation=header["output_activation"], cost=header["cost"],
                      dtype=dtype, init="zeros", leaky_slope=header["leaky_slope"])
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{path}: invalid model header: {exc}") from None
    net.init = header["init"]
    net.parameters = theta
    if rng is not None:
        net._rng = rng
    net._records = records
    net._best_epoch = best_epoch
    net._split_seed = split_seed
    net._optimizer_state = state
    net._stopping_progress = progress
    return net
