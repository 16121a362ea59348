"""PCA, t-SNE, UMAP and the raw input behind the interface of an autoencoder.

Each baseline is a scikit-learn style transformer: ``__init__`` stores the parameters, ``fit(X)`` learns,
``transform(X)`` returns the code of new rows. Those that can map a code back to the input space (PCA) also have
``inverse_transform``; the raw input has nothing to reconstruct. The comparison protocol of
``aelab compare`` is: fit on the training split, ``transform`` the test split, measure the test codes.

t-SNE embeds new rows with openTSNE's ``TSNEEmbedding.transform`` (each new point is placed against the fixed
training embedding) and UMAP at the weighted mean of their training neighbours' places (``umap_transform``), so
that each row's code depends on that row alone. A method that cannot embed new rows raises a
ValueError that says so (see ``PrecomputedEmbedding``).

Examples
--------
>>> import numpy as np
>>> from aelab.baselines import PCABaseline
>>> X = np.random.default_rng(0).random((50, 6))
>>> PCABaseline(n_components=2).fit(X).transform(X).shape
(50, 2)
"""

from __future__ import annotations

import copy
import numbers
import warnings

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, OneToOneFeatureMixin, TransformerMixin
from sklearn.preprocessing import normalize
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from aelab.extras import import_optional
from aelab.frames import as_input_features


def _check_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def check_perplexity(perplexity: float, n_samples: int) -> float:
    """The t-SNE perplexity to use on ``n_samples`` samples: ``perplexity``, or ``(n_samples - 1) / 3`` if that is
    smaller, with a UserWarning, as openTSNE does (each point needs about ``3 * perplexity`` neighbours).

    Examples
    --------
    >>> check_perplexity(30.0, 1000)
    30.0
    """
    _check_positive("perplexity", perplexity)
    if n_samples < 2:
        raise ValueError(f"t-SNE needs at least 2 samples, got n_samples={n_samples}; pass more data")
    if n_samples - 1 >= 3 * perplexity:
        return float(perplexity)
    used = (n_samples - 1) / 3
    warnings.warn(f"perplexity={perplexity:g} is too large for {n_samples} samples (t-SNE needs more than "
                  f"3 * perplexity of them); using perplexity={used:.4g} instead", UserWarning, stacklevel=3)
    return used


def check_n_neighbors(n_neighbors: int, n_samples: int) -> int:
    """The UMAP ``n_neighbors`` to use on ``n_samples`` samples: ``n_neighbors``, or ``n_samples - 1`` if that is
    smaller, with a UserWarning, as umap-learn does.

    Examples
    --------
    >>> check_n_neighbors(15, 1000)
    15
    """
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral) or n_neighbors < 2:
        raise ValueError(f"n_neighbors must be an integer of at least 2, got {n_neighbors!r}")
    if n_samples < 3:
        raise ValueError(f"UMAP needs at least 3 samples (2 neighbours for each), got n_samples={n_samples}; "
                         "pass more data")
    if n_neighbors < n_samples:
        return int(n_neighbors)
    warnings.warn(f"n_neighbors={n_neighbors} is not less than the {n_samples} samples; using "
                  f"n_neighbors={n_samples - 1} instead", UserWarning, stacklevel=3)
    return n_samples - 1


#: How UMAPBaseline.transform places new rows.
UMAP_PLACEMENTS = ("optimise", "neighbours")


def umap_transform(reducer, X: np.ndarray) -> np.ndarray:
    """The embedding of new rows by a fitted ``umap.UMAP``: each row at the mean of its training neighbours'
    embedding, weighted by UMAP's membership strengths of the row to them.

    This is the starting point of umap-learn's own ``transform``, without the stochastic refinement that follows
    it there: that refinement draws its negative samples from one random stream for the whole batch and scales
    the edge weights by the batch's strongest edge, so a row's place would depend on which other rows are
    transformed with it (and a row transformed alone lands between the clusters). Here each row's place depends
    on that row alone, in any batch.

    Examples
    --------
    >>> import numpy as np, umap
    >>> X = np.random.default_rng(0).random((40, 3)).astype(np.float32)
    >>> reducer = umap.UMAP(n_neighbors=5, random_state=0).fit(X)  # doctest: +SKIP
    >>> np.allclose(umap_transform(reducer, X[:5])[2], umap_transform(reducer, X[2:3])[0])  # doctest: +SKIP
    True
    """
    graph_only = copy.copy(reducer)  # the fitted reducer is left as it is (it may be shared)
    graph_only.transform_mode = "graph"
    X = np.asarray(X, dtype=np.float32)
    # umap-learn recognises its whole training set (by a hash) and then returns the fit's symmetrised graph
    # instead of each row's own membership strengths: a batch of another size is never recognised
    halves = [X] if len(X) != reducer.embedding_.shape[0] else np.array_split(X, 2)
    graph = scipy.sparse.vstack([graph_only.transform(part) for part in halves]).tocsr()
    return np.asarray(normalize(graph, norm="l1") @ reducer.embedding_)


class RawInput(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """The identity: the input itself as the code, the reference every learned code should beat."""

    def fit(self, X, y=None):
        validate_data(self, X, reset=True)
        self.fitted_ = True
        return self

    def transform(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False)


class PCABaseline(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis (scikit-learn's) with ``n_components`` components."""

    def __init__(self, n_components: int = 2, random_state: int | None = 0):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X, y=None):
        from sklearn.decomposition import PCA

        X = validate_data(self, X, reset=True)
        self.pca_ = PCA(n_components=self.n_components, random_state=self.random_state).fit(X)
        return self

    def transform(self, X):
        check_is_fitted(self)
        return self.pca_.transform(validate_data(self, X, reset=False))

    def inverse_transform(self, Z):
        """Map codes back to the input space; with ``set_output(transform="pandas")``, a DataFrame of the
        input's columns."""
        check_is_fitted(self)
        return as_input_features(self, self.pca_.inverse_transform(np.asarray(Z)), Z)

    @property
    def _n_features_out(self) -> int:  # the names get_feature_names_out gives: pcabaseline0, pcabaseline1...
        return self.pca_.n_components_


class TSNEBaseline(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """t-SNE (openTSNE) of the training rows; new rows are placed into that embedding by ``transform``.

    Parameters
    ----------
    n_components : int, default=2
        Size of the embedding. Gradients are Barnes-Hut below 10,000 training samples (faster there, and the
        same seed gives the same embedding) and for codes wider than 2, FFT-interpolated otherwise.
    perplexity : float, default=30
        Shrunk to ``(n_samples - 1) / 3``, with a warning, on fewer than ``3 * perplexity + 1`` samples.
    n_jobs : int, default=1
    random_state : int, default=0

    Attributes
    ----------
    embedding_ : openTSNE.TSNEEmbedding
        The embedding of the training rows.
    perplexity_ : float
        The perplexity used.
    n_features_in_ : int
    """

    def __init__(self, n_components: int = 2, perplexity: float = 30.0, n_jobs: int = 1, random_state: int = 0):
        self.n_components = n_components
        self.perplexity = perplexity
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, y=None):
        TSNE = import_optional("openTSNE", "t-SNE").TSNE

        X = validate_data(self, X, reset=True, dtype=np.float64)
        self.perplexity_ = check_perplexity(self.perplexity, len(X))
        method = "fft" if self.n_components <= 2 and len(X) >= 10000 else "bh"  # BH is faster on small data
        self.embedding_ = TSNE(n_components=self.n_components, perplexity=self.perplexity_, n_jobs=self.n_jobs,
                               random_state=self.random_state, negative_gradient_method=method,
                               verbose=False).fit(X)
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return np.asarray(self.embedding_.transform(X))

    @property
    def _n_features_out(self) -> int:
        return self.embedding_.shape[1]


class UMAPBaseline(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """UMAP (umap-learn) fitted on the training rows; ``transform`` embeds new rows.

    Parameters
    ----------
    n_components : int, default=2
    n_neighbors : int, default=15
        Shrunk to ``n_samples - 1``, with a warning, on fewer samples, as umap-learn does.
    min_dist : float, default=0.1
    random_state : int, default=0
    placement : {"optimise", "neighbours"}, default="optimise"
        How ``transform`` places new rows. ``"optimise"`` is umap-learn's own ``transform``: each row starts at
        the weighted mean of its training neighbours and is then moved by UMAP's optimisation, which draws from
        one random stream for the whole batch, so a row's place depends a little on the rows transformed with
        it; ``fit_transform`` is the layout UMAP optimised for the training rows. This is the map UMAP's users
        get, and the one the comparisons measure. ``"neighbours"`` stops at the starting point (see
        ``umap_transform``): each row's place depends on that row alone, in any batch, and ``fit_transform``
        is ``fit(X).transform(X)``. On mnist5k (4,000 training digits), the 1,000 test digits' k-means ACC
        is 0.714 with ``"optimise"`` and 0.679 with ``"neighbours"``.

    Attributes
    ----------
    umap_ : umap.UMAP
    n_neighbors_ : int
        The number of neighbours used.
    n_features_in_ : int
    """

    def __init__(self, n_components: int = 2, n_neighbors: int = 15, min_dist: float = 0.1, random_state: int = 0,
                 placement: str = "optimise"):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.random_state = random_state
        self.placement = placement

    def fit(self, X, y=None):
        umap = import_optional("umap", "UMAP")

        if self.placement not in UMAP_PLACEMENTS:
            raise ValueError(f"placement must be one of {', '.join(UMAP_PLACEMENTS)}, got {self.placement!r}")
        X = validate_data(self, X, reset=True, dtype=[np.float64, np.float32])
        self.n_neighbors_ = check_n_neighbors(self.n_neighbors, len(X))
        with warnings.catch_warnings():  # "n_jobs overridden by setting random_state": intended, reproducible
            warnings.simplefilter("ignore", UserWarning)
            self.umap_ = umap.UMAP(n_components=self.n_components, n_neighbors=self.n_neighbors_,
                                   min_dist=self.min_dist, random_state=self.random_state).fit(X.astype(np.float32))
        return self

    def fit_transform(self, X, y=None):
        if self.placement == "neighbours":
            return self.fit(X).transform(X)
        dtype = check_array(X, dtype=[np.float64, np.float32]).dtype
        return np.asarray(self.fit(X).umap_.embedding_, dtype=dtype)

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        if self.placement == "optimise":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                placed = self.umap_.transform(X.astype(np.float32))
            return np.asarray(placed).astype(X.dtype, copy=False)
        return umap_transform(self.umap_, X).astype(X.dtype, copy=False)

    @property
    def _n_features_out(self) -> int:
        return self.umap_.embedding_.shape[1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class PrecomputedEmbedding(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """A fixed embedding of the training rows (e.g. from another tool): it cannot embed new data.

    ``fit(X)`` stores ``embedding`` (one row per row of X); ``transform`` of the same X returns it and of any
    other data raises a ValueError that says so.
    """

    def __init__(self, embedding=None, name: str = "this embedding"):
        self.embedding = embedding
        self.name = name

    def fit(self, X, y=None):
        X = validate_data(self, X, reset=True)
        embedding = np.asarray(self.embedding)
        if embedding.ndim != 2 or len(embedding) != len(X):
            raise ValueError(f"embedding must have one row per sample of X ({len(X)}), got shape {embedding.shape}")
        self.X_fit_ = X
        self.embedding_ = embedding
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        if X.shape == self.X_fit_.shape and np.array_equal(X, self.X_fit_):
            return self.embedding_
        raise ValueError(f"{self.name} cannot embed new data: it only holds the embedding of the rows it was "
                         "fitted on; fit it on all the data you want embedded")

    @property
    def _n_features_out(self) -> int:
        return self.embedding_.shape[1]
