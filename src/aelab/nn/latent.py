"""Latent heads (the encoder's last layer) and the encoder that joins a body to one."""

from __future__ import annotations

import torch
from torch import nn

from aelab.nn.dense import DenseStack
from aelab.nn.layers import init_linear


class DeterministicHead(DenseStack):
    """A linear layer to the code, optionally followed by ``code_activation``; with ``track_range``, it also
    holds the buffer ``code_range`` (the smallest and largest code of each component, shape (2, latent_dim)),
    which the fit fills and the weights file keeps."""

    def __init__(self, in_features: int, latent_dim: int, activation_name: str, generator: torch.Generator,
                 code_activation: str | None = None, track_range: bool = False) -> None:
        super().__init__([in_features, latent_dim], activation_name, generator, last_activation=code_activation)
        if track_range:
            self.register_buffer("code_range", torch.zeros(2, latent_dim))


class GaussianHead(nn.Module):
    """Two linear layers giving the mean and the log-variance of a diagonal Gaussian posterior q(z | x)."""

    def __init__(self, in_features: int, latent_dim: int, generator: torch.Generator) -> None:
        super().__init__()
        self.mean = nn.Linear(in_features, latent_dim)
        self.log_variance = nn.Linear(in_features, latent_dim)
        init_linear(self.mean, generator, None)
        init_linear(self.log_variance, generator, None)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean(h), self.log_variance(h)


class Encoder(nn.Module):
    """``body`` (hidden layers) then ``head`` (code); a Gaussian head's ``forward`` gives the posterior mean."""

    def __init__(self, body: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = head

    @property
    def is_gaussian(self) -> bool:
        return isinstance(self.head, GaussianHead)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = self.head(self.body(x))
        return code[0] if self.is_gaussian else code


def reparameterise(mean: torch.Tensor, log_variance: torch.Tensor, generator: torch.Generator | None,
                   ) -> torch.Tensor:
    """A sample ``mean + exp(log_variance / 2) * eps``, eps ~ N(0, I) drawn from ``generator``."""
    eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + torch.exp(0.5 * log_variance) * eps
