"""Dense (fully connected) encoder bodies and decoders."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from aelab.nn.layers import activation, init_linear


class DenseStack(nn.Sequential):
    """Linear layers of the given widths, each followed by ``activation_name``.

    With ``last_activation`` set (possibly None), the final layer is followed by it instead: a decoder ends
    with a linear layer whose output activation is applied by the autoencoder.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation_name: str,
        generator: torch.Generator,
        last_activation: str | None | bool = False,
    ) -> None:
        super().__init__()
        sizes = list(sizes)
        n_layers = len(sizes) - 1
        for i in range(n_layers):
            layer = nn.Linear(sizes[i], sizes[i + 1])
            is_last = i == n_layers - 1
            after = activation_name if (not is_last or last_activation is False) else last_activation
            init_linear(layer, generator, after)
            self.append(layer)
            if after is not None:
                self.append(activation(after))
        self.out_features = sizes[-1]


class DenseEncoder(nn.Module):
    """Input -> hidden layers -> linear code of ``latent_dim`` (optionally followed by an activation)."""

    def __init__(
        self,
        n_features: int,
        hidden: Sequence[int],
        latent_dim: int,
        activation_name: str,
        generator: torch.Generator,
        code_activation: str | None = None,
    ) -> None:
        super().__init__()
        self.body = DenseStack([n_features, *hidden], activation_name, generator)
        self.head = DenseStack([self.body.out_features, latent_dim], activation_name, generator,
                               last_activation=code_activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class DenseDecoder(nn.Module):
    """Code -> hidden layers -> linear output of ``n_features`` (the output activation is applied outside)."""

    def __init__(
        self,
        latent_dim: int,
        hidden: Sequence[int],
        n_features: int,
        activation_name: str,
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.layers = DenseStack([latent_dim, *hidden, n_features], activation_name, generator,
                                 last_activation=None)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(z)
