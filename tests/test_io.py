"""Model files: round trips, exact resume from checkpoints, and hostile or corrupt files."""

import io as io_module
import json
import os
import re
import tracemalloc
import zipfile

import numpy as np
import pytest

import fastbp
from fastbp import io

from conftest import DTYPES


def _data(n=60):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)), rng.integers(0, 3, n)


@pytest.mark.parametrize("dtype", DTYPES)
def test_save_load_predict_identical(tmp_path, dtype):
    X, y = _data()
    net = fastbp.Network([4, 7, 3], hidden_activation="leaky_relu", output_activation="softmax",
                         cost="log_likelihood", dtype=dtype, seed=1, leaky_slope=0.2)
    net.fit(X, y, epochs=3, learning_rate=0.1)
    path = tmp_path / "model.npz"
    net.save(path)
    loaded = fastbp.load(path)
    assert repr(loaded) == repr(net) and loaded.leaky_slope == 0.2
    assert loaded.parameters.dtype == dtype
    np.testing.assert_array_equal(loaded.parameters, net.parameters)
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    assert loaded.history.as_dict() == net.history.as_dict()


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_resume_from_checkpoint_equals_uninterrupted_run(tmp_path, optimizer):
    X, y = _data()
    options = dict(batch_size=8, learning_rate=0.05, optimizer=optimizer, dropout=0.1,
                   schedule=fastbp.schedules.StepDecay(2, 0.5))
    straight = fastbp.Network([4, 6, 3], seed=2)
    straight.fit(X, y, epochs=6, **options)

    first = fastbp.Network([4, 6, 3], seed=2)
    path = tmp_path / "ckpt.npz"
    first.fit(X, y, epochs=4, checkpoint=path, checkpoint_every=2, **options)
    resumed = fastbp.load(path)
    resumed.fit(X, y, epochs=2, **options)
    np.testing.assert_array_equal(resumed.parameters, straight.parameters)
    assert resumed.history["learning_rate"] == straight.history["learning_rate"]


def test_checkpoint_is_written_every_k_epochs(tmp_path):
    X, y = _data()
    path = tmp_path / "ckpt.npz"
    seen = []
    net = fastbp.Network([4, 3], seed=0)
    net.fit(X, y, epochs=5, checkpoint=path, checkpoint_every=2,
            callbacks=[lambda epoch, logs: seen.append(len(fastbp.load(path).history)
                                                       if path.exists() else 0)])
    assert seen == [0, 0, 2, 2, 4]                 # saved after epochs 2 and 4, after their callbacks ...
    assert len(fastbp.load(path).history) == 5     # ... and at the end


@pytest.mark.parametrize("optimizer, epochs, every, early_stopping, saves", [
    ("sgd", 3, 1, None, [1, 2, 3]),                  # the last epoch's checkpoint is the final one
    ("sgd", 3, 2, None, [2, 3]),
    ("lbfgs", 3, 1, None, [1, 2, 3]),
    # early stopping puts an earlier epoch back after the last checkpoint: written again
    ("sgd", 6, 1, fastbp.EarlyStopping("val_cost", patience=100), [1, 2, 3, 4, 5, 6, 6]),
])
def test_a_fit_writes_its_last_checkpoint_once(tmp_path, monkeypatch, optimizer, epochs, every, early_stopping,
                                               saves):
    X, y = _data()
    path = tmp_path / "ckpt.npz"
    net = fastbp.Network([4, 5, 3], seed=0)
    written = []
    save = io.save
    monkeypatch.setattr(io, "save", lambda n, p, **kw: (written.append(len(n._records)), save(n, p, **kw)))
    # Validated on other data with a large step, so that the best epoch is not the last.
    net.fit(X, y, epochs=epochs, optimizer=optimizer, checkpoint=path, checkpoint_every=every,
            learning_rate=8.0, early_stopping=early_stopping, validation_data=_data(30) if early_stopping else None)
    assert written == saves
    loaded = fastbp.load(path)
    np.testing.assert_array_equal(loaded.parameters, net.parameters)
    assert loaded.history.records == net.history.records and loaded.history.best_epoch == net.history.best_epoch


def test_interrupted_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    net = fastbp.Network([4, 3], seed=0)
    path = tmp_path / "model.npz"
    net.save(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(io.np, "savez", crash)
    net.parameters = net.parameters + 1
    with pytest.raises(KeyboardInterrupt):
        net.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]            # no temporary file left behind


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(str(arrays["header"]))
    for key, value in changes.items():
        if key in header:
            header[key] = value
        else:
            arrays[key] = value
    arrays["header"] = np.array(json.dumps(header))
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.npz"
    fastbp.Network([4, 5, 3], seed=0).save(path)
    return path


def test_newer_format_version_is_refused(saved):
    _rewrite(saved, format_version=io.FORMAT_VERSION + 1)
    with pytest.raises(ValueError, match=f"format version {io.FORMAT_VERSION + 1} .* upgrade fastbp"):
        fastbp.load(saved)


def test_parameter_count_must_match_the_header(saved):
    _rewrite(saved, parameters=np.zeros(10))
    with pytest.raises(ValueError, match="need 43 parameters, but the file holds"):
        fastbp.load(saved)


def test_truncated_file_gives_a_clear_error(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="not a readable fastbp model file"):
        fastbp.load(saved)


def test_object_arrays_are_refused_without_unpickling(saved, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))
    with open(saved, "wb") as f:
        np.savez(f, header=np.array(json.dumps({"format": "fastbp-model"})),
                 parameters=np.array([Evil()], dtype=object))
    with pytest.raises(ValueError, match="not a readable fastbp model file"):
        fastbp.load(saved)
    assert not marker.exists()


def test_other_files_are_refused(tmp_path):
    not_zip = tmp_path / "x.npz"
    not_zip.write_bytes(b"hello")
    with pytest.raises(ValueError, match="not a readable fastbp model file"):
        fastbp.load(not_zip)
    other = tmp_path / "y.npz"
    np.savez(other, X=np.zeros(3))
    with pytest.raises(ValueError, match="lacks 'header' or 'parameters'"):
        fastbp.load(other)
    with zipfile.ZipFile(tmp_path / "z.npz", "w") as z:
        z.writestr("header.npy", b"garbage")
    with pytest.raises(ValueError, match="not a readable"):
        fastbp.load(tmp_path / "z.npz")
    with pytest.raises(FileNotFoundError):
        fastbp.load(tmp_path / "missing.npz")


def test_bad_header_values_are_reported(saved):
    _rewrite(saved, cost="hinge")
    with pytest.raises(ValueError, match="cost must be one of"):
        fastbp.load(saved)


def test_nan_parameters_are_refused(saved):
    _rewrite(saved, parameters=np.full(43, np.nan))
    with pytest.raises(ValueError, match="NaN"):
        fastbp.load(saved)


def test_save_to_a_missing_directory_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        fastbp.Network([2, 1]).save(tmp_path / "no" / "model.npz")


def test_saved_files_get_ordinary_permissions(tmp_path):
    """The temporary file is made with mode 0600; the model must not keep it."""
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "model.npz"
    fastbp.Network([2, 1]).save(path)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


# ---------------------------------------------------------------- hostile and malformed files
def _edit(path, header=None, **arrays):
    """Rewrite a model file: ``header`` edits the parsed header in place; keyword arrays replace
    members (None removes one)."""
    with np.load(path, allow_pickle=False) as data:
        members = {k: data[k] for k in data.files}
    parsed = json.loads(str(members["header"]))
    if header is not None:
        header(parsed)
    members["header"] = np.array(json.dumps(parsed))
    for key, value in arrays.items():
        if value is None:
            members.pop(key, None)
        else:
            members[key] = value
    with open(path, "wb") as f:
        np.savez(f, **members)


def _set(**fields):
    return lambda header: header.update(fields)


def _rejects(path, *patterns, error=ValueError):
    """load must raise ``error`` naming the file and matching every pattern."""
    with pytest.raises(error) as caught:
        fastbp.load(path)
    message = str(caught.value)
    assert str(path) in message, message
    for pattern in patterns:
        assert re.search(pattern, message), message


def _saved(path, optimizer, epochs):
    """(path, net): a tiny network trained with ``optimizer`` and saved there with its training state."""
    X, y = _data(20)
    net = fastbp.Network([4, 5, 3], seed=0)
    net.fit(X, y, epochs=epochs, optimizer=optimizer, learning_rate=0.01, batch_size=5)
    net.save(path)
    return path, net


@pytest.fixture
def trained(tmp_path):
    """A tiny Adam-trained network saved with its training state."""
    return _saved(tmp_path / "trained.npz", "adam", 2)[0]


def _peak_bytes_of_load(path):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as caught:
            fastbp.load(path)
        return tracemalloc.get_traced_memory()[1], str(caught.value)
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("honest_count", [False, True])
def test_huge_header_sizes_are_refused_before_allocating(saved, honest_count):
    """A small file whose header claims big layers must not make load build them (4M parameters here;
    a hostile file can claim billions)."""
    sizes = [4, 2000, 2000, 3]
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    _edit(saved, _set(sizes=sizes, n_parameters=count if honest_count else 43))
    peak, message = _peak_bytes_of_load(saved)
    assert f"need {count} parameters" in message and str(saved) in message
    assert peak < 4_000_000, peak          # the network alone would be 32 MB


def _write_npz(path, members):
    """An .npz whose members are raw .npy bytes (to craft lying array headers)."""
    with zipfile.ZipFile(path, "w") as z:
        for key, data in members.items():
            z.writestr(key + ".npy", data)


def _npy(array=None, shape=None, dtype=np.float64):
    buffer = io_module.BytesIO()
    if shape is None:
        np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    else:                                   # a header claiming ``shape``, and no data
        np.lib.format.write_array_header_1_0(buffer, {"descr": np.dtype(dtype).str,
                                                     "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def test_an_array_header_claiming_more_data_than_stored_is_refused_cheaply(saved, tmp_path):
    sizes = [4, 2000, 2000, 3]
    count = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    with np.load(saved, allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
    header.update(sizes=sizes, n_parameters=count)
    path = tmp_path / "lying.npz"
    _write_npz(path, {"header": _npy(np.array(json.dumps(header))),
                      "parameters": _npy(shape=(count,)) + b"\0" * 80})
    peak, message = _peak_bytes_of_load(path)
    assert "truncated" in message and str(path) in message
    assert peak < 4_000_000, peak


@pytest.mark.parametrize("rng, pattern", [
    ({"bit_generator": "PCG64", "state": "x", "has_uint32": {"int": "0"}, "uinteger": {"int": "0"}},
     r"'rng'\.state must hold the keys"),
    ({"bit_generator": "PCG64"}, r"'rng' must hold the keys"),
    ({"bit_generator": "Evil"}, r"unsupported random generator 'Evil'"),
    ("PCG64", r"unsupported random generator"),
    ({"bit_generator": "PCG64", "state": {"state": {"int": "-1"}, "inc": {"int": "3"}},
      "has_uint32": {"int": "0"}, "uinteger": {"int": "0"}}, r"'rng'\.state\.state must be an integer"),
    ({"bit_generator": "PCG64", "state": {"state": {"int": str(2**128)}, "inc": {"int": "3"}},
      "has_uint32": {"int": "0"}, "uinteger": {"int": "0"}}, r"'rng'\.state\.state must be in"),
    ({"bit_generator": "PCG64", "state": {"state": [1], "inc": {"int": "3"}},
      "has_uint32": {"int": "0"}, "uinteger": {"int": "0"}}, r"'rng'\.state\.state must be an integer"),
])
def test_malformed_generator_state_is_refused(trained, rng, pattern):
    _edit(trained, _set(rng=rng))
    _rejects(trained, "header field 'rng'", pattern)


@pytest.mark.parametrize("value", [-5, 625, 10**6])
def test_out_of_range_generator_positions_are_refused(tmp_path, value):
    """numpy accepts these and the next draw reads outside the generator's buffer."""
    path = tmp_path / "mt.npz"
    fastbp.Network([2, 1], seed=np.random.Generator(np.random.MT19937(0))).save(path)

    def edit(header):
        header["rng"]["state"]["pos"] = {"int": str(value)}
    _edit(path, edit)
    _rejects(path, r"'rng'\.state\.pos must")


@pytest.mark.parametrize("bit_generator", ["PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"])
def test_every_supported_generator_round_trips(tmp_path, bit_generator):
    rng = np.random.Generator(getattr(np.random, bit_generator)(3))
    rng.random(3)
    rng.integers(0, 10, dtype=np.uint32)          # leaves a buffered 32-bit half where there is one
    path = tmp_path / "g.npz"
    fastbp.Network([2, 1], seed=rng).save(path)
    loaded = fastbp.load(path)
    assert type(loaded._rng.bit_generator).__name__ == bit_generator
    assert loaded._rng.random() == rng.random()


def test_unknown_init_is_refused(saved):
    _edit(saved, _set(init="bogus"))
    _rejects(saved, "init must be one of .*got 'bogus'")


@pytest.mark.parametrize("records, pattern", [
    (5, "'records' must be a list"),
    ([5], "record 0 must be a dict"),
    ([{"cost": 1.0}], "record 0 must have 'epoch' 1"),
    ([{"epoch": 1, "cost": 1.0}, {"epoch": 5, "cost": 1.0}], "record 1 must have 'epoch' 2"),
    ([{"epoch": 1.0}], "record 0 must have 'epoch' 1"),
    ([{"epoch": 1, "cost": "oops"}], "metric 'cost' must be a number"),
    ([{"epoch": 1, "cost": True}], "metric 'cost' must be a number"),
    ([{"epoch": 1, "cost": None}], "metric 'cost' must be a number"),
    ([{"epoch": 1, "grad_norms": [1.0, "x"]}], "metric 'grad_norms' must be a number or a list"),
    ([{"epoch": 1, "cost": {"a": 1}}], "metric 'cost' must be a number"),
])
def test_malformed_records_are_refused(trained, records, pattern):
    _edit(trained, _set(records=records))
    _rejects(trained, "header field 'records'", pattern)


def test_records_with_diagnostics_and_nan_round_trip(tmp_path):
    X, y = _data(20)
    net = fastbp.Network([4, 5, 3], hidden_activation="relu", seed=0)
    net.fit(X, y, epochs=2, learning_rate=0.1, diagnostics=True, validation_data=(X, y))
    path = tmp_path / "d.npz"
    net.save(path)
    loaded = fastbp.load(path)
    assert json.dumps(loaded.history.records) == json.dumps(net.history.records)


def _saved_records(path):
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["header"][()]))["records"]


def test_each_epoch_record_is_encoded_once_however_often_the_network_is_saved(tmp_path, monkeypatch):
    X, y = _data(20)
    path = tmp_path / "ckpt.npz"
    net = fastbp.Network([4, 3], seed=0)
    encoded = []
    dumps = io.json.dumps

    def counting_dumps(value, *args, **kwargs):
        if isinstance(value, dict) and "epoch" in value:
            encoded.append(value["epoch"])
        return dumps(value, *args, **kwargs)

    monkeypatch.setattr(io.json, "dumps", counting_dumps)
    net.fit(X, y, epochs=6, checkpoint=path, checkpoint_every=1)
    net.save(path)
    # One encoding per record (the whole history at every save would be 1, 1, 2, 1, 2, 3, ...).
    assert encoded == [1, 2, 3, 4, 5, 6]
    assert _saved_records(path) == json.loads(dumps(net._records))


def test_saved_records_follow_every_change_of_the_history(tmp_path):
    X, y = _data(20)
    path = tmp_path / "m.npz"
    net = fastbp.Network([4, 3], seed=0)

    def saved_equals_history():
        net.save(path)
        return _saved_records(path) == fastbp.load(path).history.records == net.history.records

    net.fit(X, y, epochs=3)
    assert saved_equals_history()
    net.fit(X, y, epochs=2, validation_data=(X, y))
    assert saved_equals_history()
    net._records[1] = {**net._records[1], "cost": 123.0}      # a record object replaced mid-history
    assert saved_equals_history() and _saved_records(path)[1]["cost"] == 123.0
    net.reset_optimizer()                                     # a new, empty history
    assert saved_equals_history() and _saved_records(path) == []
    net.fit(X, y, epochs=1)
    assert saved_equals_history() and len(_saved_records(path)) == 1
    copy = net.copy()
    copy.fit(X, y, epochs=1)
    copy.save(path)
    assert _saved_records(path) == copy.history.records and len(copy.history) == 2
    net.save(path, training_state=False)
    assert "records" not in json.loads(str(np.load(path, allow_pickle=False)["header"][()]))


def test_records_changed_in_place_are_saved_as_they_now_are(tmp_path):
    # A schedule is handed the network's live records; what it writes into them is in net.history, and
    # so in every later save, though those records were encoded before.
    X, y = _data(20)

    class Annotate:
        def rate(self, epoch, lr0, records):
            if records:
                records[-1]["lr_next"] = lr0
                records[0].setdefault("notes", []).append(epoch)
            return lr0

    path = tmp_path / "ckpt.npz"
    net = fastbp.Network([4, 3], seed=0)
    net.fit(X, y, epochs=4, learning_rate=0.3, schedule=Annotate(), checkpoint=path)
    assert _saved_records(path) == net.history.records
    assert [r.get("lr_next") for r in _saved_records(path)] == [0.3, 0.3, 0.3, None]
    assert _saved_records(path)[0]["notes"] == [2, 3, 4]
    net._records[2].pop("lr_next")
    net.save(path)
    assert _saved_records(path) == net.history.records and "lr_next" not in _saved_records(path)[2]


def _adam_state(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in ("optimizer_first", "optimizer_second", "optimizer_step")}


@pytest.mark.parametrize("member, change, pattern", [
    ("optimizer_step", lambda a: np.array([-1]), "'optimizer_step' must be >= 0"),
    ("optimizer_first", lambda a: np.full_like(a, np.nan), "'optimizer_first' contains NaN"),
    ("optimizer_first", lambda a: np.where(np.arange(a.size) == 3, np.inf, a), "'optimizer_first' contains NaN"),
    ("optimizer_second", lambda a: np.full_like(a, np.inf), "'optimizer_second' contains NaN"),
    ("optimizer_second", lambda a: -np.ones_like(a), "'optimizer_second'.* must be >= 0"),
    ("optimizer_first", lambda a: a[:-1], r"'optimizer_first' must have shape \(43,\) and dtype float64"),
    ("optimizer_first", lambda a: a.astype(np.float32), r"'optimizer_first' must have shape .* float32"),
    ("optimizer_step", lambda a: a.astype(np.float64), r"'optimizer_step' must have shape \(1,\) and dtype int64"),
    ("optimizer_step", lambda a: a.reshape(()), r"'optimizer_step' must have shape \(1,\)"),
    ("optimizer_second", lambda a: None, "'optimizer_second' of the Adam state is missing"),
])
def test_malformed_optimizer_state_is_refused(trained, member, change, pattern):
    _edit(trained, **{member: change(_adam_state(trained)[member])})
    _rejects(trained, pattern)


@pytest.mark.parametrize("optimizer, pattern", [
    ({"name": "Evil"}, "'optimizer' must be null or"),
    ([1], "'optimizer' must be null or"),
    ({"name": "Adam", "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "__class__": "x"}, "must hold"),
    ({"name": "Adam", "beta1": 0.9}, "must hold"),
    ({"name": "Adam", "beta1": 1.5, "beta2": 0.999, "epsilon": 1e-8}, "beta1 must be < 1"),
    ({"name": "Adam", "beta1": None, "beta2": 0.999, "epsilon": 1e-8}, "beta1 must be a real number"),
])
def test_malformed_optimizer_config_is_refused(trained, optimizer, pattern):
    _edit(trained, _set(optimizer=optimizer))
    with pytest.raises((ValueError, TypeError)) as caught:
        fastbp.load(trained)
    assert str(trained) in str(caught.value) and "'optimizer'" in str(caught.value)
    assert re.search(pattern, str(caught.value)), caught.value


def test_optimizer_members_without_an_optimizer_are_refused(trained):
    _edit(trained, _set(optimizer=None))
    _rejects(trained, "hold optimizer state, but the header names no optimizer")


def test_sgd_state_round_trips_and_is_checked(tmp_path):
    path, net = _saved(tmp_path / "m.npz", "nesterov", 1)
    loaded = fastbp.load(path)
    np.testing.assert_array_equal(loaded._optimizer_state.first, net._optimizer_state.first)
    assert loaded._optimizer_state.optimizer == net._optimizer_state.optimizer
    _edit(path, optimizer_first=np.full(43, np.inf))
    _rejects(path, "'optimizer_first' contains NaN or infinity")


def test_a_subclassed_optimizer_is_saved_as_the_rule_it_ran_and_resumes_exactly(tmp_path):
    class MyAdam(fastbp.optimizers.Adam):
        pass
    X, y = _data(20)
    options = dict(optimizer=MyAdam(beta1=0.8), learning_rate=0.01, batch_size=5)
    straight = fastbp.Network([4, 5, 3], seed=0)
    part = straight.copy()
    straight.fit(X, y, epochs=2, **options)
    part.fit(X, y, epochs=1, checkpoint=tmp_path / "m.npz", **options)
    resumed = fastbp.load(tmp_path / "m.npz")
    loaded = resumed._optimizer_state.optimizer
    assert type(loaded) is fastbp.optimizers.Adam and loaded.beta1 == 0.8
    resumed.fit(X, y, epochs=1, **options)
    np.testing.assert_array_equal(resumed.parameters, straight.parameters)


def _early_stopped(path):
    """A network whose early stopping restored epoch 1 of 2, saved at ``path``."""
    X, y = _data(20)
    net = fastbp.Network([4, 5, 3], seed=0)
    h = net.fit(X, y, epochs=9, learning_rate=1e-12, batch_size=5, validation_fraction=0.25,
                early_stopping=fastbp.EarlyStopping(monitor="val_cost", patience=1, min_delta=1.0))
    assert (len(h), h.best_epoch) == (2, 1)
    net.save(path)
    return path


def test_restored_best_epoch_round_trips(tmp_path):
    path = _early_stopped(tmp_path / "m.npz")
    assert fastbp.load(path).history.best_epoch == 1
    fastbp.Network([4, 5, 3], seed=0).save(path)
    assert fastbp.load(path).history.best_epoch is None


def test_version_1_files_without_best_epoch_still_load(tmp_path):
    path = _early_stopped(tmp_path / "m.npz")

    def as_version_1(header):
        header["format_version"] = 1
        del header["best_epoch"], header["split_seed"], header["early_stopping"]
    _edit(path, as_version_1)
    loaded = fastbp.load(path)
    assert len(loaded.history) == 2 and loaded.history.best_epoch is None
    _edit(path, _set(best_epoch=1))
    _rejects(path, r"unexpected fields \['best_epoch'\]")


def test_version_2_files_without_early_stopping_progress_still_load(tmp_path):
    path = _early_stopped(tmp_path / "m.npz")
    _edit(path, lambda header: (header.update(format_version=2), header.pop("early_stopping")))
    loaded = fastbp.load(path)
    assert loaded.history.best_epoch == 1 and loaded._stopping_progress is None
    _edit(path, _set(early_stopping=None))
    _rejects(path, r"unexpected fields \['early_stopping'\]")


@pytest.mark.parametrize("edit, pattern", [
    (_set(best_epoch=0), r"'best_epoch' must be null or a recorded epoch \(1 to 2\); got 0"),
    (_set(best_epoch=3), r"\(1 to 2\); got 3"),
    (_set(best_epoch=True), "got True"),
    (_set(best_epoch="1"), "got '1'"),
    (lambda h: h.pop("best_epoch"), r"lacks fields \['best_epoch'\]"),
    (_set(split_seed=-1), r"'split_seed' must be null or an integer in \[0, 2\*\*63\); got -1"),
    (_set(split_seed=2 ** 63), "got 9223372036854775808"),
    (_set(split_seed=1.5), "got 1.5"),
])
def test_malformed_best_epoch_is_refused(tmp_path, edit, pattern):
    path = _early_stopped(tmp_path / "m.npz")
    _edit(path, edit)
    _rejects(path, pattern)


@pytest.mark.parametrize("edit, pattern", [
    (_set(format_version=True), "'format_version' must be a positive integer; got True"),
    (_set(format_version=0), "'format_version' must be a positive integer; got 0"),
    (_set(dtype="int32"), "'dtype' must be 'float32' or 'float64'; got 'int32'"),
    (_set(dtype=["f8"]), "'dtype' must be"),
    (_set(sizes=[4.0, 5, 3]), r"'sizes': sizes\[0\] must be an integer"),
    (_set(sizes="abc"), "'sizes' must be a list"),
    (_set(sizes=[4, True, 3]), r"sizes\[1\] must be an integer"),
    (_set(n_parameters=43.0), "'n_parameters' says 43.0"),
    (_set(n_parameters=99), "need 43 parameters, but its field 'n_parameters' says 99"),
    (_set(leaky_slope="0.1"), "'leaky_slope' must be a number"),
    (_set(leaky_slope=5.0), "leaky_slope must be < 1"),
    (_set(training_state="yes"), "'training_state' must be true or false"),
    (_set(fastbp_version=1), "'fastbp_version' must be a string"),
    (_set(hidden_activation="evil"), "hidden_activation must be one of"),
    (_set(cost="log_likelihood"), "cost 'log_likelihood' needs output_activation"),
    (_set(extra=1), r"unexpected fields \['extra'\]"),
    (lambda h: h.pop("init"), r"lacks fields \['init'\]"),
    (_set(optimizer=None), r"unexpected fields \['optimizer'\]"),    # training_state is false
])
def test_malformed_header_fields_are_refused(tmp_path, edit, pattern):
    path = tmp_path / "m.npz"
    fastbp.Network([4, 5, 3], seed=0).save(path, training_state=False)
    _edit(path, edit)
    with pytest.raises((ValueError, TypeError)) as caught:
        fastbp.load(path)
    assert str(path) in str(caught.value)
    assert re.search(pattern, str(caught.value)), caught.value


@pytest.mark.parametrize("arrays, pattern", [
    ({"extra": np.zeros(2)}, r"unexpected members \['extra'\]"),
    ({"parameters": np.zeros(43, dtype=">f8")}, "'parameters' must have shape .* dtype float64"),
    ({"parameters": np.zeros((43, 1))}, r"need 43 parameters, but the file holds \(43, 1\)"),
    ({"parameters": np.zeros(43, dtype=np.int64)}, "'parameters' must have shape .* dtype float64"),
    ({"parameters": np.array([{"a": 1}], dtype=object)}, "dtype object"),
    ({"header": np.array([json.dumps({"format": "fastbp-model"})])}, "the model header is not a JSON string"),
])
def test_malformed_members_are_refused(saved, arrays, pattern):
    with np.load(saved, allow_pickle=False) as data:
        members = {k: data[k] for k in data.files}
    members.update(arrays)
    with open(saved, "wb") as f:
        np.savez(f, **members)
    _rejects(saved, pattern)


def test_a_plain_npy_file_is_refused(tmp_path):
    path = tmp_path / "x.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    _rejects(path, "not a readable fastbp model file")


def test_deeply_nested_header_json_is_refused(saved):
    with np.load(saved, allow_pickle=False) as data:
        parameters = data["parameters"]
    with open(saved, "wb") as f:
        np.savez(f, header=np.array("[" * 100_000 + "]" * 100_000), parameters=parameters)
    _rejects(saved, "not valid JSON|malformed model header")


def test_writing_into_a_missing_directory_names_the_path(tmp_path):
    # The atomic write's temporary file used to be what the error named.
    net = fastbp.Network([3, 2], seed=0)
    target = tmp_path / "missing" / "model.npz"
    with pytest.raises(FileNotFoundError, match=r"cannot write .*model\.npz.*'[^']*missing' does not exist"):
        io.save(net, target)
    assert not (tmp_path / "missing").exists()


def test_writes_name_the_users_path_and_follow_symlinks(tmp_path, monkeypatch):
    import tempfile
    net = fastbp.Network([3, 2], seed=0)
    with pytest.raises(IsADirectoryError, match=r"cannot write .*: it is a directory"):
        io.save(net, tmp_path)
    with pytest.raises(IsADirectoryError, match="is a directory, not a model file"):
        fastbp.load(tmp_path)
    real = tmp_path / "real.npz"
    link = tmp_path / "link.npz"
    fastbp.Network([3, 2], seed=1).save(real)
    link.symlink_to(real)
    net.save(link)
    assert link.is_symlink() and np.array_equal(fastbp.load(real).parameters, net.parameters)
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "missing" / "m.npz")
    before = net.parameters.copy()
    with pytest.raises(ValueError, match=r"checkpoint: the directory .*missing' does not exist \(the link"):
        net.fit(*_data(20), epochs=1, checkpoint=dangling)      # refused before training, not after an epoch
    np.testing.assert_array_equal(net.parameters, before)

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/somewhere/.m.npz.x.tmp")
    monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(PermissionError, match=r"cannot write .*m\.npz.*no permission to create files in"):
        net.save(tmp_path / "m.npz")


def test_compressed_members_are_refused(tmp_path):
    # A few KB of compressed zeros could otherwise claim gigabytes once read.
    path = tmp_path / "m.npz"
    fastbp.Network([4, 5, 3], seed=0).save(path)
    with np.load(path) as data:
        members = {k: data[k] for k in data.files}
    np.savez_compressed(path, **members)
    _rejects(path, r"members \['header.npy', 'parameters.npy'\] are compressed")


@pytest.mark.parametrize("call, error, match", [
    (lambda net, tmp: net.save(tmp / "m.npz", training_state="no"), TypeError,
     "training_state must be True or False; got 'no'"),
    (lambda net, tmp: net.save(""), ValueError, "path must be a file path; got an empty one"),
    (lambda net, tmp: net.save(tmp), ValueError, "path must be a file path, not the directory"),
])
def test_bad_save_arguments_write_nothing(tmp_path, call, error, match):
    net = fastbp.Network([4, 5, 3], seed=0)
    with pytest.raises(error, match=match):
        call(net, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_fastbp_save_checks_its_arguments_and_load_takes_a_bytes_path(tmp_path):
    net = fastbp.Network([3, 2], seed=0)
    path = tmp_path / "model.npz"
    fastbp.save(net, path)
    np.testing.assert_array_equal(fastbp.load(os.fsencode(path)).parameters, net.parameters)
    with pytest.raises(TypeError, match=r"net must be a fastbp.Network; got PosixPath \(the order is save\(net, "):
        fastbp.save(path, net)
    with pytest.raises(TypeError, match="training_state must be True or False; got 'no'"):
        fastbp.save(net, path, training_state="no")
    with pytest.raises(TypeError, match="path must be a file path; got int"):
        fastbp.load(3)


# Early stopping across a checkpoint: a fit resumed from the checkpoint of an unfinished fit goes on
# counting its patience from where that fit stood, and ends as the uninterrupted fit does.
_RULE = fastbp.EarlyStopping(monitor="val_cost", patience=3)


def _learnable(n=80):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4))
    return X, np.argmax(X[:, :3] + 0.8 * rng.normal(size=(n, 3)), axis=1)


def _stopping_fit(net, epochs, **extra):
    X, y = _learnable()
    return net.fit(X, y, epochs=epochs, batch_size=4, learning_rate=1.0, validation_fraction=0.25,
                   early_stopping=_RULE, **extra)


@pytest.fixture(scope="module")
def straight_stopping_fit():
    net = fastbp.Network([4, 9, 3], seed=4)
    history = _stopping_fit(net, 60)
    # The fits below stop at several points before its end: it must stop early, not at epoch 1 + patience.
    assert 6 <= len(history) < 60 and 2 <= history.best_epoch < len(history) - 1, history
    return net


def _crash_after(epoch):
    def crash(recorded, logs):
        if recorded == epoch:
            raise RuntimeError("the machine went down")
    return crash


@pytest.mark.parametrize("recorded", ["first", "before_best", "best", "after_best", "last_but_one"])
def test_a_fit_resumed_from_an_unfinished_fits_checkpoint_stops_and_restores_as_one_fit(
        tmp_path, straight_stopping_fit, recorded):
    straight = straight_stopping_fit
    n, best = len(straight.history), straight.history.best_epoch
    saved = {"first": 1, "before_best": best - 1, "best": best, "after_best": best + 1, "last_but_one": n - 1}[recorded]
    path = tmp_path / "ckpt.npz"
    with pytest.raises(RuntimeError, match="went down"):      # the callback runs before the epoch's checkpoint
        _stopping_fit(fastbp.Network([4, 9, 3], seed=4), 60, checkpoint=path, callbacks=[_crash_after(saved + 1)])
    resumed = fastbp.load(path)
    assert len(resumed.history) == saved
    history = _stopping_fit(resumed, 60 - saved)
    assert len(resumed.history) == n and history.best_epoch == best
    np.testing.assert_array_equal(resumed.parameters, straight.parameters)


def test_after_ctrl_c_the_checkpoint_holds_the_last_epoch_and_the_network_its_best(tmp_path, straight_stopping_fit):
    straight = straight_stopping_fit
    best = straight.history.best_epoch
    path = tmp_path / "ckpt.npz"

    def ctrl_c(epoch, logs):
        if epoch == best + 1:
            raise KeyboardInterrupt
    net = fastbp.Network([4, 9, 3], seed=4)
    with pytest.warns(RuntimeWarning, match=f"interrupted after epoch {best + 1}"):
        history = _stopping_fit(net, 60, checkpoint=path, checkpoint_every=1000, callbacks=[ctrl_c])
    assert history.interrupted and history.best_epoch == best           # the network: its best epoch
    resumed = fastbp.load(path)
    assert len(resumed.history) == best + 1 and resumed.history.best_epoch is None     # the file: the last one
    _stopping_fit(resumed, 60 - best - 1)
    np.testing.assert_array_equal(resumed.parameters, straight.parameters)


def test_after_ctrl_c_an_lbfgs_checkpoint_holds_the_last_iterate_and_the_best_apart(tmp_path):
    X, y = _learnable()
    three = fastbp.Network([4, 9, 3], seed=4)
    three.fit(X, y, epochs=3, optimizer="lbfgs")
    one = fastbp.Network([4, 9, 3], seed=4)
    one.fit(X, y, epochs=1, optimizer="lbfgs")

    def ctrl_c(epoch, logs):
        if epoch == 3:
            raise KeyboardInterrupt
    net, path = fastbp.Network([4, 9, 3], seed=4), tmp_path / "ckpt.npz"
    rule = fastbp.EarlyStopping(monitor="cost", patience=50, min_delta=1e9)      # iteration 1 stays the best
    with pytest.warns(RuntimeWarning, match="interrupted"):
        net.fit(X, y, epochs=9, optimizer="lbfgs", early_stopping=rule, checkpoint=path, checkpoint_every=1000,
                callbacks=[ctrl_c])
    np.testing.assert_array_equal(net.parameters, one.parameters)          # the network: its best iterate
    saved = fastbp.load(path)
    np.testing.assert_array_equal(saved.parameters, three.parameters)      # the file: the last one, and the best
    np.testing.assert_array_equal(saved._stopping_progress.best_parameters, one.parameters)


@pytest.mark.parametrize("how", ["ctrl_c_in_its_callback", "died_before_the_final_write"])
def test_resumed_from_the_epoch_early_stopping_ended_on_it_trains_none(tmp_path, monkeypatch, straight_stopping_fit,
                                                                         how):
    straight = straight_stopping_fit
    n, best = len(straight.history), straight.history.best_epoch
    path = tmp_path / "ckpt.npz"
    net = fastbp.Network([4, 9, 3], seed=4)
    if how == "ctrl_c_in_its_callback":
        def ctrl_c(epoch, logs):
            if epoch == n:
                raise KeyboardInterrupt
        with pytest.warns(RuntimeWarning, match="interrupted"):
            _stopping_fit(net, 60, checkpoint=path, callbacks=[ctrl_c])
    else:
        def died(*args, **kwargs):
            raise RuntimeError("the machine went down")
        monkeypatch.setattr(fastbp.training.Checkpoints, "at_end", died)
        with pytest.raises(RuntimeError):
            _stopping_fit(net, 60, checkpoint=path)
        monkeypatch.undo()
    resumed = fastbp.load(path)
    assert len(resumed.history) == n
    history = _stopping_fit(resumed, 60 - n)
    assert len(history) == 0 and len(resumed.history) == n and history.best_epoch == best
    np.testing.assert_array_equal(resumed.parameters, straight.parameters)
    assert resumed._stopping_progress is None           # that fit has ended: the next starts afresh


def test_a_resumed_fit_that_trains_no_epoch_leaves_the_network_and_its_progress(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    with pytest.raises(RuntimeError):
        _stopping_fit(fastbp.Network([4, 9, 3], seed=4), 60, checkpoint=path, callbacks=[_crash_after(13)])
    resumed = fastbp.load(path)
    before, progress = resumed.parameters.copy(), resumed._stopping_progress
    assert progress.best_epoch < len(resumed.history) == 12       # a restore would change the parameters
    _stopping_fit(resumed, 0)
    assert np.array_equal(resumed.parameters, before) and resumed._stopping_progress is progress
    # A Ctrl-C inside its first epoch moves the parameters off the last epoch's: the progress is dropped,
    # and the file (no epoch recorded) is not rewritten.
    from fastbp import training

    def ctrl_c(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(training.K, "train_epoch", ctrl_c)
    written = path.read_bytes()
    with pytest.warns(RuntimeWarning, match="interrupted during epoch 13"):
        _stopping_fit(resumed, 5, checkpoint=path)
    assert resumed._stopping_progress is None and path.read_bytes() == written


def test_rules_with_numpy_fields_are_checkpointed_and_resumed(tmp_path):
    rule = fastbp.EarlyStopping(monitor=np.str_("val_cost"), patience=np.int64(3), min_delta=np.float32(0.0),
                                restore_best=np.bool_(True))
    assert rule == _RULE and all(type(getattr(rule, k)) in (str, int, float, bool) for k in ("monitor", "patience",
                                                                                             "min_delta",
                                                                                             "restore_best"))
    path = tmp_path / "ckpt.npz"
    with pytest.raises(RuntimeError):
        _stopping_fit(fastbp.Network([4, 9, 3], seed=4), 60, checkpoint=path, callbacks=[_crash_after(3)])
    assert fastbp.load(path)._stopping_progress.rule == rule


def test_a_subclassed_rule_is_checkpointed_without_progress(tmp_path):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Verbose(fastbp.EarlyStopping):
        say: str = "stopping"
    path = tmp_path / "ckpt.npz"
    X, y = _learnable()
    with pytest.raises(RuntimeError):
        fastbp.Network([4, 9, 3], seed=4).fit(X, y, epochs=9, validation_fraction=0.25, early_stopping=Verbose(),
                                              checkpoint=path, callbacks=[_crash_after(3)])
    loaded = fastbp.load(path)
    assert len(loaded.history) == 2 and loaded._stopping_progress is None


def test_a_finished_fits_checkpoint_starts_a_new_fit_afresh(tmp_path):
    path = tmp_path / "ckpt.npz"
    net = fastbp.Network([4, 9, 3], seed=4)
    _stopping_fit(net, 60, checkpoint=path)
    assert fastbp.load(path)._stopping_progress is None
    again, same = fastbp.load(path), net.copy()
    assert len(_stopping_fit(again, 4)) == len(_stopping_fit(same, 4))
    np.testing.assert_array_equal(again.parameters, same.parameters)


def test_another_rule_starts_afresh_and_says_so(tmp_path):
    path = tmp_path / "ckpt.npz"
    with pytest.raises(RuntimeError):
        _stopping_fit(fastbp.Network([4, 9, 3], seed=4), 60, checkpoint=path, callbacks=[_crash_after(3)])
    resumed, fresh = fastbp.load(path), fastbp.load(path)
    fresh._stopping_progress = None
    X, y = _learnable()
    other = dict(epochs=6, batch_size=4, learning_rate=1.0, validation_fraction=0.25,
                 early_stopping=fastbp.EarlyStopping(monitor="val_cost", patience=4))
    with pytest.warns(RuntimeWarning, match=r"early stopping starts afresh: the checkpoint's unfinished fit used "
                                            r"EarlyStopping\(.*patience=3.*this fit EarlyStopping\(.*patience=4"):
        resumed.fit(X, y, **other)
    fresh.fit(X, y, **other)
    np.testing.assert_array_equal(resumed.parameters, fresh.parameters)
    assert resumed.history.best_epoch == fresh.history.best_epoch


@pytest.fixture
def unfinished(tmp_path):
    """The checkpoint of a fit that went down after its epoch 4, with a best epoch before it."""
    path = tmp_path / "ckpt.npz"
    X, y = _learnable()
    with pytest.raises(RuntimeError):
        fastbp.Network([4, 9, 3], seed=4).fit(
            X, y, epochs=60, batch_size=4, learning_rate=1.0, validation_fraction=0.25, checkpoint=path,
            early_stopping=fastbp.EarlyStopping(monitor="cost", patience=50), callbacks=[_crash_after(5)])
    progress = fastbp.load(path)._stopping_progress
    assert progress.first_epoch == 1 and progress.best_epoch == 4 and progress.best_parameters is None
    return path


def _progress(**changes):
    return lambda header: header["early_stopping"].update(changes)


@pytest.mark.parametrize("edit, members, pattern", [
    (_progress(first_epoch=7), {}, r"first epoch 7 is not a recorded epoch \(1 to 4\)"),
    (_progress(first_epoch="1"), {}, "best_epoch null or an integer"),
    (_progress(best_epoch=2), {}, "best epoch is 2, but its records make it 4"),
    (_progress(monitor="grad_norms"), {}, "'grad_norms', which is not recorded"),
    (_progress(patience=0), {}, "patience must be >= 1"),
    (_progress(extra=1), {}, "must be null or an object with the fields"),
    (_set(early_stopping=[]), {}, "must be null or an object with the fields"),
    (_progress(min_delta=1e9), {}, "best epoch is 4, but its records make it 1"),
    (_progress(min_delta=1e9, best_epoch=1), {}, "lacks the parameters of its best epoch, 1"),
    (None, {"best_parameters": np.zeros(87)}, "'best_parameters' must have shape \\(75,\\) and dtype float64"),
    (_set(early_stopping=None), {"best_parameters": np.zeros(75)}, "'best_parameters' holds early stopping's"),
    (_progress(min_delta=1e9, best_epoch=1), {"best_parameters": np.full(75, np.nan)}, "contains NaN"),
    (None, {"best_parameters": np.zeros(75)}, "'best_parameters' is not used"),          # the best is the last
    (_progress(min_delta=1e9, best_epoch=1, restore_best=False), {"best_parameters": np.zeros(75)}, "is not used"),
    (_set(best_epoch=3), {}, "'best_epoch' is 3, but a checkpoint with early stopping's progress holds its last"),
])
def test_malformed_early_stopping_progress_is_refused(unfinished, edit, members, pattern):
    _edit(unfinished, edit, **members)
    _rejects(unfinished, pattern)


def test_early_stopping_progress_with_its_best_parameters_round_trips(unfinished):
    _edit(unfinished, _progress(min_delta=1e9, best_epoch=1), best_parameters=np.arange(75.0))
    progress = fastbp.load(unfinished)._stopping_progress
    assert progress.best_epoch == 1 and np.array_equal(progress.best_parameters, np.arange(75.0))
