"""One function per figure. Each returns a matplotlib Figure; saving it is the caller's choice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator


def _to_2d(Z: np.ndarray) -> tuple[np.ndarray, tuple[str, str]]:
    Z = np.asarray(Z, dtype=np.float64)
    if Z.shape[1] == 1:
        return np.column_stack([Z[:, 0], np.zeros(len(Z))]), ("code", "")
    if Z.shape[1] == 2:
        return Z, ("code 1", "code 2")
    from sklearn.decomposition import PCA

    return PCA(n_components=2).fit_transform(Z), ("PC 1 of the code", "PC 2 of the code")


def _colour_map(n_colours: int):
    return matplotlib.colormaps["tab10" if n_colours <= 10 else "tab20"]


def latent_scatter(
    Z: np.ndarray,
    labels: np.ndarray | None = None,
    title: str = "latent code",
    label_names: Sequence[str] | None = None,
    ax=None,
    colours: Mapping[Any, Any] | None = None,
) -> Figure:
    """Scatter of the code coloured by label; codes wider than 2 are shown by their first two PCs.

    ``colours`` maps each label value to its matplotlib colour (default: tab10, or tab20 beyond 10 labels, in
    the labels' sorted order).
    """
    points, (xlabel, ylabel) = _to_2d(Z)
    fig = ax.figure if ax is not None else Figure(figsize=(6.4, 5.6), layout="constrained")
    ax = ax if ax is not None else fig.add_subplot()
    size = 4 if len(points) > 5000 else 8
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=size, alpha=0.6, linewidths=0)
    else:
        labels = np.asarray(labels)
        classes = np.unique(labels)
        if colours is None:
            cmap = _colour_map(len(classes))
            colours = {c.item(): cmap(i % cmap.N) for i, c in enumerate(classes)}
        for c in classes:
            mask = labels == c
            name = label_names[int(c)] if label_names is not None and 0 <= int(c) < len(label_names) else str(c)
            ax.scatter(points[mask, 0], points[mask, 1], s=size, alpha=0.7, linewidths=0,
                       color=colours[c.item()], label=name)
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
    # small enough to be shown beside another method's at about its size, the title still legible
    fig = Figure(figsize=(max(0.64 * n, 4.0), 0.64 * 2 + 0.2 + 0.2 * (title.count("\n") + 1)),
                 layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for j in range(n):
        for i, rows in enumerate((originals, reconstructions)):
            image = _as_image(rows[j], sample_shape)
            axes[i, j].imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
            axes[i, j].set_axis_off()
    fig.suptitle(title, fontsize="medium")
    return fig


def reconstruction_strips(
    originals: np.ndarray,
    reconstructions: dict[str, np.ndarray],
    sample_shape: Sequence[int],
    title: str = "the same test images reconstructed by each method",
) -> Figure:
    """One row of originals, then one row of reconstructions per method (``reconstructions`` maps a method's
    name to its reconstructions of ``originals``), each row labelled with the method's name."""
    originals = np.asarray(originals)
    n = len(originals)
    if n == 0 or not reconstructions:
        raise ValueError("reconstruction_strips needs at least one original and one method's reconstructions")
    for name, rows in reconstructions.items():
        if len(rows) != n:
            raise ValueError(f"{name} has {len(rows)} reconstructions for {n} originals; pass one per original")
    strips = {"original": originals, **reconstructions}
    fig = Figure(figsize=(0.9 * n + 1.6, 0.95 * len(strips) + 0.5), layout="constrained")
    axes = fig.subplots(len(strips), n, squeeze=False)
    for i, (name, rows) in enumerate(strips.items()):
        for j in range(n):
            image = _as_image(rows[j], sample_shape)
            axes[i, j].imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            for spine in axes[i, j].spines.values():
                spine.set_visible(False)
        axes[i, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize="small")
    fig.suptitle(title, fontsize="medium")
    return fig


class _PlainLogFormatter(LogFormatter):
    """Labels the ticks a LogFormatter labels, as plain numbers: 0.03, not 3e-02."""

    def __call__(self, x, pos=None) -> str:
        return f"{x:.3g}" if super().__call__(x, pos) else ""


def loss_curves(history: dict[str, list[float]], best_epoch: int | None = None,
                title: str = "loss per epoch") -> Figure:
    """Training and validation loss against the epoch (whole epochs on the axis), with ``best_epoch`` (1-based,
    the epoch whose weights were kept) marked on the validation loss, or the training loss without one."""
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for name, values in history.items():
        if values:
            ax.plot(np.arange(1, len(values) + 1), values, label=name.replace("_", " "))
    monitored = history.get("validation_loss") or history.get("train_loss") or []
    if best_epoch is not None and 1 <= best_epoch <= len(monitored):
        ax.axvline(best_epoch, color="0.5", linestyle="--", linewidth=1)
        ax.plot([best_epoch], [monitored[best_epoch - 1]], marker="*", markersize=14, color="tab:red",
                linestyle="none", label=f"best epoch {best_epoch}: weights kept")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    for set_formatter in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
        set_formatter(_PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def latent_panel(
    codes: dict[str, np.ndarray],
    labels: np.ndarray | None = None,
    label_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Side-by-side latent scatters, one per method (``codes`` maps a method's name to its code)."""
    if not codes:
        raise ValueError("latent_panel needs the code of at least one method")
    n = len(codes)
    columns = min(n, 3)
    rows = -(-n // columns)
    fig = Figure(figsize=(4.6 * columns, 4.2 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, (name, code) in zip(axes.flat, codes.items(), strict=False):
        latent_scatter(code, labels, title=name, label_names=label_names, ax=ax)
        if ax is not axes.flat[0] and ax.get_legend() is not None:
            ax.get_legend().remove()  # one legend is enough: the colours are the same in every panel
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig


def worst_reconstructions(
    originals: np.ndarray,
    reconstructions: np.ndarray,
    sample_shape: Sequence[int],
    n: int = 10,
    title: str = "worst reconstructed: original (top) vs reconstruction (bottom)",
) -> Figure:
    """The ``n`` samples with the largest squared reconstruction error, worst first, as a reconstruction grid."""
    originals = np.asarray(originals)
    reconstructions = np.asarray(reconstructions)
    if originals.shape != reconstructions.shape:
        raise ValueError(f"shapes differ: originals {originals.shape}, reconstructions {reconstructions.shape}")
    errors = ((originals.astype(np.float64) - reconstructions) ** 2).reshape(len(originals), -1).mean(axis=1)
    worst = np.argsort(-errors, kind="stable")[:n]
    return reconstruction_grid(originals[worst], reconstructions[worst], sample_shape, title=title)


def _image_mosaic(images: np.ndarray, sample_shape: Sequence[int], n_rows: int, n_columns: int) -> np.ndarray:
    """The images as tiles of an ``n_rows`` x ``n_columns`` grid, each framed by a white margin (a tile's
    fourteenth, at least a pixel), so that neighbouring samples read apart and not as one texture; cells
    beyond the images stay white."""
    tiles = [_as_image(row, sample_shape) for row in images]
    height, width = tiles[0].shape[:2]
    gap = max(1, max(height, width) // 14)
    cell_height, cell_width = height + 2 * gap, width + 2 * gap
    mosaic = np.ones((n_rows * cell_height, n_columns * cell_width, *tiles[0].shape[2:]))
    for k, tile in enumerate(tiles):
        i, j = divmod(k, n_columns)
        top, left = i * cell_height + gap, j * cell_width + gap
        mosaic[top:top + height, left:left + width] = tile
    return mosaic


def latent_grid(
    decode,
    codes: np.ndarray,
    sample_shape: Sequence[int],
    n_per_side: int = 15,
    quantiles: tuple[float, float] = (0.02, 0.98),
    title: str = "decoder output over a grid of the 2-D code",
) -> Figure:
    """The decoder's output at a regular ``n_per_side`` x ``n_per_side`` grid of a 2-D latent space.

    The grid spans the given quantiles of ``codes`` (the codes of real data) on each axis; ``decode`` maps an
    array of codes of shape (m, 2) to m flattened images in [0, 1] (e.g. ``estimator.inverse_transform``).
    """
    codes = np.asarray(codes, dtype=np.float64)
    if n_per_side < 2:
        raise ValueError(f"latent_grid needs n_per_side >= 2 images a side, got {n_per_side}")
    if codes.ndim != 2 or codes.shape[1] != 2:
        raise ValueError(f"latent_grid needs a 2-D code (shape (n, 2)), got shape {codes.shape}; "
                         "train with a latent size of 2")
    low, high = np.quantile(codes, quantiles, axis=0)
    xs = np.linspace(low[0], high[0], n_per_side)
    ys = np.linspace(high[1], low[1], n_per_side)  # top row = largest code 2, as on a y axis
    grid = np.array([[x, y] for y in ys for x in xs])
    images = np.asarray(decode(grid))
    mosaic = _image_mosaic(images, sample_shape, n_per_side, n_per_side)
    fig = Figure(figsize=(6.4, 6.4), layout="constrained")
    ax = fig.add_subplot()
    # each tile's centre lies at the code it decodes
    half_x = (high[0] - low[0]) / (2 * (n_per_side - 1))
    half_y = (high[1] - low[1]) / (2 * (n_per_side - 1))
    ax.imshow(mosaic, cmap="gray" if mosaic.ndim == 2 else None, vmin=0, vmax=1,
              extent=(low[0] - half_x, high[0] + half_x, low[1] - half_y, high[1] + half_y), aspect="auto")
    ax.set_xlabel("code 1")
    ax.set_ylabel("code 2")
    ax.set_title(title)
    return fig


def generated_samples(
    samples: np.ndarray,
    sample_shape: Sequence[int],
    n_columns: int = 10,
    title: str = "generated samples",
) -> Figure:
    """A mosaic of samples drawn from a generative model, given as flattened images in [0, 1]."""
    samples = np.asarray(samples)
    if samples.ndim != 2 or len(samples) == 0:
        raise ValueError(f"generated_samples needs a non-empty 2-D array of flattened samples, got shape "
                         f"{samples.shape}")
    n_columns = min(n_columns, len(samples))
    n_rows = -(-len(samples) // n_columns)
    mosaic = _image_mosaic(samples, sample_shape, n_rows, n_columns)
    fig = Figure(figsize=(0.8 * n_columns + 0.4, 0.8 * n_rows + 0.6), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(mosaic, cmap="gray" if mosaic.ndim == 2 else None, vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(title)
    return fig


def top_anomalies(
    samples: np.ndarray,
    scores: np.ndarray,
    sample_shape: Sequence[int],
    indices: Sequence[int] | None = None,
    n: int = 20,
    n_columns: int = 10,
    title: str = "the most anomalous samples (lowest score first)",
) -> Figure:
    """The ``n`` samples of lowest score as images, most anomalous first, each captioned with its row index.

    ``samples`` are flattened images in [0, 1]; ``indices`` the row numbers shown (default 0..n-1).
    """
    samples = np.asarray(samples)
    scores = np.asarray(scores, dtype=np.float64)
    if samples.ndim != 2 or len(samples) != len(scores) or len(samples) == 0:
        raise ValueError(f"top_anomalies needs one score per flattened sample, got samples of shape "
                         f"{samples.shape} and {scores.shape} scores")
    order = np.argsort(scores, kind="stable")[:n]
    indices = np.arange(len(samples)) if indices is None else np.asarray(indices)
    n_columns = min(n_columns, len(order))
    n_rows = -(-len(order) // n_columns)
    fig = Figure(figsize=(1.1 * n_columns + 0.4, 1.3 * n_rows + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, n_columns, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, k in zip(axes.flat, order, strict=False):
        image = _as_image(samples[k], sample_shape)
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(f"row {indices[k]}\n{scores[k]:.3g}", fontsize=7)
    fig.suptitle(title)
    return fig


def score_histogram(scores: np.ndarray, threshold: float, title: str = "anomaly scores") -> Figure:
    """Histogram of the scores (higher = more normal) with the threshold below which samples are flagged."""
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.hist(np.asarray(scores, dtype=np.float64), bins=50, color="tab:blue")
    ax.axvline(threshold, color="tab:red", label=f"threshold {threshold:.4g}")
    ax.set_xlabel("score (higher = more like the training data)")
    ax.set_ylabel("samples")
    ax.legend()
    ax.set_title(title)
    return fig


def _matched_colours(clusters: np.ndarray, labels: np.ndarray) -> tuple[dict, dict]:
    """The colour of each label (in sorted order) and of each cluster: the colour of the label it is matched to
    (Hungarian, as the clustering accuracy matches them), further colours for clusters left unmatched."""
    from aelab.metrics import matched_labels

    classes = [c.item() for c in np.unique(labels)]
    matched = matched_labels(labels, clusters)
    unmatched = [c.item() for c in np.unique(clusters) if c.item() not in matched]
    cmap = _colour_map(len(classes) + len(unmatched))
    label_colours = {c: cmap(i % cmap.N) for i, c in enumerate(classes)}
    cluster_colours = {c: label_colours[label] for c, label in matched.items()}
    cluster_colours.update({c: cmap((len(classes) + j) % cmap.N) for j, c in enumerate(unmatched)})
    return label_colours, cluster_colours


def cluster_scatter(
    Z: np.ndarray,
    clusters: np.ndarray,
    labels: np.ndarray | None = None,
    label_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """A code or embedding coloured by cluster, and beside it by true label when ``labels`` is given (wider
    than 2, it is shown by its first two principal components, the same in both panels).

    With labels, each cluster has the colour of the label it is matched to (the Hungarian matching of the
    clustering accuracy) and its legend names that label, so that the two panels agree.
    """
    Z = np.asarray(Z, dtype=np.float64)
    clusters = np.asarray(clusters)
    points, _ = _to_2d(Z)
    label_colours, cluster_colours, cluster_names = None, None, None
    if labels is not None:
        labels = np.asarray(labels)
        label_colours, cluster_colours = _matched_colours(clusters, labels)
        matched = _matched_names(clusters, labels, label_names)
        cluster_names = [matched.get(c, f"{c}: unmatched") for c in range(int(clusters.max()) + 1)]
    panels = [("by cluster", clusters, cluster_names, cluster_colours)]
    if labels is not None:
        panels.append(("by label", labels, label_names, label_colours))
    fig = Figure(figsize=(5.4 * len(panels), 4.8), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (name, values, names, colours) in zip(axes, panels, strict=True):
        latent_scatter(points, values, title=name, label_names=names, ax=ax, colours=colours)
        if Z.shape[1] > 2:
            ax.set_xlabel("PC 1")
            ax.set_ylabel("PC 2")
        if ax.get_legend() is not None and name == "by cluster":
            ax.get_legend().set_title("cluster" + (": matched label" if labels is not None else ""),
                                      prop={"size": "small"})
    if title:
        fig.suptitle(title)
    return fig


def _matched_names(clusters: np.ndarray, labels: np.ndarray,
                   label_names: Sequence[str] | None = None) -> dict[int, str]:
    """``"cluster: label"`` for each cluster matched to a label (``aelab.metrics.matched_labels``), the label
    by its name where ``label_names`` has one."""
    from aelab.metrics import matched_labels

    def name(label) -> str:
        if label_names is not None and 0 <= int(label) < len(label_names):
            return str(label_names[int(label)])
        return str(label)

    return {int(c): f"{c}: {name(label)}" for c, label in matched_labels(labels, clusters).items()}


def cluster_samples(
    X: np.ndarray,
    clusters: np.ndarray,
    sample_shape: Sequence[int],
    n_per_cluster: int = 10,
    random_state: int = 0,
    title: str = "random samples of each cluster (one row per cluster)",
) -> Figure:
    """A grid of images: one row per cluster (largest cluster first), ``n_per_cluster`` random members each;
    empty cells where a cluster has fewer members."""
    X = np.asarray(X)
    clusters = np.asarray(clusters)
    if len(X) != len(clusters):
        raise ValueError(f"X has {len(X)} rows but there are {len(clusters)} cluster labels; pass one per row")
    names, counts = np.unique(clusters, return_counts=True)
    names = names[np.argsort(-counts, kind="stable")]
    rng = np.random.default_rng(random_state)
    blank = np.ones(int(np.prod(sample_shape)))
    rows = []
    for name in names:
        members = np.flatnonzero(clusters == name)
        chosen = rng.choice(members, min(n_per_cluster, len(members)), replace=False)
        rows += [X[i].reshape(-1) for i in chosen] + [blank] * (n_per_cluster - len(chosen))
    mosaic = _image_mosaic(np.asarray(rows), sample_shape, len(names), n_per_cluster)
    fig = Figure(figsize=(0.7 * n_per_cluster + 1.2, 0.7 * len(names) + 0.8), layout="constrained")
    ax = fig.add_subplot()
    height = mosaic.shape[0] / len(names)
    ax.imshow(mosaic, cmap="gray" if mosaic.ndim == 2 else None, vmin=0, vmax=1)
    ax.set_yticks([(i + 0.5) * height for i in range(len(names))],
                  [f"{name} ({np.sum(clusters == name)})" for name in names], fontsize="small")
    ax.set_xticks([])
    ax.set_ylabel("cluster (size)")
    ax.set_title(title)
    return fig


def k_sweep(ks: Sequence[int], silhouette: Sequence[float], bic: Sequence[float],
            title: str = "choosing the number of clusters") -> Figure:
    """Silhouette (higher is better) and BIC (lower is better) against the number of clusters k."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    for ax, values, name, best in ((left, silhouette, "silhouette", np.argmax), (right, bic, "BIC", np.argmin)):
        ax.plot(ks, values, marker="o")
        chosen = int(best(values))
        ax.plot([ks[chosen]], [values[chosen]], marker="*", markersize=16, color="tab:red",
                label=f"best k = {ks[chosen]}")
        ax.set_xlabel("number of clusters k")
        ax.set_ylabel(name)
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    return fig
