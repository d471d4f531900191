"""fastbp.plot: training curves as matplotlib figures, saved atomically."""

import os
import sys
import threading

import numpy as np
import pytest

import fastbp
from fastbp import plot

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def classification():
    """A few epochs of a tiny classifier with validation data, full passes and diagnostics."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    net = fastbp.Network([4, 8, 6, 3], hidden_activation="tanh", output_activation="softmax",
                         cost="log_likelihood", seed=0)
    return net.fit(X[:90], y[:90], epochs=5, batch_size=10, learning_rate=0.5, validation_data=(X[90:], y[90:]),
                   evaluate_training=True, diagnostics=True)


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    Y = np.sin(X[:, :2])
    net = fastbp.Network([3, 8, 2], hidden_activation="tanh", output_activation="identity", seed=1)
    return net.fit(X, Y, epochs=4, batch_size=8, learning_rate=0.1, validation_fraction=0.25)


def labels(ax):
    return [line.get_label() for line in ax.lines]


def assert_png(path):
    data = open(path, "rb").read()
    assert data.startswith(PNG)
    assert len(data) > 5000                    # a drawn figure, not an empty canvas
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]    # no temporary file left


def test_history_figure_and_png(classification, tmp_path):
    path = tmp_path / "history.png"
    fig = plot.history(classification, path, title="tiny")
    assert isinstance(fig, Figure)
    cost_ax, accuracy_ax = fig.axes
    assert labels(cost_ax) == ["training (running mean)", "training (full pass)", "validation"]
    assert labels(accuracy_ax) == ["training (running mean)", "training (full pass)", "validation"]
    x, y = cost_ax.lines[2].get_data()
    assert list(x) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(y, classification["val_cost"])
    np.testing.assert_allclose(accuracy_ax.lines[0].get_ydata(), classification["accuracy"])
    assert fig._suptitle.get_text() == "tiny"
    assert_png(str(path))


def test_best_epoch_is_marked(classification):
    classification.best_epoch = 3
    try:
        fig = plot.history(classification)
    finally:
        classification.best_epoch = None
    for ax in fig.axes:
        assert labels(ax)[-1] == "best epoch 3"
        assert list(ax.lines[-1].get_xdata()) == [3, 3]


def test_gradient_norms_figure_and_png(classification, tmp_path):
    path = tmp_path / "grads.png"
    fig = plot.gradient_norms(classification, str(path), title="norms")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert labels(ax) == ["layer 1", "layer 2", "layer 3"]
    norms = np.array(classification["grad_norms"])
    for layer, line in enumerate(ax.lines):
        np.testing.assert_allclose(line.get_ydata(), norms[:, layer])
    assert_png(str(path))


def test_gradient_norms_without_diagnostics_says_what_to_do(regression):
    with pytest.raises(ValueError, match=r"diagnostics=True"):
        plot.gradient_norms(regression)


def test_regression_history_has_no_accuracy_lines(regression, tmp_path):
    fig = plot.history(regression, tmp_path / "r.png")
    cost_ax, accuracy_ax = fig.axes
    assert labels(cost_ax) == ["training (running mean)", "validation"]
    assert len(accuracy_ax.lines) == 0
    assert "no accuracy" in accuracy_ax.texts[0].get_text()
    assert_png(str(tmp_path / "r.png"))


def test_dict_and_records_inputs(classification):
    for given in (classification.as_dict(), classification.records):
        fig = plot.history(given)
        assert [len(ax.lines) for ax in fig.axes] == [3, 3]
        np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), classification["cost"])
        grads = plot.gradient_norms(given)
        assert labels(grads.axes[0]) == ["layer 1", "layer 2", "layer 3"]
    # Plain lists without an "epoch" key count epochs from 1.
    fig = plot.history({"cost": [3.0, 2.0, 1.5], "val_cost": [3.1, 2.4, 2.0]})
    assert list(fig.axes[0].lines[0].get_xdata()) == [1, 2, 3]
    fig = plot.history([{"cost": 1.0, "accuracy": 0.5}, {"cost": 0.5}])
    assert np.isnan(fig.axes[1].lines[0].get_ydata()[1])


def test_bad_inputs():
    with pytest.raises(ValueError, match="no epochs"):
        plot.history([])
    with pytest.raises(TypeError, match="History"):
        plot.history(42)
    with pytest.raises(ValueError, match="one length"):
        plot.history({"cost": [1.0, 2.0], "val_cost": [1.0]})
    with pytest.raises(TypeError, match="to a list over epochs; 'cost' holds 0.5"):
        plot.history({"cost": 0.5})
    with pytest.raises(ValueError, match=r"none of the metrics plotted here \(cost, .*\); got \['loss', 'val_loss'\]"):
        plot.history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})     # Keras's keys: not an empty figure


def test_overwrite_is_atomic(regression, tmp_path, monkeypatch):
    path = tmp_path / "curves.png"
    path.write_bytes(b"old")
    os.chmod(path, 0o640)
    plot.history(regression, path)
    assert_png(str(path))
    assert os.stat(path).st_mode & 0o777 == 0o640              # keeps the permissions of the file it replaces

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")

    good = path.read_bytes()
    monkeypatch.setattr(Figure, "savefig", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        plot.history(regression, path)
    assert path.read_bytes() == good                          # the old file is intact
    assert os.listdir(tmp_path) == ["curves.png"]


def test_no_pyplot_and_no_backend_change(regression):
    def raw_backend():                 # the stored value; rcParams["backend"] could resolve it (and import pyplot)
        return dict.__getitem__(matplotlib.rcParams, "backend")

    backend = raw_backend()
    had_pyplot = "matplotlib.pyplot" in sys.modules
    plot.history(regression)
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules
    assert raw_backend() == backend


def test_figures_from_threads(classification, tmp_path):
    errors = []

    def work(i):
        try:
            plot.history(classification, tmp_path / f"{i}.png")
            plot.gradient_norms(classification, tmp_path / f"{i}-g.png")
        except Exception as error:     # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(os.listdir(tmp_path)) == sorted([f"{i}.png" for i in range(3)] + [f"{i}-g.png" for i in range(3)])


def test_missing_matplotlib_says_how_to_install(classification, regression, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "fastbp\[plot\]"'):
        plot.history(regression)
    with pytest.raises(ImportError, match=r'pip install "fastbp\[plot\]"'):
        plot.gradient_norms(classification)
