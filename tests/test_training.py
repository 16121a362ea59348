import copy

import pytest
import torch

import aelab.training.settings
from aelab.training import TrainingSettings, make_optimizer
from aelab.training.settings import fused_adam_available

CPU = torch.device("cpu")


def _settings(optimizer="adam", weight_decay=0.0, learning_rate=1e-2):
    return TrainingSettings(epochs=1, batch_size=8, learning_rate=learning_rate, weight_decay=weight_decay,
                            optimizer=optimizer)


def _params():
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(5, 3, generator=generator, requires_grad=True),
            torch.randn(3, generator=generator, requires_grad=True)]


def _train(params, optimizer, steps=6):
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        (params[0] * params[1]).square().sum().backward()
        optimizer.step()
    return params


def test_fused_adam_is_found_where_torch_has_it_and_refused_elsewhere():
    assert fused_adam_available(CPU, torch.float32)  # CPU fused Adam exists since PyTorch 2.4
    assert not fused_adam_available(CPU, torch.int64)  # no gradient, no Adam, on integer tensors


@pytest.mark.parametrize("name, cls", [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_adam_and_adamw_are_torch_optimizers_fused_where_available(name, cls, monkeypatch):
    optimizer = make_optimizer(_params(), _settings(name), CPU)
    assert type(optimizer) is cls
    assert optimizer.param_groups[0]["fused"] is True and not optimizer.param_groups[0]["foreach"]
    monkeypatch.setattr(aelab.training.settings, "fused_adam_available", lambda device, dtype: False)
    optimizer = make_optimizer(_params(), _settings(name), CPU)
    assert type(optimizer) is cls
    assert not optimizer.param_groups[0]["fused"] and optimizer.param_groups[0]["foreach"] is True


def test_adamw_decays_the_weights_apart_from_the_gradient():
    # with a zero gradient, Adam's L2 term becomes the gradient (one step moves by about the learning rate),
    # while AdamW only shrinks the weight by learning_rate * weight_decay
    moved = {}
    for name in ("adam", "adamw"):
        weight = torch.ones(1, requires_grad=True)
        optimizer = make_optimizer([weight], _settings(name, weight_decay=0.01, learning_rate=0.1), CPU)
        weight.grad = torch.zeros_like(weight)
        optimizer.step()
        moved[name] = weight.item()
    assert moved["adam"] == pytest.approx(0.9, abs=1e-6)
    assert moved["adamw"] == pytest.approx(1 - 0.1 * 0.01, abs=1e-7)


def test_fused_and_foreach_adam_learn_the_same_and_share_their_state(monkeypatch):
    fused_params = _params()
    fused = make_optimizer(fused_params, _settings(weight_decay=0.01), CPU)
    _train(fused_params, fused)
    monkeypatch.setattr(aelab.training.settings, "fused_adam_available", lambda device, dtype: False)
    foreach_params = _params()
    foreach = make_optimizer(foreach_params, _settings(weight_decay=0.01), CPU)
    _train(foreach_params, foreach)
    for a, b in zip(fused_params, foreach_params, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    # the fused optimizer's state, as a checkpoint holds it, continues in a foreach one
    state = copy.deepcopy(fused.state_dict())
    assert state["state"][0]["step"].item() == 6
    twins = [p.detach().clone().requires_grad_() for p in fused_params]
    restored = make_optimizer(twins, _settings(weight_decay=0.01), CPU)
    restored.load_state_dict(state)
    _train(fused_params, fused, steps=1)
    _train(twins, restored, steps=1)
    for a, b in zip(fused_params, twins, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_a_fused_adam_state_dict_round_trip_continues_bit_identically():
    params = _params()
    optimizer = make_optimizer(params, _settings(), CPU)
    _train(params, optimizer)
    state = copy.deepcopy(optimizer.state_dict())  # as if written to and read from disk
    twins = [p.detach().clone().requires_grad_() for p in params]
    restored = make_optimizer(twins, _settings(), CPU)
    restored.load_state_dict(state)
    _train(params, optimizer, steps=2)
    _train(twins, restored, steps=2)
    for a, b in zip(params, twins, strict=True):
        assert torch.equal(a, b)


def test_an_unknown_optimizer_names_the_choices():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'; choose one of adam, adamw, sgd"):
        make_optimizer(_params(), _settings("lbfgs"), CPU)
