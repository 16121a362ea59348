"""The in-memory record every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """Samples as rows, their labels when known, and the shape of one sample.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        One flattened sample per row. May be a read-only memory map for large ``.npy`` files.
    y : ndarray of shape (n_samples,) or None
        Integer class labels, or None when the data has none.
    sample_shape : tuple of int
        Shape of one sample before flattening: ``(28, 28)`` for grayscale images, ``(C, H, W)`` for colour
        images, ``(n_features,)`` for tabular data.
    name : str
        The built-in name or the path the data was read from.
    source : str
        Where the data was read from, for the record.
    n_train : int or None
        When the data comes with an official train/test split, the number of leading rows that form the
        training part; None otherwise.
    label_names : list of str or None
        Human-readable names for the label values 0..k-1, when known.
    """

    X: np.ndarray
    y: np.ndarray | None
    sample_shape: tuple[int, ...]
    name: str
    source: str
    n_train: int | None = None
    label_names: list[str] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.X.ndim != 2:
            raise ValueError(f"Dataset X must be 2-D (n_samples, n_features), got shape {self.X.shape}")
        if int(np.prod(self.sample_shape)) != self.X.shape[1]:
            raise ValueError(
                f"sample_shape {self.sample_shape} holds {int(np.prod(self.sample_shape))} values but X has "
                f"{self.X.shape[1]} features per row"
            )
        if self.y is not None and len(self.y) != len(self.X):
            raise ValueError(f"{len(self.y)} labels for {len(self.X)} samples; they must match one to one")

    def check_finite(self) -> None:
        """Raise ValueError naming the first rows (1-based, as in the file) that hold NaN or infinity."""
        bad = []
        for start in range(0, self.n_samples, 65536):  # in blocks, so memory maps are never loaded whole
            block = np.asarray(self.X[start:start + 65536])
            if block.dtype.kind == "f":
                bad.extend((np.flatnonzero(~np.isfinite(block).all(axis=1)) + start + 1).tolist())
        if bad:
            shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
            raise ValueError(
                f"{self.name}: {len(bad)} row(s) hold NaN or infinite values (rows {shown}); "
                "remove or impute them first"
            )

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def is_image(self) -> bool:
        """True when one sample is a 2-D (H, W) or 3-D (C, H, W) image."""
        return len(self.sample_shape) >= 2
