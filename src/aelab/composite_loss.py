"""The training loss of an autoencoder as the sum of the loss terms it is composed of.

The estimator fills a ``LossComposition`` from its parameters; ``CompositeLoss`` turns it into the
``loss_fn(network, x)`` that the one training loop (aelab.training) minimises. The terms themselves are
plain functions in aelab.objectives and aelab.corruption.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from aelab.augmentation import AffineAugmentation, random_affine
from aelab.corruption import corrupt
from aelab.nn.dense import DenseStack
from aelab.nn.latent import reparameterise
from aelab.objectives import (
    analytic_kl,
    batch_kl,
    jacobian_frobenius,
    jacobian_frobenius_sigmoid,
    l1_penalty,
    latent_cycle_loss,
    reconstruction_error_sum,
    reconstruction_loss,
    sparsity_kl,
)


@dataclass
class LossComposition:
    """Which loss terms are summed, and their weights."""

    loss: str = "mse"
    output_activation: str = "linear"
    gaussian: bool = False
    beta: float = 1.0
    kl: str = "analytic"
    corruption: str | None = None
    noise_level: float = 0.0
    data_low: float = 0.0
    data_high: float = 1.0
    clip: bool = False
    l1_code: float = 0.0
    sparsity_weight: float = 0.0
    sparsity_target: float = 0.05
    contractive_weight: float = 0.0
    latent_cycle: str = "none"
    cycle_weight: float = 1.0
    n_alternations: int = 10
    total_steps: int = 1
    latent_dim: int = 2
    augmentation: AffineAugmentation | None = None
    sample_shape: tuple[int, ...] | None = None


def _one_sigmoid_layer(encoder: nn.Module) -> nn.Linear | None:
    """The linear layer of an encoder that is exactly ``sigmoid(W x + b)``, else None."""
    body, head = getattr(encoder, "body", None), getattr(encoder, "head", None)
    if isinstance(body, DenseStack) and len(body) == 0 and isinstance(head, DenseStack) and len(head) == 2:
        if isinstance(head[0], nn.Linear) and isinstance(head[1], nn.Sigmoid):
            return head[0]
    return None


def contractive_penalty(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Squared Frobenius norm of the encoder's Jacobian at each sample: shape (n_samples,).

    A one-layer sigmoid encoder uses the closed form (one matrix product, O(n d k)); any other encoder uses
    batched autograd, about k backward passes through the encoder for a code of size k (see
    aelab.objectives.jacobian_frobenius). For a Gaussian encoder the Jacobian is that of the posterior mean.
    """
    layer = _one_sigmoid_layer(encoder)
    if layer is not None:
        return jacobian_frobenius_sigmoid(x, layer.weight, layer.bias)
    return jacobian_frobenius(encoder, x)


class CompositeLoss:
    """``loss_fn(network, x)``: the sum of the composed terms on a batch ``x``.

    In training mode the batch is first augmented (if an augmentation is set: the moved images are then
    both input and target), the input is corrupted (if a corruption is set), Gaussian codes are sampled by
    reparameterisation and, for ``latent_cycle="alternating"``, the steps alternate between the
    reconstruction terms and the latent cycle term in ``2 * n_alternations`` equal phases of the run. In
    evaluation mode (the validation loss) the input is clean, the code is the posterior mean, and all
    terms together (the latent cycle term still draws its codes). Randomness comes from ``generator`` only.
    """

    def __init__(self, composition: LossComposition, generator: torch.Generator | None) -> None:
        self.composition = composition
        self.generator = generator
        self.step = 0

    @property
    def may_skip_parameters(self) -> bool:
        """True when some steps leave parameters unused: the latent cycle phases of a Gaussian encoder
        never touch its log-variance layer (DistributedDataParallel must then look for unused ones)."""
        return self.composition.gaussian and self.composition.latent_cycle == "alternating"

    def _in_cycle_phase(self) -> bool:
        c = self.composition
        phase_length = max(c.total_steps // (2 * c.n_alternations), 1)
        return (self.step // phase_length) % 2 == 1

    def cycle_term(self, network: nn.Module, like: torch.Tensor) -> torch.Tensor:
        """Codes drawn from N(0, I), decoded then encoded again, compared with themselves."""
        codes = torch.randn((len(like), self.composition.latent_dim), generator=self.generator,
                            device=like.device, dtype=like.dtype)
        return latent_cycle_loss(codes, network.encode(network.decode(codes)))

    def __call__(self, network: nn.Module, x: torch.Tensor) -> torch.Tensor:
        c = self.composition
        training = network.training
        if training:
            in_cycle_phase = c.latent_cycle == "alternating" and self._in_cycle_phase()
            self.step += 1
            if in_cycle_phase:
                return c.cycle_weight * self.cycle_term(network, x)
        if training and c.augmentation is not None:
            x = random_affine(x, c.sample_shape, c.augmentation, self.generator)
        inputs = x
        if training and c.corruption is not None:
            inputs = corrupt(x, c.corruption, c.noise_level, self.generator, c.data_low, c.data_high, c.clip)
        hidden = network.encoder.body(inputs)
        head = network.encoder.head(hidden)
        if c.gaussian:
            mean, log_variance = head
            codes = reparameterise(mean, log_variance, self.generator) if training else mean
            logits = network.decoder(codes)
            total = reconstruction_error_sum(logits, x, c.loss, c.output_activation).mean()
            if c.kl == "analytic":
                total = total + c.beta * analytic_kl(mean, log_variance).mean()
            else:
                total = total + c.beta * batch_kl(codes)
        else:
            codes = head
            logits = network.decoder(codes)
            total = reconstruction_loss(logits, x, c.loss, c.output_activation)
        if c.l1_code > 0:
            total = total + c.l1_code * l1_penalty(codes).mean()
        if c.sparsity_weight > 0:
            body = network.encoder.body
            has_hidden = not (isinstance(body, DenseStack) and len(body) == 0)
            activations = hidden if has_hidden else codes
            total = total + c.sparsity_weight * sparsity_kl(activations, c.sparsity_target)
        if c.contractive_weight > 0:
            total = total + c.contractive_weight * contractive_penalty(network.encoder, inputs).mean()
        if c.latent_cycle == "joint" or (c.latent_cycle == "alternating" and not training):
            total = total + c.cycle_weight * self.cycle_term(network, x)
        return total
