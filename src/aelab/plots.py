"""One function per figure. Each returns a matplotlib Figure; saving it is the caller's choice."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure


def _to_2d(Z: np.ndarray) -> tuple[np.ndarray, tuple[str, str]]:
    Z = np.asarray(Z, dtype=np.float64)
    if Z.shape[1] == 1:
        return np.column_stack([Z[:, 0], np.zeros(len(Z))]), ("code", "")
    if Z.shape[1] == 2:
        return Z, ("code 1", "code 2")
    from sklearn.decomposition import PCA

    return PCA(n_components=2).fit_transform(Z), ("PC 1 of the code", "PC 2 of the code")


def latent_scatter(
    Z: np.ndarray,
    labels: np.ndarray | None = None,
    title: str = "latent code",
    label_names: Sequence[str] | None = None,
    ax=None,
) -> Figure:
    """Scatter of the code coloured by label; codes wider than 2 are shown by their first two PCs."""
    points, (xlabel, ylabel) = _to_2d(Z)
    fig = ax.figure if ax is not None else Figure(figsize=(6.4, 5.6), layout="constrained")
    ax = ax if ax is not None else fig.add_subplot()
    size = 4 if len(points) > 5000 else 8
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=size, alpha=0.6, linewidths=0)
    else:
        labels = np.asarray(labels)
        classes = np.unique(labels)
        cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
        for i, c in enumerate(classes):
            mask = labels == c
            name = label_names[int(c)] if label_names is not None and 0 <= int(c) < len(label_names) else str(c)
            ax.scatter(points[mask, 0], points[mask, 1], s=size, alpha=0.7, linewidths=0,
                       color=cmap(i % cmap.N), label=name)
        legend = ax.legend(markerscale=3 if size < 8 else 2, fontsize="small", loc="best", framealpha=0.8,
                           ncols=1 if len(classes) <= 10 else 2)
        legend.set_title("label", prop={"size": "small"})
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def _as_image(row: np.ndarray, sample_shape: Sequence[int]) -> np.ndarray:
    image = np.asarray(row, dtype=np.float64).reshape(sample_shape)
    if image.ndim == 3:  # (C, H, W) -> (H, W, C) for imshow
        image = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
    return np.clip(image, 0.0, 1.0)


def reconstruction_grid(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    sample_shape: Sequence[int],
    title: str = "original (top) vs reconstruction (bottom)",
) -> Figure:
    """Two rows of images in [0, 1]: the originals and their reconstructions, column by column."""
    n = len(originals)
    if n == 0 or len(reconstructions) != n:
        raise ValueError("reconstruction_grid needs the same non-zero number of originals and reconstructions")
    fig = Figure(figsize=(1.1 * n, 2.6), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for j in range(n):
        for i, rows in enumerate((originals, reconstructions)):
            image = _as_image(rows[j], sample_shape)
            axes[i, j].imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
            axes[i, j].set_axis_off()
    fig.suptitle(title, fontsize="medium")
    return fig


def loss_curves(history: dict[str, list[float]], title: str = "loss per epoch") -> Figure:
    """Training and validation loss against the epoch."""
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for name, values in history.items():
        if values:
            ax.plot(np.arange(1, len(values) + 1), values, label=name.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def image_grid(images: np.ndarray, sample_shape: Sequence[int], n_columns: int = 8, title: str = "") -> Figure:
    """Images in [0, 1] (one per row of ``images``) laid out in a grid of ``n_columns`` columns.

    Used for generated samples and for the decoder's images over a regular grid of a 2-D latent space.
    """
    n = len(images)
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    n_rows = -(-n // n_columns)
    fig = Figure(figsize=(0.9 * n_columns, 0.9 * n_rows + 0.4), layout="constrained")
    axes = fig.subplots(n_rows, n_columns, squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < n:
            image = _as_image(images[k], sample_shape)
            ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig
