"""Model files: round trips, exact resume from checkpoints, and hostile or corrupt files."""

import json
import os
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
    assert seen == [0, 2, 2, 4, 4]                 # saved after epochs 2 and 4 ...
    assert len(fastbp.load(path).history) == 5     # ... and at the end


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
    with pytest.raises(ValueError, match="format version 2 .* upgrade fastbp"):
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
