"""Callbacks: the hooks the training loop calls, the built-in ones, and the estimator's ``callbacks=``."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch import nn

from aelab import Autoencoder, load
from aelab.parts import Dense
from aelab.training import Callback, EarlyStopping, TrainingSettings, train_network
from aelab.training.faults import TrainingInterrupted

# 40 rows, 4 held out for validation: 36 training rows in batches of 16 make 3 batches an epoch
X = np.random.default_rng(0).random((40, 6)).astype(np.float32)
SETTINGS = dict(encoder=Dense(hidden=(4,)), n_components=2, batch_size=16, random_state=0, device="cpu")


class Recorder(Callback):
    """Writes down every hook with the epoch and batch counters it saw."""

    def __init__(self):
        self.calls = []

    def on_train_begin(self, state):
        self.calls.append(("train_begin", state.epoch, state.batch))

    def on_epoch_begin(self, state):
        self.calls.append(("epoch_begin", state.epoch, state.batch))

    def on_batch_end(self, state):
        self.calls.append(("batch_end", state.epoch, state.batch))

    def on_epoch_end(self, state):
        self.calls.append(("epoch_end", state.epoch, len(state.history["train_loss"])))

    def on_train_end(self, state):
        self.calls.append(("train_end", state.epoch, state.batch))

    def on_exception(self, state, error):
        self.calls.append(("exception", type(error).__name__))


class StopAfter(Callback):
    """Asks to stop at the end of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state):
        if state.epoch >= self.epoch:
            state.stop_training = True


def test_a_callback_sees_every_hook_in_order_with_the_epoch_numbers():
    recorder = Recorder()
    Autoencoder(**SETTINGS, epochs=2, callbacks=[recorder]).fit(X)
    epoch = [("batch_end", 0, 1), ("batch_end", 0, 2), ("batch_end", 0, 3)]
    assert recorder.calls == [
        ("train_begin", 0, 0),
        ("epoch_begin", 0, 0), *epoch, ("epoch_end", 1, 1),
        ("epoch_begin", 1, 0), *[(hook, 1, batch) for hook, _, batch in epoch], ("epoch_end", 2, 2),
        ("train_end", 2, 0),
    ]


def test_a_callback_can_stop_training():
    fitted = Autoencoder(**SETTINGS, epochs=10, patience=None, callbacks=[StopAfter(3)]).fit(X)
    assert fitted.n_epochs_ == 3
    assert len(fitted.history_["train_loss"]) == 3 and len(fitted.history_["validation_loss"]) == 3


def test_a_stop_is_saved_as_a_finished_checkpoint_and_resuming_trains_no_further(tmp_path):
    fitted = Autoencoder(**SETTINGS, epochs=10, callbacks=[StopAfter(2)]).fit(X, checkpoint=tmp_path)
    resumed = Autoencoder(**SETTINGS, epochs=10).fit(X, resume=tmp_path)
    assert fitted.n_epochs_ == resumed.n_epochs_ == 2
    for name, tensor in fitted.network_.state_dict().items():
        assert torch.equal(resumed.network_.state_dict()[name], tensor), name


def test_callbacks_are_parameters_that_clone_copies_and_models_do_not_save(tmp_path):
    recorder = Recorder()
    estimator = Autoencoder(**SETTINGS, epochs=1, callbacks=[recorder])
    copied = clone(estimator)
    assert isinstance(copied.callbacks[0], Recorder) and copied.callbacks[0] is not recorder
    copied.fit(X)
    assert len(copied.callbacks[0].calls) == 7 and recorder.calls == []
    copied.save(tmp_path / "model")
    assert load(tmp_path / "model").callbacks is None


def test_on_exception_is_called_when_training_fails():
    recorder = Recorder()
    with pytest.raises(ValueError, match="the training loss became"):
        Autoencoder(**SETTINGS, epochs=2, learning_rate=1e12, optimizer="sgd", callbacks=[recorder]).fit(X * 1e3)
    assert recorder.calls[-1] == ("exception", "FloatingPointError")
    assert ("train_end", 1, 0) not in recorder.calls


def test_an_exception_raised_by_a_callback_reaches_the_caller():
    class Interrupting(Callback):
        def on_batch_end(self, state):
            raise TrainingInterrupted("stopped here")

    recorder = Recorder()
    with pytest.raises(TrainingInterrupted, match="stopped here"):
        Autoencoder(**SETTINGS, epochs=2, callbacks=[Interrupting(), recorder]).fit(X)
    assert recorder.calls == [("train_begin", 0, 0), ("epoch_begin", 0, 0), ("exception", "TrainingInterrupted")]


@pytest.mark.parametrize("callbacks, message", [
    (Recorder(), "callbacks must be a list of aelab.training.Callback instances, got <"),
    ([print], "callbacks must be aelab.training.Callback instances, got <built-in function print>; subclass"),
])
def test_callbacks_that_are_not_callbacks_are_refused(callbacks, message):
    with pytest.raises(TypeError, match=message):
        Autoencoder(**SETTINGS, epochs=1, callbacks=callbacks).fit(X)


def test_early_stopping_stops_after_patience_epochs_and_restores_the_best_weights():
    """On its own in train_network: the monitored loss is the training loss, which a learning rate of 0 keeps
    still, so no epoch after the first improves on it."""
    torch.manual_seed(0)
    network = nn.Linear(3, 3)
    data = torch.randn(32, 3, generator=torch.Generator().manual_seed(1))
    initial = {k: v.clone() for k, v in network.state_dict().items()}

    def loss_fn(net, x):
        return (net(x) - x).square().mean()

    settings = TrainingSettings(epochs=20, batch_size=8, learning_rate=0.0, patience=None)
    result = train_network(network, loss_fn, data, None, settings, torch.Generator().manual_seed(2),
                           callbacks=[EarlyStopping(patience=3)])
    assert result.n_epochs == 4 and result.best_epoch == 1 and result.stopped_early
    for name, tensor in initial.items():
        assert torch.equal(network.state_dict()[name], tensor)


class StopBelow(Callback):
    """Stateless (scikit-learn's checks compare the parameters before and after fit)."""

    def __init__(self, bound=1e-12):
        self.bound = bound

    def on_epoch_end(self, state):
        if state.train_loss < self.bound:
            state.stop_training = True


@parametrize_with_checks([Autoencoder(encoder=Dense(hidden=(8,)), n_components=2, epochs=3, batch_size=32,
                                      device="cpu", callbacks=[StopBelow()])])
def test_sklearn_compatible_with_callbacks(estimator, check):
    check(estimator)
