"""The autoencoder network: an encoder, a decoder and the output activation between them and the data."""

from __future__ import annotations

import torch
from torch import nn

OUTPUT_ACTIVATIONS = ("sigmoid", "linear", "relu")


class AutoencoderNetwork(nn.Module):
    """``encode`` maps samples to codes, ``decode_logits`` codes to pre-activation outputs, ``decode`` to data.

    The decoder ends linear; the output activation is kept apart so that a BCE loss can work on logits.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, output_activation: str) -> None:
        super().__init__()
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(
                f"unknown output activation {output_activation!r}; choose one of {', '.join(OUTPUT_ACTIVATIONS)}"
            )
        self.encoder = encoder
        self.decoder = decoder
        self.output_activation = output_activation

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def activate(self, logits: torch.Tensor) -> torch.Tensor:
        if self.output_activation == "sigmoid":
            return torch.sigmoid(logits)
        if self.output_activation == "relu":
            return torch.relu(logits)
        return logits

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.activate(self.decoder(z))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Code and output logits of ``x``."""
        z = self.encoder(x)
        return z, self.decoder(z)
