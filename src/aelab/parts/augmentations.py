"""Image augmentations: each training batch is moved by a small random map.

Unlike a corruption (aelab.parts.corruptions), which the network must undo, an augmented image is both the
input and the target: the autoencoder learns to reconstruct digits that are a little rotated, shifted or
scaled, so its code no longer spends itself on where a stroke lies on the grid. On small image sets this is
what makes the code cluster by class (the deep clustering literature's "data augmentation" pretraining).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from sklearn.base import clone
from torch.nn import functional as F

from aelab.parts.base import Part, check_bool, check_number, check_sample_shape


class Affine(Part):
    """Moves each image of a training batch by its own random rotation, shift and zoom, each drawn uniformly in
    its range, optionally mirrored.

    Parameters
    ----------
    rotation : float, default=10.0
        Largest rotation in degrees, either way, in [0, 180].
    shift : float, default=0.1
        Largest translation as a fraction of the image's width (horizontally) and height (vertically), in [0, 1].
    scale : float, default=0.1
        Largest relative zoom in or out, in [0, 1): the scale is drawn in [1 - scale, 1 + scale].
    flip : bool, default=False
        Also mirror half the images left to right (right for clothes, wrong for digits).
    sample_shape : tuple of int or None, default=None
        Shape of one image, (H, W) or (C, H, W); None takes it from image arrays given to fit, or, for flat
        rows, a square grayscale image.

    Examples
    --------
    >>> Affine(rotation=15.0, flip=True)
    Affine(flip=True, rotation=15.0)
    """

    needs_image_shape = True

    def __init__(self, rotation=10.0, shift=0.1, scale=0.1, flip=False, sample_shape=None):
        self.rotation = rotation
        self.shift = shift
        self.scale = scale
        self.flip = flip
        self.sample_shape = sample_shape

    def validate(self, n_features: int, encoder: Part | None = None) -> None:
        check_number("Affine rotation", self.rotation, 0.0, 180.0)
        check_number("Affine shift", self.shift, 0.0, 1.0)
        check_number("Affine scale", self.scale, 0.0, 1.0)
        if self.scale >= 1:
            raise ValueError(f"Affine scale must be below 1 (a zoom of 1 - scale must stay positive), got "
                             f"{self.scale!r}")
        check_bool("Affine flip", self.flip)
        check_sample_shape("Affine sample_shape", self.sample_shape)

    def augment(self, x: torch.Tensor, sample_shape: Sequence[int], generator: torch.Generator | None,
                ) -> torch.Tensor:
        """``x`` (flat rows of C x H x W images of ``sample_shape``) with each image moved by its own map."""
        return random_affine(x, sample_shape, self, generator)


def random_affine_matrices(n: int, augmentation: Affine, generator: torch.Generator | None,
                           device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``n`` random 2 x 3 affine matrices in ``affine_grid``'s convention (output to input coordinates, both
    in [-1, 1]), one uniform draw per range of ``augmentation`` for each."""
    draws = torch.rand(n, 4, generator=generator, device=device, dtype=dtype) * 2 - 1
    angle = draws[:, 0] * (float(augmentation.rotation) * math.pi / 180)
    zoom = 1 + draws[:, 1] * float(augmentation.scale)
    # [-1, 1] spans the image, so a shift of s image widths is 2 s there
    shift_x, shift_y = draws[:, 2] * (2 * float(augmentation.shift)), draws[:, 3] * (2 * float(augmentation.shift))
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    mirror = torch.ones_like(cos)
    if bool(augmentation.flip):
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


def random_affine(x: torch.Tensor, sample_shape: Sequence[int], augmentation: Affine,
                  generator: torch.Generator | None) -> torch.Tensor:
    """``x`` (flat rows of C x H x W images) with each image moved by its own random affine map.

    Examples
    --------
    >>> x = torch.rand(4, 28 * 28)
    >>> still = Affine(rotation=0, shift=0, scale=0)
    >>> random_affine(x, (1, 28, 28), still, torch.Generator().manual_seed(0)).allclose(x, atol=1e-5)
    True
    """
    theta = random_affine_matrices(len(x), augmentation, generator, x.device, x.dtype)
    return affine_transform(x, sample_shape, theta)


#: The augmentations the command line names (``--augment``), as parts (None: no augmentation).
AUGMENT_CHOICES: dict[str, Affine | None] = {
    "none": None,
    "affine": Affine(),
    "affine-flip": Affine(flip=True),
    #: Half the moves of affine: what the neighbour-graph code (umap-ae) generalises best with (docs/umap-ae.md).
    "affine-small": Affine(rotation=5.0, shift=0.05, scale=0.05),
}


def augmentation(name: str, sample_shape: Sequence[int] | None = None) -> Affine | None:
    """A fresh part of the named augmentation (None for ``"none"``), e.g. ``augmentation("affine-flip")``."""
    if name not in AUGMENT_CHOICES:
        raise ValueError(f"unknown augmentation {name!r}; choose one of {', '.join(AUGMENT_CHOICES)}")
    part = AUGMENT_CHOICES[name]
    if part is None:
        return None
    part = clone(part)
    if sample_shape is not None:
        part.set_params(sample_shape=tuple(int(d) for d in sample_shape))
    return part


def image_augmentation(dataset, name: str) -> Affine | None:
    """The part that augments ``dataset`` (an aelab.data.Dataset) by ``name``, with the shape of its images;
    a ValueError when the data are not images."""
    part = augmentation(name)
    if part is not None:
        if not dataset.is_image or len(dataset.sample_shape) not in (2, 3):
            raise ValueError(f"--augment {name} moves images, but {dataset.name} holds samples of shape "
                             f"{tuple(dataset.sample_shape)}; leave out --augment for data that are not images")
        part.set_params(sample_shape=tuple(int(d) for d in dataset.sample_shape))
    return part


def describe_augmentation(name: str) -> str:
    """One phrase on what the named augmentation does, for notes and reports."""
    part = augmentation(name)
    if part is None:
        return "none"
    text = (f"each training image moved by a random rotation of up to {part.rotation:g} degrees, shift of up to "
            f"{100 * part.shift:g}% and zoom of up to {100 * part.scale:g}%, drawn anew at every step")
    return text + (", and half of them mirrored" if part.flip else "")
