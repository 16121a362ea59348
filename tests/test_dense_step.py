"""The written-out dense step against autograd: loss and every gradient, when it applies, and whole fits."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import aelab.dense_step
from aelab import Autoencoder
from aelab.dense_step import dense_step_for
from aelab.objectives import reconstruction_loss
from aelab.parts import Affine, Contractive, Conv, Dense, Gaussian, GaussianNoise, L1Code, LatentCycle


def _network_and_loss(loss="mse", output="sigmoid", code_activation=None):
    ae = Autoencoder(encoder=Dense(hidden=(16, 8), code_activation=code_activation), n_components=3, loss=loss,
                     random_state=0)
    network = ae.build_network(20, output, seed=0)
    loss_fn = ae.training_loss(10, (0.0, 1.0), torch.Generator().manual_seed(0), output_activation=output)
    return network, loss_fn


@pytest.mark.parametrize("loss, output, code_activation", [
    ("mse", "sigmoid", None), ("mse", "linear", None), ("bce", "sigmoid", None), ("mse", "sigmoid", "relu"),
])
def test_loss_and_gradients_match_autograd(loss, output, code_activation):
    network, loss_fn = _network_and_loss(loss, output, code_activation=code_activation)
    x = torch.rand(7, 20, generator=torch.Generator().manual_seed(1))
    network.train()
    network.zero_grad(set_to_none=True)
    reference = reconstruction_loss(network(x)[1], x, loss, output)
    reference.backward()
    expected = {name: p.grad.clone() for name, p in network.named_parameters()}
    step = dense_step_for(network, loss_fn)
    assert step is not None and [relu for _, relu in step.layers] == [True, True, code_activation == "relu", True,
                                                                       True, False]
    value = step(x)
    assert torch.allclose(value, reference.detach(), rtol=1e-6, atol=1e-7)
    for name, p in network.named_parameters():
        assert torch.allclose(p.grad, expected[name], rtol=1e-5, atol=1e-7), name
    assert loss_fn.step == 1
    step(x)  # gradients are overwritten, not accumulated
    for name, p in network.named_parameters():
        assert torch.allclose(p.grad, expected[name], rtol=1e-5, atol=1e-7), name


def test_steps_of_one_batch_size_write_into_the_same_buffers_and_gradients():
    network, loss_fn = _network_and_loss()
    step = dense_step_for(network, loss_fn)
    x = torch.rand(7, 20, generator=torch.Generator().manual_seed(1))
    step(x)
    (buffers,) = step._buffers.values()
    kept = [t.data_ptr() for t in (*buffers.outputs, *buffers.input_grads, buffers.difference)]
    grads = [p.grad.data_ptr() for p in network.parameters()]
    step(x.flip(0))
    assert len(step._buffers) == 1 and next(iter(step._buffers.values())) is buffers
    assert [t.data_ptr() for t in (*buffers.outputs, *buffers.input_grads, buffers.difference)] == kept
    assert [p.grad.data_ptr() for p in network.parameters()] == grads


@pytest.mark.parametrize("params", [
    {"encoder": Conv(filters=(4,))}, {"latent": Gaussian()}, {"corruption": GaussianNoise()},
    {"penalties": (L1Code(1e-3),)}, {"encoder": Dense(hidden=(8,), activation="tanh")},
    {"encoder": Dense(hidden=(8,), code_activation="sigmoid")},
    {"penalties": (LatentCycle(mode="joint"),)}, {"penalties": (Contractive(0.1),)},
])
def test_other_networks_and_losses_keep_autograd(params):
    ae = Autoencoder(**{"encoder": Dense(hidden=(8,)), **params}, n_components=2, random_state=0)
    ae.output_activation_, ae.sample_shape_ = "sigmoid", (1, 4, 4)
    network = ae.build_network(16, "sigmoid", seed=0, sample_shape=(1, 4, 4))
    loss_fn = ae.training_loss(10, (0.0, 1.0), None)
    assert dense_step_for(network, loss_fn) is None


def test_bf16_compile_and_several_processes_keep_autograd():
    network, loss_fn = _network_and_loss()
    assert dense_step_for(network, loss_fn) is not None
    assert dense_step_for(network, loss_fn, precision="bf16") is None
    assert dense_step_for(network, loss_fn, compile=True) is None
    assert dense_step_for(network, loss_fn, distributed=object()) is None
    assert dense_step_for(network.double(), loss_fn) is None
    assert dense_step_for(network, lambda net, x: x.sum()) is None
    linear_net, _ = _network_and_loss(output="linear")
    assert dense_step_for(linear_net, Autoencoder().training_loss(output_activation="sigmoid")) is None


def test_a_fit_by_the_dense_step_follows_the_autograd_fit(monkeypatch):
    X = (load_digits().data / 16.0).astype(np.float32)
    params = dict(encoder=Dense(hidden=(32, 16)), n_components=2, epochs=4, batch_size=100, random_state=0,
                  device="cpu")
    made, real = [], aelab.dense_step.dense_step_for
    monkeypatch.setattr(aelab.dense_step, "dense_step_for", lambda *args, **kwargs: made.append(real(*args, **kwargs))
                        or made[-1])
    fast = Autoencoder(**params).fit(X)
    # 1,618 training rows in batches of 100: 17 steps an epoch
    assert len(made) == 1 and made[0] is not None and made[0].counter.step == 4 * 17
    monkeypatch.setattr(aelab.dense_step, "dense_step_for", lambda *args, **kwargs: None)
    slow = Autoencoder(**params).fit(X)
    np.testing.assert_allclose(fast.history_["train_loss"], slow.history_["train_loss"], rtol=1e-4)
    np.testing.assert_allclose(fast.history_["validation_loss"], slow.history_["validation_loss"], rtol=1e-4)
    np.testing.assert_allclose(fast.transform(X), slow.transform(X), rtol=1e-3, atol=1e-4)
    assert fast.history_["train_loss"][-1] < 0.8 * fast.history_["train_loss"][0]


def test_an_augmented_fit_moves_the_same_batches_as_autograd_would(monkeypatch):
    X = (load_digits().data / 16.0).astype(np.float32)
    params = dict(encoder=Dense(hidden=(32, 16)), n_components=2, epochs=3, batch_size=100, augmentation=Affine(),
                  random_state=0, device="cpu")
    fast = Autoencoder(**params).fit(X)
    monkeypatch.setattr(aelab.dense_step, "dense_step_for", lambda *args, **kwargs: None)
    slow = Autoencoder(**params).fit(X)
    np.testing.assert_allclose(fast.history_["train_loss"], slow.history_["train_loss"], rtol=1e-4)
    plain = Autoencoder(**{**params, "augmentation": None}).fit(X)
    assert not np.allclose(fast.history_["train_loss"], plain.history_["train_loss"], rtol=1e-3)
