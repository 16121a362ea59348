"""Penalties: terms added to the reconstruction term, each with its weight.

A penalty's ``term(batch)`` gives its weighted term on an aelab.parts.base.Batch, or None when it adds
nothing to this batch. A penalty may also ``take_over`` whole training steps (the alternating latent cycle),
on which its ``step_term`` is the whole loss.
"""

from __future__ import annotations

import torch
from torch import nn

from aelab.nn.dense import DenseStack
from aelab.objectives import (
    jacobian_frobenius,
    jacobian_frobenius_sigmoid,
    l1_penalty,
    latent_cycle_loss,
    sparsity_kl,
)
from aelab.parts.base import Batch, Part, check_choice, check_number, check_positive_int

LATENT_CYCLES = ("alternating", "joint")


class Penalty(Part):
    """The base of penalties: none takes over training steps unless it says so, and none needs the training
    rows unless it says so."""

    #: The decoder learns from codes drawn from N(0, I), so ``sample`` makes sense.
    generative = False

    def takes_over(self, step: int, total_steps: int) -> bool:
        """Whether training step ``step`` (0-based, of ``total_steps``) is this penalty's alone."""
        return False

    def check_training(self, streaming: bool, distributed: bool) -> None:
        """A ValueError, before any work, when this penalty cannot train on a streamed file (``streaming``) or
        data-parallel over several processes (``distributed``); penalties that look at one batch at a time can."""

    def prepare(self, X_train: torch.Tensor, random_state: int, n_components: int = 2):
        """The penalty as one fit uses it, given that fit's training rows ``X_train`` (on the training device),
        a seed and the code's size: the penalty itself, unless it learns something from all the rows first (the
        neighbour graph returns a new object holding its graph, the free layout one holding its codes). The part
        is never changed, so the estimator's parameters stay what the user set and nothing learned here is saved
        with the model."""
        return self

    def term(self, batch: Batch) -> torch.Tensor | None:
        raise NotImplementedError


class L1Code(Penalty):
    """``weight`` times the L1 norm of the code (sum of absolute values per sample, batch mean).

    Parameters
    ----------
    weight : float, default=1e-4
        Weight of the term, >= 0.

    Examples
    --------
    >>> L1Code(weight=1e-3)
    L1Code(weight=0.001)
    """

    short_name = "l1_code"

    def __init__(self, weight=1e-4):
        self.weight = weight

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        check_number("L1Code weight", self.weight)

    def term(self, batch: Batch) -> torch.Tensor:
        return float(self.weight) * l1_penalty(batch.codes).mean()


class Sparsity(Penalty):
    """``weight`` times the KL sparsity penalty on the mean activation of the encoder's last hidden layer (the
    code when there is none), towards ``target``. Those activations must lie in [0, 1]: the encoder needs
    ``activation="sigmoid"``.

    Parameters
    ----------
    weight : float, default=1e-3
        Weight of the term, >= 0.
    target : float, default=0.05
        The target mean activation rho, in (0, 1).
    """

    short_name = "sparsity"

    def __init__(self, weight=1e-3, target=0.05):
        self.weight = weight
        self.target = target

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        check_number("Sparsity weight", self.weight)
        check_number("Sparsity target", self.target, 0.0, 1.0, open_low=True, open_high=True)
        activation = getattr(encoder, "activation", None)
        if self.weight > 0 and activation != "sigmoid":
            raise ValueError(
                f"Sparsity needs hidden activations in [0, 1], but the encoder is {encoder!r} with "
                f"activation={activation!r}; pass an encoder with activation='sigmoid'"
            )

    def term(self, batch: Batch) -> torch.Tensor:
        activations = batch.hidden if batch.has_hidden else batch.codes
        return float(self.weight) * sparsity_kl(activations, float(self.target))


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


class Contractive(Penalty):
    """``weight`` times the squared Frobenius norm of the encoder's Jacobian (contractive autoencoder).

    A one-layer sigmoid encoder (``Dense(hidden=(), code_activation="sigmoid")``) uses the closed form,
    O(n d k) per batch; any other encoder batched autograd, about ``n_components`` extra backward passes
    per step.

    Parameters
    ----------
    weight : float, default=0.1
        Weight of the term, >= 0.
    """

    short_name = "contractive"

    def __init__(self, weight=0.1):
        self.weight = weight

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        check_number("Contractive weight", self.weight)

    def term(self, batch: Batch) -> torch.Tensor:
        return float(self.weight) * contractive_penalty(batch.network.encoder, batch.inputs).mean()


class LatentCycle(Penalty):
    """Double autoencoder: also learn to reconstruct codes drawn from N(0, I) through decoder then encoder.

    Parameters
    ----------
    weight : float, default=0.1
        Weight of the latent cycle term, >= 0.
    mode : {"alternating", "joint"}, default="alternating"
        ``alternating`` splits the run's steps into ``2 * n_alternations`` phases that alternate between the
        reconstruction terms and the cycle term (validation adds both); ``joint`` adds the cycle term at
        every step.
    n_alternations : int, default=10
        Number of (reconstruction, cycle) phase pairs for ``mode="alternating"``.
    """

    short_name = "latent_cycle"
    generative = True

    def __init__(self, weight=0.1, mode="alternating", n_alternations=10):
        self.weight = weight
        self.mode = mode
        self.n_alternations = n_alternations

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        check_number("LatentCycle weight", self.weight)
        check_choice("LatentCycle mode", self.mode, LATENT_CYCLES)
        check_positive_int("LatentCycle n_alternations", self.n_alternations)

    def takes_over(self, step: int, total_steps: int) -> bool:
        if self.mode != "alternating":
            return False
        phase_length = max(total_steps // (2 * int(self.n_alternations)), 1)
        return (step // phase_length) % 2 == 1

    def cycle(self, network: nn.Module, like: torch.Tensor, n_components: int,
              generator: torch.Generator | None) -> torch.Tensor:
        """The weighted term: codes drawn from N(0, I), decoded then encoded again, compared with themselves."""
        codes = torch.randn((len(like), n_components), generator=generator, device=like.device, dtype=like.dtype)
        return float(self.weight) * latent_cycle_loss(codes, network.encode(network.decode(codes)))

    def step_term(self, network: nn.Module, x: torch.Tensor, n_components: int, generator: torch.Generator | None,
                  loss: str = "mse", output_activation: str = "sigmoid") -> torch.Tensor:
        """The whole loss of a step this penalty takes over (the estimator's ``loss`` and output activation are
        not used: the cycle compares codes)."""
        return self.cycle(network, x, n_components, generator)

    def term(self, batch: Batch) -> torch.Tensor | None:
        if self.mode == "joint" or not batch.training:
            return self.cycle(batch.network, batch.target, batch.n_components, batch.generator)
        return None
