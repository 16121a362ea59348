import copy

import pytest
import torch

from aelab.training import LeanFusedAdam


def _run(optimizer_factory, steps=6):
    torch.manual_seed(0)
    params = [torch.randn(5, 3, requires_grad=True), torch.randn(3, requires_grad=True)]
    optimizer = optimizer_factory(params)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        (params[0] * params[1]).square().sum().backward()
        optimizer.step()
    return params, optimizer


@pytest.mark.parametrize("decoupled, weight_decay", [(False, 0.0), (False, 0.01), (True, 0.01)])
def test_lean_adam_matches_torch_fused_adam_exactly(decoupled, weight_decay):
    reference_cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    lean, _ = _run(lambda p: LeanFusedAdam(p, lr=1e-2, weight_decay=weight_decay, decoupled=decoupled))
    reference, _ = _run(lambda p: reference_cls(p, lr=1e-2, weight_decay=weight_decay, fused=True))
    for a, b in zip(lean, reference, strict=True):
        assert torch.equal(a, b)


def test_lean_adam_state_dict_round_trip_continues_identically():
    params, optimizer = _run(lambda p: LeanFusedAdam(p, lr=1e-2))
    state = copy.deepcopy(optimizer.state_dict())  # as if written to and read from disk
    assert state["state"][0]["step"].item() == 6
    twins = [p.detach().clone().requires_grad_() for p in params]
    restored = LeanFusedAdam(twins, lr=1e-2)
    restored.load_state_dict(state)
    for ps, opt in ((params, optimizer), (twins, restored)):
        opt.zero_grad(set_to_none=True)
        (ps[0] * ps[1]).square().sum().backward()
        opt.step()
    for a, b in zip(params, twins, strict=True):
        assert torch.equal(a, b)
