"""Plain metric functions on arrays: reconstruction error, clustering accuracy, embedding quality."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def reconstruction_mse(X: np.ndarray, X_reconstructed: np.ndarray, per_sample: bool = False):
    """Mean squared error between data and reconstruction: per sample (mean over features) or overall."""
    X = np.asarray(X, dtype=np.float64)
    X_reconstructed = np.asarray(X_reconstructed, dtype=np.float64)
    if X.shape != X_reconstructed.shape:
        raise ValueError(f"shapes differ: data {X.shape}, reconstruction {X_reconstructed.shape}")
    per = ((X - X_reconstructed) ** 2).reshape(len(X), -1).mean(axis=1)
    return per if per_sample else float(per.mean())


def clustering_accuracy(y_true, y_pred) -> float:
    """Accuracy of cluster labels after the best one-to-one matching of clusters to classes (Hungarian).

    Clusters left without a class (more clusters than classes) count as wrong.

    Examples
    --------
    >>> clustering_accuracy([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of one length, got {y_true.shape} and {y_pred.shape}")
    if len(y_true) == 0:
        raise ValueError("clustering_accuracy needs at least one sample")
    classes, true_index = np.unique(y_true, return_inverse=True)
    clusters, pred_index = np.unique(y_pred, return_inverse=True)
    counts = np.zeros((len(clusters), len(classes)), dtype=np.int64)
    np.add.at(counts, (pred_index, true_index), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(y_true))


def kmeans_labels(Z: np.ndarray, n_clusters: int, random_state: int = 0) -> np.ndarray:
    """k-means cluster labels of the rows of ``Z`` (10 restarts)."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=n_clusters, n_init=10, random_state=random_state).fit_predict(np.asarray(Z))


def silhouette(Z: np.ndarray, labels: np.ndarray, max_samples: int = 10000, random_state: int = 0) -> float:
    """Silhouette score of ``Z`` with the given labels (on a fixed random subset beyond ``max_samples``)."""
    from sklearn.metrics import silhouette_score

    Z = np.asarray(Z)
    sample_size = max_samples if len(Z) > max_samples else None
    return float(silhouette_score(Z, labels, sample_size=sample_size, random_state=random_state))


def psnr(clean: np.ndarray, estimate: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``, over all values.

    Examples
    --------
    >>> psnr(np.zeros(4), np.full(4, 0.1))
    20.0
    """
    mse = reconstruction_mse(np.asarray(clean).reshape(len(clean), -1), np.asarray(estimate).reshape(len(clean), -1))
    return float(10 * np.log10(data_range**2 / mse)) if mse > 0 else float("inf")
