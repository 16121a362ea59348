"""The training loss of an autoencoder: the sum of what its parts contribute.

``AutoencoderLoss(network, x)`` is the ``loss_fn`` that the training loop (aelab.training) minimises. It
asks each part for its share and does not know which parts it holds.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from aelab.parts.base import Batch, Part, unchanged


class AutoencoderLoss:
    """``loss_fn(network, x)``: the latent's reconstruction term plus the penalties' terms on a batch ``x``.

    In training mode the batch is first augmented (if an augmentation is set: the moved images are then
    both input and target), the input is corrupted (if a corruption is set), the latent gives its codes
    (sampled ones for a Gaussian) and a penalty may take over whole steps (the alternating latent cycle).
    In evaluation mode (the validation loss) the input is clean, the code is the posterior mean, and every
    term is added. Randomness comes from ``generator`` only.

    Parameters
    ----------
    encoder, latent : Part
        The encoder body and the latent parts of the network.
    corruption, augmentation : Part or None
    penalties : sequence of Part
    loss : {"mse", "bce"}
    output_activation : str
        The resolved output activation of the network.
    n_components : int
        The code size.
    data_range : (float, float)
        The training data's minimum and maximum (the corruption's low and high values).
    sample_shape : (C, H, W) or None
        The shape of one image, for an augmentation.
    total_steps : int
        The training steps of the run (a penalty that alternates phases splits them).
    generator : torch.Generator or None
    """

    def __init__(self, encoder: Part, latent: Part, corruption: Part | None, augmentation: Part | None,
                 penalties: Sequence[Part], loss: str, output_activation: str, n_components: int,
                 data_range: tuple[float, float] = (0.0, 1.0), sample_shape: tuple[int, ...] | None = None,
                 total_steps: int = 1, generator: torch.Generator | None = None) -> None:
        self.encoder = encoder
        self.latent = latent
        self.corruption = corruption
        self.augmentation = augmentation
        self.penalties = tuple(penalties)
        self.loss = loss
        self.output_activation = output_activation
        self.n_components = int(n_components)
        self.data_range = (float(data_range[0]), float(data_range[1]))
        self.sample_shape = sample_shape
        self.total_steps = int(total_steps)
        self.generator = generator
        self.step = 0

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        """The training batch moved by the augmentation (``x`` itself without one), from the loss's stream."""
        if self.augmentation is None:
            return x
        return self.augmentation.augment(x, self.sample_shape, self.generator)

    def __call__(self, network: nn.Module, x: torch.Tensor) -> torch.Tensor:
        training = network.training
        if training:
            owner = next((p for p in self.penalties if p.takes_over(self.step, self.total_steps)), None)
            self.step += 1
            if owner is not None:
                return owner.step_term(network, x, self.n_components, self.generator, self.loss,
                                       self.output_activation)
            x = self.augment(x)
        inputs = x
        if training and self.corruption is not None:
            low, high = self.data_range
            inputs = self.corruption.corrupt(x, self.generator, low, high, self.output_activation == "sigmoid")
        hidden = network.encoder.body(inputs)
        codes, total = self.latent.term(network, network.encoder.head(hidden), x, training, self.generator,
                                        self.loss, self.output_activation)
        batch = Batch(target=x, inputs=inputs, hidden=hidden, has_hidden=bool(self.encoder.has_hidden_layers),
                      codes=codes, network=network, training=training, generator=self.generator,
                      n_components=self.n_components, augment=self.augment if training else unchanged,
                      sample_shape=self.sample_shape)
        for penalty in self.penalties:
            term = penalty.term(batch)
            if term is not None:
                total = total + term
        return total
