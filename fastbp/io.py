"""Model files: one ``.npz`` holding the flat parameters and a JSON header.

Loading never executes code: the archive is read with ``allow_pickle=False``
and only numeric arrays and one JSON string are accepted. Writes are atomic
(a temporary file in the same directory, then ``os.replace``), so an
interrupted save never leaves a broken model behind.
"""

import json
import os
import zipfile

import numpy as np

from ._atomic import atomic_write
from ._version import __version__

__all__ = ["save", "load", "FORMAT_VERSION"]

FORMAT = "fastbp-model"
#: Version of the file layout; files from a newer version are refused.
FORMAT_VERSION = 1


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


def _restore_rng(data):
    def convert(value):
        if isinstance(value, dict):
            if set(value) == {"int"}:
                return int(value["int"])
            if set(value) == {"array", "dtype"}:
                return np.asarray(value["array"], dtype=np.dtype(value["dtype"]))
            return {k: convert(x) for k, x in value.items()}
        return value
    state = convert(data)
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"):
        raise ValueError(f"unsupported random generator {name!r} in model file")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def save(net, path, training_state=True):
    """Write ``net`` to ``path`` (a ``.npz`` file) atomically.

    The file holds the flat parameters and a JSON header with the format
    version, sizes, activations, cost, dtype and fastbp version. With
    ``training_state`` (default) it also holds what continuing training
    needs to match an uninterrupted run: the optimizer's velocity/moments,
    the random generator's state and the epoch records.
    """
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
        header["records"] = net._records
        if state is not None:
            arrays["optimizer_first"] = state.first
            arrays["optimizer_second"] = state.second
            arrays["optimizer_step"] = state.step
    arrays["header"] = np.array(json.dumps(header))
    with atomic_write(path) as f:
        np.savez(f, **arrays)

def _optimizer_config(optimizer):
    from . import optimizers
    name = type(optimizer).__name__
    if not isinstance(optimizer, (optimizers.SGD, optimizers.Adam)):
        return None
    return {"name": name, **{k: getattr(optimizer, k) for k in optimizer.__dataclass_fields__}}


def _optimizer_from(config):
    from . import optimizers
    classes = {"SGD": optimizers.SGD, "Adam": optimizers.Adam}
    if not isinstance(config, dict) or config.get("name") not in classes:
        raise ValueError(f"unknown optimizer in model file: {config!r}")
    cls = classes[config["name"]]
    fields = {k: config[k] for k in cls.__dataclass_fields__ if k in config}
    return cls(**fields)


def load(path):
    """Read a network written by ``save`` / ``Network.save``.

    Raises ValueError for a file that is not a fastbp model, is truncated or
    corrupt, comes from a newer format version, or whose parameter count or
    dtype does not match its header. Never unpickles.
    """
    from .network import Network
    from .training import OptimizerState

    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path} is not a readable fastbp model file (.npz): {exc}") from None
    odd = sorted(k for k, a in arrays.items() if not isinstance(a, np.ndarray))
    if odd:
        raise ValueError(f"{path} is not a readable fastbp model file: members {odd} are not numpy arrays")
    if "header" not in arrays or "parameters" not in arrays:
        raise ValueError(f"{path} is not a fastbp model file: it lacks 'header' or 'parameters' "
                         f"(found {sorted(arrays)})")
    if arrays["header"].dtype.kind != "U" or arrays["header"].ndim != 0:
        raise ValueError(f"{path}: the model header is not a JSON string")
    try:
        header = json.loads(str(arrays["header"]))
    except (json.JSONDecodeError, TypeError) as exc:
        raise ValueError(f"{path}: the model header is not valid JSON ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fastbp model file (format {header.get('format')!r})"
                         if isinstance(header, dict) else f"{path}: malformed model header")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(f"{path} was written in model format version {version!r} (by fastbp "
                         f"{header.get('fastbp_version')}); this fastbp {__version__} reads versions up to "
                         f"{FORMAT_VERSION}: upgrade fastbp")
    try:
        net = Network(header["sizes"], hidden_activation=header["hidden_activation"],
                      output_activation=header["output_activation"], cost=header["cost"],
                      dtype=header["dtype"], init="zeros", leaky_slope=header.get("leaky_slope", 0.01))
    except KeyError as exc:
        raise ValueError(f"{path}: the model header lacks {exc}") from None
    net.init = header.get("init", net.init)
    theta = arrays["parameters"]
    if theta.ndim != 1 or theta.shape[0] != net.n_parameters or header.get("n_parameters") != net.n_parameters:
        raise ValueError(f"{path}: the header's sizes {header['sizes']} need {net.n_parameters} parameters, "
                         f"but the file holds {theta.shape} (header says {header.get('n_parameters')})")
    if theta.dtype != net.dtype:
        raise ValueError(f"{path}: parameters are {theta.dtype} but the header says {net.dtype}")
    net.parameters = theta                  # checks finiteness
    if header.get("training_state"):
        if header.get("rng") is not None:
            net._rng = _restore_rng(header["rng"])
        records = header.get("records") or []
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ValueError(f"{path}: malformed training records in the header")
        net._records = [dict(r) for r in records]
        if header.get("optimizer") is not None:
            state = OptimizerState(_optimizer_from(header["optimizer"]), net.n_parameters, net.dtype)
            for key, target in (("optimizer_first", state.first), ("optimizer_second", state.second),
                                ("optimizer_step", state.step)):
                stored = arrays.get(key)
                if stored is None or stored.shape != target.shape or stored.dtype != target.dtype:
                    raise ValueError(f"{path}: optimizer state {key!r} is missing or does not match "
                                     f"the network ({None if stored is None else stored.shape} vs {target.shape})")
                target[...] = stored
            net._optimizer_state = state
    return net
