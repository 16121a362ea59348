"""Plain metric functions on arrays: reconstruction error, clustering accuracy, embedding quality."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

#: One line on what each metric of metrics.json measures, keyed by its name there; the reports show them beside
#: the values, in this order.
METRIC_DEFINITIONS: dict[str, str] = {
    "reconstruction_mse": "mean squared error of the reconstruction of the test data scaled to [0, 1]; lower is better",
    "reconstruction_bce": "binary cross-entropy of the reconstruction, the test values (clipped to [0, 1]) read as "
                          "probabilities; lower is better",
    "psnr": "peak signal-to-noise ratio of the reconstruction, 10 log10(1 / MSE) in dB; higher is better",
    "kmeans_accuracy": "accuracy of k-means clusters of the code (one per class) after matching each cluster to a "
                       "label (Hungarian); higher is better",
    "kmeans_nmi": "normalized mutual information between the k-means clusters and the labels; 1 is a perfect match",
    "kmeans_ari": "adjusted Rand index of the k-means clusters against the labels; 1 is a perfect match, 0 chance",
    "gmm_accuracy": "accuracy of Gaussian-mixture clusters of the code (full covariances, one per class) after "
                    "Hungarian matching to the labels; higher is better",
    "gmm_nmi": "normalized mutual information between the Gaussian-mixture clusters and the labels",
    "gmm_ari": "adjusted Rand index of the Gaussian-mixture clusters against the labels; 0 is chance",
    "silhouette": "silhouette of the code with the true labels as clusters, from -1 to 1; higher keeps classes apart",
    "trustworthiness": "how far the 5 nearest neighbours in the code are near in the data too (on at most 2,000 "
                       "points); 1 is best",
    "knn_accuracy": "5-fold cross-validated accuracy of a 5-nearest-neighbour classifier on the code",
    "elbo": "mean evidence lower bound of the test data (variational kinds); higher is better",
    "max_epochs": "the most epochs the fit could run: --epochs, or the default step budget's (about 3,000 steps)",
    "epochs_run": "epochs trained",
    "best_epoch": "the epoch whose weights were kept: the lowest validation loss (training loss without one)",
    "still_improving": "true when the best epoch was the last: the loss was still falling, so train longer",
    "final_train_loss": "training loss of the last epoch",
    "best_validation_loss": "the lowest validation loss over the epochs",
    "fit_seconds": "seconds to fit on the training split",
    "transform_seconds": "seconds to embed the test split",
    "test_values_clipped_to_training_range": "test values outside the training range after scaling, clipped to "
                                             "[0, 1] for BCE and the ELBO",
}


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
    counts, _, _ = _contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(y_true))


def _contingency(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How many samples of each class (columns) each cluster (rows) holds, the clusters and the classes."""
    classes, true_index = np.unique(y_true, return_inverse=True)
    clusters, pred_index = np.unique(y_pred, return_inverse=True)
    counts = np.zeros((len(clusters), len(classes)), dtype=np.int64)
    np.add.at(counts, (pred_index, true_index), 1)
    return counts, clusters, classes


def matched_labels(y_true, y_pred) -> dict:
    """The label each cluster is matched to by the one-to-one matching of ``clustering_accuracy`` (Hungarian);
    clusters left without a label (more clusters than classes) are not in the result.

    Examples
    --------
    >>> matched_labels([0, 0, 1, 1, 2], [5, 5, 3, 3, 3])
    {3: 1, 5: 0}
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(f"y_true and y_pred must be 1-D of one non-zero length, got {y_true.shape} and "
                         f"{y_pred.shape}")
    counts, clusters, classes = _contingency(y_true, y_pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {clusters[r].item(): classes[c].item() for r, c in sorted(zip(rows, cols, strict=True))}


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


def _matching_shapes(X, X_reconstructed) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    X_reconstructed = np.asarray(X_reconstructed, dtype=np.float64)
    if X.shape != X_reconstructed.shape:
        raise ValueError(f"shapes differ: data {X.shape}, reconstruction {X_reconstructed.shape}")
    return X.reshape(len(X), -1), X_reconstructed.reshape(len(X), -1)


def reconstruction_bce(X: np.ndarray, X_reconstructed: np.ndarray, per_sample: bool = False, eps: float = 1e-7):
    """Binary cross-entropy of a reconstruction: per sample (mean over features) or overall.

    ``X`` must lie in [0, 1] (pixel intensities read as probabilities); the reconstruction is clipped to
    ``[eps, 1 - eps]`` so that a linear decoder (PCA) that overshoots [0, 1] still gets a finite value.

    Examples
    --------
    >>> round(reconstruction_bce([[1.0, 0.0]], [[0.5, 0.5]]), 4)  # -log(0.5)
    0.6931
    """
    X, X_reconstructed = _matching_shapes(X, X_reconstructed)
    if X.size and (X.min() < 0.0 or X.max() > 1.0):
        raise ValueError(f"binary cross-entropy needs data in [0, 1], got values in [{X.min():.4g}, {X.max():.4g}];"
                         " scale the data to [0, 1] first")
    p = np.clip(X_reconstructed, eps, 1.0 - eps)
    per = -(X * np.log(p) + (1.0 - X) * np.log1p(-p)).mean(axis=1)
    return per if per_sample else float(per.mean())


def psnr(clean: np.ndarray, estimate: np.ndarray, data_range: float = 1.0, per_sample: bool = False):
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range**2 / MSE)``.

    Overall (``per_sample=False``) it is computed from the MSE over all samples; per sample from each sample's
    own MSE. A perfect reconstruction gives ``inf``.

    Examples
    --------
    >>> psnr([[0.0, 1.0]], [[0.1, 0.9]])  # MSE 0.01 -> 20 dB
    20.0
    """
    if data_range <= 0:
        raise ValueError(f"data_range must be positive (the span of the data's values), got {data_range}")
    clean, estimate = _matching_shapes(clean, estimate)
    mse = ((clean - estimate) ** 2).mean(axis=1)
    with np.errstate(divide="ignore"):
        if per_sample:
            return 10.0 * np.log10(data_range**2 / mse)
        return float(10.0 * np.log10(data_range**2 / mse.mean()))


def gmm_labels(Z: np.ndarray, n_components: int, random_state: int = 0) -> np.ndarray:
    """Labels of the rows of ``Z`` under a Gaussian mixture with full covariances (3 restarts)."""
    from sklearn.mixture import GaussianMixture

    Z = np.asarray(Z, dtype=np.float64)
    mixture = GaussianMixture(n_components=n_components, covariance_type="full", n_init=3, reg_covar=1e-5,
                              random_state=random_state)
    return mixture.fit(Z).predict(Z)


def nmi(y_true, y_pred) -> float:
    """Normalized mutual information of two labelings (arithmetic mean normalization, scikit-learn's)."""
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(y_true, y_pred))


def ari(y_true, y_pred) -> float:
    """Adjusted Rand index of two labelings (scikit-learn's): 1 for identical partitions, ~0 for chance."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(y_true, y_pred))


def trustworthiness(X: np.ndarray, Z: np.ndarray, n_neighbors: int = 5, max_samples: int = 2000,
                    random_state: int = 0) -> float:
    """scikit-learn's trustworthiness of the embedding ``Z`` of ``X``: how far the code keeps neighbours near.

    It costs O(n^2) memory and time, so beyond ``max_samples`` rows it is computed on a fixed random subset.
    """
    from sklearn.manifold import trustworthiness as sklearn_trustworthiness

    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    Z = np.asarray(Z, dtype=np.float64)
    if len(X) != len(Z):
        raise ValueError(f"X has {len(X)} rows but the code Z has {len(Z)}; pass the code of X")
    if not 0 < n_neighbors < len(X) / 2:
        raise ValueError(f"n_neighbors must be between 1 and n_samples / 2 = {len(X) / 2:g}, got {n_neighbors}")
    if len(X) > max_samples:
        keep = np.sort(np.random.default_rng(random_state).choice(len(X), max_samples, replace=False))
        X, Z = X[keep], Z[keep]
    return float(sklearn_trustworthiness(X, Z, n_neighbors=n_neighbors))


def knn_accuracy(Z: np.ndarray, y, n_neighbors: int = 5, cv: int = 5, random_state: int = 0) -> float:
    """Cross-validated accuracy of a k-nearest-neighbour classifier on the code (stratified, shuffled folds)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    Z = np.asarray(Z, dtype=np.float64)
    y = np.asarray(y)
    if len(Z) != len(y):
        raise ValueError(f"the code has {len(Z)} rows but there are {len(y)} labels; they must match one to one")
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    scores = cross_val_score(KNeighborsClassifier(n_neighbors=n_neighbors), Z, y, cv=folds)
    return float(scores.mean())


def score_reconstruction(X: np.ndarray, X_reconstructed: np.ndarray) -> dict[str, float | None]:
    """Mean MSE, mean BCE (None unless ``X`` lies in [0, 1]) and PSNR (data range 1) of a reconstruction."""
    X, X_reconstructed = _matching_shapes(X, X_reconstructed)
    in_unit_range = X.min() >= 0.0 and X.max() <= 1.0
    return {"reconstruction_mse": reconstruction_mse(X, X_reconstructed),
            "reconstruction_bce": reconstruction_bce(X, X_reconstructed) if in_unit_range else None,
            "psnr": psnr(X, X_reconstructed, data_range=1.0)}


def score_code(X: np.ndarray, Z: np.ndarray, labels, random_state: int = 0) -> dict[str, float]:
    """Every code metric: k-means and Gaussian-mixture ACC/NMI/ARI (one cluster per class), silhouette with
    the true labels, trustworthiness (5 neighbours) and cross-validated 5-NN accuracy.

    Without labels (or with one class) only trustworthiness is returned.
    """
    Z = np.asarray(Z, dtype=np.float64)
    scores: dict[str, float] = {}
    if labels is not None and len(np.unique(labels)) >= 2:
        labels = np.asarray(labels)
        n_classes = len(np.unique(labels))
        for name, clusters in (("kmeans", kmeans_labels(Z, n_classes, random_state=random_state)),
                               ("gmm", gmm_labels(Z, n_classes, random_state=random_state))):
            scores[f"{name}_accuracy"] = clustering_accuracy(labels, clusters)
            scores[f"{name}_nmi"] = nmi(labels, clusters)
            scores[f"{name}_ari"] = ari(labels, clusters)
        scores["silhouette"] = silhouette(Z, labels, random_state=random_state)
    if len(X) >= 12:
        scores["trustworthiness"] = trustworthiness(X, Z, n_neighbors=5, random_state=random_state)
    if labels is not None and len(np.unique(labels)) >= 2:
        smallest_class = int(np.bincount(np.unique(labels, return_inverse=True)[1]).min())
        if smallest_class >= 2:
            scores["knn_accuracy"] = knn_accuracy(Z, labels, n_neighbors=5, cv=min(5, smallest_class),
                                                  random_state=random_state)
    return scores
