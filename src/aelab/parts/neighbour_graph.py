"""The neighbour graph: the UMAP cross-entropy between the training rows' fuzzy neighbour graph and their code, a
penalty that makes any autoencoder a parametric UMAP that also reconstructs (Sainburg, McInnes & Gentner 2021,
"Parametric UMAP embeddings for representation and semisupervised learning").

At fit, ``NeighbourGraph.prepare`` builds the k-nearest-neighbour graph of the training rows as umap-learn does
(exact below ``EXACT_BELOW`` rows, nearest-neighbour descent with pynndescent from there on) and keeps the weights
of umap-learn's fuzzy simplicial set. Each training step then draws its own batch of edges, in proportion to
their weights and independently of the reconstruction batch, encodes both ends, draws ``negative_sample_rate``
negatives per edge among the encoded points (as parametric UMAP does), and adds ``weight`` times the mean UMAP
cross-entropy of the edges (or their InfoNCE contrast against the negatives, ``loss="infonce"``). The graph
lives as long as the fit: a model file never holds it, and ``transform`` needs only the encoder.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from aelab.parts.base import Batch, check_choice, check_number, check_positive_int, unchanged
from aelab.parts.penalties import Penalty

logger = logging.getLogger(__name__)

#: The metrics of the input space the graph can be built with: each known to scikit-learn's pairwise distances
#: (small data) and to pynndescent (large data).
METRICS = ("euclidean", "manhattan", "chebyshev", "cosine", "correlation", "canberra", "braycurtis")
#: Below this many training rows the neighbours are exact, from all pairwise distances, as umap-learn finds them;
#: from it on, by nearest-neighbour descent (pynndescent).
EXACT_BELOW = 4096
#: umap-learn's guard against coinciding codes: a squared code distance d² is taken as d² + 0.001, which bounds
#: the repulsion of a negative that lands on its edge's head (umap-learn's SGD uses the same constant).
DISTANCE_EPSILON = 1e-3
#: The edges of the one fixed draw the validation loss measures: far more than a step draws, so that the
#: measure follows the whole graph's loss and early stopping is not decided by the luck of a small sample.
VALIDATION_EDGES = 65536


@dataclass(frozen=True)
class FuzzyGraph:
    """A fuzzy neighbour graph: its directed edges (each pair in both directions) and their membership weights.

    Attributes
    ----------
    heads, tails : ndarray of int64, shape (n_edges,)
        The rows each edge joins.
    weights : ndarray of float32, shape (n_edges,)
        The fuzzy union of the two rows' memberships, in (0, 1].
    n_neighbors : int
        The neighbours each row had, itself included (umap-learn's count).
    seconds : float
        The time it took to build.
    """

    heads: np.ndarray
    tails: np.ndarray
    weights: np.ndarray
    n_neighbors: int
    seconds: float


def _umap():
    """umap-learn's module of the UMAP algorithm, imported without its warning that TensorFlow is missing
    (which only its ParametricUMAP needs)."""
    from aelab.extras import import_optional

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return import_optional("umap.umap_", "NeighbourGraph")


def fuzzy_neighbour_graph(X: np.ndarray, n_neighbors: int, metric: str = "euclidean",
                          random_state: int = 0) -> FuzzyGraph:
    """The fuzzy simplicial set of the rows of ``X``, the graph umap-learn's ``UMAP.fit`` builds.

    The ``n_neighbors`` nearest neighbours of each row (itself included, as umap-learn counts them) are exact
    below ``EXACT_BELOW`` rows (from all pairwise distances) and found by nearest-neighbour descent from there on
    (pynndescent on one thread, seeded by ``random_state``, so that a seed gives the same graph);
    ``umap.umap_.fuzzy_simplicial_set`` turns them into membership weights and their fuzzy union.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    n_neighbors : int
        At least 2 and less than ``n_samples``.
    metric : str, default="euclidean"
        One of ``METRICS``.
    random_state : int, default=0

    Returns
    -------
    FuzzyGraph
    """
    umap_ = _umap()
    started = time.perf_counter()
    X = np.ascontiguousarray(X, dtype=np.float32)
    random = np.random.RandomState(random_state)
    torch_threads = torch.get_num_threads()
    try:
        if len(X) < EXACT_BELOW:
            from sklearn.metrics import pairwise_distances

            distances = pairwise_distances(X, metric=metric).astype(np.float32, copy=False)
            graph, _, _ = umap_.fuzzy_simplicial_set(distances, n_neighbors, random, "precomputed")
        else:
            indices, distances, _ = umap_.nearest_neighbors(X, n_neighbors, metric, {}, False, random, n_jobs=1)
            graph, _, _ = umap_.fuzzy_simplicial_set(X, n_neighbors, random, metric, knn_indices=indices,
                                                     knn_dists=distances)
    finally:
        # numba's OpenMP layer sets the process's OpenMP thread count to all cores, which torch shares: training
        # after it would run on more threads than the user chose (and crawl on a busy machine)
        torch.set_num_threads(torch_threads)
    graph = graph.tocoo()
    graph.sum_duplicates()
    keep = graph.data > 0
    return FuzzyGraph(heads=graph.row[keep].astype(np.int64), tails=graph.col[keep].astype(np.int64),
                      weights=graph.data[keep].astype(np.float32), n_neighbors=int(n_neighbors),
                      seconds=time.perf_counter() - started)


def umap_curve(min_dist: float, spread: float = 1.0) -> tuple[float, float]:
    """UMAP's ``a`` and ``b`` of q(d) = 1 / (1 + a d^(2b)) for ``min_dist`` and ``spread``, from
    ``umap.umap_.find_ab_params`` (the curve nearest to 1 up to ``min_dist`` and to exp(-(d - min_dist) / spread)
    beyond it); ``min_dist=0.1`` and a spread of 1 give about (1.58, 0.90)."""
    a, b = _umap().find_ab_params(float(spread), float(min_dist))
    return float(a), float(b)


def curve_log_odds(heads: torch.Tensor, others: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """The log-odds u = log a + b log(d² + ε) of the curve q = 1 / (1 + e^u) between codes (broadcast), ε =
    ``DISTANCE_EPSILON``: -log q = softplus(u) and -log(1 - q) = softplus(-u), finite at any distance."""
    return math.log(a) + b * torch.log((heads - others).square().sum(-1) + DISTANCE_EPSILON)


def umap_cross_entropy(heads: torch.Tensor, tails: torch.Tensor, negatives: torch.Tensor, a: float,
                       b: float) -> torch.Tensor:
    """The UMAP cross-entropy of each edge: shape (n_edges,).

    With q(d) = 1 / (1 + a (d² + ε)^b), ε = ``DISTANCE_EPSILON``, an edge's term is the attraction
    -log q(|head - tail|) plus the repulsion sum_k -log(1 - q(|head - negative_k|)). Both are softplus of the
    log-odds (``curve_log_odds``), finite at any distance, and their gradients are those of umap-learn's SGD.

    Parameters
    ----------
    heads, tails : tensor of shape (n_edges, n_components)
        The codes of the two ends of each edge.
    negatives : tensor of shape (n_edges, n_negatives, n_components)
        The codes of each edge's negative samples.
    a, b : float
        The curve's parameters (``umap_curve``).

    Examples
    --------
    >>> z = torch.zeros(1, 2)
    >>> float(umap_cross_entropy(z, z + 1.0, torch.zeros(1, 0, 2), a=1.0, b=1.0))  # -log q(√2) = log(3.001)
    1.0989...
    """
    attraction = F.softplus(curve_log_odds(heads, tails, a, b))
    repulsion = F.softplus(-curve_log_odds(heads.unsqueeze(1), negatives, a, b)).sum(-1)
    return attraction + repulsion


def info_nce(heads: torch.Tensor, tails: torch.Tensor, negatives: torch.Tensor, a: float, b: float) -> torch.Tensor:
    """The InfoNCE loss of each edge: shape (n_edges,).

    With the curve q of ``umap_cross_entropy``, an edge's term is -log(q(tail) / (q(tail) + sum_k q(negative_k))),
    all distances from the head: the edge is told apart from its negatives by how near they are, a softmax
    classification rather than UMAP's independent ones. Damrich, Böhm, Hamprecht & Kobak (2023, "From t-SNE to
    UMAP with contrastive learning") show that with many negatives this contrast gives layouts like t-SNE's, whose
    repulsion is stronger than UMAP's. Computed from log q = -softplus(u) (``curve_log_odds``) and a log-sum-exp.
    The parameters are ``umap_cross_entropy``'s.

    Examples
    --------
    >>> z = torch.zeros(1, 2)
    >>> float(info_nce(z, z, torch.ones(1, 1, 2), a=1.0, b=1.0))  # q = 1/1.001 and 1/3.001: log(1 + 1.001/3.001)
    0.2878...
    """
    positive = -F.softplus(curve_log_odds(heads, tails, a, b))
    negative = -F.softplus(curve_log_odds(heads.unsqueeze(1), negatives, a, b))
    return torch.logaddexp(positive, torch.logsumexp(negative, 1)) - positive


#: The losses of an edge, by ``NeighbourGraph``'s ``loss``: UMAP's cross-entropy with negative sampling, or InfoNCE
#: over the same negatives, which moves the layout from UMAP's towards t-SNE's as the negatives grow.
EDGE_LOSSES = {"umap": umap_cross_entropy, "infonce": info_nce}


def is_fitted(transformer) -> bool:
    """Whether scikit-learn deems ``transformer`` fitted; one without ``fit`` (a plain transform) always is."""
    if not callable(getattr(transformer, "fit", None)):
        return True
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(transformer)
    except NotFittedError:
        return False
    return True


def draw_edges(cumulative: torch.Tensor, n_edges: int, generator: torch.Generator | None) -> torch.Tensor:
    """``n_edges`` edge indices drawn with replacement in proportion to the weights whose running sum (float64)
    is ``cumulative``."""
    u = torch.rand(n_edges, generator=generator, device=cumulative.device, dtype=torch.float64)
    edges = torch.searchsorted(cumulative, u * cumulative[-1], right=True)
    return edges.clamp_(max=len(cumulative) - 1)


class NeighbourGraph(Penalty):
    """``weight`` times a loss between the training rows' fuzzy neighbour graph and their codes (UMAP's
    cross-entropy, or InfoNCE): with it an autoencoder is a parametric UMAP whose decoder also reconstructs.

    At fit the k-nearest-neighbour graph of the training rows is built (``fuzzy_neighbour_graph``, as umap-learn builds
    it). Each training step draws ``edge_batch_size`` edges in proportion to their weights, independently of the
    reconstruction batch, encodes both ends and, per edge, ``negative_sample_rate`` negatives drawn among the encoded
    points, and adds ``weight`` times the mean over the edges of ``umap_cross_entropy`` (or of ``info_nce``, as
    ``loss`` says). The validation loss adds the same term on one fixed draw of ``VALIDATION_EDGES`` edges, so that
    epochs compare. The graph is not kept after the fit: saving stores no graph, and ``transform`` of new rows needs
    only the encoder. It needs all training rows in memory on one process: streamed and distributed fits are
    refused. Where the training rows are not more than ``n_neighbors``, fewer neighbours are used (a warning on the
    logger says so); below 3 rows there is no graph and no term.

    Parameters
    ----------
    weight : float, default=1.0
        Weight of the term against the reconstruction term, >= 0.
    n_neighbors : int, default=15
        Neighbours of each training row in the graph (itself included, as in UMAP), >= 2.
    min_dist : float, default=0.1
        UMAP's minimum distance between codes, in [0, ``spread``]: with ``spread`` it sets the curve
        q(d) = 1 / (1 + a d^(2b)) through ``umap.umap_.find_ab_params`` (``umap_curve``), unless ``a`` and ``b``
        are given.
    spread : float, default=1.0
        UMAP's effective scale of the codes, > 0: with ``min_dist`` it sets how clumped they are (the curve
        follows exp(-(d - min_dist) / spread) beyond ``min_dist``).
    a, b : float or None, default=None
        The curve's parameters themselves, both > 0, as umap-learn's ``a`` and ``b``: given together, they replace
        those of ``min_dist`` and ``spread`` (``a=1, b=1`` is t-SNE's Cauchy kernel, ``b`` under 1 gives heavier
        tails). None: from ``min_dist`` and ``spread``.
    metric : str, default="euclidean"
        Distance between training rows: one of ``METRICS``.
    negative_sample_rate : int, default=5
        Negative samples per edge, >= 1.
    edge_batch_size : int, default=4096
        Edges drawn per training step, >= 1.
    augmentation : Affine or None, default=None
        How the edge ends move in training. None: as the training batch does (the estimator's ``augmentation``,
        if any). An image augmentation (``aelab.parts.Affine``): the edge ends move by it, and the reconstruction
        by the estimator's own, which may be none: the code then learns to keep each image's neighbours under
        small moves (and carries that to new images) while the decoder still reconstructs unmoved images.
    space : fitted transformer or None, default=None
        Where the neighbours are found. None: among the training rows themselves. A fitted transformer (anything
        with ``transform``, such as a fitted ``Autoencoder`` or ``PCA``): among ``space.transform`` of the
        training rows, whose neighbours may say more than the raw rows' do (an autoencoder's code groups digits
        by class better than their pixels), with ``metric`` measured there; the edges still join the training
        rows, which are what is encoded and reconstructed. Used only while fitting: a model file records it as
        null. Wrap it in ``sklearn.frozen.FrozenEstimator`` where the estimator may be cloned (grid searches,
        ``clone``), which would otherwise hand the clone an unfitted copy.
    loss : {"umap", "infonce"}, default="umap"
        The loss of each edge: "umap", UMAP's cross-entropy (``umap_cross_entropy``); "infonce", the InfoNCE
        contrast of the edge against its negatives (``info_nce``), which with many negatives
        (``negative_sample_rate`` in the hundreds) spreads the code more as t-SNE does.

    Examples
    --------
    >>> from aelab import Autoencoder
    >>> ae = Autoencoder(penalties=(NeighbourGraph(weight=1.0, n_neighbors=15),), n_components=2)
    """

    short_name = "neighbour_graph"
    fit_only_params = ("space",)

    def __init__(self, weight=1.0, n_neighbors=15, min_dist=0.1, spread=1.0, a=None, b=None, metric="euclidean",
                 negative_sample_rate=5, edge_batch_size=4096, augmentation=None, space=None, loss="umap"):
        self.weight = weight
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.spread = spread
        self.a = a
        self.b = b
        self.metric = metric
        self.negative_sample_rate = negative_sample_rate
        self.edge_batch_size = edge_batch_size
        self.augmentation = augmentation
        self.space = space
        self.loss = loss

    @property
    def needs_image_shape(self) -> bool:
        """Whether the part moves images (it has an augmentation), so that the estimator resolves their shape."""
        return self.augmentation is not None

    @property
    def sample_shape(self):
        """The image shape its augmentation names (None: the estimator's)."""
        return None if self.augmentation is None else self.augmentation.sample_shape

    def validate(self, n_features: int, encoder=None) -> None:
        check_number("NeighbourGraph weight", self.weight)
        check_positive_int("NeighbourGraph n_neighbors", self.n_neighbors, minimum=2)
        spread = check_number("NeighbourGraph spread", self.spread, 0.0, open_low=True)
        if check_number("NeighbourGraph min_dist", self.min_dist) > spread:
            raise ValueError(f"NeighbourGraph min_dist={self.min_dist!r} is more than spread={self.spread!r}; the "
                             f"curve needs min_dist <= spread: lower min_dist or raise spread")
        if (self.a is None) != (self.b is None):
            raise ValueError(f"NeighbourGraph a and b are given together or not at all, got a={self.a!r} and "
                             f"b={self.b!r}; pass both (the curve q(d) = 1 / (1 + a d^(2b))) or neither (min_dist "
                             f"and spread then set them)")
        if self.a is not None:
            check_number("NeighbourGraph a", self.a, 0.0, open_low=True)
            check_number("NeighbourGraph b", self.b, 0.0, open_low=True)
        check_choice("NeighbourGraph metric", self.metric, METRICS)
        check_positive_int("NeighbourGraph negative_sample_rate", self.negative_sample_rate)
        check_choice("NeighbourGraph loss", self.loss, tuple(EDGE_LOSSES))
        check_positive_int("NeighbourGraph edge_batch_size", self.edge_batch_size)
        if self.augmentation is not None:
            if not callable(getattr(self.augmentation, "augment", None)):
                raise ValueError(f"NeighbourGraph augmentation must be an image augmentation part such as "
                                 f"aelab.parts.Affine() or None, got {self.augmentation!r}")
            self.augmentation.validate(n_features, encoder)
        if self.space is not None and not callable(getattr(self.space, "transform", None)):
            raise ValueError(f"NeighbourGraph space must be a fitted transformer (with a transform method, such as "
                             f"a fitted Autoencoder or PCA) or None for the training rows themselves, got "
                             f"{self.space!r}")

    def check_training(self, streaming: bool, distributed: bool) -> None:
        if streaming:
            raise ValueError(f"{type(self).__name__} builds one neighbour graph of all training rows, so it cannot "
                             "train on a streamed file; load the data (train without --stream), or train without the "
                             "graph")
        if distributed:
            raise ValueError(f"{type(self).__name__} samples edges of one neighbour graph of all training rows, "
                             "which data-parallel training does not share between processes; train on one process "
                             "(without --distributed or torchrun), or train without the graph")

    def prepare(self, X_train: torch.Tensor, random_state: int, n_components: int = 2) -> NeighbourGraphLoss:
        """The neighbour graph of the training rows ``X_train`` and the term that samples it
        (``NeighbourGraphLoss``); the graph's approximate search and the validation draw are seeded by
        ``random_state``."""
        self.validate(X_train.shape[1])
        graph = self.build_graph(X_train, random_state)
        if graph is None:
            logger.warning("NeighbourGraph: %d training row(s) make no neighbour graph (it needs 3 or more); this "
                           "fit has no graph term", len(X_train))
        a, b = self.curve()
        return NeighbourGraphLoss(X_train, graph, float(self.weight), a, b, int(self.negative_sample_rate),
                                  int(self.edge_batch_size), random_state, self.augmentation, self.loss)

    def build_graph(self, X_train: torch.Tensor, random_state: int) -> FuzzyGraph | None:
        """The fuzzy neighbour graph of the training rows ``X_train`` (found in ``space`` where one is set), or
        None below 3 rows; fewer neighbours where the rows are not more than ``n_neighbors`` (a warning says so)."""
        n_rows, n_neighbors = len(X_train), int(self.n_neighbors)
        if n_rows < 3:
            return None
        if n_neighbors >= n_rows:
            n_neighbors = n_rows - 1
            logger.warning("%s n_neighbors=%d is not less than the %d training rows; using n_neighbors=%d",
                           type(self).__name__, self.n_neighbors, n_rows, n_neighbors)
        graph = fuzzy_neighbour_graph(self._neighbour_space(X_train), n_neighbors, self.metric, random_state)
        logger.info("neighbour graph of %d training rows (%d neighbours each%s): %d edges, weights summing to "
                    "%.0f, built in %.1f s", n_rows, n_neighbors, self._space_words(), len(graph.weights),
                    float(graph.weights.sum()), graph.seconds)
        return graph

    def curve(self) -> tuple[float, float]:
        """The ``a`` and ``b`` of the curve q(d) = 1 / (1 + a d^(2b)) the loss uses: ``a`` and ``b`` where given,
        else those of ``min_dist`` and ``spread`` (``umap_curve``)."""
        if self.a is not None and self.b is not None:
            return float(self.a), float(self.b)
        return umap_curve(self.min_dist, self.spread)

    def _space_words(self) -> str:
        """How the log names where the neighbours were found: nothing for the rows themselves."""
        if self.space is None:
            return ""
        from sklearn.frozen import FrozenEstimator

        if isinstance(self.space, FrozenEstimator):
            return f", found in the frozen {type(self.space.estimator).__name__}'s space"
        return f", found in the {type(self.space).__name__}'s space"

    def _neighbour_space(self, X_train: torch.Tensor) -> np.ndarray:
        """The rows the neighbours are found among: the training rows, or their ``space.transform``."""
        X = X_train.detach().cpu().numpy()
        if self.space is None:
            return X
        if not is_fitted(self.space):
            raise ValueError(f"NeighbourGraph space {type(self.space).__name__} is not fitted; fit it first, and "
                             "wrap it in sklearn.frozen.FrozenEstimator if the estimator is cloned (a clone of a "
                             "fitted transformer is unfitted)")
        Z = np.asarray(self.space.transform(X))
        if Z.ndim != 2 or len(Z) != len(X):
            raise ValueError(f"NeighbourGraph space must transform {len(X)} rows into {len(X)} rows of features, "
                             f"got an array of shape {Z.shape}")
        return Z

    def term(self, batch: Batch) -> torch.Tensor | None:
        raise RuntimeError("NeighbourGraph adds its term once its graph is built: the estimator's fit calls "
                           "prepare(X_train, random_state) and uses what it returns")


class NeighbourGraphLoss:
    """The term a ``NeighbourGraph`` adds in one fit: the graph of that fit's training rows and the drawing of
    its edges. Not a part: ``NeighbourGraph.prepare`` makes it, the fit's loss holds it, and it goes with the fit.

    Parameters
    ----------
    X_train : tensor of shape (n_rows, n_features)
        The training rows, on the training device: the ends of the edges are encoded from them.
    graph : FuzzyGraph or None
        None: no graph (too few rows), no term.
    weight, a, b : float
    negative_sample_rate, edge_batch_size : int
    random_state : int
        Seeds the one draw of edges and negatives the validation loss uses (``VALIDATION_EDGES`` edges, or
        ``edge_batch_size`` if more).
    augmentation : Affine or None
        Moves the edge ends in training instead of the batch's own augmentation (``NeighbourGraph``).
    loss : {"umap", "infonce"}
        The loss of each edge, a key of ``EDGE_LOSSES``.
    """

    generative = False

    def __init__(self, X_train: torch.Tensor, graph: FuzzyGraph | None, weight: float, a: float, b: float,
                 negative_sample_rate: int, edge_batch_size: int, random_state: int, augmentation=None,
                 loss: str = "umap") -> None:
        self.X_train, self.graph, self.augmentation = X_train, graph, augmentation
        self.edge_loss = EDGE_LOSSES[loss]
        self.weight, self.a, self.b = weight, a, b
        self.negative_sample_rate, self.edge_batch_size = negative_sample_rate, edge_batch_size
        if graph is None:
            return
        device = X_train.device
        self.heads = torch.as_tensor(graph.heads, device=device)
        self.tails = torch.as_tensor(graph.tails, device=device)
        cumulative = np.cumsum(graph.weights, dtype=np.float64)
        self.cumulative = torch.as_tensor(cumulative, device=device)
        random = np.random.RandomState(random_state)
        n_validation = max(edge_batch_size, VALIDATION_EDGES)
        edges = np.searchsorted(cumulative, random.random_sample(n_validation) * cumulative[-1], side="right")
        self.validation_edges = torch.as_tensor(np.minimum(edges, len(cumulative) - 1), device=device)
        self.validation_negatives = torch.as_tensor(random.random_sample((n_validation, negative_sample_rate)),
                                                    dtype=torch.float32, device=device)

    def takes_over(self, step: int, total_steps: int) -> bool:
        return False

    def draw(self, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``edge_batch_size`` edge indices drawn in proportion to the weights, and per edge
        ``negative_sample_rate`` uniform numbers in [0, 1) that pick its negatives among the encoded points."""
        edges = draw_edges(self.cumulative, self.edge_batch_size, generator)
        negatives = torch.rand((self.edge_batch_size, self.negative_sample_rate), generator=generator,
                               device=self.cumulative.device)
        return edges, negatives

    def mean_edge_loss(self, network: torch.nn.Module, edges: torch.Tensor, negatives: torch.Tensor,
                       augment: Callable[[torch.Tensor], torch.Tensor] = unchanged) -> torch.Tensor:
        """The mean loss (``edge_loss``) of ``edges`` (indices into the graph's edges): each distinct end is
        moved by ``augment`` and encoded once, and ``negatives`` (uniform numbers in [0, 1)) pick each edge's
        negatives among them."""
        ends = torch.cat([self.heads[edges], self.tails[edges]])
        points, inverse = torch.unique(ends, return_inverse=True)
        codes = network.encode(augment(self.X_train[points])).float()
        # rows gathered by embedding, whose gradient sums repeated rows in a fixed order on CPU and CUDA alike, so
        # that one seed gives one fit (codes[index] does not on CPU threads, index_select does not on CUDA)
        head_codes, tail_codes = F.embedding(inverse[:len(edges)], codes), F.embedding(inverse[len(edges):], codes)
        picks = (negatives * len(points)).long().clamp_(max=len(points) - 1)
        return self.edge_loss(head_codes, tail_codes, F.embedding(picks, codes), self.a, self.b).mean()

    def term(self, batch: Batch) -> torch.Tensor | None:
        if self.graph is None or self.weight == 0.0:
            return None
        if not batch.training:
            return self.weight * self.mean_edge_loss(batch.network, self.validation_edges, self.validation_negatives)
        edges, negatives = self.draw(batch.generator)
        move = batch.augment
        if self.augmentation is not None:
            def move(x: torch.Tensor) -> torch.Tensor:
                return self.augmentation.augment(x, batch.sample_shape, batch.generator)
        return self.weight * self.mean_edge_loss(batch.network, edges, negatives, move)
