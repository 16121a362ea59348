"""Input corruptions of denoising autoencoders: the network sees the corrupted input, the loss the clean one.

Each corruption's ``corrupt(x, generator, low, high, clip)`` gives a corrupted copy of a training batch;
``low`` and ``high`` are the training data's range (the value masking writes, the pepper and salt values,
the clipping bounds), ``clip`` is set for data in [0, 1] (a sigmoid output).
"""

from __future__ import annotations

import torch

from aelab.parts.base import Part, check_number


class GaussianNoise(Part):
    """Adds N(0, level^2) noise to every value; with ``clip`` the result is clipped to the data's range.

    Parameters
    ----------
    level : float, default=0.5
        Standard deviation of the noise, >= 0.

    Examples
    --------
    >>> x = torch.zeros(1, 3)
    >>> GaussianNoise(level=0.0).corrupt(x, torch.Generator().manual_seed(0)).tolist()
    [[0.0, 0.0, 0.0]]
    """

    def __init__(self, level=0.5):
        self.level = level

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        check_number("GaussianNoise level", self.level)

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None, low: float = 0.0, high: float = 1.0,
                clip: bool = False) -> torch.Tensor:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        noisy = x + float(self.level) * noise
        return noisy.clamp(low, high) if clip else noisy


class Masking(Part):
    """Sets each value to the data's low end with probability ``level``.

    Parameters
    ----------
    level : float, default=0.5
        The fraction of values masked, in [0, 1].

    Examples
    --------
    >>> x = torch.full((1, 4), 0.5)
    >>> Masking(level=1.0).corrupt(x, torch.Generator().manual_seed(0)).tolist()
    [[0.0, 0.0, 0.0, 0.0]]
    """

    def __init__(self, level=0.5):
        self.level = level

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        check_number("Masking level", self.level, 0.0, 1.0)

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None, low: float = 0.0, high: float = 1.0,
                clip: bool = False) -> torch.Tensor:
        uniform = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return torch.where(uniform < float(self.level), torch.full_like(x, low), x)


class SaltPepper(Part):
    """Sets each value with probability ``level`` to the data's low or high end, equally likely.

    Parameters
    ----------
    level : float, default=0.5
        The fraction of values changed, in [0, 1].
    """

    def __init__(self, level=0.5):
        self.level = level

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        check_number("SaltPepper level", self.level, 0.0, 1.0)

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None, low: float = 0.0, high: float = 1.0,
                clip: bool = False) -> torch.Tensor:
        level = float(self.level)
        uniform = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        # one uniform draw decides both whether (u < level) and which way (u < level / 2 -> low)
        values = torch.where(uniform < level / 2, torch.full_like(x, low), torch.full_like(x, high))
        return torch.where(uniform < level, values, x)
