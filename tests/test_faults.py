"""Faults during training: a diverging loss, the device out of memory, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from torch import nn

from aelab import Autoencoder, load
from aelab.cli import main
from aelab.parts import Dense
from aelab.training import TrainingSettings, train_network
from aelab.training.faults import TrainingOutOfMemory


class LossNaNAt:
    """Mean squared reconstruction error that is NaN on the given calls (counted from 1)."""

    def __init__(self, bad_calls):
        self.bad_calls, self.calls = set(bad_calls), 0

    def __call__(self, network, x):
        self.calls += 1
        loss = (network(x) - x).square().mean()
        return loss * float("nan") if self.calls in self.bad_calls else loss


def train(epochs, bad_calls=(), on_divergence="stop"):
    torch.manual_seed(0)
    network = nn.Linear(4, 4)
    X = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
    settings = TrainingSettings(epochs=epochs, batch_size=16, learning_rate=0.01, on_divergence=on_divergence)
    result = train_network(network, LossNaNAt(bad_calls), X, None, settings, torch.Generator().manual_seed(2))
    return network, result


def test_divergence_stops_naming_the_epoch_and_keeps_the_last_good_weights():
    torch.manual_seed(0)
    network = nn.Linear(4, 4)
    X = torch.randn(64, 4, generator=torch.Generator().manual_seed(1))
    settings = TrainingSettings(epochs=3, batch_size=16, learning_rate=0.01)
    with pytest.raises(FloatingPointError) as error:  # 4 batches an epoch: the 6th is in epoch 2
        train_network(network, LossNaNAt({6}), X, None, settings, torch.Generator().manual_seed(2))
    message = str(error.value)
    assert "the training loss became nan at epoch 2" in message
    assert "Lower the learning rate (now 0.01), check that the input is scaled" in message
    assert "--on-divergence restore-halve-lr" in message
    after_one_epoch, _ = train(epochs=1)
    assert torch.equal(network.weight, after_one_epoch.weight) and torch.equal(network.bias, after_one_epoch.bias)


def test_restore_halve_lr_trains_the_epoch_again_with_half_the_rate():
    with pytest.warns(RuntimeWarning, match=r"became nan at epoch 2; the weights of epoch 1 are restored and the "
                      r"learning rate halved to 0.005"):
        network, result = train(epochs=3, bad_calls={6}, on_divergence="restore-halve-lr")
    assert result.n_epochs == 3 and len(result.history["train_loss"]) == 3
    assert all(np.isfinite(result.history["train_loss"]))


def test_restore_halve_lr_gives_up_after_a_few_tries():
    with pytest.warns(RuntimeWarning), pytest.raises(FloatingPointError,
                                                     match="after halving the learning rate 4 times"):
        train(epochs=3, bad_calls=range(5, 1000), on_divergence="restore-halve-lr")


def test_estimator_divergence_is_a_value_error():
    X = np.random.default_rng(0).random((100, 6)).astype(np.float32) * 1e3
    with pytest.raises(ValueError, match=r"the training loss became (nan|inf) at epoch \d; the weights of the last "
                       r"good epoch are kept"):
        Autoencoder(encoder=Dense(hidden=(4,)), n_components=2, epochs=2, learning_rate=1e12, optimizer="sgd",
                    random_state=0, device="cpu").fit(X)
    with pytest.raises(ValueError, match="on_divergence='retry' is not one of 'stop', 'restore-halve-lr'"):
        Autoencoder(on_divergence="retry").fit(X)


def _failing_steps(monkeypatch, error: Exception) -> None:
    """Every training step raises ``error``."""
    def loss(self, batch):
        raise error

    monkeypatch.setattr("aelab.training.steps.TrainingStep._loss", loss)


@pytest.mark.parametrize("error", [
    getattr(torch.cuda, "OutOfMemoryError", RuntimeError)("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough memory: out of memory"),
])
def test_out_of_memory_names_the_batch_size_and_a_smaller_one(monkeypatch, error):
    _failing_steps(monkeypatch, error)
    X = np.random.default_rng(0).random((100, 6)).astype(np.float32)
    with pytest.raises(TrainingOutOfMemory, match=r"ran out of memory training a batch of 64 rows; pass a smaller "
                       r"batch size, e.g. batch_size=32 \(--batch-size 32\)"):
        Autoencoder(encoder=Dense(hidden=(4,)), n_components=2, batch_size=64, random_state=0, device="cpu").fit(X)


def test_other_runtime_errors_are_not_taken_for_out_of_memory(monkeypatch):
    _failing_steps(monkeypatch, RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        Autoencoder(encoder=Dense(hidden=(4,)), n_components=2, random_state=0, device="cpu").fit(np.zeros((10, 6),
                                                                                                           np.float32))


def test_cli_out_of_memory_is_one_line_with_exit_2(monkeypatch, tmp_path, capsys):
    _failing_steps(monkeypatch, RuntimeError("CUDA out of memory"))
    argv = ["train", "--data", "digits", "--hidden", "8", "--latent", "2", "--batch-size", "100", "--quiet",
            "--device", "cpu", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "batch of 100 rows" in err and "--batch-size 50" in err
    assert not (tmp_path / "run").exists()


TRAIN = ["train", "--hidden", "16", "--latent", "4", "--epochs", "25", "--batch-size", "8", "--device", "cpu",
         "--quiet", "--seed", "0"]


def test_ctrl_c_saves_a_checkpoint_and_the_run_resumes_to_identical_weights(tmp_path, capsys):
    data = tmp_path / "d.csv"
    np.savetxt(data, np.random.default_rng(0).random((300, 20)), delimiter=",", fmt="%.5f")
    run = tmp_path / "run"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-m", "aelab", *TRAIN, "--data", str(data), "--out", str(run)],
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not (run / "checkpoint" / "checkpoint.json").exists():
        assert process.poll() is None, process.communicate()
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate()
    assert process.returncode == 130
    assert "training stopped by Ctrl-C in epoch" in err
    assert err.strip().endswith(f"continue the run with: aelab train --resume {run}")
    record = json.loads((run / "checkpoint" / "checkpoint.json").read_text())
    assert not record["finished"] and record["epoch"] < 25
    assert not (run / "model.json").exists()

    assert main([*TRAIN, "--data", str(data), "--out", str(run)]) == 2  # an interrupted run is not overwritten
    assert f"continue it with 'aelab train --resume {run}'" in capsys.readouterr().err
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the subprocess, so that the results are comparable bit for bit
    try:
        assert main(["train", "--resume", str(run)]) == 0
        assert main([*TRAIN, "--data", str(data), "--out", str(tmp_path / "reference")]) == 0
    finally:
        torch.set_num_threads(threads)
    resumed = load(run)[-1].network_.state_dict()  # a run folder loads as a Pipeline; its last step is the model
    reference = load(tmp_path / "reference")[-1].network_.state_dict()
    for name in reference:
        assert torch.equal(resumed[name], reference[name]), name
    assert json.loads((run / "checkpoint" / "checkpoint.json").read_text())["finished"]
