"""The installed console script, end to end, in a subprocess."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fastbp.cli import main


def _run(*args):
    exe = shutil.which("fastbp")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "fastbp", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ))


@pytest.mark.slow
def test_fastbp_train_with_no_arguments_reaches_95_percent():
    out = _run("train")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("fastbp ") and "built-in digits" in lines[0]
    assert sum(line.startswith("epoch ") for line in lines) == 30     # not a terminal: plain lines
    summary = lines[-1]
    accuracy = float(summary.split("held-out accuracy ")[1].split(",")[0])
    assert accuracy >= 0.95, summary
    assert "samples/s" in summary


def test_python_dash_m_runs_the_same_cli():
    out = subprocess.run([sys.executable, "-m", "fastbp", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("fastbp ")


def test_bad_options_exit_non_zero_with_a_message(capsys):
    assert main(["train", "--sizes", "64,30,10", "--optimizer", "lbfgs", "--dropout", "0.5", "--quiet"]) == 2
    assert "dropout needs a stochastic optimizer" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--sizes", "64,x"])


def test_quiet_prints_only_the_summary(capsys):
    assert main(["train", "--quiet", "--epochs", "2", "--sizes", "64,10,10"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("held-out accuracy")


@pytest.mark.parametrize("options, split", [
    ([], False),                                  # the held-out part only watched
    (["--schedule", "halving"], True),            # acts on val_accuracy: never on the held-out part
    (["--early-stopping", "3"], True),
    (["--schedule", "halving", "--validation-fraction", "0.2"], True),
])
def test_validation_metrics_that_steer_training_come_from_a_split_not_the_held_out_part(monkeypatch, options,
                                                                                       split, capsys):
    import fastbp
    seen = {}
    real = fastbp.Network.fit

    def fit(net, X, y, **kwargs):
        seen.update(kwargs)
        return real(net, X, y, **kwargs)
    monkeypatch.setattr(fastbp.Network, "fit", fit)
    assert main(["train", "--quiet", "--epochs", "1", "--sizes", "64,10,10", *options]) == 0
    assert (seen["validation_data"] is None) == split
    assert seen["validation_fraction"] == ((0.2 if "0.2" in options else 0.1) if split else None)


def test_train_on_npz_and_csv_files_and_save_the_model(tmp_path, capsys):
    import numpy as np

    import fastbp
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)          # 4 classes
    np.savez(tmp_path / "d.npz", X=X, y=y)
    model = tmp_path / "m.npz"
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--epochs", "20", "--learning-rate", "1.0",
                 "--save", str(model), "--quiet"]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert float(summary.split("held-out accuracy ")[1].split(",")[0]) > 0.8
    net = fastbp.load(model)
    assert net.sizes == (5, 30, 4)
    labels = np.array(["a", "b", "c", "d"])[y]
    with open(tmp_path / "d.csv", "w") as f:
        f.write("f0,f1,f2,f3,f4,label\n")
        for row, label in zip(X, y + 1):        # labels 1..4 are mapped to classes 0..3
            f.write(",".join(f"{v:.6f}" for v in row) + f",{label}\n")
    assert labels.size == 300
    assert main(["train", "--data", str(tmp_path / "d.csv"), "--label-column", "label", "--epochs", "5",
                 "--quiet"]) == 0


def test_corrupt_data_file_exits_2_with_a_clear_message(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    assert main(["train", "--data", str(bad), "--quiet"]) == 2
    assert "fastbp train: error:" in capsys.readouterr().err
    assert main(["train", "--save", str(tmp_path / "missing" / "m.npz"), "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    for format_ in ("npz", "csv", "pkl"):           # a directory, not a data file
        assert main(["train", "--data", str(tmp_path), "--format", format_, "--quiet"]) == 2
        assert f"fastbp train: error: [Errno 21] Is a directory: '{tmp_path}'" in capsys.readouterr().err


def test_bench_reports_a_speed_up(capsys):
    assert main(["bench", "--sizes", "20,8,3", "--samples", "500", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "speed-up" in out and "samples/s" in out


def test_bench_trains_poisson_on_counts(monkeypatch, capsys):
    from fastbp import reference
    seen = []
    real = reference.sgd_epoch
    monkeypatch.setattr(reference, "sgd_epoch", lambda w, b, X, Y, *args, **kw: (seen.append(Y), real(w, b, X, Y, *args,
                                                                                                     **kw))[1])
    assert main(["bench", "--sizes", "6,5,3", "--cost", "poisson", "--samples", "200", "--repeats", "1"]) == 0
    assert "speed-up" in capsys.readouterr().out
    counts = seen[0]
    assert counts.shape == (200, 3) and counts.max() > 1 and np.array_equal(counts, np.round(counts))


@pytest.mark.slow
def test_ctrl_c_stops_training_and_saves_the_model(tmp_path):
    import signal

    import numpy as np

    import fastbp
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "big.npz", X=rng.random((20000, 200)), y=rng.integers(0, 10, 20000))
    model = tmp_path / "m.npz"
    exe = shutil.which("fastbp")
    cmd = [exe] if exe else [sys.executable, "-m", "fastbp"]
    proc = subprocess.Popen(cmd + ["train", "--data", str(tmp_path / "big.npz"), "--epochs", "1000",
                                   "--sizes", "200,100,10", "--save", str(model)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()           # the header: training has started
    while not line.startswith("epoch 2"):
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, (out[-2000:], err[-2000:])
    assert "interrupted" in err and "(interrupted)" in out
    net = fastbp.load(model)
    # Of 1000 epochs, it stops at the signal (counted, not timed: on a loaded host the signal may
    # reach it some epochs after the line it answers, which take ~0.05 s each).
    assert 2 <= len(net.history) < 100 and np.isfinite(net.parameters).all()


def test_plot_writes_png_curves(tmp_path, capsys):
    png = tmp_path / "curves.png"
    assert main(["train", "--epochs", "3", "--quiet", "--plot", str(png), "--diagnostics"]) == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert (tmp_path / "curves-gradients.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gradcheck_passes_every_pairing_and_fails_on_a_tiny_tolerance(capsys):
    assert main(["gradcheck", "--all", "--sizes", "3,4,3"]) == 0
    assert "all passed" in capsys.readouterr().out
    assert main(["gradcheck", "--sizes", "3,4,3", "--tolerance", "1e-30"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_threads_and_parallel_options(capsys):
    assert main(["train", "--quiet", "--epochs", "2", "--parallel", "--threads", "1"]) == 0
    assert main(["train", "--quiet", "--epochs", "2", "--threads", "1"]) == 0
    assert capsys.readouterr().err == ""     # (--threads 0 is refused when parsed: see below)


def test_distributed_training_on_two_ranks_prints_once_and_saves(tmp_path):
    """mpiexec -n 2 fastbp train --distributed: only rank 0 prints and writes the model."""
    from test_distributed import mpi_or_skip

    import fastbp
    _, mpiexec = mpi_or_skip()
    fastbp.Network([64, 30, 10]).fit(np.zeros((40, 64)), np.arange(40) % 10, epochs=1, batch_size=32)
    exe = shutil.which("fastbp")
    cmd = [exe] if exe else [sys.executable, "-m", "fastbp"]
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    model = tmp_path / "m.npz"
    out = subprocess.run([mpiexec, "-n", "2", *cmd, "train", "--distributed", "--epochs", "3", "--batch-size", "32",
                          "--save", str(model)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert sum(line.startswith("held-out accuracy") for line in lines) == 1
    assert sum(line.startswith("epoch ") for line in lines) == 3 and "on 2 MPI ranks" in lines[0]
    assert len(fastbp.load(model).history) == 3
    bad = subprocess.run([mpiexec, "-n", "2", *cmd, "train", "--distributed", "--parallel"], capture_output=True,
                         text=True, timeout=120, env=env)
    assert bad.returncode == 2 and "--parallel and --diagnostics are not available" in bad.stderr


def test_distributed_training_on_file_shards(tmp_path):
    from test_distributed import mpi_or_skip
    _, mpiexec = mpi_or_skip()
    rng = np.random.default_rng(0)
    for rank in range(2):
        X = rng.normal(size=(150, 5))
        y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
        if rank == 1:
            # Rank 1's file has no class 3: the ranks must still agree on 4 output units.
            X, y = X[y != 3], y[y != 3]
        np.savez(tmp_path / f"part-{rank}.npz", X=X, y=y)
    exe = shutil.which("fastbp")
    cmd = [exe] if exe else [sys.executable, "-m", "fastbp"]
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    out = subprocess.run([mpiexec, "-n", "2", *cmd, "train", "--distributed", "--shard", "--data",
                          str(tmp_path / "part-{rank}.npz"), "--epochs", "15", "--batch-size", "16",
                          "--learning-rate", "1.0"], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    summary = out.stdout.strip().splitlines()[-1]
    assert summary.startswith("held-out accuracy") and float(summary.split()[2].rstrip(",")) > 0.7


def _mpi_fastbp():
    from test_distributed import mpi_or_skip
    _, mpiexec = mpi_or_skip()
    exe = shutil.which("fastbp")
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return [mpiexec, "-n", "2", *([exe] if exe else [sys.executable, "-m", "fastbp"])], env


def test_shards_report_the_held_out_parts_of_every_file_and_a_missing_file_stops_every_rank(tmp_path):
    import fastbp
    from fastbp.datasets import load, train_test_split
    cmd, env = _mpi_fastbp()
    rng = np.random.default_rng(0)
    held_out = []
    for rank in range(2):
        X = rng.normal(size=(120, 3))
        counts = rng.poisson(np.exp(0.6 * X[:, 0] + 0.3)).astype(float)
        np.savez(tmp_path / f"part-{rank}.npz", X=X, y=counts)
        held_out.append(train_test_split(*load(tmp_path / f"part-{rank}.npz"), 0.25, seed=0)[2:])   # as the CLI
    model = tmp_path / "m.npz"
    out = subprocess.run([*cmd, "train", "--distributed", "--shard", "--data", str(tmp_path / "part-{rank}.npz"),
                          "--cost", "poisson", "--learning-rate", "0.05", "--epochs", "30", "--early-stopping", "2",
                          "--save", str(model)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    # The summary scores the saved (best) weights on both files' held-out rows, not the last
    # epoch's validation split.
    summary = out.stdout.strip().splitlines()[-2]
    X_test, y_test = np.vstack([X for X, _ in held_out]), np.concatenate([y for _, y in held_out])
    expected = fastbp.load(model).evaluate(X_test, y_test)["cost"]
    assert summary.startswith("held-out accuracy n/a, cost ") and float(summary.split()[4].rstrip(",")) == \
        pytest.approx(expected, abs=1e-4)
    (tmp_path / "part-1.npz").unlink()
    gone = subprocess.run([*cmd, "train", "--distributed", "--shard", "--data", str(tmp_path / "part-{rank}.npz"),
                           "--epochs", "1"], capture_output=True, text=True, timeout=120, env=env)
    assert gone.returncode == 2 and "part-1.npz" in gone.stderr


def _labelled_csv(path, labels, n=120, seed=0):
    """A separable CSV with class labels ``labels`` (one per quadrant of the first two features)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = np.asarray(labels)[(X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)]
    with open(path, "w") as f:
        f.write("f0,f1,f2,f3,label\n")
        for row, label in zip(X, y):
            f.write(",".join(f"{v:.6f}" for v in row) + f",{label}\n")
    return X, y


def test_saved_model_predicts_the_data_s_own_labels_1_to_4(tmp_path, capsys):
    import fastbp
    X, y = _labelled_csv(tmp_path / "d.csv", [1, 2, 3, 4])
    model = tmp_path / "m.npz"
    assert main(["train", "--data", str(tmp_path / "d.csv"), "--epochs", "40", "--learning-rate", "2.0",
                 "--save", str(model), "--quiet"]) == 0
    net = fastbp.load(model)
    assert net.sizes == (4, 30, 5)                   # label j is output unit j; unit 0 is never a target
    predictions = net.predict(X)
    assert set(np.unique(predictions)) <= {1, 2, 3, 4}
    assert np.mean(predictions == y) > 0.8


def test_poisson_reads_integer_targets_as_counts_not_labels(tmp_path, capsys):
    import fastbp
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    counts = rng.poisson(np.exp(0.6 * X[:, 0] + 0.5))           # integers 0..14: not class labels here
    np.savetxt(tmp_path / "c.csv", np.c_[X, counts], delimiter=",", header="a,b,c,y", comments="", fmt="%.6g")
    model = tmp_path / "m.npz"
    assert main(["train", "--data", str(tmp_path / "c.csv"), "--cost", "poisson", "--epochs", "30",
                 "--learning-rate", "0.05", "--save", str(model), "--quiet"]) == 0
    assert "class labels" not in capsys.readouterr().out
    net = fastbp.load(model)
    assert (net.sizes, net.output_activation, net.cost_name) == ((3, 30, 1), "exp", "poisson")
    rates = net.predict(X)[:, 0]
    assert np.corrcoef(rates, np.exp(0.6 * X[:, 0]))[0, 1] > 0.9


def test_labels_that_cannot_index_units_are_mapped_with_a_note_and_not_saved(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    np.savez(tmp_path / "d.npz", X=X, y=np.where(X[:, 0] > 0, 1, -1))
    model = tmp_path / "m.npz"
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--epochs", "2", "--save", str(model)]) == 2
    err = capsys.readouterr().err
    assert "would predict those indices, not your labels" in err and "relabel" in err
    assert not model.exists()
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--epochs", "2", "--checkpoint",
                 str(tmp_path / "c.npz"), "--quiet"]) == 2
    assert "--checkpoint" in capsys.readouterr().err
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--epochs", "2"]) == 0   # evaluation only: fine
    assert "note: class labels mapped to output units for training and evaluation: -1 -> 0, 1 -> 1" in \
        capsys.readouterr().out


def test_class_indices_index_units_directly_when_they_can():
    from fastbp.cli import _class_indices
    y = np.array([1, 2, 3, 3])
    yt, _, n_outputs, classes = _class_indices(y, y[:2])
    assert n_outputs == 4 and classes is None and yt is y
    sparse = np.array([0, 100, 200])
    yt, _, n_outputs, classes = _class_indices(sparse, sparse)
    assert n_outputs == 3 and list(classes) == [0, 100, 200] and list(yt) == [0, 1, 2]
    assert _class_indices(sparse, sparse, n_outputs=201)[2:] == (201, None)     # --sizes ...,201
    assert _class_indices(np.array([0, 1, 1]), np.array([0]), n_outputs=1)[2:] == (1, None)   # one sigmoid unit
    yt, _, n_outputs, classes = _class_indices(np.array([1, 2, 1]), np.array([2]), n_outputs=2)
    assert n_outputs == 2 and list(classes) == [1, 2] and list(yt) == [0, 1, 0]
    real = np.array([[0.5, 1.5]])
    assert _class_indices(real, real)[2:] == (2, None)


def test_gradcheck_honours_float32_with_its_own_tolerance(capsys):
    assert main(["gradcheck", "--dtype", "float32", "--sizes", "3,4,3"]) == 0
    out = capsys.readouterr().out
    assert "dtype=float32" in out and "dtype=float64" not in out
    assert out.strip().endswith("all passed (tolerance 0.001)")
    assert main(["gradcheck", "--dtype", "float32", "--sizes", "3,4,3", "--tolerance", "1e-9"]) == 1
    assert "FAILED" in capsys.readouterr().out


@pytest.mark.parametrize("argv, option", [
    (["gradcheck", "--tolerance", "-1"], "--tolerance"),
    (["gradcheck", "--tolerance", "nan"], "--tolerance"),
    (["gradcheck", "--tolerance", "0"], "--tolerance"),
    (["gradcheck", "--tolerance", "inf"], "--tolerance"),
    (["gradcheck", "--samples", "0"], "--samples"),
    (["gradcheck", "--l2", "nan"], "--l2"),
    (["bench", "--repeats", "0"], "--repeats"),
    (["bench", "--samples", "-5"], "--samples"),
    (["bench", "--learning-rate", "nan"], "--learning-rate"),
    (["train", "--learning-rate", "0"], "--learning-rate"),
    (["train", "--momentum", "nan"], "--momentum"),
    (["train", "--beta1", "1"], "--beta1"),
    (["train", "--l2", "-1"], "--l2"),
    (["train", "--dropout", "1.5"], "--dropout"),
    (["train", "--test-fraction", "0"], "--test-fraction"),
    (["train", "--seed", "-1"], "--seed"),
    (["gradcheck", "--seed", "-2"], "--seed"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--epochs", "-1"], "--epochs"),
    (["train", "--early-stopping", "0"], "--early-stopping"),
    (["train", "--threads", "0"], "--threads"),
])
def test_numeric_options_must_be_finite_and_in_range(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def test_output_paths_are_checked_before_training(tmp_path, capsys):
    # A directory given as --save would only fail after the whole run.
    assert main(["train", "--save", str(tmp_path), "--epochs", "1", "--sizes", "64,10,10"]) == 2
    captured = capsys.readouterr()
    assert f"--save must be a file path, not the directory {str(tmp_path)!r}" in captured.err
    assert "epoch 1" not in captured.out


def test_train_help_describes_the_default_split():
    out = _run("train", "--help")
    assert out.returncode == 0 and "25% held out" in out.stdout and "%%" not in out.stdout


def test_subcommands_have_docstrings():
    from fastbp import cli
    for command in (cli.train, cli.gradcheck, cli.bench):
        assert command.__doc__ and len(command.__doc__.strip()) > 100, command.__name__


class _FakeComm:
    """allgather over pretend ranks whose contributions are given up front."""

    def __init__(self, others):
        self.others = others

    def allgather(self, mine):
        return [mine, *self.others]


def test_shard_labels_are_the_union_over_ranks():
    from fastbp.cli import _class_indices, _labels_of_all_ranks
    y_train, y_test = np.array([10, 30, 30]), np.array([10])
    union = _labels_of_all_ranks(_FakeComm([np.array([20, 40])]), y_train, y_test)
    np.testing.assert_array_equal(union, [10, 20, 30, 40])
    # Sparse labels are mapped by the union, so this rank's 30 is unit 2 as on the rank that has 20.
    mapped_train, _, n_outputs, classes = _class_indices(y_train, y_test, None, union)
    assert n_outputs == 4 and mapped_train.tolist() == [0, 2, 2]
    assert _labels_of_all_ranks(_FakeComm([None]), np.array([0.5, 1.5]), np.array([0.5])) is None
    with pytest.raises(ValueError, match=r"ranks \[1\] hold real-valued targets"):
        _labels_of_all_ranks(_FakeComm([None]), y_train, y_test)


def test_train_says_when_the_first_epoch_is_compiling(monkeypatch, capsys):
    """A kernel compiled during training is announced once, and its seconds are shown apart
    from the training throughput (per epoch and in the summary)."""
    from fastbp import kernels

    from conftest import fresh_fastbp_compile
    compile_one, real, calls = fresh_fastbp_compile(at_least=0.2), kernels.train_epoch, []

    def compiling_kernel(*args):
        if not calls:
            compile_one()
        calls.append(1)
        return real(*args)
    assert main(["train", "--epochs", "2", "--sizes", "64,10,10"]) == 0       # kernels ready
    capsys.readouterr()
    monkeypatch.setattr(kernels, "train_epoch", compiling_kernel)
    assert main(["train", "--epochs", "2", "--sizes", "64,10,10"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert sum("compiling the kernels" in line for line in lines) == 1
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert "s compiling kernels" in epochs[0] and "compiling" not in epochs[1]
    assert "s of it compiling kernels)" in lines[-1]
