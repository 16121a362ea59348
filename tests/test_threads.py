import subprocess
import sys

import numpy as np
import pytest
import torch

import aelab.training.threads as threads
from aelab import Autoencoder
from aelab.parts import Dense
from aelab.training import Callback


class Threads(Callback):
    """Records torch's intra-op threads after every batch."""

    def __init__(self):
        self.seen = []

    def on_batch_end(self, state):
        self.seen.append(torch.get_num_threads())


@pytest.fixture
def registry(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "registry_folder", lambda: tmp_path / "fits")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield tmp_path / "fits"
    torch.set_num_threads(before)


@pytest.fixture
def other_fit(registry):
    """A live process registered as a running fit."""
    registry.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    (registry / f"{sleeper.pid}.0123").touch()
    yield sleeper
    sleeper.kill()
    sleeper.wait()


def _fit(callback):
    X = np.random.default_rng(0).random((64, 5)).astype(np.float32)
    Autoencoder(encoder=Dense(hidden=(4,)), n_components=2, epochs=2, batch_size=16, random_state=0, device="cpu",
                callbacks=[callback]).fit(X)


def test_a_fit_alone_keeps_every_thread_and_leaves_no_entry(registry):
    seen = Threads()
    _fit(seen)
    assert set(seen.seen) == {2} and torch.get_num_threads() == 2
    assert list(registry.iterdir()) == []


def test_beside_another_running_fit_a_fit_takes_half_the_threads_and_gives_them_back(registry, other_fit):
    seen = Threads()
    _fit(seen)
    assert set(seen.seen) == {1}
    assert torch.get_num_threads() == 2  # restored after the fit
    assert [p.name for p in registry.iterdir()] == [f"{other_fit.pid}.0123"]  # only its own entry removed


def test_entries_of_ended_processes_are_removed_and_not_counted(registry):
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    registry.mkdir()
    (registry / f"{ended.stdout.strip()}.dead").touch()
    (registry / "notes.txt").touch()  # not an entry: ignored
    seen = Threads()
    _fit(seen)
    assert set(seen.seen) == {2}
    assert [p.name for p in registry.iterdir()] == ["notes.txt"]


def test_omp_num_threads_set_by_the_user_is_left_alone_but_counted_for_the_others(registry, other_fit,
                                                                                  monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")

    class Entries(Threads):
        def on_batch_end(self, state):
            super().on_batch_end(state)
            self.entries = threads.running_fits(registry)

    seen = Entries()
    _fit(seen)
    assert set(seen.seen) == {2} and seen.entries == 2  # the other fit and this one
    assert len(list(registry.iterdir())) == 1


def test_a_fit_that_fails_gives_its_threads_back(registry, other_fit):
    class Fail(Callback):
        def on_batch_end(self, state):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        _fit(Fail())
    assert torch.get_num_threads() == 2 and len(list(registry.iterdir())) == 1
