"""Checkpoints: a run resumed from its checkpoint ends with exactly the weights of an uninterrupted run."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from aelab import Autoencoder
from aelab.parts import Dense
from aelab.training import faults
from aelab.training.checkpoints import load_checkpoint

SETTINGS = dict(encoder=Dense(hidden=(16,)), n_components=4, epochs=6, batch_size=32, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).random((300, 20)).astype(np.float32)


@pytest.fixture(scope="module")
def uninterrupted(X):
    return Autoencoder(**SETTINGS).fit(X)


@contextlib.contextmanager
def one_thread():
    """Results are compared bit for bit with those of a one-thread subprocess."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def assert_same_weights(a, b):
    state_a, state_b = a.network_.state_dict(), b.network_.state_dict()
    assert state_a.keys() == state_b.keys()
    for name in state_a:
        assert torch.equal(state_a[name], state_b[name]), name


def interrupt_after(monkeypatch, n_batches):
    """Make training stop as on Ctrl-C after ``n_batches`` batches."""
    class Counting:
        checks = 0

        @property
        def raised(self):
            Counting.checks += 1
            return Counting.checks >= n_batches

    @contextlib.contextmanager
    def fake_interrupts():
        yield Counting()

    monkeypatch.setattr(faults, "stop_on_interrupt", fake_interrupts)


def test_checkpoint_at_the_end_and_every_n_epochs(X, uninterrupted, tmp_path):
    fitted = Autoencoder(**SETTINGS).fit(X, checkpoint=tmp_path, checkpoint_every=2)
    assert_same_weights(fitted, uninterrupted)  # checkpointing changes nothing
    names = sorted(p.name for p in tmp_path.iterdir())  # the last checkpoint only
    assert len(names) == 2 and names[0].startswith("checkpoint-6-0-") and names[1] == "checkpoint.json"
    state = load_checkpoint(tmp_path)
    assert state.epoch == 6 and state.finished and state.history == fitted.history_
    record = json.loads((tmp_path / "checkpoint.json").read_text())
    assert record["config"]["epochs"] == 6 and record["config"]["n_features_in_"] == 20


def test_resume_mid_epoch_gives_identical_weights(X, uninterrupted, tmp_path, monkeypatch):
    interrupt_after(monkeypatch, 20)  # 9 batches per epoch: stops inside the third epoch
    with pytest.raises(faults.TrainingInterrupted, match=r"epoch 3 after batch 2"):
        Autoencoder(**SETTINGS).fit(X, checkpoint=tmp_path)
    state = load_checkpoint(tmp_path)
    assert (state.epoch, state.batches_done, state.finished) == (2, 2, False)
    monkeypatch.undo()
    resumed = Autoencoder(**SETTINGS).fit(X, resume=tmp_path)
    assert_same_weights(resumed, uninterrupted)
    assert resumed.history_ == uninterrupted.history_
    assert resumed.best_epoch_ == uninterrupted.best_epoch_


def test_resume_refuses_other_settings(X, tmp_path):
    Autoencoder(**SETTINGS).fit(X, checkpoint=tmp_path)
    with pytest.raises(ValueError, match=r"other settings \(learning_rate=0.003 there, 0.01 here\)"):
        Autoencoder(**{**SETTINGS, "learning_rate": 1e-2}).fit(X, resume=tmp_path)


def test_resume_refuses_a_damaged_checkpoint(X, tmp_path):
    Autoencoder(**SETTINGS).fit(X, checkpoint=tmp_path)
    tensors = next(tmp_path.glob("*.safetensors"))
    tensors.write_bytes(tensors.read_bytes()[:-10])
    with pytest.raises(ValueError, match="does not match the hash recorded with it"):
        Autoencoder(**SETTINGS).fit(X, resume=tmp_path)
    (tmp_path / "checkpoint.json").write_text("[]")
    with pytest.raises(ValueError, match="is not a valid aelab checkpoint"):
        Autoencoder(**SETTINGS).fit(X, resume=tmp_path)


def test_checkpoints_need_an_integer_random_state(X, tmp_path):
    with pytest.raises(ValueError, match="pass an integer random_state"):
        Autoencoder(**{**SETTINGS, "random_state": None}).fit(X, checkpoint=tmp_path)


KILLED_RUN = """
import sys
import numpy as np
from aelab import Autoencoder
from aelab.parts import Dense
X = np.load(sys.argv[1])
Autoencoder(encoder=Dense(hidden=(16,)), n_components=4, epochs=25, batch_size=8, random_state=0, device="cpu").fit(
    X, checkpoint=sys.argv[2])
"""


def wait_for(path: Path, process: subprocess.Popen) -> None:
    while not path.exists():
        assert process.poll() is None, process.communicate()
        time.sleep(0.005)


def test_sigkill_then_resume_gives_identical_weights_and_no_damaged_file(X, tmp_path):
    np.save(tmp_path / "X.npy", X)
    folder = tmp_path / "checkpoint"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tmp_path / "X.npy"), str(folder)],
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(folder / "checkpoint.json", process)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL

    from safetensors.torch import load_file

    for path in folder.iterdir():  # whatever the moment of the kill, every file is whole
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".safetensors":
            load_file(path)
    settings = {**SETTINGS, "epochs": 25, "batch_size": 8}
    assert load_checkpoint(folder).epoch < 25
    with one_thread():
        resumed = Autoencoder(**settings).fit(X, resume=folder)
        reference = Autoencoder(**settings).fit(X)
    assert_same_weights(resumed, reference)
    assert resumed.history_ == reference.history_
