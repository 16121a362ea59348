"""Every loss term against a hand computation on tiny tensors, and gradient checks in float64."""

import math

import pytest
import torch

from aelab.nn.dense import DenseStack
from aelab.nn.latent import DeterministicHead, Encoder
from aelab.objectives import (
    analytic_kl,
    batch_kl,
    jacobian_frobenius,
    jacobian_frobenius_sigmoid,
    l1_penalty,
    latent_cycle_loss,
    reconstruction_error_sum,
    sparsity_kl,
)
from aelab.parts import GaussianNoise, LatentCycle, Masking, SaltPepper
from aelab.parts.penalties import contractive_penalty


def test_analytic_kl_by_hand():
    mean = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    log_variance = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # sample 1: 0.5 * ((1 + 1 - 1 - 0) + (0 + 2 - 1 - log 2)); sample 2 is N(0, I) itself
    expected = torch.tensor([1.0 - 0.5 * math.log(2.0), 0.0])
    assert torch.allclose(analytic_kl(mean, log_variance), expected)


def test_batch_kl_by_hand():
    codes = torch.tensor([[0.0, 0.0], [2.0, 0.0], [1.0, 3.0]])
    # mean (1, 1); unbiased covariance [[1, 0], [0, 3]]: 0.5 * (trace 4 + |m|^2 2 - k 2 - log det 3)
    assert torch.allclose(batch_kl(codes, jitter=0.0), torch.tensor(2.0 - 0.5 * math.log(3.0)))
    # a batch that is N(0, I)-like in its first two moments costs nothing
    codes = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]) * math.sqrt(1.5)
    assert torch.allclose(batch_kl(codes, jitter=0.0), torch.tensor(0.0), atol=1e-6)


def test_sparsity_kl_by_hand():
    activations = torch.tensor([[0.1, 0.5], [0.3, 0.5]])  # unit means 0.2 (= target) and 0.5
    expected = 0.2 * math.log(0.2 / 0.5) + 0.8 * math.log(0.8 / 0.5)
    assert torch.allclose(sparsity_kl(activations, 0.2), torch.tensor(expected))


def test_l1_cycle_and_summed_reconstruction_by_hand():
    assert torch.equal(l1_penalty(torch.tensor([[1.0, -2.0], [0.0, 0.5]])), torch.tensor([3.0, 0.5]))
    codes, again = torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.tensor([[1.0, 0.0], [1.0, 3.0]])
    assert latent_cycle_loss(codes, again).item() == (1 + 0 + 0 + 4) / 4
    logits, target = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]])
    assert torch.allclose(reconstruction_error_sum(logits, target, "bce", "sigmoid"), torch.tensor([2 * math.log(2)]))


def test_jacobian_norm_of_one_sigmoid_layer_by_hand_and_by_autograd():
    weight, bias = torch.tensor([[1.0, 2.0]]), torch.tensor([0.0])
    x = torch.tensor([[0.0, 0.0]])
    # h = 0.5, (h (1 - h))^2 = 1/16, ||W||^2 = 5
    assert torch.allclose(jacobian_frobenius_sigmoid(x, weight, bias), torch.tensor([5 / 16]))
    encoder = Encoder(DenseStack([3], "relu", torch.Generator()),
                      DeterministicHead(3, 2, "relu", torch.Generator().manual_seed(0), code_activation="sigmoid"))
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    closed = contractive_penalty(encoder, x)  # takes the closed form
    generic = jacobian_frobenius(encoder, x)
    assert torch.allclose(closed, generic, atol=1e-6)


def test_jacobian_norm_of_a_linear_map_is_its_frobenius_norm():
    A = torch.tensor([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])
    norms = jacobian_frobenius(lambda x: x @ A.T, torch.zeros(2, 3))
    assert torch.allclose(norms, torch.tensor([15.0, 15.0]))


def test_gradients_of_the_loss_terms_in_float64():
    g = torch.Generator().manual_seed(0)
    mean = torch.randn(3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    log_variance = torch.randn(3, 2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(analytic_kl, (mean, log_variance))
    codes = torch.randn(5, 2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(batch_kl, (codes,))
    activations = torch.rand(4, 3, generator=g, dtype=torch.float64).mul(0.8).add(0.1).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: sparsity_kl(a, 0.05), (activations,))
    x = torch.randn(3, 4, generator=g, dtype=torch.float64)
    weight = torch.randn(2, 4, generator=g, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w, b: jacobian_frobenius_sigmoid(x, w, b), (weight, bias))
    # the autograd Jacobian norm of a two-layer tanh encoder, differentiated again with respect to the weights
    w2 = torch.randn(2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda w, v: jacobian_frobenius(lambda t: torch.tanh(torch.tanh(t @ w.T) @ v.T), x), (weight, w2))


def test_corruptions():
    x = torch.full((200, 50), 0.5)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(Masking(0.0).corrupt(x, g), x)
    assert torch.equal(Masking(1.0).corrupt(x, g), torch.zeros_like(x))
    masked = Masking(0.3).corrupt(x, g)
    assert set(masked.unique().tolist()) == {0.0, 0.5} and abs((masked == 0).float().mean().item() - 0.3) < 0.02
    salted = SaltPepper(0.4).corrupt(x, g)
    assert abs((salted == 0).float().mean().item() - 0.2) < 0.02
    assert abs((salted == 1).float().mean().item() - 0.2) < 0.02
    noisy = GaussianNoise(0.5).corrupt(x, g, clip=True)
    assert noisy.min() == 0 and noisy.max() == 1 and abs((noisy - x).std().item() - 0.4) < 0.05
    a = GaussianNoise(0.5).corrupt(x, torch.Generator().manual_seed(3))
    b = GaussianNoise(0.5).corrupt(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and abs((a - x).std().item() - 0.5) < 0.01
    with pytest.raises(ValueError, match="SaltPepper level must be a number >= 0.0 and <= 1.0, got -0.1"):
        SaltPepper(-0.1).validate(50)
    with pytest.raises(ValueError, match="GaussianNoise level must be a number >= 0.0, got inf"):
        GaussianNoise(float("inf")).validate(50)


def test_alternating_phases_split_the_steps():
    cycle = LatentCycle(mode="alternating", n_alternations=2)
    phases = [cycle.takes_over(step, 8) for step in range(8)]
    assert phases == [False, False, True, True, False, False, True, True]
    assert not any(LatentCycle(mode="joint").takes_over(step, 8) for step in range(8))
