"""Data augmentation for image autoencoders: each training batch is moved by a small random affine map.

Unlike corruption (aelab.corruption), which the network must undo, an augmented image is both the input and
the target: the autoencoder learns to reconstruct digits that are a little rotated, shifted or scaled, so its
code no longer spends itself on where a stroke lies on the grid. On small image sets this is what makes the
code cluster by class (the deep clustering literature's "data augmentation" pretraining).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.nn import functional as F

AUGMENTATIONS = ("affine",)


@dataclass(frozen=True)
class AffineAugmentation:
    """Ranges of the random affine map: each batch image gets its own draw, uniform in each range.

    rotation : float
        Largest rotation, in degrees, either way.
    shift : float
        Largest translation, as a fraction of the image's width (horizontally) and height (vertically).
    scale : float
        Largest relative zoom in or out: the scale is drawn in [1 - scale, 1 + scale].
    flip : bool
        Also mirror half the images left to right (right for clothes, wrong for digits).
    """

    rotation: float = 10.0
    shift: float = 0.1
    scale: float = 0.1
    flip: bool = False


def random_affine_matrices(n: int, augmentation: AffineAugmentation, generator: torch.Generator | None,
                           device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` random 2 x 3 affine matrices in ``affine_grid``'s convention (output to input coordinates, both
    in [-1, 1]), one uniform draw per range of ``augmentation`` for each."""
    draws = torch.rand(n, 4, generator=generator, device=device, dtype=dtype) * 2 - 1
    angle = draws[:, 0] * (augmentation.rotation * math.pi / 180)
    zoom = 1 + draws[:, 1] * augmentation.scale
    # [-1, 1] spans the image, so a shift of s image widths is 2 s there
    shift_x, shift_y = draws[:, 2] * (2 * augmentation.shift), draws[:, 3] * (2 * augmentation.shift)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    mirror = torch.ones_like(cos)
    if augmentation.flip:
        coin = torch.rand(n, generator=generator, device=device, dtype=dtype)
        mirror = torch.where(coin < 0.5, -mirror, mirror)
    return torch.stack([torch.stack([cos * mirror, -sin, shift_x], dim=1),
                        torch.stack([sin * mirror, cos, shift_y], dim=1)], dim=1)


def affine_transform(x: torch.Tensor, sample_shape: Sequence[int], theta: torch.Tensor) -> torch.Tensor:
    """Flat rows of C x H x W images, each resampled through its matrix of ``theta`` (n, 2, 3).

    Bilinear resampling; pixels brought in from outside the image repeat the border, so the result stays
    within the range of the input.
    """
    channels, height, width = (int(d) for d in sample_shape)
    images = x.reshape(len(x), channels, height, width)
    grid = F.affine_grid(theta, [len(x), channels, height, width], align_corners=False)
    moved = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return moved.reshape(len(x), -1)


def random_affine(x: torch.Tensor, sample_shape: Sequence[int], augmentation: AffineAugmentation,
                  generator: torch.Generator | None) -> torch.Tensor:
    """``x`` (flat rows of C x H x W images) with each image moved by its own random affine map.

    Examples
    --------
    >>> x = torch.rand(4, 28 * 28)
    >>> still = AffineAugmentation(rotation=0, shift=0, scale=0)
    >>> random_affine(x, (1, 28, 28), still, torch.Generator().manual_seed(0)).allclose(x, atol=1e-5)
    True
    """
    theta = random_affine_matrices(len(x), augmentation, generator, x.device, x.dtype)
    return affine_transform(x, sample_shape, theta)


#: The augmentations the command line names (``--augment``), as the Autoencoder parameters they set.
AUGMENT_CHOICES: dict[str, dict] = {
    "none": {},
    "affine": {"augmentation": "affine"},
    "affine-flip": {"augmentation": "affine", "augment_flip": True},
}


def augment_parameters(name: str) -> dict:
    """The Autoencoder parameters of a named augmentation, e.g. ``augment_parameters("affine-flip")``."""
    if name not in AUGMENT_CHOICES:
        raise ValueError(f"unknown augmentation {name!r}; choose one of {', '.join(AUGMENT_CHOICES)}")
    return dict(AUGMENT_CHOICES[name])


def image_augmentation(dataset, name: str) -> dict:
    """The Autoencoder parameters that augment ``dataset`` (an aelab.data.Dataset) by ``name``, with the
    shape of its images; a ValueError when the data are not images."""
    params = augment_parameters(name)
    if params:
        if not dataset.is_image or len(dataset.sample_shape) not in (2, 3):
            raise ValueError(f"--augment {name} moves images, but {dataset.name} holds samples of shape "
                             f"{tuple(dataset.sample_shape)}; leave out --augment for data that are not images")
        params["sample_shape"] = tuple(int(d) for d in dataset.sample_shape)
    return params


def describe_augmentation(name: str) -> str:
    """One phrase on what the named augmentation does with the default ranges, for notes and reports."""
    params = augment_parameters(name)
    if not params:
        return "none"
    ranges = AffineAugmentation()
    text = (f"each training image moved by a random rotation of up to {ranges.rotation:g} degrees, shift of up to "
            f"{100 * ranges.shift:g}% and zoom of up to {100 * ranges.scale:g}%, drawn anew at every step")
    return text + (", and half of them mirrored" if params.get("augment_flip") else "")
