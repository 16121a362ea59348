"""Input corruption for denoising autoencoders: the network sees the corrupted input, the loss the clean one."""

from __future__ import annotations

import torch

CORRUPTIONS = ("gaussian", "masking", "salt_pepper")


def corrupt(x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None,
            low: float = 0.0, high: float = 1.0, clip: bool = False) -> torch.Tensor:
    """A corrupted copy of ``x``.

    Parameters
    ----------
    x : tensor of shape (n_samples, n_features)
    kind : {"gaussian", "masking", "salt_pepper"}
        ``gaussian`` adds N(0, level^2) noise; ``masking`` sets each value to ``low`` with probability ``level``;
        ``salt_pepper`` sets each value with probability ``level`` to ``low`` or ``high`` (equally likely).
    level : float
        The noise's standard deviation (gaussian) or the fraction of values changed (masking, salt_pepper).
    generator : torch.Generator
        The source of randomness (on ``x``'s device).
    low, high : float
        The data's range: the value masking writes, the pepper and salt values, and the clipping bounds.
    clip : bool
        Clip the gaussian-noised values to [low, high].

    Examples
    --------
    >>> x = torch.full((1, 4), 0.5)
    >>> corrupt(x, "masking", 1.0, torch.Generator().manual_seed(0)).tolist()
    [[0.0, 0.0, 0.0, 0.0]]
    """
    if kind == "gaussian":
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        noisy = x + level * noise
        return noisy.clamp(low, high) if clip else noisy
    uniform = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if kind == "masking":
        return torch.where(uniform < level, torch.full_like(x, low), x)
    if kind == "salt_pepper":
        # one uniform draw decides both whether (u < level) and which way (u < level / 2 -> low)
        values = torch.where(uniform < level / 2, torch.full_like(x, low), torch.full_like(x, high))
        return torch.where(uniform < level, values, x)
    raise ValueError(f"unknown corruption {kind!r}; choose one of {', '.join(CORRUPTIONS)}")
