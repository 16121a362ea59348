"""The training job: measuring accepts every test split that transform accepts, and a run that fails after its
training finished is finished by ``--resume`` without training again."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from aelab import load
from aelab.cli import main
from aelab.data import MinMaxScaling
from aelab.runs import CLIPPED_KEY, clip_to_training_range
from aelab.training.checkpoints import load_checkpoint

VARIATIONAL_BCE = ["train", "--kind", "variational", "--loss", "bce", "--latent", "2", "--hidden", "8",
                   "--epochs", "1", "--quiet", "--device", "cpu", "--seed", "0"]


@pytest.fixture
def normal_csv(tmp_path):
    """400 x 10 standard normal values with a header row: test values leave the training range."""
    path = tmp_path / "normal.csv"
    values = np.random.default_rng(0).standard_normal((400, 10))
    np.savetxt(path, values, delimiter=",", header=",".join(f"f{i}" for i in range(10)), comments="")
    return path


def _values_outside_training_range(run, data) -> int:
    """Scaled with the run's own scaling, every training value lies in [0, 1]: the values of the whole file
    outside it are those of the test split."""
    scaling = MinMaxScaling.from_dict(json.loads((run / "preprocessing.json").read_text())["scaling"])
    scaled = scaling.transform(np.loadtxt(data, delimiter=",", skiprows=1))
    return int(np.count_nonzero((scaled < 0) | (scaled > 1)))


def _expected_weights(checkpoint):
    """The weights a fit restored from ``checkpoint`` ends with: the best epoch's, else the last ones."""
    tensors = load_checkpoint(checkpoint).tensors
    prefix = "best." if any(name.startswith("best.") for name in tensors) else "network."
    return {name[len(prefix):]: t for name, t in tensors.items() if name.startswith(prefix)}


def _assert_weights(run, expected):
    weights = load(run).named_steps["autoencoder"].network_.state_dict()
    assert weights.keys() == expected.keys()
    for name in expected:
        assert torch.equal(weights[name], expected[name]), name


def test_clip_to_training_range_counts_the_values_it_changes():
    clipped, n = clip_to_training_range(np.array([[-0.5, 0.0], [1.0, 1.5], [0.25, np.float32(1e30)]]))
    np.testing.assert_array_equal(clipped, [[0.0, 0.0], [1.0, 1.0], [0.25, 1.0]])
    assert n == 3


def test_variational_bce_on_values_beyond_the_training_range_finishes(normal_csv, tmp_path, capsys):
    run = tmp_path / "run"
    assert main([*VARIATIONAL_BCE, "--data", str(normal_csv), "--out", str(run)]) == 0
    err = capsys.readouterr().err
    metrics = json.loads((run / "metrics.json").read_text())
    outside = _values_outside_training_range(run, normal_csv)
    assert outside > 0  # the case of the report: without clipping elbo() refused these
    for method in ("ae", "pca"):
        assert metrics[method][CLIPPED_KEY] == outside
        assert metrics[method]["reconstruction_bce"] > 0
    assert metrics["ae"]["elbo"] < 0
    assert f"aelab: {outside} of 800 test values lie outside the training range" in err
    assert "BCE and the ELBO are measured with them clipped" in (run / "report.html").read_text()
    assert (run / "model.json").is_file()


def test_test_values_inside_the_training_range_are_not_clipped(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", "digits", "--kind", "variational", "--loss", "bce", "--latent", "2",
                 "--hidden", "8", "--epochs", "1", "--quiet", "--device", "cpu", "--out", str(run)]) == 0
    assert "outside the training range" not in capsys.readouterr().err
    assert json.loads((run / "metrics.json").read_text())["ae"][CLIPPED_KEY] == 0


def test_a_run_that_fails_after_training_is_finished_by_resume_without_training(normal_csv, tmp_path, capsys,
                                                                                 monkeypatch):
    import aelab.runs

    measure_run = aelab.runs.measure_run
    calls = []

    def failing_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("the measuring failed")
        return measure_run(*args, **kwargs)

    monkeypatch.setattr(aelab.runs, "measure_run", failing_once)
    run = tmp_path / "run"
    argv = [*VARIATIONAL_BCE, "--epochs", "2", "--data", str(normal_csv), "--out", str(run)]
    assert main(argv) == 2
    err = capsys.readouterr().err.splitlines()[-1]  # after the warning that 2 epochs were still improving
    assert err.startswith("aelab: error: the measuring failed; ")
    assert err.strip().endswith(f"continue the run with: aelab train --resume {run}")
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint"]
    record = (run / "checkpoint" / "checkpoint.json").read_text()
    assert json.loads(record)["finished"] and json.loads(record)["epoch"] == 2
    expected = _expected_weights(run / "checkpoint")

    assert main(argv) == 2  # a plain rerun does not overwrite the trained model
    assert f"continue it with 'aelab train --resume {run}'" in capsys.readouterr().err
    assert main(["train", "--resume", str(run)]) == 0
    assert len(calls) == 2
    assert (run / "metrics.json").is_file()
    # no epoch was trained again: the checkpoint is not rewritten, the model holds its weights
    assert (run / "checkpoint" / "checkpoint.json").read_text() == record
    _assert_weights(run, expected)
    assert json.loads((run / "metrics.json").read_text())["history"] == json.loads(record)["history"]


KILL_AFTER_TRAINING = """
import os, signal, sys
import aelab.runs
from aelab.cli import main

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

aelab.runs.measure_run = killed
sys.exit(main(sys.argv[1:]))
"""


def test_a_run_killed_after_training_resumes_to_the_trained_weights(normal_csv, tmp_path, capsys):
    run = tmp_path / "run"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", KILL_AFTER_TRAINING, *VARIATIONAL_BCE, "--data",
                             str(normal_csv), "--out", str(run)], env=environment, capture_output=True, text=True)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint"]
    record = (run / "checkpoint" / "checkpoint.json").read_text()
    assert json.loads(record)["finished"]
    expected = _expected_weights(run / "checkpoint")

    assert main(["train", "--resume", str(run)]) == 0  # the dead process's lock is taken over
    assert (run / "metrics.json").is_file() and (run / "report.html").is_file()
    assert (run / "checkpoint" / "checkpoint.json").read_text() == record
    _assert_weights(run, expected)
