"""The installed console script, end to end, in a subprocess."""

import os
import shutil
import subprocess
import sys

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
    assert main(["train", "--sizes", "64,30,10", "--batch-size", "0", "--quiet"]) == 2
    assert "batch_size must be >= 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--sizes", "64,x"])


def test_quiet_prints_only_the_summary(capsys):
    assert main(["train", "--quiet", "--epochs", "2", "--sizes", "64,10,10"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("held-out accuracy")
