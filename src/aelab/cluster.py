"""Clustering on the code of an autoencoder, with the scikit-learn clusterer interface.

Every estimator takes an ``Autoencoder``: unfitted, it is fitted on the data first; already fitted, it is
used as it is, so that one pretraining can serve several clusterers. ``autoencoder=None`` pretrains the
network of the deep clustering literature (``clustering_autoencoder``). ``sklearn.base.clone`` (and so
GridSearchCV) gives an unfitted copy of the autoencoder too, which is then pretrained again. An autoencoder
pretrained by the clusterer without a ``random_state`` of its own gets the clusterer's, so that one
``random_state`` makes the whole fit reproducible.

- ``AutoencoderKMeans``, ``AutoencoderGaussianMixture``: k-means or a Gaussian mixture of the code.
- ``N2D``: UMAP of the code to a few dimensions, then a Gaussian mixture (McConville et al., 2020).
- ``DEC``: the encoder fine-tuned with a Student-t soft assignment towards a sharpened target
  (Xie et al., 2016); ``IDEC`` also keeps the reconstruction loss (Guo et al., 2017).
- ``sweep_k``: silhouette and BIC of Gaussian mixtures over a range of cluster counts, to choose k.
"""

from __future__ import annotations

import copy
import logging
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from aelab.baselines import check_n_neighbors, umap_transform
from aelab.estimators import Autoencoder
from aelab.extras import import_optional
from aelab.logs import plural, stage
from aelab.nn.clustering import ClusteringLayer, target_distribution
from aelab.objectives import clustering_kl, reconstruction_loss
from aelab.parts.encoders import Dense

#: The layer widths of the deep clustering literature's encoder (DEC, IDEC, N2D): d-500-500-2000-code.
CLUSTERING_HIDDEN = (500, 500, 2000)

logger = logging.getLogger(__name__)


def clustering_autoencoder(n_components: int = 10, epochs: int = 200, random_state=None, hidden=CLUSTERING_HIDDEN,
                           **params) -> Autoencoder:
    """The dense autoencoder DEC, IDEC and N2D pretrain: d-500-500-2000-``n_components``, ReLU, linear code,
    MSE, batch 256, Adam, trained on all the data (no validation split, no early stopping).

    ``hidden`` replaces the encoder's widths; other ``Autoencoder`` parameters (``corruption``,
    ``augmentation``, ``device``...) can be given as keywords.

    Examples
    --------
    >>> clustering_autoencoder(epochs=5).encoder.hidden
    (500, 500, 2000)
    """
    settings = dict(encoder=Dense(hidden=tuple(hidden), activation="relu"), n_components=n_components, loss="mse",
                    epochs=epochs,
                    batch_size=256, learning_rate=1e-3, validation_fraction=0.0, patience=None,
                    random_state=random_state)
    settings.update(params)
    return Autoencoder(**settings)


def _check_n_clusters(n_clusters, n_samples: int) -> int:
    if not isinstance(n_clusters, numbers.Integral) or isinstance(n_clusters, bool) or n_clusters < 1:
        raise ValueError(f"n_clusters must be a positive integer, got {n_clusters!r}")
    if n_clusters > n_samples:
        raise ValueError(f"n_clusters={n_clusters} is more than the {n_samples} samples; pass fewer clusters "
                         "or more data")
    return int(n_clusters)


def _is_fitted(autoencoder: Autoencoder) -> bool:
    return hasattr(autoencoder, "network_")


class _CodeClustering(ClusterMixin, BaseEstimator):
    """What every clusterer of the code shares: getting a fitted autoencoder and the code of X."""

    def _fit_code(self, X) -> np.ndarray:
        """Fit (or take) the autoencoder, store it as ``autoencoder_`` and return the code of ``X``."""
        autoencoder = self.autoencoder
        if autoencoder is None:
            autoencoder = clustering_autoencoder(random_state=self.random_state)
        if not isinstance(autoencoder, Autoencoder):
            raise TypeError(f"autoencoder must be an aelab Autoencoder (fitted or not) or None, got "
                            f"{type(autoencoder).__name__}")
        if _is_fitted(autoencoder):
            self.autoencoder_ = autoencoder
        else:
            autoencoder = clone(autoencoder)
            if autoencoder.random_state is None:  # the clusterer's random_state seeds all of its fit
                autoencoder.set_params(random_state=self.random_state)
            self.autoencoder_ = autoencoder.fit(X)
        code = self.autoencoder_.transform(X)
        self.n_clusters_ = _check_n_clusters(self.n_clusters, len(code))
        self.n_features_in_ = self.autoencoder_.n_features_in_
        names = getattr(self.autoencoder_, "feature_names_in_", None)  # its transform checks them in predict
        if names is None:
            self.__dict__.pop("feature_names_in_", None)
        else:
            self.feature_names_in_ = names
        return code

    def fit_predict(self, X, y=None):
        """Fit on ``X`` and return its cluster labels (``labels_``)."""
        return self.fit(X).labels_

    def predict(self, X):
        """The cluster of each sample of ``X``: array of shape (n_samples,)."""
        check_is_fitted(self, "labels_")
        return self._predict_code(self.autoencoder_.transform(X))


class AutoencoderKMeans(_CodeClustering):
    """k-means of the autoencoder's code.

    Parameters
    ----------
    autoencoder : Autoencoder or None, default=None
        Fitted: used as it is. Unfitted: a clone is fitted on the data. None: ``clustering_autoencoder()``.
    n_clusters : int, default=10
    n_init : int, default=10
        k-means restarts; the one of least inertia is kept.
    random_state : int or None, default=None

    Attributes
    ----------
    autoencoder_ : Autoencoder
    kmeans_ : sklearn.cluster.KMeans
    labels_ : ndarray of shape (n_samples,)
    """

    def __init__(self, autoencoder=None, n_clusters=10, n_init=10, random_state=None):
        self.autoencoder = autoencoder
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.cluster import KMeans

        code = self._fit_code(X)
        self.kmeans_ = KMeans(n_clusters=self.n_clusters_, n_init=self.n_init, random_state=self.random_state)
        self.labels_ = self.kmeans_.fit_predict(code)
        return self

    def _predict_code(self, code):
        return self.kmeans_.predict(code)


def _gaussian_mixture(n_clusters: int, n_init: int, covariance_type: str, random_state):
    from sklearn.mixture import GaussianMixture

    return GaussianMixture(n_components=n_clusters, covariance_type=covariance_type, n_init=n_init,
                           reg_covar=1e-5, random_state=random_state)


class AutoencoderGaussianMixture(_CodeClustering):
    """A Gaussian mixture of the autoencoder's code.

    Parameters
    ----------
    autoencoder : Autoencoder or None, default=None
        Fitted: used as it is. Unfitted: a clone is fitted on the data. None: ``clustering_autoencoder()``.
    n_clusters : int, default=10
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
    n_init : int, default=5
        EM restarts; the one of highest likelihood is kept.
    random_state : int or None, default=None

    Attributes
    ----------
    autoencoder_ : Autoencoder
    mixture_ : sklearn.mixture.GaussianMixture
    labels_ : ndarray of shape (n_samples,)
    """

    def __init__(self, autoencoder=None, n_clusters=10, covariance_type="full", n_init=5, random_state=None):
        self.autoencoder = autoencoder
        self.n_clusters = n_clusters
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None):
        code = self._fit_code(X).astype(np.float64)
        self.mixture_ = _gaussian_mixture(self.n_clusters_, self.n_init, self.covariance_type, self.random_state)
        self.labels_ = self.mixture_.fit(code).predict(code)
        return self

    def _predict_code(self, code):
        return self.mixture_.predict(np.asarray(code, dtype=np.float64))


def umap_embedding(Z: np.ndarray, n_components: int, n_neighbors: int = 20, min_dist: float = 0.0,
                   metric: str = "euclidean", random_state=None):
    """A fitted ``umap.UMAP`` of ``Z`` and the embedding of ``Z``: N2D's manifold learning step."""
    import warnings

    umap = import_optional("umap", "N2D's UMAP")

    n_neighbors = check_n_neighbors(n_neighbors, len(Z))
    seed = None if random_state is None else int(check_random_state(random_state).randint(0, 2**31 - 1))
    with warnings.catch_warnings():  # "n_jobs overridden by setting random_state": intended, reproducible
        warnings.simplefilter("ignore", UserWarning)
        reducer = umap.UMAP(n_components=n_components, n_neighbors=n_neighbors, min_dist=min_dist, metric=metric,
                            random_state=seed)
        embedding = reducer.fit_transform(np.asarray(Z, dtype=np.float32))
    return reducer, np.asarray(embedding, dtype=np.float64)


class N2D(_CodeClustering):
    """Manifold clustering of the code (N2D): UMAP of the code, then a Gaussian mixture of the embedding.

    Parameters
    ----------
    autoencoder : Autoencoder or None, default=None
        Fitted: used as it is. Unfitted: a clone is fitted on the data. None: ``clustering_autoencoder()``.
    n_clusters : int, default=10
    n_components : int or None, default=None
        Size of the UMAP embedding; None uses ``n_clusters``, as N2D does.
    n_neighbors : int, default=20
        Shrunk to ``n_samples - 1``, with a warning, on fewer samples, as umap-learn does.
    min_dist : float, default=0.0
    metric : str, default="euclidean"
    n_init : int, default=10
        Restarts of the Gaussian mixture; the one of highest likelihood is kept.
    random_state : int or None, default=None
        Seeds UMAP (which then runs on one thread) and the mixture.

    Attributes
    ----------
    autoencoder_ : Autoencoder
    umap_ : umap.UMAP
    n_neighbors_ : int
        The number of neighbours UMAP used.
    embedding_ : ndarray of shape (n_samples, n_components)
    mixture_ : sklearn.mixture.GaussianMixture
    labels_ : ndarray of shape (n_samples,)

    Examples
    --------
    >>> from aelab.cluster import N2D, clustering_autoencoder
    >>> model = N2D(clustering_autoencoder(epochs=50, random_state=0), n_clusters=10, random_state=0)
    >>> labels = model.fit_predict(X)  # doctest: +SKIP
    """

    def __init__(self, autoencoder=None, n_clusters=10, n_components=None, n_neighbors=20, min_dist=0.0,
                 metric="euclidean", n_init=10, random_state=None):
        self.autoencoder = autoencoder
        self.n_clusters = n_clusters
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None):
        code = self._fit_code(X)
        n_components = self.n_clusters_ if self.n_components is None else self.n_components
        with stage(logger, f"UMAP of {plural(len(code), 'code')} to {n_components}-D"):
            self.umap_, self.embedding_ = umap_embedding(code, n_components, self.n_neighbors, self.min_dist,
                                                         self.metric, self.random_state)
        self.n_neighbors_ = self.umap_.n_neighbors
        self.mixture_ = _gaussian_mixture(self.n_clusters_, self.n_init, "full", self.random_state)
        with stage(logger, f"Gaussian mixture of {plural(self.n_clusters_, 'cluster')} in the UMAP embedding"):
            self.labels_ = self.mixture_.fit(self.embedding_).predict(self.embedding_)
        return self

    def _predict_code(self, code):
        embedding = umap_transform(self.umap_, code).astype(np.float64)
        return self.mixture_.predict(embedding)


def _encode_all(network, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([network.encode(X[i:i + batch_size]) for i in range(0, len(X), batch_size)])


@dataclass
class SelfTraining:
    """The settings of DEC's and IDEC's fine-tuning loop."""

    update_interval: int
    tol: float
    max_iter: int
    batch_size: int
    reconstruction_weight: float  # 0 for DEC
    clustering_weight: float
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None


def self_train(network, layer: ClusteringLayer, X: torch.Tensor, settings: SelfTraining,
               optimizer: torch.optim.Optimizer, generator: torch.Generator, loss: str = "mse"):
    """Fine-tune ``network``'s encoder and ``layer``'s centres towards DEC's target distribution.

    Every ``update_interval`` iterations the soft assignment of all of ``X`` is computed, the target ``P``
    renewed from it, and the loop stops once fewer than ``tol`` of the samples changed cluster since the
    previous update. Each iteration takes a batch of the shuffled data and steps on
    ``clustering_weight * KL(P || Q) + reconstruction_weight * reconstruction loss``; with
    ``settings.augment`` the batch is augmented first (its target ``P`` stays that of the unmoved samples).

    Returns
    -------
    labels : Tensor of shape (n_samples,), the final hard assignment
    n_iter : int, iterations run
    changed : list of float, the fraction of changed assignments at each target update
    """
    n = len(X)
    batch_size = min(settings.batch_size, n)
    previous, changed = None, []
    order, position = torch.randperm(n, generator=generator).to(X.device), 0
    iteration = 0
    while True:
        if iteration % settings.update_interval == 0:
            network.eval()
            q = layer(_encode_all(network, X)).detach()
            target = target_distribution(q)
            labels = q.argmax(dim=1)
            if previous is not None:
                changed.append(float((labels != previous).float().mean()))
                logger.info("iteration %s of at most %s: %.2f%% of the samples changed cluster", f"{iteration:,}",
                            f"{settings.max_iter:,}", 100 * changed[-1])
                if changed[-1] < settings.tol:
                    break
            previous = labels
            network.train()
        if iteration >= settings.max_iter:
            break
        if position + batch_size > n:
            order, position = torch.randperm(n, generator=generator).to(X.device), 0
        index = order[position:position + batch_size]
        position += batch_size
        x = X[index]
        if settings.augment is not None:
            x = settings.augment(x)
        z = network.encode(x)
        objective = settings.clustering_weight * clustering_kl(target[index], layer(z))
        if settings.reconstruction_weight > 0:
            objective = objective + settings.reconstruction_weight * reconstruction_loss(
                network.decode_logits(z), x, loss, network.output_activation)
        optimizer.zero_grad(set_to_none=True)
        objective.backward()
        optimizer.step()
        iteration += 1
    network.eval()
    if iteration % settings.update_interval != 0:  # stopped by max_iter between two updates
        labels = layer(_encode_all(network, X)).argmax(dim=1)
    return labels, iteration, changed


def _augmenter(autoencoder: Autoencoder, seed: int, device: torch.device):
    """The batch augmentation ``autoencoder`` was pretrained with, as a function of a batch, or None."""
    augmentation = autoencoder.augmentation
    if augmentation is None:
        return None
    generator = torch.Generator(device=device).manual_seed(seed)
    shape = autoencoder.sample_shape_
    return lambda x: augmentation.augment(x, shape, generator)


class DEC(_CodeClustering):
    """Deep embedded clustering: the encoder and the cluster centres fine-tuned together so that the
    Student-t soft assignment of the codes moves towards its own sharpened version (KL(P || Q)).

    The centres start at k-means of the pretrained code (``init="kmeans"``, as in DEC) or at the code's mean
    in each N2D cluster (``init="n2d"``). The autoencoder given is copied, never changed: the fine-tuned one
    is ``autoencoder_``. An autoencoder pretrained with image augmentation (its ``augmentation``) is
    fine-tuned on augmented batches too, as in DEC with data augmentation (Guo et al., 2018).

    Parameters
    ----------
    autoencoder : Autoencoder or None, default=None
        Fitted: copied and fine-tuned. Unfitted: a clone is pretrained first. None: ``clustering_autoencoder()``.
    n_clusters : int, default=10
    alpha : float, default=1.0
        Degrees of freedom of the Student-t kernel.
    init : {"kmeans", "n2d"} or array of shape (n_clusters, n_components), default="kmeans"
        How the centres start: k-means of the code, the mean code of each N2D cluster, or these centres.
    update_interval : int, default=140
        Iterations between updates of the target distribution.
    tol : float, default=0.001
        Stop when fewer than this fraction of assignments changed between two target updates.
    max_iter : int, default=20000
        The most iterations (batches).
    batch_size : int, default=256
    optimizer : {"sgd", "adam"}, default="sgd"
    learning_rate : float, default=0.01
    momentum : float, default=0.9
        For ``sgd`` only.
    n_init : int, default=20
        Restarts of the k-means that places the first centres.
    random_state : int or None, default=None

    Attributes
    ----------
    autoencoder_ : Autoencoder
        The fine-tuned autoencoder.
    cluster_centers_ : ndarray of shape (n_clusters, n_components)
    initial_labels_ : ndarray of shape (n_samples,)
        The assignment before fine-tuning (the k-means or N2D clusters).
    labels_ : ndarray of shape (n_samples,)
    n_iter_ : int
    changed_ : list of float
        The fraction of assignments that changed at each target update.
    """

    _reconstruction_weight = 0.0

    def __init__(self, autoencoder=None, n_clusters=10, alpha=1.0, init="kmeans", update_interval=140, tol=0.001,
                 max_iter=20000, batch_size=256, optimizer="sgd", learning_rate=0.01, momentum=0.9, n_init=20,
                 random_state=None):
        self.autoencoder = autoencoder
        self.n_clusters = n_clusters
        self.alpha = alpha
        self.init = init
        self.update_interval = update_interval
        self.tol = tol
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.n_init = n_init
        self.random_state = random_state

    def _clustering_weight(self) -> float:
        return 1.0

    def _check_params(self) -> None:
        if isinstance(self.init, str) and self.init not in ("kmeans", "n2d"):
            raise ValueError(f"init must be 'kmeans', 'n2d' or an array of centres, got {self.init!r}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        for name in ("update_interval", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.max_iter, numbers.Integral) or self.max_iter < 0:
            raise ValueError(f"max_iter must be a non-negative integer, got {self.max_iter!r}")
        if not 0.0 <= self.tol < 1.0:
            raise ValueError(f"tol is a fraction of samples, in [0, 1); got {self.tol!r}")
        if self.alpha <= 0 or self.learning_rate <= 0:
            raise ValueError(f"alpha and learning_rate must be positive, got {self.alpha!r} and "
                             f"{self.learning_rate!r}")

    def _initial_labels(self, code: np.ndarray, random_state: int) -> np.ndarray:
        if self.init == "n2d":
            return self._n2d_labels(code, random_state)
        from sklearn.cluster import KMeans

        return KMeans(n_clusters=self.n_clusters_, n_init=self.n_init, random_state=random_state).fit_predict(code)

    def _n2d_labels(self, code: np.ndarray, random_state: int) -> np.ndarray:
        _, embedding = umap_embedding(code, self.n_clusters_, random_state=random_state)
        mixture = _gaussian_mixture(self.n_clusters_, 10, "full", random_state)
        return mixture.fit(embedding).predict(embedding)

    def fit(self, X, y=None):
        self._check_params()
        code = self._fit_code(X)
        random_state = check_random_state(self.random_state)
        seed = int(random_state.randint(0, 2**31 - 1))
        if isinstance(self.init, str):
            with stage(logger, f"first centres of {plural(self.n_clusters_, 'cluster')} by {self.init}"):
                self.initial_labels_ = self._initial_labels(code, seed)
            centres = np.stack([code[self.initial_labels_ == j].mean(axis=0) if np.any(self.initial_labels_ == j)
                                else code[random_state.randint(len(code))] for j in range(self.n_clusters_)])
        else:
            centres = np.asarray(self.init, dtype=np.float64)
            if centres.shape != (self.n_clusters_, code.shape[1]):
                raise ValueError(f"init has shape {centres.shape} but the centres of {self.n_clusters_} clusters "
                                 f"in a {code.shape[1]}-D code need ({self.n_clusters_}, {code.shape[1]})")
            self.initial_labels_ = ((code[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
        # fine-tune a copy: the autoencoder passed in may be shared with other clusterers
        self.autoencoder_ = copy.deepcopy(self.autoencoder_)
        network = self.autoencoder_.network_
        device = next(network.parameters()).device
        layer = ClusteringLayer(torch.as_tensor(centres, dtype=torch.float32), alpha=self.alpha).to(device)
        parameters = list(network.encoder.parameters()) + list(layer.parameters())
        if self._reconstruction_weight > 0:
            parameters += list(network.decoder.parameters())
        if self.optimizer == "sgd":
            optimizer = torch.optim.SGD(parameters, lr=self.learning_rate, momentum=self.momentum)
        else:
            optimizer = torch.optim.Adam(parameters, lr=self.learning_rate)
        rows = self.autoencoder_._validate_X(X, reset=False)
        X_tensor = torch.as_tensor(np.ascontiguousarray(rows, dtype=np.float32)).to(device)
        settings = SelfTraining(self.update_interval, float(self.tol), int(self.max_iter), int(self.batch_size),
                                self._reconstruction_weight, self._clustering_weight(),
                                augment=_augmenter(self.autoencoder_, seed + 1, device))
        with stage(logger, f"{type(self).__name__} fine-tuning of the encoder and the centres"):
            labels, self.n_iter_, self.changed_ = self_train(network, layer, X_tensor, settings, optimizer,
                                                             torch.Generator().manual_seed(seed),
                                                             loss=self.autoencoder_.loss)
        self.clustering_layer_ = layer
        self.cluster_centers_ = layer.centres.detach().cpu().numpy()
        self.labels_ = labels.cpu().numpy()
        return self

    def soft_assignment(self, X) -> np.ndarray:
        """The Student-t soft assignment ``q`` of each sample to each cluster: shape (n_samples, n_clusters)."""
        check_is_fitted(self, "labels_")
        code = torch.as_tensor(self.autoencoder_.transform(X), dtype=torch.float32)
        with torch.no_grad():
            return self.clustering_layer_.cpu()(code).numpy()

    def _predict_code(self, code):
        with torch.no_grad():
            return self.clustering_layer_.cpu()(torch.as_tensor(code, dtype=torch.float32)).argmax(dim=1).numpy()


class IDEC(DEC):
    """Improved deep embedded clustering: DEC that keeps the reconstruction loss while fine-tuning
    (``reconstruction + gamma * KL(P || Q)``), so that the code keeps the structure of the data.

    Parameters are those of ``DEC`` with IDEC's published defaults (Adam, learning rate 0.001), and

    gamma : float, default=0.1
        Weight of the clustering loss against the reconstruction loss.
    """

    _reconstruction_weight = 1.0

    def __init__(self, autoencoder=None, n_clusters=10, gamma=0.1, alpha=1.0, init="kmeans", update_interval=140,
                 tol=0.001, max_iter=20000, batch_size=256, optimizer="adam", learning_rate=0.001, momentum=0.9,
                 n_init=20, random_state=None):
        super().__init__(autoencoder=autoencoder, n_clusters=n_clusters, alpha=alpha, init=init,
                         update_interval=update_interval, tol=tol, max_iter=max_iter, batch_size=batch_size,
                         optimizer=optimizer, learning_rate=learning_rate, momentum=momentum, n_init=n_init,
                         random_state=random_state)
        self.gamma = gamma

    def _clustering_weight(self) -> float:
        if self.gamma < 0:
            raise ValueError(f"gamma must be non-negative, got {self.gamma!r}")
        return float(self.gamma)


#: The clusterers by the names ``aelab cluster --method`` accepts.
METHODS = {"kmeans": AutoencoderKMeans, "gmm": AutoencoderGaussianMixture, "n2d": N2D, "dec": DEC, "idec": IDEC}


@dataclass
class KSweep:
    """Silhouette and BIC of Gaussian mixtures for each number of clusters tried."""

    ks: list[int]
    silhouette: list[float]
    bic: list[float]

    @property
    def best_k_silhouette(self) -> int:
        """The k of highest silhouette."""
        return self.ks[int(np.argmax(self.silhouette))]

    @property
    def best_k_bic(self) -> int:
        """The k of lowest BIC."""
        return self.ks[int(np.argmin(self.bic))]

    def rows(self) -> list[dict]:
        return [{"k": k, "silhouette": s, "bic": b} for k, s, b in zip(self.ks, self.silhouette, self.bic,
                                                                       strict=True)]


def sweep_k(Z, ks=range(2, 16), n_init: int = 3, random_state=0, max_silhouette_samples: int = 10000) -> KSweep:
    """Fit a Gaussian mixture (full covariances) of ``Z`` for each k in ``ks``; record the silhouette of its
    clusters (on a fixed random subset beyond ``max_silhouette_samples``) and its BIC.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> Z, _ = make_blobs(300, centers=4, random_state=0)
    >>> sweep_k(Z, range(2, 7)).best_k_silhouette
    4
    """
    from sklearn.metrics import silhouette_score

    Z = np.asarray(Z, dtype=np.float64)
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 2 or max(ks) >= len(Z):
        raise ValueError(f"every k of the sweep must be between 2 and n_samples - 1 = {len(Z) - 1}, got {ks}")
    silhouettes, bics = [], []
    sample_size = max_silhouette_samples if len(Z) > max_silhouette_samples else None
    for k in ks:
        mixture = _gaussian_mixture(k, n_init, "full", random_state).fit(Z)
        labels = mixture.predict(Z)
        silhouettes.append(float(silhouette_score(Z, labels, sample_size=sample_size, random_state=random_state))
                           if len(np.unique(labels)) > 1 else -1.0)
        bics.append(float(mixture.bic(Z)))
    return KSweep(ks, silhouettes, bics)
